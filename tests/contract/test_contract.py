"""Contracts as data: built-ins match the reference facts, user files are checked."""

from __future__ import annotations

import copy
import json
import os

import numpy as np
import pytest

from ptyevidence.contract.model import (
    DatasetContract,
    contract_from_dict,
    list_contracts,
    load_contract,
)
from ptyevidence.contract.render import contract_markdown
from ptyevidence.exceptions import InputError

DATASET_BUILTINS = ["data001", "legacy"]


def _rule(contract: DatasetContract, rule_id: str):
    return next(r for r in contract.rules if r.id == rule_id)


def _data001_dict() -> dict:
    return copy.deepcopy(load_contract("data001").to_dict())


# -- built-ins against the reference (DATA-001 key table and normalization rules) ------

# (contract, rule id, check, threshold, severity); thresholds from the PtychoPINN
# example check: max < 10, min >= 0, max/mean < 100.
REFERENCE_RULES = [
    ("data001", "diffraction-finite", "finite", None, "error"),
    ("data001", "diffraction-nonnegative", "min_at_least", 0.0, "error"),
    ("data001", "diffraction-normalized", "max_below", 10.0, "error"),
    ("data001", "diffraction-not-intensity", "max_mean_ratio_below", 100.0, "warning"),
    ("data001", "diffraction-not-empty", "not_all_zero", None, "error"),
    ("data001", "positions-spread", "positions_not_all_identical", None, "error"),
    ("data001", "positions-unique", "positions_unique", None, "warning"),
    ("legacy", "diffraction-nonnegative", "min_at_least", 0.0, "error"),
    ("legacy", "diffraction-normalized", "max_below", 10.0, "warning"),
    ("legacy", "diffraction-not-intensity", "max_mean_ratio_below", 100.0, "warning"),
]


@pytest.mark.parametrize(
    ("name", "rule_id", "check", "value", "severity"),
    REFERENCE_RULES,
    ids=[f"{r[0]}-{r[1]}" for r in REFERENCE_RULES],
)
def test_builtin_rules_carry_reference_thresholds(name, rule_id, check, value, severity):
    """Each value rule has the reference's threshold and the profile's severity."""
    rule = _rule(load_contract(name), rule_id)
    assert rule.check == check
    assert rule.severity == severity
    assert rule.value == value


# (field, canonical dtype, symbolic shape, required under data001)
REFERENCE_FIELDS = [
    ("diffraction", "float32", ("N", "H", "W"), True),
    ("objectGuess", "complex64", ("M1", "M2"), True),
    ("probeGuess", "complex64", ("H", "W"), True),
    ("xcoords", "float64", ("N",), True),
    ("ycoords", "float64", ("N",), True),
    ("xcoords_start", "float64", ("N",), False),
    ("ycoords_start", "float64", ("N",), False),
    ("scan_index", "int64", ("N",), False),
    ("Y", "complex64", ("N", "H", "W"), False),
]


@pytest.mark.parametrize(("name", "dtype", "shape", "required"), REFERENCE_FIELDS, ids=[f[0] for f in REFERENCE_FIELDS])
def test_data001_fields_match_the_key_table(name, dtype, shape, required):
    """Field dtype, symbolic shape and presence follow the DATA-001 key table."""
    spec = load_contract("data001").field_named(name)
    assert spec.dtypes[0] == dtype
    assert spec.shape == shape
    assert spec.required is required


def test_data001_requires_float32_diffraction_legacy_tolerates_others():
    """The reference check asserts float32; only the legacy profile accepts other dtypes."""
    strict = load_contract("data001").field_named("diffraction")
    tolerant = load_contract("legacy").field_named("diffraction")
    assert strict.dtype_severity(np.dtype(np.float32)) is None
    assert strict.dtype_severity(np.dtype(">f4")) is None  # byte order is not a dtype change
    for other in (np.float64, np.uint16, np.int32):
        assert strict.dtype_severity(np.dtype(other)) == "error"
        assert tolerant.dtype_severity(np.dtype(other)) == "warning"
    assert tolerant.dtype_severity(np.dtype(np.float16)) == "error"


def test_legacy_profile_downgrades_the_legacy_forms_to_warnings():
    """diff3d, (H, W, N) order, (H, W, 1) probe and 4-D Y: errors in data001, warnings in legacy."""
    strict, tolerant = load_contract("data001"), load_contract("legacy")
    assert strict.field_named("diff3d").aliases == {"diff3d": "error"}
    assert tolerant.field_named("diff3d").aliases == {"diff3d": "warning"}
    assert strict.layout["legacy_severity"] == "error"
    assert tolerant.layout["legacy_severity"] == "warning"
    assert tolerant.field_named("probeGuess").alt_shapes == ((("H", "W", 1), "warning"),)
    assert tolerant.field_named("Y").alt_shapes == ((("N", "H", "W", 1), "warning"),)
    assert strict.field_named("probeGuess").alt_shapes == ()
    assert strict.field_named("Y").alt_shapes == ()
    assert not tolerant.field_named("objectGuess").required


def test_object_must_be_at_least_one_frame():
    """M1 >= H and M2 >= W: the object cannot be smaller than a diffraction frame."""
    dims = load_contract("data001").dims
    assert dims["M1"]["min"] == "H"
    assert dims["M2"]["min"] == "W"


def test_list_contracts_names_the_dataset_builtins():
    """Both dataset profiles are listed under kind 'dataset'."""
    names = list_contracts("dataset")
    assert set(DATASET_BUILTINS) <= set(names)
    assert all(load_contract(n).kind == "dataset" for n in names)


def test_field_named_resolves_aliases():
    """A field is found by its name or by an alias; unknown names give None."""
    contract = load_contract("data001")
    assert contract.field_named("diff3d").name == "diffraction"
    assert contract.field_named("probeGuess").name == "probeGuess"
    assert contract.field_named("nothing") is None


@pytest.mark.parametrize("name", DATASET_BUILTINS)
def test_to_dict_round_trips_through_contract_from_dict(name):
    """to_dict() -> JSON text -> contract_from_dict() gives an equal contract."""
    contract = load_contract(name)
    text = json.dumps(contract.to_dict())
    again = contract_from_dict(json.loads(text), origin=contract.origin)
    assert again == contract


# -- user contract files ----------------------------------------------------------------


def _write(tmp_path, name: str, text: str) -> str:
    path = os.path.join(tmp_path, name)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path


def test_user_contract_loads_by_path(tmp_path):
    """A JSON file passed by path is loaded, and its origin is that path."""
    data = _data001_dict()
    data["name"] = "beamline-x"
    _rule_dict = next(r for r in data["rules"] if r["id"] == "diffraction-normalized")
    _rule_dict["value"] = 1000.0
    path = _write(tmp_path, "mine.json", json.dumps(data))
    contract = load_contract(path)
    assert contract.name == "beamline-x"
    assert contract.origin == path
    assert _rule(contract, "diffraction-normalized").value == 1000.0


def test_user_contract_without_json_suffix_loads_by_path(tmp_path):
    """A path containing a folder separator is a file even without a .json suffix."""
    path = _write(tmp_path, "contract.txt", json.dumps(_data001_dict()))
    assert load_contract(path).name == "data001"


def test_contract_object_is_returned_unchanged():
    """load_contract(contract) is the identity."""
    contract = load_contract("legacy")
    assert load_contract(contract) is contract


def test_json_syntax_error_names_line_and_column(tmp_path):
    """A JSON syntax error is reported with the file, line and column json finds."""
    text = '{\n  "name": "x",\n  "fields": [\n    {"name": "a",}\n  ]\n}\n'
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        line, column = exc.lineno, exc.colno
    path = _write(tmp_path, "broken.json", text)
    with pytest.raises(InputError, match=rf"broken\.json.*line {line} column {column}"):
        load_contract(path)


def test_unknown_builtin_name_lists_the_builtins():
    """An unknown name says which built-ins exist."""
    with pytest.raises(InputError, match="unknown contract 'data002'.*data001.*legacy"):
        load_contract("data002")


def test_missing_contract_file_is_named(tmp_path):
    """A .json path that does not exist is reported as such."""
    path = os.path.join(tmp_path, "absent.json")
    with pytest.raises(InputError, match="absent.json' does not exist"):
        load_contract(path)


def test_non_utf8_contract_file_is_refused(tmp_path):
    """Bytes that are not UTF-8 give an InputError, not a decode crash."""
    path = os.path.join(tmp_path, "latin1.json")
    with open(path, "wb") as fh:
        fh.write('{"name": "caf\u00e9"}'.encode("latin-1"))
    with pytest.raises(InputError, match="cannot be read"):
        load_contract(path)


def _set(path: list, value):
    """Return a mutation of the data001 dict: set the entry at ``path`` to ``value``."""

    def mutate(data):
        target = data
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return mutate


def _drop(path: list):
    def mutate(data):
        target = data
        for step in path[:-1]:
            target = target[step]
        del target[path[-1]]

    return mutate


def _set_param(check: str, key: str, value):
    """Return a mutation of the data001 dict: set param ``key`` of its ``check`` rule to ``value``."""

    def mutate(data):
        rule = next(r for r in data["rules"] if r["check"] == check)
        rule["params"][key] = value

    return mutate


# (id, mutation of the data001 dict, words the message must contain)
BAD_CONTRACTS = [
    ("unknown-dtype", _set(["fields", 0, "dtypes"], ["float33"]), "unknown dtype 'float33'"),
    (
        "unknown-tolerated-dtype",
        _set(["fields", 2, "tolerated_dtypes"], {"complex7": "warning"}),
        "field 'objectGuess' lists unknown dtype 'complex7'",
    ),
    ("dtype-not-a-string", _set(["fields", 0, "dtypes"], [None]), "lists dtype None"),
    ("unknown-check", _set(["rules", 0, "check"], "is_pretty"), "unknown check 'is_pretty'"),
    ("unknown-severity", _set(["rules", 0, "severity"], "fatal"), "severity 'fatal'"),
    ("unknown-field-severity", _set(["fields", 0, "aliases"], {"diff3d": "loud"}), "severity 'loud'"),
    ("rule-names-unknown-field", _set(["rules", 0, "fields"], ["difraction"]), "unknown field\\(s\\) difraction"),
    ("threshold-not-numeric", _set(["rules", 2, "value"], "ten"), "needs a numeric 'value'"),
    ("missing-name", _drop(["name"]), "missing required entry 'name'"),
    ("missing-fields", _drop(["fields"]), "missing required entry 'fields'"),
    ("empty-fields", _set(["fields"], []), "non-empty list"),
    ("field-without-name", _drop(["fields", 0, "name"]), "field #1 must be an object"),
    ("duplicate-field", _set(["fields", 1, "name"], "diffraction"), "field names repeat"),
    ("shape-not-a-list", _set(["fields", 0, "shape"], "N,H,W"), "shape must be a list"),
    ("bad-kind", _set(["kind"], "table"), "kind 'table'"),
    ("layout-unknown-field", _set(["layout", "field"], "frames"), "'layout' must be an object"),
    ("layout-missing-legacy", _drop(["layout", "legacy"]), "layout is missing 'legacy'"),
    ("dim-min-unknown", _set(["dims", "M1", "min"], "Q"), "dimension 'M1' has min 'Q'"),
    ("dim-not-an-object", _set(["dims", "N"], 5), "dimension 'N' must be an object"),
    ("dim-equals-unknown", _set(["dims", "W", "equals"], "Q"), "dimension 'W' equals 'Q'"),
    ("tolerated-as-list", _set(["fields", 0, "tolerated_dtypes"], ["float64"]), "wrong type"),
    ("aliases-as-list", _set(["fields", 0, "aliases"], ["diff3d"]), "wrong type"),
    ("rules-as-number", _set(["rules"], 5), "wrong type"),
    ("alt-shape-as-list", _set(["fields", 2, "alt_shapes"], [["H", "W", 1]]), "wrong type"),
    ("top-level-list", lambda data: data.clear(), "missing required entry"),
    ("layout-note-not-text", _set(["layout", "note"], 7), "layout 'note' must be text"),
    (
        "param-not-a-number",
        _set_param("counting_lattice", "fraction", "most"),
        "rule 'diffraction-not-counts' \\(check counting_lattice\\): param 'fraction' must be a number",
    ),
    ("param-bool-not-a-number", _set_param("peak_centred", "ratio", True), "param 'ratio' must be a number"),
    (
        "param-pairs-not-names",
        _set_param("scale_pair", "pairs", [[1, 2]]),
        "param 'pairs' must be a list of lists of names",
    ),
]


@pytest.mark.parametrize(("mutate", "words"), [pytest.param(m, w, id=i) for i, m, w in BAD_CONTRACTS])
def test_bad_contract_file_names_the_entry(tmp_path, mutate, words):
    """Each defect in a contract file is one InputError naming the file and the entry."""
    data = _data001_dict()
    mutate(data)
    path = _write(tmp_path, "bad.json", json.dumps(data))
    with pytest.raises(InputError, match=words) as excinfo:
        load_contract(path)
    assert "bad.json" in str(excinfo.value)


def test_top_level_must_be_an_object(tmp_path):
    """A JSON array is not a contract."""
    path = _write(tmp_path, "list.json", "[1, 2]")
    with pytest.raises(InputError, match="top level must be a JSON object"):
        load_contract(path)


def test_dtype_spellings_are_normalized():
    """'f4', '<f4' and 'float' mean float32, float32 and float64 like numpy says."""
    data = _data001_dict()
    data["fields"][0]["dtypes"] = ["f4", "<f8"]
    data["fields"][3]["tolerated_dtypes"] = {"float": "info"}
    contract = contract_from_dict(data)
    diffraction = contract.field_named("diffraction")
    assert diffraction.dtypes == ("float32", "float64")
    assert diffraction.dtype_severity(np.dtype(">f8")) is None
    assert contract.field_named("xcoords").tolerated_dtypes == {"float64": "info"}


def test_any_dtype_accepts_everything():
    """A field listing 'any' accepts every dtype, structured ones included."""
    data = _data001_dict()
    data["fields"][0]["dtypes"] = ["any"]
    spec = contract_from_dict(data).field_named("diffraction")
    for dtype in (np.uint8, np.complex128, np.dtype([("a", "f4")]), np.dtype("U3")):
        assert spec.dtype_severity(np.dtype(dtype)) is None


# -- Markdown rendering ------------------------------------------------------------------


@pytest.mark.parametrize("name", DATASET_BUILTINS)
def test_contract_markdown_lists_fields_rules_and_notes(name):
    """The Markdown holds a field table, a rule table and the layout/alias notes."""
    contract = load_contract(name)
    text = contract_markdown(contract)
    assert text.startswith(f"# Contract `{name}`")
    assert "| Field | Role | Required | dtype |" in text
    assert "| Rule | Fields | Check | Value | Severity | Meaning | Source |" in text
    assert "## Layout and alias notes" in text
    for spec in contract.fields:
        assert f"| `{spec.name}` |" in text
    for rule in contract.rules:
        assert f"| `{rule.id}` |" in text
    assert "`diff3d` is read as `diffraction`" in text
    # every table row has the header's number of cells
    for table_start in ("| Field |", "| Rule |", "| Dim |"):
        lines = text[text.index(table_start) :].split("\n\n")[0].splitlines()
        assert len({line.count(" | ") for line in lines if not line.startswith("|---")}) == 1


def test_contract_markdown_nests_under_a_heading_level():
    """heading_level=2 shifts every heading one level down."""
    text = contract_markdown(load_contract("data001"), heading_level=2)
    assert text.startswith("## Contract")
    assert "\n### Fields\n" in text
