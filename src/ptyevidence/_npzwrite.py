"""Write NPZ files deterministically and atomically.

The same arrays always give the same bytes: members in the given order, a
fixed timestamp and fixed permissions, no pickles. Members are stored
uncompressed by default so readers can memory-map them.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable, Mapping

import numpy as np

from ._atomic import atomic_output, check_output_path

__all__ = ["write_npz"]

#: Timestamp written for every member (the earliest a zip can hold).
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def write_npz(
    path: str | os.PathLike,
    arrays: Mapping[str, np.ndarray],
    force: bool = False,
    compress: bool = False,
    inputs: Iterable[str | os.PathLike] = (),
) -> str:
    """Write ``arrays`` to ``path`` as an NPZ, byte-identically for equal input.

    Parameters
    ----------
    path : str or path
        Destination; written to a temporary file first, then renamed.
    arrays : mapping of str to numpy.ndarray
        Members, written in mapping order. Object arrays are refused.
    force : bool
        Replace an existing file.
    compress : bool
        Deflate members (smaller, but readers cannot memory-map them).
    inputs : iterable of paths
        Files the output must not overwrite (the sources).

    Returns
    -------
    str
        The path written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = tempfile.mkdtemp()
    >>> a = write_npz(os.path.join(folder, "a.npz"), {"x": np.arange(3)})
    >>> b = write_npz(os.path.join(folder, "b.npz"), {"x": np.arange(3)})
    >>> pathlib.Path(a).read_bytes() == pathlib.Path(b).read_bytes()
    True
    """
    path = check_output_path(path, force=force, inputs=inputs)
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with atomic_output(path, "wb") as fh, zipfile.ZipFile(fh, "w", allowZip64=True) as zf:
        for key, value in arrays.items():
            arr = np.asanyarray(value)
            if arr.dtype.hasobject:
                msg = f"array '{key}' has dtype {arr.dtype}; object arrays are never written"
                raise TypeError(msg)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=ZIP_EPOCH)
            info.compress_type = method
            info.external_attr = 0o644 << 16
            info.create_system = 3  # unix, whatever the host
            with zf.open(info, "w", force_zip64=arr.nbytes > 2**30) as member:
                np.lib.format.write_array(member, arr, allow_pickle=False)
    return path
