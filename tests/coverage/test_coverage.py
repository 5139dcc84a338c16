"""Coverage metrics on layouts whose answers can be worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from ptyevidence.coverage import (
    CoverageMetrics,
    compare_strategies,
    compare_subsets,
    default_cell_size,
    describe_scan,
    nearest_neighbour_distances,
    occupancy_grid,
    scan_coverage,
)
from ptyevidence.exceptions import InputError, UsageError
from ptyevidence.fixture.strategies import STRATEGIES


def regular_grid(side: int, step: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """``side x side`` raster, row-major (index = row * side + col), x = col * step."""
    gy, gx = np.divmod(np.arange(side * side), side)
    return gx * step, gy * step


def corner_blocks(side: int = 8) -> np.ndarray:
    """Indices of the 2 x 2 block in each corner of a ``side x side`` raster (16 positions)."""
    rows = cols = [0, 1, side - 2, side - 1]
    return np.array(sorted(r * side + c for r in rows for c in cols))


def test_full_grid_subset_covers_everything():
    x, y = regular_grid(6, step=2.0)
    m = scan_coverage(x, y, np.arange(36))
    assert (m.n_source, m.n_subset) == (36, 36)
    assert_allclose([m.x_range_ratio, m.y_range_ratio, m.occupancy, m.hull_area_ratio], 1.0, rtol=0, atol=1e-12)
    assert_allclose([m.largest_gap, m.gap_p95], 0.0, atol=0)
    # 5 x 5 steps of 2 px: hull area 100 px^2; every neighbour 2 px away.
    assert_allclose([m.source_hull_area, m.subset_hull_area], 100.0, rtol=1e-12)
    assert_allclose([m.source_nn_median, m.subset_nn_median, m.source_nn_p95], 2.0, rtol=1e-12)


def test_corner_subset_passes_the_range_criterion_but_fails_occupancy():
    x, y = regular_grid(8)
    m = scan_coverage(x, y, corner_blocks(8))
    # Range and hull criteria are fooled: the corners span the whole square.
    assert_allclose([m.x_range_ratio, m.y_range_ratio, m.hull_area_ratio], 1.0, rtol=1e-12)
    assert min(m.x_range_ratio, m.y_range_ratio) > 0.5
    # Default cells: nn 1 px * sqrt(64 / 16) = 2 px, so 4 x 4 cells of 2 x 2
    # positions each; the corner blocks fill the 4 corner cells only: 4 / 16.
    assert_allclose(m.cell_size, 2.0, rtol=1e-12)
    assert (m.n_source_cells, m.n_subset_cells) == (16, 4)
    assert_allclose(m.occupancy, 0.25, rtol=1e-12)
    # The middle positions (3, 3), (3, 4)... are 2 px from a block in x and y.
    assert_allclose(m.largest_gap, 2 * math.sqrt(2), rtol=1e-12)


def test_occupancy_grid_matches_a_hand_count():
    x, y = regular_grid(8)
    grid = occupancy_grid(x, y, corner_blocks(8), cell_size=2.0)
    assert grid.source_counts.shape == (4, 4)
    assert (grid.source_counts == 4).all()
    expected = np.zeros((4, 4), dtype=np.int64)
    expected[[0, 0, 3, 3], [0, 3, 0, 3]] = 4
    np.testing.assert_array_equal(grid.subset_counts, expected)
    assert grid.extent == (-0.5, 7.5, -0.5, 7.5)
    assert_allclose(grid.occupancy, 0.25, rtol=0, atol=0)


def test_four_corners_on_unit_cells_occupy_four_of_sixty_four():
    x, y = regular_grid(8)
    m = scan_coverage(x, y, [0, 7, 56, 63], cell_size=1.0)
    assert (m.n_source_cells, m.n_subset_cells) == (64, 4)
    assert_allclose(m.occupancy, 4 / 64, rtol=1e-12)
    assert_allclose([m.x_range_ratio, m.y_range_ratio, m.hull_area_ratio], 1.0, rtol=1e-12)


LINES = [
    pytest.param(1.0, 0.0, id="along-x"),
    pytest.param(0.0, 1.0, id="along-y"),
    pytest.param(0.6, 0.8, id="diagonal"),
]


@pytest.mark.parametrize(("ux", "uy"), LINES)
def test_line_scan_compares_segment_lengths_instead_of_areas(ux, uy):
    t = np.arange(20.0)
    x, y = 5.0 + ux * t, -3.0 + uy * t
    m = scan_coverage(x, y, np.arange(10))
    assert (m.source_hull_area, m.subset_hull_area) == (0.0, 0.0)
    assert_allclose(m.hull_area_ratio, 9 / 19, rtol=1e-9)
    ends = scan_coverage(x, y, [0, 5, 10, 19])
    assert_allclose(ends.hull_area_ratio, 1.0, rtol=1e-9)
    # Between 10 and 19 the farthest positions (14, 15) are 4 steps from the subset.
    assert_allclose(ends.largest_gap, 4.0, rtol=1e-9)


def test_line_scan_default_cells_follow_the_line_spacing():
    x, y = np.arange(20.0), np.zeros(20)
    m = scan_coverage(x, y, [0, 5, 10, 15])
    # A well-spread 4 of 20 on a line is 5 steps apart, not sqrt(5).
    assert_allclose(m.cell_size, 5.0, rtol=1e-12)
    assert_allclose(m.occupancy, 1.0, rtol=0)
    assert_allclose(m.y_range_ratio, 1.0, rtol=0)  # no y range: the criterion is moot


def test_coincident_positions_do_not_crash():
    x, y = np.full(5, 3.0), np.full(5, 4.0)
    m = scan_coverage(x, y, [1, 2])
    assert_allclose([m.x_range_ratio, m.y_range_ratio, m.hull_area_ratio, m.occupancy], 1.0, rtol=0)
    assert m.largest_gap == 0.0
    assert describe_scan(x, y).n_duplicates == 5


def test_largest_gap_and_spacing_match_brute_force():
    rng = np.random.default_rng(7)
    x, y = rng.uniform(0, 50, 300), rng.uniform(-20, 10, 300)
    idx = rng.choice(300, size=23, replace=False)
    m = scan_coverage(x, y, idx)
    # Independent route: full distance matrices, no tree.
    d = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    gaps = d[:, idx].min(axis=1)
    assert_allclose(m.largest_gap, gaps.max(), rtol=1e-12)
    assert_allclose(m.gap_p95, np.percentile(gaps, 95), rtol=1e-12)
    np.fill_diagonal(d, np.inf)
    assert_allclose(m.source_nn_median, np.median(d.min(axis=1)), rtol=1e-12)
    sub = d[np.ix_(idx, idx)]
    assert_allclose(m.subset_nn_median, np.median(sub.min(axis=1)), rtol=1e-12)
    assert_allclose(m.subset_nn_p95, np.percentile(sub.min(axis=1), 95), rtol=1e-12)


def test_hull_area_of_a_triangle_subset():
    x, y = regular_grid(5)  # hull 4 x 4 = 16
    m = scan_coverage(x, y, [0, 4, 20])  # (0,0), (4,0), (0,4): area 8
    assert_allclose(m.subset_hull_area, 8.0, rtol=1e-12)
    assert_allclose(m.hull_area_ratio, 0.5, rtol=1e-12)


def test_metrics_do_not_depend_on_index_order():
    rng = np.random.default_rng(3)
    x, y = rng.uniform(0, 10, 200), rng.uniform(0, 10, 200)
    idx = rng.choice(200, 30, replace=False)
    assert scan_coverage(x, y, idx) == scan_coverage(x, y, idx[::-1])


def test_lengths_scale_with_the_positions_and_ratios_do_not():
    rng = np.random.default_rng(4)
    x, y = rng.uniform(0, 10, 150), rng.uniform(0, 10, 150)
    idx = rng.choice(150, 20, replace=False)
    a, b = scan_coverage(x, y, idx), scan_coverage(3.0 * x, 3.0 * y, idx)
    for name in ("x_range_ratio", "y_range_ratio", "occupancy", "hull_area_ratio"):
        assert_allclose(getattr(b, name), getattr(a, name), rtol=1e-9)
    for name in ("cell_size", "largest_gap", "source_nn_median", "subset_nn_p95"):
        assert_allclose(getattr(b, name), 3.0 * getattr(a, name), rtol=1e-9)
    assert_allclose(b.source_hull_area, 9.0 * a.source_hull_area, rtol=1e-9)


def test_probe_diameter_adds_linear_overlap():
    x, y = regular_grid(6, step=2.0)
    m = scan_coverage(x, y, np.arange(0, 36, 2), probe_diameter=8.0)
    # Source neighbours 2 px apart under an 8 px probe: 1 - 2/8.
    assert_allclose(m.source_overlap_ratio, 0.75, rtol=1e-12)
    assert_allclose(m.overlap_ratio, 1 - m.subset_nn_median / 8.0, rtol=1e-12)
    assert {"probe_diameter", "overlap_ratio", "source_overlap_ratio"} <= set(m.to_dict())
    assert "overlap_ratio" not in scan_coverage(x, y, [0, 1]).to_dict()


def test_to_dict_is_json_ready_with_none_for_undefined_spacing():
    x, y = regular_grid(4)
    d = scan_coverage(x, y, [5]).to_dict()
    assert d["subset_nn_median"] is None
    assert d["subset_nn_p95"] is None
    assert all(isinstance(v, (int, float)) or v is None for v in d.values())


def test_from_dict_reads_back_to_dict():
    x, y = regular_grid(6, step=2.0)
    m = scan_coverage(x, y, np.arange(0, 36, 2), probe_diameter=8.0)
    assert CoverageMetrics.from_dict(m.to_dict()) == m
    single = CoverageMetrics.from_dict(scan_coverage(x, y, [5]).to_dict())
    assert np.isnan(single.subset_nn_median)
    assert single.probe_diameter is None


def test_occupancy_grid_agrees_with_scan_coverage():
    rng = np.random.default_rng(11)
    x, y = rng.normal(0, 5, 500), rng.normal(0, 2, 500)
    idx = rng.choice(500, 40, replace=False)
    m = scan_coverage(x, y, idx)
    grid = occupancy_grid(x, y, idx, m.cell_size)
    assert grid.source_counts.sum() == 500
    assert grid.subset_counts.sum() == 40
    assert np.count_nonzero(grid.source_counts) == m.n_source_cells
    assert np.count_nonzero(grid.subset_counts) == m.n_subset_cells
    assert_allclose(grid.occupancy, m.occupancy, rtol=0)


def test_default_cell_size_ignores_duplicates():
    x, y = regular_grid(10)
    x2, y2 = np.concatenate([x, x[:10]]), np.concatenate([y, y[:10]])
    # nn median over positive spacings only (1 px), times sqrt(110 / 10).
    assert_allclose(default_cell_size(x2, y2, 10), math.sqrt(11.0), rtol=1e-12)


def test_compare_strategies_returns_every_strategy_on_the_same_cells():
    x, y = regular_grid(12)
    rows = compare_strategies(x, y, 16, seed=2)
    assert [name for name, _ in rows] == list(STRATEGIES)
    assert {m.n_subset for _, m in rows} == {16}
    assert len({m.cell_size for _, m in rows}) == 1
    assert all(0 < m.occupancy <= 1 for _, m in rows)


def test_compare_subsets_matches_scan_coverage_per_subset():
    x, y = regular_grid(8)
    subsets = {"corners": corner_blocks(8), "left": np.arange(0, 64, 8)}
    rows = dict(compare_subsets(x, y, subsets, cell_size=2.0))
    for name, idx in subsets.items():
        assert rows[name] == scan_coverage(x, y, idx, cell_size=2.0)


def test_nearest_neighbour_distances_of_a_single_position_is_empty():
    assert nearest_neighbour_distances(np.array([1.0]), np.array([2.0])).size == 0


BAD_INDICES = [
    pytest.param([0, 16], "out of range", id="out-of-range"),
    pytest.param([-1, 3], "out of range", id="negative"),
    pytest.param([2, 2], "more than once", id="repeated"),
    pytest.param([], "non-empty", id="empty"),
    pytest.param([0.0, 1.0], "integers", id="float"),
]


@pytest.mark.parametrize(("indices", "match"), BAD_INDICES)
def test_bad_indices_are_usage_errors(indices, match):
    x, y = regular_grid(4)
    with pytest.raises(UsageError, match=match):
        scan_coverage(x, y, np.asarray(indices))


BAD_POSITIONS = [
    pytest.param(np.zeros(3), np.zeros(4), "equal length", id="length"),
    pytest.param(np.zeros((2, 2)), np.zeros((2, 2)), "1-D", id="2d"),
    pytest.param(np.array([0.0, np.nan]), np.zeros(2), "non-finite", id="nan"),
    pytest.param(np.zeros(1), np.zeros(1), "at least 2", id="single"),
]


@pytest.mark.parametrize(("x", "y", "match"), BAD_POSITIONS)
def test_bad_positions_are_input_errors(x, y, match):
    with pytest.raises(InputError, match=match):
        scan_coverage(x, y, [0])


@pytest.mark.parametrize("value", [0.0, -1.0, np.inf, np.nan])
def test_cell_size_and_probe_must_be_positive_lengths(value):
    x, y = regular_grid(4)
    with pytest.raises(UsageError, match="cell_size"):
        scan_coverage(x, y, [0, 5], cell_size=value)
    with pytest.raises(UsageError, match="probe_diameter"):
        scan_coverage(x, y, [0, 5], probe_diameter=value)


def test_tiny_cells_are_refused_instead_of_exhausting_memory():
    x, y = np.array([0.0, 1e12]), np.array([0.0, 1e12])
    with pytest.raises(UsageError, match="too small"):
        scan_coverage(x, y, [0], cell_size=1e-9)


# -- large sources: sampled spacing; SciPy loaded on first use ---------------------


def test_spacing_of_a_large_source_comes_from_an_even_sample(monkeypatch):
    from ptyevidence.coverage import metrics as _coverage

    rng = np.random.default_rng(5)
    x, y = rng.uniform(0, 100, 4000), rng.uniform(0, 100, 4000)
    exact = scan_coverage(x, y, np.arange(0, 4000, 50))
    assert "source_nn_sample" not in exact.to_dict()
    monkeypatch.setattr(_coverage, "NN_SAMPLE_SIZE", 500)
    sampled = scan_coverage(x, y, np.arange(0, 4000, 50))
    assert sampled.source_nn_sample == 500
    assert sampled.to_dict()["source_nn_sample"] == 500
    # Each sampled distance is exact (against every position), so the statistics
    # estimate the full ones closely; nothing that does not use the spacing moves.
    assert sampled.source_nn_median == pytest.approx(exact.source_nn_median, rel=0.1)
    assert sampled.source_nn_p95 == pytest.approx(exact.source_nn_p95, rel=0.1)
    for name in ("x_range_ratio", "y_range_ratio", "hull_area_ratio", "largest_gap", "gap_p95", "subset_nn_median"):
        assert getattr(sampled, name) == getattr(exact, name), name
    indices = _coverage._spacing_sample(4000)
    assert indices[0] == 0
    assert indices[-1] == 3999
    assert np.all(np.diff(indices) >= 1)


def test_sampled_spacing_of_a_raster_is_the_raster_step(monkeypatch):
    from ptyevidence.coverage import metrics as _coverage

    monkeypatch.setattr(_coverage, "NN_SAMPLE_SIZE", 100)
    x, y = regular_grid(40, step=3.0)
    m = scan_coverage(x, y, np.arange(0, 1600, 40))
    assert m.source_nn_sample == 100
    assert (m.source_nn_median, m.source_nn_p95) == (3.0, 3.0)


def test_scipy_loads_only_when_the_metrics_run():
    """SciPy's import alone takes ~0.3 s: importing the package or building the CLI skips it."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "def loaded(): return sorted(m for m in sys.modules if m.split('.')[0] == 'scipy')\n"
        "import ptyevidence, ptyevidence.coverage, ptyevidence.fixture\n"
        "from ptyevidence.cli import build_parser\n"
        "build_parser()\n"
        "print(loaded())\n"
        "import numpy as np\n"
        "x, y = np.random.default_rng(0).random((2, 50))\n"
        "ptyevidence.coverage.describe_scan(x, y)\n"
        "print('scipy.spatial' in loaded())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[]", "True"]
