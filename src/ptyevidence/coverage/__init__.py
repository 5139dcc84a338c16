"""Scan coverage: how well a subset of scan positions spans its source scan.

Modules: ``metrics`` (the maths), ``judge`` (what they mean), ``probe`` (its
diameter), ``plots``, ``explore`` (the notebook widget), ``matching`` (a
fixture's source indices) and ``reports`` (what ``ptyevidence coverage`` prints).

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

from .explore import CoverageExplorer, ExplorerView
from .judge import BEST_CRITERION, best_strategy, coverage_lines, meets_reference
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
from .plots import figure_png, plot_occupancy, plot_scan_coverage, plot_strategy_comparison, save_figure
from .probe import ProbeSize, measure_probe
from .reports import ScanReport, StrategiesReport, SubsetReport, scan_report, strategies_report, subset_report

__all__ = [
    "BEST_CRITERION",
    "CoverageExplorer",
    "CoverageMetrics",
    "ExplorerView",
    "OccupancyGrid",
    "ProbeSize",
    "ScanPositions",
    "ScanReport",
    "ScanStats",
    "StrategiesReport",
    "Subset",
    "SubsetReport",
    "best_strategy",
    "compare_strategies",
    "compare_subsets",
    "coverage_lines",
    "default_cell_size",
    "describe_scan",
    "figure_png",
    "match_positions",
    "match_subset",
    "measure_probe",
    "meets_reference",
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
