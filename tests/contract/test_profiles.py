"""The consumer profiles ptychopinn-tf and ptychopinn-torch, without PtychoPINN.

Every rule of a profile cites the PtychoPINN line it states; every case of
``consumer_cases`` (the files the peer tests also give the real loaders)
gets the finding its rule names, for the same reason, and nothing worse.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from conftest import run_cli
from consumer_cases import CASES, TF, TORCH, good_arrays
from ptyevidence.contract import load_contract, validate_dataset

PROFILES = (TF, TORCH)
#: Rules that state a specification, not loader code: no loader behaviour to show.
SPEC_ONLY = {"tf-canvas-fits", "torch-canvas-fits", "torch-scale-pair"}


def _errors(report) -> set[str]:
    return {f.rule for f in report.errors}


@pytest.mark.parametrize("name", PROFILES)
def test_every_rule_cites_a_file_and_line(name):
    contract = load_contract(name)
    assert contract.kind == "dataset"
    assert "712c23f3bb6581ee4300c5572e3817a3d931165e" in contract.description
    for rule in contract.rules:
        assert rule.source, rule.id
        assert all(re.search(r"\.(py|md):\d+", s) for s in rule.source), (rule.id, rule.source)
        assert rule.description, rule.id


@pytest.mark.parametrize("name", PROFILES)
def test_every_rule_has_a_case(name):
    shown = {c.rule for c in CASES if c.profile == name}
    rules = {r.id for r in load_contract(name).rules}
    assert rules - SPEC_ONLY <= shown, sorted(rules - SPEC_ONLY - shown)
    assert shown - rules == {f"{name.split('-')[1]}-good"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.rule)
def test_the_profile_names_the_rule_the_loader_breaks_on(case, tmp_path):
    report = validate_dataset(case.write(str(tmp_path)), case.profile)
    if not case.severity:
        assert report.errors == [], report.to_text()
        assert report.warnings == [], report.to_text()
        return
    mine = [f for f in report.findings if f.rule == case.rule]
    assert mine, report.to_text()
    assert {f.severity for f in mine} == {case.severity}
    # The same reason, and only it: no other error beside the rule's own.
    assert _errors(report) <= {case.rule}, report.to_text()
    # Each finding cites the line its rule states.
    rule = next(r for r in load_contract(case.profile).rules if r.id == case.rule)
    assert all(rule.source[0] in f.message for f in mine), [f.message for f in mine]


def test_the_tf_profile_answers_will_rawdata_load_this(tmp_path):
    """The fixture without diff3d fails with the line that raises KeyError 'diff3d'."""
    arrays = good_arrays(alias=False)
    path = str(tmp_path / "no-diff3d.npz")
    np.savez(path, **arrays)
    done = run_cli("validate", "--contract", TF, path)
    assert done.returncode == 1
    line = next(row for row in done.stdout.splitlines() if "tf-requires-diff3d" in row)
    assert "required key 'diff3d' is missing" in line
    assert "ptycho/raw_data.py:326" in line
    assert done.stdout.strip().endswith("against ptychopinn-tf: 1 error(s), 0 warning(s)")


def test_torch_profile_takes_its_probe_layouts(tmp_path):
    """(N, N), (N, N, 1) and (P, N, N) load in PtychoDataset (dataloader.py:272-277); TF wants 2-D."""
    probe = good_arrays()["probeGuess"]
    for layout in (probe, probe[..., None], np.stack([probe, 0.5 * probe, 0.25 * probe])):
        arrays = good_arrays()
        arrays["probeGuess"] = np.ascontiguousarray(layout)
        path = str(tmp_path / f"probe{layout.ndim}{layout.shape[0]}.npz")
        np.savez(path, **arrays)
        assert validate_dataset(path, TORCH).ok
        assert _errors(validate_dataset(path, TF)) <= ({"tf-probe-2d"} if layout.ndim == 3 else set())


def test_the_scale_pair_is_checked_when_present(tmp_path):
    import json

    cases = {
        "ci_intensity_v2/count_intensity": (
            {"scale_contract_version": "ci_intensity_v2", "measurement_domain": "count_intensity"},
            True,
        ),
        "one-sided": ({"scale_contract_version": "legacy_v1"}, False),
        "contradictory": ({"scale_contract_version": "legacy_v1", "measurement_domain": "count_intensity"}, False),
    }
    for name, (pair, ok) in cases.items():
        arrays = good_arrays()
        arrays["_metadata"] = np.array(json.dumps({"physics_parameters": pair}))
        path = str(tmp_path / f"{name.replace('/', '-')}.npz")
        np.savez(path, **arrays)
        for contract in (TORCH, "data001"):
            report = validate_dataset(path, contract)
            rule = "torch-scale-pair" if contract == TORCH else "scale-pair"
            assert (rule in _errors(report)) is not ok, (name, contract, report.to_text())


def test_a_canvas_too_small_for_the_scan_is_a_warning(tmp_path):
    arrays = good_arrays()
    arrays["objectGuess"] = np.ones((80, 80), np.complex64)  # the frames span 64 + 27 px
    path = str(tmp_path / "small-object.npz")
    np.savez(path, **arrays)
    for contract, rule in ((TF, "tf-canvas-fits"), (TORCH, "torch-canvas-fits"), ("data001", "object-canvas-fits")):
        report = validate_dataset(path, contract)
        assert [f.severity for f in report.findings if f.rule == rule] == ["warning"], contract
