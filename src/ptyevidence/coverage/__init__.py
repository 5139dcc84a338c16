"""Scan coverage: how well a subset of scan positions spans its source scan.

Public entry points for the coverage metrics, their plots and reports; the maths
lives in :mod:`ptyevidence.coverage.metrics`, the drawing in
:mod:`ptyevidence.coverage.plots`, finding a fixture's source indices in
:mod:`ptyevidence.coverage.matching`, and the reports of a dataset file
(what ``ptyevidence coverage`` prints) in :mod:`ptyevidence.coverage.reports`.

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

from .matching import (
    ScanPositions,
    Subset,
    match_positions,
    match_subset,
    read_positions,
    subset_from_sidecar,
)
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
from .reports import (
    ScanReport,
    StrategiesReport,
    SubsetReport,
    scan_report,
    strategies_report,
    subset_report,
)

__all__ = [
    "CoverageMetrics",
    "OccupancyGrid",
    "ScanPositions",
    "ScanReport",
    "ScanStats",
    "StrategiesReport",
    "Subset",
    "SubsetReport",
    "compare_strategies",
    "compare_subsets",
    "default_cell_size",
    "describe_scan",
    "match_positions",
    "match_subset",
    "nearest_neighbour_distances",
    "occupancy_grid",
    "plot_occupancy",
    "plot_scan_coverage",
    "plot_strategy_comparison",
    "read_positions",
    "save_figure",
    "scan_coverage",
    "scan_report",
    "select_strategy_subsets",
    "strategies_report",
    "subset_from_sidecar",
    "subset_report",
]
