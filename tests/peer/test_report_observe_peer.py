"""``ptyevidence report --observe`` on the demo dataset against the real PtychoPINN (needs its environment).

Set PTYEVIDENCE_PEER_PYTHON to the interpreter of an environment with PtychoPINN, TensorFlow
and PyTorch; the report's notebooks run in this interpreter, the pipelines in that one.
"""

from __future__ import annotations

import csv
import json

import pytest

from conftest import run_cli
from peer_env import require_peer

PEER = require_peer()


@pytest.mark.notebook
def test_the_demo_report_observed_by_ptychopinn_has_its_columns_and_no_drift(tmp_path):
    out = tmp_path / "report"
    proc = run_cli("report", "--observe", "--python", PEER, "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "observed on the fixture: 0 contract drift items" in proc.stdout
    verdict = json.loads((out / "summary.json").read_text(encoding="utf-8"))["verdicts"]["gap_matrix"]
    assert verdict["observed"] is True
    assert verdict["drift"] == 0
    with open(out / "torch_gap_matrix.csv", encoding="utf-8", newline="") as fh:
        rows = {r["role"]: r for r in csv.DictReader(fh)}
    grouped = rows["diffraction.grouped"]
    for g in (1, 2):
        assert grouped[f"left_observed_g{g}"].startswith("`diffraction` (B,N,N,C) = ")
        assert grouped[f"right_observed_g{g}"].startswith("`images` (L,C,H,W) = ")
        assert "equal" in grouped[f"parity_g{g}"]
    assert verdict["rows_with_observations"] >= 10
    run = json.loads((out / "observe" / "run.json").read_text(encoding="utf-8"))
    assert run["interpreter"]["python"] == PEER
    assert "#### Drift at gridsize 1\n\nNone: every testable claim holds." in (out / "torch_gap_matrix.md").read_text(
        encoding="utf-8"
    )
