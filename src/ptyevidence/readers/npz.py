"""Lazy, pickle-free reading of NPZ archives.

Headers are parsed without touching array data. Uncompressed members are
read at their byte offset inside the zip file, so gathering a few frames
reads only those frames; a full pass of a large member reads ahead and
checks the zip CRC on a second thread while the caller works on the current
block. Compressed members are decompressed as a stream, never more than one
bounded block at a time.
"""

from __future__ import annotations

import itertools
import math
import os
import queue
import struct
import sys
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

import numpy as np

from .._memory import check_budget, memory_budget
from ..exceptions import InputError
from .base import ArrayInfo
from .common import (
    BLOCK_BYTES,
    OneFile,
    check_readable_file,
    gather_indices,
    native_byte_order,
    ordered_map,
    quiet_npy_header,
    thread_count,
)

__all__ = ["MemberCrcCheck", "NpzSource", "read_member"]

#: Stored members at least this large are read ahead, and most of their CRC
#: folded, on a second thread during a full pass.
CRC_THREAD_BYTES = 8 * 2**20
#: Largest single read asked of zipfile for a deflated member. zipfile reads
#: about as many compressed bytes ahead and joins the pieces it inflates, so
#: one large read costs several times its size in memory.
INFLATE_PIECE_BYTES = 2**20

T = TypeVar("T")

#: Largest data size a header may promise (int64 byte offsets): more cannot be in a file.
_MAX_HEADER_BYTES = 2**62
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
_LOCAL_MAGIC = b"PK\x03\x04"
#: What zipfile raises on a damaged member; NotImplementedError comes from a
#: corrupted compression-method or version field, RuntimeError from an encryption flag.
_MEMBER_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError)


class NpzSource(OneFile):
    """An NPZ archive opened for lazy reading; a :class:`~ptyevidence.readers.base.Source`.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.npz`` file.

    Attributes
    ----------
    path : str
    format : str
        ``"npz"``.
    layout : None
        The stack order is read from the shapes and the ``_metadata`` record.
    position_units : str
        ``"object pixels"``, the DATA-001 convention.
    ignored_members : list of str
        Zip members that are not ``.npy`` arrays.

    Raises
    ------
    InputError
        If the file is missing, empty, not a zip archive, encrypted, or a
        member's ``.npy`` header is corrupt or promises more data than the
        member holds.
    """

    format = "npz"
    layout: str | None = None
    position_units = "object pixels"

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        check_readable_file(self.path)
        try:
            self._zip = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError, NotImplementedError) as exc:
            msg = f"'{self.path}' is not a readable zip archive ({exc}); an NPZ file written by numpy.savez is expected"
            raise InputError(msg, self.path) from None
        self._infos: dict[str, ArrayInfo] = {}
        self._members: dict[str, zipfile.ZipInfo] = {}
        self.ignored_members: list[str] = []
        try:
            self._check_member_names()
            for zinfo in self._zip.infolist():
                if not zinfo.filename.endswith(".npy"):
                    if not zinfo.is_dir():
                        self.ignored_members.append(zinfo.filename)
                    continue
                key = zinfo.filename[: -len(".npy")]
                self._members[key] = zinfo
                self._infos[key] = self._read_info(key, zinfo)
        except Exception:
            self._zip.close()
            raise

    def _check_member_names(self) -> None:
        """Refuse names a reader could take two ways: repeated, cut at a NUL, or holding a path."""
        seen: set[str] = set()
        for zinfo in self._zip.infolist():
            raw = zinfo.orig_filename
            problem = None
            if "\x00" in raw:
                problem = f"holds a NUL character (zipfile would read it as '{zinfo.filename}')"
            elif "/" in raw.rstrip("/") or "\\" in raw:
                problem = "holds a path separator; NPZ members are plain names"
            elif zinfo.filename in seen:
                problem = "appears twice; which copy is the array?"
            seen.add(zinfo.filename)
            if problem:
                msg = (
                    f"'{self.path}': member name {raw!r} {problem}; the archive is ambiguous, "
                    "rewrite it with numpy.savez"
                )
                raise InputError(msg, self.path)

    def _read_info(self, key: str, zinfo: zipfile.ZipInfo) -> ArrayInfo:
        info, header_len = _member_info(self._zip, zinfo, self.path, key)
        if info.compressed:
            return info
        return ArrayInfo(key, info.dtype, info.shape, info.fortran_order, False, self._data_start(zinfo) + header_len)

    def _data_start(self, zinfo: zipfile.ZipInfo) -> int:
        """Return the file offset where the member's stored bytes begin."""
        with open(self.path, "rb") as fh:
            fh.seek(zinfo.header_offset)
            raw = fh.read(_LOCAL_HEADER.size)
        if len(raw) < _LOCAL_HEADER.size or raw[:4] != _LOCAL_MAGIC:
            msg = f"'{self.path}': local header of '{zinfo.filename}' is damaged"
            raise InputError(msg, self.path)
        fields = _LOCAL_HEADER.unpack(raw)
        name_len, extra_len = fields[9], fields[10]
        return zinfo.header_offset + _LOCAL_HEADER.size + name_len + extra_len

    def keys(self) -> list[str]:
        """Return the array keys in archive order."""
        return list(self._infos)

    def __contains__(self, key: object) -> bool:
        return key in self._infos

    def info(self, key: str) -> ArrayInfo:
        """Return the header of array ``key``."""
        try:
            return self._infos[key]
        except KeyError:
            msg = f"'{self.path}' has no array '{key}' (keys: {', '.join(self._infos)})"
            raise InputError(msg, self.path) from None

    def full_check_bytes(self) -> int:
        """Return the bytes a hash-and-CRC pass processes: the file plus every deflated member inflated.

        Checking a deflated member's CRC means inflating all of it, so for a
        compressed archive that pass costs far more than its size on disk.
        """
        inflated = sum(z.file_size for z in self._members.values() if z.compress_type != zipfile.ZIP_STORED)
        return self.file_size() + inflated

    def member_crc_check(self) -> MemberCrcCheck:
        """Return a checker of every array member's zip CRC, fed by a pass over the file.

        A gather reads only some rows, so it cannot check a member's CRC;
        a pass that reads the whole file anyway (hashing it) can, at no extra read.
        """
        spans = [(self._data_start(z), z) for z in self._members.values()]
        return MemberCrcCheck(self.path, spans)

    def _check_plain(self, info: ArrayInfo) -> None:
        if info.has_objects:
            msg = (
                f"'{self.path}': array '{info.name}' has dtype {info.dtype} holding "
                "Python objects; refusing to unpickle it (store numeric arrays instead)"
            )
            raise InputError(msg, self.path)

    def read(self, key: str) -> np.ndarray:
        """Read array ``key`` whole, in native byte order and C order.

        The zip CRC of the member is checked.
        """
        info = self.info(key)
        self._check_plain(info)
        # A Fortran-order or byte-swapped member is copied once more to convert it.
        copies = 1 + int(info.fortran_order) + int(not info.dtype.isnative)
        check_budget(copies * info.nbytes, f"reading '{key}' from '{self.path}'")
        raw = np.empty(info.nbytes, np.uint8)
        for _ in self._member_blocks(info, BLOCK_BYTES, into=raw):
            pass
        arr = raw.view(info.dtype) if info.nbytes else np.empty(0, info.dtype)
        arr = arr.reshape(info.shape[::-1]).T if info.fortran_order else arr.reshape(info.shape)
        # ascontiguousarray would turn a 0-d array into shape (1,).
        return native_byte_order(arr if arr.flags.c_contiguous else arr.copy(order="C"))

    def iter_blocks(self, key: str, block_bytes: int | None = None) -> Iterator[np.ndarray]:
        """Yield the values of ``key`` as flat native-order blocks, in storage order.

        Every byte of the member passes through the zip CRC check, so a
        corrupt member raises :class:`InputError` at the end of the stream.
        A block never exceeds ``block_bytes`` (default :data:`BLOCK_BYTES`)
        nor a quarter of the memory budget. Blocks are read-only; a block the
        caller still holds is never overwritten by a later one.
        """
        info = self.info(key)
        self._check_plain(info)
        block_bytes = _block_size(info, block_bytes)
        for raw in self._member_blocks(info, block_bytes):
            values = raw.view(info.dtype)
            # Drop this frame's references so the buffer can be reused once
            # the caller lets go of the block.
            del raw
            yield native_byte_order(values)
            del values

    def map_blocks(
        self, key: str, func: Callable[[np.ndarray], T], jobs: int = 1, block_bytes: int | None = None
    ) -> Iterator[T]:
        """Yield ``func(block)`` for the blocks :meth:`iter_blocks` yields, in storage order.

        A stored member of several blocks is read and folded on up to
        ``jobs`` threads (file reads, zlib and numpy reductions release the
        GIL), each with one buffer of its own (see
        :func:`~ptyevidence.readers.common.thread_count`). The zip CRC is folded per
        block and combined, and checked at the end of the stream, as in
        :meth:`iter_blocks`. Deflated members are inflated in order, on the
        caller's thread. ``func`` must not keep its block.
        """
        info = self.info(key)
        self._check_plain(info)
        block_bytes = _block_size(info, block_bytes)
        jobs = thread_count(jobs, -(-info.nbytes // block_bytes), block_bytes)
        if jobs <= 1 or info.compressed:
            return (func(block) for block in self.iter_blocks(key, block_bytes))
        return self._map_stored(info, func, jobs, block_bytes)

    def _map_stored(self, info: ArrayInfo, func: Callable[[np.ndarray], T], jobs: int, block_bytes: int) -> Iterator[T]:
        zinfo = self._members[info.name]
        start = self._data_start(zinfo)
        head = info.data_offset - start
        tail = zinfo.file_size - head - info.nbytes
        local = threading.local()  # each thread's buffer, reused for its blocks

        def task(pos: int) -> tuple[T, int, int]:
            if getattr(local, "buffer", None) is None:
                local.buffer = np.empty(block_bytes, np.uint8)
            raw = local.buffer[: min(block_bytes, info.nbytes - pos)]
            with open(self.path, "rb", buffering=0) as fh:
                self._fill(fh, info.data_offset + pos, raw, zinfo)
            crc = zlib.crc32(raw)
            values = raw.view(info.dtype)
            values.flags.writeable = False
            return func(native_byte_order(values)), crc, raw.nbytes

        with open(self.path, "rb", buffering=0) as fh:
            crc = zlib.crc32(self._read_span(fh, start, head, zinfo))
            for value, piece, length in ordered_map(task, range(0, info.nbytes, block_bytes), jobs):
                crc = _crc32_combine(crc, piece, length)
                yield value
            crc = zlib.crc32(self._read_span(fh, info.data_offset + info.nbytes, tail, zinfo), crc)
        _check_crc(self.path, zinfo, crc)

    def _member_blocks(self, info: ArrayInfo, block_bytes: int, into: np.ndarray | None = None) -> Iterator[np.ndarray]:
        """Yield a member's data bytes in blocks of ``block_bytes``, checking its CRC.

        With ``into`` the blocks are consecutive slices of it; otherwise they
        come from a :class:`_BufferRing`, so a pass allocates at most three.
        """
        if info.compressed:
            return self._inflated_blocks(info, block_bytes, into)
        return self._stored_blocks(info, block_bytes, into)

    def _stored_blocks(self, info: ArrayInfo, block_bytes: int, into: np.ndarray | None = None) -> Iterator[np.ndarray]:
        """Yield the data of a stored member as read-only uint8 blocks, then check its CRC.

        Plain reads at the member's offset fill either consecutive slices of
        ``into`` or buffers from a :class:`_BufferRing`. For large members a
        worker thread reads the next block and folds the CRC-32 of the whole
        member (``.npy`` header, data, any trailing bytes) while the caller
        works on the current one, so neither the read nor the check costs the
        caller a pass of its own.
        """
        zinfo = self._members[info.name]
        start = self._data_start(zinfo)
        head = info.data_offset - start
        tail = zinfo.file_size - head - info.nbytes
        starts = range(0, info.nbytes, block_bytes)
        # Three buffers: the caller's previous block, the current one, the next.
        ring = _BufferRing(min(block_bytes, info.nbytes), keep=3)
        pending: list[np.ndarray] = []

        def schedule(pos: int) -> None:
            n = min(block_bytes, info.nbytes - pos)
            block = into[pos : pos + n] if into is not None else ring.get()[:n]
            reader.submit(block, info.data_offset + pos)
            pending.append(block)

        with (
            open(self.path, "rb", buffering=0) as fh,
            _ReadAhead(
                lambda out, offset: self._fill(fh, offset, out, zinfo),
                threaded=info.nbytes >= CRC_THREAD_BYTES,
            ) as reader,
        ):
            reader.submit(self._read_span(fh, start, head, zinfo), None)
            if starts:
                schedule(0)
            for k in range(len(starts)):
                reader.wait_filled()
                block = pending.pop(0)
                if k + 1 < len(starts):
                    schedule(starts[k + 1])
                block.flags.writeable = False
                yield block
                reader.fold_rest(block, k + 1)  # block k is the (k + 1)-th submitted
                del block
            if tail > 0:
                reader.submit(np.empty(tail, np.uint8), info.data_offset + info.nbytes)
            crc = reader.finish()
        _check_crc(self.path, zinfo, crc)

    def _fill(self, fh, offset: int, out: np.ndarray, zinfo: zipfile.ZipInfo) -> None:
        got = _read_exact_into(fh, offset, out)
        if got < out.nbytes:
            _truncated(self.path, zinfo, out.nbytes - got)

    def _read_span(self, fh, offset: int, nbytes: int, zinfo: zipfile.ZipInfo) -> np.ndarray:
        span = np.empty(nbytes, np.uint8)
        self._fill(fh, offset, span, zinfo)
        return span

    def _inflated_blocks(
        self, info: ArrayInfo, block_bytes: int, into: np.ndarray | None = None
    ) -> Iterator[np.ndarray]:
        """Yield a deflated member's data as read-only uint8 blocks; zipfile checks the CRC once it is drained."""
        zinfo = self._members[info.name]
        ring = _BufferRing(block_bytes)
        with _member_errors(self.path, zinfo), self._zip.open(zinfo) as fp:
            _read_npy_header(fp, self.path, zinfo.filename)
            for pos in range(0, info.nbytes, block_bytes):
                n = min(block_bytes, info.nbytes - pos)
                block = into[pos : pos + n] if into is not None else ring.get()[:n]
                self._inflate(fp, block, zinfo)
                block.flags.writeable = False
                yield block
                del block
            # Drain to the end of the member so zipfile checks the CRC.
            while fp.read(INFLATE_PIECE_BYTES):
                pass

    def _inflate(self, fp, out: np.ndarray, zinfo: zipfile.ZipInfo) -> None:
        """Fill C-contiguous ``out`` from the open member ``fp``, piece by piece."""
        view = memoryview(out).cast("B")
        got = 0
        while got < len(view):
            piece = fp.read(min(INFLATE_PIECE_BYTES, len(view) - got))
            if not piece:
                _truncated(self.path, zinfo, len(view) - got)
            view[got : got + len(piece)] = piece
            got += len(piece)

    def take(self, key: str, indices: Sequence[int] | np.ndarray, axis: int = 0) -> np.ndarray:
        """Gather entries ``indices`` along the first or last axis of ``key``.

        Only the needed bytes are read from uncompressed C-order members
        along axis 0. A last-axis gather (legacy ``(H, W, N)`` stacks) costs
        one sequential pass; compressed members are streamed up to the last
        needed entry.

        Parameters
        ----------
        key : str
            Array key.
        indices : sequence of int
            Positions along ``axis``, any order, repeats allowed.
        axis : {0, -1}
            Axis to gather along.

        Returns
        -------
        numpy.ndarray
            Native byte order, C-contiguous, ``len(indices)`` along ``axis``.
        """
        info = self.info(key)
        self._check_plain(info)
        axis, idx = gather_indices(self.path, info, indices, axis)
        ndim = len(info.shape)
        out_shape = list(info.shape)
        out_shape[axis] = idx.size
        out_bytes = int(np.prod(out_shape, dtype=np.int64)) * info.dtype.itemsize
        # A Fortran-order array is the C-order array of the reversed shape.
        c_shape = info.shape[::-1] if info.fortran_order else info.shape
        c_axis = ndim - 1 - axis if info.fortran_order else axis
        # Peak: the distinct rows plus the output in request order, and a
        # staging block when the gather streams (compressed, or last axis).
        streams = info.compressed or c_axis != 0
        staging = 2 * min(info.nbytes, BLOCK_BYTES) if streams else 0  # up to two buffers
        check_budget(2 * out_bytes + staging, f"gathering {idx.size} entries of '{key}'")
        out = (self._take_first if c_axis == 0 else self._take_last)(info, c_shape, idx)
        if info.fortran_order:
            out = out.T
        return native_byte_order(np.ascontiguousarray(out))

    def _take_first(self, info: ArrayInfo, c_shape: tuple[int, ...], idx: np.ndarray) -> np.ndarray:
        uniq, inverse = np.unique(idx, return_inverse=True)
        if not info.compressed:
            rows = np.empty((uniq.size,) + tuple(c_shape[1:]), info.dtype)
            self._read_rows(info, uniq, rows)
            if uniq.size == idx.size and np.array_equal(uniq, idx):
                return rows  # already in request order: no second copy
            return rows[inverse]
        row_items = int(np.prod(c_shape[1:], dtype=np.int64))
        rows = np.empty((uniq.size, row_items), info.dtype)
        stop = int(uniq[-1]) + 1 if uniq.size else 0
        self._scan_rows(info, row_items, stop, uniq, rows)
        return rows[inverse].reshape((idx.size,) + tuple(c_shape[1:]))

    def _read_rows(self, info: ArrayInfo, uniq: np.ndarray, rows: np.ndarray) -> None:
        """Read first-axis rows ``uniq`` (ascending) of a stored member into ``rows``.

        Each run of consecutive rows is one read at its offset, in file order,
        straight into the output: nothing else of the member is read, and no
        memory map keeps pages resident (the kernel may map whole large page
        cache folios around every touched row, which shows up as resident
        memory far beyond the rows themselves).
        """
        row_bytes = rows.nbytes // max(1, uniq.size)
        if uniq.size == 0 or row_bytes == 0:
            return
        zinfo = self._members[info.name]
        breaks = np.flatnonzero(np.diff(uniq) != 1) + 1
        starts = np.concatenate([[0], breaks])
        ends = np.concatenate([breaks, [uniq.size]])
        with open(self.path, "rb", buffering=0) as fh:
            for a, b in zip(starts.tolist(), ends.tolist()):
                offset = info.data_offset + int(uniq[a]) * row_bytes
                self._fill(fh, offset, rows[a:b], zinfo)

    def _scan_rows(self, info: ArrayInfo, row_items: int, stop: int, wanted: np.ndarray, out: np.ndarray) -> None:
        """Stream rows ``0..stop-1`` and copy the ``wanted`` ones (sorted) into ``out``."""
        if stop == 0 or row_items == 0:
            return
        rows_per_block = max(1, BLOCK_BYTES // max(1, row_items * info.dtype.itemsize))
        zinfo = self._members[info.name]
        row0 = 0
        j = 0
        buf = np.empty((min(rows_per_block, stop), row_items), info.dtype)
        with _member_errors(self.path, zinfo), self._zip.open(zinfo) as fp:
            _read_npy_header(fp, self.path, zinfo.filename)
            # Only the prefix up to the last wanted row is inflated, once.
            while row0 < stop:
                nrows = min(rows_per_block, stop - row0)
                block = buf[:nrows]
                self._inflate(fp, block, zinfo)
                hi = np.searchsorted(wanted, row0 + nrows)
                out[j:hi] = block[wanted[j:hi] - row0]
                j = hi
                row0 += nrows

    def _take_last(self, info: ArrayInfo, c_shape: tuple[int, ...], idx: np.ndarray) -> np.ndarray:
        n_last = c_shape[-1]
        outer = int(np.prod(c_shape[:-1], dtype=np.int64))
        out = np.empty((outer, idx.size), info.dtype)
        if outer and n_last:
            rows_per_block = max(1, BLOCK_BYTES // (n_last * info.dtype.itemsize))
            if not info.compressed:
                # Each entry is strided across the whole member, so the member
                # is read once, in blocks into a reused buffer (a memory map
                # would keep every page it touched resident). A large member is
                # read as two halves on two threads: from the page cache the
                # copy, not the disk, is the limit.
                halves = 2 if info.nbytes >= CRC_THREAD_BYTES and outer >= 2 else 1
                cuts = [outer * i // halves for i in range(halves + 1)]
                with ThreadPoolExecutor(halves) as pool:
                    for done in [
                        pool.submit(self._gather_columns, info, n_last, idx, out, lo, hi, rows_per_block)
                        for lo, hi in itertools.pairwise(cuts)
                    ]:
                        done.result()
            else:
                r0 = 0
                pending = np.empty(0, info.dtype)
                for block in self.iter_blocks(info.name, rows_per_block * n_last * info.dtype.itemsize):
                    if pending.size:
                        block = np.concatenate([pending, block])
                    full = block.size // n_last
                    rows = block[: full * n_last].reshape(full, n_last)
                    out[r0 : r0 + full] = rows[:, idx]
                    r0 += full
                    pending = block[full * n_last :]
        return out.reshape(tuple(c_shape[:-1]) + (idx.size,))

    def _gather_columns(
        self,
        info: ArrayInfo,
        n_last: int,
        idx: np.ndarray,
        out: np.ndarray,
        first: int,
        stop: int,
        rows_per_block: int,
    ) -> None:
        """Read rows ``first..stop-1`` of a stored member and copy columns ``idx`` into ``out``."""
        zinfo = self._members[info.name]
        row_bytes = n_last * info.dtype.itemsize
        buf = np.empty((min(rows_per_block, stop - first), n_last), info.dtype)
        with open(self.path, "rb", buffering=0) as fh:
            for r0 in range(first, stop, rows_per_block):
                rows = buf[: min(rows_per_block, stop - r0)]
                self._fill(fh, info.data_offset + r0 * row_bytes, rows, zinfo)
                out[r0 : r0 + len(rows)] = rows[:, idx]

    def close(self) -> None:
        """Close the archive."""
        self._zip.close()


class _BufferRing:
    """Buffers for consecutive blocks, reusing one only when nobody holds it.

    A ``for block in blocks`` loop still holds the previous block while the
    next one is read, so two buffers alternate; a caller that keeps its
    blocks gets a new buffer each time, and nothing it holds is overwritten.

    Parameters
    ----------
    nbytes : int
        Size of each buffer.
    keep : int
        Buffers kept for reuse.
    """

    def __init__(self, nbytes: int, keep: int = 2) -> None:
        self._nbytes = nbytes
        self._keep = keep
        self._buffers: list[np.ndarray] = []

    def get(self) -> np.ndarray:
        """Return a uint8 buffer of ``nbytes`` that no live array refers to."""
        for i in range(len(self._buffers)):
            # Two references: the list slot and getrefcount's argument. Any
            # block handed out earlier is a view that keeps its buffer alive.
            if sys.getrefcount(self._buffers[i]) == 2:
                return self._buffers[i]
        buf = np.empty(self._nbytes, np.uint8)
        if len(self._buffers) < self._keep:
            self._buffers.append(buf)
        return buf


def _block_size(info: ArrayInfo, block_bytes: int | None) -> int:
    """Return the bytes per block: ``block_bytes`` (default :data:`BLOCK_BYTES`), whole items, <= budget/4."""
    itemsize = max(info.dtype.itemsize, 1)
    block_bytes = BLOCK_BYTES if block_bytes is None else int(block_bytes)
    block_bytes = min(block_bytes, memory_budget() // 4)
    return max(itemsize, block_bytes - block_bytes % itemsize)


def _read_exact_into(fh, offset: int, out: np.ndarray) -> int:
    """Read ``out.nbytes`` bytes at ``offset`` of ``fh`` into C-contiguous ``out``.

    Every data read of a stored member goes through here, so the bytes a
    gather reads can be observed in one place. Returns the bytes read (fewer
    than asked only at the end of the file).
    """
    view = memoryview(out).cast("B")
    fh.seek(offset)
    got = 0
    while got < len(view):
        n = fh.readinto(view[got:])
        if not n:
            break
        got += n
    return got


class _ReadAhead:
    """Fill blocks from a file and compute the zip CRC-32 of everything submitted.

    ``submit(block, offset)`` queues "read ``block.nbytes`` bytes at
    ``offset`` into ``block``" (``offset=None``: already filled); blocks
    count towards the CRC in submission order. With ``threaded`` the reads
    run on a worker thread: ``wait_filled()`` returns as soon as the oldest
    waiting block is filled, so the caller uses it while the worker reads
    the next one. The CRC work is shared: the worker folds the front of each
    block, and the caller folds the last :data:`CALLER_CRC_SHARE` of it with
    ``fold_rest(block)`` once done with it, which balances the two cores
    when the caller's own work is the lighter. Pieces are folded
    independently and joined with :func:`_crc32_combine`. File reads and
    zlib release the GIL. ``finish()`` waits for every job and returns the
    CRC; a read error in the worker is raised in the caller.

    Parameters
    ----------
    fill : callable
        ``fill(block, offset)`` fills ``block`` from the file or raises.
    threaded : bool
        Run the reads on a worker thread (worth it for large members).
    """

    def __init__(self, fill, threaded: bool) -> None:
        self._fill = fill
        self._pieces: dict[int, tuple[int, int]] = {}  # sequence -> (crc, length)
        self._submitted = 0
        self._error: BaseException | None = None
        self._todo: queue.SimpleQueue | None = queue.SimpleQueue() if threaded else None
        self._filled = threading.Semaphore(0)
        self._thread: threading.Thread | None = None

    def __enter__(self) -> _ReadAhead:  # noqa: PYI034
        if self._todo is not None:
            self._thread = threading.Thread(target=self._work, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def submit(self, block: np.ndarray, offset: int | None) -> None:
        seq = 2 * self._submitted
        self._submitted += 1
        if self._thread is None:
            if offset is not None:
                self._fill(block, offset)
            self._pieces[seq] = (zlib.crc32(block), block.nbytes)
        else:
            self._todo.put((block, offset, seq))

    def wait_filled(self) -> None:
        if self._thread is not None:
            self._filled.acquire()
            self._raise_error()

    def fold_rest(self, block: np.ndarray, k: int) -> None:
        """Fold the caller's share of the ``k``-th submitted block (after ``wait_filled``)."""
        if self._thread is not None:
            front = _front_length(block.nbytes)
            rest = block.reshape(-1).view(np.uint8)[front:]
            self._pieces[2 * k + 1] = (zlib.crc32(rest), rest.size)

    def finish(self) -> int:
        self._stop()
        self._raise_error()
        crc = 0
        for seq in sorted(self._pieces):
            piece, length = self._pieces[seq]
            crc = _crc32_combine(crc, piece, length)
        return crc

    def _stop(self) -> None:
        if self._thread is not None:
            self._todo.put(None)
            self._thread.join()
            self._thread = None

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _work(self) -> None:
        while True:
            job = self._todo.get()
            if job is None:
                return
            block, offset, seq = job
            del job
            data = None
            if self._error is None:
                try:
                    if offset is not None:
                        self._fill(block, offset)
                        offset = 0  # filled: only the CRC is left
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    self._error = exc
            if offset is not None:
                self._filled.release()
            if self._error is None:
                data = block.reshape(-1).view(np.uint8)
                front = _front_length(data.size) if offset is not None else data.size
                self._pieces[seq] = (zlib.crc32(data[:front]), front)
            # Drop the block before taking the next job, so its buffer reads
            # as free to the ring.
            del block, data


#: Share of each block's CRC folded by the caller rather than the worker thread
#: (a float32 statistics pass leaves the caller about this much idle time).
CALLER_CRC_SHARE = 0.2


def _front_length(nbytes: int) -> int:
    """Bytes of a block whose CRC the worker folds; the caller folds the rest."""
    return nbytes - int(nbytes * CALLER_CRC_SHARE)


_CRC32_POLY = 0xEDB88320  # zip's CRC-32, bit-reflected


def _multmodp(a: int, b: int) -> int:
    """Multiply two bit-reflected polynomials modulo the CRC-32 polynomial."""
    m, product = 1 << 31, 0
    while True:
        if a & m:
            product ^= b
            if (a & (m - 1)) == 0:
                return product
        m >>= 1
        b = (b >> 1) ^ _CRC32_POLY if b & 1 else b >> 1


# x^(2^k) modulo the CRC-32 polynomial, k = 0..31.
_X2N = [1 << 30]
for _ in range(31):
    _X2N.append(_multmodp(_X2N[-1], _X2N[-1]))


def _crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC-32 of ``A + B`` from ``crc32(A)``, ``crc32(B)`` and ``len(B)`` (zlib's method).

    Examples
    --------
    >>> a, b = b"ptycho", b"graphy"
    >>> _crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)
    True
    """
    shift, n, k = 1 << 31, len2, 3  # x^(8 * len2): one byte is x^8
    while n:
        if n & 1:
            shift = _multmodp(_X2N[k & 31], shift)
        n >>= 1
        k += 1
    return _multmodp(shift, crc1) ^ crc2


def read_member(archive: zipfile.ZipFile, zinfo: zipfile.ZipInfo, path: str) -> np.ndarray:
    """Read one ``.npy`` member of an open archive on its own, with :class:`NpzSource`'s checks.

    For archives :class:`NpzSource` refuses as a whole (one damaged member
    stops it): the header is checked, the data it promises against the
    member's size, and the memory budget before anything is read.

    Raises
    ------
    InputError
        For a corrupt, encrypted, object or mis-sized member.
    MemoryBudgetError
        If the member does not fit the budget.
    """
    info, _ = _member_info(archive, zinfo, path, zinfo.filename)
    if info.has_objects:
        msg = f"'{path}': member '{zinfo.filename}' holds Python objects; refusing to unpickle it"
        raise InputError(msg, path)
    check_budget(2 * info.nbytes, f"reading '{zinfo.filename}' from '{path}'")
    with _member_errors(path, zinfo, ValueError), archive.open(zinfo) as fp, quiet_npy_header():
        return np.lib.format.read_array(fp, allow_pickle=False)


def _member_info(archive: zipfile.ZipFile, zinfo: zipfile.ZipInfo, path: str, key: str) -> tuple[ArrayInfo, int]:
    """Read a member's ``.npy`` header and check it against the member's size; return it and its length."""
    if zinfo.flag_bits & 0x1:
        msg = f"'{path}': member '{zinfo.filename}' is encrypted; cannot read it"
        raise InputError(msg, path)
    with _member_errors(path, zinfo), archive.open(zinfo) as fp:
        shape, fortran, dtype = _read_npy_header(fp, path, zinfo.filename)
        header_len = fp.tell()
    info = ArrayInfo(key, dtype, shape, fortran, zinfo.compress_type != zipfile.ZIP_STORED)
    available = zinfo.file_size - header_len
    # Surplus bytes mean the header understates the shape: the
    # array read back would not be the array that was written.
    if not dtype.hasobject and available != info.nbytes:
        msg = (
            f"'{path}': member '{zinfo.filename}' header promises shape "
            f"{shape} {dtype} ({info.nbytes} bytes) but holds {available} "
            "data bytes; the file is truncated or was written incorrectly"
        )
        raise InputError(msg, path)
    return info, header_len


@contextmanager
def _member_errors(path: str, zinfo: zipfile.ZipInfo, *more: type[Exception]) -> Iterator[None]:
    """Report what zipfile (or ``more``) raises on a damaged member as one :class:`InputError` naming it."""
    try:
        yield
    except InputError:
        raise
    except _MEMBER_ERRORS + more as exc:
        msg = f"'{path}': member '{zinfo.filename}' is corrupt ({exc})"
        raise InputError(msg, path) from None


def _truncated(path: str, zinfo: zipfile.ZipInfo, missing: int) -> None:
    msg = f"'{path}': member '{zinfo.filename}' ended {missing} bytes early; the file is truncated"
    raise InputError(msg, path)


def _check_crc(path: str, zinfo: zipfile.ZipInfo, crc: int) -> None:
    if crc != zinfo.CRC:
        msg = f"'{path}': member '{zinfo.filename}' is corrupt (Bad CRC-32: stored {zinfo.CRC:08x}, computed {crc:08x})"
        raise InputError(msg, path)


def _read_npy_header(fp, path: str, member: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """Parse a ``.npy`` header from ``fp`` without trusting it with pickles."""
    fmt = np.lib.format
    try:
        with quiet_npy_header():
            version = fmt.read_magic(fp)
            if version == (1, 0):
                shape, fortran, dtype = fmt.read_array_header_1_0(fp)
            elif version in ((2, 0), (3, 0)):
                shape, fortran, dtype = fmt.read_array_header_2_0(fp)
            else:
                msg = f"unsupported .npy format version {version}"
                raise ValueError(msg)
    except _MEMBER_ERRORS:
        raise  # the zip member itself is damaged: reported by the caller
    except Exception as exc:  # noqa: BLE001 - numpy's header parser raises many kinds
        msg = f"'{path}': member '{member}' is not a valid .npy array ({type(exc).__name__}: {exc})"
        raise InputError(msg, path) from None
    dtype = np.dtype(dtype)
    shape = tuple(int(s) for s in shape)
    problem = _header_problem(shape, dtype)
    if problem:
        msg = f"'{path}': member '{member}' is not a valid .npy array ({problem})"
        raise InputError(msg, path)
    return shape, bool(fortran), dtype


def _header_problem(shape: tuple[int, ...], dtype: np.dtype) -> str | None:
    """Return what makes a parsed header unusable as one array's description, or None."""
    if dtype.subdtype is not None:
        # A sub-array descr ('<f4', (3,)) would silently add axes to the shape.
        return f"its descr {dtype.str}{dtype.shape} is a sub-array type; the header's shape must hold every axis"
    if any(s < 0 for s in shape):
        return f"shape {shape} has a negative length"
    count = math.prod(shape)
    if count * max(dtype.itemsize, 1) > _MAX_HEADER_BYTES:
        return f"shape {shape} of {dtype} promises {count} elements, more than any file holds"
    if dtype.itemsize == 0 and count and not dtype.hasobject:
        return f"dtype {dtype} has items of 0 bytes, so {count} elements would hold no data"
    return None


class MemberCrcCheck:
    """Zip CRC-32 of archive members, folded from consecutive blocks of the raw file.

    Feed every block of one sequential pass over the archive with
    :meth:`feed`; :meth:`finish` then raises :class:`InputError` naming the
    first member whose CRC differs. Stored members are checked on their raw
    bytes, deflated ones after inflating (in bounded pieces); other
    compression methods are left to the readers.

    Parameters
    ----------
    path : str
        The archive, for messages.
    spans : list of (int, zipfile.ZipInfo)
        File offset where each member's stored bytes begin, and the member.
    """

    def __init__(self, path: str, spans: list[tuple[int, zipfile.ZipInfo]]) -> None:
        self._path = path
        self._members = [
            [start, start + z.compress_size, z, zlib.decompressobj(-zlib.MAX_WBITS), 0]
            for start, z in spans
            if z.compress_type in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
        ]

    def feed(self, offset: int, block: bytes) -> None:
        """Fold ``block``, found at byte ``offset`` of the file, into the members it overlaps."""
        end = offset + len(block)
        for member in self._members:
            start, stop, zinfo, inflater, crc = member
            lo, hi = max(start, offset), min(stop, end)
            if lo >= hi:
                continue
            piece = memoryview(block)[lo - offset : hi - offset]
            if zinfo.compress_type == zipfile.ZIP_STORED:
                member[4] = zlib.crc32(piece, crc)
                continue
            with _member_errors(self._path, zinfo):
                while piece:
                    # Bounded output: a highly compressed piece may inflate a lot.
                    crc = zlib.crc32(inflater.decompress(piece, INFLATE_PIECE_BYTES), crc)
                    piece = inflater.unconsumed_tail
            member[4] = crc

    def finish(self) -> None:
        """Raise :class:`InputError` if a member's CRC differs from the one the zip records."""
        for _, _, zinfo, inflater, crc in self._members:
            if zinfo.compress_type == zipfile.ZIP_DEFLATED:
                crc = zlib.crc32(inflater.flush(), crc)
            _check_crc(self._path, zinfo, crc)
