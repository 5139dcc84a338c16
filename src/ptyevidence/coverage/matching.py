"""Which source positions a fixture holds: from its sidecar, or by matching positions.

Sidecar indices are checked against the source (count, range, repeats, each
fixture row at its recorded position); without a sidecar, positions are matched
exactly. Either way a :class:`Subset`'s ``indices`` feed ``scan_coverage``.

Examples
--------
>>> import numpy as np
>>> source = ScanPositions("scan.npz", "npz", "object pixels", np.arange(4.0), np.zeros(4))
>>> fixture = ScanPositions("fx.npz", "npz", "object pixels", np.array([3.0, 1.0]), np.zeros(2))
>>> match_positions(fixture, source).tolist()
[3, 1]
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..exceptions import InputError
from .metrics import _check_positions

if TYPE_CHECKING:
    from ..readers.base import Source

__all__ = [
    "ScanPositions",
    "Subset",
    "match_positions",
    "match_subset",
    "read_positions",
    "subset_from_sidecar",
]

PathLike = str | os.PathLike
#: How a :func:`match_positions` error points to the other way in (the CLI names its flag).
FROM_SIDECAR = "or read its sidecar with subset_from_sidecar()"


@dataclass(frozen=True, eq=False)
class ScanPositions:
    """Scan positions of one file, with where they came from.

    Attributes
    ----------
    path, format, units : str
        The file as given, its format (``"npz"``, ``"cxi"``...) and the positions' unit.
    x, y : numpy.ndarray
        ``(N,)`` float64 positions, all finite.
    geometry : str or None
        For positions converted from metres (CXI): the geometry and pixel size used, and whether assumed.
    """

    path: str
    format: str
    units: str
    x: np.ndarray
    y: np.ndarray
    geometry: str | None = None

    def __fspath__(self) -> str:
        """Return the file: positions already read stand wherever its path is taken."""
        return self.path


@dataclass(frozen=True, eq=False)
class Subset:
    """Source indices of a subset and how they were found.

    Attributes
    ----------
    indices : numpy.ndarray
        ``(n,)`` int64 distinct source indices, in fixture row order.
    origin : {"sidecar", "positions"}
        Read from a sidecar, or found by matching positions exactly.
    path, sidecar : str, str or None
        The fixture (the sidecar, when given directly), and the sidecar the indices came from.
    """

    indices: np.ndarray
    origin: str
    path: str
    sidecar: str | None


def read_positions(
    path: PathLike,
    minimum: int = 2,
    reader: str | None = None,
    positions_from: PathLike | None = None,
    geometry: str | None = None,
    sample_pixel_size: float | None = None,
) -> ScanPositions:
    """Read the ``xcoords``/``ycoords`` of a dataset (NPZ or CXI) as float64.

    Parameters
    ----------
    path : str or path
        The dataset; only its positions are read.
    minimum : int
        Fewest positions accepted.
    reader, positions_from, geometry, sample_pixel_size
        As for :func:`ptyevidence.readers.open_source`.

    Returns
    -------
    ScanPositions
        The positions, their format and units.

    Raises
    ------
    InputError
        If the file cannot be read, or its positions are not ``minimum`` or more finite ``(N,)`` pairs.
    """
    from ..readers.registry import open_source

    if isinstance(path, ScanPositions):
        return path
    with open_source(path, reader, positions_from, geometry, sample_pixel_size) as src:
        return source_positions(src, os.fspath(path), minimum)


def source_positions(src: Source, path: str, minimum: int = 2) -> ScanPositions:
    """Read the positions of an open source, checked as :func:`read_positions` does."""
    from ..readers.common import read_real

    x, y = _check_positions(read_real(src, "xcoords"), read_real(src, "ycoords"), minimum, path)
    return ScanPositions(path, src.format, src.position_units, x, y, src.position_statement())


def subset_from_sidecar(source: ScanPositions | PathLike, sidecar: PathLike) -> Subset:
    """Return the subset a fixture sidecar records, checked against its source.

    Parameters
    ----------
    source : ScanPositions or str or path
        The source scan (read with :func:`read_positions` when a path).
    sidecar : str or path
        JSON sidecar written by ``fixture make``.

    Returns
    -------
    Subset
        The sidecar's ``indices``, with ``origin="sidecar"``.

    Raises
    ------
    InputError
        If the sidecar is missing or damaged, or does not fit the source.
    """
    source = read_positions(source)
    sidecar = os.fspath(sidecar)
    return Subset(_sidecar_indices(sidecar, source), "sidecar", sidecar, sidecar)


def match_subset(source: ScanPositions | PathLike, fixture: PathLike) -> Subset:
    """Return the source indices of a fixture's positions.

    From the sidecar beside the fixture (``.json``) when there is one, each fixture
    row at its recorded source position; else by :func:`match_positions`.

    Parameters
    ----------
    source : ScanPositions or str or path
        The scan the fixture was cut from (read when a path).
    fixture : str or path
        The fixture dataset (NPZ or CXI).

    Returns
    -------
    Subset
        Indices in fixture row order; ``origin`` says how they were found.

    Raises
    ------
    InputError
        If the fixture or its sidecar cannot be used or does not belong to the source.
    """
    from ..fixture.sidecar import default_metadata_path

    source = read_positions(source)
    positions = read_positions(fixture, minimum=1)
    sidecar = default_metadata_path(positions.path)
    if os.path.isfile(sidecar):
        indices = _sidecar_indices(sidecar, source)
        _check_fixture_rows(positions, sidecar, source, indices)
        return Subset(indices, "sidecar", positions.path, sidecar)
    return Subset(match_positions(positions, source), "positions", positions.path, None)


def match_positions(fixture: ScanPositions, source: ScanPositions) -> np.ndarray:
    """Return the source index of each fixture position, by exact coordinate match.

    Rows at a position the source holds several times take its indices in
    ascending order, so there are no repeats. Positions become integer keys (ranks
    among the source's distinct x and y): sorting and binary search, no spatial index.

    Parameters
    ----------
    fixture, source : ScanPositions
        The subset's positions and the scan they come from.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` int64 source indices, in fixture row order.

    Raises
    ------
    InputError
        If a fixture position is not a source position, or the fixture holds
        a position more often than the source.
    """
    ux, uy = np.unique(source.x), np.unique(source.y)
    key = np.searchsorted(ux, source.x) * uy.size + np.searchsorted(uy, source.y)
    # Source indices grouped by position, ascending within a group.
    order = np.argsort(key, kind="stable")
    sorted_keys = key[order]
    ix = np.minimum(np.searchsorted(ux, fixture.x), ux.size - 1)
    iy = np.minimum(np.searchsorted(uy, fixture.y), uy.size - 1)
    wanted = ix * uy.size + iy
    lo = np.searchsorted(sorted_keys, wanted, side="left")
    hi = np.searchsorted(sorted_keys, wanted, side="right")
    found = (ux[ix] == fixture.x) & (uy[iy] == fixture.y) & (hi > lo)
    missing = np.flatnonzero(~found)
    if missing.size:
        row = int(missing[0])
        dist = np.hypot(source.x - fixture.x[row], source.y - fixture.y[row])
        near = int(np.argmin(dist))
        msg = (
            f"fixture '{fixture.path}': {missing.size} of {found.size} positions are not "
            f"positions of '{source.path}' (first: row {row} at ({fixture.x[row]:.6g}, "
            f"{fixture.y[row]:.6g}), nearest source position {near} at distance "
            f"{dist[near]:.3g}); pass the source it was cut from, {FROM_SIDECAR}"
        )
        raise InputError(msg, fixture.path)
    # Fixture rows at one position take that position's source indices in order
    # (duplicated source positions); rank = how many earlier rows share the key.
    rows = np.argsort(wanted, kind="stable")
    ordered = wanted[rows]
    first = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    rank = np.empty(wanted.size, dtype=np.int64)
    rank[rows] = np.arange(wanted.size) - np.repeat(first, np.diff(np.r_[first, wanted.size]))
    short = np.flatnonzero(rank >= hi - lo)
    if short.size:
        row = int(short[0])
        count = int(np.count_nonzero(wanted == wanted[row]))
        msg = (
            f"fixture '{fixture.path}' has {count} positions at ({fixture.x[row]:.6g}, "
            f"{fixture.y[row]:.6g}) but '{source.path}' has {int(hi[row] - lo[row])}; "
            "the fixture was not cut from this source"
        )
        raise InputError(msg, fixture.path)
    return order[lo + rank].astype(np.int64)


def _sidecar_indices(path: str, source: ScanPositions) -> np.ndarray:
    """Return the sidecar's indices, checked against the source's number of positions."""
    from ..fixture.sidecar import read_sidecar

    if not os.path.isfile(path):
        msg = f"sidecar '{path}' does not exist; give the JSON sidecar written by 'fixture make'"
        raise InputError(msg, path)
    record = read_sidecar(path)
    n_source = source.x.size
    recorded = record.get("source_positions")
    if isinstance(recorded, int) and recorded != n_source:
        msg = (
            f"sidecar '{path}' was cut from a source of {recorded} positions but "
            f"'{source.path}' has {n_source}; pass the source the fixture was cut from"
        )
        raise InputError(msg, path)
    indices = np.asarray(record["indices"], dtype=np.int64)
    if indices.size == 0:
        msg = f"sidecar '{path}' lists no indices; coverage needs at least one subset position"
        raise InputError(msg, path)
    outside = np.flatnonzero((indices < 0) | (indices >= n_source))
    if outside.size:
        msg = (
            f"sidecar '{path}': index {int(indices[outside[0]])} is outside the "
            f"{n_source} positions of '{source.path}'; pass the source the fixture was cut from"
        )
        raise InputError(msg, path)
    if np.unique(indices).size != indices.size:
        msg = f"sidecar '{path}' lists repeated indices; it is damaged, regenerate it with 'fixture make'"
        raise InputError(msg, path)
    return indices


def _check_fixture_rows(fixture: ScanPositions, sidecar: str, source: ScanPositions, indices: np.ndarray) -> None:
    """Fixture row i must sit at source position ``indices[i]``."""
    if indices.size != fixture.x.size:
        msg = (
            f"sidecar '{sidecar}' lists {indices.size} indices but fixture '{fixture.path}' "
            f"has {fixture.x.size} positions; the sidecar belongs to another fixture"
        )
        raise InputError(msg, sidecar)
    differ = np.flatnonzero((source.x[indices] != fixture.x) | (source.y[indices] != fixture.y))
    if differ.size:
        row = int(differ[0])
        i = int(indices[row])
        msg = (
            f"fixture '{fixture.path}' row {row} is at ({fixture.x[row]:.6g}, "
            f"{fixture.y[row]:.6g}) but source '{source.path}' position {i} (from sidecar "
            f"'{sidecar}') is at ({source.x[i]:.6g}, {source.y[i]:.6g}); {differ.size} of "
            f"{indices.size} rows differ: wrong source, or sidecar of another fixture"
        )
        raise InputError(msg, sidecar)
