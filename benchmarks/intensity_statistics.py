"""Measure the amplitude-or-intensity and centring statistics on real-ish cases; print a Markdown table.

Usage: ``python benchmarks/intensity_statistics.py``

Cases: the demo scan (Poisson amplitude, what DATA-001 asks for), its square
(intensity passed off as amplitude), the noise-free demo and its square,
Poisson counts simulated from the demo's intensity at two doses, the counts
of ``tests/cxi_files.py`` read through a CXI file, and the demo with the
zero frequency moved to the corners (``numpy.fft.ifftshift``). For each, the
statistics data001's rules compute (lattice fractions of
``diffraction-not-counts``, max/mean of ``diffraction-not-intensity``,
corner/centre of ``diffraction-centred``) and the findings ``validate`` gives.
"""

from __future__ import annotations

import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

from cxi_files import write_cxi
from ptyevidence.contract import validate_dataset
from ptyevidence.demo import simulate_demo_arrays

RULES = ("diffraction-not-counts", "diffraction-not-intensity", "diffraction-centred")


def _cases(folder: str) -> dict[str, str]:
    demo = simulate_demo_arrays(1087, 0, "canonical", "poisson", 1e6)
    clean = simulate_demo_arrays(1087, 0, "canonical", "none", 1e6)
    intensity = clean["diffraction"].astype(np.float64) ** 2
    rng = np.random.default_rng(5)
    frames = {
        "demo amplitude (Poisson, 1e6 photons/frame)": demo["diffraction"],
        "demo squared (intensity)": demo["diffraction"].astype(np.float64) ** 2,
        "noise-free amplitude": clean["diffraction"],
        "noise-free squared": intensity,
        "Poisson counts, 1e6 photons/frame": rng.poisson(intensity * (1e6 / intensity.sum(axis=(1, 2)).mean())),
        "Poisson counts, 1e4 photons/frame": rng.poisson(intensity * (1e4 / intensity.sum(axis=(1, 2)).mean())),
        "demo, zero frequency in the corners": np.fft.ifftshift(demo["diffraction"], axes=(-2, -1)),
    }
    paths = {}
    for i, (name, stack) in enumerate(frames.items()):
        path = os.path.join(folder, f"case{i}.npz")
        np.savez(path, **{**demo, "diffraction": np.ascontiguousarray(stack, dtype=np.float32)})
        paths[name] = path
    cxi = os.path.join(folder, "counts.cxi")
    write_cxi(cxi, n=200, h=64, w=64)
    paths["CXI detector counts (uint16, tests/cxi_files.py)"] = cxi
    return paths


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        rows = []
        for name, path in _cases(folder).items():
            report = validate_dataset(path, "data001" if path.endswith(".npz") else "raw", progress=False)
            if path.endswith(".cxi"):  # raw has no counts rule: measure the lattice with data001's
                report = validate_dataset(path, "data001", progress=False)
            found = sorted({f"{f.rule} ({f.severity})" for f in report.findings if f.rule in RULES})
            rows.append([name, *(report.checked.get(r, "-") for r in RULES), ", ".join(found) or "none"])
    header = ["case", "lattice (diffraction-not-counts)", "max/mean", "corner/centre", "findings"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
