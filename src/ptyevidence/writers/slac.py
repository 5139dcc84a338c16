"""Write a fixture as the SLAC NPZ that ptychodus's ``SLAC_NPZ`` reader reads correctly.

ptychodus 1.7.0 reads a SLAC NPZ's ``diffraction`` as ``(H, W, N)`` and
always transposes it by ``[2, 0, 1]`` (``plugins/slac_npz_file.py:50``), so a
canonical ``(N, H, W)`` stack loads as the wrong frames, silently when
``N == H == W``. This writer stores the frames ``(H, W, N)``, the positions in
object pixels as ``xcoords``/``ycoords`` and as ``xcoords_start``/``ycoords_start``
(that reader takes its positions from those alone, scaled to metres by
``wavelength * distance / (W * detector pixel)``, l.94-105), the probe, the
object, and the three scalars that reader would otherwise default. The
``_metadata`` record says the stack is legacy ``(H, W, N)``: without it a stack
with ``N == H`` or ``N == W`` could not be told from a canonical one.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import IO

import numpy as np

from ..exceptions import UsageError
from ..readers.cxi import ELECTRON_VOLT_J, photon_wavelength
from ..readers.metadata import METADATA_KEY, metadata_array
from .geometry import Geometry
from .npz import write_npz, write_npz_members

__all__ = [
    "PIXEL_COORDINATE_THRESHOLD",
    "reader_pixel_size",
    "slac_arrays",
    "write_slac_members",
    "write_slac_npz",
]

#: ptychodus takes coordinates whose magnitude never exceeds this for metres, not pixels (l.28, l.42-44).
PIXEL_COORDINATE_THRESHOLD = 1e-3


def reader_pixel_size(geometry: Geometry, width: int) -> float:
    """Return the detector pixel that makes ptychodus's scaling give the object pixel width.

    The SLAC reader turns object pixels into metres with ``wavelength *
    distance / (width * detector pixel)``; writing this detector pixel makes
    that the fixture's object pixel, so the positions it reads are the
    fixture's positions in metres (the source's detector pixel when the two
    agree, as they do in far field).
    """
    wavelength = photon_wavelength(geometry.photon_energy_eV * ELECTRON_VOLT_J)
    return wavelength * geometry.detector_distance_m / (width * geometry.object_pixel_width_m)


def slac_arrays(
    arrays: Mapping[str, np.ndarray], geometry: Geometry, record_layout: bool = True
) -> dict[str, np.ndarray]:
    """Return the members of the SLAC NPZ holding the DATA-001 ``arrays``.

    Parameters
    ----------
    arrays : mapping
        ``diffraction`` ``(N, H, W)``, ``xcoords``, ``ycoords``, ``probeGuess``,
        ``objectGuess`` (and optionally ``scan_index``).
    geometry : Geometry
        Written as ``photon_energy_eV``, ``detector_distance_m`` and ``detector_pixel_size_m``
        (see :func:`reader_pixel_size`).
    record_layout : bool
        Write the ``_metadata`` record naming the (H, W, N) layout.

    Raises
    ------
    UsageError
        If ``record_layout`` is False and ``N`` equals ``H`` or ``W``, or the
        positions are so small that ptychodus would read them as metres.

    Examples
    --------
    >>> from ptyevidence.writers.geometry import Geometry
    >>> geo = Geometry(8000.0, 0.75, 75e-6, 2.4e-8, 2.4e-8)
    >>> fixture = {"diffraction": np.zeros((3, 4, 4), np.float32), "xcoords": np.arange(3.0) + 5,
    ...            "ycoords": np.full(3, 5.0), "probeGuess": np.ones((4, 4), np.complex64),
    ...            "objectGuess": np.ones((9, 9), np.complex64)}
    >>> slac_arrays(fixture, geo)["diffraction"].shape
    (4, 4, 3)
    """
    frames = np.asarray(arrays["diffraction"])
    n, h, w = frames.shape
    if not record_layout and n in (h, w):
        msg = (
            f"a SLAC NPZ of {n} frames of {h}x{w} cannot say its (H, W, N) layout by its shape "
            "alone (N equals H or W); keep record_layout=True so its '_metadata' record names it"
        )
        raise UsageError(msg)
    x, y = (np.asarray(arrays[k], dtype=np.float64) for k in ("xcoords", "ycoords"))
    if max(float(np.max(np.abs(x))), float(np.max(np.abs(y)))) <= PIXEL_COORDINATE_THRESHOLD:
        msg = (
            f"every position is within {PIXEL_COORDINATE_THRESHOLD:g} of 0: ptychodus's SLAC NPZ "
            "reader would take these object pixels for metres"
        )
        raise UsageError(msg)
    out = {
        "diffraction": np.ascontiguousarray(np.moveaxis(frames, 0, -1)),
        "xcoords": x,
        "ycoords": y,
        # ptychodus takes its positions from the _start keys alone (l.77-78): they hold the
        # positions the frames were measured at, as ptychodus's own PtychoPINN export writes them.
        "xcoords_start": x,
        "ycoords_start": y,
        "probeGuess": np.asarray(arrays["probeGuess"]),
        "objectGuess": np.asarray(arrays["objectGuess"]),
    }
    if "scan_index" in arrays:
        out["scan_index"] = np.asarray(arrays["scan_index"])
    out["photon_energy_eV"] = np.array(geometry.photon_energy_eV)
    out["detector_distance_m"] = np.array(geometry.detector_distance_m)
    out["detector_pixel_size_m"] = np.array(reader_pixel_size(geometry, w))
    if record_layout:
        out[METADATA_KEY] = metadata_array(geometry.metadata_record("legacy", "slac-npz"))
    return out


def write_slac_npz(
    path: str | os.PathLike,
    arrays: Mapping[str, np.ndarray],
    geometry: Geometry,
    force: bool = False,
    record_layout: bool = True,
    inputs: Iterable[str | os.PathLike] = (),
) -> str:
    """Write ``arrays`` as a SLAC NPZ (deterministic, atomic); see :func:`slac_arrays`.

    Returns
    -------
    str
        The path written.
    """
    return write_npz(path, slac_arrays(arrays, geometry, record_layout), force=force, inputs=inputs)


def write_slac_members(fh: IO[bytes], arrays: Mapping[str, np.ndarray], geometry: Geometry) -> None:
    """Write the SLAC NPZ of :func:`write_slac_npz` into the open binary file ``fh``."""
    write_npz_members(fh, slac_arrays(arrays, geometry))
