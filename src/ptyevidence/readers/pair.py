"""A diffraction-only file and the file holding its positions, read as one Source.

ptychodus writes its frames and its positions to separate files (a
``diffraction.cxi`` without translations, a product without frames).
:class:`PairedSource` presents the frames of one beside the positions (and
probe and object) of the other, after checking that they pair: as many
positions as frames, matched by ptychodus's pattern indexes where those name
every frame once (``probe_position_indexes`` against the frames' ``indexes``,
``0..N-1`` when the frames file stores none), else row by row, said so in
the notes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

import numpy as np

from ..exceptions import InputError
from .base import ArrayInfo, IntegrityCheck, Source
from .common import SourceBase, map_blocks
from .layout import canonical_shape, source_layout

__all__ = ["PairedSource"]

T = TypeVar("T")

#: Keys the frames file provides; every other key comes from the positions file.
FRAME_KEYS = ("diffraction", "mask", "indexes")


class PairedSource(SourceBase):
    """Frames from one file, positions from another; a :class:`~ptyevidence.readers.base.Source`.

    Parameters
    ----------
    frames : Source
        Holds ``diffraction`` (and maybe ``mask``, ``indexes``).
    positions : Source
        Holds ``xcoords``/``ycoords`` (and maybe ``probe_position_indexes``,
        ``probeGuess``, ``objectGuess``...). Both are closed with the pair.

    Raises
    ------
    InputError
        If the frames file has no stack, the positions file no positions, or
        their counts differ.
    """

    def __init__(self, frames: Source, positions: Source) -> None:
        self.frames, self.positions = frames, positions
        self.path = frames.path
        self.format = f"{frames.format}+{positions.format}"
        self.position_units = positions.position_units
        self.geometry_assumed = positions.geometry_assumed
        self.ignored_members = [*frames.ignored_members, *positions.ignored_members]
        self.notes: list[str] = [f"positions, probe and object from '{positions.path}'"]
        for key, source in (("diffraction", frames), ("xcoords", positions), ("ycoords", positions)):
            if key not in source:
                what = "frames" if key == "diffraction" else "positions"
                msg = f"'{source.path}' has no '{key}'; it cannot give the {what} of the pair"
                raise InputError(msg, source.path)
        n_positions = int(positions.info("xcoords").shape[0])
        where = f"'{frames.path}' key 'diffraction'"
        self.layout = source_layout(frames, "diffraction", n_positions, "auto", where)
        n_frames = canonical_shape(frames.info("diffraction").shape, self.layout)[0]
        if n_frames != n_positions:
            msg = (
                f"'{frames.path}' holds {n_frames} frames but '{positions.path}' holds {n_positions} "
                "positions; a pair needs one position per frame (is it the positions file written "
                "with these frames?)"
            )
            raise InputError(msg, frames.path)
        self._order = self._pairing(n_frames)
        self._keys = [k for k in frames.keys() if k in FRAME_KEYS]  # noqa: SIM118 - not iterable
        self._keys += [k for k in positions.keys() if k not in self._keys]  # noqa: SIM118

    def _pairing(self, n: int) -> np.ndarray | None:
        """Row of the positions file for each frame, or None when rows pair in order."""
        if "probe_position_indexes" not in self.positions:
            return None
        wanted = np.asarray(self.positions.read("probe_position_indexes")).reshape(-1)
        have = np.asarray(self.frames.read("indexes")).reshape(-1) if "indexes" in self.frames else np.arange(n)
        if wanted.size == n and np.array_equal(np.sort(wanted), np.sort(have)) and np.unique(have).size == n:
            if np.array_equal(wanted, have):
                self.notes.append("paired by pattern index (probe_position_indexes = the frames' indexes)")
                return None
            rows = np.argsort(wanted)[np.argsort(np.argsort(have))]
            self.notes.append("paired by pattern index: positions reordered to the frames' order")
            return rows
        distinct = np.unique(wanted).size
        self.notes.append(
            f"probe_position_indexes ({distinct} distinct value(s) for {wanted.size} positions) do not "
            "name each frame once; paired row by row (ptychodus 1.7 would pair by these indexes)"
        )
        return None

    def _owner(self, key: str) -> Source:
        if key in FRAME_KEYS and key in self.frames:
            return self.frames
        if key in self.positions:
            return self.positions
        msg = f"'{self.path}' (paired with '{self.positions.path}') provides no array '{key}'"
        raise InputError(msg, self.path)

    def _reorders(self, key: str) -> bool:
        """Return True when ``key`` comes from the positions file, its rows put in the frames' order."""
        return self._order is not None and self._owner(key) is self.positions

    def _reordered(self, key: str, arr: np.ndarray) -> np.ndarray:
        if not self._reorders(key) or not arr.ndim:
            return arr
        return arr[self._order] if arr.shape[0] == self._order.size else arr

    def keys(self) -> list[str]:
        """Return the frames keys, then the positions file's keys."""
        return list(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def info(self, key: str) -> ArrayInfo:
        """Return the header of ``key`` from the file that holds it."""
        return self._owner(key).info(key)

    def read(self, key: str) -> np.ndarray:
        """Read ``key`` whole (positions in the frames' order)."""
        return self._reordered(key, self._owner(key).read(key))

    def iter_blocks(self, key: str, block_bytes: int | None = None) -> Iterator[np.ndarray]:
        """Yield ``key`` as flat blocks."""
        if self._reorders(key):
            yield self.read(key).reshape(-1)
            return
        yield from self._owner(key).iter_blocks(key, block_bytes)

    def map_blocks(
        self, key: str, func: Callable[[np.ndarray], T], jobs: int = 1, block_bytes: int | None = None
    ) -> Iterator[T]:
        """Yield ``func(block)`` for the blocks of ``key``, on threads where the reader of its file can."""
        if self._reorders(key):
            return (func(block) for block in self.iter_blocks(key, block_bytes))
        return map_blocks(self._owner(key), key, func, jobs, block_bytes)

    def take(self, key: str, indices: Sequence[int] | np.ndarray, axis: int = 0) -> np.ndarray:
        """Gather entries ``indices`` of ``key``."""
        if self._reorders(key):
            return np.ascontiguousarray(np.take(self.read(key), np.asarray(indices, np.int64), axis=axis))
        return self._owner(key).take(key, indices, axis)

    def frame_transform(self, frames: np.ndarray) -> np.ndarray:
        """Apply the frames file's conversion."""
        return self.frames.frame_transform(frames)

    def frame_transform_notes(self) -> list[str]:
        """Describe the frames' conversion and how the pair was made."""
        return [*self.frames.frame_transform_notes(), *self.notes]

    def stated_geometry(self) -> dict[str, tuple[float, str]]:
        """Return the geometry the frames file states."""
        return self.frames.stated_geometry()

    def position_statement(self) -> str | None:
        """Say how the positions file's positions were put in pixels (None when it stores pixels)."""
        return self.positions.position_statement()

    def linked_files(self) -> list[str]:
        """Return the files either file read through links, each once."""
        return list(dict.fromkeys([*self.frames.linked_files(), *self.positions.linked_files()]))

    def file_size(self) -> int:
        """Return the size of the frames file."""
        return self.frames.file_size()

    def full_check_bytes(self) -> int:
        """Return the bytes a hashing pass over the frames file processes."""
        return self.frames.full_check_bytes()

    def member_crc_check(self) -> IntegrityCheck | None:
        """Return the frames file's checksum check."""
        return self.frames.member_crc_check()

    def close(self) -> None:
        """Close both files."""
        try:
            self.frames.close()
        finally:
            self.positions.close()
