"""Subset strategies: stratified-index formula, grid spread, farthest-point order."""

from __future__ import annotations

import numpy as np
import pytest

from ptyevidence import _subset
from ptyevidence._subset import STRATEGIES, farthest_point_order, select_indices
from ptyevidence.exceptions import InputError, UsageError


def _full_grid(side: int, step: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    gx, gy = np.meshgrid(np.arange(side) * step, np.arange(side) * step)
    return gx.ravel(), gy.ravel()


def _layouts() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(3)
    t = np.linspace(0, 12 * np.pi, 500)
    return {
        "uniform": (rng.uniform(0, 50, 400), rng.uniform(0, 30, 400)),
        "full-grid": _full_grid(20),
        "line": (np.linspace(0, 99, 300), np.full(300, 5.0)),
        "vertical-line": (np.full(300, 5.0), np.linspace(0, 99, 300)),
        "spiral": (t * np.cos(t), t * np.sin(t)),
        "duplicates": (np.repeat(np.arange(5.0), 40), np.zeros(200)),
        "all-identical": (np.ones(100), np.ones(100)),
    }


LAYOUTS = _layouts()


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_every_strategy_returns_n_distinct_sorted_indices(layout, strategy):
    x, y = LAYOUTS[layout]
    for n in (1, 16, 37, x.size):
        idx = select_indices(x, y, n, strategy)
        assert idx.dtype == np.int64
        assert idx.size == n
        assert np.unique(idx).size == n
        assert np.all(np.diff(idx) > 0)
        assert idx.min() >= 0
        assert idx.max() < x.size


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_is_deterministic(strategy):
    x, y = LAYOUTS["uniform"]
    first = select_indices(x, y, 40, strategy, seed=7)
    again = select_indices(x.copy(), y.copy(), 40, strategy, seed=7)
    np.testing.assert_array_equal(first, again)


@pytest.mark.parametrize(("n_source", "n"), [(1087, 64), (40, 16), (100, 100), (10**7 + 3, 977)])
def test_stratified_index_equals_the_reference_formula(n_source, n):
    x = np.zeros(n_source)
    expected = [int(i * n_source / n) for i in range(n)]
    assert select_indices(x, x, n).tolist() == expected


def test_stratified_index_ignores_positions_even_when_not_finite():
    x = np.full(50, np.nan)
    assert select_indices(x, x, 16).tolist() == [int(i * 50 / 16) for i in range(16)]


def test_grid_on_a_full_regular_grid_takes_one_position_per_block():
    x, y = _full_grid(32)
    idx = select_indices(x, y, 64, "grid")
    blocks = {(int(a) // 4, int(b) // 4) for a, b in zip(x[idx], y[idx])}
    assert len(blocks) == 64  # an 8 x 8 grid of 4 x 4 blocks, each hit once


def test_grid_spreads_over_the_area_where_acquisition_order_does_not():
    rng = np.random.default_rng(5)
    # 900 positions packed in one corner, acquired first, then 100 over the whole area.
    x = np.r_[rng.uniform(0, 1, 900), rng.uniform(0, 10, 100)]
    y = np.r_[rng.uniform(0, 1, 900), rng.uniform(0, 10, 100)]
    outside = (x > 1) | (y > 1)
    grid = select_indices(x, y, 32, "grid")
    stratified = select_indices(x, y, 32, "stratified-index")
    assert outside[grid].mean() > 0.75
    assert outside[stratified].mean() < 0.25


def test_farthest_point_starts_at_the_seeded_position():
    x, y = LAYOUTS["uniform"]
    for seed in (0, 1, 2):
        start = np.random.default_rng(seed).integers(x.size)
        assert farthest_point_order(x, y, 5, seed)[0] == start


def test_farthest_point_second_pick_on_a_line_is_the_far_end():
    x = np.arange(100.0)
    for seed in range(5):
        start, second = farthest_point_order(x, np.zeros(100), 2, seed)
        assert second == (0 if start >= 50 else 99)


def test_farthest_point_each_pick_maximizes_the_distance_to_earlier_picks():
    x, y = LAYOUTS["uniform"]
    order = farthest_point_order(x, y, 12, seed=4)
    pts = np.column_stack([x, y])
    for k in range(1, order.size):
        # Brute force: distance of every position to its nearest earlier pick.
        d = np.linalg.norm(pts[:, None, :] - pts[None, order[:k], :], axis=2).min(axis=1)
        assert d[order[k]] == pytest.approx(d.max())


def test_farthest_point_second_pick_on_a_square_is_the_opposite_corner():
    x, y = _full_grid(11)
    for seed in range(5):
        start, second = farthest_point_order(x, y, 2, seed)
        far_x = 0.0 if x[start] > 5 else 10.0
        far_y = 0.0 if y[start] > 5 else 10.0
        if x[start] != 5 and y[start] != 5:  # the centre lines tie between two corners
            assert (x[second], y[second]) == (far_x, far_y)
        assert x[second] in (0.0, 10.0)
        assert y[second] in (0.0, 10.0)


def test_farthest_point_refuses_work_over_the_bound(monkeypatch):
    monkeypatch.setattr(_subset, "FARTHEST_POINT_MAX_EVALUATIONS", 1000)
    x, y = LAYOUTS["uniform"]
    with pytest.raises(UsageError, match="grid"):
        select_indices(x, y, 16, "farthest-point")


@pytest.mark.parametrize("strategy", ["grid", "farthest-point"])
def test_spatial_strategies_refuse_non_finite_positions(strategy):
    x = np.arange(30.0)
    x[7] = np.inf
    with pytest.raises(InputError, match="index 7"):
        select_indices(x, np.zeros(30), 16, strategy)


@pytest.mark.parametrize("n", [0, -1, 31, 2.5, True])
def test_subset_size_out_of_range_or_not_integer_is_refused(n):
    with pytest.raises(UsageError, match="subset size"):
        select_indices(np.arange(30.0), np.zeros(30), n)


def test_unknown_strategy_names_the_choices():
    with pytest.raises(UsageError, match="stratified-index, grid, farthest-point"):
        select_indices(np.arange(30.0), np.zeros(30), 16, "random")


def test_positions_of_unequal_length_are_refused():
    with pytest.raises(InputError, match="equal length"):
        select_indices(np.arange(30.0), np.zeros(29), 16)
