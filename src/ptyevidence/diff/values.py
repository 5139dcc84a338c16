"""Count the values and rows in which two equally shaped arrays differ, block by block."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["ValueDifferences", "comparable"]

#: Values compared per step; bounds the temporaries to a few MiB per operand.
STEP = 2**20
_NUMERIC = "biufc"


def comparable(a: np.dtype, b: np.dtype) -> bool:
    """Return True when values of dtypes ``a`` and ``b`` can be compared.

    Numbers compare with numbers (after promotion), text with text of the
    same kind; anything else (records, bytes against numbers) does not.

    Examples
    --------
    >>> comparable(np.dtype("f4"), np.dtype("i8")), comparable(np.dtype("U3"), np.dtype("f8"))
    (True, False)
    """
    a, b = np.dtype(a), np.dtype(b)
    if a.names is not None or b.names is not None:
        return False
    if a.kind in _NUMERIC and b.kind in _NUMERIC:
        return True
    return a.kind == b.kind and a.kind in "USM"


@dataclass
class ValueDifferences:
    """Differences between two arrays of one shape, fed as aligned flat blocks.

    A value of B differs from A's when ``|b - a| > atol + rtol * max(|a|, |b|)``
    (NaN equals NaN; with both tolerances 0, when ``a != b``). The relative
    difference is ``|b - a| / max(|a|, |b|)``: symmetric, and at most 2 for
    real numbers.

    Parameters
    ----------
    shape : sequence of int
        Shape of both arrays; rows are entries along the first axis.
    fortran : bool
        True when the blocks come in Fortran (column-major) order.
    rtol, atol : float
        Tolerances; 0 and 0 ask for equality.

    Attributes
    ----------
    values : int
        Values that differ.
    rows : int
        Rows holding at least one differing value.
    first_row : int or None
        Lowest differing row.
    max_abs, max_rel : float
        Largest finite absolute and relative difference of the differing values.
    nonfinite : int
        Differing values whose difference is not finite (NaN against a
        number, opposite infinities).

    Examples
    --------
    >>> a = np.zeros((3, 2)); b = a.copy(); b[1, 1] = 0.5
    >>> d = ValueDifferences(a.shape)
    >>> d.update(a.reshape(-1), b.reshape(-1))
    >>> d.values, d.rows, d.first_row, d.max_abs
    (1, 1, 1, 0.5)
    """

    shape: Sequence[int]
    fortran: bool = False
    rtol: float = 0.0
    atol: float = 0.0
    values: int = 0
    rows: int = 0
    first_row: int | None = None
    max_abs: float = 0.0
    max_rel: float = 0.0
    nonfinite: int = 0

    def __post_init__(self) -> None:
        shape = tuple(int(s) for s in self.shape)
        self.n_rows = shape[0] if shape else 1
        self._row_items = max(1, math.prod(shape[1:])) if shape else 1
        self._offset = 0
        self._last_row = -1
        # Fortran order visits rows over and over: mark them instead of counting runs.
        self._marks = np.zeros(self.n_rows, bool) if self.fortran and len(shape) > 1 else None

    def update(self, a: np.ndarray, b: np.ndarray) -> None:
        """Fold the next aligned blocks of A and B (flat, equal length) into the counts."""
        for start in range(0, a.size, STEP):
            x, y = a[start : start + STEP], b[start : start + STEP]
            where = self._differing(x, y)
            if where.size:
                self._count_rows(where + self._offset + start)
        self._offset += a.size

    def _differing(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Return the positions in ``x`` whose value differs from ``y`` beyond the tolerance."""
        unequal = x != y
        if not unequal.any():
            return np.empty(0, np.int64)
        where = np.flatnonzero(unequal)
        if x.dtype.kind not in _NUMERIC or y.dtype.kind not in _NUMERIC:
            self.values += where.size
            return where
        xs, ys = x[where], y[where]
        if xs.dtype.kind in "fc" and ys.dtype.kind in "fc":
            real = ~(np.isnan(xs) & np.isnan(ys))
            where, xs, ys = where[real], xs[real], ys[real]
        common = np.result_type(xs.dtype, ys.dtype, np.float64)
        xs, ys = xs.astype(common), ys.astype(common)
        with np.errstate(invalid="ignore", over="ignore"):
            gap = np.abs(ys - xs)
            scale = np.maximum(np.abs(xs), np.abs(ys))
            beyond = ~(gap <= self.atol + self.rtol * scale)
        where, gap, scale = where[beyond], gap[beyond], scale[beyond]
        finite = np.isfinite(gap)
        self.nonfinite += int(np.count_nonzero(~finite))
        if finite.any():
            gap, scale = gap[finite], scale[finite]
            self.max_abs = max(self.max_abs, float(gap.max()))
            self.max_rel = max(self.max_rel, float((gap / scale).max()))
        self.values += where.size
        return where

    def _count_rows(self, flat: np.ndarray) -> None:
        if self._marks is not None:
            self._marks[flat % self.n_rows] = True
            return
        rows = flat // self._row_items  # ascending: blocks arrive in order
        fresh = np.unique(rows[rows > self._last_row])
        if fresh.size:
            if self.first_row is None:
                self.first_row = int(fresh[0])
            self.rows += fresh.size
            self._last_row = int(fresh[-1])

    def finish(self) -> ValueDifferences:
        """Settle the row counts (needed after Fortran-order blocks); return self."""
        if self._marks is not None:
            self.rows = int(np.count_nonzero(self._marks))
            self.first_row = int(np.argmax(self._marks)) if self.rows else None
        return self

    @property
    def same(self) -> bool:
        """True when no value differs beyond the tolerance."""
        return self.values == 0
