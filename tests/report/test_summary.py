"""The report records: what the notebooks write and what summary.json holds, read back through one schema."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from ptyevidence import (
    build_gap_matrix,
    make_fixture,
    open_source,
    validate_dataset,
    verify_fixture,
)
from ptyevidence.coverage import (
    compare_subsets,
    describe_scan,
    scan_coverage,
    select_strategy_subsets,
)
from ptyevidence.demo import make_demo_data
from ptyevidence.fixture import read_sidecar
from ptyevidence.gap import DEFAULT_LEFT, DEFAULT_RIGHT
from ptyevidence.report import (
    ContractVerdict,
    CoverageRecord,
    CoverageVerdict,
    FixtureRecord,
    FixtureVerdict,
    GapVerdict,
    ReportResult,
    ReportSummary,
    SourceRecord,
    Verdicts,
)
from ptyevidence.report import runner as _runner


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """What the scan_coverage notebook computes, on a small demo scan."""
    folder = tmp_path_factory.mktemp("run")
    source = make_demo_data(folder / "scan.npz", n_positions=120, seed=2)
    made = make_fixture(source, folder / "fixture.npz", 24, notes_out=folder / "fixture_notes.md")
    verification = verify_fixture(made.path, source=source)
    record = read_sidecar(verification.metadata)
    with open_source(source) as reader:
        x, y, units = reader.read("xcoords"), reader.read("ycoords"), reader.position_units
    indices = np.asarray(record["indices"], dtype=np.int64)
    metrics = scan_coverage(x, y, indices)
    comparison = compare_subsets(x, y, select_strategy_subsets(x, y, 24, 0), metrics.cell_size)
    fixture = FixtureRecord.from_sidecar(
        made.path, verification.metadata, folder / "fixture_notes.md", record, verification.ok
    )
    coverage = CoverageRecord.from_results(
        source, units, fixture, describe_scan(x, y), metrics, comparison, ["coverage.png"]
    )
    return folder, source, record, metrics, comparison, coverage


def test_coverage_record_holds_the_fixture_and_every_metric(run):
    _, _, record, metrics, comparison, coverage = run
    data = json.loads(coverage.to_json())
    assert list(data) == [
        "source",
        "units",
        "fixture",
        "scan",
        "metrics",
        "strategies",
        "plots",
        "probe",
        "best_strategy",
    ]
    assert data["fixture"]["sha256"] == record["sha256_checksum"]
    assert data["fixture"]["strategy"] == record["subset_strategy"]
    assert data["fixture"]["verified"] is True
    assert data["metrics"] == metrics.to_dict()
    assert list(data["strategies"]) == [name for name, _ in comparison]
    gaps = {name: m.largest_gap for name, m in comparison}
    assert gaps[data["best_strategy"]] == min(gaps.values())
    assert data["units"] == "object pixels"
    assert coverage.to_json().endswith("}\n")


def test_coverage_record_reads_back_what_it_wrote(run, tmp_path):
    coverage = run[-1]
    path = tmp_path / "coverage.json"
    path.write_text(coverage.to_json(), encoding="utf-8")
    assert CoverageRecord.read(path) == coverage


def test_verdicts_from_the_coverage_record(run):
    coverage = run[-1]
    fixture = FixtureVerdict.from_coverage(coverage)
    assert (fixture.subset_size, fixture.source_positions) == (24, 120)
    assert fixture.contract_verdict == "PASS"
    headline = CoverageVerdict.from_coverage(coverage)
    assert headline.occupancy == coverage.metrics["occupancy"]
    assert headline.cell_size == coverage.metrics["cell_size"]
    m = coverage.metrics
    assert headline.occupancy_ceiling == min(1.0, m["n_subset"] / m["n_source_cells"])
    assert headline.meets_reference == (m["x_range_ratio"] > 0.5 and m["y_range_ratio"] > 0.5)
    assert (headline.strategy, headline.best_strategy) == ("stratified-index", coverage.best_strategy)
    assert headline.probe_diameter is None
    assert headline.gap_in_diameters is None


def test_older_summaries_read_with_defaults_for_the_new_entries(run):
    coverage = run[-1]
    old = {
        k: v
        for k, v in CoverageVerdict.from_coverage(coverage).to_dict().items()
        if k in ("x_range_ratio", "y_range_ratio", "occupancy", "hull_area_ratio", "largest_gap", "cell_size")
    }
    verdict = CoverageVerdict.from_dict(old)
    assert verdict.occupancy == old["occupancy"]
    assert verdict.best_strategy is None


def test_contract_verdict_counts_findings_by_severity(tmp_path):
    legacy = make_demo_data(tmp_path / "old.npz", n_positions=40, layout="legacy")
    report = validate_dataset(legacy)
    verdict = ContractVerdict.from_report(json.loads(report.to_json()))
    assert (verdict.ok, verdict.verdict, verdict.layout) == (False, "FAIL", "legacy")
    assert verdict.errors == len(report.errors) > 0
    assert verdict.warnings == len(report.warnings)


def test_gap_verdict_counts_the_kinds_of_the_csv():
    matrix = build_gap_matrix(DEFAULT_LEFT, DEFAULT_RIGHT)
    verdict = GapVerdict.from_csv(matrix.to_csv(), DEFAULT_LEFT, DEFAULT_RIGHT)
    assert verdict.rows == len(matrix.rows)
    assert verdict.kinds == {k: n for k, n in sorted(matrix.summary().items()) if n}
    assert verdict.rows_with_observations == 0


def test_gap_verdict_of_an_observed_matrix_counts_its_columns_and_its_drift(tmp_path):
    from _observe_runs import write_run
    from ptyevidence.gap.observe import evaluate_run

    def mutate(g, dumps):
        arrays = dumps["torch_mmap"]["arrays"]
        arrays["label_amp"] = arrays["label_amp"] + 1  # contradicts the labels-zero claim

    report = evaluate_run(write_run(tmp_path / "run", mutate=mutate))
    matrix = build_gap_matrix(DEFAULT_LEFT, DEFAULT_RIGHT)
    text = matrix.to_csv(report.csv_columns())
    (tmp_path / "matrix.csv").write_text(text, encoding="utf-8")
    (tmp_path / "observe.json").write_text(report.to_json(), encoding="utf-8")
    verdict = GapVerdict.read(tmp_path / "matrix.csv", DEFAULT_LEFT, DEFAULT_RIGHT, tmp_path / "observe.json")
    assert verdict.observed
    assert verdict.drift == len(report.drift) == 2  # labels-zero at gridsizes 1 and 2
    rows = {r["role"]: r for r in csv.DictReader(io.StringIO(text))}
    assert len(rows) == len(matrix.rows)
    seen = {r.role for result in report.results for r in result.rows if "observed" in (r.left.status, r.right.status)}
    assert verdict.rows_with_observations == len(seen & set(rows)) > 0
    grouped = rows["diffraction.grouped"]
    assert grouped["left_observed_g2"].startswith("`diffraction` (B,N,N,C) = ")
    assert "equal" in grouped["parity_g1"]
    assert "equal" in grouped["parity_g2"]
    assert grouped["drift_g1"] == ""
    assert "label_amp (claim labels-zero)" in rows["ground_truth"]["drift_g1"]
    assert GapVerdict.from_dict(verdict.to_dict()) == verdict

    # Not observed: summary.json keeps the keys it had, and summaries written before read back.
    plain = GapVerdict.from_csv(matrix.to_csv(), DEFAULT_LEFT, DEFAULT_RIGHT)
    assert list(plain.to_dict()) == ["left", "right", "rows", "kinds", "rows_with_observations"]
    assert GapVerdict.from_dict(plain.to_dict()) == plain
    assert (plain.observed, plain.drift) == (False, 0)


def _summary(coverage: CoverageRecord) -> ReportSummary:
    return ReportSummary(
        tool_version="0",
        source=SourceRecord("scan.npz", False, "ab" * 32, 1234),
        parameters={"subset_size": 24},
        notebooks={"a": {"executed": "a.ipynb", "html": "a.html"}},
        verdicts=Verdicts(
            ContractVerdict(True, "PASS", "data001", "canonical", 0, 1),
            FixtureVerdict.from_coverage(coverage),
            CoverageVerdict.from_coverage(coverage),
            GapVerdict("l", "r", 3, {"rename": 2}, 0),
        ),
        artifacts={"coverage.json": "coverage.json"},
        index="index.html",
    )


def test_report_summary_round_trips_and_keeps_the_file_order(run, tmp_path):
    summary = _summary(run[-1])
    data = json.loads(summary.to_json())
    assert list(data) == [
        "tool",
        "tool_version",
        "source",
        "parameters",
        "verdicts",
        "notebooks",
        "artifacts",
        "index",
        "pages",
    ]
    assert list(data["verdicts"]) == ["data_contract", "fixture", "coverage", "gap_matrix"]
    path = tmp_path / "summary.json"
    path.write_text(summary.to_json(), encoding="utf-8")
    assert ReportSummary.read(path) == summary


def test_report_result_speaks_to_dict_and_to_text(run):
    summary = _summary(run[-1])
    result = ReportResult("out", summary)
    assert result.ok
    assert result.to_dict() == summary.to_dict()
    text = result.to_text().splitlines()
    assert text[0] == "report for scan.npz:"
    assert text[1] == "  contract  PASS (data001: 0 errors, 1 warnings)"
    assert text[-1].startswith("artifacts in out")


def test_runner_summary_reads_the_notebook_records(run, tmp_path):
    """_summary builds summary.json from the three records the notebooks write, nothing else."""
    folder, source, _, _, _, coverage = run
    out = tmp_path / "report"
    out.mkdir()
    (out / "coverage.json").write_text(coverage.to_json(), encoding="utf-8")
    (out / "fixture.json").write_bytes((folder / "fixture.json").read_bytes())
    (out / "data_contract.json").write_text(validate_dataset(source).to_json(), encoding="utf-8")
    (out / "torch_gap_matrix.csv").write_text(build_gap_matrix(DEFAULT_LEFT, DEFAULT_RIGHT).to_csv(), encoding="utf-8")
    parameters = {
        "source": source,
        "out_dir": ".",
        "subset_size": 24,
        "strategy": "stratified-index",
        "seed": 0,
        "left_contract": DEFAULT_LEFT,
        "right_contract": DEFAULT_RIGHT,
        "force": False,
        "source_hash": "auto",
        "interactive": False,
    }
    summary = _runner._summary(source, out, out, parameters, {"data_contract.md": "data_contract.md.html"})
    assert summary.verdicts.fixture == FixtureVerdict.from_coverage(coverage)
    assert summary.verdicts.data_contract.verdict == "PASS"
    assert summary.parameters == {
        "subset_size": 24,
        "strategy": "stratified-index",
        "seed": 0,
        "left_contract": DEFAULT_LEFT,
        "right_contract": DEFAULT_RIGHT,
        "source_hash": "auto",
    }
    assert set(summary.artifacts) == {"coverage.json", "data_contract.json", "torch_gap_matrix.csv", "fixture.json"}
    assert summary.source.size == (folder / "scan.npz").stat().st_size
    # The source digest is the fixture's record: the report reads no byte of the source.
    import hashlib

    record = json.loads((folder / "fixture.json").read_text(encoding="utf-8"))
    assert (
        summary.source.sha256
        == record["source_sha256"]
        == hashlib.sha256((folder / "scan.npz").read_bytes()).hexdigest()
    )
    assert summary.source.fingerprint == record["source_fingerprint"]
    assert summary.pages == {"data_contract.md": "data_contract.md.html"}


def test_runner_summary_of_a_large_source_has_its_fingerprint_only(run, tmp_path, monkeypatch):
    folder, source, _, _, _, coverage = run
    out = tmp_path / "report"
    out.mkdir()
    record = json.loads((folder / "fixture.json").read_text(encoding="utf-8"))
    record["source_sha256"] = None  # what source_hash="auto" records above 1 GiB
    (out / "fixture.json").write_text(json.dumps(record), encoding="utf-8")
    (out / "coverage.json").write_text(coverage.to_json(), encoding="utf-8")
    (out / "data_contract.json").write_text(validate_dataset(source).to_json(), encoding="utf-8")
    (out / "torch_gap_matrix.csv").write_text(build_gap_matrix(DEFAULT_LEFT, DEFAULT_RIGHT).to_csv(), encoding="utf-8")

    def no_hashing(*args, **kwargs):
        msg = "the report hashed the source"
        raise AssertionError(msg)

    monkeypatch.setattr("ptyevidence.fixture.sidecar.file_sha256", no_hashing)
    parameters = {"left_contract": DEFAULT_LEFT, "right_contract": DEFAULT_RIGHT, "source_hash": "auto"}
    summary = _runner._summary(source, out, out, parameters, {})
    assert summary.source.sha256 is None
    assert summary.source.fingerprint["sha256"] == record["source_fingerprint"]["sha256"]
    from ptyevidence.report.html import _digest

    assert "not hashed in full" in _digest(summary.source)


def test_a_warm_report_reuses_the_demo_only_as_this_version_simulated_it(run, tmp_path):
    import dataclasses
    import hashlib

    from ptyevidence._version import __version__

    demo = make_demo_data(tmp_path / "demo.npz", n_positions=30)
    digest = hashlib.sha256((tmp_path / "demo.npz").read_bytes()).hexdigest()
    summary = dataclasses.replace(
        _summary(run[-1]),
        tool_version=__version__,
        source=SourceRecord("demo.npz", True, digest, (tmp_path / "demo.npz").stat().st_size),
    )
    (tmp_path / "summary.json").write_text(summary.to_json(), encoding="utf-8")
    assert _runner._same_demo(tmp_path)
    older = dataclasses.replace(summary, tool_version="0.0.0")
    (tmp_path / "summary.json").write_text(older.to_json(), encoding="utf-8")
    assert not _runner._same_demo(tmp_path)
    (tmp_path / "summary.json").write_text(summary.to_json(), encoding="utf-8")
    with open(demo, "r+b") as fh:  # changed in place, same size
        fh.seek(-1, 2)
        last = fh.read(1)
        fh.seek(-1, 2)
        fh.write(bytes([last[0] ^ 1]))
    assert not _runner._same_demo(tmp_path)
    (tmp_path / "summary.json").write_text("{}", encoding="utf-8")
    assert not _runner._same_demo(tmp_path)
