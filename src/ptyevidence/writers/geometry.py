"""The physical geometry a ptychodus file needs, taken from a source or defaulted, and recorded.

A DATA-001 fixture holds positions in object pixels and no units; a SLAC
NPZ or a ptychodus product needs the photon energy, the detector distance
and pixel size, and the object's pixel size and centre in metres.
:func:`source_geometry` takes each from the source where it says (a CXI
file's geometry, a product's attributes, a SLAC NPZ's scalars) and falls back
to ptychodus's SLAC NPZ defaults (8 keV, 0.75 m, 75 um pixels) otherwise; the
object pixel follows from the far-field relation ``wavelength * distance /
(W * detector pixel)``. Every value says where it came from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

from .._version import __version__
from ..readers.base import Source
from ..readers.cxi import ELECTRON_VOLT_J, photon_wavelength

__all__ = ["DEFAULTS", "Geometry", "source_geometry"]

#: ptychodus 1.7.0's SLAC NPZ defaults (plugins/slac_npz_file.py:24-26), used where a source says nothing.
DEFAULTS = {"photon_energy_eV": 8000.0, "detector_distance_m": 0.75, "detector_pixel_size_m": 75e-6}

#: Keys a source may hold each quantity under, in the order tried.
_KEYS = {
    "photon_energy_eV": ("@photon_energy_eV", "@probe_energy_eV", "photon_energy_eV", "diffraction@photon_energy_eV"),
    "detector_distance_m": (
        "@detector_object_distance_m",
        "detector_object_distance_m",
        "detector_distance_m",
        "diffraction@detector_distance_m",
    ),
    "detector_pixel_size_m": ("detector_pixel_size_m", "diffraction@detector_pixel_width_m"),
    "object_pixel_width_m": ("object@pixel_width_m", "object_pixel_width_m"),
    "object_pixel_height_m": ("object@pixel_height_m", "object_pixel_height_m"),
    "object_center_x_m": ("object@center_x_m",),
    "object_center_y_m": ("object@center_y_m",),
}


@dataclass(frozen=True)
class Geometry:
    """Photon energy, detector and object geometry in SI units (energy in eV).

    Attributes
    ----------
    origin : dict
        Quantity -> where its value came from (a key of the source, the CXI
        geometry, the far-field relation, or ``default``).
    """

    photon_energy_eV: float
    detector_distance_m: float
    detector_pixel_size_m: float
    object_pixel_width_m: float
    object_pixel_height_m: float
    object_center_x_m: float = 0.0
    object_center_y_m: float = 0.0
    origin: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the values and their origins as JSON-ready data."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "origin"}
        return {**values, "origin": dict(self.origin)}

    def metadata_record(self, layout: str, writer: str) -> dict[str, Any]:
        """Return the ``_metadata`` record of a file ``writer`` wrote in ``layout`` with this geometry."""
        return {"layout": layout, "written_by": f"ptyevidence {__version__} ({writer})", "geometry": self.to_dict()}


def _scalar(source: Source, keys: tuple[str, ...]) -> tuple[float, str] | None:
    for key in keys:
        if key in source and not source.info(key).shape and source.info(key).dtype.kind in "biuf":
            value = float(source.read(key))
            if math.isfinite(value):
                return value, f"'{key}' of the source"
    return None


def source_geometry(source: Source, frame_shape: tuple[int, int]) -> Geometry:
    """Return the geometry ``source`` records, completed with :data:`DEFAULTS`.

    Parameters
    ----------
    source : Source
        An open source.
    frame_shape : tuple of int
        ``(H, W)`` of the frames (and probe), for the far-field object pixel.

    Returns
    -------
    Geometry
    """
    found: dict[str, tuple[float, str]] = {}
    for name, keys in _KEYS.items():
        got = _scalar(source, keys)
        if got is not None:
            found[name] = got
    # A format's own geometry record (CXI's groups) where no array gave the value.
    for name, got in source.stated_geometry().items():
        found.setdefault(name, got)
    for name, value in DEFAULTS.items():
        found.setdefault(name, (value, "default (ptychodus's SLAC NPZ default)"))
    height, width = frame_shape
    wavelength = photon_wavelength(found["photon_energy_eV"][0] * ELECTRON_VOLT_J)
    for name, size in (("object_pixel_width_m", width), ("object_pixel_height_m", height)):
        value = wavelength * found["detector_distance_m"][0] / (size * found["detector_pixel_size_m"][0])
        found.setdefault(name, (value, "far field: wavelength * distance / (frame size * detector pixel)"))
    for name in ("object_center_x_m", "object_center_y_m"):
        found.setdefault(name, (0.0, "default (the object centre at the origin)"))
    return Geometry(**{k: v for k, (v, _) in found.items()}, origin={k: o for k, (_, o) in found.items()})
