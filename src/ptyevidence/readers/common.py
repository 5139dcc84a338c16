"""Helpers every reader shares: the block size, file checks, byte order, gather requests, block maps."""

from __future__ import annotations

import itertools
import os
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np

from .._memory import memory_budget
from ..exceptions import InputError
from .base import ArrayInfo, Source

__all__ = [
    "BLOCK_BYTES",
    "OneFile",
    "SourceBase",
    "check_readable_file",
    "gather_indices",
    "hdf5_read_errors",
    "map_blocks",
    "native_byte_order",
    "ordered_map",
    "read_real",
    "thread_count",
]

T = TypeVar("T")

#: Size of the blocks streamed from an array, in bytes. Larger blocks are
#: not faster (measured from 1 to 64 MiB): a full pass is bound by memory
#: bandwidth and the CRC, and three blocks may be in flight at once.
BLOCK_BYTES = 16 * 2**20


class SourceBase:
    """What a :class:`~ptyevidence.readers.base.Source` may inherit; ``with`` closes it.

    The defaults describe a format that stores amplitudes and positions in pixels
    and states nothing beside its arrays: no frame transform, no geometry, no links.
    """

    counts = False
    geometry_assumed = False

    def intensity_summary(self, progress: bool | None = None) -> Any:
        """Return None: the frames are not counts the reader converts."""
        return None

    def position_statement(self) -> str | None:
        """Return None: the format stores positions in pixels."""
        return None

    def stated_geometry(self) -> dict[str, tuple[float, str]]:
        """Return nothing: the format keeps no geometry outside its arrays."""
        return {}

    def reader_record(self) -> dict[str, Any] | None:
        """Return None: the file's own ``_metadata`` member is its record."""
        return None

    def linked_files(self) -> list[str]:
        """Return no files: the source reads through no links."""
        return []

    def frame_transform(self, frames: np.ndarray) -> np.ndarray:
        """Return ``frames`` unchanged: the format stores what a DATA-001 fixture stores."""
        return frames

    def frame_transform_notes(self) -> list[str]:
        """Return no notes: :meth:`frame_transform` is the identity."""
        return []

    def close(self) -> None:
        """Release what the source holds (nothing, unless a reader says otherwise)."""

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class OneFile(SourceBase):
    """What a source reading one open file ``_file`` at ``path`` shares: its size, and closing it."""

    path: str
    _file: Any

    def file_size(self) -> int:
        """Return the size of the file in bytes."""
        return os.path.getsize(self.path)

    def full_check_bytes(self) -> int:
        """Return the bytes a hashing pass processes: the file, once."""
        return self.file_size()

    def member_crc_check(self) -> None:
        """Return None: the format keeps no checksums a hashing pass could verify."""

    def close(self) -> None:
        """Close the file."""
        self._file.close()


def check_readable_file(path: str) -> None:
    """Raise :class:`InputError` unless ``path`` is an existing, non-empty file.

    Examples
    --------
    >>> check_readable_file("/no/such/scan.npz")
    Traceback (most recent call last):
    ...
    ptyevidence.exceptions.InputError: '/no/such/scan.npz' does not exist; check the path
    """
    if not os.path.exists(path):
        msg = f"'{path}' does not exist; check the path"
        raise InputError(msg, path)
    if os.path.isdir(path):
        msg = f"'{path}' is a directory; a dataset file is expected"
        raise InputError(msg, path)
    if os.path.getsize(path) == 0:
        msg = f"'{path}' is empty (0 bytes); it was not written completely"
        raise InputError(msg, path)


@contextmanager
def quiet_npy_header() -> Iterator[None]:
    """Keep Python's literal parser from warning on stderr about a damaged ``.npy`` header.

    numpy parses the header dict with ``ast.literal_eval``: a stray backslash in a key
    makes Python print an invalid-escape warning before numpy raises, and the reader
    already reports the header in its one error line.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", SyntaxWarning)
        yield


@contextmanager
def hdf5_read_errors(where: str, path: str) -> Iterator[None]:
    """Turn an h5py error inside the block into an :class:`InputError` naming ``where``.

    h5py reports damaged metadata and data as any of several exception types,
    naming neither the file nor the dataset.

    Parameters
    ----------
    where : str
        The file (and dataset) being read, as messages name it.
    path : str
        The file, recorded on the error.
    """
    try:
        yield
    except InputError:
        raise
    except (OSError, RuntimeError, KeyError, ValueError, TypeError) as exc:
        msg = f"{where} cannot be read ({type(exc).__name__}: {exc}); the file is damaged or truncated"
        raise InputError(msg, path) from None


def read_real(source: Source, key: str) -> np.ndarray:
    """Read ``key`` of an open source as float64; refuse what is not real numbers.

    Records, text, complex values and objects cannot be cast to positions
    without losing or inventing values, so they are refused by dtype before
    anything is read.

    Raises
    ------
    InputError
        If the key is missing or its dtype is not a real number type.
    """
    info = source.info(key)
    # Objects are left to the reader, which refuses to unpickle them in its own words.
    if not info.has_objects and (info.dtype.kind not in "biuf" or info.is_structured):
        msg = f"'{source.path}': '{key}' has dtype {info.dtype}; expected real numbers (integer or float)"
        raise InputError(msg, source.path)
    return np.asarray(source.read(key), dtype=np.float64)


def native_byte_order(arr: np.ndarray) -> np.ndarray:
    """Return ``arr`` in native byte order (big-endian files are legal).

    Examples
    --------
    >>> native_byte_order(np.arange(3, dtype=">i4")).dtype.isnative
    True
    """
    if arr.dtype.byteorder not in ("=", "|") and arr.dtype.fields is None:
        return arr.astype(arr.dtype.newbyteorder("="))
    return arr


def gather_indices(
    path: str, info: ArrayInfo, indices: Sequence[int] | np.ndarray, axis: int
) -> tuple[int, np.ndarray]:
    """Check a gather request against a header; return ``(axis, int64 indices)``.

    Shared by every reader's ``take`` so they refuse the same requests the
    same way: scalars, middle axes, non-integer indices, out-of-range ones.
    """
    key, ndim = info.name, len(info.shape)
    if ndim == 0:
        msg = f"'{path}': array '{key}' is a scalar; nothing to gather"
        raise InputError(msg, path)
    axis = axis % ndim
    if axis not in (0, ndim - 1):
        msg = f"gathering along axis {axis} of a {ndim}-D array is not supported"
        raise ValueError(msg)
    raw_idx = np.asarray(indices)
    if raw_idx.size and raw_idx.dtype.kind not in "iu":
        # A boolean mask or float positions would be silently cast to 0/1 or truncated.
        msg = f"indices into '{key}' must be integers, not {raw_idx.dtype}"
        raise TypeError(msg)
    idx = raw_idx.astype(np.int64).reshape(-1)
    length = info.shape[axis]
    if idx.size and (idx.min() < 0 or idx.max() >= length):
        msg = f"'{path}': index out of range for '{key}' axis {axis} (length {length})"
        raise InputError(msg, path)
    return axis, idx


def map_blocks(
    source: Source, key: str, func: Callable[[np.ndarray], T], jobs: int = 1, block_bytes: int | None = None
) -> Iterator[T]:
    """Yield ``func(block)`` for each block of ``source.iter_blocks(key, block_bytes)``, in storage order.

    With ``jobs`` > 1, a reader that offers ``map_blocks(key, func, jobs,
    block_bytes)`` (uncompressed NPZ members and CXI frame stacks) reads and
    folds its blocks on up to ``jobs`` threads; the blocks are the same
    either way, so the results do not depend on ``jobs``. Other readers, and
    compressed data, are read and folded on the caller's thread. ``func``
    must not keep its block, and should return a small summary: results
    wait until every earlier one is yielded.
    """
    split = getattr(source, "map_blocks", None)
    if jobs > 1 and callable(split):
        return split(key, func, jobs, block_bytes)
    return (func(block) for block in source.iter_blocks(key, block_bytes))


def thread_count(jobs: int, blocks: int, block_bytes: int) -> int:
    """Return the threads worth starting for ``blocks`` blocks: at most ``jobs``, one per block.

    Each thread holds its block of ``block_bytes`` and its fold's temporaries
    (up to about two blocks more), so the threads stay within the memory budget.

    Examples
    --------
    >>> thread_count(4, blocks=3, block_bytes=2**20)
    3
    """
    return max(1, min(jobs, blocks, memory_budget() // (3 * max(1, block_bytes))))


def ordered_map(task: Callable[[int], T], items: Iterable[int], jobs: int) -> Iterator[T]:
    """Yield ``task(item)`` for each item, in order, computed on ``jobs`` threads.

    Threads take the items in order, and at most ``2 * jobs`` are submitted
    ahead of the caller, so results arrive about in order and few wait. The
    first failure is raised here, in order; closing the iterator early
    cancels the items not started and waits for the running ones.

    Examples
    --------
    >>> list(ordered_map(lambda k: k * k, range(5), jobs=2))
    [0, 1, 4, 9, 16]
    """
    jobs = max(1, jobs)
    todo = iter(items)
    with ThreadPoolExecutor(jobs) as pool:
        pending = deque(pool.submit(task, item) for item in itertools.islice(todo, 2 * jobs))
        try:
            while pending:
                result = pending.popleft().result()
                pending.extend(pool.submit(task, item) for item in itertools.islice(todo, 1))
                yield result
        finally:
            for future in pending:
                future.cancel()
