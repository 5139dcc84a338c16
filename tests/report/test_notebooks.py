"""The evidence notebooks: declared parameters, thin structure, committed outputs.

Executing them is the job of nbval (``make test-notebooks``) and of the
``notebook``-marked report tests in ``test_report.py``.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from ptyevidence.report.runner import NOTEBOOKS

FOLDER = Path(__file__).resolve().parents[2] / "notebooks"

#: Parameters each notebook must declare, with their defaults (as literals).
EXPECTED_PARAMETERS = {
    "data_contract.ipynb": {"source": "", "out_dir": "", "contract": "", "force": False},
    "dataset.ipynb": {
        "source": "",
        "out_dir": "",
        "subset_size": 64,
        "strategy": "stratified-index",
        "seed": 0,
        "layout": "auto",
        "force": False,
    },
    "scan_coverage.ipynb": {
        "source": "",
        "out_dir": "",
        "subset_size": 64,
        "strategy": "stratified-index",
        "seed": 0,
        "probe_diameter": 0.0,
        "source_hash": "auto",
        "interactive": True,
        "force": False,
    },
    "torch_gap_matrix.ipynb": {
        "source": "",
        "out_dir": "",
        "left_contract": "ptychopinn-tf-grouped",
        "right_contract": "ptychopinn-torch-mmap",
        "left_dump": "",
        "right_dump": "",
        "observe_torch": True,
        "observe_fixture": "",
        "ptychopinn_python": "",
        "ptychopinn": "",
        "force": False,
    },
}


def _cells(name: str) -> list[dict]:
    return json.loads((FOLDER / name).read_text(encoding="utf-8"))["cells"]


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def test_every_notebook_of_the_report_is_in_the_folder():
    assert sorted(p.name for p in FOLDER.glob("*.ipynb")) == sorted(NOTEBOOKS)
    assert set(EXPECTED_PARAMETERS) == set(NOTEBOOKS)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_papermill_sees_the_declared_parameters_with_types_defaults_and_help(name):
    import papermill

    declared = papermill.inspect_notebook(str(FOLDER / name))
    expected = EXPECTED_PARAMETERS[name]
    assert set(expected) <= set(declared), set(expected) - set(declared)
    for param, info in declared.items():
        assert info["inferred_type_name"] not in (None, "None"), param
        assert info["help"].strip(), f"{param} has no trailing comment"
        assert ast.literal_eval(info["default"]) is not None, param
    for param, default in expected.items():
        assert ast.literal_eval(declared[param]["default"]) == default, param


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_opens_with_purpose_then_a_literal_parameters_cell(name):
    cells = _cells(name)
    assert cells[0]["cell_type"] == "markdown"
    assert _source(cells[0]).startswith("# ")
    params = cells[1]
    assert params["cell_type"] == "code"
    assert "parameters" in params["metadata"].get("tags", [])
    lines = [line for line in _source(params).splitlines() if line.strip()]
    tree = ast.parse(_source(params))
    assert len(tree.body) == len(lines), "one assignment per line, nothing else"
    for line, node in zip(lines, tree.body):
        assert isinstance(node, ast.AnnAssign), f"not a typed assignment: {line}"
        ast.literal_eval(node.value)  # literals only: papermill overrides them
        assert "  # " in line, f"no trailing comment: {line}"
        # papermill skips a parameter line holding more than one "=".
        assert line.count("=") == 1, line


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_thin_and_imports_only_public_names(name):
    for cell in _cells(name):
        if cell["cell_type"] != "code":
            continue
        tree = ast.parse(_source(cell))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not any(part.startswith("_") for part in node.module.split(".")), node.module
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                assert node.end_lineno - node.lineno < 5, f"{node.name}: logic belongs in the library"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_checked_cells_are_committed_with_sanitized_outputs(name):
    checked = [c for c in _cells(name) if c["cell_type"] == "code" and "# NBVAL_CHECK_OUTPUT" in _source(c)]
    assert checked, "at least one deterministic summary cell is checked by nbval"
    for cell in checked:
        assert cell["execution_count"] is not None, _source(cell)[:60]
        assert cell["outputs"], _source(cell)[:60]
        text = json.dumps(cell["outputs"])
        for folder in ("/tmp/", "/work/", "/home/"):
            assert folder not in text, f"a path in a checked output: {_source(cell)[:60]}"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_code_cell_says_whether_nbval_checks_it(name):
    for cell in _cells(name)[2:]:
        if cell["cell_type"] != "code":
            continue
        source = _source(cell)
        marked = any(m in source for m in ("NBVAL_CHECK_OUTPUT", "NBVAL_IGNORE_OUTPUT", "NBVAL_SKIP"))
        assert marked or not cell["outputs"], f"unmarked cell with output: {source[:60]}"


def test_report_passes_only_parameters_the_notebooks_declare():
    import papermill

    from ptyevidence.report.runner import _parameters

    # What render_report adds: observe_torch for a report-wide matrix, the observe_* with observe=True.
    passed = set(_parameters("", 64, "grid", 0, False, "", "auto")) | {
        "observe_torch",
        "observe_fixture",
        "ptychopinn_python",
        "ptychopinn",
    }
    declared = set()
    for name in NOTEBOOKS:
        declared |= set(papermill.inspect_notebook(str(FOLDER / name)))
    assert passed <= declared
