"""``ptyevidence coverage`` through the real entry point."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from numpy.testing import assert_allclose

from conftest import dataset_arrays
from ptyevidence.coverage import compare_strategies, scan_coverage
from ptyevidence.coverage.probe import measure_probe
from ptyevidence.fixture.strategies import STRATEGIES

METRICS = (
    "x_range_ratio",
    "y_range_ratio",
    "occupancy",
    "hull_area_ratio",
    "largest_gap",
    "subset_nn_median",
    "source_nn_median",
)


@pytest.fixture
def source(make_npz) -> str:
    return make_npz("scan.npz", n=80, h=8, w=8)


@pytest.fixture
def fixture_npz(cli, source, tmp_path) -> str:
    out = str(tmp_path / "fx.npz")
    done = cli(
        "fixture",
        "make",
        "--source",
        source,
        "--output",
        out,
        "--subset-size",
        "20",
        "--strategy",
        "grid",
        "--no-source-hash",
    )
    assert done.returncode == 0, done.stderr
    return out


def positions(path: str) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as f:
        return f["xcoords"], f["ycoords"]


def probe_diameter(path: str) -> float:
    with np.load(path) as f:
        return measure_probe(f["probeGuess"]).diameter


def recorded_part(metrics: dict, recorded: dict) -> dict:
    """The metrics the sidecar records (the report adds the probe's and the ceiling)."""
    assert set(metrics) - set(recorded) == {
        "probe_diameter",
        "overlap_ratio",
        "source_overlap_ratio",
        "occupancy_ceiling",
    }
    return {k: metrics[k] for k in recorded}


def write_sidecar(path, indices, n_source: int) -> str:
    """The smallest sidecar ``read_sidecar`` accepts, with chosen indices."""
    record = {
        "version": 1,
        "subset_size": len(indices),
        "indices": [int(i) for i in indices],
        "sha256_checksum": "0" * 64,
        "content_digests": {},
        "coverage": {},
        "contract": {"name": "data001", "verdict": "PASS"},
        "source_positions": n_source,
    }
    path.write_text(json.dumps(record))
    return str(path)


def assert_one_line_error(done, *fragments: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("ptyevidence: error:")
    for fragment in fragments:
        assert fragment in lines[0]
    assert done.stdout == ""


def test_compare_strategies_prints_an_aligned_table(cli, source):
    done = cli("coverage", source, "--compare-strategies", "--subset-size", "16")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("strategy"))
    columns = [*METRICS[:3], "occupancy_ceiling", *METRICS[3:], "overlap_ratio"]
    assert lines[header].split() == ["strategy", *columns]
    rows = lines[header + 1 : header + 1 + len(STRATEGIES)]
    assert [r.split()[0] for r in rows] == list(STRATEGIES)
    # Aligned: every row as wide as the header, numbers right-aligned under it.
    assert {len(r) for r in rows} == {len(lines[header])}
    # The numbers are the library's, rounded to 4 significant digits; the
    # overlap comes from the probe in the file.
    x, y = positions(source)
    comparison = compare_strategies(x, y, 16, probe_diameter=probe_diameter(source))
    for row, (name, m) in zip(rows, comparison):
        values = [float(v) for v in row.split()[1:]]
        assert_allclose(values, [getattr(m, k) for k in columns], rtol=1e-3)
    assert lines[1].startswith(f"probe diameter {probe_diameter(source):.4g} px (measured: ")
    assert lines[-1].startswith("best coverage: ")


def test_compare_strategies_json_has_every_strategy_and_metric(cli, source):
    done = cli(
        "coverage",
        source,
        "--compare-strategies",
        "--subset-size",
        "20",
        "--seed",
        "3",
        "--json",
        "--probe-diameter",
        "6",
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert {"source", "units", "n_positions", "subset_size", "seed", "cell_size", "strategies", "plots"} <= set(report)
    assert (report["n_positions"], report["subset_size"], report["seed"]) == (80, 20, 3)
    assert list(report["strategies"]) == list(STRATEGIES)
    for metrics in report["strategies"].values():
        assert set(METRICS) | {"overlap_ratio", "probe_diameter"} <= set(metrics)
        assert metrics["n_subset"] == 20
    x, y = positions(source)
    expected = dict(compare_strategies(x, y, 20, seed=3, probe_diameter=6.0))
    for name, metrics in report["strategies"].items():
        assert_allclose(metrics["occupancy"], expected[name].occupancy, rtol=1e-12)
        assert_allclose(metrics["largest_gap"], expected[name].largest_gap, rtol=1e-12)


def test_subset_from_fixture_uses_its_sidecar_and_matches_the_recorded_coverage(cli, source, fixture_npz, tmp_path):
    done = cli("coverage", source, "--subset", fixture_npz, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["subset"]["indices_from"] == "sidecar"
    assert report["subset"]["sidecar"] == str(tmp_path / "fx.json")
    recorded = json.loads((tmp_path / "fx.json").read_text())["coverage"]
    # fixture make measured the same subset
    assert recorded_part(report["metrics"], recorded) == recorded
    assert report["metrics"]["probe_diameter"] == report["probe"]["diameter"] == probe_diameter(source)
    assert report["ok"] is True
    assert report["checks"] == []


def test_subset_without_sidecar_is_matched_by_position(cli, source, fixture_npz, tmp_path):
    record = json.loads((tmp_path / "fx.json").read_text())
    os.remove(tmp_path / "fx.json")
    done = cli("coverage", source, "--subset", fixture_npz, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["subset"]["indices_from"] == "positions"
    assert recorded_part(report["metrics"], record["coverage"]) == record["coverage"]


def test_subset_text_lists_every_metric(cli, source, fixture_npz):
    done = cli("coverage", source, "--subset", fixture_npz)
    assert done.returncode == 0, done.stderr
    names = {line.split()[0] for line in done.stdout.splitlines() if line.strip()}
    assert set(METRICS) | {"gap_p95", "cell_size", "n_source_cells"} <= names


def test_indices_from_a_sidecar(cli, source, tmp_path):
    sidecar = write_sidecar(tmp_path / "pick.json", [0, 9, 70, 79], n_source=80)
    done = cli("coverage", source, "--indices-from", sidecar, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    x, y = positions(source)
    expected = scan_coverage(x, y, [0, 9, 70, 79], probe_diameter=probe_diameter(source))
    assert report["metrics"] == {**expected.to_dict(), "occupancy_ceiling": expected.occupancy_ceiling}


def test_thresholds_fail_with_exit_1_and_name_the_metric(cli, source, tmp_path):
    # Four corners of the 9 x 9 raster (2 px step) on 2 px cells: the full
    # range, but 4 of about 80 cells.
    sidecar = write_sidecar(tmp_path / "corners.json", [0, 8, 72, 79], n_source=80)
    done = cli(
        "coverage",
        source,
        "--indices-from",
        sidecar,
        "--min-range-ratio",
        "0.5",
        "--min-occupancy",
        "0.5",
        "--cell-size",
        "2",
    )
    assert done.returncode == 1, done.stderr
    verdicts = [line.split()[:2] for line in done.stdout.splitlines() if line.startswith(("PASS", "FAIL"))]
    assert verdicts == [["PASS", "x_range_ratio"], ["PASS", "y_range_ratio"], ["FAIL", "occupancy"]]
    passing = cli("coverage", source, "--indices-from", sidecar, "--min-range-ratio", "0.5")
    assert passing.returncode == 0, passing.stdout


def test_plots_are_written_as_png_and_svg_and_not_overwritten(cli, source, fixture_npz, tmp_path):
    plots = tmp_path / "plots"
    done = cli("coverage", source, "--subset", fixture_npz, "--plot-dir", str(plots))
    assert done.returncode == 0, done.stderr
    names = sorted(os.listdir(plots))
    assert names == ["occupancy.png", "occupancy.svg", "scan_coverage.png", "scan_coverage.svg"]
    for name in names:
        assert f"wrote {plots / name}" in done.stdout
        if name.endswith(".png"):
            assert (plots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        else:
            assert ET.parse(plots / name).getroot().tag.endswith("svg")
    before = {n: (plots / n).read_bytes() for n in names}
    again = cli("coverage", source, "--subset", fixture_npz, "--plot-dir", str(plots))
    assert_one_line_error(again, "exists", "--force")
    assert {n: (plots / n).read_bytes() for n in os.listdir(plots)} == before
    forced = cli("coverage", source, "--subset", fixture_npz, "--plot-dir", str(plots), "--force")
    assert forced.returncode == 0, forced.stderr
    # Same inputs, same bytes.
    assert {n: (plots / n).read_bytes() for n in os.listdir(plots)} == before


def test_compare_strategies_writes_the_comparison_figure(cli, source, tmp_path):
    plots = tmp_path / "plots"
    done = cli("coverage", source, "--compare-strategies", "--subset-size", "16", "--plot-dir", str(plots), "--json")
    assert done.returncode == 0, done.stderr
    expected = [str(plots / "strategy_comparison.png"), str(plots / "strategy_comparison.svg")]
    assert json.loads(done.stdout)["plots"] == expected
    assert sorted(os.listdir(plots)) == ["strategy_comparison.png", "strategy_comparison.svg"]


def test_without_subset_prints_the_scan_statistics(cli, source, tmp_path):
    done = cli("coverage", source, "--json", "--plot-dir", str(tmp_path / "p"))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    x, y = positions(source)
    scan = report["scan"]
    assert scan["n_positions"] == 80
    assert_allclose([scan["x_range"], scan["y_range"]], [np.ptp(x), np.ptp(y)], rtol=1e-12)
    assert sorted(os.listdir(tmp_path / "p")) == ["scan_coverage.png", "scan_coverage.svg"]
    text = cli("coverage", source)
    assert "nn_median" in text.stdout
    assert "hull_area" in text.stdout


def test_damaged_sidecar_is_exit_2(cli, source, fixture_npz, tmp_path):
    (tmp_path / "fx.json").write_text("{not json")
    assert_one_line_error(cli("coverage", source, "--subset", fixture_npz), "fx.json", "not valid JSON")
    assert_one_line_error(cli("coverage", source, "--indices-from", str(tmp_path / "fx.json")), "not valid JSON")


def test_sidecar_of_another_subset_is_exit_2(cli, source, fixture_npz, tmp_path):
    record = json.loads((tmp_path / "fx.json").read_text())
    record["indices"] = [i + 1 for i in record["indices"][:-1]] + [0]
    (tmp_path / "fx.json").write_text(json.dumps(record))
    assert_one_line_error(cli("coverage", source, "--subset", fixture_npz), "row", "differ")


def test_sidecar_of_a_larger_source_is_exit_2(cli, source, tmp_path):
    sidecar = write_sidecar(tmp_path / "big.json", [0, 500], n_source=1000)
    assert_one_line_error(cli("coverage", source, "--indices-from", sidecar), "1000 positions", "80")


def test_subset_not_cut_from_the_source_is_exit_2(cli, source, make_npz, tmp_path):
    other = make_npz("other.npz", n=20, h=8, w=8, seed=5)  # different jitter
    assert_one_line_error(cli("coverage", source, "--subset", other), "other.npz", "not positions of")


def test_duplicate_source_positions_are_matched_to_distinct_indices(cli, make_npz):
    arrays = dataset_arrays(n=30, h=8, w=8)
    arrays["xcoords"][5], arrays["ycoords"][5] = arrays["xcoords"][4], arrays["ycoords"][4]
    src = make_npz("dup.npz", arrays=arrays)
    sub = {k: v[[1, 4, 5, 20]] if k in ("xcoords", "ycoords") else v for k, v in arrays.items()}
    fx = make_npz("sub.npz", arrays=sub)
    done = cli("coverage", src, "--subset", fx, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["metrics"]["n_subset"] == 4


USAGE = [
    pytest.param(["--compare-strategies", "--subset-size", "81"], "out of range", id="size-too-big"),
    pytest.param(["--compare-strategies", "--subset-size", "0"], "out of range", id="size-zero"),
    pytest.param(["--subset-size", "16"], "--compare-strategies", id="size-without-compare"),
    pytest.param(["--min-occupancy", "0.5"], "--subset", id="threshold-without-subset"),
    pytest.param(["--cell-size", "2"], "--subset", id="cell-size-without-subset"),
]


@pytest.mark.parametrize(("args", "fragment"), USAGE)
def test_usage_errors_are_exit_2(cli, source, args, fragment):
    assert_one_line_error(cli("coverage", source, *args), fragment)


def test_missing_source_is_exit_2(cli, tmp_path):
    assert_one_line_error(cli("coverage", str(tmp_path / "nope.npz")), "nope.npz", "does not exist")


def test_subset_options_are_mutually_exclusive(cli, source, fixture_npz):
    done = cli("coverage", source, "--subset", fixture_npz, "--compare-strategies")
    assert done.returncode == 2
    assert "not allowed with" in done.stderr


def test_cxi_source_works(cli, tmp_path):
    from cxi_files import write_cxi

    path = str(tmp_path / "scan.cxi")
    write_cxi(path, n=36, h=16, w=16)
    done = cli(
        "coverage", path, "--compare-strategies", "--subset-size", "9", "--json", "--plot-dir", str(tmp_path / "plots")
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["units"] == "object pixels"
    assert list(report["strategies"]) == list(STRATEGIES)
    assert all(m["n_source"] == 36 for m in report["strategies"].values())
    assert sorted(os.listdir(tmp_path / "plots")) == ["strategy_comparison.png", "strategy_comparison.svg"]


def test_library_errors_name_the_flags(cli, source, make_npz, tmp_path):
    taken = tmp_path / "taken"
    taken.write_text("")
    assert_one_line_error(
        cli("coverage", source, "--plot-dir", str(taken)), f"error: --plot-dir '{taken}' is a file; give a folder"
    )
    other = make_npz("other.npz", n=20, h=8, w=8, seed=5)
    assert_one_line_error(
        cli("coverage", source, "--subset", other),
        "; pass the source it was cut from, or its sidecar with --indices-from",
    )
