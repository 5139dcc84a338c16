"""Time the reader's gather alone, in-process: 64 evenly spaced frames of a source.

Usage: ``python benchmarks/gather_time.py SOURCE {canonical,legacy}``. Prints the
fastest of three gathers, without interpreter start-up, sidecars or coverage,
to separate the reader's cost from the rest of ``fixture make``.
"""

from __future__ import annotations

import sys
import time

from ptyevidence.readers.layout import read_frames
from ptyevidence.readers.npz import NpzSource


def main() -> None:
    path, layout = sys.argv[1], sys.argv[2]
    with NpzSource(path) as src:
        n = src.info("diffraction").shape[0 if layout == "canonical" else -1]
        indices = [int(i * n / 64) for i in range(64)]
        times = []
        for _ in range(3):
            start = time.perf_counter()
            read_frames(src, "diffraction", indices, layout)
            times.append(time.perf_counter() - start)
    print(f"{layout}: 64 of {n} frames gathered in {min(times) * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
