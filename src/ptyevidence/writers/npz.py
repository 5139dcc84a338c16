"""Write NPZ files deterministically and atomically.

The same arrays always give the same bytes: members in the given order, a
fixed timestamp and fixed permissions, no pickles. Members are stored
uncompressed by default so readers can memory-map them.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import IO

import numpy as np

from .._atomic import atomic_output, check_output_path

__all__ = ["StreamedArray", "write_npz", "write_npz_members"]

#: Timestamp written for every member (the earliest a zip can hold).
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class StreamedArray:
    """An array member written block by block, never held whole in memory.

    Attributes
    ----------
    shape : tuple of int
        Shape of the full array.
    dtype : numpy.dtype
        dtype of every block.
    blocks : callable
        Returns an iterable of arrays whose C-order values, concatenated,
        are the full array.
    """

    shape: tuple[int, ...]
    dtype: np.dtype
    blocks: Callable[[], Iterable[np.ndarray]]

    @property
    def nbytes(self) -> int:
        """Number of data bytes."""
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


def _write_streamed(member, value: StreamedArray, key: str) -> None:
    header = {
        "descr": np.lib.format.dtype_to_descr(np.dtype(value.dtype)),
        "fortran_order": False,
        "shape": tuple(value.shape),
    }
    # Same header version choice as numpy.save, so bytes match an in-memory write.
    try:
        np.lib.format.write_array_header_1_0(member, header)
    except ValueError:
        np.lib.format.write_array_header_2_0(member, header)
    written = 0
    for block in value.blocks():
        block = np.ascontiguousarray(block, dtype=value.dtype)
        member.write(block.tobytes())
        written += block.nbytes
    if written != value.nbytes:
        msg = f"streamed array '{key}' gave {written} bytes; its shape needs {value.nbytes}"
        raise ValueError(msg)


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
    arrays : mapping of str to numpy.ndarray or StreamedArray
        Members, written in mapping order. Object arrays are refused;
        a :class:`StreamedArray` is written block by block.
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
    with atomic_output(path, "wb", force=force, inputs=inputs) as fh:
        write_npz_members(fh, arrays, compress)
    return path


def write_npz_members(fh: IO[bytes], arrays: Mapping[str, np.ndarray], compress: bool = False) -> None:
    """Write ``arrays`` as an NPZ into the open binary file ``fh`` (see :func:`write_npz`)."""
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(fh, "w", allowZip64=True) as zf:
        for key, value in arrays.items():
            streamed = isinstance(value, StreamedArray)
            arr = value if streamed else np.asanyarray(value)
            if not streamed and arr.dtype.hasobject:
                msg = f"array '{key}' has dtype {arr.dtype}; object arrays are never written"
                raise TypeError(msg)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=ZIP_EPOCH)
            info.compress_type = method
            info.external_attr = 0o644 << 16
            info.create_system = 3  # unix, whatever the host
            with zf.open(info, "w", force_zip64=arr.nbytes > 2**30) as member:
                if streamed:
                    _write_streamed(member, arr, key)
                else:
                    np.lib.format.write_array(member, arr, allow_pickle=False)
