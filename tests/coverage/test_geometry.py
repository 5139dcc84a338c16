"""Exact planar geometry without scipy: hull areas and nearest distances against oracles.

The oracles are scipy.spatial (ConvexHull, cKDTree), full distance matrices,
and for the hull a gift-wrapping march in exact integer arithmetic.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from fractions import Fraction

import numpy as np
import numpy.testing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial import ConvexHull, cKDTree

from ptyevidence.coverage import geometry as _geometry
from ptyevidence.coverage.geometry import convex_hull_area, nearest_distances

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


def scipy_area(x: np.ndarray, y: np.ndarray) -> float:
    return float(ConvexHull(np.column_stack([x - x.mean(), y - y.mean()])).volume)


def brute_nearest(qx, qy, tx, ty, exclude=None) -> np.ndarray:
    """Full distance matrix, with the same arithmetic as the module: exact comparisons."""
    d2 = (tx[None, :] - qx[:, None]) ** 2 + (ty[None, :] - qy[:, None]) ** 2
    if exclude is not None:
        rows = np.flatnonzero(exclude >= 0)
        d2[rows, exclude[rows]] = np.inf
    return np.sqrt(d2.min(axis=1)) if tx.size else np.full(qx.size, np.inf)


def kdtree_nearest(qx, qy, tx, ty, exclude=None) -> np.ndarray:
    """cKDTree's nearest, or its second nearest where the nearest is excluded."""
    tree = cKDTree(np.column_stack([tx, ty]))
    queries = np.column_stack([qx, qy])
    if exclude is None:
        return tree.query(queries)[0]
    d, i = tree.query(queries, k=2)
    return np.where(i[:, 0] == exclude, d[:, 1], d[:, 0])


@contextmanager
def every_path():
    """Thresholds at which small inputs go through every branch of the neighbour search.

    No all-pairs shortcut, crowded buckets from 9 targets on, clusters of 2
    queries: the grid, its coarse-to-fine descent, clusters and nested grids
    all run on inputs small enough for a full distance matrix.
    """
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_geometry, "_BRUTE_PAIRS", 0)
        mp.setattr(_geometry, "_FEW", 0)
        mp.setattr(_geometry, "_CROWDED", 8)
        mp.setattr(_geometry, "_CLUSTER_MIN", 2)
        mp.setattr(_geometry, "_DESCENT_PAIRS", 64)
        mp.setattr(_geometry, "_PAIRS", 256)
        yield


@pytest.fixture(params=["default", "every-path"])
def paths(request):
    if request.param == "default":
        yield
    else:
        with every_path():
            yield


# --------------------------------------------------------------------------- hull


@pytest.mark.parametrize("n", [3, 10, 1000, 200_000])
def test_hull_of_uniform_points_matches_qhull(n):
    rng = np.random.default_rng(n)
    x, y = rng.uniform(-3, 7, n), rng.uniform(10, 11, n)
    npt.assert_allclose(convex_hull_area(x, y), scipy_area(x, y), rtol=1e-12)


@pytest.mark.parametrize("n", [100, 100_000])
def test_hull_of_spiral_matches_qhull(n):
    x, y = spiral(n)
    npt.assert_allclose(convex_hull_area(x, y), scipy_area(x, y), rtol=1e-12)


def test_hull_of_raster_with_ties_is_exact():
    x, y = raster(300, 200, pitch=0.5)
    assert convex_hull_area(x, y) == 149.5 * 99.5


def test_hull_of_points_on_a_circle_keeps_every_vertex():
    # Worst case: no point can be discarded before the monotone chain.
    a = np.random.default_rng(1).uniform(0, 2 * np.pi, 3000)
    x, y = 5.0 + 2.0 * np.cos(a), -1.0 + 2.0 * np.sin(a)
    npt.assert_allclose(convex_hull_area(x, y), scipy_area(x, y), rtol=1e-12)


def test_hull_keeps_precision_at_large_offsets():
    # Positions near 1e6 with 1e-3 spacing: only centred arithmetic resolves them.
    x, y = raster(101, 51, pitch=1e-3)
    rng = np.random.default_rng(2)
    x, y = (
        1e6 + x + rng.uniform(0, 1e-5, x.size),
        2e6 + y + rng.uniform(0, 1e-5, y.size),
    )
    npt.assert_allclose(convex_hull_area(x, y), scipy_area(x, y), rtol=1e-9)
    npt.assert_allclose(convex_hull_area(x, y), 0.1 * 0.05, rtol=1e-3)


@pytest.mark.parametrize("angle", [0.0, 0.3, np.pi / 2, 2.0])
def test_hull_of_a_thin_strip_at_any_angle(angle):
    # 1e6 long and 1e-6 wide, tilted: whitening must still find interior points.
    rng = np.random.default_rng(3)
    u = np.r_[0.0, 1e6, 0.0, 1e6, rng.uniform(0, 1e6, 5000)]
    v = np.r_[0.0, 0.0, 1e-6, 1e-6, rng.uniform(0, 1e-6, 5000)]
    c, s = math.cos(angle), math.sin(angle)
    x, y = c * u - s * v, s * u + c * v
    npt.assert_allclose(convex_hull_area(x, y), 1.0, rtol=1e-3)


@pytest.mark.parametrize(
    ("x", "y"),
    [
        pytest.param([], [], id="empty"),
        pytest.param([1.0], [2.0], id="one"),
        pytest.param([1.0, 3.0], [2.0, -1.0], id="two"),
        pytest.param([2.0] * 5, [3.0] * 5, id="coincident"),
        pytest.param(np.arange(50.0), np.zeros(50), id="horizontal"),
        pytest.param(np.full(50, 7.0), np.arange(50.0), id="vertical"),
        pytest.param(
            1e6 + 0.1 * np.arange(50.0), 3.0 + 0.3 * np.arange(50.0), id="diagonal"
        ),
        pytest.param(
            [0.0, 1.0, 1.0, 2.0], [0.0, 1.0, 1.0, 2.0], id="collinear-with-repeat"
        ),
    ],
)
def test_degenerate_hulls_have_zero_area(x, y):
    assert convex_hull_area(np.asarray(x, float), np.asarray(y, float)) == 0.0


@pytest.mark.parametrize(("slope", "rtol"), [(0.0, 1e-12), (0.5, 1e-3)])
def test_collinear_points_with_one_outlier(slope, rtol):
    # The extreme directions all land on the line; the outlier must still be found.
    t = np.linspace(0.0, 1000.0, 100_001)
    x, y = np.r_[t, 500.0] - 10.0, np.r_[slope * t, 500.0 * slope + 1e-9] + 4.0
    height = y[-1] - (500.0 * slope + 4.0)  # 1e-9 as rounded at y = 4
    npt.assert_allclose(convex_hull_area(x, y), 0.5 * 1000.0 * height, rtol=rtol)


def test_hull_with_heavy_duplicates():
    rng = np.random.default_rng(4)
    px, py = rng.uniform(0, 1, 40), rng.uniform(0, 1, 40)
    x, y = np.repeat(px, 500), np.repeat(py, 500)
    npt.assert_allclose(convex_hull_area(x, y), scipy_area(px, py), rtol=1e-12)


def test_hull_rejects_bad_shapes():
    with pytest.raises(ValueError, match="1-D coordinate arrays of equal length"):
        convex_hull_area(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="1-D coordinate arrays"):
        convex_hull_area(np.zeros((3, 2)), np.zeros((3, 2)))


def exact_hull_area(points: list[tuple]) -> float | Fraction:
    """Gift wrapping in integer or rational arithmetic: the area with no rounding at all."""
    pts = sorted(set(points))
    if len(pts) < 3:
        return 0.0

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    hull, p = [], pts[0]
    while True:
        hull.append(p)
        q = pts[0] if pts[0] != p else pts[1]
        for r in pts:
            c = cross(p, q, r)
            # Turn clockwise-most; among collinear candidates take the farthest.
            far = (r[0] - p[0]) ** 2 + (r[1] - p[1]) ** 2 > (q[0] - p[0]) ** 2 + (
                q[1] - p[1]
            ) ** 2
            if c < 0 or (c == 0 and far):
                q = r
        p = q
        if p == hull[0] or len(hull) > len(pts):
            break
    twice = sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(hull, hull[1:] + hull[:1]))
    return abs(twice) / 2  # a Fraction stays exact


def test_thin_hull_area_is_exact_to_the_last_bit():
    # A sliver 20 long and 1e-7 wide: the area terms cancel to 1 part in 1e8.
    rng = np.random.default_rng(14)
    t, w = rng.uniform(0, 20, 300), rng.uniform(0, 1e-7, 300)
    x, y = 70.0 + t, 21.0 + 0.3 * t + w
    points = list(zip(map(Fraction, x.tolist()), map(Fraction, y.tolist())))
    assert convex_hull_area(x, y) == float(exact_hull_area(points))


@SETTINGS
@given(
    st.lists(
        st.tuples(st.integers(-6, 6), st.integers(-6, 6)), min_size=0, max_size=40
    ),
    st.sampled_from([1.0, 0.125, 1e6]),
)
def test_hull_matches_exact_area_on_small_integer_sets(points, scale):
    # Small integer grids: many ties, repeats and collinear runs.
    x = np.array([p[0] for p in points], float) * scale
    y = np.array([p[1] for p in points], float) * scale
    expected = exact_hull_area(points) * scale * scale
    npt.assert_allclose(convex_hull_area(x, y), expected, rtol=1e-12, atol=0)


# ------------------------------------------------------------- nearest neighbours


def test_uniform_queries_and_targets(paths):
    rng = np.random.default_rng(5)
    tx, ty = rng.uniform(0, 10, 3000), rng.uniform(-5, 5, 3000)
    qx, qy = rng.uniform(-1, 11, 2000), rng.uniform(-6, 6, 2000)
    npt.assert_array_equal(
        nearest_distances(qx, qy, tx, ty), brute_nearest(qx, qy, tx, ty)
    )


@pytest.mark.parametrize("n", [200_000, 20_000])
def test_nearest_other_on_a_spiral_matches_kdtree(n):
    x, y = spiral(n)
    got = nearest_distances(x, y, x, y, exclude=np.arange(x.size))
    npt.assert_allclose(got, kdtree_nearest(x, y, x, y, np.arange(x.size)), rtol=1e-12)


def test_raster_ties_give_the_pitch_exactly(paths):
    x, y = raster(120, 80, pitch=0.25)
    got = nearest_distances(x, y, x, y, exclude=np.arange(x.size))
    assert (got == 0.25).all()
    # Queries midway between four grid points are equidistant from all four.
    mx, my = x[:50] + 0.125, y[:50] + 0.125
    npt.assert_allclose(
        nearest_distances(mx, my, x, y), math.hypot(0.125, 0.125), rtol=1e-15
    )


@pytest.mark.parametrize(("ux", "uy"), [(1.0, 0.0), (0.0, 1.0), (0.6, 0.8)])
def test_line_scans(paths, ux, uy):
    t = np.sort(np.random.default_rng(6).uniform(0, 1000, 5000))
    x, y = 3.0 + ux * t, -2.0 + uy * t
    ex = np.arange(x.size)
    npt.assert_array_equal(
        nearest_distances(x, y, x, y, ex), brute_nearest(x, y, x, y, ex)
    )
    qx, qy = x[::7] + uy * 0.5, y[::7] - ux * 0.5  # half a unit off the line
    npt.assert_array_equal(nearest_distances(qx, qy, x, y), brute_nearest(qx, qy, x, y))


def test_heavy_duplicates_count_as_neighbours_at_zero(paths):
    rng = np.random.default_rng(7)
    px, py = rng.uniform(0, 100, 300), rng.uniform(0, 100, 300)
    x, y = np.repeat(px, 40), np.repeat(py, 40)  # 40 exposures per position
    assert (nearest_distances(x, y, x, y, exclude=np.arange(x.size)) == 0).all()
    # Once per position, the nearest other point is a different position.
    ex = np.arange(px.size)
    npt.assert_array_equal(
        nearest_distances(px, py, px, py, ex), brute_nearest(px, py, px, py, ex)
    )


def test_dense_clusters_and_a_fine_patch(paths):
    # Crowded buckets: tiny clusters, and a fine patch inside a coarse raster.
    rng = np.random.default_rng(8)
    centres = rng.uniform(0, 1000, (30, 2))
    cl = (centres[:, None, :] + rng.normal(0, 1e-4, (30, 200, 2))).reshape(-1, 2)
    gx, gy = raster(60, 60)
    patch = rng.uniform(20, 20.5, (3000, 2))
    for x, y in [
        (cl[:, 0], cl[:, 1]),
        (np.r_[gx, patch[:, 0]], np.r_[gy, patch[:, 1]]),
    ]:
        ex = np.arange(x.size)
        npt.assert_array_equal(
            nearest_distances(x, y, x, y, ex), brute_nearest(x, y, x, y, ex)
        )
    assert _geometry._Grid(x, y, 0).crowded.size > 0  # the nested grids did run


def test_single_target_and_two_points(paths):
    qx, qy = np.array([0.0, 3.0, -4.0]), np.array([0.0, 4.0, 0.0])
    npt.assert_array_equal(
        nearest_distances(qx, qy, np.zeros(1), np.zeros(1)), [0.0, 5.0, 4.0]
    )
    got = nearest_distances(
        qx, qy, np.zeros(1), np.zeros(1), exclude=np.array([0, -1, 0])
    )
    npt.assert_array_equal(got, [np.inf, 5.0, np.inf])
    x, y = np.array([1.0, 4.0]), np.array([1.0, 5.0])
    npt.assert_array_equal(
        nearest_distances(x, y, x, y, exclude=np.arange(2)), [5.0, 5.0]
    )


def test_large_offsets_keep_full_precision(paths):
    x, y = raster(70, 70, pitch=1e-3)
    rng = np.random.default_rng(9)
    x = 1e6 + x + rng.uniform(0, 1e-4, x.size)
    y = -3e6 + y + rng.uniform(0, 1e-4, y.size)
    ex = np.arange(x.size)
    got = nearest_distances(x, y, x, y, ex)
    npt.assert_array_equal(got, brute_nearest(x, y, x, y, ex))
    assert 8e-4 < got.min()
    assert got.max() < 1.2e-3


def test_extreme_aspect_ratio(paths):
    # 1e6 long and 1e-6 wide: the bucket count must follow the targets, not the area.
    rng = np.random.default_rng(10)
    tx, ty = rng.uniform(0, 1e6, 20_000), rng.uniform(0, 1e-6, 20_000)
    qx, qy = rng.uniform(-10, 1e6 + 10, 3000), rng.uniform(-1e-6, 2e-6, 3000)
    npt.assert_array_equal(
        nearest_distances(qx, qy, tx, ty), brute_nearest(qx, qy, tx, ty)
    )
    grid = _geometry._Grid(tx, ty, 0)
    assert grid.nx * grid.ny <= tx.size


def test_queries_far_outside_the_targets(paths):
    x, y = spiral(20_000)
    rng = np.random.default_rng(11)
    # Sparse and far, dense just outside, and on the far side of a hole.
    far_x, far_y = rng.uniform(-1e5, 1e5, 500), rng.uniform(1e4, 1e5, 500)
    near_x, near_y = spiral(30_000, seed=1)
    for qx, qy, tx, ty in [
        (far_x, far_y, x, y),
        (near_x[20_000:], near_y[20_000:], x[:2000], y[:2000]),
        (near_x[:3000], near_y[:3000], x[5000:], y[5000:]),
    ]:
        npt.assert_array_equal(
            nearest_distances(qx, qy, tx, ty), brute_nearest(qx, qy, tx, ty)
        )


def test_many_queries_per_target(paths):
    # Queries of a bucket share their candidates when they outnumber the targets.
    x, y = spiral(100_000)
    rng = np.random.default_rng(13)
    for step in [1563, 100, 10]:
        tx, ty = x[::step], y[::step]
        got = nearest_distances(x, y, tx, ty)
        npt.assert_allclose(got, kdtree_nearest(x, y, tx, ty), rtol=1e-12)
        # With a crowded spot among the targets, and exclusions.
        tx, ty = (
            np.r_[tx, x[500] + rng.normal(0, 1e-3, 300)],
            np.r_[ty, y[500] + rng.normal(0, 1e-3, 300)],
        )
        ex = rng.integers(-1, tx.size, x.size)
        got = nearest_distances(x, y, tx, ty, ex)
        npt.assert_allclose(got, kdtree_nearest(x, y, tx, ty, ex), rtol=1e-12)


def test_exclude_any_target(paths):
    rng = np.random.default_rng(12)
    tx, ty = rng.uniform(0, 30, 4000), rng.uniform(0, 30, 4000)
    qx, qy = rng.uniform(0, 30, 3000), rng.uniform(0, 30, 3000)
    # Exclude each query's own nearest target, another target, or nothing.
    d2 = (tx[None, :] - qx[:, None]) ** 2 + (ty[None, :] - qy[:, None]) ** 2
    ex = np.where(
        np.arange(qx.size) % 3 == 0,
        d2.argmin(axis=1),
        rng.integers(-1, tx.size, qx.size),
    )
    ex[1::3] = -5  # any negative value excludes nothing
    got = nearest_distances(qx, qy, tx, ty, ex)
    npt.assert_array_equal(got, brute_nearest(qx, qy, tx, ty, ex))
    assert (got[::3] > np.sqrt(d2.min(axis=1))[::3]).all()


def test_empty_inputs():
    assert nearest_distances(
        np.zeros(0), np.zeros(0), np.zeros(3), np.zeros(3)
    ).shape == (0,)
    got = nearest_distances(np.zeros(2), np.zeros(2), np.zeros(0), np.zeros(0))
    npt.assert_array_equal(got, [np.inf, np.inf])


def test_nearest_rejects_bad_input():
    z = np.zeros(3)
    with pytest.raises(ValueError, match="equal length"):
        nearest_distances(z, np.zeros(2), z, z)
    with pytest.raises(ValueError, match="equal length"):
        nearest_distances(z, z, z, np.zeros(4))
    with pytest.raises(ValueError, match="integer array of shape"):
        nearest_distances(z, z, z, z, exclude=np.zeros(3))
    with pytest.raises(ValueError, match="integer array of shape"):
        nearest_distances(z, z, z, z, exclude=np.zeros(2, int))
    with pytest.raises(ValueError, match="holds index 3, but there are 3 targets"):
        nearest_distances(z, z, z, z, exclude=np.array([0, 1, 3]))


@SETTINGS
@given(
    st.integers(0, 60),
    st.integers(0, 60),
    st.integers(0, 2**32 - 1),
    st.sampled_from([1.0, 1e-3, 1e5]),
    st.booleans(),
)
def test_nearest_matches_brute_force_on_small_sets(
    n_query, n_target, seed, scale, self_query
):
    # Small integer grids (ties and repeats everywhere), on every branch of the search.
    rng = np.random.default_rng(seed)
    tx, ty = rng.integers(-8, 9, (2, n_target)).astype(float) * scale
    if self_query:
        qx, qy = tx, ty
        ex = rng.permutation(np.arange(n_target)) if seed % 2 else np.arange(n_target)
    else:
        qx, qy = rng.integers(-12, 13, (2, n_query)).astype(float) * scale
        ex = rng.integers(-1, max(n_target, 1), n_query) if n_target else None
    with every_path():
        got = nearest_distances(qx, qy, tx, ty, ex)
    npt.assert_array_equal(got, brute_nearest(qx, qy, tx, ty, ex))
