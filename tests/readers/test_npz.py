"""The NPZ reader: headers without data, pickle-free reads, gathers, damaged files."""

from __future__ import annotations

import os
import pickle
import threading
import warnings
import zipfile
from pathlib import Path

import numpy as np
import numpy.testing as npt
import pytest

import npz_damage
from conftest import dataset_arrays
from ptyevidence.exceptions import InputError
from ptyevidence.readers import ArrayInfo, NpzSource

# -- storage variants -------------------------------------------------------------
# Each variant turns a C-order native array into the array actually handed to
# numpy.savez, so the same logical values are stored in different ways.


def _as_is(a: np.ndarray) -> np.ndarray:
    return a


def _fortran(a: np.ndarray) -> np.ndarray:
    return np.asfortranarray(a)


def _big_endian(a: np.ndarray) -> np.ndarray:
    return a.astype(a.dtype.newbyteorder(">"))


def _fortran_big_endian(a: np.ndarray) -> np.ndarray:
    return np.asfortranarray(_big_endian(a))


STORAGES = [
    pytest.param(_as_is, False, id="c-order"),
    pytest.param(_as_is, True, id="c-order-compressed"),
    pytest.param(_fortran, False, id="fortran"),
    pytest.param(_fortran, True, id="fortran-compressed"),
    pytest.param(_big_endian, False, id="big-endian"),
    pytest.param(_big_endian, True, id="big-endian-compressed"),
    pytest.param(_fortran_big_endian, False, id="fortran-big-endian"),
    pytest.param(_fortran_big_endian, True, id="fortran-big-endian-compressed"),
]

# Logical arrays gathered along both axes: a canonical (N, H, W) stack, a
# legacy (H, W, N) stack, a complex frame, a 1-D coordinate vector.
_RNG = np.random.default_rng(7)
LOGICAL = {
    "canonical": _RNG.random((23, 5, 6), dtype=np.float32),
    "legacy": _RNG.random((5, 6, 23), dtype=np.float32),
    "complex": (_RNG.random((9, 11)) + 1j * _RNG.random((9, 11))).astype(np.complex64),
    "coords": _RNG.normal(size=31),
    "counts": _RNG.integers(0, 60000, size=(7, 4, 3)).astype(np.uint16),
}

INDEX_SETS = [
    pytest.param([0], id="first"),
    pytest.param([-1], id="last"),
    pytest.param([3, 1, 4, 1, 5, 9, 2, 6], id="unsorted-with-repeats"),
    pytest.param("random", id="random-40-with-repeats"),
    pytest.param("all-reversed", id="all-reversed"),
    pytest.param([], id="empty"),
]


def _indices(spec, length: int) -> np.ndarray:
    if spec == "random":
        return np.random.default_rng(3).integers(0, length, size=40)
    if spec == "all-reversed":
        return np.arange(length)[::-1]
    return np.array([i % length for i in spec], dtype=np.int64)


@pytest.fixture
def stored(tmp_path):
    """Factory: write LOGICAL with a storage variant; return the path."""

    def factory(storage, compressed: bool) -> str:
        path = os.path.join(tmp_path, "stored.npz")
        arrays = {k: storage(v) for k, v in LOGICAL.items()}
        (np.savez_compressed if compressed else np.savez)(path, **arrays)
        return path

    return factory


# -- headers ----------------------------------------------------------------------


@pytest.mark.parametrize(("storage", "compressed"), STORAGES)
def test_info_reports_stored_header_without_loading(stored, storage, compressed):
    """info() returns the stored dtype, shape, order and compression of each member."""
    path = stored(storage, compressed)
    with NpzSource(path) as src:
        assert src.keys() == list(LOGICAL)
        for key, logical in LOGICAL.items():
            info = src.info(key)
            expected = storage(logical)
            assert isinstance(info, ArrayInfo)
            assert info.name == key
            assert info.shape == logical.shape
            assert info.dtype == expected.dtype
            assert info.fortran_order == (expected.flags.f_contiguous and not expected.flags.c_contiguous)
            assert info.compressed is compressed
            assert info.nbytes == logical.nbytes
            assert (info.data_offset is None) is compressed


def test_data_offset_points_at_the_array_bytes(make_npz):
    """For stored members, data_offset is where the raw array bytes start in the file."""
    arrays = dataset_arrays(n=6, h=4, w=4, object_shape=(8, 8))
    path = make_npz(arrays=arrays)
    blob = Path(path).read_bytes()
    with NpzSource(path) as src:
        for key, arr in arrays.items():
            offset = src.info(key).data_offset
            assert blob[offset : offset + arr.nbytes] == arr.tobytes()


def test_info_of_unknown_key_names_the_keys(make_npz):
    """Asking for a key that is not there lists the keys that are."""
    with NpzSource(make_npz()) as src, pytest.raises(InputError, match="no array 'nope'.*xcoords"):
        src.info("nope")


def test_non_npy_members_are_listed_not_read(tmp_path):
    """A zip member that is not .npy is ignored and reported in ignored_members."""
    path = npz_damage.write_members(
        os.path.join(tmp_path, "extra.npz"),
        {"x.npy": npz_damage._npy_bytes(np.arange(3.0)), "notes.txt": b"hello"},
    )
    with NpzSource(path) as src:
        assert src.keys() == ["x"]
        assert src.ignored_members == ["notes.txt"]


def test_file_size_and_close(make_npz):
    """file_size() is the size on disk; the context manager closes the archive."""
    path = make_npz()
    with NpzSource(path) as src:
        assert src.file_size() == os.path.getsize(path)
        assert src.path == path
        assert src.format == "npz"
    assert src._zip.fp is None


# -- whole reads and streaming ------------------------------------------------------


@pytest.mark.parametrize(("storage", "compressed"), STORAGES)
def test_read_returns_native_c_order_values(stored, storage, compressed):
    """read() gives the logical values in native byte order and C order."""
    with NpzSource(stored(storage, compressed)) as src:
        for key, logical in LOGICAL.items():
            out = src.read(key)
            assert out.dtype == logical.dtype  # native, whatever the file held
            assert out.flags.c_contiguous
            npt.assert_array_equal(out, logical)


@pytest.mark.parametrize(("storage", "compressed"), STORAGES)
@pytest.mark.parametrize("block_bytes", [7, 64, 1000, 2**26], ids=lambda b: f"block{b}")
def test_iter_blocks_covers_storage_order_in_bounded_blocks(stored, storage, compressed, block_bytes):
    """iter_blocks() yields every value once, in storage order, never above the block size."""
    with NpzSource(stored(storage, compressed)) as src:
        for key, logical in LOGICAL.items():
            blocks = list(src.iter_blocks(key, block_bytes))
            itemsize = logical.dtype.itemsize
            assert all(b.nbytes <= max(block_bytes, itemsize) for b in blocks)
            assert all(b.dtype == logical.dtype for b in blocks)
            order = "F" if src.info(key).fortran_order else "C"
            npt.assert_array_equal(np.concatenate(blocks), logical.ravel(order=order))


@pytest.mark.parametrize(("storage", "compressed"), STORAGES)
@pytest.mark.parametrize("block_bytes", [7, 64, 1000], ids=lambda b: f"block{b}")
def test_map_blocks_on_threads_sees_the_blocks_iter_blocks_yields(stored, storage, compressed, block_bytes):
    """map_blocks(jobs=3) folds the blocks of iter_blocks in order; stored multi-block members on threads."""
    threads: set[int] = set()

    def copy(block):
        threads.add(threading.get_ident())
        return block.copy()

    caller = {threading.get_ident()}
    with NpzSource(stored(storage, compressed)) as src:
        for key in LOGICAL:
            want = list(src.iter_blocks(key, block_bytes))
            threads.clear()
            got = list(src.map_blocks(key, copy, jobs=3, block_bytes=block_bytes))
            assert len(got) == len(want)
            for a, b in zip(got, want):
                assert a.dtype == b.dtype
                npt.assert_array_equal(a, b)
            if compressed or len(want) == 1:
                assert threads == caller
            else:
                assert threads
                assert not threads & caller


def test_read_matches_numpy_load(make_npz):
    """An independent route: numpy.load (pickles off) reads the same values."""
    path = make_npz(compressed=True)
    with NpzSource(path) as src, np.load(path, allow_pickle=False) as ref:
        for key in ref.files:
            npt.assert_array_equal(src.read(key), ref[key])


def test_empty_and_scalar_members_read(tmp_path):
    """Zero-length and 0-d members read back with their shapes."""
    path = os.path.join(tmp_path, "small.npz")
    np.savez(path, empty=np.zeros((0, 4), np.float32), scalar=np.float64(2.5))
    with NpzSource(path) as src:
        assert src.read("empty").shape == (0, 4)
        npt.assert_allclose(src.read("scalar"), 2.5)
        with pytest.raises(InputError, match="scalar"):
            src.take("scalar", [0])


# -- gathers ----------------------------------------------------------------------


@pytest.mark.parametrize(("storage", "compressed"), STORAGES)
@pytest.mark.parametrize("index_spec", INDEX_SETS)
@pytest.mark.parametrize("axis", [0, -1], ids=["axis0", "axis-1"])
def test_take_equals_numpy_indexing(stored, storage, compressed, index_spec, axis):
    """take() equals numpy.take for any index set, order, repeats, along both axes."""
    with NpzSource(stored(storage, compressed)) as src:
        for key, logical in LOGICAL.items():
            idx = _indices(index_spec, logical.shape[axis])
            out = src.take(key, idx, axis=axis)
            expected = np.take(logical, idx, axis=axis)
            assert out.dtype == logical.dtype
            assert out.flags.c_contiguous
            npt.assert_array_equal(out, expected)


def test_take_accepts_any_integer_sequence(make_npz):
    """Python lists, tuples and unsigned arrays index like int64 arrays."""
    arrays = dataset_arrays()
    with NpzSource(make_npz(arrays=arrays)) as src:
        expected = arrays["diffraction"][[2, 0, 2]]
        for idx in ([2, 0, 2], (2, 0, 2), np.array([2, 0, 2], np.uint8)):
            npt.assert_array_equal(src.take("diffraction", idx), expected)


def test_take_keeps_frame_identity(make_npz):
    """Gathered frame j is source frame idx[j] (diffraction[i, 0, 0] == i / 1000)."""
    with NpzSource(make_npz(n=50)) as src:
        idx = np.array([49, 3, 3, 17, 0])
        frames = src.take("diffraction", idx)
        npt.assert_allclose(frames[:, 0, 0], idx / 1000, rtol=1e-6)


@pytest.mark.parametrize("bad", [[20], [-1], [0, 5, 100]], ids=["past-end", "negative", "mixed"])
def test_take_refuses_out_of_range_indices(make_npz, bad):
    """Indices outside [0, length) are refused, naming the key and length."""
    with (
        NpzSource(make_npz(n=20)) as src,
        pytest.raises(InputError, match=r"out of range for 'diffraction' axis 0 \(length 20\)"),
    ):
        src.take("diffraction", bad)


@pytest.mark.parametrize("bad", [np.array([True, False]), np.array([0.0, 1.5])], ids=["boolean-mask", "floats"])
def test_take_refuses_non_integer_indices(make_npz, bad):
    """Masks and floats are refused rather than cast to positions."""
    with NpzSource(make_npz()) as src, pytest.raises(TypeError, match="must be integers"):
        src.take("diffraction", bad)


def test_take_refuses_a_middle_axis(make_npz):
    """Only the first and last axes can be gathered."""
    with NpzSource(make_npz()) as src, pytest.raises(ValueError, match="axis 1"):
        src.take("diffraction", [0], axis=1)


# -- pickles ----------------------------------------------------------------------


@pytest.fixture
def object_npz(tmp_path):
    """An NPZ holding an object array (written with pickles, as numpy.savez does)."""
    path = os.path.join(tmp_path, "objects.npz")
    arrays = dataset_arrays(n=6, h=4, w=4, object_shape=(8, 8))
    np.savez(path, **arrays, _metadata=np.array({"note": "pickled"}, dtype=object))
    return path


@pytest.fixture
def no_unpickling(monkeypatch):
    """Make every unpickling route raise, so a test fails if the reader uses one."""

    def forbidden(*args, **kwargs):
        msg = "the reader tried to unpickle"
        raise AssertionError(msg)

    class ForbiddenUnpickler:
        def __init__(self, *args, **kwargs):
            forbidden()

    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", ForbiddenUnpickler)
    # numpy's own path: format.read_array with allow_pickle=True
    real_read_array = np.lib.format.read_array

    def read_array_without_pickles(fp, allow_pickle=False, **kwargs):
        if allow_pickle:
            forbidden()
        return real_read_array(fp, allow_pickle=False, **kwargs)

    monkeypatch.setattr(np.lib.format, "read_array", read_array_without_pickles)


def test_object_array_header_is_reported_without_unpickling(object_npz, no_unpickling):
    """The object member's header is read; every data access refuses, nothing is unpickled."""
    with NpzSource(object_npz) as src:
        info = src.info("_metadata")
        assert info.has_objects
        assert info.dtype == np.dtype(object)
        for access in (
            lambda: src.read("_metadata"),
            lambda: list(src.iter_blocks("_metadata")),
            lambda: src.take("_metadata", [0]),
        ):
            with pytest.raises(InputError, match="refusing to unpickle"):
                access()
        npt.assert_array_equal(src.read("xcoords"), np.load(object_npz, allow_pickle=False)["xcoords"])


def test_the_no_unpickling_guard_can_fail(object_npz, no_unpickling):
    """Control: numpy with allow_pickle=True trips the guard, so the guard is live."""
    with np.load(object_npz, allow_pickle=True) as data, pytest.raises(AssertionError, match="unpickle"):
        data["_metadata"]


# -- damaged files --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("builder", "words"),
    [pytest.param(b, w, id=i) for i, b, w in npz_damage.UNUSABLE_INPUTS],
)
def test_damaged_file_raises_input_error_naming_it(tmp_path, builder, words):
    """Every kind of damage becomes one InputError naming the file and the defect."""
    path = builder(str(tmp_path))
    with pytest.raises(InputError, match=words) as excinfo:
        _read_every_member(path)
    assert os.path.basename(path) in str(excinfo.value)
    assert "\n" not in str(excinfo.value)


def _read_every_member(path: str) -> None:
    with NpzSource(path) as src:
        for key in src.keys():  # noqa: SIM118 - a source is not iterable
            src.read(key)


FULL_PASSES = [
    pytest.param(lambda src: src.read("diffraction"), id="read"),
    pytest.param(lambda src: list(src.iter_blocks("diffraction", 256)), id="iter_blocks"),
    pytest.param(lambda src: list(src.map_blocks("diffraction", len, 2, 256)), id="map_blocks-threads"),
]


@pytest.mark.parametrize("full_pass", FULL_PASSES)
def test_bad_crc_is_caught_by_full_passes(tmp_path, full_pass):
    """A flipped data byte in a stored member fails the CRC check at the end of a full pass."""
    path = npz_damage.bad_crc(str(tmp_path))
    with NpzSource(path) as src:
        assert src.info("diffraction").shape == (40, 16, 16)  # headers still parse
        with pytest.raises(InputError, match="diffraction.npy.*CRC"):
            full_pass(src)


def test_reader_never_writes_to_the_source(make_npz):
    """Reading leaves the file byte-identical."""
    path = make_npz()
    before = Path(path).read_bytes()
    with NpzSource(path) as src:
        for key in src.keys():  # noqa: SIM118 - a source is not iterable
            src.read(key)
            src.take(key, [0])
    assert Path(path).read_bytes() == before


def test_zip_written_by_hand_with_deflate_reads(tmp_path):
    """Members deflated by any zip writer (not only numpy) are read and gathered."""
    arr = np.arange(60, dtype=np.float32).reshape(5, 3, 4)
    path = os.path.join(tmp_path, "deflated.npz")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("diffraction.npy", npz_damage._npy_bytes(arr))
    with NpzSource(path) as src:
        assert src.info("diffraction").compressed
        npt.assert_array_equal(src.take("diffraction", [4, 0]), arr[[4, 0]])


def _npy_with_header(header: str) -> bytes:
    """A version 1.0 ``.npy`` member whose header dict is ``header`` as written (padded to 64 bytes)."""
    text = header + " " * (-(10 + len(header) + 1) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text.encode("latin1") + b"\0" * 8


def test_a_backslash_in_a_header_key_is_one_input_error_and_no_warning(tmp_path):
    """Python warns about the invalid escape while numpy parses the header; the reader alone speaks."""
    path = str(tmp_path / "escaped.npz")
    header = "{'descr': '<f4', 'fortran_or\\er': False, 'shape': (2,), }"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("diffraction.npy", _npy_with_header(header))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # as a shell with -W default would show them
        with pytest.raises(InputError, match=r"escaped\.npz.*diffraction\.npy"), NpzSource(path) as src:
            src.info("diffraction")
    assert [str(w.message) for w in caught] == []
