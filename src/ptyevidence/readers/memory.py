"""Arrays in memory as a :class:`~ptyevidence.readers.base.Source`, e.g. a pipeline's tensor dump."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from .base import ArrayInfo, IntegrityCheck
from .common import SourceBase

__all__ = ["ArraySource"]


class ArraySource(SourceBase):
    """Arrays in memory seen through the reader interface, so that binding and validation take them.

    Parameters
    ----------
    arrays : mapping of str to numpy.ndarray
        Key -> array, e.g. a pipeline's tensor dump.
    path : str
        Name shown in findings.

    Examples
    --------
    >>> source = ArraySource({"xcoords": np.arange(4.0)}, "dump.npz")
    >>> source.keys(), source.info("xcoords").shape
    (['xcoords'], (4,))
    """

    format = "memory"
    layout: str | None = None
    position_units = "object pixels"

    def __init__(self, arrays: Mapping[str, np.ndarray], path: str = "<mapping>") -> None:
        self.arrays = dict(arrays)
        self.path = path
        self.ignored_members: list[str] = []

    def keys(self) -> list[str]:
        """Return the keys, in mapping order."""
        return list(self.arrays)

    def __contains__(self, key: object) -> bool:
        return key in self.arrays

    def info(self, key: str) -> ArrayInfo:
        """Return the header of ``key``."""
        arr = self.arrays[key]
        return ArrayInfo(key, arr.dtype, arr.shape, fortran_order=False, compressed=False)

    def read(self, key: str) -> np.ndarray:
        """Return the array ``key``."""
        return self.arrays[key]

    def iter_blocks(self, key: str, block_bytes: int | None = None) -> Iterator[np.ndarray]:
        """Yield the array ``key`` flattened, as one block."""
        yield np.asarray(self.arrays[key]).reshape(-1)

    def take(self, key: str, indices: Sequence[int] | np.ndarray, axis: int = 0) -> np.ndarray:
        """Return the rows ``indices`` of ``key`` along ``axis``."""
        return np.take(self.arrays[key], np.asarray(indices, dtype=np.intp), axis=axis)

    def file_size(self) -> int:
        """Return the bytes held."""
        return sum(np.asarray(a).nbytes for a in self.arrays.values())

    def full_check_bytes(self) -> int:
        """Return the bytes a full check reads (all of them)."""
        return self.file_size()

    def member_crc_check(self) -> IntegrityCheck | None:
        """Return None: arrays in memory carry no checksums."""
        return None
