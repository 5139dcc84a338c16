"""Geometry stated, never assumed silently: --geometry/--sample-pixel-size on CXI input."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from cxi_files import scan_translation, write_cxi


@pytest.fixture
def cxi(tmp_path):
    path = os.fspath(tmp_path / "scan.cxi")
    write_cxi(path, n=40, h=16, w=16)
    return path


def _geometry_findings(done):
    return [line for line in done.stdout.splitlines() if line.split()[1:2] == ["geometry"]]


def test_validate_warns_when_the_geometry_is_assumed_and_names_the_flags(cli, cxi):
    done = cli("validate", cxi)
    assert done.returncode == 0, done.stdout
    (line,) = _geometry_findings(done)
    assert line.startswith("warning")
    assert "far-field geometry assumed (the file does not say which)" in line
    assert "--geometry near-field --sample-pixel-size METRES" in line
    assert "sample pixel" in line


def test_a_stated_geometry_is_information_with_the_pixel_size_used(cli, cxi):
    far = cli("validate", cxi, "--geometry", "far-field", "--json")
    (finding,) = [f for f in json.loads(far.stdout)["findings"] if f["rule"] == "geometry"]
    assert finding["severity"] == "info"
    assert "far-field geometry (given)" in finding["message"]
    near = cli("validate", cxi, "--geometry", "near-field", "--sample-pixel-size", "2e-8", "--json")
    (finding,) = [f for f in json.loads(near.stdout)["findings"] if f["rule"] == "geometry"]
    assert "near-field geometry (given); sample pixel 2e-08 x 2e-08 m" in finding["message"]


def test_near_field_positions_are_the_translations_over_the_given_pixel(cli, cxi, tmp_path):
    out = os.fspath(tmp_path / "fx.npz")
    done = cli(
        "fixture",
        "make",
        "--source",
        cxi,
        "--output",
        out,
        "--subset-size",
        "16",
        "--geometry",
        "near-field",
        "--sample-pixel-size",
        "2e-8",
    )
    assert done.returncode == 1, done.stderr  # written; no probe or object in a CXI scan
    assert "geometry  positions in object pixels: near-field geometry (given)" in done.stdout
    side = json.loads((tmp_path / "fx.json").read_text())
    assert side["source_geometry"]["geometry"] == "near-field"
    assert side["source_geometry"]["sample_pixel_size"] == 2e-8
    assert "--geometry near-field --sample-pixel-size 2e-08" in side["regenerate"]
    assert "Positions: positions in object pixels: near-field geometry (given)" in (tmp_path / "fx.md").read_text()
    t = scan_translation(40)
    with np.load(out) as f:
        x = f["xcoords"]
    idx = side["indices"]
    along_x = t[idx, 0] / 2e-8  # the CXI default basis: x follows translation x
    np.testing.assert_allclose(np.diff(x), np.diff(along_x), rtol=1e-9)
    verified = cli("fixture", "verify", out, "--source", cxi, "--json")
    assert json.loads(verified.stdout)["mismatches"] == ["contract"]  # the rows re-read with the geometry


def test_coverage_states_the_geometry(cli, cxi):
    text = cli("coverage", cxi)
    assert text.returncode == 0, text.stderr
    assert "far-field geometry assumed" in text.stdout.splitlines()[1]
    data = json.loads(cli("coverage", cxi, "--geometry", "far-field", "--json").stdout)
    assert "far-field geometry (given)" in data["geometry"]


def test_geometry_flags_on_an_npz_are_refused(cli, make_npz):
    done = cli("validate", make_npz(), "--geometry", "near-field")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "applies to CXI files" in done.stderr
