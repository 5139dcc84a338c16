"""Read dataset files of any registered format; read and convert CXI (HDF5) files.

:func:`open_source` picks the reader from the file's first bytes or name:
NPZ archives and CXI/HDF5 files are built in, :func:`register_reader` adds
others. :class:`CxiSource` reads a CXI file lazily under the canonical keys
(``diffraction``, ``xcoords``, ``ycoords``...), :func:`read_cxi` loads it
whole into a dict, :func:`convert_cxi` writes a DATA-001 NPZ from it.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ._convert import convert_cxi, read_metadata
from ._cxi import CxiSource
from ._sources import default_contract_for, open_source, register_reader

__all__ = [
    "CxiSource",
    "convert_cxi",
    "default_contract_for",
    "open_source",
    "read_cxi",
    "read_metadata",
    "register_reader",
]


def read_cxi(
    path: str | os.PathLike,
    geometry: str = "far-field",
    sample_pixel_size: float | None = None,
    amplitude: bool = False,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Load a CXI file whole: canonical arrays plus the geometry and notes.

    Parameters
    ----------
    path : str or path
        CXI (HDF5) file.
    geometry : {"far-field", "near-field"}
        Propagation geometry for the position conversion.
    sample_pixel_size : float or None
        Sample-plane pixel size in metres (needed for near-field).
    amplitude : bool
        Return ``diffraction`` as normalized amplitude (float32, see
        :meth:`CxiSource.frame_transform`) instead of the stored counts.

    Returns
    -------
    arrays : dict of str to numpy.ndarray
        ``diffraction`` ``(K, H, W)``; ``xcoords``, ``ycoords`` and their
        ``_start`` copies ``(K,)`` float64 in object pixels (metres when the
        geometry is incomplete); ``mask`` ``(H, W)`` bool (True = bad) and
        ``probeGuess`` ``(H, W)`` complex64 when the file has them.
    attrs : dict
        Energy (J), wavelength (m), distance (m), pixel sizes (m), position
        units, HDF5 paths used and notes (see :attr:`CxiSource.metadata`).

    Raises
    ------
    InputError
        If the file is malformed (the message names the HDF5 path).
    MemoryBudgetError
        If the frames do not fit the memory budget; use :class:`CxiSource`.

    Examples
    --------
    >>> import h5py, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny.cxi")
    >>> with h5py.File(path, "w") as f:
    ...     f["entry_1/instrument_1/detector_1/data"] = np.full((4, 8, 8), 4, np.uint16)
    ...     f["entry_1/sample_1/geometry_1/translation"] = np.eye(4, 3) * 1e-6
    >>> arrays, attrs = read_cxi(path, amplitude=True)
    >>> arrays["diffraction"].shape, float(arrays["diffraction"].max()), attrs["position_units"]
    ((4, 8, 8), 1.0, 'm')
    """
    with CxiSource(path, geometry=geometry, sample_pixel_size=sample_pixel_size) as source:
        names = source.keys()
        arrays = {key: source.read(key) for key in names}
        if amplitude:
            arrays["diffraction"] = source.frame_transform(arrays["diffraction"])
        attrs = source.metadata
        if amplitude:
            attrs["amplitude_notes"] = source.frame_transform_notes
    return arrays, attrs
