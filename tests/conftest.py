"""Shared test helpers: tiny DATA-001 datasets built from seeded arrays."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import numpy as np
import pytest


def dataset_arrays(
    n: int = 20, h: int = 8, w: int = 8, seed: int = 0, object_shape: tuple[int, int] = (32, 32)
) -> dict[str, np.ndarray]:
    """Return a compliant DATA-001 dataset as a dict of arrays.

    Frame ``i`` is filled so that ``diffraction[i, 0, 0] == i / 1000`` to make
    row identity checkable after gathers; positions lie on a jittered grid.
    """
    rng = np.random.default_rng(seed)
    diffraction = rng.random((n, h, w), dtype=np.float32)
    diffraction[:, 0, 0] = np.arange(n, dtype=np.float32) / 1000
    side = int(np.ceil(np.sqrt(n)))
    gy, gx = np.divmod(np.arange(n), side)
    xcoords = 10.0 + 2.0 * gx + rng.uniform(-0.3, 0.3, n)
    ycoords = 10.0 + 2.0 * gy + rng.uniform(-0.3, 0.3, n)
    return {
        "diffraction": diffraction,
        "objectGuess": (rng.random(object_shape) + 1j * rng.random(object_shape)).astype(np.complex64),
        "probeGuess": (rng.random((h, w)) + 1j * rng.random((h, w))).astype(np.complex64),
        "xcoords": xcoords,
        "ycoords": ycoords,
        "xcoords_start": np.round(xcoords),
        "ycoords_start": np.round(ycoords),
        "scan_index": np.zeros(n, np.int64),
    }


@pytest.fixture
def make_npz(tmp_path) -> Callable[..., str]:
    """Factory: ``make_npz(name, arrays=None, compressed=False, **dataset_kw)`` -> path.

    Without ``arrays`` it writes :func:`dataset_arrays` (``**dataset_kw`` passed on).
    """

    def factory(name: str = "data.npz", arrays=None, compressed: bool = False, **kw) -> str:
        arrays = dataset_arrays(**kw) if arrays is None else arrays
        path = os.path.join(tmp_path, name)
        (np.savez_compressed if compressed else np.savez)(path, **arrays)
        return path

    return factory


def run_cli(*args: str, cwd: str | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m ptyevidence ARGS`` and return the completed process."""
    return subprocess.run(
        [sys.executable, "-m", "ptyevidence", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
        check=False,
    )


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess]:
    """Fixture form of :func:`run_cli`."""
    return run_cli
