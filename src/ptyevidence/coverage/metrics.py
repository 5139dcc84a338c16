"""Scan-coverage maths: how well a subset of scan positions spans its source scan.

The reference criterion compares only coordinate ranges, which two far corners
already pass; these metrics add grid occupancy, convex-hull area (SciPy's
``ConvexHull``), nearest-neighbour spacing and the largest gap (``cKDTree``).
SciPy is imported where used, so importing this module stays cheap. Lengths are
in the units of ``xcoords``/``ycoords`` (object pixels).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .._json import strict_json
from ..exceptions import InputError, UsageError

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
    "position_range_problem",
    "scan_coverage",
    "select_strategy_subsets",
]

#: Largest source measured in full for its spacing; larger sources measure an
#: evenly strided sample of this many positions, each against every position.
NN_SAMPLE_SIZE = 2**14
#: Width/length ratio under which a point set counts as collinear (a line scan).
COLLINEAR_TOLERANCE = 1e-9
#: Most grid cells the occupancy computation accepts (cell ids must fit int64).
MAX_GRID_CELLS = 2**62
#: Largest |coordinate| measured: squared distances and hull cross products
#: of differences must stay inside float64 range.
MAX_POSITION = 1e150
# Tolerance, in cells, for positions on a cell edge (see _cell_coordinates).
_CELL_EPSILON = 1e-9


@dataclass(frozen=True)
class CoverageMetrics:
    """Coverage of a source scan by a subset of its positions.

    Lengths are in the units of the positions (object pixels for DATA-001).

    Attributes
    ----------
    n_source, n_subset : int
        Number of source positions and of subset positions.
    cell_size : float
        Edge of the square occupancy cells.
    x_range_ratio, y_range_ratio : float
        Subset / source coordinate range per axis (the reference criterion); 1.0 for a zero source range.
    occupancy : float
        Occupied source cells that the subset also occupies / occupied source cells.
    n_source_cells, n_subset_cells : int
        Number of occupied cells of the source and of the subset.
    hull_area_ratio : float
        Subset / source convex-hull area; segment lengths for a line scan, 1.0 if all positions coincide.
    source_hull_area, subset_hull_area : float
        Convex-hull areas (0.0 for collinear sets).
    largest_gap, gap_p95 : float
        Largest and 95th-percentile distance from a source position to its nearest subset position.
    source_nn_median, source_nn_p95 : float
        Median and 95th percentile of the source's nearest-neighbour distances.
    subset_nn_median, subset_nn_p95 : float
        The same for the subset (NaN when the subset has one position).
    source_nn_sample : int or None
        Above :data:`NN_SAMPLE_SIZE` source positions, the number of evenly strided ones whose spacing
        gives ``source_nn_*`` and the default ``cell_size``; None when every position was measured.
    probe_diameter : float or None
        Probe diameter used for the overlap ratios, if one was given.
    overlap_ratio, source_overlap_ratio : float or None
        Linear overlap ``max(0, 1 - d / D)`` of neighbouring probes, ``d`` the median nearest-neighbour
        distance of the subset (resp. source), ``D`` the probe diameter; 0: the probes do not touch.
    """

    n_source: int
    n_subset: int
    cell_size: float
    x_range_ratio: float
    y_range_ratio: float
    occupancy: float
    n_source_cells: int
    n_subset_cells: int
    hull_area_ratio: float
    source_hull_area: float
    subset_hull_area: float
    largest_gap: float
    gap_p95: float
    source_nn_median: float
    source_nn_p95: float
    subset_nn_median: float
    subset_nn_p95: float
    source_nn_sample: int | None = None
    probe_diameter: float | None = None
    overlap_ratio: float | None = None
    source_overlap_ratio: float | None = None

    @property
    def occupancy_ceiling(self) -> float:
        """Highest occupancy ``n_subset`` positions can reach on these cells: ``min(1, n / cells)``."""
        return min(1.0, self.n_subset / self.n_source_cells)

    def __repr__(self) -> str:
        return (
            f"<CoverageMetrics {self.n_subset} of {self.n_source} positions: occupancy "
            f"{self.occupancy:.3g} (ceiling {self.occupancy_ceiling:.3g}), hull "
            f"{self.hull_area_ratio:.3g}, largest gap {self.largest_gap:.3g}>"
        )

    def _repr_markdown_(self) -> str:
        from .._format import markdown_table, number_text

        values = {**self.to_dict(), "occupancy_ceiling": self.occupancy_ceiling}
        return markdown_table(["metric", "value"], [[k, number_text(v)] for k, v in values.items()])

    def to_dict(self) -> dict[str, Any]:
        """Return the metrics as JSON-ready numbers (NaN as None).

        The probe keys are present only with a probe diameter, ``source_nn_sample`` only when sampled.
        """
        out = strict_json(asdict(self))[0]
        if self.source_nn_sample is None:
            del out["source_nn_sample"]
        if self.probe_diameter is None:
            for key in ("probe_diameter", "overlap_ratio", "source_overlap_ratio"):
                del out[key]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CoverageMetrics:
        """Inverse of :meth:`to_dict` (None back to NaN)."""
        return cls(**{key: math.nan if value is None else value for key, value in data.items()})


@dataclass(frozen=True)
class ScanStats:
    """Extent and spacing of one scan (no subset).

    Attributes
    ----------
    n_positions : int
        Number of positions.
    x_min, x_max, y_min, y_max : float
        Coordinate bounds.
    x_range, y_range : float
        ``x_max - x_min`` and ``y_max - y_min``.
    hull_area : float
        Convex-hull area (0.0 for a line scan).
    nn_min, nn_median, nn_p95, nn_max : float
        Nearest-neighbour distance statistics (NaN for a single position).
    n_duplicates : int
        Positions whose nearest neighbour is at distance 0.
    probe_diameter, overlap_ratio : float or None
        As in :class:`CoverageMetrics`, for the whole scan.
    """

    n_positions: int
    x_min: float
    x_max: float
    y_min: float
    y_max: float
    x_range: float
    y_range: float
    hull_area: float
    nn_min: float
    nn_median: float
    nn_p95: float
    nn_max: float
    n_duplicates: int
    probe_diameter: float | None = None
    overlap_ratio: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the statistics as JSON-ready Python numbers (NaN becomes None)."""
        out = strict_json(asdict(self))[0]
        if self.probe_diameter is None:
            del out["probe_diameter"], out["overlap_ratio"]
        return out


@dataclass(frozen=True)
class OccupancyGrid:
    """Occupancy cells of a source scan and a subset, as dense count maps.

    Cell ``(row, col)`` spans ``x0 + col * cell_size <= x < x0 + (col + 1) * cell_size``, the same in y.

    Attributes
    ----------
    x0, y0 : float
        Lower-left corner of cell ``(0, 0)``.
    cell_size : float
        Cell edge, in position units.
    source_counts, subset_counts : numpy.ndarray
        ``(n_rows, n_cols)`` int64 number of source / subset positions per cell.
    """

    x0: float
    y0: float
    cell_size: float
    source_counts: np.ndarray
    subset_counts: np.ndarray

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """``(left, right, bottom, top)`` of the grid, for ``imshow``."""
        rows, cols = self.source_counts.shape
        return (self.x0, self.x0 + cols * self.cell_size, self.y0, self.y0 + rows * self.cell_size)

    @property
    def occupancy(self) -> float:
        """Fraction of occupied source cells that the subset occupies."""
        return float(np.count_nonzero(self.subset_counts)) / float(np.count_nonzero(self.source_counts))


def scan_coverage(
    x: np.ndarray,
    y: np.ndarray,
    indices: np.ndarray,
    cell_size: float | None = None,
    probe_diameter: float | None = None,
) -> CoverageMetrics:
    """Measure how well the positions ``indices`` span the source scan ``(x, y)``.

    Parameters
    ----------
    x, y : numpy.ndarray
        ``(N,)`` source positions (``xcoords``, ``ycoords``); at least 2, all finite.
    indices : numpy.ndarray
        ``(n,)`` distinct integer source indices of the subset, in ``[0, N)``.
    cell_size : float, optional
        Edge of the occupancy cells; default :func:`default_cell_size`.
    probe_diameter : float, optional
        Probe diameter in object pixels; adds the linear overlap ratios.

    Returns
    -------
    CoverageMetrics
        All metrics; ``.to_dict()`` gives JSON-ready numbers.

    Raises
    ------
    InputError
        If the positions are not two equal-length 1-D finite arrays of at least 2.
    UsageError
        If an index is out of range or repeated, or ``cell_size`` or
        ``probe_diameter`` is not a positive length.

    Examples
    --------
    The four corners of a 4 x 4 grid pass the range criterion but occupy 4 of 16 cells.

    >>> import numpy as np
    >>> gx, gy = np.meshgrid(np.arange(4.0), np.arange(4.0))
    >>> x, y = gx.ravel(), gy.ravel()
    >>> m = scan_coverage(x, y, [0, 3, 12, 15], cell_size=1.0)
    >>> m.x_range_ratio, m.y_range_ratio, m.hull_area_ratio, m.occupancy
    (1.0, 1.0, 1.0, 0.25)
    >>> round(m.largest_gap, 3)
    1.414
    """
    return compare_subsets(x, y, {"subset": indices}, cell_size, probe_diameter)[0][1]


def compare_strategies(
    x: np.ndarray,
    y: np.ndarray,
    n: int,
    seed: int = 0,
    cell_size: float | None = None,
    probe_diameter: float | None = None,
) -> list[tuple[str, CoverageMetrics]]:
    """Measure the coverage of an ``n``-position subset chosen by each strategy.

    Each of :data:`ptyevidence.fixture.strategies.STRATEGIES` picks ``n`` positions; all
    are measured on the same cells (:func:`select_strategy_subsets`, :func:`compare_subsets`).

    Parameters
    ----------
    x, y : numpy.ndarray
        ``(N,)`` float64 source scan positions in object pixels.
    n : int
        Subset size, ``1 <= n <= N``.
    seed : int
        Seed passed to every strategy (only randomized strategies use it).
    cell_size : float, optional
        Occupancy cell edge; default :func:`default_cell_size` for ``n``.
    probe_diameter : float, optional
        Probe diameter in object pixels; adds the overlap ratios.

    Returns
    -------
    list of (str, CoverageMetrics)
        One entry per strategy, in :data:`STRATEGIES` order.

    Raises
    ------
    UsageError
        If ``n`` is out of range (see :func:`select_indices`).

    Examples
    --------
    >>> import numpy as np
    >>> gx, gy = np.meshgrid(np.arange(8.0), np.arange(8.0))
    >>> for name, m in compare_strategies(gx.ravel(), gy.ravel(), 16):
    ...     print(name, round(m.occupancy, 2))
    stratified-index 0.5
    grid 1.0
    farthest-point 0.81
    """
    subsets = select_strategy_subsets(x, y, n, seed)
    return compare_subsets(x, y, subsets, cell_size, probe_diameter)


def select_strategy_subsets(x: np.ndarray, y: np.ndarray, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Return the ``n`` source indices each subset strategy picks, by strategy name.

    Parameters
    ----------
    x, y : numpy.ndarray
        ``(N,)`` float64 source scan positions in object pixels.
    n : int
        Subset size.
    seed : int
        Seed passed to every strategy.

    Returns
    -------
    dict of str to numpy.ndarray
        ``(n,)`` int64 indices per strategy, in :data:`STRATEGIES` order.

    Examples
    --------
    >>> import numpy as np
    >>> subsets = select_strategy_subsets(np.arange(10.0), np.zeros(10), 4)
    >>> subsets["stratified-index"].tolist()
    [0, 2, 5, 7]
    """
    from ..fixture.strategies import STRATEGIES, select_indices

    return {name: select_indices(x, y, n, name, seed=seed) for name in STRATEGIES}


def compare_subsets(
    x: np.ndarray,
    y: np.ndarray,
    subsets: Mapping[str, np.ndarray],
    cell_size: float | None = None,
    probe_diameter: float | None = None,
) -> list[tuple[str, CoverageMetrics]]:
    """Measure several subsets of one source scan on the same occupancy cells.

    Parameters
    ----------
    x, y : numpy.ndarray
        ``(N,)`` float64 source scan positions in object pixels.
    subsets : mapping of str to numpy.ndarray
        Subset name to ``(n,)`` integer source indices.
    cell_size : float, optional
        Occupancy cell edge; default :func:`default_cell_size` for the
        largest subset.
    probe_diameter : float, optional
        Probe diameter in object pixels.

    Returns
    -------
    list of (str, CoverageMetrics)
        One entry per subset, in mapping order.

    Examples
    --------
    >>> import numpy as np
    >>> rows = compare_subsets(np.arange(4.0), np.zeros(4), {"ends": [0, 3], "left": [0, 1]})
    >>> [(name, m.x_range_ratio) for name, m in rows]
    [('ends', 1.0), ('left', 0.3333333333333333)]
    """
    from scipy.spatial import cKDTree

    x, y = _check_positions(x, y)
    checked = {name: _check_indices(idx, x.size) for name, idx in subsets.items()}
    if not checked:
        msg = "no subsets to compare; give at least one"
        raise UsageError(msg)
    sample = _spacing_sample(x.size)
    source_nn = _nearest_other(x, y, sample)
    if cell_size is None:
        cell_size = default_cell_size(x, y, max(idx.size for idx in checked.values()), source_nn=source_nn)
    cell_size = _check_positive(cell_size, "cell_size")
    col, row, _, _, n_cols, _ = _cell_coordinates(x, y, cell_size)
    ids = row * n_cols + col
    n_source_cells = _count_distinct(ids)
    hull_area, hull_dim, axis = _hull_measure(x, y)

    def measure(idx: np.ndarray) -> CoverageMetrics:
        xs, ys = x[idx], y[idx]
        subset_nn = nearest_neighbour_distances(xs, ys)
        n_subset_cells = _count_distinct(ids[idx])
        gaps = cKDTree(np.column_stack([xs, ys])).query(np.column_stack([x, y]))[0]
        subset_area, hull_ratio = 0.0, 1.0
        if hull_dim == 1:  # a line scan: its hull is a segment, so compare segment lengths
            hull_ratio = float(np.ptp(xs * axis[0] + ys * axis[1]) / np.ptp(x * axis[0] + y * axis[1]))
        elif hull_dim == 2:
            subset_area = _hull_measure(xs, ys)[0]
            hull_ratio = subset_area / hull_area
        return CoverageMetrics(
            n_source=int(x.size),
            n_subset=int(idx.size),
            cell_size=cell_size,
            x_range_ratio=_range_ratio(xs, x),
            y_range_ratio=_range_ratio(ys, y),
            occupancy=n_subset_cells / n_source_cells,
            n_source_cells=n_source_cells,
            n_subset_cells=n_subset_cells,
            hull_area_ratio=hull_ratio,
            source_hull_area=hull_area,
            subset_hull_area=subset_area,
            largest_gap=float(gaps.max()),
            gap_p95=float(np.percentile(gaps, 95)),
            source_nn_median=_median(source_nn),
            source_nn_p95=_percentile(source_nn, 95),
            subset_nn_median=_median(subset_nn),
            subset_nn_p95=_percentile(subset_nn, 95),
            source_nn_sample=None if sample is None else int(sample.size),
            **_overlaps(probe_diameter, overlap_ratio=subset_nn, source_overlap_ratio=source_nn),
        )

    return [(name, measure(idx)) for name, idx in checked.items()]


def describe_scan(x: np.ndarray, y: np.ndarray, probe_diameter: float | None = None) -> ScanStats:
    """Summarize the extent and spacing of one scan.

    Parameters
    ----------
    x, y : numpy.ndarray
        ``(N,)`` float64 scan positions in object pixels; at least 2 positions.
    probe_diameter : float, optional
        Probe diameter in object pixels; adds the linear overlap ratio.

    Returns
    -------
    ScanStats
        Bounds, hull area and nearest-neighbour statistics.

    Examples
    --------
    >>> import numpy as np
    >>> s = describe_scan(np.array([0.0, 2.0, 4.0]), np.zeros(3), probe_diameter=4.0)
    >>> s.x_range, s.hull_area, s.nn_median, s.overlap_ratio
    (4.0, 0.0, 2.0, 0.5)
    """
    x, y = _check_positions(x, y)
    nn = nearest_neighbour_distances(x, y)
    return ScanStats(
        n_positions=int(x.size),
        x_min=float(x.min()),
        x_max=float(x.max()),
        y_min=float(y.min()),
        y_max=float(y.max()),
        x_range=float(np.ptp(x)),
        y_range=float(np.ptp(y)),
        hull_area=_hull_measure(x, y)[0],
        nn_min=float(nn.min()),
        nn_median=_median(nn),
        nn_p95=_percentile(nn, 95),
        nn_max=float(nn.max()),
        n_duplicates=int(np.count_nonzero(nn == 0)),
        **_overlaps(probe_diameter, overlap_ratio=nn),
    )


def nearest_neighbour_distances(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Return each position's distance to its nearest other position.

    Parameters
    ----------
    x, y : numpy.ndarray
        ``(N,)`` float64 positions.

    Returns
    -------
    numpy.ndarray
        ``(N,)`` float64 distances (0 for duplicated positions); empty when N < 2.

    Examples
    --------
    >>> import numpy as np
    >>> nearest_neighbour_distances(np.array([0.0, 1.0, 3.0]), np.zeros(3)).tolist()
    [1.0, 1.0, 2.0]
    """
    if np.size(x) < 2:
        return np.empty(0)
    return _nearest_other(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))


def _spacing_sample(n: int) -> np.ndarray | None:
    """Evenly strided source indices whose spacing stands for the scan's; None: measure all."""
    if n <= NN_SAMPLE_SIZE:
        return None
    # Deterministic and spread over the whole acquisition, so every part of
    # the scan (and every scan row of a raster) is represented. With n > the
    # sample size the step is >= 1, so the indices are distinct and increasing.
    steps = np.arange(NN_SAMPLE_SIZE, dtype=np.int64)
    return steps * (n - 1) // (NN_SAMPLE_SIZE - 1)


def default_cell_size(x: np.ndarray, y: np.ndarray, n_subset: int, source_nn: np.ndarray | None = None) -> float:
    """Return the default occupancy cell edge for a subset of ``n_subset`` positions.

    The spacing a well-spread subset of that size would have: the source's median
    non-zero nearest-neighbour spacing times ``sqrt(N / n_subset)`` (an area scan)
    or ``N / n_subset`` (a line scan); 1.0 when every position coincides.

    Parameters
    ----------
    x, y : numpy.ndarray
        ``(N,)`` float64 source positions in object pixels.
    n_subset : int
        Subset size, ``1 <= n_subset``.
    source_nn : numpy.ndarray, optional
        Precomputed :func:`nearest_neighbour_distances` of the source.

    Returns
    -------
    float
        Cell edge in object pixels.

    Raises
    ------
    UsageError
        If ``n_subset`` is not a positive integer.

    Examples
    --------
    >>> import numpy as np
    >>> gx, gy = np.meshgrid(np.arange(10.0), np.arange(10.0))
    >>> default_cell_size(gx.ravel(), gy.ravel(), 25)
    2.0
    >>> default_cell_size(np.arange(100.0), np.zeros(100), 25)
    4.0
    """
    if isinstance(n_subset, bool) or not isinstance(n_subset, (int, np.integer)) or n_subset < 1:
        msg = f"subset size {n_subset!r} is not a positive integer; give the number of subset positions"
        raise UsageError(msg)
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if source_nn is None:
        source_nn = nearest_neighbour_distances(x, y)
    positive = source_nn[source_nn > 0]
    if positive.size == 0:
        return 1.0
    thinning = x.size / n_subset
    spread = thinning if _principal_axes(x, y)[0] == 1 else math.sqrt(thinning)
    return float(np.median(positive) * spread)


def occupancy_grid(x: np.ndarray, y: np.ndarray, indices: np.ndarray, cell_size: float) -> OccupancyGrid:
    """Count source and subset positions per occupancy cell, as dense maps for plotting.

    The cells of :func:`scan_coverage`, so ``grid.occupancy`` equals its ``occupancy`` for the same ``cell_size``.

    Parameters
    ----------
    x, y : numpy.ndarray
        ``(N,)`` float64 source positions in object pixels.
    indices : numpy.ndarray
        ``(n,)`` integer source indices of the subset.
    cell_size : float
        Cell edge in object pixels (``CoverageMetrics.cell_size``).

    Returns
    -------
    OccupancyGrid
        Count maps and grid geometry.

    Raises
    ------
    MemoryBudgetError
        If the dense maps would exceed the memory budget.

    Examples
    --------
    >>> import numpy as np
    >>> g = occupancy_grid(np.array([0.0, 1.0, 2.0]), np.zeros(3), [0], 1.0)
    >>> g.source_counts.tolist(), g.subset_counts.tolist()
    ([[1, 1, 1]], [[1, 0, 0]])
    """
    from .._memory import check_budget

    x, y = _check_positions(x, y)
    idx = _check_indices(indices, x.size)
    cell_size = _check_positive(cell_size, "cell_size")
    col, row, x0, y0, n_cols, n_rows = _cell_coordinates(x, y, cell_size)
    check_budget(2 * 8 * n_rows * n_cols, f"occupancy map of {n_rows} x {n_cols} cells")
    ids = row * n_cols + col
    source, subset = (np.bincount(i, minlength=n_rows * n_cols).astype(np.int64) for i in (ids, ids[idx]))
    return OccupancyGrid(x0, y0, cell_size, source.reshape(n_rows, n_cols), subset.reshape(n_rows, n_cols))


# -- helpers -----------------------------------------------------------------


def _check_positions(x: Any, y: Any, minimum: int = 2, path: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return the positions as float64; refuse shapes, counts below ``minimum``, non-finite values."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    where = "" if path is None else f"'{path}': "
    if x.ndim != 1 or x.shape != y.shape:
        msg = (
            f"{where}xcoords has shape {x.shape} and ycoords {y.shape}; expected two "
            "1-D arrays of equal length, one entry per scan position"
        )
        raise InputError(msg, path)
    if x.size < minimum:
        subject = "the scan" if path is None else f"'{path}'"
        msg = f"{subject} has {x.size} scan position(s); coverage needs at least {minimum}"
        raise InputError(msg, path)
    bad = np.flatnonzero(~(np.isfinite(x) & np.isfinite(y)))
    if bad.size:
        first = int(bad[0])
        msg = (
            f"{where}xcoords/ycoords hold {bad.size} non-finite position(s), first at "
            f"index {first} ({x[first]}, {y[first]}); coverage needs every position finite"
        )
        raise InputError(msg, path)
    problem = position_range_problem(x, y)
    if problem:
        msg = f"scan {problem}" if path is None else f"{where}{problem}; check the position units"
        raise InputError(msg, path)
    return x, y


def position_range_problem(x: np.ndarray, y: np.ndarray) -> str | None:
    """Say which finite position is too large to measure (beyond :data:`MAX_POSITION`), or None.

    Examples
    --------
    >>> position_range_problem(np.array([0.0, 1e301]), np.zeros(2))
    'position 1 at (1e+301, 0) lies beyond +-1e+150, where distances and areas overflow'
    """
    if x.size == 0:
        return None
    size = np.maximum(np.abs(x), np.abs(y))
    worst = int(np.argmax(size))
    if not size[worst] > MAX_POSITION:
        return None
    return (
        f"position {worst} at ({x[worst]:.6g}, {y[worst]:.6g}) lies beyond +-{MAX_POSITION:g}, "
        "where distances and areas overflow"
    )


def _check_indices(indices: Any, n_source: int) -> np.ndarray:
    idx = np.asarray(indices)
    if idx.ndim != 1 or idx.size == 0:
        msg = f"subset indices have shape {idx.shape}; expected a non-empty 1-D array"
        raise UsageError(msg)
    if not np.issubdtype(idx.dtype, np.integer):
        msg = f"subset indices have dtype {idx.dtype}; expected integers"
        raise UsageError(msg)
    idx = idx.astype(np.int64, copy=False)
    out = (idx < 0) | (idx >= n_source)
    if out.any():
        first = int(idx[np.flatnonzero(out)[0]])
        msg = (
            f"subset index {first} is out of range for a source of {n_source} "
            f"positions; indices must lie in [0, {n_source})"
        )
        raise UsageError(msg)
    values, counts = np.unique(idx, return_counts=True)
    if values.size != idx.size:
        first = int(values[np.flatnonzero(counts > 1)[0]])
        msg = f"subset index {first} appears more than once; a subset selects each source position at most once"
        raise UsageError(msg)
    return idx


def _check_positive(value: Any, name: str) -> float:
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        msg = f"{name} is {value}; expected a positive finite length in object pixels"
        raise UsageError(msg)
    return value


def _cell_coordinates(
    x: np.ndarray, y: np.ndarray, cell_size: float
) -> tuple[np.ndarray, np.ndarray, float, float, int, int]:
    """Column and row of each position, grid origin, and grid shape (cols, rows)."""
    axes = []
    for v in (x, y):
        lo, hi = float(v.min()), float(v.max())
        # floor(range / c) + 1 cells always cover the range; centring the grid
        # on the scan splits the slack evenly between both edges, so a
        # well-spread subset of n positions can meet about n cells.
        count = math.floor((hi - lo) / cell_size + _CELL_EPSILON) + 1
        axes.append((count, (lo + hi) / 2 - count * cell_size / 2))
    (n_cols, x0), (n_rows, y0) = axes
    if float(n_cols) * float(n_rows) > MAX_GRID_CELLS:
        msg = (
            f"cell_size {cell_size} is too small for a scan spanning "
            f"{np.ptp(x):.6g} x {np.ptp(y):.6g}; use a larger cell"
        )
        raise UsageError(msg)
    # The epsilon (in cells) keeps positions that sit exactly on a cell edge
    # on the same side whatever the rounding of the division.
    col = np.floor((x - x0) / cell_size + _CELL_EPSILON).astype(np.int64)
    row = np.floor((y - y0) / cell_size + _CELL_EPSILON).astype(np.int64)
    np.clip(col, 0, n_cols - 1, out=col)
    np.clip(row, 0, n_rows - 1, out=row)
    return col, row, x0, y0, n_cols, n_rows


def _hull_measure(x: np.ndarray, y: np.ndarray) -> tuple[float, int, np.ndarray | None]:
    """Return (area, dimension, principal axis) of the points' hull: 2 a polygon, 1 a segment, 0 a point."""
    from scipy.spatial import ConvexHull, QhullError

    dim, axis = _principal_axes(x, y)
    if dim < 2 or x.size < 3:
        return 0.0, min(dim, 1), axis
    try:
        # Centred, so that Qhull's orientation tests keep their precision at
        # large offsets. In 2-D, a hull's "volume" is its area.
        area = float(ConvexHull(np.column_stack([x - x.mean(), y - y.mean()])).volume)
    except QhullError:
        # Nearly collinear sets can pass the eigenvalue test, yet Qhull finds
        # no initial triangle ("initial simplex is flat"): they enclose no area.
        area = 0.0
    return (area, 2, axis) if area > 0 else (0.0, 1, axis)


def _nearest_other(x: np.ndarray, y: np.ndarray, sample: np.ndarray | None = None) -> np.ndarray:
    """Distance from each position (or each of ``sample``) to its nearest other position."""
    from scipy.spatial import cKDTree

    points = np.column_stack([x, y])
    queries = points if sample is None else points[sample]
    # One of the two nearest hits is the query itself (distance 0), so the
    # farther one is its nearest other position (also 0 when a position repeats).
    return cKDTree(points).query(queries, k=2)[0][:, 1]


def _principal_axes(x: np.ndarray, y: np.ndarray) -> tuple[int, np.ndarray | None]:
    """Return the dimension (0, 1 or 2; collinear within :data:`COLLINEAR_TOLERANCE`) and principal axis."""
    dx, dy = x - x.mean(), y - y.mean()
    # Elementwise sums, not BLAS dot products: OpenBLAS's threaded dot costs
    # ~20 ms per call on 10^5 positions here, the ufuncs ~1 ms.
    sxx, sxy, syy = (dx * dx).sum(), (dx * dy).sum(), (dy * dy).sum()
    cov = np.array([[sxx, sxy], [sxy, syy]])
    eigvals, eigvecs = np.linalg.eigh(cov)
    if eigvals[1] <= 0:
        return 0, None
    axis = eigvecs[:, 1]
    if eigvals[0] <= (COLLINEAR_TOLERANCE**2) * eigvals[1]:
        return 1, axis
    return 2, axis


def _count_distinct(values: np.ndarray) -> int:
    # Plain np.unique imports numpy.ma on first use (~0.04 s of a short CLI run).
    ordered = np.sort(values, kind="stable")
    return int(ordered.size and 1 + np.count_nonzero(ordered[1:] != ordered[:-1]))


def _range_ratio(subset: np.ndarray, source: np.ndarray) -> float:
    full = float(np.ptp(source))
    return float(np.ptp(subset)) / full if full > 0 else 1.0


def _overlaps(diameter: float | None, **spacings: np.ndarray) -> dict[str, float]:
    """``probe_diameter`` and the linear overlap ``max(0, 1 - d / D)`` of each median spacing; {} without D."""
    if diameter is None:
        return {}
    diameter = _check_positive(diameter, "probe_diameter")
    ratios = {name: max(0.0, 1.0 - _median(nn) / diameter) if nn.size else math.nan for name, nn in spacings.items()}
    return {"probe_diameter": diameter, **ratios}


def _median(values: np.ndarray) -> float:
    return float(np.median(values)) if values.size else float("nan")


def _percentile(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) if values.size else float("nan")
