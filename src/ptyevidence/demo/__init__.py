"""The embedded demo dataset: a simulated far-field ptychography scan.

:func:`make_demo_data` writes a deterministic DATA-001 NPZ in the reference
geometry (64x64 frames, 1,087 positions over object pixels ~34 to 79, a
227x226 complex object), so every command and notebook has data to run on
without a download. The simulation lives in :mod:`ptyevidence.demo.simulate`.

Examples
--------
>>> from ptyevidence.demo import DEMO_FRAME_SHAPE, DEMO_OBJECT_SHAPE, DEMO_POSITIONS
>>> DEMO_POSITIONS, DEMO_FRAME_SHAPE, DEMO_OBJECT_SHAPE
(1087, (64, 64), (227, 226))
"""

from __future__ import annotations

import os

from .simulate import (
    DEFAULT_PHOTONS,
    DEMO_FRAME_SHAPE,
    DEMO_OBJECT_SHAPE,
    DEMO_POSITIONS,
    DEMO_SCAN_REGION,
    simulate_demo_arrays,
    write_demo_file,
)

__all__ = [
    "DEFAULT_PHOTONS",
    "DEMO_FRAME_SHAPE",
    "DEMO_OBJECT_SHAPE",
    "DEMO_POSITIONS",
    "DEMO_SCAN_REGION",
    "make_demo_data",
    "simulate_demo_arrays",
]

#: Layouts :func:`make_demo_data` can write.
LAYOUTS = ("canonical", "legacy")
#: Noise models :func:`make_demo_data` can apply.
NOISE_MODELS = ("poisson", "none")


def make_demo_data(
    output: str | os.PathLike,
    n_positions: int = DEMO_POSITIONS,
    seed: int = 0,
    layout: str = "canonical",
    noise: str = "poisson",
    photons: float = DEFAULT_PHOTONS,
    force: bool = False,
) -> str:
    """Simulate the demo scan and write it as an uncompressed NPZ.

    The object is a procedural texture (weak absorption, phase up to about
    1.4 rad), the probe an apodized circular aperture (radius 14 pixels)
    with defocus and astigmatism, and each frame the far-field amplitude
    ``|FFT2(probe . object patch)|`` at the exact, sub-pixel scan position,
    with optional Poisson counting noise, scaled so that the brightest
    pixel of the stack is 1. Equal arguments give byte-identical files.

    Parameters
    ----------
    output : str or path
        Destination ``.npz``; its folder must exist. Written atomically.
    n_positions : int
        Number of scan positions N (at least 2) on serpentine lines over the
        fixed region x 34..79, y 34..78 object pixels; more positions mean
        a finer step. The reference scan has 1,087.
    seed : int
        Seed (non-negative) of the object texture, position jitter and noise.
    layout : {"canonical", "legacy"}
        ``canonical`` writes ``diffraction`` as (N, 64, 64) float32;
        ``legacy`` as (64, 64, N) float64, the order of old PtychoPINN files
        (valid under the ``legacy`` contract, not under ``data001``).
    noise : {"poisson", "none"}
        Poisson counting noise, or exact amplitudes.
    photons : float
        Expected photons per frame, averaged over the scan (Poisson only).
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
    return write_demo_file(
        output, force=force, n_positions=n_positions, seed=seed, layout=layout,
        noise=noise, photons=photons,
    )
