"""Time the numpy geometry behind the coverage metrics, in-process, next to scipy.spatial.

Prints a Markdown table: for each case the best of ``--repeat`` runs of
``ptyevidence.coverage.geometry`` (``perf_counter``, after imports) and of the
scipy.spatial code it replaces (``ConvexHull`` on centred points;
``cKDTree(balanced_tree=False)`` built and queried with ``workers=-1``, as
the coverage code used it), the largest difference between the two
answers, and the goal where there is one.

Usage (from the benchmarks folder, so that ``_inputs`` imports)::

    python geometry_time.py              # the cases with goals, ~10 s
    python geometry_time.py --hard       # also targets that leave most queries
                                         # outside, and 1e6 vs 1e6: ~1 min
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

t0 = time.perf_counter()
from ptyevidence.coverage.geometry import convex_hull_area, nearest_distances

t_geometry = time.perf_counter() - t0
t0 = time.perf_counter()
from scipy.spatial import ConvexHull, cKDTree

t_scipy = time.perf_counter() - t0

from _inputs import scan_positions


def best_of(repeat: int, func, *args, **kwargs):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = func(*args, **kwargs)
        times.append(time.perf_counter() - start)
    return result, min(times)


def scipy_hull(x, y):
    return ConvexHull(np.column_stack([x - x.mean(), y - y.mean()])).volume


def scipy_nearest(qx, qy, tx, ty, exclude=None):
    tree = cKDTree(np.column_stack([tx, ty]), balanced_tree=False)
    queries = np.column_stack([qx, qy])
    if exclude is None:
        return tree.query(queries, k=1, workers=-1)[0]
    d, i = tree.query(queries, k=2, workers=-1)
    return np.where(i[:, 0] == exclude, d[:, 1], d[:, 0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--hard", action="store_true", help="add the slow, outside-heavy cases"
    )
    args = parser.parse_args()

    x5, y5 = scan_positions(100_000)
    x6, y6 = scan_positions(1_000_000)
    gx, gy = (
        a.ravel().astype(float) for a in np.meshgrid(np.arange(1000), np.arange(1000))
    )
    sample = np.arange(65_536) * (x6.size // 65_536)

    # (label, goal in s or None, our call, scipy's call)
    cases = [
        ("hull, 1e5 spiral", None, (convex_hull_area, x5, y5), (scipy_hull, x5, y5)),
        ("hull, 1e6 spiral", 0.15, (convex_hull_area, x6, y6), (scipy_hull, x6, y6)),
        (
            "hull, 1000 x 1000 grid",
            None,
            (convex_hull_area, gx, gy),
            (scipy_hull, gx, gy),
        ),
    ]
    nn = [
        (
            "nearest other, 65,536 sampled vs 1e6",
            0.25,
            (x6[sample], y6[sample], x6, y6, sample),
        ),
        ("nearest, 1e6 vs 64 (strided)", 0.30, (x6, y6, x6[::15_625], y6[::15_625])),
        ("nearest, 1e6 vs 1e4 (strided)", None, (x6, y6, x6[::100], y6[::100])),
    ]
    if args.hard:
        # Contiguous index ranges of a spiral are its centre: most queries lie outside.
        nn += [
            ("nearest, 1e6 vs first 1e4", None, (x6, y6, x6[:10_000], y6[:10_000])),
            ("nearest, 1e6 vs first 1e5", None, (x6, y6, x6[:100_000], y6[:100_000])),
            ("nearest other, 1e6 vs 1e6", None, (x6, y6, x6, y6, np.arange(x6.size))),
        ]
    cases += [
        (label, goal, (nearest_distances, *a), (scipy_nearest, *a))
        for label, goal, a in nn
    ]

    print(
        f"imports: ptyevidence.coverage.geometry (and the package) {t_geometry * 1e3:.0f} ms, "
        f"scipy.spatial {t_scipy * 1e3:.0f} ms (numpy loaded before both)"
    )
    print(
        f"best of {args.repeat}; python {sys.version.split()[0]}, numpy {np.__version__}\n"
    )
    print("| case | numpy (ms) | scipy (ms) | max difference | goal |")
    print("|---|---:|---:|---:|---|")
    for label, goal, (ours, *a), (theirs, *b) in cases:
        got, t_ours = best_of(args.repeat, ours, *a)
        ref, t_ref = best_of(args.repeat, theirs, *b)
        diff = float(np.max(np.abs(np.asarray(got) - np.asarray(ref))))
        verdict = (
            ""
            if goal is None
            else f"< {goal * 1e3:.0f} ms: {'met' if t_ours < goal else 'MISSED'}"
        )
        print(
            f"| {label} | {t_ours * 1e3:.1f} | {t_ref * 1e3:.1f} | {diff:.1e} | {verdict} |"
        )


if __name__ == "__main__":
    main()
