"""Empirical parity: dumps built with the documented transforms, each difference named."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from _gap_dumps import grouped_fixture, tf_grouped_dump, torch_mmap_dump
from ptyevidence import UsageError
from ptyevidence.gap import bind_dump, build_gap_matrix, capture, compare_dumps


@pytest.fixture(scope="module")
def matrix():
    return build_gap_matrix("ptychopinn-tf-grouped", "ptychopinn-torch-mmap")


def _compare(matrix, **torch_kw):
    return compare_dumps(matrix, tf_grouped_dump(), torch_mmap_dump(**torch_kw))


def test_channels_last_to_channels_first_is_found_and_verified(matrix):
    result = _compare(matrix).results["diffraction.grouped"]
    assert result.permutation == (0, 3, 1, 2)
    assert result.permutation_check == "verified"
    assert result.relation == "equal"
    assert result.text.startswith("permute(0,3,1,2) verified")


def test_float64_coordinates_arrive_as_float32(matrix):
    result = _compare(matrix).results["coords.absolute"]
    assert (result.left_dtype, result.right_dtype) == ("float64", "float32")
    assert result.relation == "allclose"
    assert "float64 → float32" in result.text
    # The differences are float32 rounding of positions of order 20 pixels.
    assert 0 < result.max_rel < 1e-6


def test_relative_offsets_agree_at_the_current_sign(matrix):
    assert _compare(matrix, sign=-1.0).results["coords.relative"].relation == "allclose"


def test_relative_offset_sign_flip_is_named(matrix):
    result = _compare(matrix, sign=+1.0).results["coords.relative"]
    assert result.relation == "sign-flip"
    assert "sign flip: right = −left" in result.text


def test_rms_constant_twice_the_tf_scale_is_named_as_a_ratio(matrix):
    report = _compare(matrix)
    # N^2 against (N/2)^2 under the square root: a factor of exactly 2.
    for role in ("scale.rms", "model_input.normalized"):
        result = report.results[role]
        assert result.relation == "ratio", role
        assert_allclose(result.ratio, 2.0, rtol=1e-5)
        assert "right = 2.000 × left" in result.text


def test_rms_constant_with_the_tf_formula_matches(matrix):
    report = _compare(matrix, rms_side_factor=0.5)
    assert report.results["scale.rms"].relation in ("equal", "allclose")
    assert report.results["model_input.normalized"].relation in ("equal", "allclose")


def test_matching_roles_are_equal_and_dumps_are_ok(matrix):
    report = _compare(matrix)
    assert report.ok
    assert report.results["nn_indices"].relation == "equal"
    assert report.results["object"].relation == "equal"


def test_roles_absent_from_a_dump_are_reported_not_compared(matrix):
    report = _compare(matrix)
    assert report.results["probe"].status == "missing"
    assert report.results["probe"].text == "not in the right dump"
    assert report.results["ground_truth"].text == "in neither dump"


def test_dump_in_the_wrong_layout_is_a_finding_not_a_crash(matrix):
    report = _compare(matrix, channels_last=True)
    assert not report.ok
    errors = [f for side, f in report.findings if side == "right" and f.severity == "error"]
    assert [f.field for f in errors] == ["images"]
    assert "it fits after permute(0,3,1,2)" in errors[0].message
    assert report.right.dims["C"] == 4  # bound by the fields that do match
    assert "H" not in report.right.dims  # only the broken array had bound it
    assert report.results["diffraction.grouped"].status == "missing"
    assert "breaks its contract" in report.results["diffraction.grouped"].text


def test_dtype_outside_the_contract_is_a_finding_but_still_compared(matrix):
    torch = torch_mmap_dump()
    torch["coords_relative"] = torch["coords_relative"].astype(np.float64)
    report = compare_dumps(matrix, tf_grouped_dump(), torch)
    dtype_findings = [f for _, f in report.findings if f.rule == "dtype"]
    assert [f.field for f in dtype_findings] == ["coords_relative"]
    assert report.results["coords.relative"].relation == "allclose"


def test_data_contradicting_the_contract_permutation_is_reported(matrix):
    torch = torch_mmap_dump()
    torch["images"] = np.ascontiguousarray(torch["images"].transpose(0, 1, 3, 2))  # rows <-> columns
    result = compare_dumps(matrix, tf_grouped_dump(), torch).results["diffraction.grouped"]
    assert result.permutation_check == "contradicted"
    assert result.best_permutation == (0, 3, 2, 1)
    assert "data fit permute(0,3,2,1) better" in result.text


def test_different_group_counts_are_not_compared(matrix):
    torch = {k: v[:4] if k != "objectGuess" else v for k, v in torch_mmap_dump().items()}
    result = compare_dumps(matrix, tf_grouped_dump(), torch).results["diffraction.grouped"]
    assert result.status == "not-compared"
    assert "differ" in result.text


def test_grouped_roles_say_when_the_dumps_hold_other_groups(matrix):
    torch = torch_mmap_dump()
    order = np.roll(np.arange(len(torch["nn_indices"])), 1)  # same groups, shifted by one
    torch = {k: v[order] if k not in ("objectGuess",) else v for k, v in torch.items()}
    report = compare_dumps(matrix, tf_grouped_dump(), torch)
    assert report.results["nn_indices"].relation == "differ"
    grouped = report.results["diffraction.grouped"]
    assert grouped.relation == "differ"
    assert "other groups: nn_indices differ" in grouped.text
    assert "other groups" not in report.results["object"].text
    assert "other groups" not in _compare(matrix).results["diffraction.grouped"].text


def test_derived_ratio_that_is_not_constant_warns(matrix):
    tf = tf_grouped_dump()
    tf["X_full"] = tf["X_full"] + np.float32(0.5)
    bound = bind_dump(tf, "ptychopinn-tf-grouped")
    assert [f.field for f in bound.findings if f.rule == "derive"] == ["normalize_data_scale"]


def test_dump_matching_no_field_is_an_error_finding():
    bound = bind_dump({"unrelated": np.zeros(3)}, "ptychopinn-tf-grouped")
    assert not bound.ok
    assert any(f.rule == "no-match" for f in bound.findings)


def test_object_array_in_a_dump_is_refused_without_unpickling(tmp_path, matrix):
    path = tmp_path / "tf.npz"
    arrays = tf_grouped_dump()
    np.savez(path, **arrays, nn_extra=np.array([{"a": 1}], dtype=object))
    bound = bind_dump(path, "ptychopinn-tf-grouped")
    unreadable = [f for f in bound.findings if f.rule == "unreadable"]
    assert [f.field for f in unreadable] == ["nn_extra"]
    assert "diffraction" in bound.arrays


def test_dumps_from_files_give_the_same_results_as_mappings(tmp_path, matrix):
    left, right = tmp_path / "tf.npz", tmp_path / "torch.npz"
    np.savez(left, **tf_grouped_dump())
    np.savez(right, **torch_mmap_dump(sign=1.0))
    from_files = compare_dumps(matrix, left, right)
    from_maps = _compare(matrix, sign=1.0)
    assert [r.text for r in from_files.results.values()] == [r.text for r in from_maps.results.values()]


def test_with_parity_adds_the_observed_column(matrix):
    observed = matrix.with_parity(_compare(matrix, sign=1.0))
    text = observed.to_markdown()
    assert "| Observed |" in text
    assert observed.row("coords.relative").observed.endswith("sign flip: right = −left")
    assert "## Parity of the tensor dumps" in text
    assert "observed" in observed.to_csv().splitlines()[0]


def test_negative_tolerance_is_refused(matrix):
    with pytest.raises(UsageError, match="non-negative"):
        compare_dumps(matrix, tf_grouped_dump(), torch_mmap_dump(), rtol=-1)


class _TorchLike:
    """Mimics a torch tensor: values reachable only through detach().cpu().numpy()."""

    def __init__(self, values):
        self._values = np.asarray(values)

    def detach(self):
        return self

    def cpu(self):
        return self

    def numpy(self):
        return self._values

    def __array__(self, *args, **kwargs):  # pragma: no cover - must not be the route taken
        msg = "capture must go through detach().cpu().numpy()"
        raise AssertionError(msg)


class _TfLike:
    """Mimics an eager TensorFlow tensor: values through .numpy()."""

    def __init__(self, values):
        self._values = np.asarray(values)

    def numpy(self):
        return self._values


def test_capture_converts_tensors_and_skips_none(tmp_path):
    _, nn, frames, _ = grouped_fixture()
    path = capture(
        {"images": _TorchLike(frames), "nn_indices": _TfLike(nn), "Y": None, "experiment_id": 0}, tmp_path / "dump.npz"
    )
    with np.load(path, allow_pickle=False) as data:
        assert sorted(data.files) == ["experiment_id", "images", "nn_indices"]
        np.testing.assert_array_equal(data["images"], frames)
        np.testing.assert_array_equal(data["nn_indices"], nn)


def test_capture_is_deterministic_and_refuses_to_overwrite(tmp_path):
    arrays = tf_grouped_dump()
    a = capture(arrays, tmp_path / "a.npz")
    b = capture(arrays, tmp_path / "b.npz")
    assert Path(a).read_bytes() == Path(b).read_bytes()
    with pytest.raises(UsageError, match="force=True"):
        capture(arrays, a)
    capture({"x": np.zeros(2)}, a, force=True)
    assert os.path.getsize(a) < os.path.getsize(b)


class _Unconvertible:
    """Mimics a tensor whose dtype numpy cannot represent (e.g. bfloat16)."""

    def numpy(self):
        msg = "Got unsupported ScalarType BFloat16"
        raise TypeError(msg)


@pytest.mark.parametrize("value", [object(), _Unconvertible()], ids=["object", "bfloat16-like"])
def test_capture_refuses_non_numeric_values(tmp_path, value):
    with pytest.raises(UsageError, match="'meta'"):
        capture({"meta": value, "x": np.zeros(2)}, tmp_path / "x.npz")
    assert not (tmp_path / "x.npz").exists()
