"""``ptyevidence observe`` against the real PtychoPINN (needs its environment).

Set PTYEVIDENCE_PEER_PYTHON to the interpreter of an environment with
PtychoPINN, TensorFlow and PyTorch. The fixture is the default one:
``demo-data`` cut by ``fixture make --legacy-alias`` (the TF loader reads diff3d).
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from conftest import run_cli
from ptyevidence import load_contract
from ptyevidence.gap.observe import evaluate_run

PEER = os.environ.get("PTYEVIDENCE_PEER_PYTHON")
if not PEER:
    pytest.skip(
        "PTYEVIDENCE_PEER_PYTHON is not set (an interpreter with PtychoPINN runs these)", allow_module_level=True
    )


def _ok(proc):
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


@pytest.fixture(scope="module")
def fixture_path(tmp_path_factory):
    folder = tmp_path_factory.mktemp("peer-fixture")
    _ok(run_cli("demo-data", str(folder / "demo.npz")))
    _ok(
        run_cli(
            "fixture",
            "make",
            "--source",
            str(folder / "demo.npz"),
            "--output",
            str(folder / "fixture.npz"),
            "--legacy-alias",
        )
    )
    return folder / "fixture.npz"


@pytest.fixture(scope="module")
def default_run(fixture_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("peer-run") / "observe"
    proc = _ok(
        run_cli(
            "observe", str(fixture_path), "--python", PEER, "--gridsize", "1,2", "--out", str(out), "--json", "--strict"
        )
    )
    return out, json.loads(proc.stdout)


def _in_bounds_count(path) -> int:
    with np.load(path) as f:
        x, y = f["xcoords"], f["ycoords"]
    inside = np.ones(len(x), bool)
    for v in (x, y):
        lo, hi = v.min() + 0.1 * np.ptp(v), v.min() + 0.9 * np.ptp(v)
        inside &= (v >= lo) & (v <= hi)
    return int(inside.sum())


def test_default_fixture_shows_no_drift_at_gridsize_1_and_2(default_run, fixture_path):
    _, data = default_run
    assert data["ok"] is True, data["drift"]
    assert [g["gridsize"] for g in data["gridsizes"]] == [1, 2]
    n_inside = _in_bounds_count(fixture_path)
    for g in data["gridsizes"]:
        assert g["drift"] == []
        statuses = [c["status"] for cs in g["claims"].values() for c in cs]
        assert statuses.count("holds") >= 25
        assert g["groups"]["tf"] == 48  # nsamples
        assert g["groups"]["torch"] == 7 * n_inside  # n_subsample per in-bounds centre
        # Outer-band positions are in no Torch group.
        assert g["positions"]["torch_used"] == n_inside < g["positions"]["total"]
    assert "the contracts cite the same commit" in data["origin"]


def test_aligned_groups_make_the_raw_diffraction_parity_exact(default_run):
    out, _ = default_run
    report = evaluate_run(out)
    for result in report.results:
        parity = result.matrix.parity.results
        assert parity["diffraction.grouped"].relation == "equal"
        assert parity["nn_indices"].relation == "equal"
        g = result.gridsize
        with np.load(out / f"g{g}" / "tf_aligned.npz") as tf, np.load(out / f"g{g}" / "torch_mmap.npz") as torch:
            assert np.array_equal(np.moveaxis(tf["diffraction"], 3, 1), torch["images"])


def test_rms_ratio_comes_from_the_frames_each_side_averages(default_run, fixture_path):
    out, data = default_run
    with np.load(fixture_path) as f:
        whole = np.mean(np.sum(f["diff3d"].astype(np.float64) ** 2, axis=(1, 2)))
    for g in data["gridsizes"]:
        with np.load(out / f"g{g['gridsize']}" / "tf_aligned.npz") as tf:
            grouped = np.mean(np.sum(tf["diffraction"].astype(np.float64) ** 2, axis=(1, 2)))
        assert g["rms_ratio"] == pytest.approx(2 * np.sqrt(grouped / whole), rel=1e-5)
        assert 2.0 < g["rms_ratio"] < 2.01


def _edited(tmp_path, edit):
    data = load_contract("ptychopinn-torch-mmap").to_dict()
    edit(data)
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_a_wrong_dtype_axis_order_and_missing_field_are_drift(default_run, tmp_path):
    out, _ = default_run

    def edit(data):
        fields = {f["name"]: f for f in data["fields"]}
        fields["coords_global"]["dtypes"] = ["float64"]
        fields["images"]["shape"] = ["L", "H", "W", "C"]
        data["fields"].append(
            {
                "name": "ghost",
                "role": "ghost",
                "dtypes": ["float32"],
                "shape": ["L"],
                "source": ["ptycho_torch/dataloader.py:1"],
            }
        )

    report = evaluate_run(out, {"torch_mmap": _edited(tmp_path, edit)})
    found = {(d.gridsize, d.field, d.check) for d in report.drift}
    for g in (1, 2):
        assert {(g, "coords_global", "dtype"), (g, "ghost", "presence")} <= found
    assert (2, "images", "axes") in found  # at C = 1 (L,H,W,C) still fits (287, 1, 64, 64)
    assert (1, "images", "shape") in found or (1, "images", "axes") in found


@pytest.fixture(scope="module")
def ci_run(fixture_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("peer-ci") / "observe"
    proc = _ok(
        run_cli(
            "observe",
            str(fixture_path),
            "--python",
            PEER,
            "--gridsize",
            "1",
            "--config",
            "nsamples=512",
            "--config",
            "physics_forward_mode=rectangular_scaled",
            "--out",
            str(out),
            "--json",
            "--strict",
        )
    )
    return out, json.loads(proc.stdout)


def test_ci_profile_and_a_capped_group_count_match_the_contracts(ci_run):
    _, data = ci_run
    assert data["ok"] is True, data["drift"]
    g = data["gridsizes"][0]
    assert g["profiles"]["ptychopinn-torch-mmap"] == "ci"
    assert g["groups"]["tf"] == g["positions"]["total"]  # nsamples 512 capped at M, no error
    claims = {c["id"]: c["status"] for c in g["claims"]["ptychopinn-tf-grouped"]}
    assert claims["no-edge-exclusion"] == "holds"
    assert g["rms_ratio"] == pytest.approx(1.0, abs=1e-6)  # CI uses TF's (N/2)^2 over the groups


def test_the_contract_before_the_ci_fix_is_caught(ci_run, tmp_path):
    out, _ = ci_run
    ci_only = {
        "measured_intensity",
        "probe_training",
        "probe_physical",
        "probe_normalization",
        "rms_input_scale",
        "mean_measured_intensity",
    }

    def edit(data):
        # As the contract read before: no profiles, the legacy constants required, no CI fields.
        data.pop("profiles")
        data["fields"] = [f for f in data["fields"] if f["name"] not in ci_only]
        for f in data["fields"]:
            if f["name"] in ("rms_scaling_constant", "physics_scaling_constant"):
                f["required"] = True
        data["observations"] = [
            o
            for o in data["observations"]
            if o.get("field") not in ci_only | {"rms_scaling_constant", "physics_scaling_constant"}
            and "profile" not in o.get("when", "")
        ]

    report = evaluate_run(out, {"torch_mmap": _edited(tmp_path, edit)})
    found = {(d.field, d.check) for d in report.drift}
    assert {("rms_scaling_constant", "presence"), ("physics_scaling_constant", "presence")} <= found
    assert {(name, "undescribed") for name in ci_only - {"measured_intensity"}} <= found
