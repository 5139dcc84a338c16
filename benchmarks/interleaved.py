"""Time `fixture make` from two source trees in alternation, on one synthetic source.

On a shared machine, other processes' load drifts between two separate
``run.py`` runs; alternating the trees run by run exposes both to the same
load. Each run is its own child process (wall time from spawn to reap, peak
RSS from ``wait4``), page cache warm. Prints one Markdown row per tree.

Usage::

    .venv/bin/python benchmarks/interleaved.py --size-gb 2.15 --rounds 10 \\
        --workdir /tmp OLD/src NEW/src
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from run import FRAME, GB, PY, SUBSET, remove_outputs, run_child

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs=2, metavar="SRC", help="PYTHONPATH of each tree (its src/)")
    parser.add_argument("--size-gb", type=float, default=0.25, help="diffraction payload (default 0.25)")
    parser.add_argument("--rounds", type=int, default=5, help="runs per tree (default 5)")
    parser.add_argument("--workdir", default=None, help="parent of the temporary folder")
    args = parser.parse_args(argv)
    work = tempfile.mkdtemp(prefix="ptyevidence-ab-", dir=args.workdir)
    try:
        src = os.path.join(work, "canonical.npz")
        frames = max(1024, round(args.size_gb * GB / (FRAME * FRAME * 4)))
        subprocess.run(
            [PY, os.path.join(HERE, "_inputs.py"), src, "--frames", str(frames), "--frame", str(FRAME)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        run_child("cat (warm-up)", ["cat", src], capture=False)
        out = os.path.join(work, "fixture.npz")
        cmd = [
            PY,
            "-m",
            "ptyevidence",
            "fixture",
            "make",
            "--source",
            src,
            "--output",
            out,
            "--subset-size",
            str(SUBSET),
        ]
        runs: dict[str, list] = {tree: [] for tree in args.trees}
        for r in range(args.rounds):
            # Alternate which tree goes first, so neither always follows the other.
            for tree in args.trees if r % 2 == 0 else args.trees[::-1]:
                remove_outputs(out)()
                os.environ["PYTHONPATH"] = tree
                run = run_child(tree, cmd)
                if run.returncode != 0:
                    print(f"{tree}: exit {run.returncode}\n{run.output}")
                    return 2
                runs[tree].append(run)
        print(
            f"\n{frames} frames of {FRAME}x{FRAME} float32, {args.rounds} alternating runs per "
            f"tree; load average (1 min) after: {os.getloadavg()[0]:.2f}\n"
        )
        print("| tree | fixture make, fastest s | median s | peak RSS MB | runs |")
        print("|---|---:|---:|---:|---|")
        for tree, done in runs.items():
            walls = [r.wall_s for r in done]
            print(
                f"| {tree} | {min(walls):.3f} | {statistics.median(walls):.3f} | "
                f"{max(r.rss_mb for r in done):.0f} | {', '.join(f'{w:.2f}' for w in walls)} |"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
