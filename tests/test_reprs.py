"""Reports shown in a notebook: a short repr, and a rich rendering for Jupyter."""

from __future__ import annotations

import numpy as np
import pytest

from ptyevidence import build_gap_matrix, make_fixture, validate_dataset, verify_fixture
from ptyevidence.coverage import scan_coverage
from ptyevidence.gap import DEFAULT_LEFT, DEFAULT_RIGHT


@pytest.fixture
def source(make_npz) -> str:
    return make_npz("scan.npz", n=40)


def test_validation_report(source):
    report = validate_dataset(source)
    assert repr(report) == f"<ValidationReport {report.verdict}>"
    assert len(repr(report)) < 200 < len(str(report.to_dict()))
    assert report._repr_markdown_() == report.to_markdown()


def test_fixture_result_and_verify_report(source, tmp_path):
    made = make_fixture(source, tmp_path / "fx.npz", 16)
    text = repr(made)
    assert text.startswith(f"<FixtureResult '{made.path}': 16 of 40 positions (stratified-index, seed 0)")
    assert text.endswith("contract PASS>")
    assert len(text) < 200
    assert made.to_text() in made._repr_markdown_()
    verified = verify_fixture(made.path)
    assert repr(verified) == f"<VerifyReport {verified.verdict}>"
    table = verified._repr_markdown_()
    assert table.startswith(f"**{verified.verdict}**")
    assert table.count("\n| ok |") == len(verified.checks)


def test_coverage_metrics():
    gy, gx = np.divmod(np.arange(100), 10)
    m = scan_coverage(gx * 1.0, gy * 1.0, np.arange(0, 100, 9))
    assert repr(m).startswith(
        f"<CoverageMetrics 12 of 100 positions: occupancy {m.occupancy:.3g} (ceiling {m.occupancy_ceiling:.3g})"
    )
    markdown = m._repr_markdown_()
    assert "| occupancy_ceiling |" in markdown
    assert "| largest_gap |" in markdown


def test_gap_matrix():
    matrix = build_gap_matrix(DEFAULT_LEFT, DEFAULT_RIGHT)
    text = repr(matrix)
    assert text.startswith(f"<GapMatrix {DEFAULT_LEFT} vs {DEFAULT_RIGHT}: {len(matrix.rows)} roles (")
    assert len(text) < 300
    assert matrix._repr_markdown_() == matrix.to_markdown()
