"""``ptyevidence diff``, ``contract diff`` and ``fixture regenerate`` through the real entry point."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import npz_damage
from conftest import dataset_arrays


@pytest.fixture
def pair(tmp_path) -> tuple[str, str, dict]:
    arrays = dataset_arrays(n=20, h=8, w=8)
    a, b = str(tmp_path / "a.npz"), str(tmp_path / "b.npz")
    np.savez(a, **arrays)
    np.savez(b, **arrays)
    return a, b, arrays


def _one_error_line(done) -> str:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("ptyevidence: error: ")
    assert "Traceback" not in done.stderr
    return lines[0]


def test_diff_of_equal_files_exits_0(cli, pair):
    a, b, _ = pair
    done = cli("diff", a, b)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].startswith("SAME:")
    assert "KEY" in done.stdout
    assert "diffraction" in done.stdout


def test_diff_of_different_files_exits_1_and_json_tells_what(cli, pair, tmp_path):
    a, _, arrays = pair
    changed = dict(arrays, ycoords=arrays["ycoords"] + 0.5)
    c = str(tmp_path / "c.npz")
    np.savez(c, **changed)
    done = cli("diff", a, c)
    assert done.returncode == 1, done.stderr
    assert "20 of 20 rows differ" in done.stdout
    assert "positions 20 compared, 20 moved (first: index 0), largest shift 0.5" in done.stdout
    data = json.loads(cli("diff", a, c, "--json").stdout)
    assert data["same"] is False
    assert [k["key"] for k in data["keys"] if k["status"] == "changed"] == ["ycoords"]
    assert cli("diff", a, c, "--atol", "0.6").returncode == 0


@pytest.mark.parametrize("value", ["-1", "nan", "x"])
def test_diff_refuses_bad_tolerances(cli, pair, value):
    a, b, _ = pair
    done = cli("diff", a, b, "--rtol", value)
    assert done.returncode == 2
    assert "tolerance" in done.stderr


@pytest.mark.parametrize("damage", ["not_a_zip", "bad_crc", "missing_file", "a_directory"])
def test_diff_of_an_unusable_file_exits_2_in_one_line(cli, pair, tmp_path, damage):
    a, _, _ = pair
    bad = getattr(npz_damage, damage)(str(tmp_path))
    before = sorted(os.listdir(tmp_path))
    done = cli("diff", a, bad)
    assert done.returncode == 2, done.stdout + done.stderr
    assert os.path.basename(bad) in _one_error_line(done)
    assert done.stdout == ""
    assert sorted(os.listdir(tmp_path)) == before


def test_contract_diff_exits_1_on_breaking_changes_only(cli):
    done = cli("contract", "diff", "data001", "legacy")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].startswith("COMPATIBLE:")
    done = cli("contract", "diff", "legacy", "data001")
    assert done.returncode == 1
    assert done.stdout.splitlines()[0].split() == ["IMPACT", "WHERE", "CHANGE"]
    data = json.loads(cli("contract", "diff", "legacy", "data001", "--json").stdout)
    assert data["breaking"] > 0
    same = cli("contract", "diff", "data001", "data001")
    assert (same.returncode, same.stdout.strip()) == (0, "SAME: 'data001' and 'data001' do not differ")


def test_contract_diff_of_an_unknown_contract_exits_2(cli):
    done = cli("contract", "diff", "data001", "nope")
    assert done.returncode == 2
    assert "unknown contract 'nope'" in _one_error_line(done)


def test_fixture_regenerate_reports_reproduction_and_changes(cli, tmp_path):
    src = str(tmp_path / "scan.npz")
    np.savez(src, **dataset_arrays(n=40, h=8, w=8))
    out = str(tmp_path / "fx.npz")
    assert cli("fixture", "make", "--source", src, "--output", out, "--subset-size", "16").returncode == 0
    sidecar = str(tmp_path / "fx.json")
    listing = sorted(os.listdir(tmp_path))
    done = cli("fixture", "regenerate", sidecar)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].startswith("REPRODUCED:")
    assert sorted(os.listdir(tmp_path)) == listing  # nothing kept without --output
    with np.load(src) as f:
        arrays = dict(f)
    arrays["xcoords"][0] += 1.0
    np.savez(src, **arrays)
    done = cli("fixture", "regenerate", sidecar, "--json")
    assert done.returncode == 1
    data = json.loads(done.stdout)
    assert data["changed_keys"] == ["xcoords"]
    assert {"field": "content_digests.xcoords"}.items() <= data["differences"][1].items()


def test_fixture_regenerate_writes_only_with_output_and_force(cli, tmp_path):
    src = str(tmp_path / "scan.npz")
    np.savez(src, **dataset_arrays(n=40, h=8, w=8))
    out = str(tmp_path / "fx.npz")
    assert cli("fixture", "make", "--source", src, "--output", out, "--subset-size", "16").returncode == 0
    sidecar = str(tmp_path / "fx.json")
    done = cli("fixture", "regenerate", sidecar, "--force")
    assert done.returncode == 2
    assert "need --output" in _one_error_line(done)
    done = cli("fixture", "regenerate", sidecar, "--output", out)
    assert done.returncode == 2
    assert "exists; pass --force" in _one_error_line(done)
    done = cli("fixture", "regenerate", sidecar, "--output", out, "--force")
    assert done.returncode == 0, done.stderr
    assert f"replaced {out} with identical bytes" in done.stdout
    missing = cli("fixture", "regenerate", str(tmp_path / "none.json"))
    assert missing.returncode == 2
    assert "does not exist" in _one_error_line(missing)


def test_every_new_action_has_help(cli):
    for args in (("diff",), ("contract", "diff"), ("fixture", "regenerate")):
        done = cli(*args, "--help")
        assert done.returncode == 0
        assert "Exit 0" in done.stdout
