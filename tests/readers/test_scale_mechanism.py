"""Why large sources cost O(subset): the reads, blocks and budget behind the speed.

No timings here (they live in ``benchmarks/run.py``). These tests observe the
mechanism instead: which bytes a gather reads, how big the blocks of a full
pass are, how much memory validation holds, and that an operation over the
memory budget is refused with a clear error rather than attempted.
"""

from __future__ import annotations

import itertools
import os
import threading
import tracemalloc
import zipfile

import numpy as np
import numpy.testing as npt
import pytest

import npz_damage
from conftest import dataset_arrays, run_cli
from ptyevidence._memory import set_memory_budget
from ptyevidence.contract.validate import ArrayStats, validate_dataset
from ptyevidence.exceptions import InputError, MemoryBudgetError
from ptyevidence.readers import npz as _npz
from ptyevidence.readers.common import ordered_map
from ptyevidence.readers.npz import NpzSource

FRAME_BYTES = 32 * 32 * 4  # one 32 x 32 float32 frame


@pytest.fixture
def budget():
    """Set the memory budget for one test; the default is restored afterwards."""
    yield set_memory_budget
    set_memory_budget(None)


@pytest.fixture
def big_stack(make_npz):
    """A stored 8 MiB stack of 2048 frames of 32 x 32 float32 (frame i: [i, 0, 0] == i / 1000)."""
    return make_npz("big.npz", n=2048, h=32, w=32)


@pytest.fixture
def recorded_reads(monkeypatch):
    """Record (offset, nbytes) of every data read the NPZ reader makes from a stored member."""
    reads: list[tuple[int, int]] = []
    real = _npz._read_exact_into

    def recording(fh, offset, out):
        got = real(fh, offset, out)
        reads.append((offset, got))
        return got

    monkeypatch.setattr(_npz, "_read_exact_into", recording)
    return reads


def _bytes_read_by_this_process() -> int | None:
    """``rchar`` of /proc/self/io: bytes this process read through read-like calls."""
    try:
        with open("/proc/self/io") as fh:
            return int(next(line for line in fh if line.startswith("rchar")).split()[1])
    except (OSError, StopIteration):
        return None


# -- a default fixture cut of a large source reads O(subset) --------------------------


def test_default_cut_of_a_source_above_the_hash_limit_reads_a_small_part_of_it(
    big_stack, make_npz, tmp_path, monkeypatch
):
    """Above FULL_HASH_LIMIT, fixture make reads the subset, not the file (counted by the kernel)."""
    from ptyevidence.fixture import make as _fixture
    from ptyevidence.fixture import make_fixture

    size = os.path.getsize(big_stack)
    bigger = make_npz("bigger.npz", n=4 * 2048, h=32, w=32)
    make_fixture(big_stack, tmp_path / "warm.npz", subset_size=16, progress=False)  # imports
    monkeypatch.setattr(_fixture, "FULL_HASH_LIMIT", size // 2)
    before = _bytes_read_by_this_process()
    if before is None:
        pytest.skip("/proc/self/io is not available")
    reads = []
    for name, src in (("cut", big_stack), ("cut-bigger", bigger)):
        before = _bytes_read_by_this_process()
        result = make_fixture(src, tmp_path / f"{name}.npz", subset_size=16, progress=False)
        reads.append(_bytes_read_by_this_process() - before)
        assert result.sidecar["source_sha256"] is None
    # 16 frames of 4 KiB, the coordinate arrays, the guesses, headers, and the staged
    # fixture re-read by its two validations (data001, fixture-acceptance) and its hash:
    # a fraction of the 8 MiB, and not more for a source four times larger (only its
    # coordinates, 16 bytes a position per array, are read whole).
    assert reads[0] < size / 4
    assert reads[1] - reads[0] < 3 * 2048 * 4 * 16
    before = _bytes_read_by_this_process()
    make_fixture(big_stack, tmp_path / "full.npz", subset_size=16, source_hash="full", progress=False)
    assert _bytes_read_by_this_process() - before >= size


# -- gathers read only what they return ---------------------------------------------


def test_subset_gather_reads_only_the_requested_frames(big_stack, recorded_reads):
    """16 frames out of 2048 read exactly 16 frames' bytes, at their own offsets."""
    idx = np.array([2040, 7, 900, 7, 1500, 33, 260, 1100, 64, 1999, 400, 5, 1300, 777, 1800, 150, 620])
    with NpzSource(big_stack) as src:
        offset = src.info("diffraction").data_offset
        before = _bytes_read_by_this_process()
        frames = src.take("diffraction", idx)
        after = _bytes_read_by_this_process()
        file_size = src.file_size()
    wanted = np.unique(idx)
    assert sorted(recorded_reads) == [(offset + int(i) * FRAME_BYTES, FRAME_BYTES) for i in wanted]
    assert sum(n for _, n in recorded_reads) < file_size / 100
    npt.assert_allclose(frames[:, 0, 0], idx / 1000, rtol=1e-6)  # right frames, request order
    if before is not None:
        # Independent route: the kernel's count of bytes this process read.
        assert wanted.size * FRAME_BYTES <= after - before <= wanted.size * FRAME_BYTES + 4096


def test_consecutive_frames_are_read_in_one_call(big_stack, recorded_reads):
    """A run of adjacent frames is one read of the whole run, not one read per frame."""
    with NpzSource(big_stack) as src:
        offset = src.info("diffraction").data_offset
        src.take("diffraction", np.arange(100, 132))
    assert recorded_reads == [(offset + 100 * FRAME_BYTES, 32 * FRAME_BYTES)]


def test_legacy_gather_reads_the_member_exactly_once_in_bounded_blocks(tmp_path, recorded_reads, monkeypatch):
    """A last-axis gather reads every byte of the member once, one bounded block at a time."""
    monkeypatch.setattr(_npz, "BLOCK_BYTES", 64 * 2**10)
    arrays = dataset_arrays(n=2048, h=32, w=32)
    legacy = np.ascontiguousarray(np.moveaxis(arrays["diffraction"], 0, -1))  # (H, W, N)
    path = os.path.join(tmp_path, "legacy.npz")
    np.savez(path, diffraction=legacy)
    with NpzSource(path) as src:
        info = src.info("diffraction")
        out = src.take("diffraction", [1500, 3, 700], axis=-1)
    reads = sorted(recorded_reads)  # two threads may each read one half
    assert reads[0][0] == info.data_offset
    assert all(o + n == nxt for (o, n), (nxt, _) in itertools.pairwise(reads))  # no gap or re-read
    assert sum(n for _, n in reads) == info.nbytes
    assert max(n for _, n in recorded_reads) <= 64 * 2**10
    npt.assert_array_equal(out, legacy[:, :, [1500, 3, 700]])


def test_compressed_gather_inflates_only_the_prefix_it_needs(tmp_path, monkeypatch):
    """Frames up to row 300 of 2048 inflate about 300 rows of the member, in one pass."""
    monkeypatch.setattr(_npz, "BLOCK_BYTES", 16 * FRAME_BYTES)
    arrays = dataset_arrays(n=2048, h=32, w=32)
    path = os.path.join(tmp_path, "deflated.npz")
    np.savez_compressed(path, diffraction=arrays["diffraction"])
    delivered: list[int] = []
    opened: list[str] = []
    real_read, real_open = zipfile.ZipExtFile.read, zipfile.ZipFile.open

    def counting_read(self, n=-1):
        data = real_read(self, n)
        delivered.append(len(data))
        return data

    def counting_open(self, name, *args, **kwargs):
        opened.append(getattr(name, "filename", name))
        return real_open(self, name, *args, **kwargs)

    with NpzSource(path) as src:
        monkeypatch.setattr(zipfile.ZipExtFile, "read", counting_read)
        monkeypatch.setattr(zipfile.ZipFile, "open", counting_open)
        frames = src.take("diffraction", [300, 12, 150])
    assert opened == ["diffraction.npy"]  # one pass
    inflated = sum(delivered)
    assert 301 * FRAME_BYTES <= inflated <= (301 + 16) * FRAME_BYTES + 4096  # blocks + .npy header
    npt.assert_array_equal(frames, arrays["diffraction"][[300, 12, 150]])


# -- full passes hold a bounded amount of memory ---------------------------------------


def test_validate_streams_the_stack_in_blocks_of_the_block_size(big_stack, monkeypatch):
    """Validation sees the 8 MiB stack as blocks of at most BLOCK_BYTES, never whole."""
    monkeypatch.setattr(_npz, "BLOCK_BYTES", 64 * 2**10)
    seen: list[int] = []
    real_update = ArrayStats.update

    def recording(self, block):
        seen.append(block.nbytes)
        return real_update(self, block)

    monkeypatch.setattr(ArrayStats, "update", recording)
    report = validate_dataset(big_stack)
    assert report.ok
    assert max(seen) <= 64 * 2**10
    assert len(seen) >= 2048 * FRAME_BYTES // (64 * 2**10)


@pytest.mark.parametrize("jobs", [1, 2])
def test_validate_peak_memory_is_a_few_blocks_not_the_file(big_stack, monkeypatch, jobs):
    """Python-visible allocations during validation stay near two blocks for an 8 MiB stack."""
    monkeypatch.setattr(_npz, "BLOCK_BYTES", 64 * 2**10)
    monkeypatch.setattr(_npz, "CRC_THREAD_BYTES", 0)  # the threaded CRC path too
    validate_dataset(big_stack, jobs=jobs)  # warm caches (contract files, imports)
    tracemalloc.start()
    try:
        report = validate_dataset(big_stack, jobs=jobs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.ok
    assert peak < 1 * 2**20  # the stack alone is 8 MiB


def test_blocks_kept_by_the_caller_are_never_overwritten(big_stack, monkeypatch):
    """Holding every block of a pass keeps each one intact (buffers are reused only when free)."""
    monkeypatch.setattr(_npz, "BLOCK_BYTES", 64 * 2**10)
    with NpzSource(big_stack) as src, np.load(big_stack) as ref:
        kept = list(src.iter_blocks("diffraction"))
        npt.assert_array_equal(np.concatenate(kept), ref["diffraction"].ravel())


def test_threads_fold_blocks_side_by_side_each_reusing_one_buffer(big_stack, monkeypatch):
    """map_blocks(jobs=2): two threads fold at once, each always in its own single buffer."""
    monkeypatch.setattr(_npz, "BLOCK_BYTES", 64 * 2**10)
    both_running = threading.Barrier(2, timeout=30)  # broken unless a second thread joins in
    lock = threading.Lock()
    seen: list[tuple[int, int]] = []

    def fold(block):
        me = threading.get_ident()
        with lock:
            first = all(t != me for t, _ in seen)
            seen.append((me, block.__array_interface__["data"][0]))
        if first:
            both_running.wait()
        return block.size

    with NpzSource(big_stack) as src:
        sizes = list(src.map_blocks("diffraction", fold, jobs=2))
        assert sizes == [b.size for b in src.iter_blocks("diffraction")]
    assert len(sizes) == 8 * 2**20 // (64 * 2**10)
    assert len({t for t, _ in seen}) == 2
    assert len(set(seen)) == 2  # one buffer address per thread: two blocks in flight at most


def test_ordered_map_runs_few_items_ahead_and_stops_when_closed():
    """At most 2 * jobs items are started ahead of the caller; closing the map starts no more."""
    started: list[int] = []

    def task(k):
        started.append(k)
        return k

    results = ordered_map(task, range(1000), jobs=2)
    assert [next(results) for _ in range(3)] == [0, 1, 2]
    results.close()
    assert len(started) <= 3 + 4
    assert sorted(started) == list(range(len(started)))


def test_ordered_map_raises_the_first_failure_after_the_results_before_it():
    """A failing item raises in its place in the order; earlier results are yielded first."""

    def task(k):
        if k in (3, 5):
            msg = f"item {k}"
            raise ValueError(msg)
        return k

    results = ordered_map(task, range(10), jobs=3)
    assert [next(results) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(ValueError, match="item 3"):
        next(results)


def test_bad_crc_is_found_when_checked_on_a_second_thread(tmp_path, monkeypatch):
    """The CRC folded in parallel with the statistics still catches a flipped byte."""
    monkeypatch.setattr(_npz, "CRC_THREAD_BYTES", 0)
    path = npz_damage.bad_crc(str(tmp_path))
    with NpzSource(path) as src, pytest.raises(InputError, match="diffraction.npy.*CRC"):
        for _ in src.iter_blocks("diffraction", 1024):
            pass


# -- the memory budget ----------------------------------------------------------------


def test_whole_read_over_budget_is_refused_before_allocating(big_stack, budget):
    """Reading an 8 MiB stack whole under a 1 MiB budget raises MemoryBudgetError naming it."""
    budget(2**20)
    with (
        NpzSource(big_stack) as src,
        pytest.raises(MemoryBudgetError, match=r"reading 'diffraction'.*8 MiB.*budget of 1 MiB.*--memory-budget"),
    ):
        src.read("diffraction")


def test_gather_over_budget_is_refused_and_a_small_one_is_not(big_stack, budget):
    """Gathering every frame is refused under a 1 MiB budget; 16 frames are gathered."""
    budget(2**20)
    with NpzSource(big_stack) as src:
        with pytest.raises(MemoryBudgetError, match="gathering 2048 entries of 'diffraction'"):
            src.take("diffraction", np.arange(2048))
        assert src.take("diffraction", np.arange(16)).shape == (16, 32, 32)


def test_validation_fits_a_budget_smaller_than_the_file(big_stack, budget):
    """Streaming shrinks its blocks to the budget, so an 8 MiB stack validates under 1 MiB."""
    budget(2**20)
    with NpzSource(big_stack) as src:
        assert max(b.nbytes for b in src.iter_blocks("diffraction")) <= 2**20 // 4
    assert validate_dataset(big_stack).ok


def test_cli_refuses_an_operation_over_the_budget_in_one_line(big_stack, tmp_path):
    """The command line reports the refusal on one line, exit 2, and writes nothing."""
    out = os.path.join(tmp_path, "fixture.npz")
    done = run_cli(
        "--memory-budget",
        "1M",
        "fixture",
        "make",
        "--source",
        big_stack,
        "--output",
        out,
        "--subset-size",
        "2048",
        "--no-source-hash",
    )
    assert done.returncode == 2
    assert "memory budget" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr
    assert not os.path.exists(out)


# -- the fast statistics agree with plain numpy ------------------------------------------

_RNG = np.random.default_rng(11)
_F32 = _RNG.random(10_000, dtype=np.float32)
_F32[::7] = 0
STAT_CASES = {
    "float32-with-zeros": _F32,
    "float32-negative-zero": np.where(_F32 == 0, np.float32(-0.0), _F32),
    "float32-negatives": _F32 - 0.5,
    "float32-nan-inf": np.concatenate([_F32, [np.nan, np.inf, -np.inf]]).astype(np.float32),
    "float32-huge": (_F32 * 3e35).astype(np.float32),
    "float32-positive-no-zeros": _F32 + np.float32(0.5),
    "float64": _RNG.normal(size=9_999),
    "float64-non-negative": np.abs(_RNG.normal(size=9_999)) * (_RNG.random(9_999) > 0.3),
    "float16": _F32.astype(np.float16),
    "complex64-nan": np.concatenate([_F32 + 1j * _F32, [np.nan + 0j]]).astype(np.complex64),
    "uint16": _RNG.integers(0, 60_000, 5_000).astype(np.uint16),
    "all-zero": np.zeros(4096, np.float32),
}


@pytest.mark.parametrize("values", STAT_CASES.values(), ids=STAT_CASES.keys())
def test_array_stats_agree_with_numpy_in_any_blocking(values):
    """Streaming statistics over uneven blocks equal numpy's over the whole array."""
    stats = ArrayStats()
    for block in np.array_split(values, [1, 4097, 4100]):
        stats.update(block)
    finite = values[np.isfinite(values)]
    modulus = np.abs(finite) if np.iscomplexobj(values) else finite
    assert stats.count == values.size
    assert stats.finite == finite.size
    assert stats.nan == int(np.count_nonzero(np.isnan(values)))
    assert stats.inf == values.size - finite.size - stats.nan
    assert stats.nonzero == int(np.count_nonzero(modulus))
    assert stats.min == float(modulus.min())
    assert stats.max == float(modulus.max())
    npt.assert_allclose(stats.sum, modulus.astype(np.float64).sum(), rtol=1e-6)


def test_duplicate_positions_are_counted_like_numpy_unique(make_npz):
    """The positions-unique finding counts repeats as numpy.unique(axis=0) does (-0.0 == 0.0)."""
    arrays = dataset_arrays(n=40)
    arrays["xcoords"][[5, 9, 30]] = arrays["xcoords"][[4, 8, 8]]
    arrays["ycoords"][[5, 9, 30]] = arrays["ycoords"][[4, 8, 8]]
    arrays["xcoords"][[0, 1]] = [0.0, -0.0]
    arrays["ycoords"][[0, 1]] = [7.0, 7.0]
    pts = np.stack([arrays["xcoords"], arrays["ycoords"]], axis=1)
    repeats = 40 - np.unique(pts, axis=0).shape[0]
    report = validate_dataset(make_npz(arrays=arrays))
    found = [f.message for f in report.findings if f.rule == "positions-unique"]
    assert found == [f"{repeats} of 40 positions repeat an earlier one"]
    assert repeats == 4
