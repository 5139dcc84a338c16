"""``ptyevidence observe``: output, exit codes and one-line errors (stand-in PtychoPINN)."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from _fake_ptychopinn import make_fake
from _observe_runs import fixture_arrays


@pytest.fixture
def fixture(tmp_path):
    path = tmp_path / "fixture.npz"
    np.savez(path, **fixture_arrays())
    return str(path)


def _one_error_line(proc):
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("ptyevidence: error: ")
    assert "Traceback" not in proc.stderr
    return lines[0]


def _observe(cli, fixture, fake, *args):
    return cli("observe", fixture, "--python", sys.executable, "--ptychopinn", fake, "--config", "N=16", *args)


def test_observe_without_ptychopinn_exits_2_naming_what_is_missing(cli, fixture, tmp_path):
    proc = cli("observe", fixture, "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    line = _one_error_line(proc)
    assert "PtychoPINN" in line
    assert "--python PATH" in line
    assert not (tmp_path / "out").exists()


def test_observe_prints_the_summary_and_writes_the_folder(cli, fixture, tmp_path):
    out = tmp_path / "out"
    proc = _observe(cli, fixture, make_fake(tmp_path / "fake"), "--out", str(out), "--gridsize", "2")
    assert proc.returncode == 0, proc.stderr
    assert "gridsize 2:" in proc.stdout
    assert "contract drift: none (every testable claim holds)" in proc.stdout
    assert proc.stdout.rstrip().endswith("logs/")
    assert (out / "observed_gap_matrix.md").read_text().startswith("# Observed gap matrix")
    assert proc.stderr == ""


def test_observe_json_is_the_report(cli, fixture, tmp_path):
    proc = _observe(
        cli, fixture, make_fake(tmp_path / "fake"), "--out", str(tmp_path / "out"), "--gridsize", "1", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["ok"] is True
    assert [g["gridsize"] for g in data["gridsizes"]] == [1]
    assert data["upstream"]["ptychopinn-torch-mmap"]["commit"].startswith("712c23f")


def test_drift_is_reported_and_fails_only_with_strict(cli, fixture, tmp_path):
    fake = make_fake(tmp_path / "fake", "drift")
    lenient = _observe(cli, fixture, fake, "--out", str(tmp_path / "a"), "--gridsize", "1")
    assert lenient.returncode == 0
    assert "claim labels-zero" in lenient.stdout
    assert "contract drift item(s)" in lenient.stderr
    strict = _observe(cli, fixture, fake, "--out", str(tmp_path / "b"), "--gridsize", "1", "--strict")
    assert strict.returncode == 1
    assert (tmp_path / "b" / "observe.json").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--gridsize", "1,x"), "gridsize list '1,x'"),
        (("--config", "K=4"), "ambiguous"),
        (("--config", "bogus=1"), "'bogus' is not a field"),
        (("--timeout", "0"), "timeout '0'"),
    ],
    ids=["gridsize", "config", "unknown-field", "timeout"],
)
def test_bad_arguments_exit_2_with_one_line(cli, fixture, tmp_path, args, message):
    proc = _observe(cli, fixture, make_fake(tmp_path / "fake"), "--out", str(tmp_path / "out"), *args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_missing_fixture_and_existing_output_exit_2(cli, fixture, tmp_path):
    fake = make_fake(tmp_path / "fake")
    missing = _observe(cli, str(tmp_path / "nope.npz"), fake)
    assert missing.returncode == 2
    assert "does not exist" in _one_error_line(missing)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x").write_text("x")
    taken = _observe(cli, fixture, fake, "--out", str(tmp_path / "out"))
    assert taken.returncode == 2
    assert "--force" in _one_error_line(taken)


def test_a_failing_pipeline_exits_2_with_one_line(cli, fixture, tmp_path):
    proc = _observe(cli, fixture, make_fake(tmp_path / "fake", "raise"), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "ValueError: fixture has no key label" in _one_error_line(proc)
    assert not (tmp_path / "out").exists()


def test_observe_help_describes_the_command(cli):
    proc = cli("observe", "--help")
    assert proc.returncode == 0
    for flag in ("--python", "--ptychopinn", "--gridsize", "--config", "--strict", "--json", "--timeout"):
        assert flag in proc.stdout
