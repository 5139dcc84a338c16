"""Coverage reports of dataset files: the library behind ``ptyevidence coverage``."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest

from ptyevidence.coverage import (
    compare_strategies,
    describe_scan,
    scan_coverage,
    scan_report,
    strategies_report,
    subset_report,
)
from ptyevidence.coverage import reports as _reports
from ptyevidence.coverage.probe import measure_probe
from ptyevidence.exceptions import UsageError
from ptyevidence.fixture import make_fixture
from ptyevidence.fixture.strategies import STRATEGIES


@pytest.fixture
def source(make_npz) -> str:
    return make_npz("scan.npz", n=80, h=8, w=8)


@pytest.fixture
def fixture_npz(source, tmp_path) -> str:
    out = str(tmp_path / "fx.npz")
    make_fixture(source, out, subset_size=20, strategy="grid", source_hash="none")
    return out


def xy(path: str) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as f:
        return f["xcoords"], f["ycoords"]


def probe_diameter(path: str) -> float:
    with np.load(path) as f:
        return measure_probe(f["probeGuess"]).diameter


def without_probe(metrics: dict) -> dict:
    """The metrics as the sidecar records them (no probe keys, no ceiling)."""
    dropped = ("probe_diameter", "overlap_ratio", "source_overlap_ratio", "occupancy_ceiling")
    return {k: v for k, v in metrics.items() if k not in dropped}


def test_scan_report_holds_the_scan_statistics(source):
    report = scan_report(source, probe_diameter=6.0)
    x, y = xy(source)
    data = report.to_dict()
    assert (data["source"], data["format"], data["units"]) == (source, "npz", "object pixels")
    assert data["scan"] == describe_scan(x, y, probe_diameter=6.0).to_dict()
    assert data["plots"] == []
    assert report.ok
    lines = report.to_text().splitlines()
    assert lines[0] == f"{source}: scan positions in object pixels (no subset given)"
    assert lines[1] == "probe diameter 6 px (given)"
    assert lines[3].split() == ["statistic", "value"]
    assert {line.split()[0] for line in lines[4:]} == set(data["scan"])


def test_reports_measure_the_probe_of_the_file_unless_given(source):
    measured = probe_diameter(source)
    x, y = xy(source)
    scan = scan_report(source)
    assert scan.to_dict()["scan"] == describe_scan(x, y, probe_diameter=measured).to_dict()
    assert scan.probe["from"] == "probe"
    assert scan.probe["diameter"] == measured
    assert scan.to_text().splitlines()[1] == (
        f"probe diameter {measured:.4g} px (measured: {scan.probe['definition']})"
    )
    rows = strategies_report(source, subset_size=16).rows
    assert rows == compare_strategies(x, y, 16, probe_diameter=measured)


def test_a_file_without_a_probe_gets_no_overlap(make_npz):
    from conftest import dataset_arrays

    arrays = dataset_arrays(n=40)
    del arrays["probeGuess"]
    path = make_npz("noprobe.npz", arrays=arrays)
    report = scan_report(path)
    assert report.probe is None
    assert "probe_diameter" not in report.to_dict()["scan"]
    assert report.to_text().splitlines()[1].startswith("probe diameter: none")


def test_subset_report_of_a_fixture_matches_its_recorded_coverage(source, fixture_npz, tmp_path):
    report = subset_report(source, fixture=fixture_npz)
    recorded = json.loads((tmp_path / "fx.json").read_text())["coverage"]
    data = report.to_dict()
    assert without_probe(data["metrics"]) == recorded
    assert data["metrics"]["probe_diameter"] == probe_diameter(source)
    assert data["metrics"]["occupancy_ceiling"] == report.metrics.occupancy_ceiling
    assert data["subset"] == {
        "path": fixture_npz,
        "indices_from": "sidecar",
        "sidecar": str(tmp_path / "fx.json"),
        "n_positions": 20,
    }
    assert (data["checks"], data["ok"], report.ok) == ([], True, True)
    first = report.to_text().splitlines()[0]
    assert first == (
        f"{fixture_npz}: 20 of 80 positions of {source} "
        f"(indices from '{tmp_path / 'fx.json'}'); lengths in object pixels"
    )


def test_subset_report_thresholds(source, fixture_npz):
    passing = subset_report(source, fixture=fixture_npz, min_range_ratio=0.5)
    assert [c["metric"] for c in passing.checks] == ["x_range_ratio", "y_range_ratio"]
    assert passing.ok
    failing = subset_report(
        source, sidecar=os.path.splitext(fixture_npz)[0] + ".json", min_occupancy=1.0, cell_size=0.5
    )
    (check,) = failing.checks
    assert check["metric"] == "occupancy"
    assert check["value"] == failing.metrics.occupancy < 1.0
    assert (check["criterion"], check["threshold"], check["ok"]) == (">=", 1.0, False)
    assert not failing.ok
    assert failing.to_dict()["ok"] is False
    assert failing.to_text().splitlines()[-1].startswith("FAIL  occupancy ")
    x, y = xy(source)
    assert failing.metrics == scan_coverage(
        x, y, failing.subset.indices, cell_size=0.5, probe_diameter=probe_diameter(source)
    )
    assert "reference criterion (x and y range ratios > 0.5)" in failing.to_text()


def test_strategies_report_rows_are_the_library_comparison(source):
    report = strategies_report(source, subset_size=16, seed=3, probe_diameter=6.0)
    x, y = xy(source)
    expected = compare_strategies(x, y, 16, seed=3, probe_diameter=6.0)
    assert [name for name, _ in report.rows] == list(STRATEGIES)
    assert report.rows == expected
    data = report.to_dict()
    assert (data["n_positions"], data["subset_size"], data["seed"]) == (80, 16, 3)
    assert data["cell_size"] == expected[0][1].cell_size
    best = min(expected, key=lambda row: (row[1].largest_gap, -row[1].occupancy))[0]
    assert data["best_strategy"] == report.best == best
    for name, m in expected:
        assert data["strategies"][name]["occupancy_ceiling"] == m.occupancy_ceiling
    lines = report.to_text().splitlines()
    assert lines[3].split() == ["strategy", *_reports.TABLE_METRICS, "overlap_ratio"]
    table = lines[3 : 4 + len(STRATEGIES)]
    assert {len(line) for line in table} == {len(lines[3])}
    assert lines[-1] == f"best coverage: {best} ({data['best_criterion']})"


def test_subset_report_needs_exactly_one_subset(source, fixture_npz):
    with pytest.raises(UsageError, match="give one of fixture"):
        subset_report(source)
    with pytest.raises(UsageError, match="give one of fixture"):
        subset_report(source, fixture=fixture_npz, sidecar=fixture_npz)


def test_plots_are_written_and_never_overwritten_without_force(source, fixture_npz, tmp_path):
    plots = tmp_path / "plots"
    report = subset_report(source, fixture=fixture_npz, plot_dir=plots)
    names = ["scan_coverage.png", "scan_coverage.svg", "occupancy.png", "occupancy.svg"]
    assert report.plots == [str(plots / n) for n in names]
    assert report.to_text().splitlines()[-4:] == [f"wrote {plots / n}" for n in names]
    before = {n: (plots / n).read_bytes() for n in names}
    with pytest.raises(UsageError, match="exists"):
        subset_report(source, fixture=fixture_npz, plot_dir=plots)
    again = subset_report(source, fixture=fixture_npz, plot_dir=plots, force=True)
    assert {n: (plots / n).read_bytes() for n in names} == before
    assert again.plots == report.plots


@pytest.mark.parametrize("where", ["file", "missing-parent"])
def test_unusable_plot_folder_is_refused_before_reading(tmp_path, where):
    plot_dir = tmp_path / "taken"
    if where == "file":
        plot_dir.write_text("")
        match = re.escape(f"plot_dir '{plot_dir}' is a file; give a folder")
    else:
        plot_dir = tmp_path / "no" / "plots"
        match = "its parent folder .* does not exist"
    # The source does not exist either: the folder is checked first.
    with pytest.raises(UsageError, match=match):
        scan_report(tmp_path / "nope.npz", plot_dir=plot_dir)
    assert not (tmp_path / "no").exists()


def test_the_command_keeps_the_library_defaults():
    from ptyevidence.commands import coverage as command

    assert command.DEFAULT_COMPARE_SIZE == _reports.DEFAULT_COMPARE_SIZE
    assert (command.PLOT_SCAN, command.PLOT_OCCUPANCY, command.PLOT_STRATEGIES) == (
        _reports.PLOT_SCAN,
        _reports.PLOT_OCCUPANCY,
        _reports.PLOT_STRATEGIES,
    )
