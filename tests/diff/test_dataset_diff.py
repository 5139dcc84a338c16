"""diff_datasets: what differs between two files, found while streaming both."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import cxi_files
import npz_damage
from conftest import dataset_arrays
from ptyevidence._memory import set_memory_budget
from ptyevidence.diff import (
    StreamDigest,
    ValueDifferences,
    aligned_blocks,
    diff_datasets,
    member_digest,
)
from ptyevidence.exceptions import InputError, MemoryBudgetError, UsageError
from ptyevidence.fixture import content_digest
from ptyevidence.readers import metadata_array, open_source


def save(folder, name: str, arrays: dict[str, np.ndarray], compressed: bool = False) -> str:
    path = os.path.join(folder, name)
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    return path


def key(result, name: str):
    return next(k for k in result.keys if k.key == name)


@pytest.fixture
def arrays() -> dict[str, np.ndarray]:
    return dataset_arrays(n=24, h=8, w=8)


@pytest.fixture(autouse=True)
def _default_budget():
    yield
    set_memory_budget(None)


def test_identical_files_are_the_same_and_report_each_digest(tmp_path, arrays):
    a = save(tmp_path, "a.npz", arrays)
    b = save(tmp_path, "b.npz", arrays)
    result = diff_datasets(a, b)
    assert result.same
    assert [k.status for k in result.keys] == ["same"] * len(arrays)
    for name, arr in arrays.items():
        # Independent route: numpy reads the file, the fixture digest hashes it.
        assert key(result, name).a.digest == key(result, name).b.digest == content_digest(arr)
    assert result.positions == {"compared": 24, "moved": 0, "first_moved": None, "max_shift": 0.0}
    assert result.metadata == []
    assert result.notes == []
    assert result.verdict.startswith("SAME:")


def test_reordered_members_are_the_same_with_a_note(tmp_path, arrays):
    a = save(tmp_path, "a.npz", arrays)
    b = save(tmp_path, "b.npz", dict(reversed(list(arrays.items()))))
    result = diff_datasets(a, b)
    assert result.same
    assert result.notes == ["member order differs (content unaffected)"]
    assert [k.key for k in result.keys] == list(arrays)  # A's order


def test_one_changed_row_is_counted_with_its_largest_differences(tmp_path, arrays):
    changed = dict(arrays)
    changed["diffraction"] = arrays["diffraction"].copy()
    changed["diffraction"][7, 2, 3] += 0.25
    changed["diffraction"][7, 5, 1] = 0.0
    a, b = save(tmp_path, "a.npz", arrays), save(tmp_path, "b.npz", changed)
    result = diff_datasets(a, b)
    assert not result.same
    diff = key(result, "diffraction")
    assert diff.status == "changed"
    x = arrays["diffraction"].astype(np.float64)
    y = changed["diffraction"].astype(np.float64)
    gap = np.abs(y - x)
    rel = gap[gap > 0] / np.maximum(np.abs(x), np.abs(y))[gap > 0]
    v = diff.values
    assert (v.rows, v.first_row, v.values, v.n_rows) == (1, 7, 2, 24)
    assert v.max_abs == pytest.approx(gap.max())
    assert v.max_rel == pytest.approx(rel.max())
    assert diff.a.digest != diff.b.digest
    assert all(k.status == "same" for k in result.keys if k.key != "diffraction")
    assert "1 of 24 rows differ (first: row 7)" in result.to_text()


def test_a_dtype_change_is_a_change_and_values_are_compared_after_promotion(tmp_path, arrays):
    changed = dict(arrays, xcoords=arrays["xcoords"].astype(np.float32))
    result = diff_datasets(save(tmp_path, "a.npz", arrays), save(tmp_path, "b.npz", changed))
    diff = key(result, "xcoords")
    assert diff.status == "changed"
    assert diff.changes[0] == "dtype float64 -> float32"
    rounding = np.abs(arrays["xcoords"] - arrays["xcoords"].astype(np.float32).astype(np.float64))
    assert diff.values.max_abs == pytest.approx(rounding.max())
    assert diff.values.rows == np.count_nonzero(rounding)
    # The positions moved by the same rounding.
    assert result.positions["moved"] == np.count_nonzero(rounding)
    assert result.positions["max_shift"] == pytest.approx(rounding.max())


def test_a_layout_change_compares_the_frames_in_canonical_order(tmp_path, arrays):
    legacy = dict(arrays, diffraction=np.ascontiguousarray(np.moveaxis(arrays["diffraction"], 0, -1)))
    result = diff_datasets(save(tmp_path, "a.npz", arrays), save(tmp_path, "b.npz", legacy))
    diff = key(result, "diffraction")
    assert diff.status == "changed"
    assert diff.changes[0].startswith("layout canonical -> legacy: shape (24, 8, 8) -> (8, 8, 24)")
    assert diff.values.values == 0  # same frames
    assert diff.b.digest == content_digest(legacy["diffraction"])
    legacy["diffraction"][3, 4, 11] += 1.0  # frame 11 of the legacy stack
    result = diff_datasets(save(tmp_path, "a.npz", arrays), save(tmp_path, "c.npz", legacy))
    assert (key(result, "diffraction").values.rows, key(result, "diffraction").values.first_row) == (1, 11)


def test_other_shape_changes_are_reported_without_values(tmp_path, arrays):
    shorter = dict(arrays, scan_index=np.zeros(23, np.int64))
    result = diff_datasets(save(tmp_path, "a.npz", arrays), save(tmp_path, "b.npz", shorter))
    diff = key(result, "scan_index")
    assert diff.changes == ["shape (24,) -> (23,)"]
    assert diff.values is None
    assert diff.b.digest == content_digest(shorter["scan_index"])


@pytest.mark.parametrize(
    ("storage", "note"),
    [
        ("fortran", "storage order C -> F"),
        ("big-endian", "byte order little -> big"),
        ("compressed", "stored -> compressed"),
    ],
)
def test_storage_differences_are_notes_not_differences(tmp_path, arrays, storage, note):
    stored = dict(arrays)
    if storage == "fortran":
        stored = {k: np.asfortranarray(v) for k, v in arrays.items()}
    elif storage == "big-endian":
        stored = {k: v.astype(v.dtype.newbyteorder(">")) for k, v in arrays.items()}
    b = save(tmp_path, "b.npz", stored, compressed=storage == "compressed")
    result = diff_datasets(save(tmp_path, "a.npz", arrays), b)
    assert result.same, result.to_text()
    assert note in key(result, "diffraction").notes
    assert key(result, "diffraction").b.digest == content_digest(arrays["diffraction"])


def test_values_of_two_fortran_files_are_counted_by_row(tmp_path, arrays):
    changed = dict(arrays, diffraction=arrays["diffraction"].copy())
    changed["diffraction"][[2, 9], 0, 0] += 1.0
    a = save(tmp_path, "a.npz", {k: np.asfortranarray(v) for k, v in arrays.items()})
    b = save(tmp_path, "b.npz", {k: np.asfortranarray(v) for k, v in changed.items()})
    v = key(diff_datasets(a, b), "diffraction").values
    assert (v.rows, v.first_row, v.values) == (2, 2, 2)


def test_tolerances_decide_which_values_differ(tmp_path, arrays):
    changed = dict(arrays, xcoords=arrays["xcoords"] + 1e-9)
    a, b = save(tmp_path, "a.npz", arrays), save(tmp_path, "b.npz", changed)
    assert not diff_datasets(a, b).same
    close = diff_datasets(a, b, atol=1e-8)
    assert close.same
    assert key(close, "xcoords").status == "close"
    assert "1 within the tolerance" in close.verdict
    assert diff_datasets(a, b, rtol=1e-6).same  # xcoords are ~10: 1e-9 is ~1e-10 relative
    with pytest.raises(UsageError, match="rtol"):
        diff_datasets(a, b, rtol=-1.0)


def test_nan_equals_nan_but_not_a_number(tmp_path, arrays):
    with_nan = dict(arrays, xcoords=arrays["xcoords"].copy())
    with_nan["xcoords"][4] = np.nan
    a = save(tmp_path, "a.npz", with_nan)
    assert diff_datasets(a, save(tmp_path, "b.npz", with_nan)).same
    v = key(diff_datasets(a, save(tmp_path, "c.npz", arrays)), "xcoords").values
    assert (v.values, v.nonfinite, v.first_row) == (1, 1, 4)


def test_added_and_removed_keys(tmp_path, arrays):
    fewer = {k: v for k, v in arrays.items() if k != "scan_index"}
    more = dict(arrays, Y=np.ones((24, 8, 8), np.complex64))
    result = diff_datasets(save(tmp_path, "a.npz", fewer), save(tmp_path, "b.npz", more))
    assert key(result, "scan_index").status == "added"
    assert key(result, "Y").status == "added"
    assert key(result, "Y").b.digest == content_digest(more["Y"])
    result = diff_datasets(save(tmp_path, "c.npz", more), save(tmp_path, "d.npz", fewer))
    assert [k.key for k in result.keys if k.status == "removed"] == ["scan_index", "Y"]
    assert result.verdict.endswith("2 removed")


def test_metadata_entries_that_changed_are_listed(tmp_path, arrays):
    a = save(tmp_path, "a.npz", dict(arrays, _metadata=metadata_array({"layout": "canonical", "n": 1})))
    b = save(
        tmp_path, "b.npz", dict(arrays, _metadata=metadata_array({"layout": "canonical", "n": 2, "extra": {"x": True}}))
    )
    result = diff_datasets(a, b)
    assert not result.same
    assert [(m.path, m.a, m.b) for m in result.metadata] == [("n", 1, 2), ("extra.x", None, True)]
    assert "metadata  2 entries differ: n: 1 -> 2; extra.x: (absent) -> True" in result.to_text()


def test_moved_positions_report_count_first_and_largest_shift(tmp_path, arrays):
    moved = dict(arrays, xcoords=arrays["xcoords"].copy(), ycoords=arrays["ycoords"].copy())
    moved["xcoords"][5] += 3.0
    moved["ycoords"][5] += 4.0
    moved["ycoords"][9] -= 0.5
    result = diff_datasets(save(tmp_path, "a.npz", arrays), save(tmp_path, "b.npz", moved))
    assert result.positions == {"compared": 24, "moved": 2, "first_moved": 5, "max_shift": 5.0}


def test_cxi_files_compare_under_their_canonical_keys(tmp_path):
    a, b, c = (str(tmp_path / f"{n}.cxi") for n in "abc")
    counts = cxi_files.scan_counts(20, 16, 16)
    cxi_files.write_cxi(a, counts=counts)
    cxi_files.write_cxi(b, counts=counts, chunks=(3, 16, 16))
    other = counts.copy()
    other[13, 4, 4] += 1
    cxi_files.write_cxi(c, counts=other)
    assert diff_datasets(a, b).same
    result = diff_datasets(a, c)
    assert (key(result, "diffraction").values.rows, key(result, "diffraction").values.first_row) == (1, 13)
    assert result.formats == ("cxi", "cxi")


def test_two_arrays_larger_than_the_memory_budget_are_streamed(tmp_path):
    rng = np.random.default_rng(1)
    big = {"diffraction": rng.random((64, 64, 64), dtype=np.float32)}  # 1 MiB
    other = {"diffraction": big["diffraction"].astype(np.float64)}  # 2 MiB, other block sizes
    a, b = save(tmp_path, "a.npz", big), save(tmp_path, "b.npz", other)
    set_memory_budget(256 * 2**10)  # a quarter of one array: reading either whole is refused
    with open_source(a) as src, pytest.raises(MemoryBudgetError):
        src.read("diffraction")
    result = diff_datasets(a, b)
    assert key(result, "diffraction").values.values == 0
    assert key(result, "diffraction").a.digest == content_digest(big["diffraction"])


def test_c_against_fortran_order_is_compared_in_memory_within_the_budget(tmp_path):
    frames = np.random.default_rng(2).random((64, 64, 64), dtype=np.float32)
    a = save(tmp_path, "a.npz", {"diffraction": frames})
    b = save(tmp_path, "b.npz", {"diffraction": np.asfortranarray(frames)})
    assert diff_datasets(a, b).same
    set_memory_budget(2**20)
    with pytest.raises(MemoryBudgetError, match="Fortran"):
        diff_datasets(a, b)


@pytest.mark.parametrize("damage", ["not_a_zip", "truncated_zip", "missing_file", "empty_file"])
def test_unreadable_files_are_input_errors(tmp_path, arrays, damage):
    good = save(tmp_path, "good.npz", arrays)
    bad = getattr(npz_damage, damage)(str(tmp_path))
    with pytest.raises(InputError):
        diff_datasets(good, bad)


def test_a_bad_crc_is_found_by_the_streaming_pass(tmp_path):
    bad = npz_damage.bad_crc(str(tmp_path))
    good = save(tmp_path, "good.npz", dataset_arrays(n=40, h=16, w=16, object_shape=(32, 32)))
    with pytest.raises(InputError, match="CRC"):
        diff_datasets(good, bad)


def test_to_dict_is_json_and_to_markdown_a_table(tmp_path, arrays):
    changed = dict(arrays, xcoords=arrays["xcoords"] + 1.0)
    result = diff_datasets(save(tmp_path, "a.npz", arrays), save(tmp_path, "b.npz", changed))
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["same"] is False
    assert data["counts"]["changed"] == 1
    entry = next(k for k in data["keys"] if k["key"] == "xcoords")
    assert entry["values"]["differing_rows"] == 24
    assert entry["a"]["digest"] == content_digest(arrays["xcoords"])
    assert "| `xcoords` | changed |" in result.to_markdown()


# -- the streaming pieces -------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_aligned_blocks_and_stream_digest_match_whole_arrays(seed):
    rng = np.random.default_rng(seed)
    values = rng.random(997)
    cuts_a = np.sort(rng.choice(np.arange(1, 997), 6, replace=False))
    cuts_b = np.sort(rng.choice(np.arange(1, 997), 9, replace=False))
    a_blocks = np.split(values, cuts_a)
    b_blocks = np.split(values.astype(np.float32), cuts_b)
    pairs = list(aligned_blocks(a_blocks, b_blocks))
    assert np.array_equal(np.concatenate([p[0] for p in pairs]), values)
    assert np.array_equal(np.concatenate([p[1] for p in pairs]), values.astype(np.float32))
    assert all(len(x) == len(y) for x, y in pairs)
    digest = StreamDigest(values.dtype, values.shape)
    for x, _ in pairs:
        digest.update(x)
    assert digest.hexdigest() == content_digest(values)


def test_aligned_blocks_refuse_streams_of_different_lengths():
    with pytest.raises(ValueError, match="different numbers"):
        list(aligned_blocks([np.arange(3)], [np.arange(4)]))


@pytest.mark.parametrize("fortran", [False, True])
def test_value_differences_count_rows_like_numpy(fortran):
    rng = np.random.default_rng(3)
    a = rng.integers(0, 5, (30, 4, 3)).astype(np.float64)
    b = a.copy()
    hit = rng.random(a.shape) < 0.02
    b[hit] += rng.uniform(0.1, 2.0, hit.sum())
    order = "F" if fortran else "C"
    diffs = ValueDifferences(a.shape, fortran)
    flat_a, flat_b = a.ravel(order=order), b.ravel(order=order)
    for start in range(0, flat_a.size, 37):  # odd block size: rows span blocks
        diffs.update(flat_a[start : start + 37], flat_b[start : start + 37])
    diffs.finish()
    rows = np.flatnonzero(hit.reshape(30, -1).any(axis=1))
    assert (diffs.rows, diffs.first_row, diffs.values) == (rows.size, rows[0], hit.sum())


def test_member_digest_of_a_fortran_member_equals_the_content_digest(tmp_path):
    arr = np.asfortranarray(np.arange(24.0).reshape(2, 3, 4))
    path = save(tmp_path, "f.npz", {"a": arr})
    with open_source(path) as src:
        assert member_digest(src, "a") == content_digest(arr)
