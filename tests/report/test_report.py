"""``ptyevidence report``: notebooks run through papermill into one artifact folder."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest

from ptyevidence.demo import make_demo_data
from ptyevidence.exceptions import InputError, UsageError
from ptyevidence.report.batch import render_reports
from ptyevidence.report.runner import (
    ARTIFACTS,
    NOTEBOOKS,
    NOTEBOOKS_ENV,
    default_out_dir,
    find_notebooks,
    render_report,
)

REPO_NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


# -- fast checks: locating, arguments, refusals ------------------------------------


def test_find_notebooks_uses_the_repository_folder_whatever_the_cwd(tmp_path, monkeypatch):
    monkeypatch.delenv(NOTEBOOKS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert find_notebooks() == REPO_NOTEBOOKS


def test_find_notebooks_honours_the_environment_variable(tmp_path, monkeypatch):
    for name in NOTEBOOKS:
        (tmp_path / name).write_bytes((REPO_NOTEBOOKS / name).read_bytes())
    monkeypatch.setenv(NOTEBOOKS_ENV, str(tmp_path))
    assert find_notebooks() == tmp_path.resolve()


def test_find_notebooks_finds_a_wheel_install_under_the_prefix(tmp_path, monkeypatch):
    """A wheel puts the notebooks in <prefix>/share/ptyevidence/notebooks (pyproject data-files)."""
    import sys

    from ptyevidence.report import runner as _report

    site = tmp_path / "lib" / "site-packages" / "ptyevidence" / "report"
    site.mkdir(parents=True)
    shared = tmp_path / "share" / "ptyevidence" / "notebooks"
    shared.mkdir(parents=True)
    for name in NOTEBOOKS:
        (shared / name).write_bytes((REPO_NOTEBOOKS / name).read_bytes())
    monkeypatch.delenv(NOTEBOOKS_ENV, raising=False)
    monkeypatch.setattr(_report, "__file__", str(site / "runner.py"))
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    assert find_notebooks() == shared.resolve()
    data_files = (REPO_NOTEBOOKS.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert '"share/ptyevidence/notebooks" = ["notebooks/*.ipynb"]' in data_files


def test_find_notebooks_names_the_variable_when_nothing_is_found(tmp_path, monkeypatch):
    monkeypatch.setenv(NOTEBOOKS_ENV, str(tmp_path))
    with pytest.raises(UsageError, match=f"set {NOTEBOOKS_ENV}"):
        find_notebooks()


def test_default_out_dir_is_artifacts_slash_source_stem():
    assert default_out_dir("/data/run 7/scan_012.npz") == Path("artifacts", "scan_012")
    assert default_out_dir("scan.cxi") == Path("artifacts", "scan")
    assert default_out_dir(None) == Path("artifacts", "demo")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"subset_size": 8}, "at least 16"),
        ({"strategy": "random"}, "strategy 'random'"),
        ({"seed": -2}, "seed -2"),
    ],
    ids=["subset-too-small", "unknown-strategy", "negative-seed"],
)
def test_render_report_rejects_bad_parameters_before_writing(tmp_path, kwargs, match):
    with pytest.raises(UsageError, match=match):
        render_report(None, tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()


def test_render_report_names_a_missing_source(tmp_path):
    missing = tmp_path / "nope.npz"
    with pytest.raises(InputError, match="nope.npz' does not exist"):
        render_report(missing, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_render_report_refuses_a_folder_holding_a_report(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text("{}")
    with pytest.raises(UsageError, match="already holds a report.*force=True.*out_dir="):
        render_report(None, out)
    assert sorted(p.name for p in out.iterdir()) == ["summary.json"]


def test_render_reports_refuses_sources_sharing_a_folder(tmp_path):
    with pytest.raises(UsageError, match="would share the artifact folder"):
        render_reports([tmp_path / "a" / "scan.npz", tmp_path / "b" / "scan.npz"], tmp_path)


def test_cli_report_missing_source_is_one_line_exit_2(tmp_path, cli):
    result = cli("report", "--source", str(tmp_path / "nope.npz"), "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("ptyevidence: error: source '")
    assert "nope.npz" in lines[-1]
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "args",
    [["--jobs", "0"], ["--strategy", "random"], ["--seed", "x"]],
    ids=["jobs", "strategy", "seed"],
)
def test_cli_report_rejects_bad_flags(tmp_path, cli, args):
    result = cli("report", "--out", str(tmp_path / "o"), *args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


# -- slow: the notebooks really run ---------------------------------------------------


@pytest.fixture(scope="module")
def small_source(tmp_path_factory):
    """A 200-position demo scan (the report takes seconds on it)."""
    folder = tmp_path_factory.mktemp("sources")
    return make_demo_data(folder / "small.npz", n_positions=200, seed=5)


@pytest.mark.notebook
def test_report_writes_every_artifact_and_the_right_verdicts(tmp_path, cli, small_source):
    # Run from an unrelated folder without --out: artifacts/<stem>/ under the cwd.
    result = cli("report", "--source", small_source, "--subset-size", "32", cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr
    out = tmp_path / "artifacts" / "small"
    assert f"artifacts in {os.path.join('artifacts', 'small')}" in result.stdout
    for stem in ("data_contract", "dataset", "scan_coverage", "torch_gap_matrix"):
        assert f"{stem}.ipynb" in result.stderr  # progress names each notebook
        assert (out / f"{stem}.ipynb").is_file()
        assert (out / f"{stem}.html").is_file()
        page = (out / f"{stem}.html").read_text(encoding="utf-8")
        assert "<html" in page[:500].lower()
        assert "NBVAL_" not in page  # markers for the test suite, stripped for readers
        assert "NBVAL_" in (out / f"{stem}.ipynb").read_text(encoding="utf-8")
    for name in ARTIFACTS:
        assert (out / name).is_file(), name

    data_contract = (out / "data_contract.md").read_text(encoding="utf-8")
    assert f"**PASS: '{small_source}' against data001: 0 error(s), 0 warning(s)**" in data_contract
    assert "| `diffraction` | `diffraction` | float32 | (200, 64, 64) |" in data_contract
    assert "## Contract `data001`" in data_contract

    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["verdicts"]["data_contract"]["verdict"] == "PASS"
    assert summary["verdicts"]["data_contract"]["errors"] == 0
    assert summary["verdicts"]["fixture"]["contract_verdict"] == "PASS"
    assert summary["verdicts"]["fixture"]["subset_size"] == 32
    assert summary["source"]["path"] == small_source
    import hashlib

    assert summary["source"]["sha256"] == hashlib.sha256(Path(small_source).read_bytes()).hexdigest()
    assert summary["parameters"]["subset_size"] == 32
    assert summary["parameters"]["strategy"] == "stratified-index"
    assert set(summary["artifacts"]) == set(ARTIFACTS)

    coverage = json.loads((out / "coverage.json").read_text(encoding="utf-8"))
    assert {"source", "fixture", "scan", "metrics", "strategies", "plots"} <= set(coverage)
    assert set(coverage["strategies"]) == {"stratified-index", "grid", "farthest-point"}
    assert coverage["metrics"]["n_source"] == 200
    assert coverage["metrics"]["n_subset"] == 32
    assert 0 < coverage["metrics"]["occupancy"] <= 1
    assert coverage["fixture"]["sha256"] == hashlib.sha256((out / "fixture.npz").read_bytes()).hexdigest()

    gap = (out / "torch_gap_matrix.md").read_text(encoding="utf-8")
    row = next(line for line in gap.splitlines() if "(`diffraction.grouped`)" in line)
    assert "axis-order" in row
    assert "permute(0,3,1,2)" in row
    with open(out / "torch_gap_matrix.csv", encoding="utf-8", newline="") as fh:
        rows = {r["role"]: r for r in csv.DictReader(fh)}
    assert "axis-order" in rows["diffraction.grouped"]["kinds"].split(";")
    assert summary["verdicts"]["gap_matrix"]["rows"] == len(rows)

    index = (out / "index.html").read_text(encoding="utf-8")
    for link in (
        "data_contract.html",
        "dataset.html",
        "scan_coverage.html",
        "torch_gap_matrix.html",
        "data_contract.md",
        "coverage.png",
        "torch_gap_matrix.csv",
        "summary.json",
        "data_contract.md.html",
        "fixture_notes.md.html",
        "torch_gap_matrix.md.html",
        "dataset_object.png",
        "dataset_frames.png",
        "dataset_probe.png",
    ):
        assert f'href="{link}"' in index, link
    # Every Markdown artifact has its rendered page, with the tables as HTML.
    for name in ("data_contract.md", "fixture_notes.md", "torch_gap_matrix.md"):
        page = (out / f"{name}.html").read_text(encoding="utf-8")
        assert "<table>" in page
        assert "|---|" not in page
    assert summary["pages"] == {n: f"{n}.html" for n in ("data_contract.md", "fixture_notes.md", "torch_gap_matrix.md")}
    # Coverage is read against its ceiling and the probe, and the best strategy is named.
    cov = summary["verdicts"]["coverage"]
    metrics = coverage["metrics"]
    assert cov["occupancy_ceiling"] == min(1.0, metrics["n_subset"] / metrics["n_source_cells"])
    assert cov["probe_diameter"] == coverage["probe"]["diameter"] == metrics["probe_diameter"]
    assert cov["meets_reference"] is True
    gaps = {name: m["largest_gap"] for name, m in coverage["strategies"].items()}
    assert gaps[cov["best_strategy"]] == min(gaps.values())
    assert "Reference criterion" in index
    assert f"of at most {cov['occupancy_ceiling']:.2f}" in index
    assert f"best coverage: {cov['best_strategy']}" in index
    assert "probe diameters" in result.stdout

    # The fixture notes record paths relative to the artifact folder.
    notes = (out / "fixture_notes.md").read_text(encoding="utf-8")
    assert str(tmp_path) not in notes.replace(small_source, "")

    again = cli("report", "--source", small_source, cwd=str(tmp_path))
    assert again.returncode == 2
    assert "already holds a report" in again.stderr
    assert "--force" in again.stderr


@pytest.mark.notebook
def test_report_batch_in_parallel_flags_a_contract_failure(tmp_path, cli):
    good = make_demo_data(tmp_path / "good.npz", n_positions=150, seed=1)
    legacy = make_demo_data(tmp_path / "old.npz", n_positions=150, seed=2, layout="legacy")
    out = tmp_path / "reports"
    result = cli("report", "--source", good, legacy, "--jobs", "2", "--out", str(out), "--subset-size", "16")
    assert result.returncode == 1, result.stderr
    assert "old.npz breaks its data contract" in result.stderr
    # Progress lines are whole and name their source.
    progress = [line for line in result.stderr.splitlines() if ".ipynb" in line]
    assert progress
    assert all(line.startswith((f"[{good}]", f"[{legacy}]", "[report-wide]")) for line in progress)
    assert sum(line.count(".ipynb (") for line in progress) == len(progress)
    # One gap matrix for the report, linked from each source; one row per source on top.
    assert (out / "torch_gap_matrix.md").is_file()
    assert (out / "torch_gap_matrix.md.html").is_file()
    top = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="good/index.html"' in top
    assert 'href="old/index.html"' in top
    assert top.count("<tr><td><a href=") == 2
    for stem in ("good", "old"):
        assert not (out / stem / "torch_gap_matrix.md").exists()
        index = (out / stem / "index.html").read_text(encoding="utf-8")
        assert 'href="../torch_gap_matrix.md.html"' in index
        assert 'href="../torch_gap_matrix.html"' in index
    good_summary = json.loads((out / "good" / "summary.json").read_text(encoding="utf-8"))
    old_summary = json.loads((out / "old" / "summary.json").read_text(encoding="utf-8"))
    assert good_summary["verdicts"]["data_contract"]["verdict"] == "PASS"
    old_contract = old_summary["verdicts"]["data_contract"]
    assert (old_contract["verdict"], old_contract["layout"]) == ("FAIL", "legacy")
    findings = (out / "old" / "data_contract.md").read_text(encoding="utf-8")
    assert "legacy (H, W, N) order (64, 64, 150)" in findings
    # The fixture converts the legacy stack: it passes DATA-001.
    assert old_summary["verdicts"]["fixture"]["contract_verdict"] == "PASS"


@pytest.mark.notebook
def test_report_failing_notebook_names_notebook_and_cell_and_keeps_it(tmp_path, cli):
    # A readable NPZ without scan positions: the contract notebook reports the
    # missing fields, the dataset and coverage notebooks stop (the first named).
    bad = tmp_path / "frames_only.npz"
    np.savez(bad, diffraction=np.ones((20, 8, 8), np.float32))
    out = tmp_path / "out"
    result = cli("report", "--source", str(bad), "--out", str(out))
    assert result.returncode == 2
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("ptyevidence: error: notebook 'dataset.ipynb' failed in cell In [")
    assert "xcoords" in error
    assert "Traceback" not in result.stderr
    assert f"the partial executed notebook is '{out / 'dataset.ipynb'}'" in error
    assert error.endswith("; scan_coverage.ipynb failed too")
    assert (out / "dataset.ipynb").is_file()
    assert (out / "scan_coverage.ipynb").is_file()
    assert "FAIL" in (out / "data_contract.md").read_text(encoding="utf-8")
    assert not (out / "summary.json").exists()
    assert not (out / "index.html").exists()


def test_cli_report_unreadable_source_is_one_line_exit_2(tmp_path, cli):
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"PK\x03\x04 this is not a complete zip archive")
    result = cli("report", "--source", str(bad), "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "broken.npz" in lines[0]
    assert not (tmp_path / "o").exists()


@pytest.mark.notebook
def test_report_contract_flag_validates_a_legacy_file_against_its_contract(tmp_path, cli):
    legacy = make_demo_data(tmp_path / "old.npz", n_positions=120, seed=2, layout="legacy")
    result = cli(
        "report", "--source", legacy, "--contract", "legacy", "--out", str(tmp_path / "o"), "--subset-size", "16"
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "o" / "summary.json").read_text(encoding="utf-8"))
    assert summary["verdicts"]["data_contract"]["contract"] == "legacy"
    assert summary["verdicts"]["data_contract"]["verdict"] == "PASS"
    assert summary["parameters"]["contract"] == "legacy"


def test_report_contract_flag_refuses_an_unknown_contract_before_running(tmp_path, cli):
    result = cli("report", "--contract", "nosuch", "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert "nosuch" in result.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.notebook
def test_notebook_reruns_into_the_same_folder_replace_their_own_artifacts(tmp_path, small_source):
    """papermill twice into one out_dir with another subset_size, then an interactive re-run."""
    import nbformat
    import papermill
    from nbclient import NotebookClient

    notebook = str(REPO_NOTEBOOKS / "scan_coverage.ipynb")
    out = tmp_path / "explore"
    for size in (32, 16):
        papermill.execute_notebook(
            notebook,
            str(tmp_path / f"run{size}.ipynb"),
            progress_bar=False,
            parameters={"source": small_source, "out_dir": str(out), "subset_size": size, "interactive": False},
        )
        assert json.loads((out / "fixture.json").read_text(encoding="utf-8"))["subset_size"] == size
    # In Jupyter: run every cell, change subset_size, run the fixture cell again (same kernel).
    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(nb, resources={"metadata": {"path": str(tmp_path)}})
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                client.execute_cell(cell, index)
        folder = _cell_value(client, nb, "print(run.out)")
        fixture_cell = next(i for i, c in enumerate(nb.cells) if "make_fixture(" in c.source)
        _cell_value(client, nb, "subset_size = 24")
        client.execute_cell(nb.cells[fixture_cell], fixture_cell)
        assert not [o for o in nb.cells[fixture_cell].outputs if o.output_type == "error"]
        assert " 24 of 1087 positions " in "".join(o.get("text", "") for o in nb.cells[fixture_cell].outputs)
        assert os.path.isdir(folder)
    # The kernel stopped: its temporary folder is gone.
    assert not os.path.exists(folder)


def _cell_value(client, nb, code: str) -> str:
    import nbformat

    cell = nbformat.v4.new_code_cell(code)
    nb.cells.append(cell)
    client.execute_cell(cell, len(nb.cells) - 1)
    return "".join(o.get("text", "") for o in cell.outputs).strip()
