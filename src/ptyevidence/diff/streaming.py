"""Walk two arrays' values in step, one bounded block at a time, and hash them.

Readers yield a member's values as flat blocks whose sizes depend on the
file (and its dtype), so two files never agree on block boundaries.
:func:`aligned_blocks` cuts both streams at the union of their boundaries,
handing out views, never copies. Hashing those blocks with
:class:`StreamDigest`, the fixture sidecar's content digest, a diff reports
the same digests as a sidecar without loading an array.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from .._digest import StreamDigest, content_digest
from .._memory import check_budget

__all__ = ["BackgroundDigest", "StreamDigest", "aligned_blocks", "member_digest"]


def aligned_blocks(
    a_blocks: Iterable[np.ndarray], b_blocks: Iterable[np.ndarray]
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield pairs of equal-length flat views that walk two block streams in step.

    Both streams are consumed to their end, so a reader that checks a CRC
    after its last block still does.

    Parameters
    ----------
    a_blocks, b_blocks : iterable of numpy.ndarray
        Flat blocks of two arrays with the same number of values.

    Yields
    ------
    tuple of numpy.ndarray
        ``(a_part, b_part)``, views of the same length.

    Raises
    ------
    ValueError
        If one stream ends before the other.

    Examples
    --------
    >>> a = [np.arange(5), np.arange(5, 8)]
    >>> b = [np.arange(2), np.arange(2, 8)]
    >>> [(x.tolist(), y.tolist()) for x, y in aligned_blocks(a, b)]
    [([0, 1], [0, 1]), ([2, 3, 4], [2, 3, 4]), ([5, 6, 7], [5, 6, 7])]
    """
    ia, ib = iter(a_blocks), iter(b_blocks)
    a = b = np.empty(0)
    pa = pb = 0
    while True:
        while pa == a.size:
            a, pa = next(ia, None), 0
            if a is None:
                break
        while b is not None and pb == b.size:
            b, pb = next(ib, None), 0
        if a is None or b is None:
            if a is not None or b is not None:
                msg = "the two block streams hold different numbers of values"
                raise ValueError(msg)
            return
        k = min(a.size - pa, b.size - pb)
        yield a[pa : pa + k], b[pb : pb + k]
        pa += k
        pb += k


class BackgroundDigest:
    """A :class:`StreamDigest` fed on a worker thread, at most one block behind.

    SHA-256 runs at a few hundred MB/s here, slower than reading from the
    page cache; hashing one file's blocks on a second core while the caller
    hashes the other's halves the time of a two-file pass. hashlib releases
    the GIL for large updates. The caller's block is hashed before the next
    one is accepted, so memory stays at one block in flight. Use as a
    context manager so the thread ends on errors too.

    Examples
    --------
    >>> from ptyevidence.fixture import content_digest
    >>> a = np.arange(10.0)
    >>> with BackgroundDigest(a.dtype, a.shape) as d:
    ...     d.update(a[:4])
    ...     d.update(a[4:])
    ...     digest = d.hexdigest()
    >>> digest == content_digest(a)
    True
    """

    def __init__(self, dtype: Any, shape: Sequence[int]) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._digest = StreamDigest(dtype, shape)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="ptyevidence-digest")
        self._pending: Any = None

    def update(self, block: np.ndarray) -> None:
        """Queue the next block; wait for the previous one first."""
        self._wait()
        self._pending = self._pool.submit(self._digest.update, block)

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def hexdigest(self) -> str:
        """Return the digest of every block fed so far."""
        self._wait()
        return self._digest.hexdigest()

    def __enter__(self) -> BackgroundDigest:  # noqa: PYI034
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def member_digest(source: Any, key: str) -> str:
    """Return the content digest of ``key`` in an open source, streaming when it can.

    C-order members are hashed block by block; a Fortran-order member's
    storage order is not C order, so it is read whole (within the memory
    budget).

    Parameters
    ----------
    source : reader
        An open source from :func:`ptyevidence.open_source`.
    key : str
        Array key.

    Returns
    -------
    str
        Equal to ``content_digest(source.read(key))``.

    Raises
    ------
    MemoryBudgetError
        For a Fortran-order member larger than the memory budget allows.
    """
    info = source.info(key)
    if info.fortran_order and len(info.shape) > 1:
        check_budget(2 * info.nbytes, f"hashing Fortran-order '{key}' of '{source.path}'")
        return content_digest(source.read(key))
    digest = StreamDigest(info.dtype, info.shape)
    for block in source.iter_blocks(key):
        digest.update(block)
    return digest.hexdigest()
