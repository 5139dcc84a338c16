"""Gap engine: alignment by role, classification, permutations, renderings."""

from __future__ import annotations

import csv
import io
import json

import pytest

from ptyevidence import InputError, contract_markdown, list_contracts, load_contract
from ptyevidence.gap import KINDS, axis_permutation, build_gap_matrix

PIPELINES = (
    "ptychopinn-tf-grouped",
    "ptychopinn-tf-container",
    "ptychopinn-torch-mmap",
    "ptychopinn-torch-bridge",
)

#: Row names of the reference TF-vs-Torch table; every one must have a row.
REFERENCE_ROWS = [
    "Input file unit",
    "Diffraction key",
    "Raw diffraction stack",
    "Legacy (H,W,M)",
    "Grouped diffraction",
    "Normalized model input",
    "Loss-side observation",
    "Ground-truth patches",
    "GT fallback from object",
    "Probe",
    "Probe normalization",
    "Probe scale factor",
    "Object",
    "Absolute member coords",
    "Group centre",
    "Relative offsets",
    "Model position input",
    "Start/true positions",
    "Neighbour indices",
    "Group centre id",
    "Grouping algorithm",
    "Group count",
    "Edge exclusion",
    "Scaling constants",
    "Experiment id",
    "Scan index",
    "Metadata",
    "Caching",
    "Tensor framework",
]

#: (role, kinds the documented trap implies) for the default TF-vs-Torch pair.
DOCUMENTED_TRAPS = [
    ("diffraction.grouped", {"rename", "axis-order"}),
    ("model_input.normalized", {"axis-order", "semantics"}),
    ("coords.absolute", {"rename", "axis-order", "dtype"}),
    ("coords.center", {"rename", "axis-order", "dtype"}),
    ("coords.relative", {"axis-order", "dtype"}),
    ("coords.nominal", {"semantics"}),
    ("nn_indices", {"dtype", "semantics"}),
    ("probe", {"rank/shape"}),
    ("scale.rms", {"semantics"}),
    ("group_center_id", {"missing-left"}),
    ("experiment_id", {"missing-left"}),
    ("grouping.edge_exclusion", {"missing-left"}),
    ("ground_truth.fallback", {"missing-right"}),
]


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        (("B", "N", "N", "C"), ("B", "C", "N", "N"), (0, 3, 1, 2)),
        (("B", 1, "xy", "C"), ("B", "C", 1, "xy"), (0, 3, 1, 2)),
        (("B", 1, "xy", 1), ("B", 1, 1, "xy"), (0, 1, 3, 2)),
        (("B", "C"), ("B", "C"), (0, 1)),
        (("N", "N"), ("B", "C", "P", "N", "N"), None),
        (("B", 1, "xy", "C"), ("B", 2, "xy", "C"), None),
    ],
    ids=["channels-last-to-first", "coords", "group-centre", "identity", "rank", "fixed-size"],
)
def test_axis_permutation_maps_left_order_to_right(left, right, expected):
    assert axis_permutation(left, right) == expected


def test_axis_permutation_reorders_named_axes_like_numpy():
    import numpy as np

    left = np.zeros((2, 5, 5, 3))
    perm = axis_permutation(("B", "N", "N", "C"), ("B", "C", "N", "N"))
    assert np.transpose(left, perm).shape == (2, 3, 5, 5)


@pytest.mark.parametrize("name", PIPELINES)
def test_builtin_pipeline_contracts_load_as_pipelines(name):
    contract = load_contract(name)
    assert contract.kind == "pipeline"
    assert name in list_contracts("pipeline")
    stored = [f for f in contract.fields if f.presence == "stored"]
    assert stored, "a pipeline contract describes at least one tensor"
    assert all(f.source for f in contract.fields), "every field cites its source"


def test_default_matrix_has_a_row_for_every_reference_role():
    matrix = build_gap_matrix()
    labels = [row.label for row in matrix.rows]
    missing = [name for name in REFERENCE_ROWS if not any(lab.startswith(name) for lab in labels)]
    assert missing == []
    markdown = matrix.to_markdown()
    assert all(name in markdown for name in REFERENCE_ROWS)


@pytest.mark.parametrize(("role", "kinds"), DOCUMENTED_TRAPS, ids=[r for r, _ in DOCUMENTED_TRAPS])
def test_default_matrix_names_each_documented_trap(role, kinds):
    row = build_gap_matrix("ptychopinn-tf-grouped", "ptychopinn-torch-mmap").row(role)
    assert kinds <= set(row.kinds)


def test_axis_order_row_prints_permutation_in_canonical_axes():
    row = build_gap_matrix().row("diffraction.grouped")
    assert row.permutation == (0, 3, 1, 2)
    assert "(B,N,N,C) → (B,C,N,N) = permute(0,3,1,2)" in row.details


def test_rows_keep_citations_of_both_sides():
    matrix = build_gap_matrix()
    for row in matrix.rows:
        if row.left:
            assert row.left_sources, row.role
        if row.right:
            assert row.right_sources, row.role


def test_kinds_follow_the_declared_order():
    for row in build_gap_matrix().rows:
        assert list(row.kinds) == [k for k in KINDS if k in row.kinds]


@pytest.mark.parametrize("name", PIPELINES)
def test_contract_against_itself_is_same_everywhere(name):
    matrix = build_gap_matrix(name, name)
    assert {row.kinds for row in matrix.rows} == {("same",)}
    assert matrix.breaks() == []


def test_bridge_reuses_tf_normalization_but_permutes_axes():
    matrix = build_gap_matrix("ptychopinn-tf-grouped", "ptychopinn-torch-bridge")
    row = matrix.row("model_input.normalized")
    assert "semantics" not in row.kinds
    assert row.permutation == (0, 3, 1, 2)
    assert matrix.row("nn_indices").kinds == ("same",)


def test_mmap_against_bridge_separates_the_two_torch_paths():
    matrix = build_gap_matrix("ptychopinn-torch-mmap", "ptychopinn-torch-bridge")
    assert "missing-right" in matrix.row("diffraction.grouped").kinds
    assert "semantics" in matrix.row("grouping.algorithm").kinds


def _write_contract(tmp_path, name, fields, **extra):
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"name": name, "kind": "pipeline", "fields": fields, **extra}))
    return str(path)


def test_user_contracts_align_by_role_through_axis_aliases(tmp_path):
    left = _write_contract(
        tmp_path,
        "mine",
        [
            {"name": "frames", "role": "diffraction.grouped", "dtypes": ["float32"], "shape": ["T", "Q"]},
        ],
    )
    right = _write_contract(
        tmp_path,
        "theirs",
        [
            {"name": "stack", "role": "diffraction.grouped", "dtypes": ["float32"], "shape": ["Q2", "T2"]},
        ],
        axis_aliases={"Q2": "Q", "T2": "T"},
    )
    row = build_gap_matrix(left, right).row("diffraction.grouped")
    assert row.kinds == ("rename", "axis-order")
    assert row.permutation == (1, 0)


def test_missing_role_and_several_kinds_in_one_row(tmp_path):
    left = _write_contract(
        tmp_path,
        "a",
        [
            {"name": "x", "role": "r", "dtypes": ["float64"], "shape": ["B", "C"], "semantics": {"sign": "+1"}},
            {"name": "only_left", "role": "extra", "dtypes": ["int32"], "shape": ["B"]},
        ],
    )
    right = _write_contract(
        tmp_path,
        "b",
        [
            {"name": "y", "role": "r", "dtypes": ["float32"], "shape": ["C", "B"], "semantics": {"sign": "-1"}},
        ],
    )
    matrix = build_gap_matrix(left, right)
    assert matrix.row("r").kinds == ("rename", "axis-order", "dtype", "semantics")
    assert matrix.row("extra").kinds == ("missing-right",)
    assert matrix.summary()["missing-right"] == 1


def test_breaks_list_is_derived_from_the_rows(tmp_path):
    left = _write_contract(
        tmp_path,
        "a",
        [
            {"name": "x", "role": "r", "label": "Thing", "dtypes": ["float64"], "shape": ["B"]},
        ],
    )
    right = _write_contract(
        tmp_path,
        "b",
        [
            {"name": "x", "role": "r", "dtypes": ["float32"], "shape": ["B"]},
        ],
    )
    breaks = build_gap_matrix(left, right).breaks()
    assert len(breaks) == 1
    assert "Thing float64 → float32" in breaks[0]


@pytest.mark.parametrize(
    ("field", "match"),
    [
        ({"name": "x", "presence": "sometimes"}, "presence 'sometimes'"),
        ({"name": "x", "presence": "derived", "derive": {"op": "ratio", "of": ["a", "b"]}}, "not a stored field"),
        ({"name": "x", "presence": "derived"}, "'derive' is required"),
        ({"name": "x", "derive": {"op": "copy", "of": ["y"]}}, "allowed only"),
        ({"name": "x", "presence": "derived", "derive": {"op": "sum", "of": ["y"]}}, "one of copy"),
    ],
    ids=["presence", "derive-unknown-field", "derive-missing", "derive-not-derived", "derive-op"],
)
def test_invalid_pipeline_entries_name_the_problem(tmp_path, field, match):
    path = _write_contract(tmp_path, "bad", [field])
    with pytest.raises(InputError, match=match):
        load_contract(path)


def test_invalid_axis_aliases_are_refused(tmp_path):
    path = _write_contract(tmp_path, "bad", [{"name": "x"}], axis_aliases={"L": 3})
    with pytest.raises(InputError, match="axis_aliases"):
        load_contract(path)


def test_summary_counts_agree_with_the_rows():
    matrix = build_gap_matrix()
    summary = matrix.summary()
    for kind in KINDS:
        assert summary[kind] == len([r for r in matrix.rows if kind in r.kinds])
    table = matrix.to_markdown().split("## Summary by kind")[1]
    for kind, count in summary.items():
        assert f"| {kind} | {count} |" in table


def test_csv_and_json_carry_the_same_rows_as_markdown():
    matrix = build_gap_matrix()
    rows = list(csv.DictReader(io.StringIO(matrix.to_csv())))
    data = json.loads(matrix.to_json())
    roles = [r.role for r in matrix.rows]
    assert [r["role"] for r in rows] == roles
    assert [r["role"] for r in data["rows"]] == roles
    grouped = next(r for r in rows if r["role"] == "diffraction.grouped")
    assert grouped["permutation"] == "permute(0,3,1,2)"
    assert grouped["kinds"] == "rename;axis-order"
    assert data["summary"] == matrix.summary()


def test_renderings_are_deterministic():
    first, second = build_gap_matrix(), build_gap_matrix()
    for fmt in ("markdown", "csv", "json"):
        assert first.render(fmt) == second.render(fmt)


def test_pipeline_contract_markdown_shows_semantics_and_sources():
    text = contract_markdown(load_contract("ptychopinn-torch-mmap"))
    assert "| Semantics | Source |" in text
    assert "ptycho_torch/patch_generator.py:395-417" in text


def test_dataset_contracts_keep_their_rendering_and_data():
    contract = load_contract("data001")
    text = contract_markdown(contract)
    assert "| Field | Role | Required | dtype | Also accepted | Shape | Aliases | Meaning |" in text
    data = contract.to_dict()
    assert "axis_aliases" not in data
    assert all("presence" not in f for f in data["fields"])
