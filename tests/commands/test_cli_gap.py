"""``ptyevidence gap``: formats, output files, dumps and exit codes."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from _gap_dumps import tf_grouped_dump, torch_mmap_dump
from ptyevidence.gap import build_gap_matrix


def _one_error_line(proc):
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("ptyevidence: error: ")
    assert "Traceback" not in proc.stderr
    return lines[0]


def test_gap_prints_the_default_tf_vs_torch_matrix(cli):
    proc = cli("gap")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("# Gap matrix: `ptychopinn-tf-grouped` vs `ptychopinn-torch-mmap`")
    assert proc.stdout == build_gap_matrix().to_markdown()
    assert "## What breaks if you swap pipelines" in proc.stdout


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_gap_formats_carry_one_row_per_role(cli, fmt):
    proc = cli("gap", "--right", "ptychopinn-torch-bridge", "--format", fmt)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout))) if fmt == "csv" else json.loads(proc.stdout)["rows"]
    expected = build_gap_matrix("ptychopinn-tf-grouped", "ptychopinn-torch-bridge")
    assert [r["role"] for r in rows] == [r.role for r in expected.rows]


def test_gap_output_is_written_once_and_refused_without_force(cli, tmp_path):
    out = tmp_path / "torch_gap_matrix.md"
    first = cli("gap", "--output", str(out))
    assert first.returncode == 0, first.stderr
    assert out.read_text() == build_gap_matrix().to_markdown()
    out.write_text("kept")
    again = cli("gap", "--output", str(out))
    assert again.returncode == 2
    assert "--force" in _one_error_line(again)
    assert out.read_text() == "kept"
    forced = cli("gap", "--output", str(out), "--force")
    assert forced.returncode == 0
    assert out.read_text().startswith("# Gap matrix")


def test_gap_output_suffix_chooses_the_format(cli, tmp_path):
    out = tmp_path / "matrix.json"
    assert cli("gap", "--output", str(out)).returncode == 0
    assert json.loads(out.read_text())["left"]["name"] == "ptychopinn-tf-grouped"


def test_gap_bad_contract_file_exits_2_with_one_line(cli, tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text("{ not json")
    proc = cli("gap", "--left", str(bad))
    assert proc.returncode == 2
    assert "broken.json" in _one_error_line(proc)
    assert proc.stdout == ""


def test_gap_unknown_contract_name_exits_2(cli):
    proc = cli("gap", "--right", "ptychopinn-jax")
    assert proc.returncode == 2
    assert "ptychopinn-torch-mmap" in _one_error_line(proc)


def test_gap_bad_dump_exits_2_with_one_line(cli, tmp_path):
    good, bad = tmp_path / "tf.npz", tmp_path / "torch.npz"
    np.savez(good, **tf_grouped_dump())
    bad.write_bytes(b"this is not a zip archive")
    out = tmp_path / "m.md"
    proc = cli("gap", "--left-dump", str(good), "--right-dump", str(bad), "--output", str(out))
    assert proc.returncode == 2
    assert "torch.npz" in _one_error_line(proc)
    assert not out.exists()


def test_gap_needs_both_dumps(cli, tmp_path):
    good = tmp_path / "tf.npz"
    np.savez(good, **tf_grouped_dump())
    proc = cli("gap", "--left-dump", str(good))
    assert proc.returncode == 2
    assert "--right-dump" in _one_error_line(proc)


def test_gap_with_dumps_adds_observed_results(cli, tmp_path):
    left, right = tmp_path / "tf.npz", tmp_path / "torch.npz"
    np.savez(left, **tf_grouped_dump())
    np.savez(right, **torch_mmap_dump(sign=1.0))
    proc = cli("gap", "--left-dump", str(left), "--right-dump", str(right), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    rows = {r["role"]: r for r in json.loads(proc.stdout)["rows"]}
    assert rows["coords.relative"]["observed"].endswith("sign flip: right = −left")
    assert "right = 2.000 × left" in rows["scale.rms"]["observed"]


def test_gap_dump_breaking_its_contract_exits_1_and_still_reports(cli, tmp_path):
    left, right = tmp_path / "tf.npz", tmp_path / "torch.npz"
    np.savez(left, **tf_grouped_dump())
    np.savez(right, **torch_mmap_dump(channels_last=True))
    proc = cli("gap", "--left-dump", str(left), "--right-dump", str(right))
    assert proc.returncode == 1
    assert "| right | error | shape | `images` |" in proc.stdout
    assert "breaks its contract" in proc.stderr


def test_gap_help_describes_the_command(cli):
    proc = cli("gap", "--help")
    assert proc.returncode == 0
    assert "--left-dump" in proc.stdout
    assert "missing-left" in proc.stdout
