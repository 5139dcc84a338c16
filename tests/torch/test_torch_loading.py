"""DataLoader checks of ptyevidence.gap.torch_check; needs PyTorch (skipped without it)."""

from __future__ import annotations

import importlib.util
import json
import os

import numpy as np
import numpy.testing as npt
import pytest

# pytest puts tests/ on sys.path, where this very folder would import as an
# empty namespace package called "torch" when PyTorch is absent; only a real
# installation counts.
_spec = importlib.util.find_spec("torch")
if _spec is None or _spec.origin is None:
    pytest.skip("PyTorch is not installed", allow_module_level=True)
torch = pytest.importorskip("torch")

from conftest import dataset_arrays, run_cli
from ptyevidence import load_contract
from ptyevidence.gap.torch_check import (
    FixtureDataset,
    check_torch_loading,
    expected_dtype,
    observed_torch_column,
)
from ptyevidence.writers.npz import write_npz

pytestmark = pytest.mark.torch

N_POSITIONS = 20


@pytest.fixture
def arrays() -> dict[str, np.ndarray]:
    return dataset_arrays(n=N_POSITIONS, h=8, w=8, seed=3, object_shape=(24, 20))


@pytest.fixture
def fixture_npz(tmp_path, arrays) -> str:
    return write_npz(os.path.join(tmp_path, "fixture.npz"), arrays)


def _by_name(report):
    return {t.name: t for t in report.tensors}


def test_check_torch_loading_passes_on_a_generated_fixture(fixture_npz, arrays):
    report = check_torch_loading(fixture_npz, batch_size=8, num_workers=(0, 2))
    assert report.ok, report.to_text()
    assert report.num_workers == (0, 2)
    assert report.n_items == N_POSITIONS
    roles = {f.name: f.role for f in load_contract("data001").fields}
    tensors = _by_name(report)
    assert set(tensors) == set(arrays)
    for name, value in arrays.items():
        t = tensors[name]
        assert t.dtype == f"torch.{expected_dtype(roles[name])}", name
        item_shape = value.shape[1:] if t.per_item else value.shape
        assert t.item_shape == item_shape
        assert t.batch_shape == (8, *item_shape)
        assert t.contiguous
        assert t.exact
        assert t.max_abs_error == 0.0


def test_check_torch_loading_reports_the_pipeline_dtypes(fixture_npz):
    tensors = _by_name(check_torch_loading(fixture_npz, num_workers=(0,)))
    assert tensors["diffraction"].dtype == "torch.float32"
    assert tensors["probeGuess"].dtype == "torch.complex64"
    assert tensors["objectGuess"].dtype == "torch.complex64"
    assert tensors["xcoords"].dtype == "torch.float64"
    assert tensors["scan_index"].dtype == "torch.int64"
    assert tensors["diffraction"].per_item
    assert not tensors["probeGuess"].per_item


def test_dataloader_with_workers_keeps_row_order(fixture_npz, arrays):
    """Independent route: batches compared with the arrays that were written."""
    loader = torch.utils.data.DataLoader(FixtureDataset(fixture_npz), batch_size=6, num_workers=2)
    batches = list(loader)
    assert [len(b["xcoords"]) for b in batches] == [6, 6, 6, 2]
    frames = torch.cat([b["diffraction"] for b in batches]).numpy()
    npt.assert_array_equal(frames, arrays["diffraction"])
    npt.assert_array_equal(frames[:, 0, 0], np.arange(N_POSITIONS, dtype=np.float32) / 1000)
    npt.assert_array_equal(torch.cat([b["ycoords"] for b in batches]).numpy(), arrays["ycoords"])
    npt.assert_array_equal(batches[-1]["probeGuess"][1].numpy(), arrays["probeGuess"])


def test_fixture_dataset_memory_maps_uncompressed_members(fixture_npz, tmp_path, arrays):
    mapped = FixtureDataset(fixture_npz).arrays()
    assert isinstance(mapped["diffraction"], np.memmap)
    zipped = write_npz(os.path.join(tmp_path, "zipped.npz"), arrays, compress=True)
    assert not isinstance(FixtureDataset(zipped).arrays()["diffraction"], np.memmap)


def test_compressed_fixture_gives_the_same_report(fixture_npz, tmp_path, arrays):
    zipped = write_npz(os.path.join(tmp_path, "zipped.npz"), arrays, compress=True)
    plain = check_torch_loading(fixture_npz, num_workers=(0,)).to_dict()
    packed = check_torch_loading(zipped, num_workers=(0,)).to_dict()
    assert packed["ok"]
    assert {**plain, "path": None} == {**packed, "path": None}


def test_float32_coordinates_are_rounded_but_pass(fixture_npz, arrays):
    report = check_torch_loading(fixture_npz, coords_dtype="float32", num_workers=(0,))
    assert report.ok, report.to_text()
    x = _by_name(report)["xcoords"]
    assert x.dtype == "torch.float32"
    assert not x.exact
    worst = np.abs(arrays["xcoords"].astype(np.float32).astype(np.float64) - arrays["xcoords"]).max()
    assert x.max_abs_error == pytest.approx(worst)
    # Whole-pixel start positions are exact in float32.
    assert _by_name(report)["xcoords_start"].exact


def test_legacy_fortran_big_endian_file_loads_canonical_frames(tmp_path, arrays):
    odd = dict(arrays)
    odd["diff3d"] = np.moveaxis(odd.pop("diffraction"), 0, -1).copy()
    odd["objectGuess"] = np.asfortranarray(arrays["objectGuess"])
    odd["xcoords"] = arrays["xcoords"].astype(">f8")
    path = write_npz(os.path.join(tmp_path, "legacy.npz"), odd)
    report = check_torch_loading(path, num_workers=(0, 2))
    assert report.ok, report.to_text()
    assert report.layout == "legacy"
    tensors = _by_name(report)
    assert tensors["diff3d"].role == "diffraction"
    assert tensors["diff3d"].item_shape == (8, 8)
    assert tensors["xcoords"].source_dtype == "float64"
    assert any("alias" in n for n in report.notes)
    frames = torch.stack([FixtureDataset(path)[i]["diff3d"] for i in range(N_POSITIONS)])
    npt.assert_array_equal(frames.numpy(), arrays["diffraction"])


def test_missing_required_probe_fails_the_check(tmp_path, arrays):
    del arrays["probeGuess"]
    path = write_npz(os.path.join(tmp_path, "noprobe.npz"), arrays)
    report = check_torch_loading(path, num_workers=(0,))
    assert not report.ok
    assert report.missing == ("probeGuess",)
    assert observed_torch_column(report)["probe"] == "missing from the file"
    assert report.verdict.startswith("FAIL")


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda item: {**item, "diffraction": item["diffraction"].double()}, "dtype torch.float64"),
        (lambda item: {**item, "objectGuess": item["objectGuess"].t()}, "not contiguous"),
        (lambda item: {**item, "xcoords": item["xcoords"] + 1}, "differ from the file"),
    ],
    ids=["wrong-dtype", "transposed", "shifted-values"],
)
def test_check_flags_a_dataset_that_delivers_the_wrong_tensors(fixture_npz, monkeypatch, damage, problem):
    honest = FixtureDataset.__getitem__
    monkeypatch.setattr(FixtureDataset, "__getitem__", lambda self, i: damage(honest(self, i)))
    report = check_torch_loading(fixture_npz, num_workers=(0,))
    assert not report.ok
    problems = [p for t in report.tensors for p in t.problems]
    assert any(problem in p for p in problems), problems


def test_observed_torch_column_has_one_cell_per_role(fixture_npz):
    report = check_torch_loading(fixture_npz, num_workers=(0,))
    by_role = observed_torch_column(report)
    assert set(by_role) == {t.role for t in report.tensors}
    assert by_role["diffraction"] == "torch.float32 (8, 8) per item; exact"
    by_field = observed_torch_column(report, key="field")
    assert set(by_field) == {t.name for t in report.tensors}


def test_report_to_dict_is_json_and_deterministic(fixture_npz):
    first = check_torch_loading(fixture_npz).to_dict()
    assert json.loads(json.dumps(first)) == first
    assert check_torch_loading(fixture_npz).to_dict() == first


def test_torch_check_cli_on_a_fixture_made_by_fixture_make(tmp_path, arrays):
    source = write_npz(os.path.join(tmp_path, "scan.npz"), dataset_arrays(n=40, seed=5))
    fixture = os.path.join(tmp_path, "fixture.npz")
    made = run_cli("fixture", "make", "--source", source, "--output", fixture, "--subset-size", "16")
    assert made.returncode == 0, made.stderr
    result = run_cli("torch-check", fixture, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["ok"]
    assert data["n_items"] == 16
    assert data["num_workers"] == [0, 2]
    table = run_cli("torch-check", fixture)
    assert table.returncode == 0
    assert table.stdout.splitlines()[-1].startswith("PASS")


def test_torch_check_cli_exits_1_on_a_mismatch(tmp_path, arrays):
    del arrays["objectGuess"]
    path = write_npz(os.path.join(tmp_path, "noobject.npz"), arrays)
    result = run_cli("torch-check", path)
    assert result.returncode == 1
    assert "missing: objectGuess" in result.stdout
    assert "Traceback" not in result.stderr


def test_torch_check_cli_refuses_a_file_without_diffraction(tmp_path, arrays):
    del arrays["diffraction"]
    path = write_npz(os.path.join(tmp_path, "nodiff.npz"), arrays)
    result = run_cli("torch-check", path)
    assert result.returncode == 2
    assert "has no 'diffraction' array" in result.stderr
    assert "Traceback" not in result.stderr
