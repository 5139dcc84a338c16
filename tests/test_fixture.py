"""fixture make / verify through the library: rows, determinism, record, failures."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import zipfile

import numpy as np
import pytest

from conftest import dataset_arrays, run_cli
from ptyevidence import _fixture
from ptyevidence._coverage import scan_coverage
from ptyevidence._npz import NpzSource
from ptyevidence.exceptions import ContractError, InputError, UsageError
from ptyevidence.fixture import (
    STRATEGIES,
    content_digest,
    make_fixture,
    read_sidecar,
    verify_fixture,
)


def _read(path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


PER_SCAN = ("diffraction", "xcoords", "ycoords", "xcoords_start", "ycoords_start", "scan_index", "Y")
DTYPES = {
    "diffraction": np.float32, "probeGuess": np.complex64, "objectGuess": np.complex64,
    "xcoords": np.float64, "ycoords": np.float64, "xcoords_start": np.float64,
    "ycoords_start": np.float64, "scan_index": np.int64, "Y": np.complex64,
}
SIDECAR_FIELDS = (
    "version", "created", "tool", "tool_version", "numpy_version", "source_dataset",
    "source_sha256", "source_layout", "subset_strategy", "subset_size", "seed", "indices",
    "transformations", "sha256_checksum", "content_digests", "coverage", "contract", "regenerate",
)


def traceable_arrays(n: int = 40, h: int = 8, w: int = 8) -> dict[str, np.ndarray]:
    """DATA-001 arrays in which every per-scan row names its own source index."""
    arrays = dataset_arrays(n=n, h=h, w=w)
    arrays["scan_index"] = np.arange(n, dtype=np.int64)
    y = np.zeros((n, h, w), np.complex64)
    y[:, 0, 0] = np.arange(n) + 1j * np.arange(n)
    arrays["Y"] = y
    return arrays


def write_source(folder, storage: str, arrays: dict[str, np.ndarray] | None = None) -> tuple[str, dict]:
    """Write ``arrays`` (canonical) in one storage variant; return (path, canonical arrays)."""
    canonical = traceable_arrays() if arrays is None else arrays
    stored = dict(canonical)
    save = np.savez
    if storage == "compressed":
        save = np.savez_compressed
    elif storage == "legacy":
        stored["diffraction"] = np.ascontiguousarray(
            np.moveaxis(canonical["diffraction"], 0, -1).astype(np.float64)
        )
    elif storage == "fortran":
        stored = {k: np.asfortranarray(v) for k, v in stored.items()}
    elif storage == "big-endian":
        stored = {k: v.astype(v.dtype.newbyteorder(">")) for k, v in stored.items()}
    path = os.path.join(folder, f"source-{storage}.npz")
    save(path, **stored)
    return path, canonical


def assert_rows_follow_indices(fixture: str, canonical: dict, indices: np.ndarray) -> None:
    with np.load(fixture, allow_pickle=False) as f:
        for key in PER_SCAN:
            if key in canonical:
                want = canonical[key][indices].astype(DTYPES[key])
                np.testing.assert_array_equal(f[key], want, err_msg=key)
        # The stamp in pixel [0, 0] names the source row independently of the arrays above.
        np.testing.assert_array_equal(f["diffraction"][:, 0, 0], (indices / 1000).astype(np.float32))
        np.testing.assert_array_equal(f["scan_index"], indices)
        np.testing.assert_array_equal(f["Y"][:, 0, 0].real, indices)
        for key in ("probeGuess", "objectGuess"):
            np.testing.assert_array_equal(f[key], canonical[key])


STORAGES = ["canonical", "compressed", "legacy", "fortran", "big-endian"]


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("storage", STORAGES)
def test_every_per_scan_row_comes_from_the_same_source_position(tmp_path, storage, strategy):
    src, canonical = write_source(tmp_path, storage)
    out = str(tmp_path / "fixture.npz")
    result = make_fixture(src, out, subset_size=16, strategy=strategy, seed=3)
    assert result.indices.size == 16
    assert_rows_follow_indices(out, canonical, result.indices)
    with np.load(out) as f:
        assert {k: f[k].dtype for k in f.files if k != "_metadata"} == {
            k: np.dtype(DTYPES[k]) for k in f.files if k != "_metadata"
        }
        assert f["_metadata"].dtype.kind == "U"
        assert f["diffraction"].shape == (16, 8, 8)


def test_spatial_strategies_select_other_rows_than_acquisition_order(tmp_path):
    src, _ = write_source(tmp_path, "canonical")
    chosen = {
        s: make_fixture(src, str(tmp_path / f"{s}.npz"), subset_size=16, strategy=s).indices.tolist()
        for s in STRATEGIES
    }
    assert chosen["stratified-index"] == [int(i * 40 / 16) for i in range(16)]
    assert len({tuple(v) for v in chosen.values()}) == 3


def test_two_runs_give_byte_identical_fixture_and_notes(tmp_path, monkeypatch):
    src, _ = write_source(tmp_path, "legacy")
    runs = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        monkeypatch.chdir(folder)
        make_fixture(src, "fixture.npz", subset_size=20, strategy="grid")
        runs.append({p: (folder / p).read_bytes() for p in ("fixture.npz", "fixture.md", "fixture.json")})
    assert runs[0]["fixture.npz"] == runs[1]["fixture.npz"]
    assert runs[0]["fixture.md"] == runs[1]["fixture.md"]
    first, second = (json.loads(r["fixture.json"]) for r in runs)
    first.pop("created"), second.pop("created")
    assert first == second


def test_sidecar_holds_every_field_and_matches_the_files(tmp_path):
    src, _ = write_source(tmp_path, "canonical")
    out = str(tmp_path / "fixture.npz")
    result = make_fixture(src, out, subset_size=16, strategy="farthest-point", seed=5)
    side = read_sidecar(tmp_path / "fixture.json")
    assert [f for f in SIDECAR_FIELDS if f not in side] == []
    assert side == result.sidecar
    assert side["tool"] == "ptyevidence"
    assert side["numpy_version"] == np.__version__
    assert side["source_dataset"] == src
    assert side["source_sha256"] == hashlib.sha256(_read(src)).hexdigest()
    assert side["sha256_checksum"] == hashlib.sha256(_read(out)).hexdigest()
    assert (side["subset_strategy"], side["subset_size"], side["seed"]) == ("farthest-point", 16, 5)
    assert side["indices"] == result.indices.tolist()
    assert side["source_layout"] == "canonical"
    with np.load(out) as f:
        assert side["content_digests"] == {k: content_digest(f[k]) for k in f.files}
    with np.load(src) as s:
        expected = scan_coverage(s["xcoords"], s["ycoords"], result.indices).to_dict()
    assert side["coverage"] == pytest.approx(expected)
    assert side["contract"]["name"] == "data001"
    assert side["contract"]["verdict"] == "PASS"
    assert "created" not in (tmp_path / "fixture.md").read_text()


def test_canonical_float32_source_records_no_casts(tmp_path):
    src, _ = write_source(tmp_path, "canonical")
    side = make_fixture(src, str(tmp_path / "f.npz"), subset_size=16).sidecar
    assert not [t for t in side["transformations"] if "->" in t]
    assert side["transformations"][0].startswith("subset: 16 of 40 positions")


def test_transformations_list_what_was_done_to_a_legacy_source(tmp_path):
    arrays = traceable_arrays()
    arrays["diff3d"] = np.ascontiguousarray(np.moveaxis(arrays.pop("diffraction"), 0, -1).astype(np.float64))
    arrays["Y"] = arrays["Y"][..., None].astype(np.complex128)
    arrays["probeGuess"] = arrays["probeGuess"][..., None]
    arrays["extra_note"] = np.arange(3)
    src = str(tmp_path / "legacy.npz")
    np.savez(src, **arrays)
    side = make_fixture(src, str(tmp_path / "f.npz"), subset_size=16).sidecar
    text = "\n".join(side["transformations"])
    assert side["source_layout"] == "legacy"
    assert "diff3d -> diffraction" in text
    assert "legacy (H, W, N) stack (8, 8, 40) -> canonical (N, H, W)" in text
    assert "diffraction: float64 -> float32" in text
    assert "Y: complex128 -> complex64" in text
    assert "Y: trailing axis of length 1 squeezed" in text
    assert "probeGuess: trailing axis of length 1 squeezed, (8, 8, 1) -> (8, 8)" in text
    assert "not copied: extra_note" in text
    assert "float32 ->" not in text
    assert "complex64 ->" not in text


def test_storage_details_are_recorded(tmp_path):
    for storage, phrase in (("big-endian", "stored big-endian ('>f4')"), ("fortran", "Fortran")):
        src, _ = write_source(tmp_path, storage)
        side = make_fixture(src, str(tmp_path / f"{storage}.npz"), subset_size=16).sidecar
        assert any(phrase in t for t in side["transformations"]), storage


def test_legacy_alias_adds_a_diff3d_copy(tmp_path):
    src, _ = write_source(tmp_path, "canonical")
    out = str(tmp_path / "f.npz")
    side = make_fixture(src, out, subset_size=16, legacy_alias=True).sidecar
    with np.load(out) as f:
        assert f.files[:2] == ["diffraction", "diff3d"]
        np.testing.assert_array_equal(f["diff3d"], f["diffraction"])
    assert any("--legacy-alias" in t for t in side["transformations"])
    assert "--legacy-alias" in side["regenerate"]
    assert verify_fixture(out, source=src).ok


def test_without_legacy_alias_no_diff3d_is_written(tmp_path):
    src, _ = write_source(tmp_path, "canonical")
    out = str(tmp_path / "f.npz")
    make_fixture(src, out, subset_size=16)
    with np.load(out) as f:
        assert "diff3d" not in f.files


def test_frame_transform_of_the_reader_is_applied_and_recorded(tmp_path, monkeypatch):
    src, canonical = write_source(tmp_path, "canonical")

    class Doubling(NpzSource):
        frame_transform = staticmethod(lambda frames: frames * 2)
        frame_transform_notes = ("diffraction: doubled by the reader (test)",)

    monkeypatch.setattr(_fixture, "open_source", Doubling)
    out = str(tmp_path / "f.npz")
    result = make_fixture(src, out, subset_size=16)
    with np.load(out) as f:
        np.testing.assert_array_equal(f["diffraction"], canonical["diffraction"][result.indices] * 2)
    assert "diffraction: doubled by the reader (test)" in result.sidecar["transformations"]
    assert verify_fixture(out, source=src).ok


def test_regenerate_command_reproduces_the_fixture(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_source(tmp_path, "canonical")
    side = make_fixture("source-canonical.npz", "fx.npz", subset_size=16, strategy="grid").sidecar
    original = (tmp_path / "fx.npz").read_bytes()
    for suffix in (".npz", ".json", ".md"):
        os.rename(f"fx{suffix}", f"old{suffix}")
    args = shlex.split(side["regenerate"])
    assert args[0] == "ptyevidence"
    done = run_cli(*args[1:], cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "fx.npz").read_bytes() == original


def test_fresh_fixture_verifies_with_and_without_source(tmp_path):
    src, _ = write_source(tmp_path, "legacy")
    out = str(tmp_path / "f.npz")
    make_fixture(src, out, subset_size=16, strategy="farthest-point")
    alone = verify_fixture(out)
    assert alone.ok, alone.format_text()
    full = verify_fixture(out, source=src)
    assert full.ok, full.format_text()
    names = {c.name for c in full.checks}
    assert {"rows.diffraction", "rows.Y", "source_sha256", "transformations", "coverage"} <= names


def _member_data_offset(path: str, key: str) -> int:
    with NpzSource(path) as src:
        return src.info(key).data_offset


def test_a_flipped_byte_is_reported_with_its_key(tmp_path):
    src, _ = write_source(tmp_path, "canonical")
    out = str(tmp_path / "f.npz")
    make_fixture(src, out, subset_size=16)
    offset = _member_data_offset(out, "xcoords")
    with open(out, "r+b") as fh:
        fh.seek(offset + 3)
        byte = fh.read(1)
        fh.seek(offset + 3)
        fh.write(bytes([byte[0] ^ 0xFF]))
    report = verify_fixture(out)
    failed = {c.name for c in report.mismatches}
    assert {"sha256_checksum", "content_digests.xcoords"} <= failed
    assert "content_digests.diffraction" not in failed


def test_a_changed_key_is_reported_by_name(tmp_path):
    src, _ = write_source(tmp_path, "canonical")
    out = str(tmp_path / "f.npz")
    make_fixture(src, out, subset_size=16)
    with np.load(out) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["ycoords"] = arrays["ycoords"] + 0.5
    np.savez(out, **arrays)
    failed = {c.name for c in verify_fixture(out, source=src).mismatches}
    assert {"sha256_checksum", "content_digests.ycoords", "rows.ycoords"} <= failed
    assert not any(name.endswith(("diffraction", "xcoords")) for name in failed)


def test_a_missing_and_an_extra_key_are_reported(tmp_path):
    src, _ = write_source(tmp_path, "canonical")
    out = str(tmp_path / "f.npz")
    make_fixture(src, out, subset_size=16)
    with np.load(out) as f:
        arrays = {k: f[k] for k in f.files if k != "Y"}
    arrays["surprise"] = np.zeros(2)
    np.savez(out, **arrays)
    report = verify_fixture(out)
    failed = {c.name: c.detail for c in report.mismatches}
    assert "missing from the fixture" in failed["content_digests.Y"]
    assert "surprise" in failed["keys"]


def test_a_sidecar_of_another_fixture_is_a_mismatch(tmp_path):
    src, _ = write_source(tmp_path, "canonical")
    make_fixture(src, str(tmp_path / "a.npz"), subset_size=16)
    make_fixture(src, str(tmp_path / "b.npz"), subset_size=20)
    report = verify_fixture(tmp_path / "a.npz", metadata=tmp_path / "b.json")
    failed = {c.name for c in report.mismatches}
    assert {"sha256_checksum", "subset_size", "content_digests.diffraction"} <= failed


def test_a_different_source_is_a_mismatch(tmp_path):
    src, canonical = write_source(tmp_path, "canonical")
    out = str(tmp_path / "f.npz")
    result = make_fixture(src, out, subset_size=16)
    canonical["diffraction"][result.indices[4], 2, 2] += 0.25
    np.savez(src, **canonical)
    report = verify_fixture(out, source=src)
    failed = {c.name: c.detail for c in report.mismatches}
    assert set(failed) == {"source_fingerprint", "source_sha256", "rows.diffraction"}
    assert f"fixture row 4, source index {result.indices[4]}" in failed["rows.diffraction"]


def test_coverage_thresholds_are_checked(tmp_path):
    src, _ = write_source(tmp_path, "canonical")
    out = str(tmp_path / "f.npz")
    side = make_fixture(src, out, subset_size=16).sidecar
    occupancy = side["coverage"]["occupancy"]
    assert verify_fixture(out, min_occupancy=occupancy).ok
    tight = verify_fixture(out, min_occupancy=min(1.0, occupancy + 0.01), min_range_ratio=0.999)
    failed = {c.name for c in tight.mismatches}
    assert "coverage.occupancy" in failed
    assert "coverage.x_range_ratio" in failed or side["coverage"]["x_range_ratio"] > 0.999


@pytest.mark.parametrize("field", ["indices", "content_digests", "coverage", "sha256_checksum"])
def test_a_sidecar_missing_a_required_field_is_unusable(tmp_path, field):
    src, _ = write_source(tmp_path, "canonical")
    out = str(tmp_path / "f.npz")
    make_fixture(src, out, subset_size=16)
    side = json.loads((tmp_path / "f.json").read_text())
    del side[field]
    (tmp_path / "f.json").write_text(json.dumps(side))
    with pytest.raises(InputError, match=f"lacks required field.*'{field}'"):
        verify_fixture(out)


def test_a_missing_fixture_or_sidecar_is_unusable(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        verify_fixture(tmp_path / "nothing.npz")
    src, _ = write_source(tmp_path, "canonical")
    out = str(tmp_path / "f.npz")
    make_fixture(src, out, subset_size=16)
    os.unlink(tmp_path / "f.json")
    with pytest.raises(InputError, match="sidecar .* does not exist"):
        verify_fixture(out)


def test_existing_outputs_are_not_overwritten_without_force(tmp_path):
    src, _ = write_source(tmp_path, "canonical")
    out = str(tmp_path / "f.npz")
    make_fixture(src, out, subset_size=16)
    before = {p: (tmp_path / p).read_bytes() for p in ("f.npz", "f.json", "f.md")}
    with pytest.raises(UsageError, match="--force"):
        make_fixture(src, out, subset_size=20)
    assert {p: (tmp_path / p).read_bytes() for p in before} == before
    make_fixture(src, out, subset_size=20, force=True)
    assert read_sidecar(tmp_path / "f.json")["subset_size"] == 20


def test_only_the_existing_sidecar_also_blocks_the_run(tmp_path):
    src, _ = write_source(tmp_path, "canonical")
    (tmp_path / "f.json").write_text("{}")
    with pytest.raises(UsageError, match="f.json' exists"):
        make_fixture(src, str(tmp_path / "f.npz"), subset_size=16)
    assert not (tmp_path / "f.npz").exists()


def test_output_equal_to_source_is_refused(tmp_path):
    src, _ = write_source(tmp_path, "canonical")
    before = _read(src)
    with pytest.raises(UsageError, match="is the input"):
        make_fixture(src, src, subset_size=16, force=True)
    assert _read(src) == before


def _leftovers(folder) -> list[str]:
    return sorted(p for p in os.listdir(folder) if not p.startswith("source-"))


@pytest.mark.parametrize("defect", ["nan", "intensity", "negative"])
def test_a_fixture_breaking_its_contract_leaves_nothing_behind(tmp_path, defect):
    arrays = traceable_arrays()
    if defect == "nan":
        arrays["diffraction"][:, 3, 3] = np.nan
    elif defect == "intensity":
        arrays["diffraction"] *= 500
    else:
        arrays["diffraction"][:, 1, 1] = -1
    src, _ = write_source(tmp_path, "canonical", arrays)
    before = (_read(src), os.stat(src).st_mtime_ns)
    with pytest.raises(ContractError, match="nothing was written"):
        make_fixture(src, str(tmp_path / "f.npz"), subset_size=16)
    assert _leftovers(tmp_path) == []
    assert (_read(src), os.stat(src).st_mtime_ns) == before


def test_a_failure_while_placing_files_leaves_nothing_behind(tmp_path, monkeypatch):
    src, _ = write_source(tmp_path, "canonical")
    out = str(tmp_path / "f.npz")
    real_replace = os.replace

    def failing_replace(a, b):
        if os.fspath(b) == out:
            msg = "disk full (simulated)"
            raise OSError(msg)
        return real_replace(a, b)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="simulated"):
        make_fixture(src, out, subset_size=16)
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("size", [15, 41, 0, -3, 16.0, True])
def test_subset_size_outside_16_to_n_is_refused(tmp_path, size):
    src, _ = write_source(tmp_path, "canonical")
    with pytest.raises(UsageError, match="subset size"):
        make_fixture(src, str(tmp_path / "f.npz"), subset_size=size)
    assert _leftovers(tmp_path) == []


def test_a_source_with_fewer_than_16_positions_is_refused(tmp_path):
    src, _ = write_source(tmp_path, "canonical", dataset_arrays(n=12))
    with pytest.raises(UsageError, match="only 12 positions"):
        make_fixture(src, str(tmp_path / "f.npz"), subset_size=16)


def test_coordinates_not_matching_the_stack_are_refused(tmp_path):
    arrays = traceable_arrays()
    arrays["xcoords_start"] = arrays["xcoords_start"][:-1]
    src, _ = write_source(tmp_path, "canonical", arrays)
    with pytest.raises(InputError, match="'xcoords_start' has shape \\(39,\\)"):
        make_fixture(src, str(tmp_path / "f.npz"), subset_size=16)


def test_legacy_stack_with_n_equal_h_needs_an_explicit_layout(tmp_path):
    arrays = traceable_arrays(n=16, h=16, w=16)
    src, canonical = write_source(tmp_path, "legacy", arrays)
    out = str(tmp_path / "f.npz")
    with pytest.raises(InputError, match="ambiguous.*--layout"):
        make_fixture(src, out, subset_size=16)
    assert _leftovers(tmp_path) == []
    result = make_fixture(src, out, subset_size=16, layout="legacy")
    assert result.sidecar["source_layout"] == "legacy"
    assert "--layout legacy" in result.sidecar["regenerate"]
    assert_rows_follow_indices(out, canonical, result.indices)
    assert verify_fixture(out, source=src).ok


def test_compressed_fixture_member_is_never_written(tmp_path):
    src, _ = write_source(tmp_path, "compressed")
    out = str(tmp_path / "f.npz")
    make_fixture(src, out, subset_size=16)
    with zipfile.ZipFile(out) as zf:
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_STORED}


def test_no_source_hash_records_null_and_verify_skips_it(tmp_path):
    src, _ = write_source(tmp_path, "canonical")
    out = str(tmp_path / "f.npz")
    side = make_fixture(src, out, subset_size=16, source_hash="none").sidecar
    assert side["source_sha256"] is None
    assert "--source-hash none" in side["regenerate"]
    report = verify_fixture(out, source=src)
    assert report.ok
    names = {c.name for c in report.checks}
    assert "source_sha256" not in names
    assert "source_fingerprint" in names
    notes = _text(side_path(out, ".md"))
    assert "Source SHA-256: not computed (`--source-hash none`)" in notes


def side_path(out, suffix):
    return os.path.splitext(out)[0] + suffix


def _text(path):
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def test_auto_hash_skips_sources_above_the_limit_and_records_why(tmp_path, monkeypatch):
    from ptyevidence import _fixture

    src, _ = write_source(tmp_path, "canonical")
    small = make_fixture(src, str(tmp_path / "small.npz"), subset_size=16).sidecar
    assert small["source_sha256"] == hashlib.sha256(_read(src)).hexdigest()
    monkeypatch.setattr(_fixture, "FULL_HASH_LIMIT", os.path.getsize(src) - 1)
    out = str(tmp_path / "f.npz")
    side = make_fixture(src, out, subset_size=16).sidecar
    assert side["source_sha256"] is None
    assert side["source_hash"] == "auto"
    assert side["full_hash_limit"] == os.path.getsize(src) - 1
    assert side["source_fingerprint"] == small["source_fingerprint"]
    assert "--source-hash" not in side["regenerate"]
    notes = _text(side_path(out, ".md"))
    assert "limit of `--source-hash auto`; `--source-hash full` hashes it" in notes
    # A compressed source's pass inflates its members to check their CRCs: that counts.
    zsrc, _ = write_source(tmp_path, "compressed")
    with NpzSource(zsrc) as reader:
        work = reader.full_check_bytes()
    assert work > os.path.getsize(zsrc)
    monkeypatch.setattr(_fixture, "FULL_HASH_LIMIT", work - 1)
    zside = make_fixture(zsrc, str(tmp_path / "z.npz"), subset_size=16).sidecar
    assert zside["source_sha256"] is None
    monkeypatch.setattr(_fixture, "FULL_HASH_LIMIT", work)
    zside = make_fixture(zsrc, str(tmp_path / "z2.npz"), subset_size=16).sidecar
    assert zside["source_sha256"] == hashlib.sha256(_read(zsrc)).hexdigest()
    # "full" hashes whatever the size.
    full = make_fixture(src, str(tmp_path / "full.npz"), subset_size=16, source_hash="full").sidecar
    assert full["source_sha256"] == small["source_sha256"]
    assert "--source-hash full" in full["regenerate"]


def test_fingerprint_covers_zip_members_and_other_files(tmp_path):
    from ptyevidence._sidecar import file_fingerprint

    src, canonical = write_source(tmp_path, "canonical")
    before = file_fingerprint(src)
    assert before == file_fingerprint(src)
    assert before["method"] == "zip-directory"
    assert before["bytes"] == os.path.getsize(src)
    # Same size, one value changed: the member's CRC-32 in the directory changes.
    canonical["xcoords"] = canonical["xcoords"].copy()
    canonical["xcoords"][3] += 1.0
    np.savez(src, **canonical)
    after = file_fingerprint(src)
    assert after["bytes"] == before["bytes"]
    assert after["sha256"] != before["sha256"]
    other = tmp_path / "data.bin"
    other.write_bytes(bytes(range(256)) * 20_000)
    head_tail = file_fingerprint(other)
    assert head_tail["method"] == "head-tail"
    data = bytearray(other.read_bytes())
    data[-5] ^= 1
    other.write_bytes(bytes(data))
    assert file_fingerprint(other)["sha256"] != head_tail["sha256"]


def test_an_unknown_source_hash_mode_is_refused(tmp_path):
    src, _ = write_source(tmp_path, "canonical")
    with pytest.raises(UsageError, match="source hash mode 'sometimes'"):
        make_fixture(src, str(tmp_path / "f.npz"), subset_size=16, source_hash="sometimes")
    assert not (tmp_path / "f.npz").exists()


def test_cxi_source_gives_amplitude_frames_at_the_chosen_rows(tmp_path):
    from cxi_files import write_cxi
    from ptyevidence._cxi import CxiSource

    src = str(tmp_path / "scan.cxi")
    write_cxi(src, n=40, h=16, w=16)
    out = str(tmp_path / "f.npz")
    result = make_fixture(src, out, subset_size=16, strategy="grid")
    with CxiSource(src) as cxi:
        scale = cxi.intensity_summary().scale
        x = cxi.read("xcoords")
        notes = cxi.frame_transform_notes
    with np.load(out) as f:
        # Frame i of the CXI file holds the count i at pixel (0, 1).
        stamp = (f["diffraction"][:, 0, 1].astype(np.float64) / scale) ** 2
        np.testing.assert_allclose(stamp, result.indices, rtol=1e-5)
        np.testing.assert_array_equal(f["xcoords"], x[result.indices])
    side = result.sidecar
    assert side["contract"]["name"] == "raw"
    assert all(note in side["transformations"] for note in notes)
    assert verify_fixture(out, source=src).ok


def test_a_sidecar_from_a_newer_version_is_unusable(tmp_path):
    src, _ = write_source(tmp_path, "canonical")
    out = str(tmp_path / "f.npz")
    make_fixture(src, out, subset_size=16)
    side = json.loads((tmp_path / "f.json").read_text())
    side["version"] = 99
    (tmp_path / "f.json").write_text(json.dumps(side))
    with pytest.raises(InputError, match="'version' is 99"):
        verify_fixture(out)
