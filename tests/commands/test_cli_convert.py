"""Command-line tests for CXI input: convert, validate, fixture make (and coverage)."""

from __future__ import annotations

import json
import os

import h5py
import numpy as np
import numpy.testing as npt
import pytest

from cxi_files import FRAMES, TRANSLATION, write_cxi

H, W = 16, 16


@pytest.fixture
def scan(tmp_path):
    """A far-field CXI scan with a mask, plus a probe file; returns their paths."""
    mask = np.zeros((H, W), np.uint32)
    mask[0, 0] = 1
    cxi = os.fspath(tmp_path / "scan.cxi")
    write_cxi(cxi, n=30, mask=mask, chunks=(4, H, W), compression="gzip", link_data=True)
    probe = os.fspath(tmp_path / "probe.npy")
    np.save(probe, np.ones((H, W), np.complex64))
    return cxi, probe


def _object_shape_from_error(cli, cxi, out):
    """Ask convert which object shape it needs (it names it when refusing)."""
    done = cli("convert", cxi, out)
    words = done.stderr.split("--object-shape ")[1].split()
    return words[0]


def _assert_one_line_error(done, *fragments):
    assert done.returncode == 2
    assert done.stderr.startswith("ptyevidence: error: ")
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr
    for fragment in fragments:
        assert fragment in done.stderr


def test_convert_writes_a_data001_file_that_validates(cli, scan, tmp_path):
    cxi, probe = scan
    out = os.fspath(tmp_path / "out.npz")
    shape = _object_shape_from_error(cli, cxi, out)
    done = cli("convert", cxi, out, "--probe", probe, "--object-shape", shape)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"wrote {out}: 30 frames of 16x16")
    assert "scale = 1/sqrt(" in done.stdout
    assert "1 bad pixels set to 0" in done.stdout
    checked = cli("validate", out)
    assert checked.returncode == 0, checked.stdout
    assert checked.stdout.startswith("no findings\nPASS")
    with np.load(out, allow_pickle=False) as data:
        record = json.loads(str(data["_metadata"]))
    assert record["source"]["hdf5_paths"]["frames"] == FRAMES


def test_convert_without_probe_or_object_explains_what_is_missing(cli, scan, tmp_path):
    cxi, _ = scan
    out = tmp_path / "out.npz"
    done = cli("convert", cxi, os.fspath(out))
    _assert_one_line_error(done, "lacks what a full DATA-001 file needs", "--probe PROBE.npy", "--object-shape")
    assert not out.exists()


def test_convert_near_field_needs_sample_pixel_size(cli, scan, tmp_path):
    cxi, probe = scan
    out = os.fspath(tmp_path / "out.npz")
    done = cli("convert", cxi, out, "--geometry", "near-field", "--probe", probe, "--object-shape", "512x512")
    _assert_one_line_error(done, "--sample-pixel-size")
    done = cli(
        "convert",
        cxi,
        out,
        "--geometry",
        "near-field",
        "--sample-pixel-size",
        "5e-7",
        "--probe",
        probe,
        "--object-shape",
        "512x512",
    )
    assert done.returncode == 0, done.stderr
    assert "given (--sample-pixel-size)" in done.stdout


@pytest.mark.parametrize("value", ["-1e-8", "0", "abc", "inf"])
def test_convert_refuses_non_positive_sample_pixel_size(cli, scan, tmp_path, value):
    cxi, _ = scan
    done = cli("convert", cxi, os.fspath(tmp_path / "o.npz"), f"--sample-pixel-size={value}")
    assert done.returncode == 2
    assert "sample pixel size in metres" in done.stderr
    assert "is not a positive number" in done.stderr


def test_convert_refuses_to_overwrite_without_force(cli, scan, tmp_path):
    cxi, probe = scan
    out = os.fspath(tmp_path / "out.npz")
    args = ("convert", cxi, out, "--probe", probe, "--object-shape", "512x512")
    assert cli(*args).returncode == 0
    _assert_one_line_error(cli(*args), "exists; pass --force")
    assert cli(*args, "--force").returncode == 0


def test_convert_help_describes_the_formulas(cli):
    done = cli("convert", "--help")
    assert done.returncode == 0
    for flag in ("--geometry", "--sample-pixel-size", "--probe", "--object-shape", "--force"):
        assert flag in done.stdout
    assert "wavelength * distance" in " ".join(done.stdout.split())


def _truncate_translation(path):
    with h5py.File(path, "a") as f:
        del f[TRANSLATION]
        f[TRANSLATION] = np.zeros((29, 3))


def _one_d_frames(path):
    with h5py.File(path, "a") as f:
        del f[FRAMES]
        f[FRAMES] = np.arange(30.0)


@pytest.mark.parametrize("command", ["validate", "convert"])
@pytest.mark.parametrize(
    ("damage", "fragment"),
    [
        pytest.param(_truncate_translation, "holds 29 positions but", id="length-mismatch"),
        pytest.param(_one_d_frames, "detector_1/data' has shape (30,)", id="1d-data"),
    ],
)
def test_malformed_cxi_exits_2_naming_the_hdf5_path(cli, tmp_path, command, damage, fragment):
    cxi = os.fspath(tmp_path / "bad.cxi")
    write_cxi(cxi, n=30)
    damage(cxi)
    args = [command, cxi] + ([os.fspath(tmp_path / "o.npz")] if command == "convert" else [])
    _assert_one_line_error(cli(*args), fragment)
    assert not (tmp_path / "o.npz").exists()


def test_validate_cxi_uses_raw_contract_and_fails_data001(cli, scan):
    cxi, _ = scan
    raw = cli("validate", cxi)
    assert raw.returncode == 0, raw.stdout
    assert "against raw" in raw.stdout
    strict = cli("validate", cxi, "--contract", "data001")
    assert strict.returncode == 1
    assert "probeGuess" in strict.stdout


def test_fixture_from_cxi_equals_the_converted_rows(cli, scan, tmp_path):
    cxi, probe = scan
    converted = os.fspath(tmp_path / "full.npz")
    assert cli("convert", cxi, converted, "--probe", probe, "--object-shape", "512x512").returncode == 0
    fixture = os.fspath(tmp_path / "fx.npz")
    done = cli("fixture", "make", "--source", cxi, "--output", fixture, "--subset-size", "16")
    # Written (the cut passes the CXI file's own raw contract), with the verdict validate gives
    # the fixture: DATA-001 FAIL, as a CXI scan has no probe and no object.
    assert done.returncode == 1, done.stderr
    assert "contract  data001: FAIL (2 errors" in done.stdout
    assert "was written, but it fails contract data001" in done.stderr
    assert cli("validate", fixture).returncode == 1
    sidecar = json.loads((tmp_path / "fx.json").read_text())
    idx = sidecar["indices"]
    assert any(step.startswith("scale = 1/sqrt(max count)") for step in sidecar["transformations"])
    with np.load(fixture) as fx, np.load(converted) as full:
        assert fx["diffraction"].dtype == np.float32
        npt.assert_array_equal(fx["diffraction"], full["diffraction"][idx])
        npt.assert_array_equal(fx["xcoords"], full["xcoords"][idx])
        npt.assert_array_equal(fx["ycoords"], full["ycoords"][idx])
    verified = cli("fixture", "verify", fixture, "--source", cxi, "--json")
    assert verified.returncode == 1, verified.stdout
    assert json.loads(verified.stdout)["mismatches"] == ["contract"]


def test_coverage_reads_cxi_positions(cli, scan, tmp_path):
    pytest.importorskip("ptyevidence.commands.coverage", reason="coverage command not present")
    cxi, _ = scan
    done = cli("coverage", cxi)
    assert done.returncode == 0, done.stderr
    as_json = cli("coverage", cxi, "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)
