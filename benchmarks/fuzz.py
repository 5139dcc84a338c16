"""Fuzz every command with structurally mutated inputs; count the runs that break the property.

    python benchmarks/fuzz.py [--examples 20000] [--seed 0] [--minutes 20]

The generator is ``tests/fuzzing.py`` (the one ``tests/test_fuzz.py`` drives
through hypothesis), here over a seeded ``random.Random`` so that every
failure is counted instead of stopping at the first. Prints the examples run,
the exit codes seen per input kind, the exit-3 count, and one example of each
kind of failure with the seed that rebuilds it.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import re
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

import fuzzing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--minutes", type=float, default=20.0, help="stop after this long")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # the harness's own casts; the commands' are captured per run
    codes: collections.Counter = collections.Counter()
    failures: collections.Counter = collections.Counter()
    first: dict = {}
    exit3 = 0
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ptyevidence-fuzz-") as folder:
        base = fuzzing.Base(folder)
        done = 0
        for i in range(args.examples):
            if time.perf_counter() - start > 60 * args.minutes:
                break
            seed = args.seed + i
            example, code, _, stderr, problems = fuzzing.run_example(fuzzing.RandomDraw(random.Random(seed)), base)
            done += 1
            codes[(example.kind, code)] += 1
            exit3 += code == 3
            if problems:
                key = (problems[0].split(" (")[0], re.sub(r"'[^']*/", "'", stderr.strip())[:100])
                failures[key] += 1
                first.setdefault(key, f"seed {seed}: " + fuzzing.describe(example, code, stderr, problems))
    elapsed = time.perf_counter() - start
    print(
        f"{done} examples in {elapsed:.0f} s ({done / elapsed:.1f}/s), seeds {args.seed}..{args.seed + done - 1}"
        + ("" if done == args.examples else f"; stopped by --minutes {args.minutes:g}")
    )
    for kind in fuzzing.KINDS:
        seen = ", ".join(f"exit {c}: {n}" for (k, c), n in sorted(codes.items()) if k == kind)
        print(f"  {kind:9s} {seen}")
    print(f"exit 3: {exit3}; runs breaking the property: {sum(failures.values())}")
    for key, count in failures.most_common():
        print(f"{count} x {first[key]}")


if __name__ == "__main__":
    main()
