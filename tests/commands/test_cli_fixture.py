"""``ptyevidence fixture make|verify`` through the real entry point."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from conftest import dataset_arrays


@pytest.fixture
def source(make_npz) -> str:
    return make_npz("scan.npz", n=80, h=8, w=8)


def open_text(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def _outputs(folder) -> list[str]:
    return sorted(p for p in os.listdir(folder) if p != "scan.npz")


def test_make_prints_a_summary_and_writes_three_files(cli, source, tmp_path):
    out = str(tmp_path / "fx.npz")
    done = cli("fixture", "make", "--source", source, "--output", out, "--subset-size", "20", "--strategy", "grid")
    assert done.returncode == 0, done.stderr
    side = json.loads((tmp_path / "fx.json").read_text())
    assert f"wrote {out}: 20 of 80 positions (grid, seed 0)" in done.stdout
    assert side["sha256_checksum"] in done.stdout
    assert "contract  data001: PASS" in done.stdout
    assert "x range" in done.stdout
    assert "y range" in done.stdout
    assert _outputs(tmp_path) == ["fx.json", "fx.md", "fx.npz"]


def test_make_honours_metadata_and_notes_paths(cli, source, tmp_path):
    out = str(tmp_path / "fx.npz")
    meta, notes = str(tmp_path / "record.json"), str(tmp_path / "README-fixture.md")
    done = cli(
        "fixture",
        "make",
        "--source",
        source,
        "--output",
        out,
        "--subset-size",
        "16",
        "--metadata-out",
        meta,
        "--notes-out",
        notes,
    )
    assert done.returncode == 0, done.stderr
    assert _outputs(tmp_path) == ["README-fixture.md", "fx.npz", "record.json"]
    side = json.loads(open_text(meta))
    assert f"--metadata-out {meta}" in side["regenerate"]
    assert cli("fixture", "verify", out).returncode == 2  # default sidecar name is absent
    assert cli("fixture", "verify", out, "--metadata", meta).returncode == 0


def test_verify_passes_a_fresh_fixture_and_reports_json(cli, source, tmp_path):
    out = str(tmp_path / "fx.npz")
    assert cli("fixture", "make", "--source", source, "--output", out).returncode == 0
    done = cli("fixture", "verify", out, "--source", source)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("PASS:")
    report = json.loads(cli("fixture", "verify", out, "--json").stdout)
    assert report["ok"] is True
    assert report["mismatches"] == []


def test_verify_lists_each_mismatch_and_exits_1(cli, source, tmp_path):
    out = str(tmp_path / "fx.npz")
    assert cli("fixture", "make", "--source", source, "--output", out, "--subset-size", "16").returncode == 0
    with np.load(out) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["xcoords"] = arrays["xcoords"][::-1].copy()
    np.savez(out, **arrays)
    done = cli("fixture", "verify", out, "--source", source)
    assert done.returncode == 1
    failing = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("FAIL ")]
    assert {"sha256_checksum", "content_digests.xcoords", "rows.xcoords"} <= set(failing)
    assert "Traceback" not in done.stderr


def test_verify_occupancy_threshold_is_a_mismatch(cli, source, tmp_path):
    out = str(tmp_path / "fx.npz")
    assert cli("fixture", "make", "--source", source, "--output", out, "--subset-size", "16").returncode == 0
    done = cli("fixture", "verify", out, "--min-occupancy", "1.0", "--json")
    report = json.loads(done.stdout)
    occupancy = json.loads((tmp_path / "fx.json").read_text())["coverage"]["occupancy"]
    assert done.returncode == (0 if occupancy >= 1.0 else 1)
    assert ("coverage.occupancy" in report["mismatches"]) == (occupancy < 1.0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fixture", "verify", "missing.npz"], "does not exist"),
        (["fixture", "make", "--source", "missing.npz", "--output", "o.npz"], "does not exist"),
    ],
)
def test_missing_files_exit_2_with_one_line(cli, tmp_path, args, message):
    done = cli(*args, cwd=str(tmp_path))
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert os.listdir(tmp_path) == []


def test_sidecar_missing_fields_exits_2(cli, source, tmp_path):
    out = str(tmp_path / "fx.npz")
    assert cli("fixture", "make", "--source", source, "--output", out, "--subset-size", "16").returncode == 0
    side = json.loads((tmp_path / "fx.json").read_text())
    del side["indices"], side["contract"]
    (tmp_path / "fx.json").write_text(json.dumps(side))
    done = cli("fixture", "verify", out)
    assert done.returncode == 2
    assert "'indices', 'contract'" in done.stderr


def test_sidecar_of_another_fixture_exits_1(cli, source, tmp_path):
    a, b = str(tmp_path / "a.npz"), str(tmp_path / "b.npz")
    assert cli("fixture", "make", "--source", source, "--output", a, "--subset-size", "16").returncode == 0
    assert (
        cli(
            "fixture", "make", "--source", source, "--output", b, "--subset-size", "16", "--strategy", "farthest-point"
        ).returncode
        == 0
    )
    done = cli("fixture", "verify", a, "--metadata", str(tmp_path / "b.json"))
    assert done.returncode == 1
    assert "FAIL  sha256_checksum" in done.stdout


@pytest.mark.parametrize(
    ("size", "message"),
    [
        ("0", "out of range"),
        ("-4", "out of range"),
        ("15", "out of range"),
        ("81", "has 80 positions"),
        ("3.5", "not an integer"),
        ("many", "not an integer"),
    ],
)
def test_bad_subset_size_exits_2_and_writes_nothing(cli, source, tmp_path, size, message):
    done = cli("fixture", "make", "--source", source, "--output", str(tmp_path / "fx.npz"), f"--subset-size={size}")
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert _outputs(tmp_path) == []


def test_existing_output_needs_force(cli, source, tmp_path):
    out = str(tmp_path / "fx.npz")
    assert cli("fixture", "make", "--source", source, "--output", out, "--subset-size", "16").returncode == 0
    again = cli("fixture", "make", "--source", source, "--output", out, "--subset-size", "16")
    assert again.returncode == 2
    assert "--force" in again.stderr
    forced = cli("fixture", "make", "--source", source, "--output", out, "--subset-size", "16", "--force")
    assert forced.returncode == 0, forced.stderr


def test_contract_failure_exits_1_and_writes_nothing(cli, make_npz, tmp_path):
    arrays = dataset_arrays(n=40)
    arrays["diffraction"] = arrays["diffraction"] * 1000
    src = make_npz("scan.npz", arrays=arrays)
    done = cli("fixture", "make", "--source", src, "--output", str(tmp_path / "fx.npz"), "--subset-size", "16")
    assert done.returncode == 1
    assert "diffraction-normalized" in done.stderr
    assert "nothing was written" in done.stderr
    assert _outputs(tmp_path) == []


def test_legacy_n_equal_h_needs_layout_flag(cli, tmp_path):
    arrays = dataset_arrays(n=16, h=16, w=16)
    arrays["diffraction"] = np.ascontiguousarray(np.moveaxis(arrays["diffraction"], 0, -1))
    src = str(tmp_path / "scan.npz")
    np.savez(src, **arrays)
    out = str(tmp_path / "fx.npz")
    auto = cli("fixture", "make", "--source", src, "--output", out, "--subset-size", "16")
    assert auto.returncode == 2
    assert "ambiguous" in auto.stderr
    assert "--layout" in auto.stderr
    assert _outputs(tmp_path) == []
    legacy = cli("fixture", "make", "--source", src, "--output", out, "--subset-size", "16", "--layout", "legacy")
    assert legacy.returncode == 0, legacy.stderr
    with np.load(out) as f:
        np.testing.assert_array_equal(f["diffraction"][:, 0, 0], np.arange(16, dtype=np.float32) / 1000)
    assert cli("fixture", "verify", out, "--source", src).returncode == 0


@pytest.mark.parametrize("action", ["make", "verify"])
def test_each_action_has_help(cli, action):
    done = cli("fixture", action, "--help")
    assert done.returncode == 0
    assert "Exit 0" in done.stdout


@pytest.mark.parametrize(
    ("flags", "recorded"),
    [
        ([], "auto"),
        (["--source-hash", "full"], "full"),
        (["--source-hash", "none"], "none"),
        (["--no-source-hash"], "none"),
    ],
)
def test_source_hash_modes_are_recorded(cli, source, tmp_path, flags, recorded):
    out = str(tmp_path / "fx.npz")
    done = cli("fixture", "make", "--source", source, "--output", out, "--subset-size", "16", *flags)
    assert done.returncode == 0, done.stderr
    side = json.loads(open_text(str(tmp_path / "fx.json")))
    assert side["source_hash"] == recorded
    assert (side["source_sha256"] is None) == (recorded == "none")
    assert side["source_fingerprint"]["method"] == "zip-directory"


def test_source_hash_flags_conflict_in_one_line(cli, source, tmp_path):
    out = str(tmp_path / "fx.npz")
    done = cli("fixture", "make", "--source", source, "--output", out, "--source-hash", "full", "--no-source-hash")
    assert done.returncode == 2
    assert "not allowed with argument --source-hash" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert _outputs(tmp_path) == []


def test_make_takes_its_fields_from_contract(cli, source, tmp_path):
    """--contract legacy: the fixture carries legacy's fields and is validated against it."""
    out = str(tmp_path / "fx.npz")
    done = cli(
        "fixture",
        "make",
        "--source",
        source,
        "--output",
        out,
        "--subset-size",
        "16",
        "--contract",
        "legacy",
        "--legacy-alias",
    )
    assert done.returncode == 0, done.stderr
    assert "contract  legacy: PASS" in done.stdout
    side = json.loads((tmp_path / "fx.json").read_text())
    assert "--contract legacy" in side["regenerate"]
    assert cli("fixture", "verify", out, "--source", source).returncode == 0
    unknown = cli("fixture", "make", "--source", source, "--output", str(tmp_path / "x.npz"), "--contract", "nonesuch")
    assert unknown.returncode == 2
    assert "unknown contract 'nonesuch'" in unknown.stderr
    assert not (tmp_path / "x.npz").exists()
