"""Property tests: whatever the shape, dtype, byte order, memory order, layout and
compression, the reader returns the array that was written, and a fixture's
rows are the source's rows at the recorded indices."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import numpy.testing as npt
from hypothesis import given, settings
from hypothesis import strategies as st

from ptyevidence.fixture import make_fixture
from ptyevidence.readers.layout import read_frames
from ptyevidence.readers.npz import NpzSource

SETTINGS = settings(max_examples=25, deadline=None)

#: Stored dtypes: native and big-endian floats, detector counts.
DTYPES = ["<f4", ">f4", "<f8", ">f8", "<u2", ">u2"]


def _values(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """Random values of ``dtype``: amplitudes in [0, 1) or counts in 1..9 (DATA-001 range)."""
    dt = np.dtype(dtype)
    if dt.kind == "u":
        return rng.integers(1, 10, shape).astype(dt)
    return rng.random(shape).astype(dt)


def _store(folder: str, arrays: dict[str, np.ndarray], fortran: bool, compressed: bool) -> str:
    path = os.path.join(folder, "data.npz")
    stored = {k: np.asfortranarray(v) if fortran else v for k, v in arrays.items()}
    (np.savez_compressed if compressed else np.savez)(path, **stored)
    return path


@st.composite
def stored_arrays(draw):
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=3)))
    return {
        "shape": shape,
        "dtype": draw(st.sampled_from(DTYPES)),
        "fortran": draw(st.booleans()),
        "compressed": draw(st.booleans()),
        "seed": draw(st.integers(0, 2**16)),
        "first": draw(st.lists(st.integers(0, shape[0] - 1), max_size=8)),
        "last": draw(st.lists(st.integers(0, shape[-1] - 1), max_size=8)),
        "block": draw(st.integers(1, 64)),
    }


@SETTINGS
@given(stored_arrays())
def test_reader_returns_what_was_written(case):
    """read, take along either end axis, and iter_blocks agree with numpy, in native byte order."""
    arr = _values(np.random.default_rng(case["seed"]), case["shape"], case["dtype"])
    with tempfile.TemporaryDirectory() as folder:
        path = _store(folder, {"a": arr}, case["fortran"], case["compressed"])
        with NpzSource(path) as src:
            info = src.info("a")
            assert info.shape == arr.shape
            assert info.compressed == case["compressed"]
            # numpy stores column-major only arrays that are not also row-major.
            column_major = np.asfortranarray(arr) if case["fortran"] else arr
            assert info.fortran_order == (not column_major.flags.c_contiguous)
            whole = src.read("a")
            first = src.take("a", case["first"], axis=0)
            last = src.take("a", case["last"], axis=-1)
            blocks = list(src.iter_blocks("a", block_bytes=case["block"] * arr.itemsize))
    for got in (whole, first, last):
        assert got.dtype == arr.dtype.newbyteorder("=")
        assert got.dtype.isnative
        assert got.flags.c_contiguous
    npt.assert_array_equal(whole, arr)
    npt.assert_array_equal(first, arr[np.asarray(case["first"], dtype=np.intp)])
    npt.assert_array_equal(last, arr[..., np.asarray(case["last"], dtype=np.intp)])
    storage_order = "F" if info.fortran_order else "C"
    flat = np.concatenate(blocks) if blocks else np.empty(0, arr.dtype)
    npt.assert_array_equal(flat, arr.ravel(order=storage_order))


@st.composite
def stacks(draw, min_n=1):
    return {
        "n": draw(st.integers(min_n, 40)),
        "side": draw(st.integers(2, 8)),
        "dtype": draw(st.sampled_from(DTYPES)),
        "layout": draw(st.sampled_from(["canonical", "legacy"])),
        "fortran": draw(st.booleans()),
        "compressed": draw(st.booleans()),
        "seed": draw(st.integers(0, 2**16)),
    }


def _stored_stack(stack: np.ndarray, layout: str) -> np.ndarray:
    return np.ascontiguousarray(np.moveaxis(stack, 0, -1)) if layout == "legacy" else stack


@SETTINGS
@given(stacks(), st.data())
def test_read_frames_gives_frames_in_request_order(case, data):
    """Frames come back (n, H, W) in the order asked, from either stored layout."""
    n, side = case["n"], case["side"]
    rng = np.random.default_rng(case["seed"])
    stack = _values(rng, (n, side, side + 1), case["dtype"])
    idx = data.draw(st.lists(st.integers(0, n - 1), max_size=12), label="indices")
    with tempfile.TemporaryDirectory() as folder:
        path = _store(
            folder, {"diffraction": _stored_stack(stack, case["layout"])}, case["fortran"], case["compressed"]
        )
        with NpzSource(path) as src:
            frames = read_frames(src, "diffraction", idx, case["layout"])
    assert frames.shape == (len(idx), side, side + 1)
    npt.assert_array_equal(frames, stack[np.asarray(idx, dtype=np.intp)])


@SETTINGS
@given(
    stacks(min_n=16),
    st.sampled_from(["stratified-index", "grid", "farthest-point"]),
    st.data(),
)
def test_fixture_rows_are_source_rows_at_the_recorded_indices(case, strategy, data):
    """Every per-scan key of a fixture holds the source rows at its indices, canonical and native."""
    n, side = case["n"], case["side"]
    rng = np.random.default_rng(case["seed"])
    stack = _values(rng, (n, side, side), case["dtype"])
    # Distinct positions on a jittered grid, so each row is identifiable by its x.
    gy, gx = np.divmod(np.arange(n), 7)
    x = 10.0 + 2.0 * gx + rng.uniform(-0.3, 0.3, n)
    y = 10.0 + 2.0 * gy + rng.uniform(-0.3, 0.3, n)
    source = {
        "diffraction": _stored_stack(stack, case["layout"]),
        "probeGuess": (rng.random((side, side)) + 1j).astype(np.complex64),
        "objectGuess": np.ones((32, 32), np.complex64),
        "xcoords": x,
        "ycoords": y,
        "scan_index": np.arange(n) % 3,
    }
    subset = data.draw(st.integers(16, n), label="subset_size")
    with tempfile.TemporaryDirectory() as folder:
        path = _store(folder, source, case["fortran"], case["compressed"])
        # Integer counts are intensity, which DATA-001 refuses; the tolerant legacy contract takes them.
        counts = np.dtype(case["dtype"]).kind == "u"
        result = make_fixture(
            path,
            os.path.join(folder, "fixture.npz"),
            subset_size=subset,
            strategy=strategy,
            seed=case["seed"],
            progress=False,
            contract="legacy" if counts else None,
            source_hash=data.draw(st.sampled_from(["auto", "full", "none"]), label="source_hash"),
        )
        with np.load(result.path, allow_pickle=False) as fixture:
            got = {k: fixture[k] for k in fixture.files}
    idx = result.indices
    assert idx.size == subset == len(set(idx.tolist()))
    assert result.sidecar["source_layout"] == case["layout"]
    npt.assert_array_equal(got["diffraction"], stack[idx].astype(np.float32))
    assert got["diffraction"].dtype == np.float32
    assert got["diffraction"].flags.c_contiguous
    for key in ("xcoords", "ycoords", "scan_index"):
        npt.assert_array_equal(got[key], source[key][idx])
    npt.assert_array_equal(got["probeGuess"], source["probeGuess"])
    assert result.sidecar["indices"] == idx.tolist()
