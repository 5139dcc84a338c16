"""diff_contracts: every change classed breaking or compatible, checked against validation itself.

The oracle: a change is breaking exactly when some dataset that passes OLD
fails NEW. Each case below mutates data001 one way; a small corpus of datasets
(each holding one property a mutation can turn into an error) is validated
against both contracts, and the diff's verdict must agree with what happened.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from conftest import dataset_arrays
from ptyevidence.contract import load_contract, validate_dataset
from ptyevidence.contract.model import contract_from_dict
from ptyevidence.diff import diff_contracts
from ptyevidence.exceptions import InputError


def _corpus() -> dict[str, dict[str, np.ndarray]]:
    base = dataset_arrays(n=20, h=8, w=8)
    corpus = {"base": base}
    corpus["amplitude-7"] = dict(base, diffraction=base["diffraction"] * 7)
    corpus["float32-coords"] = dict(
        base, xcoords=base["xcoords"].astype(np.float32), ycoords=base["ycoords"].astype(np.float32)
    )
    corpus["with-Y"] = dict(base, Y=np.ones((20, 8, 8), np.complex64))
    corpus["no-scan-index"] = {k: v for k, v in base.items() if k != "scan_index"}
    corpus["complex128-probe"] = dict(base, probeGuess=base["probeGuess"].astype(np.complex128))
    corpus["frames-8x12"] = dict(dataset_arrays(n=20, h=8, w=12), probeGuess=np.ones((8, 12), np.complex64))
    return corpus


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("corpus")
    paths = {}
    for name, arrays in _corpus().items():
        paths[name] = str(folder / f"{name}.npz")
        np.savez(paths[name], **arrays)
    return paths


def _data001() -> dict:
    return load_contract("data001").to_dict()


def _field(doc: dict, name: str) -> dict:
    return next(f for f in doc["fields"] if f["name"] == name)


def _rule(doc: dict, rule_id: str) -> dict:
    return next(r for r in doc["rules"] if r["id"] == rule_id)


def _tighter_max(doc):
    _rule(doc, "diffraction-normalized")["value"] = 5.0


def _looser_max(doc):
    _rule(doc, "diffraction-normalized")["value"] = 20.0


def _require_scan_index(doc):
    _field(doc, "scan_index")["required"] = True


def _optional_probe(doc):
    _field(doc, "probeGuess")["required"] = False


def _drop_float32_coords(doc):
    _field(doc, "xcoords")["tolerated_dtypes"] = {}


def _drop_complex128_probe(doc):
    _field(doc, "probeGuess")["tolerated_dtypes"] = {}


def _accept_float64_frames(doc):
    _field(doc, "diffraction").setdefault("tolerated_dtypes", {})["float64"] = "warning"


def _square_frames_not_required(doc):
    doc["dims"]["W"].pop("equals")


def _square_frames_required(doc):
    doc["dims"]["W"]["equals"] = "H"


def _larger_min_frame(doc):
    doc["dims"]["H"]["min"] = 16


def _new_required_field(doc):
    doc["fields"].append({"name": "mask", "role": "mask", "required": True, "dtypes": ["bool"], "shape": ["H", "W"]})


def _new_optional_field(doc):
    doc["fields"].append({"name": "mask", "role": "mask", "required": False, "dtypes": ["bool"], "shape": ["H", "W"]})


def _new_error_rule(doc):
    doc["rules"].append(
        {"id": "coords-small", "check": "max_below", "fields": ["xcoords"], "severity": "error", "value": 15.0}
    )


def _new_warning_rule(doc):
    doc["rules"].append(
        {"id": "coords-small", "check": "max_below", "fields": ["xcoords"], "severity": "warning", "value": 15.0}
    )


def _rule_error_to_warning(doc):
    _rule(doc, "diffraction-normalized")["severity"] = "warning"


def _y_shape_without_alt(doc):
    _field(doc, "Y")["shape"] = ["N", "H", "W", 2]
    _field(doc, "Y").pop("alt_shapes", None)


def _legacy_layout_warning(doc):
    doc["layout"]["legacy_severity"] = "warning"


def _reword(doc):
    doc["title"] = "DATA-001, reworded"
    _field(doc, "xcoords")["description"] = "x position"


def _remove_rule(doc):
    doc["rules"] = [r for r in doc["rules"] if r["id"] != "diffraction-normalized"]


# (mutation, where the diff must report it, breaking?)
MUTATIONS = [
    (_tighter_max, "rule 'diffraction-normalized'", True),
    (_looser_max, "rule 'diffraction-normalized'", False),
    (_require_scan_index, "field 'scan_index'", True),
    (_optional_probe, "field 'probeGuess'", False),
    (_drop_float32_coords, "field 'xcoords'", True),
    (_drop_complex128_probe, "field 'probeGuess'", True),
    (_accept_float64_frames, "field 'diffraction'", False),
    (_larger_min_frame, "dim 'H'", True),
    (_new_required_field, "field 'mask'", True),
    (_new_optional_field, "field 'mask'", False),
    (_new_error_rule, "rule 'coords-small'", True),
    (_new_warning_rule, "rule 'coords-small'", False),
    (_rule_error_to_warning, "rule 'diffraction-normalized'", False),
    (_y_shape_without_alt, "field 'Y'", True),
    (_legacy_layout_warning, "layout", False),
    (_reword, "contract", False),
    (_remove_rule, "rule 'diffraction-normalized'", False),
]


def _passes(path: str, contract) -> bool:
    return validate_dataset(path, contract, layout="canonical", progress=False).ok


@pytest.mark.parametrize(("mutate", "where", "breaking"), MUTATIONS, ids=lambda m: getattr(m, "__name__", None))
def test_each_change_is_classed_as_validation_behaves(datasets, mutate, where, breaking):
    doc = _data001()
    mutate(doc)
    new = contract_from_dict(copy.deepcopy(doc), origin="mutated")
    old = load_contract("data001")
    result = diff_contracts(old, new)
    assert where in {c.where for c in result.changes}, result.to_text()
    assert bool(result.breaking) is breaking, result.to_text()
    broken = [name for name, path in datasets.items() if _passes(path, old) and not _passes(path, new)]
    if breaking:
        assert broken, "no dataset of the corpus shows the break the diff reports"
    else:
        assert broken == [], f"the diff says compatible but {broken} passed data001 and fail the new one"


def test_relaxing_a_dimension_is_compatible_and_the_reverse_breaking(datasets):
    relaxed = _data001()
    _square_frames_not_required(relaxed)
    relaxed_contract = contract_from_dict(relaxed, origin="relaxed")
    assert not diff_contracts("data001", relaxed_contract).breaking
    back = diff_contracts(relaxed_contract, "data001")
    assert [c.change for c in back.breaking] == ["must equal H"]
    assert _passes(datasets["frames-8x12"], relaxed_contract)
    assert not _passes(datasets["frames-8x12"], "data001")


def test_identical_contracts_are_the_same():
    result = diff_contracts("data001", "data001")
    assert result.same
    assert result.changes == []
    assert result.verdict == "SAME: 'data001' and 'data001' do not differ"


def test_builtin_profiles_data001_legacy_raw():
    assert not diff_contracts("data001", "legacy").breaking
    assert not diff_contracts("data001", "raw").breaking
    back = diff_contracts("legacy", "data001")
    where = {c.where for c in back.breaking}
    assert {"field 'diffraction'", "field 'objectGuess'", "layout"} <= where
    assert back.verdict.startswith("BREAKING:")


def test_reports_render_as_text_json_and_markdown():
    result = diff_contracts("legacy", "data001")
    text = result.to_text()
    assert text.splitlines()[0].split() == ["IMPACT", "WHERE", "CHANGE"]
    assert text.splitlines()[1].startswith("breaking")
    data = json.loads(json.dumps(result.to_dict()))
    assert data["breaking"] == len(result.breaking) > 0
    assert "| breaking | field 'objectGuess' | now required |" in result.to_markdown()


def test_an_unknown_contract_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="unknown contract"):
        diff_contracts("data001", "no-such-contract")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(InputError, match="not valid JSON"):
        diff_contracts(str(bad), "data001")
