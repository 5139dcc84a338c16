"""The command line on files ptychodus writes, and on fixtures written for it."""

from __future__ import annotations

import json

import numpy as np
import pytest

import ptychodus_files as pf


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return pf.write_files(tmp_path_factory.mktemp("ptychodus"), pf.scene())


def test_validate_reports_the_drift_of_a_ptychodus_product_and_passes(files, cli):
    done = cli("validate", str(files["product.h5"]))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "version-drift" in done.stdout
    assert "@photon_energy_eV; the spec names @probe_energy_eV" in done.stdout
    assert "PASS" in done.stdout.splitlines()[-1]
    assert "ptychodus-product" in done.stdout


def test_a_diffraction_file_alone_asks_for_its_positions_by_flag(files, cli):
    done = cli("validate", str(files["diffraction.cxi"]))
    assert done.returncode == 2
    assert "--positions-from PRODUCT" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    paired = cli("validate", str(files["diffraction.cxi"]), "--positions-from", str(files["product.h5"]))
    assert paired.returncode == 0, paired.stdout + paired.stderr


def test_a_pair_is_cut_to_a_slac_fixture_that_regenerates(files, cli, tmp_path):
    out = tmp_path / "fx.npz"
    done = cli(
        "fixture",
        "make",
        "--source",
        str(files["diffraction.cxi"]),
        "--positions-from",
        str(files["product.h5"]),
        "--subset-size",
        "16",
        "--format",
        "slac-npz",
        "--output",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["format"] == "slac-npz"
    assert sidecar["positions_from"] == str(files["product.h5"])
    assert sidecar["geometry"]["origin"]["photon_energy_eV"] == "'@photon_energy_eV' of the source"
    assert "--positions-from" in sidecar["regenerate"]
    assert "--format slac-npz" in sidecar["regenerate"]
    again = cli("fixture", "regenerate", str(out.with_suffix(".json")))
    assert again.returncode == 0, again.stdout + again.stderr
    verify = cli("fixture", "verify", str(out))
    assert verify.returncode == 2
    assert "was written as slac-npz" in verify.stderr
    frames = pf.read_frames("SLAC_NPZ", out)
    with np.load(out) as fx:
        assert np.array_equal(frames, np.moveaxis(fx["diffraction"], -1, 0))


def test_convert_and_coverage_take_ptychodus_files(files, cli, tmp_path):
    out = tmp_path / "train.npz"
    done = cli("convert", str(files["training_data.h5"]), str(out))
    assert done.returncode == 0, done.stderr
    assert cli("validate", str(out), "--contract", "data001").returncode == 0
    coverage = cli("coverage", str(files["product.cxi"]))  # read by ptychodus's CXI product plugin
    assert coverage.returncode == 0, coverage.stderr
    assert "24" in coverage.stdout


def test_a_named_plugin_reads_what_it_is_told(files, cli):
    done = cli("validate", str(files["product.npz"]), "--reader", "ptychodus:NPZ", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["format"] == "ptychodus:NPZ"
    assert report["contract"] == "ptychodus-product"
