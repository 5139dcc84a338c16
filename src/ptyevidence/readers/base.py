"""What every reader returns: the :class:`Source` protocol and its :class:`ArrayInfo` headers.

Validation, fixtures, coverage and the torch check read datasets only
through this interface, so they never ask which format a file is. A reader
added with :func:`ptyevidence.readers.register_reader` must return an object
that implements all of it; :func:`ptyevidence.open_source` checks that.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from .counts import IntensitySummary

__all__ = ["ArrayInfo", "IntegrityCheck", "Source"]


@dataclass(frozen=True)
class ArrayInfo:
    """What an array's header says, read without loading data.

    Attributes
    ----------
    name : str
        Key of the array.
    dtype : numpy.dtype
        Stored dtype, byte order included.
    shape : tuple of int
        Stored shape.
    fortran_order : bool
        True when the data are stored column-major.
    compressed : bool
        True for compressed data (no random access).
    data_offset : int or None
        Byte offset in the file of the first data byte of an uncompressed
        array whose bytes lie there contiguously, as ``dtype`` in
        ``shape`` (so it can be memory-mapped); None otherwise.
    """

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    fortran_order: bool
    compressed: bool
    data_offset: int | None = None

    @property
    def nbytes(self) -> int:
        """Number of data bytes the header promises."""
        # Python integers: a hostile header's product must not wrap around to a small number.
        return math.prod(self.shape) * self.dtype.itemsize

    @property
    def has_objects(self) -> bool:
        """True for dtypes that would need unpickling (object fields)."""
        return bool(self.dtype.hasobject)

    @property
    def is_structured(self) -> bool:
        """True for record dtypes (named fields)."""
        return self.dtype.names is not None


@runtime_checkable
class IntegrityCheck(Protocol):
    """Checksums of a file's parts, folded from one sequential pass over its raw bytes."""

    def feed(self, offset: int, block: bytes) -> None:
        """Fold ``block``, found at byte ``offset`` of the file."""

    def finish(self) -> None:
        """Raise :class:`ptyevidence.InputError` naming the first part whose checksum differs."""


@runtime_checkable
class Source(Protocol):
    """An open dataset file presenting its arrays under keys.

    Attributes
    ----------
    path : str
        The file.
    format : str
        Format name shown in reports (``"npz"``, ``"cxi"``).
    layout : {"canonical", "legacy"} or None
        Stack order the format fixes, or None when the file's shape and
        ``_metadata`` record decide it.
    position_units : str
        Units of ``xcoords``/``ycoords`` (``"object pixels"`` or ``"m"``).
    ignored_members : list of str
        Parts of the file that hold no array the reader presents (reported,
        never read).
    counts : bool
        True when the stored frames are photon counts that
        :meth:`frame_transform` converts, with the scale of
        :meth:`intensity_summary`.
    geometry_assumed : bool
        True when positions were converted from metres for a propagation
        geometry the file does not state (see :meth:`position_statement`).

    Notes
    -----
    Members are plain methods, not properties: on Python < 3.12 an
    ``isinstance`` check evaluates every attribute it looks for, and working
    out a transform's notes may need a pass over every frame.

    A reader may also offer ``map_blocks(key, func, jobs=1, block_bytes=None)``,
    yielding ``func(block)`` for the blocks of :meth:`iter_blocks` in order
    while it reads and folds them on up to ``jobs`` threads;
    :func:`ptyevidence.readers.common.map_blocks` uses it when present.
    """

    path: str
    format: str
    layout: str | None
    position_units: str
    ignored_members: list[str]
    counts: bool
    geometry_assumed: bool

    def keys(self) -> list[str]:
        """Return the array keys, in file order."""

    def __contains__(self, key: object) -> bool:
        """Return True when ``key`` is one of :meth:`keys`."""

    def info(self, key: str) -> ArrayInfo:
        """Return the header of ``key``; an unknown key raises :class:`ptyevidence.InputError`."""

    def read(self, key: str) -> np.ndarray:
        """Read ``key`` whole, native byte order, C order."""

    def iter_blocks(self, key: str, block_bytes: int | None = None) -> Iterator[np.ndarray]:
        """Yield the values of ``key`` as flat native-order blocks, in storage order.

        Blocks hold at most about ``block_bytes`` (default: the reader's own
        block size) and stay valid while the caller holds them.
        """

    def take(self, key: str, indices: Sequence[int] | np.ndarray, axis: int = 0) -> np.ndarray:
        """Gather entries ``indices`` along the first or last axis of ``key``.

        Any order, repeats allowed; the result is native byte order,
        C-contiguous, ``len(indices)`` along ``axis``.
        """

    def frame_transform(self, frames: np.ndarray) -> np.ndarray:
        """Convert gathered diffraction frames to what a DATA-001 fixture stores.

        The identity for formats that store normalized amplitudes already.
        """

    def frame_transform_notes(self) -> list[str]:
        """Describe what :meth:`frame_transform` does, with its values; empty for the identity."""

    def intensity_summary(self, progress: bool | None = None) -> IntensitySummary | None:
        """Return the counts summary :meth:`frame_transform` scales by; None unless :attr:`counts`."""

    def position_statement(self) -> str | None:
        """Say how positions stored in metres were put in pixels, or why not; None for a format storing pixels."""

    def stated_geometry(self) -> dict[str, tuple[float, str]]:
        """Return what the format states about the geometry outside its arrays, with where it says so.

        Keys are :class:`ptyevidence.writers.geometry.Geometry` field names
        (``photon_energy_eV``, ``detector_distance_m``...); empty when the
        format keeps no such record.
        """

    def reader_record(self) -> dict[str, Any] | None:
        """Return what the reader worked out about the file (JSON data), or None to use its ``_metadata``."""

    def linked_files(self) -> list[str]:
        """Return the other files the source read through links (only with ``allow_external_links``)."""

    def file_size(self) -> int:
        """Return the size of the file in bytes."""

    def full_check_bytes(self) -> int:
        """Return the bytes a pass that hashes the file and checks its checksums processes."""

    def member_crc_check(self) -> IntegrityCheck | None:
        """Return a checker of the file's stored checksums, fed by a hashing pass.

        None when the format stores none that such a pass could verify.
        """

    def close(self) -> None:
        """Close the file."""

    def __enter__(self) -> Source:  # noqa: PYI034
        """Return the source itself."""

    def __exit__(self, *exc: object) -> None:
        """Close the file."""
