"""Read CXI (HDF5) ptychography files lazily, under the canonical dataset keys.

A CXI file stores photon counts at ``entry_1/instrument_1/detector_1/data``
(often linked from ``entry_1/data_1/data``), one sample translation per frame
in metres at ``entry_1/sample_1/geometry_1/translation``, and the geometry
(detector distance, pixel sizes, photon energy) beside them. :class:`CxiSource`
implements :class:`ptyevidence.readers.base.Source`, like the NPZ reader, so
validation, fixtures and coverage read a ``.cxi`` file like an NPZ:

- ``diffraction``: the frames as stored (counts, shape ``(K, H, W)``), read
  chunk by chunk through h5py;
- ``xcoords``, ``ycoords`` (and ``_start`` copies): positions in object
  pixels when the geometry gives a sample-plane pixel size, else in metres;
- ``mask``: True where the detector mask flags a bad pixel (if present);
- ``probeGuess``: a probe stored in the file (if present and frame-sized).

Every decision taken while reading is kept in :attr:`CxiSource.notes` and
:attr:`CxiSource.metadata`.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from .._memory import check_budget
from ..exceptions import InputError, UsageError
from .base import ArrayInfo
from .common import (
    BLOCK_BYTES,
    OneFile,
    check_readable_file,
    gather_indices,
    hdf5_read_errors,
    native_byte_order,
    ordered_map,
    thread_count,
)
from .counts import (
    IntensitySummary,
    counts_notes,
    counts_to_amplitude,
    summarize_counts,
)
from .links import LinkedFile, _h5py
from .product import _text_or_array

__all__ = [
    "FRAME_PATHS",
    "GEOMETRIES",
    "TRANSLATION_PATHS",
    "CxiSource",
    "IntensitySummary",
    "counts_to_amplitude",
    "photon_wavelength",
    "read_cxi",
]

T = TypeVar("T")

#: Planck constant (J s), speed of light (m/s), electron volt (J): exact SI values.
PLANCK_J_S = 6.62607015e-34
SPEED_OF_LIGHT_M_S = 299_792_458.0
ELECTRON_VOLT_J = 1.602176634e-19

#: Where the frames may be, in the order tried.
FRAME_PATHS = ("entry_1/instrument_1/detector_1/data", "entry_1/data_1/data")
#: Where the per-frame sample translations may be, in the order tried.
TRANSLATION_PATHS = ("entry_1/sample_1/geometry_1/translation", "entry_1/data_1/translation")
DETECTOR_PATH = "entry_1/instrument_1/detector_1"
ENERGY_PATHS = (
    "entry_1/instrument_1/source_1/energy",
    "entry_1/instrument_1/beam_1/incident_energy",
    "entry_1/instrument_1/monochromator_1/energy",
)
WAVELENGTH_PATHS = (
    "entry_1/instrument_1/source_1/wavelength",
    "entry_1/instrument_1/beam_1/incident_wavelength",
)
#: CXI defines no probe dataset; these are the names ptychography writers use.
PROBE_PATHS = (
    "entry_1/instrument_1/source_1/probe",
    "entry_1/instrument_1/source_1/illumination",
    "entry_1/instrument_1/source_1/data_illumination",
    "entry_1/instrument_1/detector_1/probe",
    "entry_1/probe",
)
#: CXI mask bit that marks signal above background: informative, not a defect.
CXI_PIXEL_HAS_SIGNAL = 0x1000
#: Propagation geometries accepted by ``--geometry``.
GEOMETRIES = ("far-field", "near-field")
#: Default detector basis (CXI 1.6): rows step along -y, columns along -x.
DEFAULT_BASIS = np.array([[0.0, -1.0, 0.0], [-1.0, 0.0, 0.0]])

_LENGTH_UNITS = {
    "m": 1.0,
    "meter": 1.0,
    "meters": 1.0,
    "metre": 1.0,
    "metres": 1.0,
    "mm": 1e-3,
    "um": 1e-6,
    "µm": 1e-6,
    "μm": 1e-6,
    "micron": 1e-6,
    "microns": 1e-6,
    "nm": 1e-9,
    "pm": 1e-12,
    "angstrom": 1e-10,
    "Å": 1e-10,
}
_ENERGY_UNITS = {"j": 1.0, "joule": 1.0, "ev": ELECTRON_VOLT_J, "kev": 1e3 * ELECTRON_VOLT_J}
#: Photon energies and wavelengths outside these bounds are taken for a unit mistake.
_PLAUSIBLE_ENERGY_J = (1e-20, 1e-11)
_PLAUSIBLE_WAVELENGTH_M = (1e-13, 1e-5)
#: HDF5 filters that do not compress (shuffle, fletcher32).
_NON_COMPRESSING_FILTERS = (2, 3)
#: Chunks cached per dataset while gathering frames.
_CHUNK_CACHE_SLOTS = 1031


def photon_wavelength(energy_joule: float) -> float:
    """Return the wavelength in metres of a photon of ``energy_joule``.

    Parameters
    ----------
    energy_joule : float
        Photon energy in joules (CXI stores energies in joules).

    Returns
    -------
    float
        ``h c / E`` in metres.

    Examples
    --------
    >>> round(photon_wavelength(8000 * 1.602176634e-19) * 1e10, 4)  # 8 keV, in Å
    1.5498
    """
    return PLANCK_J_S * SPEED_OF_LIGHT_M_S / energy_joule


@dataclass
class _Geometry:
    """Experimental geometry read from the file, SI units, None when missing."""

    energy_J: float | None = None
    wavelength_m: float | None = None
    distance_m: float | None = None
    x_pixel_size_m: float | None = None
    y_pixel_size_m: float | None = None
    basis_vectors: np.ndarray | None = None


class CxiSource(OneFile):
    """A CXI (HDF5) ptychography file opened for lazy reading.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.cxi`` / ``.h5`` file.
    geometry : {"far-field", "near-field"}
        Propagation geometry. Far-field positions are converted to object
        pixels with the sample-plane pixel size ``wavelength * distance /
        (frame size * detector pixel size)``; near-field needs
        ``sample_pixel_size``.
    sample_pixel_size : float or None
        Sample-plane pixel size in metres; overrides the far-field formula.
    require_positions : bool
        False accepts a file of frames without translations (as ptychodus
        writes ``diffraction.cxi``): it then has no ``xcoords``/``ycoords``, and
        is paired with the file holding them (``open_source(positions_from=...)``).
    allow_external_links : bool or None
        Follow external links, virtual datasets and external raw storage
        (refused by default); None takes the process-wide policy
        (:mod:`ptyevidence.readers.links`).

    Attributes
    ----------
    path : str
    format : str
        ``"cxi"``.
    layout : str
        ``"canonical"``: CXI stacks are always ``(K, H, W)``.
    frames_path, translation_path : str
        HDF5 paths the frames and positions were read from.
    sample_pixel_size : tuple of float or None
        ``(dx, dy)`` in metres, None when positions stay in metres.
    position_units : str
        ``"object pixels"`` or ``"m"``.
    ignored_members : list of str
        Empty: HDF5 objects other than those above are simply not presented.
    notes : list of str
        Every conversion and assumption, in words.

    Raises
    ------
    InputError
        If the file is not HDF5, has no 3-D frame stack, no translations, or
        their lengths (or the mask's shape) do not match; the message names
        the HDF5 path.

    Examples
    --------
    >>> import h5py, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny.cxi")
    >>> with h5py.File(path, "w") as f:
    ...     det = f.create_group("entry_1/instrument_1/detector_1")
    ...     det["data"] = np.full((4, 8, 8), 9, np.uint16)
    ...     det["distance"], det["x_pixel_size"], det["y_pixel_size"] = 1.0, 1e-4, 1e-4
    ...     f["entry_1/instrument_1/source_1/wavelength"] = 1e-10
    ...     t = np.zeros((4, 3)); t[:, 0] = np.arange(4) * 250e-9
    ...     f["entry_1/sample_1/geometry_1/translation"] = t
    >>> with CxiSource(path) as src:
    ...     print(src.position_units, src.read("xcoords").round(6).tolist())
    object pixels [4.0, 6.0, 8.0, 10.0]
    """

    format = "cxi"
    #: CXI fixes the stack order to (K, H, W): frames first, detector y, x last.
    layout = "canonical"
    #: The frames are photon counts; :meth:`frame_transform` converts them.
    counts = True

    def __init__(
        self,
        path: str | os.PathLike,
        geometry: str | None = "far-field",
        sample_pixel_size: float | None = None,
        require_positions: bool = True,
        allow_external_links: bool | None = None,
    ) -> None:
        self.path = os.fspath(path)
        self.require_positions = require_positions
        check_readable_file(self.path)
        # CXI records no propagation geometry: None means the caller did not say either.
        self.geometry_assumed = geometry is None
        geometry = "far-field" if geometry is None else geometry
        if geometry not in GEOMETRIES:
            msg = f"geometry '{geometry}' is not one of {', '.join(GEOMETRIES)}"
            raise UsageError(msg)
        if sample_pixel_size is not None and not (math.isfinite(sample_pixel_size) and sample_pixel_size > 0):
            msg = f"sample pixel size {sample_pixel_size!r} must be a positive length in metres"
            raise UsageError(msg)
        self.geometry = geometry
        self.notes: list[str] = []
        self.ignored_members: list[str] = []
        self.hdf5_paths: dict[str, str] = {}
        self._summary: IntensitySummary | None = None
        h5py = _h5py()
        try:
            self._file = h5py.File(self.path, "r")
        except OSError as exc:
            msg = f"'{self.path}' is not a readable HDF5 file ({exc}); a CXI (HDF5) file is expected"
            raise InputError(msg, self.path) from None
        self._links = LinkedFile(self._file, self.path, allow_external_links)
        try:
            self._load(sample_pixel_size)
        except Exception:
            self._file.close()
            raise

    def _load(self, sample_pixel_size: float | None) -> None:
        self.mask_rule: str | None = None
        self.missing_geometry: list[str] = []
        self.sample_pixel_rule: str | None = None
        self._frames = self._open_frames()
        n, h, w = self._frames.shape
        translation = self._read_translation(n)
        self.bad_pixels = self._read_mask(h, w)
        self._geo = self._read_geometry(n)
        self.sample_pixel_size = self._sample_pixel_size(sample_pixel_size, h, w)
        self._arrays: dict[str, np.ndarray] = {}
        probe = self._read_probe(h, w)
        if probe is not None:
            self._arrays["probeGuess"] = probe
        if translation is None:
            # Frames only (require_positions=False): the positions come from another file.
            self.position_units, self.position_offset = "m", (0.0, 0.0)
            self.notes.append(f"no scan positions in '{self.path}': they come from another file")
        else:
            x, y = self._positions(translation, h, w)
            self._arrays.update({"xcoords": x, "ycoords": y, "xcoords_start": x.copy(), "ycoords_start": y.copy()})
            self.notes.append(
                "xcoords_start/ycoords_start: copies of xcoords/ycoords (CXI stores one "
                "translation per frame, no separate commanded position)"
            )
        if self.bad_pixels is not None:
            self._arrays["mask"] = self.bad_pixels

    def _get(self, hdf5_path: str) -> Any:
        """Return the dataset at ``hdf5_path``, None if absent, under the link policy.

        Groups, dangling or looping links, links out of the file that the
        policy refuses, and datasets needing a filter that is not available
        are refused (see :mod:`ptyevidence.readers.links`).
        """
        h5py = _h5py()
        obj = self._links.get(hdf5_path)
        if obj is None:
            return None
        if not isinstance(obj, h5py.Dataset):
            msg = f"{self._links.where(hdf5_path)} is a group; a dataset is expected there"
            raise InputError(msg, self.path)
        with self._reading(hdf5_path):
            # A damaged header fails here, whichever error h5py turns it into.
            obj.dtype, obj.shape, obj.chunks  # noqa: B018
            self._links.check_dataset(obj, hdf5_path)
        return obj

    def close(self) -> None:
        """Close the file and the files its external links opened."""
        self._links.close()

    def linked_files(self) -> list[str]:
        """Return the other files read through links so far (only with ``allow_external_links``)."""
        return list(self._links.linked)

    def _reading(self, hdf5_path: str) -> AbstractContextManager[None]:
        """Name the file and dataset of an HDF5 read error (h5py names neither)."""
        return hdf5_read_errors(self._links.where(hdf5_path), self.path)

    def _first(self, paths: Sequence[str]) -> tuple[Any, str | None]:
        """Return the first of ``paths`` that holds a dataset, and that path (None, None if none does)."""
        return next(((dset, p) for p in paths if (dset := self._get(p)) is not None), (None, None))

    def _open_frames(self) -> Any:
        dset, found = self._first(FRAME_PATHS)
        if dset is None:
            msg = (
                f"'{self.path}' holds no diffraction frames: neither "
                f"'{FRAME_PATHS[0]}' nor '{FRAME_PATHS[1]}' exists; a CXI file stores "
                "the (K, H, W) frame stack at one of them"
            )
            raise InputError(msg, self.path)
        self.frames_path = found
        self.hdf5_paths["frames"] = found
        if dset.ndim != 3 or dset.shape[0] == 0:
            msg = (
                f"{self._links.where(found)} has shape {dset.shape}; expected a 3-D stack "
                "(K, H, W) of K >= 1 diffraction frames"
            )
            raise InputError(msg, self.path)
        if dset.dtype.kind not in "biuf":
            msg = f"{self._links.where(found)} has dtype {dset.dtype}; expected real photon counts (integer or float)"
            raise InputError(msg, self.path)
        return _with_chunk_cache(dset)

    def _read_translation(self, n_frames: int) -> np.ndarray | None:
        dset, found = self._first(TRANSLATION_PATHS)
        if dset is None and not self.require_positions:
            self.translation_path = None
            return None
        if dset is None:
            msg = (
                f"'{self.path}' holds no scan positions: neither '{TRANSLATION_PATHS[0]}' "
                f"nor '{TRANSLATION_PATHS[1]}' exists; a ptychography CXI file stores one "
                "(x, y, z) sample translation per frame, in metres (ptychodus writes them to "
                "its product file instead: pass positions_from=PRODUCT)"
            )
            raise InputError(msg, self.path)
        self.translation_path = found
        self.hdf5_paths["translation"] = found
        if dset.ndim != 2 or dset.shape[1] not in (2, 3) or dset.dtype.kind not in "biuf":
            msg = (
                f"{self._links.where(found)} has shape {dset.shape} and dtype {dset.dtype}; "
                "expected (K, 3) real x, y, z translations in metres"
            )
            raise InputError(msg, self.path)
        if dset.shape[0] != n_frames:
            msg = (
                f"{self._links.where(found)} holds {dset.shape[0]} positions but "
                f"'{self.frames_path}' holds {n_frames} frames; each frame needs one position"
            )
            raise InputError(msg, self.path)
        factor, unit = self._unit_factor(dset, found, _LENGTH_UNITS, "m")
        with self._reading(found):
            values = np.asarray(dset[()], dtype=np.float64) * factor
        if unit != "m":
            self.notes.append(f"translation converted from {unit} to m (units attribute of '{found}')")
        if values.shape[1] == 2:
            values = np.column_stack([values, np.zeros(n_frames)])
            self.notes.append(f"'{found}' holds (x, y) only; z taken as 0")
        return values

    def _read_mask(self, h: int, w: int) -> np.ndarray | None:
        path = f"{DETECTOR_PATH}/mask"
        dset = self._get(path)
        if dset is None:
            self.notes.append(f"no detector mask at '{path}': every pixel is used")
            return None
        shape = dset.shape
        if shape not in ((h, w), (1, h, w)):
            msg = f"{self._links.where(path)} has shape {shape}; expected (H, W) = ({h}, {w}), the shape of one frame"
            raise InputError(msg, self.path)
        with self._reading(path):
            raw = np.asarray(dset[()]).reshape(h, w)
        self.hdf5_paths["mask"] = path
        if raw.dtype.kind == "b":
            bad = raw.copy()
            rule = "True = bad pixel"
        elif raw.dtype.kind in "iu":
            bad = (raw.astype(np.int64) & ~CXI_PIXEL_HAS_SIGNAL) != 0
            rule = (
                "CXI bit field: a pixel with any bit set other than 0x1000 "
                "(CXI_PIXEL_HAS_SIGNAL, informative) is bad; 0 is a good pixel"
            )
        elif raw.dtype.kind == "f":
            bad = ~(raw == 0)
            rule = "nonzero (or NaN) = bad pixel"
        else:
            msg = f"{self._links.where(path)} has dtype {raw.dtype}; expected an integer bit field"
            raise InputError(msg, self.path)
        self.mask_rule = rule
        n_bad = int(np.count_nonzero(bad))
        self.notes.append(
            f"detector mask '{path}': {n_bad} of {h * w} pixels bad ({rule}); bad pixels "
            "are set to 0 in amplitude frames"
        )
        if n_bad > (h * w) / 2:
            self.notes.append(
                f"the mask flags {100 * n_bad / (h * w):.0f}% of the pixels; CXI masks mark "
                "BAD pixels with nonzero values: if this file marks good pixels instead, "
                "fix the mask before converting"
            )
        return bad

    def _unit_factor(self, dset: Any, path: str, table: dict[str, float], si: str) -> tuple[float, str]:
        with self._reading(path):
            units = dset.attrs.get("units")
        if units is None:
            return 1.0, si
        units = str(_text_or_array(units).reshape(-1)[0])
        key = units.strip()
        factor = table.get(key, table.get(key.lower()))
        if factor is None:
            msg = (
                f"{self._links.where(path)} has units '{units}'; known: {', '.join(sorted(table))} (CXI default: {si})"
            )
            raise InputError(msg, self.path)
        return factor, key

    def _read_quantity(self, path: str, n_frames: int, table: dict[str, float], si: str) -> float | None:
        """Read a positive scalar (or constant per-frame array) in SI units, or None."""
        dset = self._get(path)
        if dset is None:
            return None
        if dset.dtype.kind not in "biuf" or dset.size == 0:
            self.notes.append(f"'{path}' (dtype {dset.dtype}, shape {dset.shape}) is not a number; ignored")
            return None
        factor, unit = self._unit_factor(dset, path, table, si)
        with self._reading(path):
            values = np.asarray(dset[()], dtype=np.float64).reshape(-1) * factor
        if values.size not in (1, n_frames):
            self.notes.append(f"'{path}' holds {values.size} values for {n_frames} frames; ignored")
            return None
        if not np.all(np.isfinite(values)) or np.any(values <= 0):
            self.notes.append(f"'{path}' is not a positive finite number ({values[:3]}); ignored")
            return None
        if values.size > 1 and not np.allclose(values, values[0], rtol=1e-9, atol=0):
            self.notes.append(
                f"'{path}' varies between frames ({values.min():.6g} to {values.max():.6g} {si}); "
                "one sample-plane pixel size cannot describe every frame, so it is not used"
            )
            return None
        self.hdf5_paths[path.rsplit("/", 1)[-1]] = path
        if unit != si:
            self.notes.append(f"'{path}' converted from {unit} to {si}")
        return float(values[0])

    def _read_geometry(self, n_frames: int) -> _Geometry:
        geo = _Geometry()
        geo.distance_m = self._read_quantity(f"{DETECTOR_PATH}/distance", n_frames, _LENGTH_UNITS, "m")
        geo.x_pixel_size_m = self._read_quantity(f"{DETECTOR_PATH}/x_pixel_size", n_frames, _LENGTH_UNITS, "m")
        geo.y_pixel_size_m = self._read_quantity(f"{DETECTOR_PATH}/y_pixel_size", n_frames, _LENGTH_UNITS, "m")
        geo.basis_vectors = self._read_basis(geo)
        energy, wavelength = (
            next((v for p in paths if (v := self._read_quantity(p, n_frames, table, si)) is not None), None)
            for paths, table, si in ((ENERGY_PATHS, _ENERGY_UNITS, "J"), (WAVELENGTH_PATHS, _LENGTH_UNITS, "m"))
        )
        if energy is not None and not _PLAUSIBLE_ENERGY_J[0] <= energy <= _PLAUSIBLE_ENERGY_J[1]:
            self.notes.append(
                f"photon energy {energy:.6g} J is implausible (CXI stores joules: "
                f"8 keV = {8000 * ELECTRON_VOLT_J:.4g} J; is it in eV without a units "
                "attribute?); not used"
            )
            energy = None
        if wavelength is not None and not _PLAUSIBLE_WAVELENGTH_M[0] <= wavelength <= _PLAUSIBLE_WAVELENGTH_M[1]:
            self.notes.append(f"wavelength {wavelength:.6g} m is implausible; not used")
            wavelength = None
        geo.energy_J = energy
        if energy is not None:
            from_energy = photon_wavelength(energy)
            if wavelength is not None and not math.isclose(wavelength, from_energy, rel_tol=1e-3):
                self.notes.append(
                    f"wavelength {wavelength:.6g} m disagrees with h*c/energy = {from_energy:.6g} m; "
                    "the energy (the CXI-defined field) is used"
                )
            elif wavelength is None:
                self.notes.append(f"wavelength = h*c/energy = {from_energy:.6g} m")
            wavelength = from_energy
        geo.wavelength_m = wavelength
        return geo

    def _read_basis(self, geo: _Geometry) -> np.ndarray:
        path = f"{DETECTOR_PATH}/basis_vectors"
        dset = self._get(path)
        if dset is None:
            return DEFAULT_BASIS.copy()
        with self._reading(path):
            raw = np.asarray(dset[()], dtype=np.float64) if dset.dtype.kind in "biuf" else None
        if raw is not None and raw.ndim == 3 and raw.shape[1:] == (2, 3):
            if not np.allclose(raw, raw[0]):
                self.notes.append(f"'{path}' varies between frames; the first frame's basis is used")
            raw = raw[0]
        norms = np.linalg.norm(raw, axis=1) if raw is not None and raw.shape == (2, 3) else None
        if norms is None or not np.all(np.isfinite(raw)) or np.any(norms == 0):
            self.notes.append(f"'{path}' is not two non-zero 3-vectors; the CXI default basis is used")
            return DEFAULT_BASIS.copy()
        self.hdf5_paths["basis_vectors"] = path
        if geo.y_pixel_size_m is None:
            geo.y_pixel_size_m = float(norms[0])
            self.notes.append(f"y pixel size taken from |basis_vectors[0]| = {norms[0]:.6g} m")
        if geo.x_pixel_size_m is None:
            geo.x_pixel_size_m = float(norms[1])
            self.notes.append(f"x pixel size taken from |basis_vectors[1]| = {norms[1]:.6g} m")
        unit = raw / norms[:, None]
        if not np.allclose(unit, DEFAULT_BASIS, atol=1e-6):
            self.notes.append(
                f"'{path}' differs from the CXI default [[0, -py, 0], [-px, 0, 0]]; positions "
                "are projected on the stored detector axes"
            )
        return unit

    def _sample_pixel_size(self, given: float | None, h: int, w: int) -> tuple[float, float] | None:
        geo = self._geo
        if given is not None:
            self.sample_pixel_rule = "given (--sample-pixel-size)"
            self.notes.append(f"sample-plane pixel size {given:.6g} m given by the caller")
            return (given, given)
        if self.geometry == "near-field":
            self.sample_pixel_rule = None
            self.missing_geometry = ["sample_pixel_size=METRES (near-field geometry)"]
            self.notes.append("near-field geometry without a sample pixel size: positions stay in metres")
            return None
        missing = []
        if geo.wavelength_m is None:
            missing.append(f"wavelength ('{ENERGY_PATHS[0]}' in J or '{WAVELENGTH_PATHS[0]}' in m)")
        if geo.distance_m is None:
            missing.append(f"detector distance ('{DETECTOR_PATH}/distance')")
        if geo.x_pixel_size_m is None or geo.y_pixel_size_m is None:
            missing.append(f"detector pixel size ('{DETECTOR_PATH}/x_pixel_size', 'y_pixel_size')")
        self.missing_geometry = missing
        if missing:
            self.sample_pixel_rule = None
            self.notes.append(
                "far-field pixel size unknown (missing " + "; ".join(missing) + "): positions stay in metres"
            )
            return None
        dx = geo.wavelength_m * geo.distance_m / (w * geo.x_pixel_size_m)
        dy = geo.wavelength_m * geo.distance_m / (h * geo.y_pixel_size_m)
        self.sample_pixel_rule = "far-field: wavelength * distance / (frame size * detector pixel size)"
        self.notes.append(
            f"far-field sample pixel size dx = {geo.wavelength_m:.6g} m * {geo.distance_m:.6g} m / "
            f"({w} * {geo.x_pixel_size_m:.6g} m) = {dx:.6g} m, dy = {geo.wavelength_m:.6g} m * "
            f"{geo.distance_m:.6g} m / ({h} * {geo.y_pixel_size_m:.6g} m) = {dy:.6g} m"
        )
        return (dx, dy)

    def _positions(self, translation: np.ndarray, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        basis = self._geo.basis_vectors
        # Moving the sample by +t moves the illuminated spot by -t on the sample;
        # projecting -t on the detector's column/row axes gives the spot's motion
        # in frame orientation (t_x, t_y for the CXI default basis).
        along_x = -(translation @ basis[1])
        along_y = -(translation @ basis[0])
        self.position_offset = (0.0, 0.0)
        if self.sample_pixel_size is None:
            self.position_units = "m"
            self.notes.append(
                "xcoords = -translation . basis_vectors[1]/|.|, ycoords = -translation . "
                "basis_vectors[0]/|.| in metres (= translation x, y for the CXI default basis)"
            )
            return along_x, along_y
        dx, dy = self.sample_pixel_size
        x, y = along_x / dx, along_y / dy
        finite = np.isfinite(x) & np.isfinite(y)
        x0 = w / 2 - float(x[finite].min()) if finite.any() else 0.0
        y0 = h / 2 - float(y[finite].min()) if finite.any() else 0.0
        self.position_offset = (x0, y0)
        self.position_units = "object pixels"
        self.notes.append(
            f"xcoords = translation_x / dx + {x0:.6g}, ycoords = translation_y / dy + {y0:.6g} "
            f"(object pixels; the offsets put the leftmost/topmost position half a frame, "
            f"{w / 2:g} x {h / 2:g} pixels, from the object's edge; translation_x/_y are "
            "projections of -translation on the detector column/row axes, i.e. the CXI x, y "
            "for the default basis)"
        )
        return x + x0, y + y0

    def _read_probe(self, h: int, w: int) -> np.ndarray | None:
        for path in PROBE_PATHS:
            dset = self._get(path)
            if dset is None:
                continue
            shape = dset.shape
            # ptychodus writes (coherent, incoherent, H, W) probe modes (plugins/cxi_file.py).
            if len(shape) < 2 or shape[-2:] != (h, w) or len(shape) > 4:
                self.notes.append(
                    f"probe candidate '{path}' has shape {shape}, not ({h}, {w}) or (modes, {h}, {w}) "
                    f"or (coherent, incoherent, {h}, {w}); ignored"
                )
                continue
            if dset.dtype.kind not in "biufc":
                self.notes.append(f"probe candidate '{path}' has dtype {dset.dtype}; ignored")
                continue
            check_budget(int(np.prod(shape)) * 8, f"reading the probe '{path}'")
            with self._reading(path):
                probe = np.asarray(dset[()])
            if probe.ndim == 3:
                self.notes.append(f"probe '{path}' holds {shape[0]} modes; the first is used")
                probe = probe[0]
            elif probe.ndim == 4:
                self.notes.append(
                    f"probe '{path}' holds {shape[0]} x {shape[1]} (coherent x incoherent) "
                    "modes; the first of each is used"
                )
                probe = probe[0, 0]
            if probe.dtype.kind != "c":
                self.notes.append(f"probe '{path}' is real ({probe.dtype}); stored as complex64")
            self.hdf5_paths["probe"] = path
            self.notes.append(
                f"probeGuess read from '{path}' as stored (CXI defines no probe dataset: its "
                "plane, centring and normalization are not checked)"
            )
            return probe.astype(np.complex64)
        return None

    @property
    def wavelength(self) -> float | None:
        """Photon wavelength in metres, or None."""
        return self._geo.wavelength_m

    @property
    def energy(self) -> float | None:
        """Photon energy in joules, or None."""
        return self._geo.energy_J

    @property
    def distance(self) -> float | None:
        """Sample-detector distance in metres, or None."""
        return self._geo.distance_m

    @property
    def detector_pixel_size(self) -> tuple[float | None, float | None]:
        """Detector pixel size ``(x, y)`` in metres (None where unknown)."""
        return (self._geo.x_pixel_size_m, self._geo.y_pixel_size_m)

    @property
    def metadata(self) -> dict[str, Any]:
        """Return the geometry, units, paths and notes as JSON-serializable data."""
        geo = self._geo
        n, h, w = self._frames.shape
        return {
            "format": "cxi",
            "file": os.path.basename(self.path),
            "hdf5_paths": dict(self.hdf5_paths),
            "n_frames": n,
            "frame_shape": [h, w],
            "frames_dtype": str(self._frames.dtype),
            "geometry": self.geometry,
            "geometry_assumed": self.geometry_assumed,
            "energy_J": geo.energy_J,
            "wavelength_m": geo.wavelength_m,
            "distance_m": geo.distance_m,
            "detector_pixel_size_m": [geo.x_pixel_size_m, geo.y_pixel_size_m],
            "basis_vectors_unit": geo.basis_vectors.tolist(),
            "sample_pixel_size_m": list(self.sample_pixel_size) if self.sample_pixel_size else None,
            "sample_pixel_size_rule": self.sample_pixel_rule,
            "position_units": self.position_units,
            "position_offset_px": list(self.position_offset),
            "mask_rule": self.mask_rule,
            "n_bad_pixels": int(np.count_nonzero(self.bad_pixels)) if self.bad_pixels is not None else 0,
            "notes": list(self.notes),
            **({"linked_files": self.linked_files()} if self.linked_files() else {}),
        }

    def reader_record(self) -> dict[str, Any]:
        """Return :attr:`metadata`: what this reader worked out about the file."""
        return self.metadata

    def stated_geometry(self) -> dict[str, tuple[float, str]]:
        """Return the energy, detector distance and pixel sizes the CXI groups state, with where."""
        found: dict[str, tuple[float, str]] = {}
        if self.energy is not None:
            found["photon_energy_eV"] = (self.energy / ELECTRON_VOLT_J, "the CXI source energy")
        if self.distance is not None:
            found["detector_distance_m"] = (self.distance, "the CXI detector distance")
        if self.detector_pixel_size[0] is not None:
            found["detector_pixel_size_m"] = (self.detector_pixel_size[0], "the CXI detector pixel size")
        if self.sample_pixel_size:
            found["object_pixel_width_m"] = (self.sample_pixel_size[0], "the CXI far-field sample pixel size")
            found["object_pixel_height_m"] = (self.sample_pixel_size[1], "the CXI far-field sample pixel size")
        return found

    def position_statement(self) -> str:
        """Say in which units the positions are, for which geometry and sample pixel size, and why.

        Examples
        --------
        >>> import h5py, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "tiny.cxi")
        >>> with h5py.File(path, "w") as f:
        ...     f["entry_1/instrument_1/detector_1/data"] = np.ones((2, 4, 4), np.uint16)
        ...     f["entry_1/sample_1/geometry_1/translation"] = np.zeros((2, 3))
        >>> with CxiSource(path, geometry=None) as src:
        ...     print(src.position_statement())  # doctest: +ELLIPSIS
        positions in m: far-field geometry assumed (the file does not say which); ...
        """
        if self.geometry_assumed:
            how = (
                f"{self.geometry} geometry assumed (the file does not say which); a near-field scan "
                "needs geometry near-field and its sample pixel size (--geometry near-field "
                "--sample-pixel-size METRES)"
            )
        else:
            how = f"{self.geometry} geometry (given)"
        if self.sample_pixel_size is None:
            missing = "; ".join(self.missing_geometry) or "no sample pixel size"
            return f"positions in {self.position_units}: {how}; not converted to pixels (missing {missing})"
        dx, dy = self.sample_pixel_size
        return (
            f"positions in {self.position_units}: {how}; sample pixel {dx:.6g} x {dy:.6g} m ({self.sample_pixel_rule})"
        )

    def keys(self) -> list[str]:
        """Return the canonical keys this file provides."""
        return ["diffraction", *self._arrays]

    def __contains__(self, key: object) -> bool:
        return key == "diffraction" or key in self._arrays

    def info(self, key: str) -> ArrayInfo:
        """Return the header of ``key`` (dtype and shape as :meth:`read` returns them)."""
        if key == "diffraction":
            dset = self._frames
            return ArrayInfo(key, dset.dtype.newbyteorder("="), tuple(dset.shape), False, _is_compressed(dset), None)
        arr = self._array(key)
        return ArrayInfo(key, arr.dtype, arr.shape, False, False, None)

    def _array(self, key: str) -> np.ndarray:
        try:
            return self._arrays[key]
        except KeyError:
            msg = f"'{self.path}' provides no array '{key}' (keys: {', '.join(self.keys())})"
            raise InputError(msg, self.path) from None

    def read(self, key: str) -> np.ndarray:
        """Read ``key`` whole, native byte order, C order."""
        if key != "diffraction":
            return self._array(key).copy()
        info = self.info(key)
        check_budget(info.nbytes, f"reading '{self.frames_path}' from '{self.path}'")
        out = np.empty(info.shape, info.dtype)
        if out.size:
            with self._reading(self.frames_path):
                self._frames.read_direct(out)
        return out

    def iter_blocks(self, key: str, block_bytes: int | None = None) -> Iterator[np.ndarray]:
        """Yield the values of ``key`` as flat native-order blocks, in storage order.

        Frame blocks hold whole frames (whole chunks when the dataset is
        chunked), so each HDF5 chunk is read once; ``block_bytes`` defaults
        to :data:`BLOCK_BYTES`.
        """
        block_bytes = BLOCK_BYTES if block_bytes is None else int(block_bytes)
        if key != "diffraction":
            flat = self._array(key).reshape(-1)
            step = max(1, block_bytes // max(1, flat.itemsize))
            for start in range(0, flat.size, step):
                yield flat[start : start + step]
            return
        for _, frames in self.iter_frames(block_bytes):
            yield frames.reshape(-1)

    def map_blocks(
        self, key: str, func: Callable[[np.ndarray], T], jobs: int = 1, block_bytes: int | None = None
    ) -> Iterator[T]:
        """Yield ``func(block)`` for the blocks :meth:`iter_blocks` yields, in storage order.

        The blocks of an uncompressed frame stack are read and folded on up
        to ``jobs`` threads, each with one buffer of its own: HDF5 reads one
        block at a time, the folds (numpy, which releases the GIL) run side
        by side. Other arrays, and compressed stacks, are read in order on
        the caller's thread. ``func`` must not keep its block.
        """
        block_bytes = BLOCK_BYTES if block_bytes is None else int(block_bytes)
        dset = self._frames
        rows = _rows_per_block(dset, block_bytes)
        frame_shape = tuple(dset.shape[1:])
        frame_bytes = int(np.prod(frame_shape, dtype=np.int64)) * dset.dtype.itemsize
        jobs = thread_count(jobs, -(-dset.shape[0] // rows), rows * frame_bytes)
        if key != "diffraction" or jobs <= 1 or _is_compressed(dset):
            return (func(block) for block in self.iter_blocks(key, block_bytes))
        local = threading.local()  # each thread's buffer, reused for its blocks

        def task(start: int) -> T:
            if getattr(local, "buffer", None) is None:
                local.buffer = np.empty((rows, *frame_shape), dset.dtype.newbyteorder("="))
            out = local.buffer[: min(rows, dset.shape[0] - start)]
            with self._reading(self.frames_path):
                dset.read_direct(out, source_sel=np.s_[start : start + len(out)])
            return func(out.reshape(-1))

        return ordered_map(task, range(0, dset.shape[0], rows), jobs)

    def iter_frames(self, block_bytes: int = BLOCK_BYTES) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(first_index, frames)`` blocks of whole frames, chunk-aligned.

        Parameters
        ----------
        block_bytes : int
            Target block size; at least one frame (or one chunk) is read.

        Yields
        ------
        tuple of (int, numpy.ndarray)
            Index of the block's first frame and the ``(n, H, W)`` frames
            in native byte order.
        """
        dset = self._frames
        n = dset.shape[0]
        rows = _rows_per_block(dset, block_bytes)
        dtype = dset.dtype.newbyteorder("=")
        for start in range(0, n, rows):
            stop = min(n, start + rows)
            out = np.empty((stop - start,) + tuple(dset.shape[1:]), dtype)
            with self._reading(self.frames_path):
                dset.read_direct(out, source_sel=np.s_[start:stop])
            yield start, out

    def take(self, key: str, indices: Sequence[int] | np.ndarray, axis: int = 0) -> np.ndarray:
        """Gather entries ``indices`` along the first or last axis of ``key``.

        Frames are read in ascending order, one read per HDF5 chunk (one read
        per run of consecutive frames for contiguous datasets), then put in
        the requested order; repeats are read once.

        Parameters
        ----------
        key : str
            Canonical key.
        indices : sequence of int
            Positions along ``axis``, any order, repeats allowed.
        axis : {0, -1}
            Axis to gather along.

        Returns
        -------
        numpy.ndarray
            Native byte order, C-contiguous, ``len(indices)`` along ``axis``.
        """
        info = self.info(key)
        axis, idx = gather_indices(self.path, info, indices, axis)
        out_shape = list(info.shape)
        out_shape[axis] = idx.size
        check_budget(
            int(np.prod(out_shape, dtype=np.int64)) * info.dtype.itemsize,
            f"gathering {idx.size} entries of '{key}'",
        )
        if key != "diffraction":
            return np.ascontiguousarray(np.take(self._arrays[key], idx, axis=axis))
        return self._take_frames(idx) if axis == 0 else self._take_columns(idx)

    def _take_frames(self, idx: np.ndarray) -> np.ndarray:
        dset = self._frames
        uniq, inverse = np.unique(idx, return_inverse=True)
        rows = np.empty((uniq.size,) + tuple(dset.shape[1:]), dset.dtype.newbyteorder("="))
        row_bytes = rows[0].nbytes if rows.size else 0
        with self._reading(self.frames_path):
            self._read_frame_groups(dset, uniq, rows, row_bytes)
        return native_byte_order(rows[inverse.reshape(-1)])

    def _read_frame_groups(self, dset: Any, uniq: np.ndarray, rows: np.ndarray, row_bytes: int) -> None:
        for lo, hi, positions in _read_groups(dset, uniq):
            if hi - lo == positions.size:  # a run of consecutive frames: read in place
                dset.read_direct(rows, source_sel=np.s_[lo:hi], dest_sel=np.s_[positions[0] : positions[-1] + 1])
            elif (hi - lo) * row_bytes <= BLOCK_BYTES:  # sparse frames in one chunk: its span once
                block = dset[lo:hi]
                rows[positions] = block[uniq[positions] - lo]
            else:  # a huge chunk: frame by frame, served by the chunk cache
                for j in positions:
                    dset.read_direct(rows, source_sel=np.s_[uniq[j]], dest_sel=np.s_[j])

    def _take_columns(self, idx: np.ndarray) -> np.ndarray:
        dset = self._frames
        n = dset.shape[0]
        out = np.empty((n, dset.shape[1], idx.size), dset.dtype.newbyteorder("="))
        for start, frames in self.iter_frames():
            out[start : start + frames.shape[0]] = frames[..., idx]
        return out

    def intensity_summary(self, progress: bool | None = None, block_bytes: int = BLOCK_BYTES) -> IntensitySummary:
        """Scan every frame once (streamed, chunk by chunk) for the amplitude scale.

        The result is cached: later calls cost nothing.

        Parameters
        ----------
        progress : bool or None
            Progress bar; None shows one on a terminal for long passes.
        block_bytes : int
            Frame bytes read per block.

        Returns
        -------
        IntensitySummary
        """
        if self._summary is None:
            self._summary = summarize_counts(
                self.iter_frames(block_bytes), self.info("diffraction"), self.bad_pixels, progress
            )
        return self._summary

    def frame_transform(self, frames: np.ndarray) -> np.ndarray:
        """Convert gathered count frames to normalized amplitude (float32).

        ``sqrt(max(counts, 0)) * scale`` with bad pixels and non-finite
        counts set to 0; ``scale = 1 / sqrt(max count)`` over *all* frames
        (see :meth:`intensity_summary`), so it does not depend on which
        frames were gathered.

        Parameters
        ----------
        frames : numpy.ndarray
            ``(n, H, W)`` counts as returned by ``take("diffraction", ...)``.

        Returns
        -------
        numpy.ndarray
            ``(n, H, W)`` float32 amplitude, max over the whole file 1.0.
        """
        return counts_to_amplitude(frames, self.bad_pixels, self.intensity_summary().scale)

    def frame_transform_notes(self) -> list[str]:
        """Describe :meth:`frame_transform` and the position conversion, with values."""
        return counts_notes(self.intensity_summary(), f"'{self.frames_path}'") + list(self.notes)


def _with_chunk_cache(dset: Any) -> Any:
    """Reopen ``dset`` with a chunk cache that holds a few of its chunks.

    HDF5's default cache is 1 MiB: a larger chunk would be read and
    decompressed again for every frame taken from it.
    """
    if dset.chunks is None:
        return dset
    h5py = _h5py()
    chunk_bytes = int(np.prod(dset.chunks)) * dset.dtype.itemsize
    cache_bytes = max(2**20, 2 * chunk_bytes)
    check_budget(cache_bytes, "caching HDF5 chunks of the frames")
    dapl = h5py.h5p.create(h5py.h5p.DATASET_ACCESS)
    dapl.set_chunk_cache(_CHUNK_CACHE_SLOTS, cache_bytes, 1.0)
    dsid = h5py.h5d.open(dset.file.id, dset.name.encode("utf-8"), dapl)
    return h5py.Dataset(dsid)


def _is_compressed(dset: Any) -> bool:
    """Return True when an HDF5 filter other than shuffle/fletcher32 is applied."""
    plist = dset.id.get_create_plist()
    codes = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
    return any(code not in _NON_COMPRESSING_FILTERS for code in codes)


def _rows_per_block(dset: Any, block_bytes: int) -> int:
    """Whole frames per block, a multiple of the chunk's frame count when chunked."""
    row_bytes = max(1, int(np.prod(dset.shape[1:])) * dset.dtype.itemsize)
    rows = max(1, block_bytes // row_bytes)
    if dset.chunks is not None:
        per_chunk = dset.chunks[0]
        rows = max(per_chunk, rows - rows % per_chunk)
    return rows


def _read_groups(dset: Any, uniq: np.ndarray) -> Iterator[tuple[int, int, np.ndarray]]:
    """Split sorted frame indices into reads: ``(start, stop, positions in uniq)``.

    Chunked datasets: one read per chunk touched (the span of the wanted
    frames inside it). Contiguous datasets: one read per run of consecutive
    frames.
    """
    if uniq.size == 0:
        return
    if dset.chunks is not None:
        key = uniq // dset.chunks[0]
        breaks = np.flatnonzero(np.diff(key)) + 1
    else:
        breaks = np.flatnonzero(np.diff(uniq) != 1) + 1
    for positions in np.split(np.arange(uniq.size), breaks):
        lo, hi = int(uniq[positions[0]]), int(uniq[positions[-1]]) + 1
        yield lo, hi, positions


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
        arrays = {key: source.read(key) for key in source.keys()}  # noqa: SIM118 - not iterable
        attrs = source.metadata
        if amplitude:
            arrays["diffraction"] = source.frame_transform(arrays["diffraction"])
            attrs["amplitude_notes"] = source.frame_transform_notes()
    return arrays, attrs
