"""Choose which scan positions a fixture keeps.

Three deterministic strategies, all returning source indices:

``stratified-index``
    Evenly spaced over the acquisition order, ``int(i * N / n)``: the
    reference generator's behaviour and the default. Ignores positions.
``grid``
    Spatially stratified: the scanned area is cut into about ``n`` cells and
    the position nearest each occupied cell's centre is kept.
``farthest-point``
    Greedy max-min distance: start from a seeded random position, then
    repeatedly add the position farthest from everything chosen so far.

Indices come back sorted (acquisition order is kept in the fixture), as
int64, distinct, each in ``[0, N)``.
"""

from __future__ import annotations

import numpy as np

from .exceptions import InputError, UsageError

__all__ = ["FARTHEST_POINT_MAX_EVALUATIONS", "STRATEGIES", "select_indices"]

#: Subset strategies, default first.
STRATEGIES = ("stratified-index", "grid", "farthest-point")
#: Largest ``n * N`` (distance evaluations) ``farthest-point`` accepts, about
#: five seconds on one core (10^4 of 10^5 positions). Above it the call is refused.
FARTHEST_POINT_MAX_EVALUATIONS = 10**9
#: The grid search never builds more cells than this multiple of N (plus a floor),
#: which bounds its memory to a few bytes per position.
_GRID_CELLS_PER_POSITION = 4
_GRID_MIN_CELLS = 4096


def select_indices(
    x: np.ndarray,
    y: np.ndarray,
    n: int,
    strategy: str = "stratified-index",
    seed: int = 0,
) -> np.ndarray:
    """Return the source indices of an ``n``-position subset of a scan.

    Parameters
    ----------
    x, y : numpy.ndarray
        ``(N,)`` scan positions in object pixels (``xcoords``, ``ycoords``);
        x is the column axis, y the row axis. ``stratified-index`` uses only
        their length; the spatial strategies need them finite.
    n : int
        Subset size, ``1 <= n <= N``.
    strategy : {"stratified-index", "grid", "farthest-point"}
        How to choose (see the module description).
    seed : int
        Seed of the start position of ``farthest-point``; the other
        strategies use no randomness and ignore it.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` int64 distinct source indices, ascending (the order of the
        fixture's rows).

    Raises
    ------
    UsageError
        If ``strategy`` is unknown, ``n`` is out of range, or
        ``farthest-point`` would exceed :data:`FARTHEST_POINT_MAX_EVALUATIONS`.
    InputError
        If the positions are not two equal-length 1-D arrays, or a spatial
        strategy meets non-finite positions.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(10.0)
    >>> select_indices(x, np.zeros(10), 4).tolist()
    [0, 2, 5, 7]
    >>> select_indices(x, np.zeros(10), 3, strategy="farthest-point").tolist()
    [0, 4, 8]
    """
    x, y = _check_positions(x, y)
    n_source = x.size
    n = _check_size(n, n_source)
    if strategy not in STRATEGIES:
        msg = f"subset strategy '{strategy}' is not one of {', '.join(STRATEGIES)}"
        raise UsageError(msg)
    if strategy == "stratified-index":
        return _stratified(n_source, n)
    if n == n_source:
        return np.arange(n_source, dtype=np.int64)
    _check_finite(x, y)
    if strategy == "grid":
        return _grid(x, y, n)
    return np.sort(farthest_point_order(x, y, n, seed))


def _check_positions(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        msg = (
            f"scan positions have shapes x {x.shape} and y {y.shape}; "
            "expected two 1-D arrays of equal length (xcoords, ycoords)"
        )
        raise InputError(msg)
    return x, y


def _check_size(n: object, n_source: int) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        msg = f"subset size {n!r} is not an integer; give a whole number of positions"
        raise UsageError(msg)
    if not 1 <= n <= n_source:
        msg = f"subset size {n} is out of range; the scan has {n_source} positions (1 to {n_source})"
        raise UsageError(msg)
    return int(n)


def _check_finite(x: np.ndarray, y: np.ndarray) -> None:
    bad = ~(np.isfinite(x) & np.isfinite(y))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        msg = (
            f"{int(bad.sum())} scan position(s) are not finite, first at index {first} "
            f"({x[first]}, {y[first]}); spatial strategies need finite positions "
            "(fix them, or use --strategy stratified-index)"
        )
        raise InputError(msg)


def _stratified(n_source: int, n: int) -> np.ndarray:
    # Integer floor division equals int(i * N / n) for every i < n; it avoids
    # the float rounding that a literal transcription would risk at large N.
    return (np.arange(n, dtype=np.int64) * n_source) // n


def farthest_point_order(x: np.ndarray, y: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Return ``n`` indices in greedy farthest-point order (pick order, not sorted).

    The start is ``numpy.random.default_rng(seed).integers(N)``; each next pick
    maximizes the distance to the nearest already-picked position (ties: the
    lowest index). Cost ``O(n * N)`` time with one running ``(N,)``
    min-distance array; refused above :data:`FARTHEST_POINT_MAX_EVALUATIONS`.

    Parameters
    ----------
    x, y : numpy.ndarray
        ``(N,)`` float64 finite positions.
    n : int
        Number of picks, ``1 <= n <= N``.
    seed : int
        Seed of the start position.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` int64 indices in the order they were picked.

    Examples
    --------
    >>> import numpy as np
    >>> farthest_point_order(np.array([0.0, 1.0, 2.0, 10.0]), np.zeros(4), 3).tolist()
    [3, 0, 2]
    """
    n_source = x.size
    if n * n_source > FARTHEST_POINT_MAX_EVALUATIONS:
        msg = (
            f"farthest-point with {n} of {n_source} positions needs {n * n_source:.3g} "
            f"distance evaluations, over the limit of {FARTHEST_POINT_MAX_EVALUATIONS:.0e}; "
            "use --strategy grid (spatially stratified, linear time) or a smaller subset"
        )
        raise UsageError(msg)
    picks = np.empty(n, dtype=np.int64)
    picks[0] = np.random.default_rng(seed).integers(n_source)
    nearest = np.full(n_source, np.inf)
    dx = np.empty(n_source)
    dy = np.empty(n_source)
    for k in range(n):
        if k:
            picks[k] = np.argmax(nearest)
        p = picks[k]
        np.subtract(x, x[p], out=dx)
        np.subtract(y, y[p], out=dy)
        np.multiply(dx, dx, out=dx)
        np.multiply(dy, dy, out=dy)
        dx += dy
        np.minimum(nearest, dx, out=nearest)
        # Picked positions must never win again, even when duplicates leave
        # every remaining distance at zero.
        nearest[p] = -1.0
    return picks


def _grid(x: np.ndarray, y: np.ndarray, n: int) -> np.ndarray:
    """One position per occupied cell of a grid with about ``n`` occupied cells."""
    n_source = x.size
    x0, y0 = float(x.min()), float(y.min())
    wx, wy = float(x.max()) - x0, float(y.max()) - y0
    if wx == 0 and wy == 0:
        return _stratified(n_source, n)
    u = (x - x0) / wx if wx > 0 else np.zeros(n_source)
    v = (y - y0) / wy if wy > 0 else np.zeros(n_source)
    max_cells = max(_GRID_CELLS_PER_POSITION * n_source, _GRID_MIN_CELLS)

    def cells_for(total: int) -> tuple[int, int, np.ndarray]:
        nx, ny = _grid_shape(total, wx, wy)
        col = np.minimum((u * nx).astype(np.int64), nx - 1)
        row = np.minimum((v * ny).astype(np.int64), ny - 1)
        return nx, ny, row * nx + col

    def occupied(total: int) -> int:
        nx, ny, ids = cells_for(total)
        return int(np.count_nonzero(np.bincount(ids, minlength=nx * ny)))

    # Smallest cell count whose grid has at least n occupied cells: occupancy
    # grows with the cell count (not strictly), so doubling then bisecting
    # lands close in about log2(n) + 2 passes over the positions.
    lo, hi = n, n
    while hi < max_cells and occupied(hi) < n:
        lo, hi = hi + 1, min(2 * hi, max_cells)
    while lo < hi:
        mid = (lo + hi) // 2
        if occupied(mid) >= n:
            hi = mid
        else:
            lo = mid + 1
    nx, ny, ids = cells_for(hi)
    col, row = ids % nx, ids // nx
    # Distance to the own cell's centre, in cell units so x and y weigh alike.
    du = u * nx - (col + 0.5)
    dv = v * ny - (row + 0.5)
    dist = du * du + dv * dv
    best = np.full(nx * ny, np.inf)
    np.minimum.at(best, ids, dist)
    nearest = np.flatnonzero(dist == best[ids])
    first = np.full(nx * ny, n_source, dtype=np.int64)
    np.minimum.at(first, ids[nearest], nearest)  # ties: the lowest index
    picks = first[first < n_source]  # one per occupied cell, ordered by cell id
    # Serpentine order (rows alternate direction) keeps neighbouring cells
    # adjacent, so evenly spaced drops are evenly spread over the area.
    pick_row, pick_col = row[picks], col[picks]
    snake = pick_row * nx + np.where(pick_row % 2 == 0, pick_col, nx - 1 - pick_col)
    picks = picks[np.argsort(snake, kind="stable")]
    if picks.size >= n:
        picks = picks[_stratified(picks.size, n)]
    else:
        # Too few distinct cells (duplicates, tight clusters): top up evenly
        # over the acquisition order of the positions not yet chosen.
        rest = np.setdiff1d(np.arange(n_source), picks)
        picks = np.concatenate([picks, rest[_stratified(rest.size, n - picks.size)]])
    return np.sort(picks).astype(np.int64)


def _grid_shape(total: int, wx: float, wy: float) -> tuple[int, int]:
    """Columns and rows of a grid of about ``total`` cells with square-ish cells."""
    if wy == 0:
        return total, 1
    if wx == 0:
        return 1, total
    nx = max(1, round(float(np.sqrt(total * wx / wy))))
    ny = max(1, round(total / nx))
    return nx, ny
