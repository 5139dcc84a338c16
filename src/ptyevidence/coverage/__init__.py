"""Scan coverage: how well a subset of scan positions spans its source scan.

Public entry points for the coverage metrics and their plots; the maths lives
in :mod:`ptyevidence.coverage.metrics`, the drawing in :mod:`ptyevidence.coverage.plots`.

Examples
--------
>>> import numpy as np
>>> from ptyevidence.coverage import scan_coverage
>>> gx, gy = np.meshgrid(np.arange(4.0), np.arange(4.0))
>>> m = scan_coverage(gx.ravel(), gy.ravel(), np.arange(16))
>>> m.occupancy, m.hull_area_ratio, m.largest_gap
(1.0, 1.0, 0.0)
"""

from __future__ import annotations

from .metrics import (
    CoverageMetrics,
    OccupancyGrid,
    ScanStats,
    compare_strategies,
    compare_subsets,
    default_cell_size,
    describe_scan,
    nearest_neighbour_distances,
    occupancy_grid,
    scan_coverage,
    select_strategy_subsets,
)
from .plots import (
    plot_occupancy,
    plot_scan_coverage,
    plot_strategy_comparison,
    save_figure,
)

__all__ = [
    "CoverageMetrics",
    "OccupancyGrid",
    "ScanStats",
    "compare_strategies",
    "compare_subsets",
    "default_cell_size",
    "describe_scan",
    "nearest_neighbour_distances",
    "occupancy_grid",
    "plot_occupancy",
    "plot_scan_coverage",
    "plot_strategy_comparison",
    "save_figure",
    "scan_coverage",
    "select_strategy_subsets",
]
