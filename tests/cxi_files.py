"""Write small CXI (HDF5) files for tests, with each feature or defect on request."""

from __future__ import annotations

from typing import Any

import h5py
import numpy as np

#: 8 keV photon energy in joules (CXI stores energies in joules).
ENERGY_8KEV_J = 8000 * 1.602176634e-19
#: h * c in J m, written out so tests compute wavelengths independently of the package.
PLANCK_TIMES_C = 6.62607015e-34 * 299_792_458.0
DETECTOR = "entry_1/instrument_1/detector_1"
SOURCE = "entry_1/instrument_1/source_1"
FRAMES = f"{DETECTOR}/data"
TRANSLATION = "entry_1/sample_1/geometry_1/translation"


def scan_counts(n: int, h: int, w: int, seed: int = 0, dtype: Any = np.uint16) -> np.ndarray:
    """Poisson counts; frame ``i`` holds ``i`` at pixel (0, 1) so rows can be identified."""
    rng = np.random.default_rng(seed)
    counts = rng.poisson(40.0, (n, h, w)).astype(dtype)
    counts[:, 0, 1] = np.arange(n)
    return counts


def scan_translation(n: int, step_m: float = 1e-6, seed: int = 0) -> np.ndarray:
    """(n, 3) translations in metres on a jittered raster, z = 0."""
    rng = np.random.default_rng(seed + 1)
    side = int(np.ceil(np.sqrt(n)))
    gy, gx = np.divmod(np.arange(n), side)
    t = np.zeros((n, 3))
    t[:, 0] = (gx + rng.uniform(-0.1, 0.1, n)) * step_m - 3e-6
    t[:, 1] = (gy + rng.uniform(-0.1, 0.1, n)) * step_m + 2e-6
    return t


def write_cxi(
    path: str,
    n: int = 20,
    h: int = 16,
    w: int = 16,
    seed: int = 0,
    *,
    counts: np.ndarray | None = None,
    translation: np.ndarray | None = None,
    energy_J: float | None = ENERGY_8KEV_J,
    wavelength_m: float | None = None,
    distance_m: float | None = 2.0,
    pixel_size_m: tuple[float, float] | None = (75e-6, 75e-6),
    mask: np.ndarray | None = None,
    probe: np.ndarray | None = None,
    basis_vectors: np.ndarray | None = None,
    data_at: str = FRAMES,
    link_data: bool = False,
    chunks: tuple[int, ...] | None = None,
    compression: str | None = None,
    units: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Write a CXI file and return what went in (``counts``, ``translation``).

    ``data_at`` places the frames elsewhere; ``link_data`` adds the usual
    ``entry_1/data_1/data`` soft link to them. ``units`` maps a dataset name
    (``distance``, ``energy``...) to a ``units`` attribute; the value written
    is then taken as already expressed in that unit.
    """
    counts = scan_counts(n, h, w, seed) if counts is None else counts
    translation = scan_translation(len(counts), seed=seed) if translation is None else translation
    units = units or {}
    with h5py.File(path, "w") as f:
        f["cxi_version"] = 160
        f.create_dataset(data_at, data=counts, chunks=chunks, compression=compression)
        if link_data:
            f["entry_1/data_1/data"] = h5py.SoftLink("/" + data_at)
        f[TRANSLATION] = translation
        det = f.require_group(DETECTOR)
        if distance_m is not None:
            det["distance"] = distance_m
        if pixel_size_m is not None:
            det["x_pixel_size"], det["y_pixel_size"] = pixel_size_m
        if mask is not None:
            det["mask"] = mask
        if basis_vectors is not None:
            det["basis_vectors"] = basis_vectors
        if energy_J is not None:
            f[f"{SOURCE}/energy"] = energy_J
        if wavelength_m is not None:
            f[f"{SOURCE}/wavelength"] = wavelength_m
        if probe is not None:
            f[f"{SOURCE}/probe"] = probe
        for name, unit in units.items():
            target = f"{SOURCE}/{name}" if name in ("energy", "wavelength") else f"{DETECTOR}/{name}"
            if name == "translation":
                target = TRANSLATION
            f[target].attrs["units"] = unit
    return {"counts": counts, "translation": translation}


def far_field_positions(
    translation: np.ndarray,
    energy_J: float,
    distance_m: float,
    pixel_size_m: tuple[float, float],
    frame_shape: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Hand computation of object-pixel positions for the CXI default detector basis.

    dx = wavelength * distance / (W * x_pixel_size); x = tx / dx shifted so the
    smallest x is W / 2 (y likewise with H).
    """
    h, w = frame_shape
    wavelength = PLANCK_TIMES_C / energy_J
    dx = wavelength * distance_m / (w * pixel_size_m[0])
    dy = wavelength * distance_m / (h * pixel_size_m[1])
    x = translation[:, 0] / dx
    y = translation[:, 1] / dy
    return x - x.min() + w / 2, y - y.min() + h / 2, dx, dy
