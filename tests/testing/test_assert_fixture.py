"""assert_fixture and load_fixture, the helpers a test suite calls directly."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import dataset_arrays
from ptyevidence.contract import load_contract
from ptyevidence.exceptions import InputError
from ptyevidence.fixture import VerifyCheck, VerifyReport, make_fixture
from ptyevidence.testing import (
    assert_fixture,
    load_fixture,
    recorded_thresholds,
    verify_table,
)


@pytest.fixture
def source(tmp_path) -> str:
    path = str(tmp_path / "scan.npz")
    np.savez(path, **dataset_arrays(n=40, h=8, w=8))
    return path


@pytest.fixture
def made(tmp_path, source):
    return make_fixture(source, str(tmp_path / "fx.npz"), subset_size=16)


def _tamper(made, tmp_path) -> str:
    with np.load(made.path) as f:
        arrays = dict(f)
    arrays["ycoords"][3] += 0.5
    path = str(tmp_path / "tampered.npz")
    np.savez(path, **arrays)
    return path


def test_a_matching_fixture_passes_and_returns_its_report(made, source):
    report = assert_fixture(made.path, source=source)
    assert report.ok
    assert any(c.name == "rows.diffraction" for c in report.checks)


def test_a_tampered_fixture_fails_with_the_verify_table(tmp_path, made, source):
    tampered = _tamper(made, tmp_path)
    with pytest.raises(AssertionError) as caught:
        assert_fixture(tampered, metadata=made.metadata_path, source=source)
    lines = str(caught.value).splitlines()
    assert lines[0].startswith("FAIL: ")
    assert "3 of" in lines[0]
    assert lines[1].split() == ["CHECK", "RECORDED", "FOUND"]
    rows = {line.split()[0]: line for line in lines[2:5]}
    assert set(rows) == {"sha256_checksum", "content_digests.ycoords", "rows.ycoords"}
    recorded = made.sidecar["content_digests"]["ycoords"]
    assert recorded[:16] in rows["content_digests.ycoords"]
    assert recorded not in rows["content_digests.ycoords"]  # digests shortened to 16 digits
    assert "1 of 16 rows differ from the source" in rows["rows.ycoords"]
    assert lines[-1].endswith("other checks passed)")


def test_a_profile_adds_a_contract_the_fixture_must_pass(tmp_path, made):
    assert_fixture(made.path, profile="data001")
    strict = load_contract("data001").to_dict()
    next(r for r in strict["rules"] if r["id"] == "diffraction-normalized")["value"] = 0.5
    path = tmp_path / "strict.json"
    path.write_text(json.dumps(strict))
    with pytest.raises(AssertionError, match="profile.data001") as caught:
        assert_fixture(made.path, profile=str(path))
    assert "diffraction-normalized" in str(caught.value)


def test_thresholds_come_from_arguments_then_from_the_sidecar(tmp_path, made):
    ratio = made.sidecar["coverage"]["x_range_ratio"]
    with pytest.raises(AssertionError, match="coverage.x_range_ratio"):
        assert_fixture(made.path, min_range_ratio=ratio)  # verify needs the ratio above R
    with open(made.metadata_path) as fh:
        record = json.load(fh)
    record["thresholds"] = {"min_range_ratio": ratio}
    with open(made.metadata_path, "w") as fh:
        json.dump(record, fh)
    with pytest.raises(AssertionError, match="coverage.x_range_ratio"):
        assert_fixture(made.path)
    assert assert_fixture(made.path, min_range_ratio=0.1).ok
    assert recorded_thresholds(record) == {"min_range_ratio": ratio}
    assert recorded_thresholds({"thresholds": {"min_occupancy": True}}) == {}


def test_unusable_input_is_not_an_assertion(tmp_path):
    with pytest.raises(InputError):
        assert_fixture(str(tmp_path / "missing.npz"))


def test_verify_table_prefers_checks_that_carry_recorded_and_found():
    class Check(VerifyCheck):
        recorded = "7 rows"
        found = "8 rows"

    report = VerifyReport("fx.npz", "fx.json", checks=[Check("subset_size", False, "whatever")])
    table = verify_table(report, record={})
    assert table.splitlines()[-1].split() == ["subset_size", "7", "rows", "8", "rows"]


def test_verify_table_lists_every_check_when_asked(made):
    from ptyevidence.fixture import verify_fixture

    report = verify_fixture(made.path)
    table = verify_table(report, failures_only=False)
    assert len(table.splitlines()) == 2 + len(report.checks)
    assert "other checks passed" not in table


def test_load_fixture_reads_arrays_record_and_metadata(made):
    fixture = load_fixture(made.path)
    with np.load(made.path, allow_pickle=False) as f:
        expected = {k: f[k] for k in f.files if k != "_metadata"}
    assert sorted(fixture) == sorted(expected)
    for key, value in expected.items():
        assert np.array_equal(fixture[key], value)
        assert fixture[key].dtype == value.dtype
    assert fixture.record["content_digests"] == made.sidecar["content_digests"]
    assert fixture.metadata["layout"] == "canonical"
    assert fixture.indices.tolist() == made.indices.tolist()
    assert fixture.sidecar_path == made.metadata_path


def test_each_load_gives_fresh_arrays(made):
    first = load_fixture(made.path)
    first["xcoords"][0] = -1.0
    assert load_fixture(made.path)["xcoords"][0] != -1.0
