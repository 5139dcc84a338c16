"""The naive fixture cut that the benchmark compares against.

This is what the reference generator does: ``np.load`` the archive, pull the
whole diffraction array into memory, transpose a legacy ``(H, W, N)`` stack,
cast with ``astype``, then index the subset and save it. It reads the stack
once (the reference reads it several times), and casts with ``copy=False``
so an already-float32 stack is not duplicated: both choices make the baseline
faster and smaller than the reference, so ratios against it are conservative.

Usage: ``python _baseline.py SOURCE OUTPUT SUBSET_SIZE [legacy]``
"""

from __future__ import annotations

import sys

import numpy as np


def cut_naively(source: str, output: str, subset_size: int, legacy: bool) -> None:
    data = np.load(source, allow_pickle=False)
    diffraction = data["diffraction"]
    if legacy:
        diffraction = np.transpose(diffraction, (2, 0, 1))
    diffraction = diffraction.astype(np.float32, copy=False)
    n = diffraction.shape[0]
    indices = [int(i * n / subset_size) for i in range(subset_size)]
    out = {"diffraction": diffraction[indices]}
    for key in ("xcoords", "ycoords", "xcoords_start", "ycoords_start", "scan_index"):
        if key in data.files:
            out[key] = data[key][indices]
    out["probeGuess"] = data["probeGuess"].astype(np.complex64)
    out["objectGuess"] = data["objectGuess"].astype(np.complex64)
    np.savez(output, **out)


if __name__ == "__main__":
    cut_naively(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:] == ["legacy"])
