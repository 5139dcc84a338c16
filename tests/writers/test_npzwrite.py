"""write_npz: deterministic bytes, atomic, no pickles, readable by numpy and the reader."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import numpy.testing as npt
import pytest

from conftest import dataset_arrays
from ptyevidence.exceptions import UsageError
from ptyevidence.readers.npz import NpzSource
from ptyevidence.writers.npz import ZIP_EPOCH, write_npz

MIXED = {
    "diffraction": np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4),
    "big_endian": np.arange(5, dtype=">f8"),
    "fortran": np.asfortranarray(np.arange(12, dtype=np.int16).reshape(3, 4)),
    "complex": np.array([1 + 2j, -3j], np.complex64),
    "scalar": np.float64(0.25),
    "empty": np.zeros((0, 3), np.uint8),
    "text": np.array('{"pixel_size": 1e-08}'),
    "flags": np.array([True, False]),
}


@pytest.mark.parametrize("compress", [False, True], ids=["stored", "deflated"])
def test_round_trip_through_numpy_and_the_reader(tmp_path, compress):
    """Every dtype/order/byte order reads back equal with numpy (no pickles) and NpzSource."""
    path = write_npz(tmp_path / "mixed.npz", MIXED, compress=compress)
    with np.load(path, allow_pickle=False) as data:
        assert data.files == list(MIXED)
        for key, value in MIXED.items():
            npt.assert_array_equal(data[key], value)
            assert data[key].dtype == np.asarray(value).dtype
    with NpzSource(path) as src:
        for key, value in MIXED.items():
            npt.assert_array_equal(src.read(key), value)
            assert src.info(key).compressed is compress


def test_stored_members_are_memory_mappable(tmp_path):
    """Uncompressed by default: gathers read frames straight from the file."""
    arrays = dataset_arrays(n=10)
    path = write_npz(tmp_path / "data.npz", arrays)
    with zipfile.ZipFile(path) as zf:
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_STORED}
    with NpzSource(path) as src:
        assert src.info("diffraction").data_offset is not None
        npt.assert_array_equal(src.take("diffraction", [9, 0]), arrays["diffraction"][[9, 0]])


@pytest.mark.parametrize("compress", [False, True], ids=["stored", "deflated"])
def test_same_arrays_give_the_same_bytes(tmp_path, compress):
    """Two writes of equal arrays, at different times and paths, are byte-identical."""
    arrays = dataset_arrays(n=10)
    first = write_npz(tmp_path / "a.npz", arrays, compress=compress)
    os.utime(first, (0, 0))  # a different file time must not matter either
    copy = {k: v.copy() for k, v in arrays.items()}
    (tmp_path / "sub").mkdir()
    second = write_npz(tmp_path / "sub" / "b.npz", copy, compress=compress)
    assert Path(first).read_bytes() == Path(second).read_bytes()


def test_members_have_fixed_metadata_in_given_order(tmp_path):
    """Member order follows the mapping; timestamps and permissions are fixed."""
    arrays = {"z": np.ones(2), "a": np.zeros(3), "m": np.arange(4)}
    path = write_npz(tmp_path / "order.npz", arrays)
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == ["z.npy", "a.npy", "m.npy"]
    assert {i.date_time for i in infos} == {ZIP_EPOCH}
    assert {i.external_attr >> 16 for i in infos} == {0o644}


def test_different_values_give_different_bytes(tmp_path):
    """Control for the determinism test: a changed value changes the file."""
    a = write_npz(tmp_path / "a.npz", {"x": np.arange(4.0)})
    b = write_npz(tmp_path / "b.npz", {"x": np.arange(4.0) + 1e-12})
    assert Path(a).read_bytes() != Path(b).read_bytes()


def test_object_arrays_are_refused_and_nothing_is_written(tmp_path):
    """An object array is never pickled; the failed write leaves no file behind."""
    arrays = {"good": np.ones(3), "meta": np.array({"a": 1}, dtype=object)}
    with pytest.raises(TypeError, match="array 'meta' has dtype object; object arrays are never"):
        write_npz(tmp_path / "out.npz", arrays)
    assert os.listdir(tmp_path) == []


def test_existing_output_is_refused_without_force(tmp_path):
    """No silent overwrite: UsageError and the old file untouched; force replaces it."""
    out = tmp_path / "out.npz"
    out.write_bytes(b"old")
    with pytest.raises(UsageError, match="exists; pass force=True"):
        write_npz(out, {"x": np.ones(2)})
    assert out.read_bytes() == b"old"
    write_npz(out, {"x": np.ones(2)}, force=True)
    with np.load(out) as data:
        npt.assert_array_equal(data["x"], np.ones(2))


def test_output_may_not_be_an_input(tmp_path):
    """Writing over a source is refused even with force, leaving the source intact."""
    source = tmp_path / "source.npz"
    write_npz(source, {"x": np.ones(2)})
    before = source.read_bytes()
    with pytest.raises(UsageError, match="is the input"):
        write_npz(source, {"x": np.zeros(2)}, force=True, inputs=[source])
    assert source.read_bytes() == before


def test_failure_midway_leaves_nothing(tmp_path):
    """An array that cannot be converted halfway through aborts without a partial file."""

    class Exploding:
        def __array__(self, dtype=None, copy=None):
            msg = "cannot convert"
            raise RuntimeError(msg)

    arrays = {"first": np.ones(1000), "second": Exploding()}
    with pytest.raises(RuntimeError, match="cannot convert"):
        write_npz(tmp_path / "out.npz", arrays)
    assert os.listdir(tmp_path) == []


def test_returns_the_path_as_str(tmp_path):
    """The written path comes back as a string."""
    assert write_npz(tmp_path / "x.npz", {"x": np.ones(1)}) == str(tmp_path / "x.npz")


def test_streamed_member_gives_the_same_bytes_as_the_in_memory_array(tmp_path):
    """A StreamedArray written block by block equals writing the whole array."""
    from ptyevidence.writers.npz import StreamedArray

    full = np.arange(5 * 3 * 4, dtype=np.float32).reshape(5, 3, 4)
    streamed = StreamedArray(full.shape, full.dtype, lambda: (full[i : i + 2] for i in range(0, 5, 2)))
    a = write_npz(tmp_path / "a.npz", {"d": full, "x": np.arange(5.0)})
    b = write_npz(tmp_path / "b.npz", {"d": streamed, "x": np.arange(5.0)})
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    assert a != b


def test_streamed_member_with_too_few_bytes_leaves_no_file(tmp_path):
    """A stream shorter than its declared shape is an error and nothing is written."""
    from ptyevidence.writers.npz import StreamedArray

    short = StreamedArray((4, 2), np.dtype(np.float64), lambda: iter([np.zeros((3, 2))]))
    with pytest.raises(ValueError, match="gave 48 bytes"):
        write_npz(tmp_path / "s.npz", {"d": short})
    assert list(tmp_path.iterdir()) == []
