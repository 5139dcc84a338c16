"""Simulate the embedded demo dataset: a far-field ptychography scan.

The geometry copies the reference scan the project is built around: 64x64 detector frames, 1,087
positions over a 45x44-pixel region (object pixels ~34 to 79) and a 227x226 complex object. The
object is a procedural texture (smooth noise plus soft-edged "cells"), the probe an apodized circular
aperture with defocus and astigmatism. Each frame is the far-field amplitude ``|FFT2(probe . patch)|``
of the probe shifted to the exact, sub-pixel scan position, optionally with Poisson counting noise,
scaled so the brightest pixel of the stack is 1 (DATA-001 asks for normalized amplitude: max < 10).

Position ``(x, y)`` names the object pixel under the probe centre: column ``x``, row ``y``. Every
random draw comes from ``numpy.random.SeedSequence(seed)`` children (object, positions, noise), so the
same arguments give the same arrays, and turning noise off leaves the object and positions unchanged.
:func:`make_demo_data` writes the scan as a deterministic DATA-001 NPZ, so every command and notebook
has data to run on without a download.

Examples
--------
>>> from ptyevidence.demo import DEMO_FRAME_SHAPE, DEMO_OBJECT_SHAPE, DEMO_POSITIONS
>>> DEMO_POSITIONS, DEMO_FRAME_SHAPE, DEMO_OBJECT_SHAPE
(1087, (64, 64), (227, 226))
"""

from __future__ import annotations

import os

import numpy as np

from ._atomic import check_output_path
from ._memory import check_budget
from .exceptions import UsageError
from .writers.npz import write_npz

__all__ = [
    "DEFAULT_PHOTONS",
    "DEMO_FRAME_SHAPE",
    "DEMO_OBJECT_SHAPE",
    "DEMO_POSITIONS",
    "DEMO_SCAN_REGION",
    "LAYOUTS",
    "NOISE_MODELS",
    "make_demo_data",
    "simulate_demo_arrays",
]

#: Scan positions of the reference scan.
DEMO_POSITIONS = 1087
#: Detector frame shape (H, W) in pixels; also the probe shape.
DEMO_FRAME_SHAPE = (64, 64)
#: Object shape (M1 rows, M2 columns) in object pixels.
DEMO_OBJECT_SHAPE = (227, 226)
#: Nominal scanned region ``(x_min, x_max, y_min, y_max)`` in object pixels.
DEMO_SCAN_REGION = (34.0, 79.0, 34.0, 78.0)
#: Expected photons per frame when Poisson noise is on.
DEFAULT_PHOTONS = 1e6
#: Layouts :func:`make_demo_data` can write.
LAYOUTS = ("canonical", "legacy")
#: Noise models :func:`make_demo_data` can apply.
NOISE_MODELS = ("poisson", "none")

# Positioner jitter (standard deviation, object pixels) of the measured
# positions around the commanded ones: the fast (x) axis of a fly scan
# wanders more than the slow (y) axis.
_JITTER_X = 0.25
_JITTER_Y = 0.10
# Probe: aperture radius and edge width (pixels), defocus and astigmatism
# phase at the aperture edge (radians).
_APERTURE_RADIUS = 14.0
_APERTURE_EDGE = 1.5
_DEFOCUS_PHASE = 6.0
_ASTIGMATISM_PHASE = 1.0
# Frames simulated per FFT batch (bounds the complex128 working set).
_BATCH = 128


def simulate_demo_arrays(
    n_positions: int = DEMO_POSITIONS,
    seed: int = 0,
    layout: str = "canonical",
    noise: str = "poisson",
    photons: float = DEFAULT_PHOTONS,
) -> dict[str, np.ndarray]:
    """Return the demo scan as DATA-001 arrays (see the module docstring).

    Parameters
    ----------
    n_positions : int
        Number of scan positions N (at least 2) on serpentine lines over the fixed region x 34..79,
        y 34..78 object pixels; more positions mean a finer step. The reference scan has 1,087.
    seed : int
        Seed (non-negative) of every random draw: object texture, position jitter and noise.
    layout : {"canonical", "legacy"}
        ``canonical`` stores ``diffraction`` as (N, H, W) float32; ``legacy`` as (H, W, N) float64, the
        order of old PtychoPINN files (valid under the ``legacy`` contract, not under ``data001``).
    noise : {"poisson", "none"}
        Counting noise on the intensities, or exact amplitudes.
    photons : float
        Expected photons per frame, averaged over the scan (Poisson only).

    Returns
    -------
    dict of str to numpy.ndarray
        ``diffraction`` (N, 64, 64) float32 amplitude (or legacy, above),
        ``objectGuess`` (227, 226) complex64, ``probeGuess`` (64, 64) complex64,
        ``xcoords``/``ycoords`` (N,) float64 measured positions and
        ``xcoords_start``/``ycoords_start`` (N,) float64 commanded positions
        in object pixels (x = column, y = row), ``scan_index`` (N,) int64 zeros.

    Raises
    ------
    UsageError
        If an argument is out of range.
    MemoryBudgetError
        If the stack would exceed the memory budget.
    """
    _check_arguments(n_positions, seed, layout, noise, photons)
    h, w = DEMO_FRAME_SHAPE
    # Peak: float64 intensities, scaled copy, Poisson counts and amplitudes
    # (8 bytes each per pixel) plus the float32 (or float64 legacy) output.
    check_budget(n_positions * h * w * 40, f"the {n_positions}-position demo stack")
    object_seq, position_seq, noise_seq = np.random.SeedSequence(seed).spawn(3)
    obj = _make_object(np.random.default_rng(object_seq))
    probe = _make_probe()
    x_start, y_start = _commanded_positions(n_positions)
    rng = np.random.default_rng(position_seq)
    x = x_start + rng.normal(0.0, _JITTER_X, n_positions)
    y = y_start + rng.normal(0.0, _JITTER_Y, n_positions)
    intensity = _far_field_intensity(obj, probe, x, y)
    if noise == "poisson":
        expected = intensity * (photons / intensity.sum(axis=(1, 2)).mean())
        amplitude = np.sqrt(np.random.default_rng(noise_seq).poisson(expected))
    else:
        amplitude = np.sqrt(intensity)
    amplitude /= amplitude.max()
    if layout == "legacy":
        diffraction = np.ascontiguousarray(amplitude.transpose(1, 2, 0))
    else:
        diffraction = amplitude.astype(np.float32)
    return {
        "diffraction": diffraction,
        "objectGuess": obj.astype(np.complex64),
        "probeGuess": probe.astype(np.complex64),
        "xcoords": x,
        "ycoords": y,
        "xcoords_start": x_start,
        "ycoords_start": y_start,
        "scan_index": np.zeros(n_positions, np.int64),
    }


def make_demo_data(
    output: str | os.PathLike,
    n_positions: int = DEMO_POSITIONS,
    seed: int = 0,
    layout: str = "canonical",
    noise: str = "poisson",
    photons: float = DEFAULT_PHOTONS,
    force: bool = False,
) -> str:
    """Simulate the demo scan (see the module docstring) and write it as an uncompressed NPZ.

    Equal arguments give byte-identical files.

    Parameters
    ----------
    output : str or path
        Destination ``.npz``; its folder must exist. Written atomically.
    n_positions, seed, layout, noise, photons
        The scan, as for :func:`simulate_demo_arrays`.
    force : bool
        Replace an existing file.

    Returns
    -------
    str
        The path written.

    Raises
    ------
    UsageError
        If an argument is out of range, or ``output`` exists and ``force``
        is False, or its folder is missing.
    MemoryBudgetError
        If the stack would exceed the memory budget (about 160 kB per position).

    Examples
    --------
    >>> import os, tempfile
    >>> from ptyevidence import validate_dataset
    >>> path = make_demo_data(os.path.join(tempfile.mkdtemp(), "demo.npz"), n_positions=16)
    >>> report = validate_dataset(path)
    >>> report.ok, report.dims["N"], report.dims["H"], report.dims["M1"]
    (True, 16, 64, 227)
    """
    check_output_path(output, force=force)  # fail before simulating
    arrays = simulate_demo_arrays(n_positions, seed, layout, noise, photons)
    return write_npz(output, arrays, force=force)


def _check_arguments(n_positions: int, seed: int, layout: str, noise: str, photons: float) -> None:
    for name, value, least, wanted in (
        ("positions", n_positions, 2, "an integer of at least 2"),
        ("seed", seed, 0, "a non-negative integer"),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            msg = f"{name} = {value!r}; give {wanted}"
            raise UsageError(msg)
    for name, value, choices in (("layout", layout, LAYOUTS), ("noise", noise, NOISE_MODELS)):
        if value not in choices:
            msg = f"{name} '{value}' is not one of {', '.join(choices)}"
            raise UsageError(msg)
    if not np.isfinite(photons) or photons <= 0:
        msg = f"photons = {photons!r}; give a positive number of photons per frame"
        raise UsageError(msg)


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Periodic Gaussian-filtered white noise, zero mean and unit variance."""
    ky = np.fft.fftfreq(shape[0])[:, None]
    kx = np.fft.fftfreq(shape[1])[None, :]
    kernel = np.exp(-2.0 * np.pi**2 * sigma**2 * (ky**2 + kx**2))
    field = np.fft.ifft2(np.fft.fft2(rng.standard_normal(shape)) * kernel).real
    return (field - field.mean()) / field.std()


def _make_object(rng: np.random.Generator) -> np.ndarray:
    """Complex transmission (227, 226): weak absorption, phase up to ~1.4 rad."""
    shape = DEMO_OBJECT_SHAPE
    texture = 0.6 * _smooth_noise(rng, shape, 6.0) + 0.4 * _smooth_noise(rng, shape, 1.5)
    rows, cols = np.indices(shape, dtype=np.float64)
    cells = np.zeros(shape)
    for cy, cx, radius in zip(rng.uniform(0, shape[0], 60), rng.uniform(0, shape[1], 60), rng.uniform(3.0, 11.0, 60)):
        # Soft-edged disc, ~1 pixel edge: features with sharp but band-limited borders.
        distance = np.hypot(rows - cy, cols - cx)
        cells += 0.5 * (1.0 - np.tanh((distance - radius) / 0.8))
    cells = np.minimum(cells, 1.5)
    amplitude = np.clip(0.9 - 0.2 * cells + 0.04 * texture, 0.3, 1.0)
    phase = 0.8 * cells + 0.2 * texture
    return amplitude * np.exp(1j * phase)


def _make_probe() -> np.ndarray:
    """Apodized aperture (64, 64) with defocus and astigmatism; peak modulus 1."""
    h, w = DEMO_FRAME_SHAPE
    yy, xx = np.indices((h, w), dtype=np.float64)
    yy -= h // 2
    xx -= w // 2
    rho2 = (xx**2 + yy**2) / _APERTURE_RADIUS**2
    aperture = 0.5 * (1.0 - np.tanh((np.sqrt(rho2) - 1.0) * _APERTURE_RADIUS / _APERTURE_EDGE))
    astig = (xx**2 - yy**2) / _APERTURE_RADIUS**2
    phase = _DEFOCUS_PHASE * rho2 + _ASTIGMATISM_PHASE * astig
    return aperture * np.exp(1j * phase)


def _commanded_positions(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Serpentine fly-scan lines over the reference region, N points in all."""
    x_min, x_max, y_min, y_max = DEMO_SCAN_REGION
    n_lines = max(1, round(np.sqrt(n * (y_max - y_min) / (x_max - x_min))))
    per_line = np.full(n_lines, n // n_lines)
    per_line[: n % n_lines] += 1
    line_y = np.linspace(y_min, y_max, n_lines) if n_lines > 1 else np.array([(y_min + y_max) / 2])
    xs, ys = [], []
    for i, (count, y) in enumerate(zip(per_line, line_y)):
        x = np.linspace(x_min, x_max, count)
        xs.append(x[::-1] if i % 2 else x)
        ys.append(np.full(count, y))
    return np.concatenate(xs), np.concatenate(ys)


def _far_field_intensity(obj: np.ndarray, probe: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Return |FFT2(shifted probe . object patch)|^2, (N, H, W), zero frequency centred."""
    h, w = probe.shape
    col0 = np.floor(x).astype(np.int64)
    row0 = np.floor(y).astype(np.int64)
    if (
        (row0 - h // 2).min() < 0
        or (row0 + h - h // 2).max() > obj.shape[0]
        or ((col0 - w // 2).min() < 0 or (col0 + w - w // 2).max() > obj.shape[1])
    ):
        msg = "demo positions leave the object; the scan region and object shape disagree"
        raise AssertionError(msg)
    # The sub-pixel part of each position shifts the probe (Fourier phase ramp);
    # the integer part picks the object patch.
    ky = np.fft.fftfreq(h)[:, None]
    kx = np.fft.fftfreq(w)[None, :]
    probe_spectrum = np.fft.fft2(probe)
    out = np.empty((x.size, h, w))
    for start in range(0, x.size, _BATCH):
        sl = slice(start, start + _BATCH)
        fy = (y[sl] - row0[sl])[:, None, None]
        fx = (x[sl] - col0[sl])[:, None, None]
        shifted = np.fft.ifft2(probe_spectrum * np.exp(-2j * np.pi * (ky * fy + kx * fx)))
        rows = (row0[sl] - h // 2)[:, None, None] + np.arange(h)[None, :, None]
        cols = (col0[sl] - w // 2)[:, None, None] + np.arange(w)[None, None, :]
        exit_wave = shifted * obj[rows, cols]
        far = np.fft.fftshift(np.fft.fft2(exit_wave, norm="ortho"), axes=(1, 2))
        out[sl] = far.real**2 + far.imag**2
    return out
