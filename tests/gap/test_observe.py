"""Judging observe runs: drift from bindings, profiles and claims, on synthetic run folders."""

from __future__ import annotations

import json

import numpy as np
import pytest
from numpy.testing import assert_allclose

from _observe_runs import write_run
from ptyevidence import InputError, load_contract
from ptyevidence.gap import bind_dump
from ptyevidence.gap.observe import evaluate_run, load_run


def _run(tmp_path, name="run", **kw):
    return evaluate_run(write_run(tmp_path / name, **kw))


def _drift(report):
    return {(d.contract, d.field, d.check) for d in report.drift}


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("clean"))


def test_a_run_that_follows_the_contracts_shows_no_drift(clean):
    assert clean.ok
    assert [r.gridsize for r in clean.results] == [1, 2]
    for result in clean.results:
        tested = [c for cs in result.claims.values() for c in cs if c.status == "holds"]
        assert len(tested) > 20
        assert result.profiles["ptychopinn-torch-mmap"] == "amplitude"


def test_grouped_tensors_are_compared_on_the_same_groups(clean):
    for result in clean.results:
        parity = result.matrix.parity.results
        assert parity["diffraction.grouped"].relation == "equal"
        assert parity["nn_indices"].relation == "equal"
        assert result.groups["aligned"] == result.groups["torch"] != result.groups["tf"]


def test_rms_ratio_is_twice_the_square_root_of_the_energy_ratio(tmp_path):
    run = write_run(tmp_path / "run")
    report = evaluate_run(run)
    for result in report.results:
        g = result.gridsize
        with np.load(tmp_path / "run" / f"g{g}" / "tf_aligned.npz") as tf, np.load(tmp_path / "fixture.npz") as fixture:
            grouped = np.mean(np.sum(tf["diffraction"].astype(np.float64) ** 2, axis=(1, 2)))
            whole = np.mean(np.sum(fixture["diffraction"].astype(np.float64) ** 2, axis=(1, 2)))
        # Torch: sqrt(N^2 / E_file); TF: sqrt((N/2)^2 / E_groups).
        assert_allclose(result.rms_ratio, 2 * np.sqrt(grouped / whole), rtol=1e-5)
        assert result.rms_ratio != pytest.approx(2.0, abs=1e-4)


def test_torch_edge_exclusion_leaves_positions_out_of_every_group(clean):
    result = clean.results[0]
    assert result.positions["torch_used"] < result.positions["total"]


@pytest.mark.parametrize(
    ("pipeline", "change", "expected"),
    [
        (
            "torch_mmap",
            lambda a: a.update(coords_relative=a["coords_relative"].astype(np.float64)),
            ("ptychopinn-torch-mmap", "coords_relative", "dtype"),
        ),
        (
            "torch_mmap",
            lambda a: a.update(images=np.ascontiguousarray(np.moveaxis(a["images"], 1, 3))),
            ("ptychopinn-torch-mmap", "images", "axes"),
        ),
        ("torch_mmap", lambda a: a.pop("probe_scaling"), ("ptychopinn-torch-mmap", "probe_scaling", "presence")),
        (
            "torch_mmap",
            lambda a: a.update(extra_statistic=np.zeros(3, np.float32)),
            ("ptychopinn-torch-mmap", "extra_statistic", "undescribed"),
        ),
        (
            "tf_grouped",
            lambda a: a.update(coords_nn=a["coords_nn"][:, :, :1]),
            ("ptychopinn-tf-grouped", "coords_nn", "shape"),
        ),
        ("tf_grouped", lambda a: a.pop("nn_indices"), ("ptychopinn-tf-grouped", "nn_indices", "presence")),
        ("tf_container", lambda a: a.pop("X"), ("ptychopinn-tf-container", "X", "presence")),
    ],
    ids=["dtype", "axis-order", "missing-required", "undescribed-key", "shape", "tf-missing", "container"],
)
def test_each_contract_violation_in_a_dump_is_one_drift_item(tmp_path, pipeline, change, expected):
    def mutate(g, dumps):
        change(dumps[pipeline]["arrays"])
        dumps[pipeline]["frameworks"] = {
            k: "torch" if pipeline == "torch_mmap" else "numpy" for k in dumps[pipeline]["arrays"]
        }
        if pipeline == "torch_mmap":
            dumps[pipeline]["frameworks"].update(objectGuess="numpy", diffraction="numpy")
        if pipeline == "tf_grouped":
            dumps[pipeline]["frameworks"]["Y"] = "tensorflow"
        if pipeline == "tf_container":
            dumps[pipeline]["frameworks"] = {
                k: "numpy" if k in ("global_offsets", "local_offsets", "nn_indices") else "tensorflow"
                for k in dumps[pipeline]["arrays"]
            }

    report = _run(tmp_path, gridsizes=(2,), mutate=mutate)
    assert expected in _drift(report)
    item = next(d for d in report.drift if (d.contract, d.field, d.check) == expected)
    assert item.gridsize == 2
    if expected[2] != "undescribed":
        assert item.source, "drift names the upstream file:line of the claim"


def test_axis_order_drift_names_the_permutation(tmp_path):
    def mutate(g, dumps):
        dumps["torch_mmap"]["arrays"]["images"] = np.ascontiguousarray(
            np.moveaxis(dumps["torch_mmap"]["arrays"]["images"], 1, 3)
        )

    report = _run(tmp_path, gridsizes=(2,), mutate=mutate)
    item = next(d for d in report.drift if d.field == "images" and d.check == "axes")
    assert item.claim == "(L,C,H,W)"
    assert "permute(0,3,1,2)" in item.observed


def test_a_value_held_by_another_framework_is_drift(tmp_path):
    def mutate(g, dumps):
        dumps["tf_grouped"]["frameworks"]["X_full"] = "tensorflow"

    report = _run(tmp_path, gridsizes=(1,), mutate=mutate)
    item = next(d for d in report.drift if d.check == "framework")
    assert (item.field, item.claim) == ("X_full", "numpy")
    assert item.observed == "tensorflow ('X_full')"


@pytest.mark.parametrize(
    ("change", "claim"),
    [
        (
            lambda d: d["torch_mmap"]["arrays"].update(coords_relative=-d["torch_mmap"]["arrays"]["coords_relative"]),
            "claim relative-sign",
        ),
        (
            lambda d: d["torch_mmap"]["arrays"].update(label_amp=d["torch_mmap"]["arrays"]["label_amp"] + 1),
            "claim labels-zero",
        ),
        (
            lambda d: d["torch_mmap"]["arrays"].update(
                rms_scaling_constant=d["torch_mmap"]["arrays"]["rms_scaling_constant"] / 2
            ),
            "claim rms-formula",
        ),
        (
            lambda d: d["tf_grouped"]["arrays"].update(X_full=d["tf_grouped"]["arrays"]["X_full"] * 2),
            "claim rms-formula",
        ),
        (
            lambda d: d["torch_mmap"]["arrays"].update(
                center_scan_id=np.zeros_like(d["torch_mmap"]["arrays"]["center_scan_id"])
            ),
            "claim centres-in-bounds",
        ),
    ],
    ids=["sign", "labels", "torch-rms", "tf-rms", "centres"],
)
def test_values_that_contradict_a_claim_are_drift(tmp_path, change, claim):
    report = _run(tmp_path, gridsizes=(2,), mutate=lambda g, d: change(d))
    assert claim in {d.check for d in report.drift}
    item = next(d for d in report.drift if d.check == claim)
    assert item.source
    assert item.observed


def test_group_counts_and_member_bounds_are_checked(tmp_path):
    def mutate(g, dumps):
        arrays = dumps["torch_mmap"]["arrays"]
        for key, value in list(arrays.items()):
            if key not in ("objectGuess", "diffraction"):
                arrays[key] = value[:-7]  # one centre fewer
        arrays["nn_indices"] = arrays["nn_indices"].copy()
        arrays["nn_indices"][0, 0] = 0  # position 0 lies in the outer band

    report = _run(tmp_path, gridsizes=(2,), mutate=mutate)
    checks = {d.check: d for d in report.drift}
    assert "245 (expected 252)" in checks["claim group-count"].observed
    assert "outside the expected set: 0" in checks["claim members-in-bounds"].observed


def test_tf_group_count_is_capped_at_the_positions(tmp_path):
    report = _run(tmp_path, gridsizes=(1,), nsamples=64)
    claims = {c.claim.id: c for c in report.results[0].claims["ptychopinn-tf-grouped"]}
    assert claims["group-count"].status == "holds"
    assert claims["no-edge-exclusion"].status == "holds"


def test_ci_profile_swaps_the_scale_fields(tmp_path):
    report = _run(tmp_path, ci=True)
    assert report.ok, report.to_text()
    for result in report.results:
        assert result.profiles["ptychopinn-torch-mmap"] == "ci"
        assert result.matrix.row("scale.rms").right_primary.name == "rms_input_scale"
        # The CI scale uses TF's (N/2)^2 over the grouped frames: the same number on aligned groups.
        assert result.matrix.parity.results["scale.rms"].relation in ("equal", "allclose")


def test_ci_profile_requires_its_fields_and_rules_out_the_legacy_ones(tmp_path):
    def mutate(g, dumps):
        arrays = dumps["torch_mmap"]["arrays"]
        arrays.pop("measured_intensity")
        arrays["rms_scaling_constant"] = arrays["rms_input_scale"]
        dumps["torch_mmap"]["frameworks"] = {k: "torch" for k in arrays}
        dumps["torch_mmap"]["frameworks"].update(objectGuess="numpy", diffraction="numpy")

    report = _run(tmp_path, gridsizes=(1,), ci=True, mutate=mutate)
    items = {d.field: d for d in report.drift if d.check == "presence"}
    assert items["measured_intensity"].claim.startswith("required under profile 'ci'")
    assert items["rms_scaling_constant"].claim == "absent under profile 'ci'"
    assert "ptycho_torch/dataloader.py:907-925" in items["rms_scaling_constant"].source


def _edited(tmp_path, name, edit):
    data = load_contract(name).to_dict()
    edit(data)
    path = tmp_path / f"{name}-edited.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_an_edited_contract_is_caught_as_drift_without_rerunning(tmp_path):
    run = write_run(tmp_path / "run", gridsizes=(2,))

    def edit(data):
        fields = {f["name"]: f for f in data["fields"]}
        fields["coords_global"]["dtypes"] = ["float64"]
        fields["images"]["shape"] = ["L", "H", "W", "C"]
        data["fields"].append({"name": "ghost", "role": "ghost", "dtypes": ["float32"], "shape": ["L"]})

    report = evaluate_run(run, {"torch_mmap": _edited(tmp_path, "ptychopinn-torch-mmap", edit)})
    found = _drift(report)
    assert ("ptychopinn-torch-mmap", "coords_global", "dtype") in found
    assert ("ptychopinn-torch-mmap", "images", "axes") in found
    assert ("ptychopinn-torch-mmap", "ghost", "presence") in found
    assert evaluate_run(run).ok


def test_a_claim_naming_something_the_run_lacks_is_drift(tmp_path):
    run = write_run(tmp_path / "run", gridsizes=(1,))

    def edit(data):
        data["observations"].append(
            {
                "id": "wrong-home",
                "role": "probe.normalization",
                "check": "equal",
                "of": "defaults.TrainingConfig.probe_scale",
                "expect": "4.0",
            }
        )

    report = evaluate_run(run, {"tf_grouped": _edited(tmp_path, "ptychopinn-tf-grouped", edit)})
    item = next(d for d in report.drift if d.check == "claim wrong-home")
    assert "defaults.TrainingConfig.probe_scale" in item.observed


def test_a_missing_required_field_is_a_warning_of_the_binding():
    bound = bind_dump({"nn_indices": np.zeros((4, 1), np.int64)}, "ptychopinn-torch-mmap")
    missing = {f.field: f.severity for f in bound.findings if f.rule == "missing"}
    assert missing["images"] == "warning"
    assert missing["center_scan_id"] == "info"  # optional


def test_report_renderings_carry_setup_matrix_and_drift(tmp_path):
    def mutate(g, dumps):
        dumps["torch_mmap"]["arrays"]["extra_statistic"] = np.zeros(3, np.float32)
        dumps["torch_mmap"]["frameworks"]["extra_statistic"] = "torch"

    report = _run(tmp_path, mutate=mutate)
    text = report.to_markdown()
    assert text.startswith("# Observed gap matrix: PtychoPINN on ")
    assert "the contracts cite the same commit (712c23f3bb65)" in text
    assert "## Gridsize 1" in text
    assert "## Gridsize 2" in text
    assert "| Parity on aligned groups |" in text
    assert "`extra_statistic`" in text.split("### Drift at gridsize 1")[1]
    data = json.loads(report.to_json())
    assert data["ok"] is False
    assert {d["check"] for d in data["drift"]} == {"undescribed"}
    assert data["gridsizes"][0]["rows"][0]["left"]["claim"]
    assert "contract drift (2):" in report.to_text()


def test_a_different_upstream_commit_is_named(tmp_path):
    report = _run(tmp_path, gridsizes=(1,), version="1.2.0+deadbeef1")
    assert "this is deadbeef1: their file:line citations may point elsewhere" in report.origin_note()


def test_a_folder_without_a_run_record_is_refused(tmp_path):
    with pytest.raises(InputError, match="not an observe output folder"):
        load_run(tmp_path)


def test_a_run_record_out_of_bounds_is_refused_naming_the_key(tmp_path):
    (tmp_path / "run.json").write_text('{"gridsizes": [1], "config": {"scale": NaN}}', encoding="utf-8")
    with pytest.raises(
        InputError,
        match=r"run record '.*run\.json': config\.scale is the non-standard "
        r"literal NaN",
    ):
        load_run(tmp_path)
