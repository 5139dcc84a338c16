"""Time the coverage metrics and subset strategies in one process (benchmark target 5).

Prints one JSON object: seconds per call, measured with ``perf_counter``
after the imports (their cost is reported separately), and the scan sizes.

Usage: ``python _coverage_child.py N_GRID N_FARTHEST SUBSET_SIZE [SUBSET_SIZE...]``
"""

from __future__ import annotations

import json
import sys
import time

t0 = time.perf_counter()
from _inputs import scan_positions

from ptyevidence.coverage import nearest_neighbour_distances, scan_coverage
from ptyevidence.coverage.metrics import _nearest_other, _spacing_sample
from ptyevidence.fixture.strategies import select_indices

t_package = time.perf_counter() - t0
t0 = time.perf_counter()
import scipy.spatial  # noqa: F401  (the coverage maths import it lazily)

t_scipy = time.perf_counter() - t0


def timed(func, *args, **kwargs):
    start = time.perf_counter()
    result = func(*args, **kwargs)
    return result, time.perf_counter() - start


def main() -> None:
    n_grid, n_far = int(sys.argv[1]), int(sys.argv[2])
    sizes = [int(s) for s in sys.argv[3:]]
    out = {"import_package_s": t_package, "import_scipy_spatial_s": t_scipy, "runs": []}
    x, y = scan_positions(n_grid)
    for n in sizes:
        idx, t_grid = timed(select_indices, x, y, n, "grid")
        _, t_metrics = timed(scan_coverage, x, y, idx)
        out["runs"].append(
            {
                "case": "grid+metrics",
                "positions": n_grid,
                "subset": n,
                "grid_s": t_grid,
                "metrics_s": t_metrics,
                "total_s": t_grid + t_metrics,
            }
        )
    # What the source spacing sample saves: every position's nearest other, or the sample's.
    _, t_all = timed(nearest_neighbour_distances, x, y)
    _, t_sample = timed(_nearest_other, x, y, _spacing_sample(x.size))
    out["spacing"] = {"positions": n_grid, "every_position_s": t_all, "sample_s": t_sample}
    x, y = scan_positions(n_far)
    for n in sizes:
        _, t_far = timed(select_indices, x, y, n, "farthest-point", seed=0)
        out["runs"].append({"case": "farthest-point", "positions": n_far, "subset": n, "total_s": t_far})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
