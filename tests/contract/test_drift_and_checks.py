"""Contract machinery the ptychodus contracts use: version drift, index ranges, offsets, uniqueness."""

from __future__ import annotations

import numpy as np
import pytest

from ptyevidence.contract.binding import bind
from ptyevidence.contract.model import contract_from_dict, load_contract
from ptyevidence.contract.validate import validate_dataset
from ptyevidence.exceptions import InputError
from ptyevidence.readers import ArraySource


def contract(**extra):
    data = {
        "name": "demo",
        "dims": {"N": {"min": 1}, "K": {"min": 1}, "L": {"min": 1}, "Ls": {"min": 0, "equals": "L", "offset": -1}},
        "fields": [
            {
                "name": "@energy_eV",
                "dtypes": ["float64"],
                "shape": [],
                "source": ["spec §3"],
                "aliases": {"@photon_eV": {"severity": "warning", "written_by": "tool 2.0"}, "@e": "info"},
            },
            {"name": "index", "dtypes": ["int64"], "shape": ["N"]},
            {"name": "weights", "dtypes": ["float64"], "shape": ["K", 2], "required": False},
            {"name": "layers", "dtypes": ["float64"], "shape": ["L", 3], "required": False},
            {"name": "spacing", "dtypes": ["float64"], "shape": ["Ls"], "required": False},
        ],
        "rules": [
            {
                "id": "in-k",
                "check": "index_range",
                "dim": "K",
                "value": 1,
                "fields": ["index"],
                "description": "one of K entries",
            },
            {"id": "unique", "check": "unique", "fields": ["index"], "severity": "warning"},
            {"id": "positive", "check": "positive", "fields": ["@energy_eV"]},
            {"id": "small", "check": "max_abs_below", "value": 100.0, "fields": ["@energy_eV"]},
        ],
        **extra,
    }
    return contract_from_dict(data)


def findings(arrays, spec=None):
    report = bind(spec or contract(), ArraySource(arrays, "f.h5"))
    return {(f.rule, f.field): f for f in report.findings}


def test_an_alias_written_by_a_known_writer_is_named_version_drift():
    found = findings({"@photon_eV": np.array(5.0), "index": np.zeros(3, np.int64)})
    drift = found[("version-drift", "@energy_eV")]
    assert drift.severity == "warning"
    assert drift.message == "written by tool 2.0: @photon_eV; the spec names @energy_eV (spec §3)"
    plain = findings({"@e": np.array(5.0), "index": np.zeros(3, np.int64)})
    assert plain[("alias", "@energy_eV")].severity == "info"


def test_the_writer_of_an_alias_survives_the_json_round_trip():
    spec = contract()
    again = contract_from_dict(spec.to_dict())
    assert again.field_named("@energy_eV").written_by == {"@photon_eV": "tool 2.0"}
    assert again.field_named("@energy_eV").aliases == {"@photon_eV": "warning", "@e": "info"}


def test_a_dimension_offset_ties_layer_spacings_to_layers():
    base = {"@energy_eV": np.array(5.0), "index": np.zeros(3, np.int64), "layers": np.zeros((3, 3))}
    assert ("dims", "spacing") not in findings({**base, "spacing": np.zeros(2)})
    bad = findings({**base, "spacing": np.zeros(3)})[("dims", "spacing")]
    assert "Ls = 3 (key 'spacing') differs from L - 1 = 2 (key 'layers')" in bad.message


def test_an_offset_without_equals_is_refused():
    with pytest.raises(InputError, match="offset"):
        contract(dims={"A": {"offset": 1}})


def write(tmp_path, **arrays):
    path = str(tmp_path / "f.npz")
    np.savez(path, **arrays)
    return path


def test_index_ranges_use_the_bound_dimension_or_the_fallback(tmp_path):
    spec = contract()
    one = validate_dataset(write(tmp_path, **{"@energy_eV": 5.0, "index": np.arange(3)}), spec)
    hit = [f for f in one.findings if f.rule == "in-k"]
    assert hit
    assert "leave [0, 0] (K not in the file, taken as 1): one of K entries" in hit[0].message
    bound = validate_dataset(
        write(tmp_path, **{"@energy_eV": 5.0, "index": np.arange(3), "weights": np.ones((3, 2))}), spec
    )
    assert not [f for f in bound.findings if f.rule == "in-k"]


def test_unique_positive_and_magnitude_checks(tmp_path):
    report = validate_dataset(
        write(tmp_path, **{"@energy_eV": -500.0, "index": np.array([0, 0, 1]), "weights": np.ones((3, 2))}), contract()
    )
    rules = {f.rule: f.message for f in report.findings}
    assert rules["unique"] == "key 'index': 1 of 3 values repeat an earlier one"
    assert "not positive" in rules["positive"]
    assert "largest magnitude 500 is not below 100" in rules["small"]


def test_every_field_and_rule_of_the_product_contract_cites_the_spec_or_ptychodus():
    spec = load_contract("ptychodus-product")
    uncited = [f.name for f in spec.fields if not any("spec §" in s or "api/io.py" in s for s in f.source)]
    assert uncited == []
    assert [r.id for r in spec.rules if "§" not in r.description and "api/" not in r.description] == []
