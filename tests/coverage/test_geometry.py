"""The geometry inside the coverage metrics: hull areas and nearest distances against oracles.

The oracles are full distance matrices and, for the hull, a gift-wrapping
march in exact rational arithmetic (or the analytic area of the layout).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import numpy.testing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ptyevidence.coverage import (
    describe_scan,
    nearest_neighbour_distances,
    scan_coverage,
)

SETTINGS = settings(max_examples=60, deadline=None)


def spiral(n: int, step: float = 2.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Jittered Fermat spiral, as ptychography scans use."""
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    r = step / math.sqrt(math.pi) * np.sqrt(i + 0.5)
    a = i * math.pi * (3 - math.sqrt(5))
    jitter = rng.uniform(-0.1, 0.1, (2, n)) * step
    return 100.0 + r * np.cos(a) + jitter[0], -50.0 + r * np.sin(a) + jitter[1]


def raster(nx: int, ny: int, pitch: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    gx, gy = np.meshgrid(np.arange(nx) * pitch, np.arange(ny) * pitch)
    return gx.ravel(), gy.ravel()


def hull_area(x: np.ndarray, y: np.ndarray) -> float:
    return describe_scan(x, y).hull_area


def brute_nearest(qx, qy, tx, ty, exclude_self: bool = False) -> np.ndarray:
    """Full distance matrix: each query's distance to its nearest target."""
    d2 = (tx[None, :] - qx[:, None]) ** 2 + (ty[None, :] - qy[:, None]) ** 2
    if exclude_self:
        np.fill_diagonal(d2, np.inf)
    return np.sqrt(d2.min(axis=1))


def brute_gaps(x, y, idx) -> np.ndarray:
    return brute_nearest(x, y, x[idx], y[idx])


def assert_gaps(x, y, idx) -> None:
    """largest_gap and gap_p95 of the subset ``idx`` equal the full distance matrix's."""
    m = scan_coverage(x, y, idx)
    gaps = brute_gaps(x, y, np.asarray(idx))
    npt.assert_allclose(m.largest_gap, gaps.max(), rtol=1e-15, atol=0)
    npt.assert_allclose(m.gap_p95, np.percentile(gaps, 95), rtol=1e-12, atol=0)


def exact_hull_area(points: list[tuple]) -> float | Fraction:
    """Monotone chain in integer or rational arithmetic: the area with no rounding at all."""
    pts = sorted(set(points))
    if len(pts) < 3:
        return 0.0

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    def half(seq):
        out = []
        for p in seq:
            while len(out) >= 2 and cross(out[-2], out[-1], p) <= 0:
                out.pop()
            out.append(p)
        return out[:-1]

    hull = half(pts) + half(reversed(pts))
    twice = sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(hull, hull[1:] + hull[:1]))
    return abs(twice) / 2  # a Fraction stays exact


def exact_area_of(x: np.ndarray, y: np.ndarray) -> float:
    """Exact hull area of float coordinates: scaled to integers (floats are dyadic), then exact."""
    values = [Fraction(v) for v in np.r_[x, y].tolist()]
    scale = max(v.denominator for v in values)
    ints = [int(v * scale) for v in values]
    points = list(zip(ints[: x.size], ints[x.size :]))
    return float(Fraction(exact_hull_area(points)) / (scale * scale))


# --------------------------------------------------------------------------- hull


@pytest.mark.parametrize("n", [3, 10, 1000, 50_000])
def test_hull_of_uniform_points_is_exact(n):
    rng = np.random.default_rng(n)
    x, y = rng.uniform(-3, 7, n), rng.uniform(10, 11, n)
    npt.assert_allclose(hull_area(x, y), exact_area_of(x, y), rtol=1e-12)


@pytest.mark.parametrize("n", [100, 100_000])
def test_hull_of_spiral_is_exact(n):
    x, y = spiral(n)
    npt.assert_allclose(hull_area(x, y), exact_area_of(x, y), rtol=1e-12)


def test_hull_of_raster_with_ties():
    x, y = raster(300, 200, pitch=0.5)
    npt.assert_allclose(hull_area(x, y), 149.5 * 99.5, rtol=1e-14)


def test_hull_of_points_on_a_circle_keeps_every_vertex():
    # Worst case: (nearly) every point is a vertex.
    a = np.random.default_rng(1).uniform(0, 2 * np.pi, 3000)
    x, y = 5.0 + 2.0 * np.cos(a), -1.0 + 2.0 * np.sin(a)
    npt.assert_allclose(hull_area(x, y), exact_area_of(x, y), rtol=1e-12)


def test_hull_keeps_precision_at_large_offsets():
    # Positions near 1e6 with 1e-3 spacing: only centred arithmetic resolves them.
    x, y = raster(101, 51, pitch=1e-3)
    rng = np.random.default_rng(2)
    x, y = (
        1e6 + x + rng.uniform(0, 1e-5, x.size),
        2e6 + y + rng.uniform(0, 1e-5, y.size),
    )
    npt.assert_allclose(hull_area(x, y), exact_area_of(x, y), rtol=1e-9)
    npt.assert_allclose(hull_area(x, y), 0.1 * 0.05, rtol=1e-3)
    corners = np.r_[0, 100, 50 * 101, 51 * 101 - 1]
    inner = np.setdiff1d(np.arange(x.size), corners)
    assert scan_coverage(x, y, inner).hull_area_ratio < 1.0


@pytest.mark.parametrize("angle", [0.0, 0.3, np.pi / 2, 2.0])
def test_hull_of_a_thin_strip_at_any_angle(angle):
    # 1e4 long and 1e-4 wide (well above the line-scan tolerance), tilted.
    rng = np.random.default_rng(3)
    u = np.r_[0.0, 1e4, 0.0, 1e4, rng.uniform(0, 1e4, 5000)]
    v = np.r_[0.0, 0.0, 1e-4, 1e-4, rng.uniform(0, 1e-4, 5000)]
    c, s = math.cos(angle), math.sin(angle)
    x, y = c * u - s * v, s * u + c * v
    # Qhull's rounding, relative to the area, grows with length / width.
    npt.assert_allclose(hull_area(x, y), exact_area_of(x, y), rtol=1e-7)
    npt.assert_allclose(hull_area(x, y), 1.0, rtol=1e-7)


@pytest.mark.parametrize(
    ("x", "y"),
    [
        pytest.param([1.0, 3.0], [2.0, -1.0], id="two"),
        pytest.param([2.0] * 5, [3.0] * 5, id="coincident"),
        pytest.param(np.arange(50.0), np.zeros(50), id="horizontal"),
        pytest.param(np.full(50, 7.0), np.arange(50.0), id="vertical"),
        pytest.param(1e6 + 0.1 * np.arange(50.0), 3.0 + 0.3 * np.arange(50.0), id="diagonal"),
        pytest.param([0.0, 1.0, 1.0, 2.0], [0.0, 1.0, 1.0, 2.0], id="collinear-with-repeat"),
        pytest.param(np.arange(5.0), 2.0 * np.arange(5.0), id="slope-2"),
    ],
)
def test_degenerate_hulls_have_zero_area(x, y):
    x, y = np.asarray(x, float), np.asarray(y, float)
    assert hull_area(x, y) == 0.0
    m = scan_coverage(x, y, np.arange(x.size))
    assert (m.source_hull_area, m.subset_hull_area) == (0.0, 0.0)


@pytest.mark.parametrize("idx", [[4], [0, 24], [0, 6, 12]], ids=["one", "two", "collinear"])
def test_degenerate_subsets_have_zero_area(idx):
    x, y = raster(5, 5)
    m = scan_coverage(x, y, idx)
    assert m.subset_hull_area == 0.0
    assert m.hull_area_ratio == 0.0
    assert m.source_hull_area == 16.0


@pytest.mark.parametrize("slope", [0.0, 0.5])
def test_collinear_points_with_one_outlier(slope):
    # 100,001 points on a line and one just off it: the hull is a thin triangle.
    t = np.linspace(0.0, 1000.0, 100_001)
    x, y = np.r_[t, 500.0] - 10.0, np.r_[slope * t, 500.0 * slope + 1e-3] + 4.0
    height = y[-1] - (500.0 * slope + 4.0)  # 1e-3 as rounded at y = 4
    npt.assert_allclose(hull_area(x, y), 0.5 * 1000.0 * height, rtol=1e-9)


def test_hull_with_heavy_duplicates():
    rng = np.random.default_rng(4)
    px, py = rng.uniform(0, 1, 40), rng.uniform(0, 1, 40)
    x, y = np.repeat(px, 500), np.repeat(py, 500)
    npt.assert_allclose(hull_area(x, y), exact_area_of(px, py), rtol=1e-12)


def test_thin_hull_area():
    # A sliver 20 long and 1e-7 wide: the area terms cancel to 1 part in 1e8.
    rng = np.random.default_rng(14)
    t, w = rng.uniform(0, 20, 300), rng.uniform(0, 1e-7, 300)
    x, y = 70.0 + t, 21.0 + 0.3 * t + w
    npt.assert_allclose(hull_area(x, y), exact_area_of(x, y), rtol=1e-8)


@SETTINGS
@given(
    st.lists(st.tuples(st.integers(-6, 6), st.integers(-6, 6)), min_size=2, max_size=40),
    st.sampled_from([1.0, 0.125, 1e6]),
)
def test_hull_matches_exact_area_on_small_integer_sets(points, scale):
    # Small integer grids: many ties, repeats and collinear runs.
    x = np.array([p[0] for p in points], float) * scale
    y = np.array([p[1] for p in points], float) * scale
    expected = exact_hull_area(points) * scale * scale
    npt.assert_allclose(hull_area(x, y), expected, rtol=1e-12, atol=0)


# ------------------------------------------------------------- nearest neighbours


def test_nearest_other_of_uniform_points():
    rng = np.random.default_rng(5)
    x, y = rng.uniform(0, 10, 3000), rng.uniform(-5, 5, 3000)
    npt.assert_array_equal(nearest_neighbour_distances(x, y), brute_nearest(x, y, x, y, True))


def test_gaps_of_uniform_points():
    rng = np.random.default_rng(5)
    x, y = rng.uniform(0, 10, 3000), rng.uniform(-5, 5, 3000)
    assert_gaps(x, y, rng.choice(3000, 200, replace=False))


def test_nearest_other_on_a_spiral():
    x, y = spiral(5000)
    npt.assert_array_equal(nearest_neighbour_distances(x, y), brute_nearest(x, y, x, y, True))


def test_raster_ties_give_the_pitch_exactly():
    x, y = raster(120, 80, pitch=0.25)
    assert (nearest_neighbour_distances(x, y) == 0.25).all()
    # Every other column and row: the positions left out are 0.25 or 0.25 * sqrt(2) away.
    col, row = np.divmod(np.arange(x.size), 120)[::-1]
    m = scan_coverage(x, y, np.flatnonzero((col % 2 == 0) & (row % 2 == 0)))
    assert m.largest_gap == math.hypot(0.25, 0.25)


@pytest.mark.parametrize(("ux", "uy"), [(1.0, 0.0), (0.0, 1.0), (0.6, 0.8)])
def test_line_scans(ux, uy):
    t = np.sort(np.random.default_rng(6).uniform(0, 1000, 5000))
    x, y = 3.0 + ux * t, -2.0 + uy * t
    npt.assert_array_equal(nearest_neighbour_distances(x, y), brute_nearest(x, y, x, y, True))
    assert_gaps(x, y, np.arange(0, 5000, 7))


def test_heavy_duplicates_count_as_neighbours_at_zero():
    rng = np.random.default_rng(7)
    px, py = rng.uniform(0, 100, 300), rng.uniform(0, 100, 300)
    x, y = np.repeat(px, 40), np.repeat(py, 40)  # 40 exposures per position
    assert (nearest_neighbour_distances(x, y) == 0).all()
    assert describe_scan(x, y).n_duplicates == x.size
    # Once per position, the nearest other point is a different position.
    npt.assert_array_equal(nearest_neighbour_distances(px, py), brute_nearest(px, py, px, py, True))
    # A subset of one exposure per position leaves no gap.
    assert scan_coverage(x, y, np.arange(0, x.size, 40)).largest_gap == 0.0


def test_dense_clusters_and_a_fine_patch():
    rng = np.random.default_rng(8)
    centres = rng.uniform(0, 1000, (30, 2))
    cl = (centres[:, None, :] + rng.normal(0, 1e-4, (30, 100, 2))).reshape(-1, 2)
    gx, gy = raster(40, 40)
    patch = rng.uniform(20, 20.5, (1500, 2))
    for x, y in [
        (cl[:, 0], cl[:, 1]),
        (np.r_[gx, patch[:, 0]], np.r_[gy, patch[:, 1]]),
    ]:
        npt.assert_array_equal(nearest_neighbour_distances(x, y), brute_nearest(x, y, x, y, True))
        assert_gaps(x, y, np.arange(0, x.size, 13))


def test_single_position_subset_and_two_points():
    x, y = np.array([0.0, 3.0, -4.0]), np.array([0.0, 4.0, 0.0])
    m = scan_coverage(x, y, [0])
    assert (m.largest_gap, m.n_subset) == (5.0, 1)
    assert math.isnan(m.subset_nn_median)
    npt.assert_array_equal(nearest_neighbour_distances(x[1:], y[1:]), [math.hypot(7, 4)] * 2)
    npt.assert_array_equal(nearest_neighbour_distances(np.array([1.0, 4.0]), np.array([1.0, 5.0])), [5.0, 5.0])


def test_large_offsets_keep_full_precision():
    x, y = raster(50, 50, pitch=1e-3)
    rng = np.random.default_rng(9)
    x = 1e6 + x + rng.uniform(0, 1e-4, x.size)
    y = -3e6 + y + rng.uniform(0, 1e-4, y.size)
    got = nearest_neighbour_distances(x, y)
    npt.assert_array_equal(got, brute_nearest(x, y, x, y, True))
    assert 8e-4 < got.min()
    assert got.max() < 1.2e-3


def test_extreme_aspect_ratio():
    # 1e6 long and 1e-6 wide.
    rng = np.random.default_rng(10)
    x, y = rng.uniform(0, 1e6, 3000), rng.uniform(0, 1e-6, 3000)
    npt.assert_array_equal(nearest_neighbour_distances(x, y), brute_nearest(x, y, x, y, True))
    assert_gaps(x, y, np.arange(0, 3000, 11))


def test_subset_in_one_corner_of_the_scan():
    # Most positions lie far from a contiguous patch of the scan.
    x, y = spiral(6000)
    assert_gaps(x, y, np.arange(2000))
    assert_gaps(x, y, np.arange(5000, 6000))


@pytest.mark.parametrize("step", [1563, 100, 10])
def test_many_positions_per_subset_position(step):
    x, y = spiral(20_000)
    assert_gaps(x, y, np.arange(0, 20_000, step))


@SETTINGS
@given(st.integers(2, 60), st.integers(0, 2**32 - 1), st.sampled_from([1.0, 1e-3, 1e5]))
def test_nearest_matches_brute_force_on_small_sets(n, seed, scale):
    # Small integer grids: ties and repeats everywhere.
    rng = np.random.default_rng(seed)
    x, y = rng.integers(-8, 9, (2, n)).astype(float) * scale
    npt.assert_array_equal(nearest_neighbour_distances(x, y), brute_nearest(x, y, x, y, True))
    idx = rng.choice(n, int(rng.integers(1, n + 1)), replace=False)
    assert_gaps(x, y, idx)
