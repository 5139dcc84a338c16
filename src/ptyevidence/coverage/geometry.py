"""Exact planar geometry for scan coverage: convex-hull area and nearest distances.

Plain numpy, so the coverage metrics need not import :mod:`scipy.spatial`
(about 0.3 s per process). Results are exact up to the rounding of individual
distance and orientation tests, and stay fast on 10^5..10^6 scan positions:

* the hull discards points that provably lie inside a polygon of extreme
  points before running a monotone chain over the few that remain;
* the neighbour search puts the targets in the buckets of a uniform grid
  and compares each query with the targets of the 3 x 3 buckets around it.
  That settles nearly every query; the rest (outside the grid, in holes)
  descend through blocks of 2^L x 2^L buckets, keeping only blocks that may
  hold something nearer than the best found. Crowded buckets (clusters,
  repeated positions) get a finer grid of their own.

Everything works on blocks of a few thousand elements: numpy is bound by
memory traffic on larger temporaries, and many small ones are cheaper.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["convex_hull_area", "nearest_distances"]

_EPS = float(np.finfo(np.float64).eps)
#: Points per block of whole-array passes (and rows of (K, _ROWS) projections).
_ROWS = 8192
#: Query-target pairs per block of per-pair index arithmetic.
_PAIRS = 1 << 17
#: Pairs per block of dense (targets x queries) distance matrices.
_DENSE = 1 << 18
#: Query-block pairs per step of the coarse-to-fine descent.
_DESCENT_PAIRS = 1 << 17
#: At or below this many query-target pairs, comparing all of them is cheapest.
_BRUTE_PAIRS = 1 << 16
#: Queries not settled by their 3 x 3 block are compared with all targets up to this many.
_FEW = 1024
#: Mean targets per bucket: at ~2, a query's 3 x 3 block nearly always holds its neighbour.
_PER_BUCKET = 2.0
#: A bucket with more targets than this is searched through a finer grid of its own...
_CROWDED = 64
#: ... nested at most this deep (deeper, crowded buckets are scanned in full).
_MAX_DEPTH = 8
#: With many queries per bucket, queries share candidates in at most this many groups.
_GROUPS = 2048
#: Unsettled queries within a box of this many bucket edges share their candidates...
_CLUSTER_EDGES = 4.0
#: ... when there are at least this many of them.
_CLUSTER_MIN = 8


def _coordinates(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        msg = f"expected two 1-D coordinate arrays of equal length, got shapes {x.shape} and {y.shape}"
        raise ValueError(msg)
    return x, y


def _blocks(n: int, size: int):
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def _length(a, b):
    # Much faster than np.hypot; inputs here are far too small to overflow.
    return np.sqrt(a * a + b * b)


def _union(*arrays) -> np.ndarray:
    """Return the sorted distinct values of the arrays (np.unique would import numpy.ma)."""
    v = np.sort(np.concatenate(arrays))
    return v[np.r_[True, v[1:] != v[:-1]]] if v.size else v


def _magnitude(*arrays: np.ndarray) -> float:
    return max(max(-float(a.min()), float(a.max())) for a in arrays)


# --------------------------------------------------------------------------- hull


def convex_hull_area(x: np.ndarray, y: np.ndarray) -> float:
    """Return the area of the convex hull of 2-D points.

    Parameters
    ----------
    x, y : numpy.ndarray
        ``(N,)`` finite coordinates.

    Returns
    -------
    float
        The enclosed area; 0.0 for fewer than three points and for points
        that are collinear or coincide to within the rounding of the
        coordinates (a few units in the last place of the largest one).

    Raises
    ------
    ValueError
        If ``x`` and ``y`` are not 1-D arrays of equal length.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([0.0, 4.0, 4.0, 0.0, 2.0])  # a 4 x 3 rectangle and its centre
    >>> convex_hull_area(x, np.array([0.0, 0.0, 3.0, 3.0, 1.5]))
    12.0
    >>> convex_hull_area(np.arange(5.0), 2.0 * np.arange(5.0))
    0.0
    """
    x, y = _coordinates(x, y)
    if x.size < 3:
        return 0.0
    # Work on centred coordinates: for large offsets the subtraction is exact,
    # and the cross products and area sums stay well conditioned. Passes over
    # all points go block by block, so temporaries stay small and in cache.
    centre = float(x.mean()), float(y.mean())
    sxx = sxy = syy = radius = 0.0
    for s in _blocks(x.size, _ROWS):
        px, py = x[s] - centre[0], y[s] - centre[1]
        # Elementwise sums: no threaded BLAS call, no thread start-up cost.
        sxx += (px * px).sum()
        sxy += (px * py).sum()
        syy += (py * py).sum()
        radius = max(radius, _magnitude(px, py))
    white = _whitening(sxx, sxy, syy)
    if white is None:
        return 0.0
    # Farther than this from a line is width; closer is rounding of the inputs.
    line_tol = 64 * _EPS * _magnitude(x, y)
    # Extreme points along 8 directions of whitened coordinates (unit
    # covariance): a thin or tilted scan is round there, so the polygon they
    # span has useful width.
    cand = _extremes(x, y, centre, white @ _directions(8))
    cand = _widen(x, y, centre, cand, line_tol)
    if cand is None:
        return 0.0
    # Points safely inside the circle inscribed in that polygon are not hull
    # vertices: this cheap test drops most of a spiral or a raster.
    w_margin = 8 * _EPS * float(np.abs(white).sum(axis=1).max()) * radius
    ring = _outside_inscribed_circle(x, y, centre, white, x[cand], y[cand], w_margin)
    # Same again on what is left, with a finer polygon from 32 directions.
    cand = _union(
        cand, ring[_extremes(x[ring], y[ring], centre, white @ _directions(32))]
    )
    ring = ring[
        _outside_inscribed_circle(
            x[ring], y[ring], centre, white, x[cand], y[cand], w_margin
        )
    ]
    # Exact test for the rest: drop points inside that polygon or within
    # rounding of its boundary, then run the monotone chain on the survivors.
    cx, cy = centre
    vx, vy = _monotone_chain(x[cand] - cx, y[cand] - cy)
    keep = _outside_polygon(
        x[ring] - cx, y[ring] - cy, vx, vy, 16 * _EPS * np.sqrt(2) * radius
    )
    survivors = _union(cand, ring[keep])
    return _shoelace(*_monotone_chain(x[survivors] - cx, y[survivors] - cy))


def _shoelace(x: np.ndarray, y: np.ndarray) -> float:
    """Return the area of a counter-clockwise polygon, to the last bit even for thin ones.

    The terms ``x[i] * y[i+1] - x[i+1] * y[i]`` nearly cancel for thin
    polygons, so each product is split into its rounded value and its
    rounding error (Dekker's two-product) and all are summed exactly.
    """
    terms = [
        *_two_product(x, np.roll(y, -1)),
        *(-t for t in _two_product(np.roll(x, -1), y)),
    ]
    return 0.5 * math.fsum(np.concatenate(terms).tolist())


def _two_product(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``a * b`` rounded and its rounding error, which sum to ``a * b`` exactly."""
    p = a * b

    def split(v):  # high and low halves, each of at most 26 significant bits
        c = 134217729.0 * v  # 2**27 + 1
        hi = c - (c - v)
        return hi, v - hi

    (ah, al), (bh, bl) = split(a), split(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _directions(k: int) -> np.ndarray:
    angle = np.arange(k) * (2.0 * np.pi / k)
    return np.stack([np.cos(angle), np.sin(angle)])


def _whitening(sxx: float, sxy: float, syy: float) -> np.ndarray | None:
    """Symmetric matrix that maps points of these second moments to unit covariance.

    None when the moments vanish (all points coincide).
    """
    lam, vec = np.linalg.eigh(np.array([[sxx, sxy], [sxy, syy]]))
    if lam[1] <= 0:
        return None
    # Stretch by at most 1e6, so an exactly collinear set still gives finite directions.
    scale = 1.0 / np.sqrt(np.maximum(lam, lam[1] * 1e-12))
    return (vec * scale) @ vec.T


def _extremes(x: np.ndarray, y: np.ndarray, centre, dirs: np.ndarray) -> np.ndarray:
    """Return the points that go farthest from ``centre`` along each column of ``dirs``."""
    k = dirs.shape[1]
    best = np.full(k, -np.inf)
    where = np.zeros(k, dtype=np.intp)
    cols = np.arange(k)
    for s in _blocks(x.size, _ROWS):
        proj = np.multiply.outer(dirs[0], x[s] - centre[0])
        proj += np.multiply.outer(dirs[1], y[s] - centre[1])
        j = proj.argmax(axis=1)
        val = proj[cols, j]
        better = val > best
        best[better] = val[better]
        where[better] = j[better] + s.start
    return _union(where)


def _widen(x, y, centre, cand: np.ndarray, line_tol: float) -> np.ndarray | None:
    """Make sure the candidate polygon has width; None when all points are collinear."""
    cx, cy = x[cand] - centre[0], y[cand] - centre[1]
    d2 = (cx[:, None] - cx) ** 2 + (cy[:, None] - cy) ** 2
    i, j = np.unravel_index(np.argmax(d2), d2.shape)
    ax, ay = cx[i], cy[i]
    ex, ey = cx[j] - ax, cy[j] - ay
    length = float(np.hypot(ex, ey))
    if np.abs(ex * (cy - ay) - ey * (cx - ax)).max() > line_tol * length:
        return cand
    # The extremes all lie on one line: find the points farthest on each side of it.
    normal = np.array([[-ey, ey], [ex, -ex]])
    lo, hi = _extremes(x, y, (centre[0] + ax, centre[1] + ay), normal)[[0, -1]]
    far = [
        abs(ex * (y[i] - centre[1] - ay) - ey * (x[i] - centre[0] - ax))
        for i in (lo, hi)
    ]
    if max(far) <= line_tol * length:
        return None
    return _union(cand, [lo, hi])


def _outside_inscribed_circle(x, y, centre, white, vx, vy, margin) -> np.ndarray:
    """Return the points not safely inside the circle inscribed in the hull of ``(vx, vy)``.

    The circle is taken in whitened coordinates (``white`` applied after
    subtracting ``centre``), where ``margin`` bounds their rounding.
    """
    vu, vv = white @ np.stack([vx - centre[0], vy - centre[1]])
    vu, vv = _monotone_chain(vu, vv)
    mu, mv = vu.mean(), vv.mean()
    eu, ev = np.roll(vu, -1) - vu, np.roll(vv, -1) - vv
    rho = float(np.min((eu * (mv - vv) - ev * (mu - vu)) / np.hypot(eu, ev)))
    rho = max(rho * (1 - 1e-9) - 2 * margin, 0.0)  # 0: keep every point
    parts = []
    for s in _blocks(x.size, _ROWS):
        px, py = x[s] - centre[0], y[s] - centre[1]
        u = white[0, 0] * px + white[0, 1] * py - mu
        v = white[1, 0] * px + white[1, 1] * py - mv
        parts.append(np.flatnonzero(u * u + v * v >= rho * rho) + s.start)
    return np.concatenate(parts)


def _outside_polygon(
    px: np.ndarray, py: np.ndarray, vx: np.ndarray, vy: np.ndarray, tol: float
) -> np.ndarray:
    """Mask of the points more than ``tol`` outside the counter-clockwise polygon ``(vx, vy)``."""
    ex, ey = np.roll(vx, -1) - vx, np.roll(vy, -1) - vy
    norm = np.hypot(ex, ey)
    nx, ny = ey / norm, -ex / norm  # outward unit normals
    offset = nx * vx + ny * vy
    keep = np.empty(px.size, dtype=bool)
    for s in _blocks(px.size, _ROWS):
        out = np.multiply.outer(nx, px[s])
        out += np.multiply.outer(ny, py[s])
        out -= offset[:, None]
        keep[s] = out.max(axis=0, initial=-np.inf) > tol
    return keep


def _monotone_chain(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hull vertices, counter-clockwise, without collinear boundary points."""
    order = np.lexsort((y, x))
    x, y = x[order], y[order]
    new = np.ones(x.size, dtype=bool)
    new[1:] = (np.diff(x) != 0) | (np.diff(y) != 0)
    pts = list(zip(x[new].tolist(), y[new].tolist()))

    def half(seq):
        out = []
        for px, py in seq:
            while len(out) >= 2:
                (ax, ay), (bx, by) = out[-2], out[-1]
                if (bx - ax) * (py - ay) - (by - ay) * (px - ax) > 0:
                    break
                out.pop()
            out.append((px, py))
        return out

    hull = half(pts)[:-1] + half(reversed(pts))[:-1] if len(pts) > 2 else pts
    return np.array([p[0] for p in hull]), np.array([p[1] for p in hull])


# ------------------------------------------------------------- nearest neighbours


def nearest_distances(
    qx: np.ndarray,
    qy: np.ndarray,
    tx: np.ndarray,
    ty: np.ndarray,
    exclude: np.ndarray | None = None,
) -> np.ndarray:
    """Return the Euclidean distance from each query point to its nearest target.

    Parameters
    ----------
    qx, qy : numpy.ndarray
        ``(Q,)`` finite query coordinates.
    tx, ty : numpy.ndarray
        ``(T,)`` finite target coordinates.
    exclude : numpy.ndarray, optional
        ``(Q,)`` integer target indices: query ``i`` must not be matched with
        target ``exclude[i]`` (negative entries exclude nothing). With the
        targets as queries and ``exclude=np.arange(T)`` this gives each
        point's distance to its nearest *other* point; a repeated position
        at another index still counts, at distance 0.

    Returns
    -------
    numpy.ndarray
        ``(Q,)`` float64 distances; ``inf`` where no target is eligible.

    Raises
    ------
    ValueError
        If the coordinates are not pairs of equal-length 1-D arrays, or
        ``exclude`` is not a ``(Q,)`` integer array of indices below ``T``.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([0.0, 1.0, 3.0])
    >>> nearest_distances(np.array([2.5, -1.0]), np.zeros(2), t, np.zeros(3)).tolist()
    [0.5, 1.0]
    >>> nearest_distances(t, np.zeros(3), t, np.zeros(3), exclude=np.arange(3)).tolist()
    [1.0, 1.0, 2.0]
    """
    qx, qy = _coordinates(qx, qy)
    tx, ty = _coordinates(tx, ty)
    if exclude is not None:
        exclude = np.asarray(exclude)
        if exclude.shape != qx.shape or exclude.dtype.kind not in "iu":
            msg = f"exclude must be an integer array of shape {qx.shape}, got {exclude.dtype} {exclude.shape}"
            raise ValueError(msg)
        if exclude.size and exclude.max() >= tx.size:
            msg = (
                f"exclude holds index {exclude.max()}, but there are {tx.size} targets"
            )
            raise ValueError(msg)
        exclude = np.maximum(exclude, -1).astype(np.intp)  # every "none" becomes -1
    if qx.size == 0 or tx.size == 0:
        return np.full(qx.size, np.inf)
    if qx.size * tx.size <= _BRUTE_PAIRS:
        return np.sqrt(_dense_sq(tx, ty, None, qx, qy, exclude))
    return np.sqrt(_Grid(tx, ty, depth=0).search_sq(qx, qy, exclude))


def _dense_sq(tx, ty, labels, qx, qy, exclude) -> np.ndarray:
    """Squared distance from each query to the nearest target, comparing every pair.

    Query ``i`` skips the target whose label is ``exclude[i]``; labels
    default to the targets' indices.
    """
    if exclude is not None and labels is None:
        labels = np.arange(tx.size)
    best = np.empty(qx.size)
    for s in _blocks(qx.size, max(1, _DENSE // tx.size)):
        d2 = np.subtract.outer(tx, qx[s])
        d2 *= d2
        dy = np.subtract.outer(ty, qy[s])
        dy *= dy
        d2 += dy
        if exclude is not None:
            d2[labels[:, None] == exclude[s]] = np.inf
        best[s] = d2.min(axis=0)
    return best


def _bucket_edge(w: float, h: float, buckets: float) -> float:
    """Edge ``s`` with ``(1 + w/s) * (1 + h/s) == buckets``: suits squares, strips and lines."""
    if buckets <= 1:
        return 2.0 * max(w, h)
    a, b = buckets - 1.0, w + h
    return float((b + np.sqrt(b * b + 4.0 * a * w * h)) / (2.0 * a))


class _Grid:
    """Targets on a uniform grid of square buckets, sorted by bucket (row-major).

    The grid spans the targets' bounding box with about ``_PER_BUCKET``
    targets per bucket, so its size is linear in the targets whatever their
    extent or aspect ratio. Excluded targets are given by their index in
    ``tx``/``ty`` (-1: none).
    """

    def __init__(self, tx: np.ndarray, ty: np.ndarray, depth: int):
        self.tx, self.ty, self.depth = tx, ty, depth
        self.x0, self.y0 = float(tx.min()), float(ty.min())
        w, h = float(tx.max()) - self.x0, float(ty.max()) - self.y0
        self.point = w == 0 and h == 0  # all targets at one position
        if self.point:
            return
        self.edge = _bucket_edge(w, h, tx.size / _PER_BUCKET)
        self.nx, self.ny = int(w / self.edge) + 1, int(h / self.edge) + 1
        self.ids = self._cells(tx, ty)
        # Order within a bucket is irrelevant, so the fast unstable sort will do.
        self.order = np.argsort(self.ids)
        self.counts = counts = np.bincount(self.ids, minlength=self.nx * self.ny)
        crowded = (
            counts > _CROWDED if depth < _MAX_DEPTH else np.zeros(counts.size, bool)
        )
        self.crowded = np.flatnonzero(crowded)
        # Crowded bucket -> its targets, their bounding box, their own grid.
        self.sub: dict[int, tuple] = {}
        self.light = self.order
        self.full_start = self.start = np.concatenate([[0], np.cumsum(counts)])
        if self.crowded.size:
            # Crowded buckets leave the main arrays; each is searched on its own grid.
            self.light = self.order[~crowded[self.ids[self.order]]]
            self.start = np.concatenate([[0], np.cumsum(np.where(crowded, 0, counts))])
        self.xs, self.ys = tx[self.light], ty[self.light]

    def _cells(self, x: np.ndarray, y: np.ndarray, g: int = 1) -> np.ndarray:
        """Row-major id of the bucket holding each point, or of its group of g x g buckets.

        Points outside the grid count as in the nearest bucket.
        """
        ngx = -(-self.nx // g)
        # int32 ids sort faster; blocks keep the temporaries in cache.
        ids = np.empty(x.size, np.int32 if self.nx * self.ny < 2**31 else np.int64)
        for s in _blocks(x.size, _ROWS):
            col = np.clip(np.floor((x[s] - self.x0) / self.edge), 0, self.nx - 1)
            row = np.clip(np.floor((y[s] - self.y0) / self.edge), 0, self.ny - 1)
            if g > 1:  # exact for integers; float // is much slower
                col, row = np.floor(col / g), np.floor(row / g)
            ids[s] = row * ngx + col
        return ids

    def _positions(self, exclude: np.ndarray) -> np.ndarray:
        """Where each excluded target sits in the light arrays (-1: none, or crowded)."""
        pos = np.full(exclude.size, -1, dtype=np.intp)
        has = np.flatnonzero(exclude >= 0)
        e = exclude[has]
        first = self.start[self.ids[e]]
        n = self.start[self.ids[e] + 1] - first
        # Buckets hold a few targets each: try every slot of the excluded target's bucket.
        for j in range(int(n.max(initial=0))):
            at = np.minimum(first + j, self.light.size - 1)
            hit = (j < n) & (self.light[at] == e)
            pos[has[hit]] = at[hit]
        return pos

    def search_sq(self, qx, qy, exclude, bound=None) -> np.ndarray:
        """Squared distance from each query to its nearest eligible target.

        With ``bound`` (squared distances), return the smaller of it and the
        answer: targets beyond it need not be looked at.
        """
        best = np.full(qx.size, np.inf) if bound is None else bound.copy()
        if self.point:
            d2 = (qx - self.x0) ** 2 + (qy - self.y0) ** 2
            if exclude is not None and self.tx.size == 1:
                d2[exclude == 0] = np.inf
            return np.minimum(best, d2)
        nx, ny = self.nx, self.ny
        pos = None if exclude is None else self._positions(exclude)
        g = int(np.ceil(np.sqrt(nx * ny / _GROUPS)))
        if g <= 2 and qx.size >= 16 * nx * ny / g**2:
            # Many queries per bucket: the queries of a g x g group of buckets
            # share their candidates, compared densely (no per-pair indexing).
            active = self._grouped(g, qx, qy, exclude, pos, best)
        else:
            # Each query's 3 x 3 block of buckets, queries in bucket order so
            # that neighbouring queries read neighbouring targets (far fewer
            # cache misses on large sets).
            ids = self._cells(qx, qy)
            active = np.argsort(ids)
            row, col = np.divmod(ids[active], nx)
            box = (
                np.maximum(col - 1, 0),
                np.minimum(col + 1, nx - 1),
                np.maximum(row - 1, 0),
                np.minimum(row + 1, ny - 1),
            )
            self._visit(active, box, qx, qy, exclude, pos, best, own=ids[active])
            active = self._unsettled(active, box, qx, qy, best)
        # The rest lie outside the grid, in holes or next to empty buckets:
        # compare them with every target if that is cheap, else search
        # coarse-to-fine through blocks of buckets.
        if active.size * self.tx.size <= _BRUTE_PAIRS or self.tx.size <= _FEW:
            e = None if exclude is None else exclude[active]
            found = _dense_sq(self.tx, self.ty, None, qx[active], qy[active], e)
            best[active] = np.minimum(best[active], found)
        elif active.size:
            self._search_rest(active, qx, qy, exclude, pos, best)
        return best

    def _gaps(self, qu, qv, c0, c1, r0, r1):
        """Distances, in bucket edges, from queries to the grid beyond each side of their box.

        The box spans bucket columns ``c0..c1`` and rows ``r0..r1``. Beyond
        its left side lie all columns before ``c0``, and so on; the four
        distances (left, right, below, above) are inf where the box reaches
        the grid's edge. Every target outside the box is at least the
        smallest of them away.
        """
        nx, ny = self.nx, self.ny
        # Distance from the query to the grid's column range, and to its row range.
        gx = np.maximum(np.maximum(-qu, qu - nx), 0.0)
        gy = np.maximum(np.maximum(-qv, qv - ny), 0.0)
        return (
            np.where(c0 > 0, _length(qu - c0, gy), np.inf),
            np.where(c1 < nx - 1, _length(c1 + 1 - qu, gy), np.inf),
            np.where(r0 > 0, _length(qv - r0, gx), np.inf),
            np.where(r1 < ny - 1, _length(r1 + 1 - qv, gx), np.inf),
        )

    def _slack(self, qu, qv) -> np.ndarray:
        """Margin, in bucket edges, far above the rounding of the bucket arithmetic."""
        return 1e-6 + 1e-12 * (self.nx + self.ny + np.abs(qu) + np.abs(qv))

    def _unsettled(self, active, box, qx, qy, best) -> np.ndarray:
        """Return the queries whose nearest target may lie outside the box they searched."""
        out = [active[:0]]
        for s in _blocks(active.size, _ROWS):
            q = active[s]
            qu, qv = (qx[q] - self.x0) / self.edge, (qy[q] - self.y0) / self.edge
            gaps = self._gaps(qu, qv, *(b[s] for b in box))
            gap = np.min(gaps, axis=0) - self._slack(qu, qv)
            out.append(q[np.sqrt(best[q]) > self.edge * gap])
        return np.concatenate(out)

    def _grouped(self, g, qx, qy, exclude, pos, best):
        """Search each group of g x g buckets plus a one-bucket border, for its queries.

        Returns the queries whose nearest target may lie outside that box.
        """
        nx, ny = self.nx, self.ny
        ngx = -(-nx // g)
        n_groups = ngx * -(-ny // g)
        gid = self._cells(qx, qy, g)
        # Radix sort for 16-bit keys: a fraction of a comparison sort's time.
        order = np.argsort(
            gid.astype(np.uint16) if n_groups <= 1 << 16 else gid, kind="stable"
        )
        ends = np.cumsum(np.bincount(gid, minlength=n_groups))
        sx, sy = qx[order], qy[order]
        sp = None if exclude is None else pos[order]
        unsettled = [order[:0]]
        for k in np.flatnonzero(np.diff(ends, prepend=0)).tolist():
            part = slice(ends[k - 1] if k else 0, ends[k])
            col, row = (k % ngx) * g, (k // ngx) * g
            c0, c1, r0, r1 = (
                max(col - 1, 0),
                min(col + g, nx - 1),
                max(row - 1, 0),
                min(row + g, ny - 1),
            )
            runs = [
                (self.start[r * nx + c0], self.start[r * nx + c1 + 1])
                for r in range(r0, r1 + 1)
            ]
            cand = np.concatenate([np.arange(a, b) for a, b in runs])
            q = order[part]
            if cand.size:
                p = None if sp is None else sp[part]
                found = _dense_sq(
                    self.xs[cand], self.ys[cand], cand, sx[part], sy[part], p
                )
                best[q] = np.minimum(best[q], found)
            if self.crowded.size:
                ids = [r * nx + c for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)]
                ks = np.flatnonzero(np.isin(self.crowded, ids))
                # The group's own buckets first: what they hold prunes the others.
                ks = ks[
                    np.argsort(
                        ~np.isin(self.crowded[ks] // nx, range(row, row + g))
                        | ~np.isin(self.crowded[ks] % nx, range(col, col + g)),
                        kind="stable",
                    )
                ]
                for kc in ks.tolist():
                    self._crowded_update(kc, q, qx, qy, exclude, best)
            qu, qv = (sx[part] - self.x0) / self.edge, (sy[part] - self.y0) / self.edge
            gaps = self._gaps(qu, qv, c0, c1, r0, r1)
            gap = np.min(gaps, axis=0) - self._slack(qu, qv)
            unsettled.append(q[np.sqrt(best[q]) > self.edge * gap])
        return np.concatenate(unsettled)

    def _visit(self, q, box, qx, qy, exclude, pos, best, own) -> None:
        """Compare each query with the targets in its box of buckets (c0, c1, r0, r1).

        ``own`` is each query's bucket: crowded ones are searched first.
        """
        nx = self.nx
        c0, c1, r0, r1 = box
        n_rows = int((r1 - r0).max(initial=0)) + 1
        # Blocks of about _PAIRS pairs: one run per row, ~6 targets per run.
        for s in _blocks(q.size, max(1, _PAIRS // (6 * n_rows))):
            row = r0[s, None] + np.arange(n_rows)
            valid = row <= r1[s, None]
            row = np.minimum(row, r1[s, None])
            lo, hi = row * nx + c0[s, None], row * nx + c1[s, None] + 1
            first = self.start[lo]
            count = np.where(valid, self.start[hi] - first, 0)
            self._scan(q[s], first, count, qx, qy, pos, best)
            if self.crowded.size:
                k0 = np.searchsorted(self.crowded, lo)
                kn = np.where(valid, np.searchsorted(self.crowded, hi) - k0, 0)
                self._scan_crowded(q[s], k0, kn, qx, qy, exclude, best, own[s])

    def _pyramid(self) -> list[tuple[np.ndarray, ...]]:
        """Per bucket, then per 2x2, 4x4, ... block of buckets, up to one block.

        Each level holds its width in blocks and, per block, the target count,
        two distinct targets (-1 where the block holds fewer) and the bounding
        box of its targets (in bucket edges). The two targets give upper
        bounds on the distance from a query to the block's nearest target
        (with two, one is never the query's excluded target); the box gives a
        lower bound.
        """
        if hasattr(self, "levels"):
            return self.levels
        self.tu = (self.tx - self.x0) / self.edge  # target coordinates in bucket edges
        self.tv = (self.ty - self.y0) / self.edge
        shape = (self.ny, self.nx)
        count = self.counts.reshape(shape)
        at = self.full_start[:-1]
        held = np.flatnonzero(self.counts)
        named = np.full(shape + (2,), -1)
        named.reshape(-1, 2)[held, 0] = self.order[at[held]]
        two = held[self.counts[held] > 1]
        named.reshape(-1, 2)[two, 1] = self.order[at[two] + 1]
        box = np.empty(shape + (4,))
        box[...] = [np.inf, -np.inf, np.inf, -np.inf]
        for k, (coord, pick) in enumerate(
            [
                (self.tu, np.minimum),
                (self.tu, np.maximum),
                (self.tv, np.minimum),
                (self.tv, np.maximum),
            ]
        ):
            box.reshape(-1, 4)[held, k] = pick.reduceat(coord[self.order], at[held])
        levels = []
        while True:
            levels.append(
                (
                    count.shape[1],
                    count.ravel(),
                    named[..., 0].ravel(),
                    named[..., 1].ravel(),
                )
                + tuple(box[..., k].ravel() for k in range(4))
            )
            if count.size == 1:
                break
            h, w = count.shape
            pad = ((0, h % 2), (0, w % 2))
            quads = ((h + 1) // 2, 2, (w + 1) // 2, 2)
            count = np.pad(count, pad).reshape(quads).sum(axis=(1, 3))
            # Of the children's named targets (distinct, or -1), keep the two largest.
            named = np.pad(named, pad + ((0, 0),), constant_values=-1).reshape(
                quads + (2,)
            )
            named = np.sort(
                named.transpose(0, 2, 1, 3, 4).reshape(count.shape + (8,)), axis=-1
            )[..., :5:-1]
            box = np.pad(box, pad + ((0, 0),), constant_values=np.nan).reshape(
                quads + (4,)
            )
            box = np.stack(
                [
                    np.fmin.reduce(box[..., 0], axis=(1, 3)),
                    np.fmax.reduce(box[..., 1], axis=(1, 3)),
                    np.fmin.reduce(box[..., 2], axis=(1, 3)),
                    np.fmax.reduce(box[..., 3], axis=(1, 3)),
                ],
                axis=-1,
            )
        self.levels = levels
        return levels

    def _search_rest(self, active, qx, qy, exclude, pos, best) -> None:
        """Exact search for the queries that the first pass left unsettled.

        Queries within a few bucket edges of each other form clusters that
        share one candidate set, compared densely; the others are searched
        one by one. The candidates come from a descent through blocks of
        buckets (``_descend``), for the box around a cluster or for a point.
        """
        edge = self.edge
        qu, qv = (qx[active] - self.x0) / edge, (qy[active] - self.y0) / edge
        ku, kv = np.floor(qu / _CLUSTER_EDGES), np.floor(qv / _CLUSTER_EDGES)
        order = np.lexsort((kv, ku))
        active, qu, qv = active[order], qu[order], qv[order]
        runs = np.flatnonzero(
            np.r_[True, (np.diff(ku[order]) != 0) | (np.diff(kv[order]) != 0)]
        )
        size = np.diff(np.r_[runs, active.size])
        big = size >= _CLUSTER_MIN
        # Positions (in the new order) of the queries searched alone.
        alone = np.flatnonzero(~np.repeat(big, size))

        def per_search(values, reduce):
            # One value per search: each lone query's own, then each cluster's reduced.
            return np.r_[values[alone], reduce.reduceat(values, runs)[big]]

        u0, u1 = per_search(qu, np.minimum), per_search(qu, np.maximum)
        v0, v1 = per_search(qv, np.minimum), per_search(qv, np.maximum)
        # An upper bound on the answer of every query of a search, in bucket edges.
        bound = per_search(np.sqrt(best[active]) / edge, np.maximum)
        excl = np.full(u0.size, -1)
        if exclude is not None:
            excl[: alone.size] = exclude[active[alone]]
            excl[alone.size :] = -2  # a cluster's queries exclude different targets
        clusters = [
            active[a : a + n] for a, n in zip(runs[big].tolist(), size[big].tolist())
        ]
        for rid, cell in self._descend(u0, u1, v0, v1, excl, bound):
            lone = rid < alone.size
            q, buckets = active[alone[rid[lone]]], cell[lone]
            first = self.start[buckets][:, None]
            self._scan(
                q, first, self.start[buckets + 1][:, None] - first, qx, qy, pos, best
            )
            if self.crowded.size:
                k0 = np.minimum(
                    np.searchsorted(self.crowded, buckets), self.crowded.size - 1
                )
                kn = (self.crowded[k0] == buckets)[:, None].astype(np.intp)
                self._scan_crowded(q, k0[:, None], kn, qx, qy, exclude, best, None)
            # What was found bounds the answers still to come (other blocks, other levels).
            np.minimum.at(bound, rid[lone], np.sqrt(best[q]) / edge)
            rid, cell = rid[~lone] - alone.size, cell[~lone]
            if not rid.size:
                continue
            cuts = np.flatnonzero(np.diff(rid)) + 1
            for c, buckets in zip(rid[np.r_[0, cuts]].tolist(), np.split(cell, cuts)):
                members = clusters[c]
                self._search_cluster(members, buckets, qx, qy, exclude, pos, best)
                reach = np.sqrt(best[members].max()) / edge
                bound[alone.size + c] = min(bound[alone.size + c], reach)

    def _search_cluster(self, q, buckets, qx, qy, exclude, pos, best) -> None:
        """Compare queries ``q`` with every target in ``buckets``, densely."""
        first, last = self.start[buckets], self.start[buckets + 1]
        n = last - first
        cand = np.arange(int(n.sum())) + np.repeat(first - (np.cumsum(n) - n), n)
        if cand.size:
            p = None if pos is None else pos[q]
            found = _dense_sq(self.xs[cand], self.ys[cand], cand, qx[q], qy[q], p)
            best[q] = np.minimum(best[q], found)
        if self.crowded.size:
            for b in buckets[np.isin(buckets, self.crowded)].tolist():
                k = int(np.searchsorted(self.crowded, b))
                self._crowded_update(k, q, qx, qy, exclude, best)

    def _descend(self, u0, u1, v0, v1, excl, bound):
        """Yield the buckets that may hold the nearest target of each box, as (box, bucket) pairs.

        Boxes (in bucket edges; a query is a box of size 0) go down through
        blocks of 2^L x 2^L buckets, coarse to fine, keeping the blocks that
        may hold a target nearer than ``bound`` (updated in place as blocks'
        named targets, or the caller, find nearer ones). ``excl`` is each
        box's excluded target: -1 for none, -2 for unknown (clusters).
        """
        levels = self._pyramid()
        any_excl = bool((excl != -1).any())
        mag = np.maximum(
            np.maximum(np.abs(u0), np.abs(u1)), np.maximum(np.abs(v0), np.abs(v1))
        )
        slack = 2 * self._slack(mag, 0.0)
        zero = np.zeros(u0.size, np.intp)
        stack = [(len(levels) - 1, np.arange(u0.size), zero, zero)]
        while stack:
            level, rid, cx, cy = stack.pop()
            if rid.size > _DESCENT_PAIRS:
                # Depth first in halves, so the pairs stay bounded in memory.
                h = rid.size // 2
                stack += [
                    (level, rid[h:], cx[h:], cy[h:]),
                    (level, rid[:h], cx[:h], cy[:h]),
                ]
                continue
            width, _, t1, t2, lo_u, hi_u, lo_v, hi_v = levels[level]
            cell = cy * width + cx
            a0, a1, b0, b1 = u0[rid], u1[rid], v0[rid], v1[rid]
            # Upper bound: the farthest a box's point can be from a named target
            # of the block that none of its queries excludes.
            t1 = t1[cell]
            upper = self._farthest(t1, a0, a1, b0, b1)
            if any_excl:
                e, t2 = excl[rid], t2[cell]
                d2 = np.where(t2 >= 0, self._farthest(t2, a0, a1, b0, b1), np.inf)
                upper = np.where(
                    t1 == e, d2, np.where(e == -2, np.maximum(upper, d2), upper)
                )
            np.minimum.at(bound, rid, upper)
            # Lower bound: the distance between the box and the block's targets.
            dx = np.maximum(np.maximum(lo_u[cell] - a1, a0 - hi_u[cell]), 0)
            dy = np.maximum(np.maximum(lo_v[cell] - b1, b0 - hi_v[cell]), 0)
            keep = np.flatnonzero(_length(dx, dy) <= bound[rid] + slack[rid])
            rid, cx, cy = rid[keep], cx[keep], cy[keep]
            if level == 0:
                yield rid, cell[keep]
                continue
            # The children of each kept block that hold targets, in the same order.
            c_width, c_count = levels[level - 1][:2]
            ccx = (2 * cx[:, None] + [0, 1, 0, 1]).ravel()
            ccy = (2 * cy[:, None] + [0, 0, 1, 1]).ravel()
            child = np.flatnonzero((ccx < c_width) & (ccy < c_count.size // c_width))
            child = child[c_count[ccy[child] * c_width + ccx[child]] > 0]
            stack.append((level - 1, rid[child >> 2], ccx[child], ccy[child]))

    def _farthest(self, t, u0, u1, v0, v1) -> np.ndarray:
        """Distance, in bucket edges, from targets ``t`` to the farthest point of boxes."""
        tu, tv = self.tu[t], self.tv[t]
        return _length(
            np.maximum(np.abs(tu - u0), np.abs(tu - u1)),
            np.maximum(np.abs(tv - v0), np.abs(tv - v1)),
        )

    def _scan(self, q, first, count, qx, qy, pos, best) -> None:
        """Compare queries with runs of sorted light targets; ``first``/``count`` are (n, runs)."""
        owner = np.repeat(q, count.shape[1])
        first, count = first.ravel(), count.ravel()
        nz = count > 0
        owner, first, count = owner[nz], first[nz], count[nz]
        if not count.size:
            return
        ends = np.cumsum(count)
        total = int(ends[-1])
        for p0 in range(0, total, _PAIRS):
            # The runs overlapping pairs [p0, p1), cut to that window.
            p1 = min(p0 + _PAIRS, total)
            i0 = np.searchsorted(ends, p0, side="right")
            i1 = np.searchsorted(ends, p1, side="left") + 1
            run_end, run_len = ends[i0:i1], count[i0:i1]
            cut = np.maximum(run_end - run_len, p0)
            n = np.minimum(run_end, p1) - cut
            offset = np.cumsum(n) - n
            target = np.arange(p1 - p0) + np.repeat(
                first[i0:i1] + (cut - run_end + run_len) - offset, n
            )
            who = owner[i0:i1]
            dx = self.xs[target]
            dx -= np.repeat(qx[who], n)
            dy = self.ys[target]
            dy -= np.repeat(qy[who], n)
            dx *= dx
            dy *= dy
            dx += dy
            if pos is not None:
                dx[target == np.repeat(pos[who], n)] = np.inf
            # One minimum per query (its runs are consecutive) rather than per run.
            new = np.flatnonzero(np.r_[True, who[1:] != who[:-1]])
            np.minimum.at(best, who[new], np.minimum.reduceat(dx, offset[new]))

    def _scan_crowded(self, q, k0, kn, qx, qy, exclude, best, own) -> None:
        """Search the crowded buckets that fall in the visited spans, one bucket at a time.

        Queries look in their ``own`` bucket (if given) before their neighbours'.
        """
        owner = np.repeat(q, kn.shape[1])
        mine = None if own is None else np.repeat(own, kn.shape[1])
        k0, kn = k0.ravel(), kn.ravel()
        nz = kn > 0
        owner, k0, kn = owner[nz], k0[nz], kn[nz]
        if not kn.size:
            return
        offset = np.cumsum(kn) - kn
        k = np.arange(int(kn.sum())) + np.repeat(k0 - offset, kn)
        who = np.repeat(owner, kn)
        key = k.copy()
        if mine is not None:
            key[self.crowded[k] != np.repeat(mine[nz], kn)] += self.crowded.size
        order = np.argsort(key, kind="stable")
        key, k, who = key[order], k[order], who[order]
        cuts = np.flatnonzero(np.diff(key)) + 1
        for kc, qs in zip(k[np.r_[0, cuts]].tolist(), np.split(who, cuts)):
            self._crowded_update(kc, qs, qx, qy, exclude, best)

    def _crowded_update(self, k, q, qx, qy, exclude, best) -> None:
        """Lower ``best`` of queries ``q`` to their distance to crowded bucket ``k``'s targets."""
        if k not in self.sub:
            b = int(self.crowded[k])
            # Members in index order, so excluded indices can be found by bisection.
            members = np.sort(self.order[self.full_start[b] : self.full_start[b + 1]])
            tx, ty = self.tx[members], self.ty[members]
            self.sub[k] = members, (tx.min(), tx.max(), ty.min(), ty.max()), None
        members, (x0, x1, y0, y1), sub = self.sub[k]
        # Only queries that the bucket's bounding box may bring closer.
        near = _length(
            np.maximum(np.maximum(x0 - qx[q], qx[q] - x1), 0),
            np.maximum(np.maximum(y0 - qy[q], qy[q] - y1), 0),
        )
        q = q[near * near < best[q]]
        if not q.size:
            return
        local = None
        if exclude is not None:
            at = np.minimum(np.searchsorted(members, exclude[q]), members.size - 1)
            local = np.where(members[at] == exclude[q], at, -1)
        if q.size * members.size <= _BRUTE_PAIRS:
            found = _dense_sq(
                self.tx[members], self.ty[members], None, qx[q], qy[q], local
            )
            best[q] = np.minimum(best[q], found)
            return
        if sub is None:
            sub = _Grid(self.tx[members], self.ty[members], self.depth + 1)
            self.sub[k] = members, (x0, x1, y0, y1), sub
        best[q] = sub.search_sq(qx[q], qy[q], local, best[q])
