"""``ptyevidence report --observe``: PtychoPINN's pipelines run on the report's fixture, into the gap matrix.

The pipelines are the stand-in checkout of ``_fake_ptychopinn`` (``--ptychopinn``); the real
PtychoPINN runs in ``tests/peer/test_report_observe_peer.py``.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from _fake_ptychopinn import make_fake
from _observe_runs import fixture_arrays
from ptyevidence.demo import make_demo_data


def _csv(path):
    with open(path, encoding="utf-8", newline="") as fh:
        return {r["role"]: r for r in csv.DictReader(fh)}


def test_without_ptychopinn_observe_fails_up_front_with_the_observe_message(tmp_path, cli):
    out = tmp_path / "o"
    np.savez(tmp_path / "fixture.npz", **fixture_arrays())
    report = cli("report", "--observe", "--out", str(out))
    observe = cli("observe", str(tmp_path / "fixture.npz"), "--out", str(tmp_path / "observed"))
    assert report.returncode == 2
    assert report.stderr.count("\n") == 1
    assert "PtychoPINN and TensorFlow and PyTorch not importable" in report.stderr
    assert "--python PATH" in report.stderr
    assert not out.exists()
    # Word for word the line observe gives for the same interpreter.
    assert observe.returncode == 2
    assert report.stderr == observe.stderr


def test_where_ptychopinn_runs_goes_with_observe(tmp_path, cli):
    result = cli("report", "--ptychopinn", str(tmp_path), "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "--observe" in result.stderr
    assert not (tmp_path / "o").exists()


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sources")
    return [
        make_demo_data(folder / f"{name}.npz", n_positions=150, seed=seed)
        for name, seed in (("first", 3), ("second", 4))
    ]


@pytest.mark.notebook
def test_an_observed_report_shows_the_observed_columns_and_no_drift(tmp_path, cli, sources):
    out = tmp_path / "report"
    result = cli(
        "report",
        "--source",
        sources[0],
        "--observe",
        "--ptychopinn",
        make_fake(tmp_path / "fake"),
        "--subset-size",
        "32",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    assert "observed on the fixture: 0 contract drift items" in result.stdout
    run = json.loads((out / "observe" / "run.json").read_text(encoding="utf-8"))
    assert run["fixture"]["path"] == str(out / "fixture.npz")  # the fixture this report cut
    assert run["gridsizes"] == [1, 2]
    rows = _csv(out / "torch_gap_matrix.csv")
    grouped = rows["diffraction.grouped"]
    for g in (1, 2):
        assert grouped[f"left_observed_g{g}"].startswith("`diffraction` (B,N,N,C) = ")
        assert grouped[f"right_observed_g{g}"].startswith("`images` (L,C,H,W) = ")
        assert "equal" in grouped[f"parity_g{g}"]
        assert all(not r[f"drift_g{g}"] for r in rows.values())
    document = (out / "torch_gap_matrix.md").read_text(encoding="utf-8")
    assert "## Observed gap matrix: PtychoPINN on " in document
    assert "#### Drift at gridsize 2\n\nNone: every testable claim holds." in document

    verdict = json.loads((out / "summary.json").read_text(encoding="utf-8"))["verdicts"]["gap_matrix"]
    observed = sum(any(v for k, v in r.items() if "observed" in k) for r in rows.values())
    assert (verdict["observed"], verdict["drift"], verdict["rows_with_observations"]) == (True, 0, observed)
    assert 0 < observed < len(rows)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["artifacts"]["observe/observe.json"] == "observe/observe.json"
    assert summary["parameters"]["observe_fixture"] == "fixture.npz"
    index = (out / "index.html").read_text(encoding="utf-8")
    assert f"{observed} roles observed" in index
    assert 'href="observe/observe.json"' in index


@pytest.mark.notebook
def test_an_observed_batch_has_one_gap_matrix_per_report_with_its_drift(tmp_path, cli, sources):
    out = tmp_path / "reports"
    fake = make_fake(tmp_path / "fake", behaviour="drift")  # non-zero labels: one drift item per gridsize
    result = cli(
        "report", "--source", *sources, "--observe", "--ptychopinn", fake, "--subset-size", "16", "--out", str(out)
    )
    assert result.returncode == 0, result.stderr  # drift is reported, not a failure (as with observe)
    assert not (out / "torch_gap_matrix.md").exists()  # the matrix depends on each fixture now
    top = (out / "index.html").read_text(encoding="utf-8")
    assert "the same for every source" not in top
    for stem in ("first", "second"):
        summary = json.loads((out / stem / "summary.json").read_text(encoding="utf-8"))
        assert summary["verdicts"]["gap_matrix"]["drift"] == 2
        rows = _csv(out / stem / "torch_gap_matrix.csv")
        assert "label_amp (claim labels-zero)" in rows["ground_truth"]["drift_g1"]
        assert f'href="{stem}/torch_gap_matrix.md.html">observed gap matrix</a> (2 drift)' in top
