"""Benchmark ``ptyevidence report``: the demo warm, and a large source against it.

Measures, each as its own child process (wall time and peak RSS from
``os.wait4``, like ``run.py``):

* ``ptyevidence report --force`` on the demo (what ``make report`` runs),
  warm: a first run fills the caches, then ``--repeat`` timed runs;
* ``ptyevidence report --source BIG`` on a synthetic DATA-001 source of
  ``--size-gb`` (streamed by ``_inputs.py``; read once with ``cat`` first so
  it is page-cache warm), which the report must read O(subset): its hash is
  the fixture's fingerprint above 1 GiB, the data figures read a bounded
  sample of frames.

Prints a Markdown table and the ratio big / demo (target <= 1.5), with the
CPU load other processes put on the machine just before each run. Not a
test: nothing is asserted. The source is deleted afterwards unless ``--keep``.

Usage::

    .venv/bin/python benchmarks/report.py                       # demo only
    .venv/bin/python benchmarks/report.py --size-gb 2.15 --workdir /work/scratch
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _inputs import write_source
from run import FRAME, GB, measure

PY = sys.executable


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--size-gb", type=float, default=0.0, help="also report on a synthetic source of this size (default: demo only)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed runs each; the fastest is shown")
    parser.add_argument("--workdir", default=None, help="folder for the source and the reports")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args(argv)
    workdir = tempfile.mkdtemp(prefix="ptyevidence-bench-report-", dir=args.workdir)
    rows = []
    try:
        demo_cmd = [PY, "-m", "ptyevidence", "report", "--force", "--out", os.path.join(workdir, "demo")]
        measure("warm-up", demo_cmd, 1)
        demo = measure("report, demo (make report)", demo_cmd, args.repeat)
        rows.append((demo, "18 MB demo source, simulated by the warm-up run and reused"))
        if args.size_gb > 0:
            frames = int(args.size_gb * GB / (FRAME * FRAME * 4))
            need = frames * FRAME * FRAME * 4 * 1.1
            free = shutil.disk_usage(workdir).free
            if free < need:
                print(f"not enough room in {workdir}: {free / GB:.1f} GB free, {need / GB:.1f} GB needed")
                return 2
            big = os.path.join(workdir, "big.npz")
            size = write_source(big, frames)
            subprocess.run(["cat", big], stdout=subprocess.DEVNULL, check=True)
            big_cmd = [
                PY,
                "-m",
                "ptyevidence",
                "report",
                "--source",
                big,
                "--force",
                "--out",
                os.path.join(workdir, "big"),
            ]
            run = measure(
                f"report, {size / GB:.2f} GB source",
                big_cmd,
                args.repeat,
                before=lambda: subprocess.run(["cat", big], stdout=subprocess.DEVNULL, check=True),
            )
            rows.append((run, f"{frames:,} frames of {FRAME}x{FRAME} float32, page-cache warm"))
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print("| command | wall s | peak RSS MB | other CPU load | runs | note |")
    print("|---|---:|---:|---:|---|---|")
    for run, note in rows:
        runs = ", ".join(f"{w:.2f}" for w in run.walls)
        busy = "" if run.busy_before is None else f"{100 * run.busy_before:.0f}%"
        print(f"| {run.label} | {run.wall_s:.2f} | {run.rss_mb:.0f} | {busy} | {runs} | {note} |")
    if len(rows) == 2:
        ratio = rows[1][0].wall_s / rows[0][0].wall_s
        print(f"\nbig / demo: {ratio:.2f}x (target <= 1.5x)")
    print(f"\nos.cpu_count() = {os.cpu_count()}, load average before/after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
