"""Benchmark ``ptyevidence audit``: files per second with 1 and 2 local workers, against a plain loop.

Writes N synthetic DATA-001 files (default 400 of about 25 MB, ``_inputs.py``)
into a scratch folder, reads them once so that every figure is page-cache
warm, then measures, in this process:

* the baseline: ``validate_dataset`` called on every file in a loop;
* ``audit`` with ``workers=1`` and ``workers=2`` (each into a new audit folder),
  end to end (cluster start and summary included) and in steady state (the
  rate between the first task's results and the last result recorded in the
  database).

Prints a Markdown table, the scaling ratio (2 workers / 1 worker, steady
state; target >= 1.7 on 2 cores) and the engine's overhead per file (1 worker,
steady state, minus the loop's time per file). Not a test: nothing is asserted.

Usage::

    python benchmarks/audit.py --dir /work/scratch/audit            # 400 x 25 MB (10 GB)
    python benchmarks/audit.py --dir /tmp/a --files 40 --frames 150  # a quick look
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sqlite3
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _inputs import write_source

from ptyevidence import validate_dataset
from ptyevidence.audit import audit


def _generate(folder: str, files: int, frames: int) -> list[str]:
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i in range(files):
        path = os.path.join(folder, f"scan_{i:04d}.npz")
        if not os.path.exists(path):
            write_source(path, frames, seed=i)
        paths.append(path)
    return paths


def _warm(paths: list[str]) -> None:
    for path in paths:
        with open(path, "rb") as fh:
            while fh.read(16 * 2**20):
                pass


def _loop(paths: list[str]) -> float:
    start = time.perf_counter()
    for path in paths:
        report = validate_dataset(path, progress=False)
        if not report.ok:
            sys.exit(f"benchmark input {path} fails DATA-001: {report.verdict}")
    return time.perf_counter() - start


def _load() -> str:
    """The 1-minute load average: other work on the machine shows in every figure."""
    return f"{os.getloadavg()[0]:.2f}"


def _audit(paths: list[str], folder: str, workers: int) -> tuple[float, float]:
    """Return (end-to-end seconds, steady-state seconds per file) of one audit run."""
    out = os.path.join(folder, f"audit-{workers}")
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    summary = audit([os.path.dirname(paths[0])], out=out, workers=workers, progress=False)
    wall = time.perf_counter() - start
    if summary.exit_code != 0 or len(summary.audited) != len(paths):
        sys.exit(f"audit with {workers} worker(s) did not pass every file: {summary.to_text()}")
    with sqlite3.connect(os.path.join(out, "audit.sqlite")) as db:
        times = [t for (t,) in db.execute("SELECT recorded FROM files ORDER BY recorded")]
    # The rows of one task are recorded together, with one time: the steady state runs from
    # the first task's rows to the last row, over the files after the first task's.
    after = [t for t in times if t > times[0]]
    return wall, (times[-1] - times[0]) / len(after)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", required=True, help="scratch folder for the files (removed afterwards)")
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--frames", type=int, default=1500, help="64x64 float32 frames per file (1500: about 25 MB)")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each measurement, interleaved; the fastest counts (default: 1)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args()
    data = os.path.join(args.dir, "files")
    try:
        start = time.perf_counter()
        paths = _generate(data, args.files, args.frames)
        size = sum(os.path.getsize(p) for p in paths)
        print(
            f"{len(paths)} files, {size / len(paths) / 1e6:.1f} MB each ({size / 1e9:.2f} GB), "
            f"written in {time.perf_counter() - start:.0f} s; {os.cpu_count()} cores, "
            f"Python {platform.python_version()}"
        )
        loops, runs = [], {1: [], 2: []}
        for i in range(args.repeat):
            _warm(paths)
            print(f"round {i + 1}: load average {_load()} before", end="", flush=True)
            loops.append(_loop(paths))
            for k, times in runs.items():
                times.append(_audit(paths, args.dir, k))
            print(f", {_load()} after")
        loop = min(loops)
        results = {k: (min(w for w, _ in r), min(s for _, s in r)) for k, r in runs.items()}
    finally:
        if not args.keep:
            shutil.rmtree(args.dir, ignore_errors=True)
    n = len(paths)
    print()
    print("| run | seconds | files/s end to end | files/s steady state |")
    print("|---|---:|---:|---:|")
    print(f"| validate_dataset loop, in-process | {loop:.1f} | {n / loop:.1f} | {n / loop:.1f} |")
    for k, (wall, per_file) in results.items():
        print(f"| audit, {k} worker(s) | {wall:.1f} | {n / wall:.1f} | {1 / per_file:.1f} |")
    (wall1, step1), (wall2, step2) = results[1], results[2]
    print()
    print(
        f"scaling 2 workers / 1 worker: {step1 / step2:.2f}x steady state, "
        f"{wall1 / wall2:.2f}x end to end (target >= 1.7x)"
    )
    print(
        f"engine overhead per file, 1 worker: {(step1 - loop / n) * 1e3:.1f} ms steady state, "
        f"{(wall1 - loop) / n * 1e3:.1f} ms end to end (loop: {loop / n * 1e3:.1f} ms per file)"
    )


if __name__ == "__main__":
    main()
