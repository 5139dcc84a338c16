"""The consumer profiles against PtychoPINN's real loaders (needs the peer's interpreter).

Every case of ``consumer_cases`` is given to the loader its profile describes
(``tests/peer/loaders.py``, run in ``PTYEVIDENCE_PEER_PYTHON``): a file the
profile refuses is one the loader refuses, with the exception the rule cites,
and a file the profile warns about is one the loader takes silently. Also: a
PtychoPINN-written file (``MetadataManager.save_with_metadata``, a pickled
``_metadata``) is read by ptyevidence without unpickling, and a fixture's
``_metadata`` is read by ``MetadataManager.load_with_metadata``.
"""

from __future__ import annotations

import json
import re

import pytest

from consumer_cases import CASES, good_arrays
from peer_env import ptyevidence_cli, require_peer, run_loaders
from ptyevidence.contract import validate_dataset

require_peer()


@pytest.fixture(scope="module")
def observed(tmp_path_factory):
    """Every case written and given to its loader, in one peer process."""
    folder = tmp_path_factory.mktemp("profiles-peer")
    paths = {case.rule: case.write(str(folder / "files")) for case in CASES}
    jobs = [{"id": case.rule, "path": paths[case.rule], **case.loader} for case in CASES]
    return paths, run_loaders(jobs, folder / "run")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.rule)
def test_profile_and_loader_agree(case, observed):
    paths, results = observed
    got = results[case.rule]
    expected = case.loader
    if "raises" in expected:
        assert not got["accepted"], got
        assert got["raises"] == expected["raises"], got
        assert re.search(expected["match"], got["message"]), got
    else:
        assert got["accepted"], got
        for key, want in expected.get("observe", {}).items():
            if key.endswith("_above"):
                assert got[key.removesuffix("_above")] > want, (key, got)
            elif key.endswith("_below"):
                assert got[key.removesuffix("_below")] < want, (key, got)
            else:
                assert got[key] == want, (key, got)
    report = validate_dataset(paths[case.rule], case.profile)
    mine = {f.severity for f in report.findings if f.rule == case.rule}
    if not case.severity:
        assert report.errors == [], report.to_text()
        assert report.warnings == [], report.to_text()
    else:
        assert mine == {case.severity}, report.to_text()
        # What the loader refuses the profile refuses, for that rule alone.
        assert {f.rule for f in report.errors} <= {case.rule}, report.to_text()
    # An error is a file the default loader refuses; a warning one it takes (unless another setting refuses it).
    refused = "raises" in expected and case.rule not in _CONFIG_DEPENDENT
    assert (case.severity == "error") == refused, case.rule


#: Warnings whose refusal needs a loader setting other than the default (gridsize 2, the CI profile).
_CONFIG_DEPENDENT = {"tf-gs2-at-least-C-positions", "tf-gs2-finite-coords", "torch-ci-counts-nonnegative"}


def test_metadata_written_by_ptychopinn_is_read_without_unpickling(tmp_path):
    """save_with_metadata stores _metadata as a pickled 0-d object array; ptyevidence reads it as data."""
    import numpy as np

    source = tmp_path / "plain.npz"
    arrays = good_arrays()
    np.savez(source, **arrays)
    written = tmp_path / "ptychopinn.npz"
    meta = {"physics_parameters": {"nphotons": 1e7, "N": 64}, "data_transformations": []}
    result = run_loaders(
        [{"id": "save", "call": "save_metadata", "path": str(written), "source": str(source), "metadata": meta}],
        tmp_path / "run",
    )
    assert result["save"]["accepted"], result
    for contract in ("data001", "ptychopinn-tf", "ptychopinn-torch"):
        report = validate_dataset(written, contract)
        assert report.errors == [], report.to_text()
    from ptyevidence.readers import open_source, read_metadata_member

    with open_source(written) as src:
        assert src.info("_metadata").has_objects
        assert read_metadata_member(src)["physics_parameters"]["nphotons"] == 1e7


def test_a_fixture_metadata_is_read_by_ptychopinn(tmp_path):
    demo = tmp_path / "demo.npz"
    assert ptyevidence_cli("demo-data", str(demo), "--positions", "200").returncode == 0
    fixture = tmp_path / "fixture.npz"
    made = ptyevidence_cli("fixture", "make", "--source", str(demo), "--output", str(fixture))
    assert made.returncode == 0, made.stderr
    got = run_loaders([{"id": "meta", "call": "metadata", "path": str(fixture)}], tmp_path / "run")["meta"]
    assert got["accepted"], got
    metadata = got["metadata"]
    assert metadata["schema_version"] == "1.0.0"
    assert metadata["layout"] == "canonical"
    steps = [t["operation"] for t in metadata["data_transformations"]]
    assert steps == json.loads((tmp_path / "fixture.json").read_text())["transformations"]
    assert got["nphotons"] == -1.0  # the demo source records no nphotons: none is made up
