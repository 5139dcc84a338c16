"""Finding a fixture's source indices: sidecar checks and exact position matching."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest

from conftest import dataset_arrays
from ptyevidence.coverage import (
    ScanPositions,
    match_positions,
    match_subset,
    read_positions,
    subset_from_sidecar,
)
from ptyevidence.exceptions import InputError
from ptyevidence.fixture import make_fixture


def positions(x, y, path: str) -> ScanPositions:
    return ScanPositions(path, "npz", "pixels", np.asarray(x, float), np.asarray(y, float))


@pytest.fixture
def source(make_npz) -> str:
    return make_npz("scan.npz", n=80, h=8, w=8)


@pytest.fixture
def fixture_npz(source, tmp_path) -> str:
    out = str(tmp_path / "fx.npz")
    make_fixture(source, out, subset_size=20, strategy="grid", source_hash="none")
    return out


def test_positions_match_exactly_in_any_row_order_with_duplicates():
    #            0    1    2    3    4    5
    sx = [0.0, 1.0, 1.0, 2.0, 1.0, -0.0]
    sy = [0.0, 5.0, 5.0, 3.0, 5.0, 7.0]
    source = positions(sx, sy, "s.npz")
    fixture = positions([2.0, 1.0, 0.0, 1.0], [3.0, 5.0, 0.0, 5.0], "f.npz")
    assert match_positions(fixture, source).tolist() == [3, 1, 0, 2]
    too_many = positions([1.0] * 4, [5.0] * 4, "f.npz")
    with pytest.raises(InputError, match="has 4 positions at \\(1, 5\\) but 's.npz' has 3"):
        match_positions(too_many, source)
    stranger = positions([0.0, 2.0], [0.0, 3.5], "f.npz")
    with pytest.raises(InputError, match="row 1 at \\(2, 3.5\\), nearest source position 3 at distance 0.5"):
        match_positions(stranger, source)
    # The library points to its own way in, not to a command-line flag.
    with pytest.raises(InputError, match="subset_from_sidecar") as caught:
        match_positions(stranger, source)
    assert caught.value.path == "f.npz"


def test_match_subset_reads_the_sidecar_beside_the_fixture(source, fixture_npz, tmp_path):
    record = json.loads((tmp_path / "fx.json").read_text())
    subset = match_subset(source, fixture_npz)
    assert (subset.origin, subset.path, subset.sidecar) == ("sidecar", fixture_npz, str(tmp_path / "fx.json"))
    assert subset.indices.dtype == np.int64
    assert subset.indices.tolist() == record["indices"]
    # Without the sidecar the same indices come from the positions, in fixture row order.
    os.remove(tmp_path / "fx.json")
    matched = match_subset(read_positions(source), fixture_npz)
    assert (matched.origin, matched.sidecar) == ("positions", None)
    assert matched.indices.tolist() == record["indices"]


def test_match_subset_refuses_a_sidecar_of_another_fixture(source, fixture_npz, tmp_path):
    record = json.loads((tmp_path / "fx.json").read_text())
    record["indices"] = [i + 1 for i in record["indices"][:-1]] + [0]
    (tmp_path / "fx.json").write_text(json.dumps(record))
    with pytest.raises(InputError, match="row 0 is at .* rows differ") as caught:
        match_subset(source, fixture_npz)
    assert caught.value.path == str(tmp_path / "fx.json")
    record["indices"] = record["indices"][:-1]
    (tmp_path / "fx.json").write_text(json.dumps(record))
    with pytest.raises(InputError, match="lists 19 indices but fixture .* has 20 positions"):
        match_subset(source, fixture_npz)


def write_sidecar(path, indices, n_source: int) -> str:
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


@pytest.mark.parametrize(
    ("indices", "n_source", "match"),
    [
        pytest.param([0, 500], 1000, "a source of 1000 positions but .* has 80", id="other-source"),
        pytest.param([], 80, "lists no indices", id="empty"),
        pytest.param([3, 80], 80, "index 80 is outside the 80 positions", id="out-of-range"),
        pytest.param([3, -1], 80, "index -1 is outside", id="negative"),
        pytest.param([3, 3], 80, "repeated indices", id="repeated"),
    ],
)
def test_bad_sidecar_indices_are_input_errors(source, tmp_path, indices, n_source, match):
    sidecar = write_sidecar(tmp_path / "pick.json", indices, n_source)
    with pytest.raises(InputError, match=match) as caught:
        subset_from_sidecar(source, sidecar)
    assert caught.value.path == sidecar


def test_subset_from_sidecar(source, tmp_path):
    sidecar = write_sidecar(tmp_path / "pick.json", [70, 0, 9], n_source=80)
    subset = subset_from_sidecar(source, sidecar)
    assert subset.indices.tolist() == [70, 0, 9]
    assert (subset.origin, subset.path, subset.sidecar) == ("sidecar", sidecar, sidecar)
    with pytest.raises(InputError, match="does not exist"):
        subset_from_sidecar(source, tmp_path / "nope.json")


def test_read_positions_reports_format_units_and_float64(make_npz):
    arrays = dataset_arrays(n=30, h=8, w=8)
    arrays["xcoords"] = arrays["xcoords"].astype(np.float32)
    path = make_npz("f32.npz", arrays=arrays)
    got = read_positions(path)
    assert (got.path, got.format, got.units) == (path, "npz", "object pixels")
    assert got.x.dtype == got.y.dtype == np.float64
    np.testing.assert_array_equal(got.x, arrays["xcoords"].astype(np.float64))


@pytest.mark.parametrize(
    ("change", "minimum", "match"),
    [
        pytest.param(
            {"xcoords": np.array([1.0, np.inf, 2.0])},
            2,
            "hold 1 non-finite position\\(s\\), first at index 1",
            id="inf",
        ),
        pytest.param(
            {"xcoords": np.array([1.0]), "ycoords": np.array([2.0])},
            2,
            "has 1 scan position\\(s\\); coverage needs at least 2",
            id="too-few",
        ),
        pytest.param({"ycoords": np.zeros(2)}, 1, "xcoords has shape \\(3,\\) and ycoords \\(2,\\)", id="lengths"),
    ],
)
def test_read_positions_refuses_unusable_positions(tmp_path, change, minimum, match):
    arrays = {"xcoords": np.arange(3.0), "ycoords": np.zeros(3), **change}
    path = str(tmp_path / "pos.npz")
    np.savez(path, **arrays)
    with pytest.raises(InputError, match=f"^'{re.escape(path)}'.*{match}") as caught:
        read_positions(path, minimum=minimum)
    assert caught.value.path == path
