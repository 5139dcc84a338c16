"""Reading coverage: the occupancy ceiling, the reference criterion, the best strategy."""

from __future__ import annotations

import numpy as np
import pytest

from ptyevidence.coverage import compare_strategies, scan_coverage
from ptyevidence.coverage.judge import (
    BEST_CRITERION,
    best_strategy,
    coverage_lines,
    meets_reference,
    reference_criterion,
)


def grid(side: int) -> tuple[np.ndarray, np.ndarray]:
    gy, gx = np.divmod(np.arange(side * side), side)
    return gx.astype(float), gy.astype(float)


def test_occupancy_ceiling_is_positions_over_occupied_cells_at_most_one():
    x, y = grid(10)
    few = scan_coverage(x, y, np.arange(0, 100, 10), cell_size=1.0)  # 10 positions, 100 cells
    assert few.occupancy_ceiling == pytest.approx(10 / 100)
    assert few.occupancy <= few.occupancy_ceiling
    many = scan_coverage(x, y, np.arange(50), cell_size=5.0)  # 50 positions, 4 cells
    assert many.n_source_cells == 4
    assert many.occupancy_ceiling == 1.0
    # The ceiling is derived, not stored: the sidecar's coverage block keeps its keys.
    assert "occupancy_ceiling" not in few.to_dict()


def test_two_far_corners_meet_the_reference_criterion_without_covering():
    x, y = grid(10)
    corners = scan_coverage(x, y, [0, 99], cell_size=1.0)
    assert meets_reference(corners)
    assert corners.occupancy < 0.05
    left = scan_coverage(x, y, [0, 10, 20], cell_size=1.0)  # one column: no x range
    assert not meets_reference(left)
    assert meets_reference(left, min_range_ratio=-1.0)
    assert reference_criterion(0.8) == "x and y range ratios > 0.8"


def test_best_strategy_has_the_smallest_largest_gap():
    x, y = grid(12)
    rows = compare_strategies(x, y, 16)
    best = best_strategy(rows)
    gaps = {name: m.largest_gap for name, m in rows}
    assert gaps[best] == min(gaps.values())
    assert "smallest largest gap" in BEST_CRITERION


def test_best_strategy_breaks_a_gap_tie_by_occupancy():
    x, y = np.arange(5.0), np.zeros(5)
    # The middle alone and the two ends both leave a gap of 2; the ends occupy two cells.
    a = scan_coverage(x, y, [2], cell_size=1.0)
    b = scan_coverage(x, y, [0, 4], cell_size=1.0)
    assert a.largest_gap == pytest.approx(b.largest_gap)
    assert best_strategy([("a", a), ("b", b)]) == "b"


def test_coverage_lines_state_the_ceiling_and_the_gap_in_probe_diameters():
    x, y = grid(10)
    m = scan_coverage(x, y, np.arange(0, 100, 7), probe_diameter=4.0)
    lines = coverage_lines(m)
    assert lines[0].startswith("reference criterion (x and y range ratios > 0.5): met")
    assert f"occupancy {m.occupancy:.2f} of at most {m.occupancy_ceiling:.2f}" in lines[1]
    assert lines[2] == (f"largest gap {m.largest_gap:.3g} px = {m.largest_gap / 4:.2f} probe diameters (4 px)")
    assert lines[3].startswith("overlap of neighbouring probes")
    assert len(coverage_lines(scan_coverage(x, y, np.arange(0, 100, 7)), units="m")) == 3
