"""validate_dataset: one finding per broken rule, bound dimensions, streamed statistics."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import threading
from contextlib import contextmanager

import numpy as np
import numpy.testing as npt
import pytest

import npz_damage
from conftest import dataset_arrays
from ptyevidence.contract import validate as validate_module
from ptyevidence.contract.render import validation_markdown
from ptyevidence.contract.validate import ArrayStats, validate_dataset
from ptyevidence.exceptions import ContractError, InputError, UsageError
from ptyevidence.readers import npz as _npz

N, H, W = 20, 8, 8


def _arrays(**kw) -> dict[str, np.ndarray]:
    return dataset_arrays(n=N, h=H, w=W, **kw)


def _findings(report, severity: str | None = None) -> set[tuple[str, str, str]]:
    return {(f.rule, f.field, f.severity) for f in report.findings if severity is None or f.severity == severity}


# -- mutations: each breaks exactly one rule of data001 -------------------------------------


def _without(key):
    def mutate(a):
        del a[key]

    return mutate


def _retype(key, dtype):
    def mutate(a):
        a[key] = a[key].astype(dtype)

    return mutate


def _replace(key, make):
    def mutate(a):
        a[key] = make(a)

    return mutate


def _poke(key, index, value):
    def mutate(a):
        a[key] = a[key].copy()
        a[key][index] = value

    return mutate


def _ground_truth(shape):
    return _replace("Y", lambda a: np.ones(shape, np.complex64))


def _intensity_like(a):
    # one bright pixel over a faint floor: max stays < 10 but max/mean > 100
    frames = np.full((N, H, W), 0.001, np.float32)
    frames[0, 3, 3] = 5.0
    return frames


def _counts_scaled(a):
    # Poisson counts times one scale: whole multiples of the smallest value.
    counts = np.random.default_rng(3).poisson(8.0, (N, H, W))
    return (counts * 0.01).astype(np.float32)


def _unshifted(a):
    # A centred peak moved to the corners, as numpy.fft.fft2 leaves it.
    yy, xx = np.mgrid[:H, :W]
    peak = np.exp(-((yy - H // 2) ** 2 + (xx - W // 2) ** 2) / 2.0).astype(np.float32)
    return np.ascontiguousarray(np.broadcast_to(np.fft.ifftshift(peak), (N, H, W)))


def _record(**entries):
    return np.array(json.dumps({"layout": "canonical", **entries}))


def _all_at(x, y):
    def mutate(a):
        a["xcoords"] = np.full(N, float(x))
        a["ycoords"] = np.full(N, float(y))

    return mutate


def _duplicate_positions(a):
    a["xcoords"] = a["xcoords"].copy()
    a["ycoords"] = a["ycoords"].copy()
    a["xcoords"][5], a["ycoords"][5] = a["xcoords"][2], a["ycoords"][2]
    a["xcoords"][9], a["ycoords"][9] = a["xcoords"][2], a["ycoords"][2]


# (id, mutation, expected finding (rule, field, severity)); the file must carry
# that finding and no other error.
VIOLATIONS = [
    # presence
    *[
        (f"missing-{key}", _without(key), ("required", key, "error"))
        for key in ("diffraction", "objectGuess", "probeGuess", "xcoords", "ycoords")
    ],
    # dtypes
    ("diffraction-float16", _retype("diffraction", np.float16), ("dtype", "diffraction", "error")),
    ("diffraction-float64", _retype("diffraction", np.float64), ("dtype", "diffraction", "error")),
    # Counts of 0 and 1 only: too few values above 1.5 quanta to call them counts.
    (
        "diffraction-uint16",
        _replace("diffraction", lambda a: (a["diffraction"] * 2).astype(np.uint16)),
        ("dtype", "diffraction", "error"),
    ),
    ("object-real", _replace("objectGuess", lambda a: a["objectGuess"].real.copy()), ("dtype", "objectGuess", "error")),
    ("object-complex128", _retype("objectGuess", np.complex128), ("dtype", "objectGuess", "warning")),
    (
        "probe-float64",
        _replace("probeGuess", lambda a: np.abs(a["probeGuess"]).astype(np.float64)),
        ("dtype", "probeGuess", "error"),
    ),
    ("probe-complex128", _retype("probeGuess", np.complex128), ("dtype", "probeGuess", "warning")),
    ("xcoords-int64", _retype("xcoords", np.int64), ("dtype", "xcoords", "error")),
    ("ycoords-float32", _retype("ycoords", np.float32), ("dtype", "ycoords", "warning")),
    ("xcoords_start-complex", _retype("xcoords_start", np.complex128), ("dtype", "xcoords_start", "error")),
    ("scan_index-float64", _retype("scan_index", np.float64), ("dtype", "scan_index", "error")),
    ("scan_index-int32", _retype("scan_index", np.int32), ("dtype", "scan_index", "warning")),
    ("Y-float32", _replace("Y", lambda a: np.ones((N, H, W), np.float32)), ("ground-truth-complex64", "Y", "error")),
    (
        "Y-complex128",
        _replace("Y", lambda a: np.ones((N, H, W), np.complex128)),
        ("ground-truth-complex64", "Y", "error"),
    ),
    # ranks and shapes, with dimensions bound across fields
    ("diffraction-2d", _replace("diffraction", lambda a: a["diffraction"][0]), ("shape", "diffraction", "error")),
    (
        "diffraction-4d",
        _replace("diffraction", lambda a: a["diffraction"][..., None]),
        ("shape", "diffraction", "error"),
    ),
    (
        "probe-taller-than-frame",
        _replace("probeGuess", lambda a: np.ones((H + 2, W), np.complex64)),
        ("shape", "probeGuess", "error"),
    ),
    ("probe-3d", _replace("probeGuess", lambda a: a["probeGuess"][None]), ("shape", "probeGuess", "error")),
    ("object-1d", _replace("objectGuess", lambda a: a["objectGuess"].ravel()), ("shape", "objectGuess", "error")),
    (
        "object-smaller-than-frame",
        _replace("objectGuess", lambda a: np.ones((H - 1, 40), np.complex64)),
        ("dims", "objectGuess", "error"),
    ),
    ("xcoords-N-minus-1", _replace("xcoords", lambda a: a["xcoords"][:-1]), ("shape", "xcoords", "error")),
    ("ycoords-N-plus-1", _replace("ycoords", lambda a: np.append(a["ycoords"], 3.0)), ("shape", "ycoords", "error")),
    ("ycoords-2d", _replace("ycoords", lambda a: a["ycoords"][:, None]), ("shape", "ycoords", "error")),
    (
        "xcoords_start-N-minus-1",
        _replace("xcoords_start", lambda a: a["xcoords_start"][1:]),
        ("shape", "xcoords_start", "error"),
    ),
    (
        "ycoords_start-N-plus-1",
        _replace("ycoords_start", lambda a: np.zeros(N + 1)),
        ("shape", "ycoords_start", "error"),
    ),
    ("scan_index-N-minus-1", _replace("scan_index", lambda a: a["scan_index"][:-1]), ("shape", "scan_index", "error")),
    ("Y-N-minus-1", _ground_truth((N - 1, H, W)), ("shape", "Y", "error")),
    ("Y-frame-size", _ground_truth((N, H, W + 1)), ("shape", "Y", "error")),
    ("Y-trailing-channel", _ground_truth((N, H, W, 1)), ("ground-truth-3d", "Y", "error")),
    # values
    ("diffraction-nan", _poke("diffraction", (3, 2, 2), np.nan), ("diffraction-finite", "diffraction", "error")),
    ("diffraction-inf", _poke("diffraction", (0, 1, 1), np.inf), ("diffraction-finite", "diffraction", "error")),
    (
        "diffraction-negative",
        _poke("diffraction", (4, 4, 4), -0.01),
        ("diffraction-nonnegative", "diffraction", "error"),
    ),
    ("diffraction-max-10", _poke("diffraction", (7, 5, 5), 10.0), ("diffraction-normalized", "diffraction", "error")),
    (
        "diffraction-intensity-like",
        _replace("diffraction", _intensity_like),
        ("diffraction-not-intensity", "diffraction", "warning"),
    ),
    (
        "diffraction-all-zero",
        _replace("diffraction", lambda a: np.zeros((N, H, W), np.float32)),
        ("diffraction-not-empty", "diffraction", "error"),
    ),
    ("probe-nan", _poke("probeGuess", (0, 0), np.nan + 0j), ("probe-finite", "probeGuess", "error")),
    (
        "probe-all-zero",
        _replace("probeGuess", lambda a: np.zeros((H, W), np.complex64)),
        ("probe-not-empty", "probeGuess", "error"),
    ),
    ("object-inf", _poke("objectGuess", (1, 1), complex(0, np.inf)), ("object-finite", "objectGuess", "error")),
    ("xcoords-nan", _poke("xcoords", 2, np.nan), ("coords-finite", "xcoords", "error")),
    ("ycoords_start-inf", _poke("ycoords_start", 0, -np.inf), ("coords-finite", "ycoords_start", "error")),
    ("Y-nan", _replace("Y", lambda a: np.full((N, H, W), np.nan, np.complex64)), ("ground-truth-finite", "Y", "error")),
    ("positions-duplicated", _duplicate_positions, ("positions-unique", "xcoords", "warning")),
    ("diffraction-counts", _replace("diffraction", _counts_scaled), ("diffraction-not-counts", "diffraction", "error")),
    (
        "diffraction-not-fftshifted",
        _replace("diffraction", _unshifted),
        ("diffraction-centred", "diffraction", "warning"),
    ),
    (
        "diff3d-copy-differs",
        _replace("diff3d", lambda a: a["diffraction"][::-1].copy()),
        ("diffraction-alias-copy", "diff3d", "error"),
    ),
    (
        "diff3d-copy-float64",
        _replace("diff3d", lambda a: a["diffraction"].astype(np.float64)),
        ("diffraction-alias-copy", "diff3d", "error"),
    ),
    (
        "object-too-small-for-the-scan",
        _replace("objectGuess", lambda a: np.ones((H + 2, W + 2), np.complex64)),
        ("object-canvas-fits", "objectGuess", "warning"),
    ),
    (
        "metadata-json-list",
        _replace("_metadata", lambda a: np.array(json.dumps([{"layout": "canonical"}]))),
        ("metadata-json-object", "_metadata", "error"),
    ),
    (
        "metadata-not-json",
        _replace("_metadata", lambda a: np.array("layout=canonical")),
        ("metadata-json-object", "_metadata", "error"),
    ),
    (
        "scale-pair-one-sided",
        _replace("_metadata", lambda a: _record(scale_contract_version="ci_intensity_v2")),
        ("scale-pair", "_metadata", "error"),
    ),
    (
        "scale-pair-unknown",
        _replace(
            "_metadata",
            lambda a: _record(
                physics_parameters={"scale_contract_version": "ci_intensity_v2", "measurement_domain": "amplitude"}
            ),
        ),
        ("scale-pair", "_metadata", "error"),
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), [pytest.param(m, e, id=i) for i, m, e in VIOLATIONS])
def test_each_rule_violated_on_its_own(make_npz, mutate, expected):
    """Breaking one rule gives that finding, with the right severity, and no other error."""
    arrays = _arrays()
    arrays["Y"] = np.ones((N, H, W), np.complex64)
    arrays["_metadata"] = _record()
    mutate(arrays)
    if "diffraction" in arrays and "diff3d" not in arrays:
        # The declared alias copy beside the frames, as fixtures carry it.
        arrays["diff3d"] = arrays["diffraction"]
    report = validate_dataset(make_npz(arrays=arrays))
    assert expected in _findings(report)
    other_errors = _findings(report, "error") - {expected}
    assert other_errors == set()
    assert report.ok is (expected[2] != "error")


def test_all_positions_identical_is_an_error(make_npz):
    """Every position at one point fails positions-spread (and repeats, as a warning)."""
    arrays = _arrays()
    _all_at(12.5, 7.0)(arrays)
    report = validate_dataset(make_npz(arrays=arrays))
    assert _findings(report) == {
        ("positions-spread", "xcoords", "error"),
        ("positions-unique", "xcoords", "warning"),
    }
    assert "all 20 positions are the same point (12.5, 7)" in report.to_text()


def test_boundary_values_pass(make_npz):
    """Zero is a legal amplitude and 9.99 is below the bound: both pass."""
    arrays = _arrays()
    arrays["diffraction"][0, 1, 1] = 0.0
    arrays["diffraction"][1, 1, 1] = 9.99
    report = validate_dataset(make_npz(arrays=arrays))
    assert report.findings == []


@pytest.mark.parametrize(
    ("key", "partner", "length"),
    [("xcoords", "diffraction", N - 1), ("scan_index", "diffraction", N + 3)],
)
def test_shape_message_names_the_bound_dimension(make_npz, key, partner, length):
    """A length mismatch says which field bound N and to what."""
    arrays = _arrays()
    arrays[key] = arrays[key][:1].repeat(length)
    report = validate_dataset(make_npz(arrays=arrays))
    (finding,) = [f for f in report.findings if f.rule == "shape"]
    assert finding.message == (f"key '{key}' has shape ({length},); expected (N,) with N = {N} from {partner}")


def test_probe_size_is_bound_to_the_frames(make_npz):
    """The probe must match H x W of the frames, whichever the frames are."""
    arrays = dataset_arrays(n=12, h=6, w=10)
    square = ("dims", "diffraction", "error")  # DATA-001 frames are square (W = H)
    assert _findings(validate_dataset(make_npz(arrays=arrays)), "error") == {square}
    arrays["probeGuess"] = arrays["probeGuess"].T.copy()  # (10, 6)
    report = validate_dataset(make_npz("transposed.npz", arrays=arrays))
    assert _findings(report, "error") == {("shape", "probeGuess", "error"), square}
    assert "H = 6 from diffraction, W = 10 from diffraction" in report.errors[0].message


# -- a compliant file -----------------------------------------------------------------------


def test_compliant_file_passes_with_bound_dims_and_stats(make_npz):
    """A DATA-001 file has no findings; dims, fields and stats describe it."""
    arrays = _arrays(object_shape=(40, 36))
    report = validate_dataset(make_npz(arrays=arrays))
    assert report.ok
    assert report.findings == []
    assert report.layout == "canonical"
    assert report.dims == {"N": N, "H": H, "W": W, "M1": 40, "M2": 36}
    assert report.fields["diffraction"] == {
        "key": "diffraction",
        "dtype": "float32",
        "shape": [N, H, W],
        "canonical_shape": [N, H, W],
    }
    assert set(report.fields) == set(arrays)
    diff = arrays["diffraction"].astype(np.float64)
    stats = report.stats["diffraction"]
    npt.assert_allclose([stats["min"], stats["max"], stats["mean"]], [diff.min(), diff.max(), diff.mean()], rtol=1e-6)
    assert stats["finite_fraction"] == 1.0
    assert stats["count"] == N * H * W
    npt.assert_allclose(report.stats["probeGuess"]["max"], np.abs(arrays["probeGuess"]).max(), rtol=1e-6)


def test_every_contract_field_gets_statistics(make_npz):
    """Fields without a value rule (scan_index) are streamed too, so their stats are reported."""
    arrays = _arrays()
    arrays["scan_index"] = np.arange(N, dtype=np.int64) % 3
    report = validate_dataset(make_npz(arrays=arrays))
    assert report.stats["scan_index"]["min"] == 0
    assert report.stats["scan_index"]["max"] == 2


def test_stats_count_non_finite_values(make_npz):
    """NaN and Inf are counted; min/max/mean come from the finite values only."""
    arrays = _arrays()
    diff = arrays["diffraction"]
    diff[0, 1, :3] = np.nan
    diff[1, 2, :2] = np.inf
    report = validate_dataset(make_npz(arrays=arrays))
    stats = report.stats["diffraction"]
    assert (stats["nan"], stats["inf"]) == (3, 2)
    npt.assert_allclose(stats["finite_fraction"], 1 - 5 / diff.size)
    npt.assert_allclose(stats["mean"], np.nanmean(np.where(np.isinf(diff), np.nan, diff)), rtol=1e-6)
    (finding,) = report.errors
    assert finding.message == f"key 'diffraction': 3 NaN and 2 Inf of {diff.size} values"


def test_array_stats_streamed_in_blocks_equal_whole_array_stats():
    """ArrayStats folded block by block equals numpy on the whole array (independent route)."""
    rng = np.random.default_rng(5)
    values = rng.normal(size=10_001).astype(np.float32)
    values[[5, 500, 9000]] = [np.nan, np.inf, -np.inf]
    acc = ArrayStats()
    for block in np.array_split(values, 17):
        acc.update(block)
    finite = values[np.isfinite(values)].astype(np.float64)
    npt.assert_allclose([acc.min, acc.max, acc.mean], [finite.min(), finite.max(), finite.mean()], rtol=1e-6)
    assert (acc.count, acc.finite, acc.nan, acc.inf) == (10_001, 9_998, 1, 2)
    assert acc.to_dict()["finite_fraction"] == 9_998 / 10_001


def test_array_stats_of_complex_values_use_the_modulus():
    """Complex arrays are summarized by |z|."""
    z = np.array([3 + 4j, 0 + 1j, np.nan + 0j], np.complex64)
    acc = ArrayStats()
    acc.update(z)
    assert (acc.min, acc.max, acc.nan, acc.finite) == (1.0, 5.0, 1, 2)


def _merge_cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(21)
    f32 = rng.normal(size=50_000).astype(np.float32)  # negatives and positives
    f32[rng.integers(0, f32.size, 40)] = 0
    f32[rng.integers(0, f32.size, 30)] = np.nan
    f32[rng.integers(0, f32.size, 20)] = np.inf
    f32[rng.integers(0, f32.size, 20)] = -np.inf
    f32[30_000:34_000] = np.nan  # a block may hold no finite value at all
    amplitude = np.abs(f32[:20_000])
    amplitude[~np.isfinite(amplitude)] = 0
    z = np.empty(f32.size, np.complex64)
    z.real, z.imag = f32, f32[::-1]
    return {
        "float32": f32,
        "float32-non-negative": amplitude,
        "float64": f32.astype(np.float64) * 1e3,
        "complex64": z,
        "int16": rng.integers(-3000, 3000, 20_000).astype(np.int16),
    }


MERGE_CASES = _merge_cases()


def _fold(blocks) -> ArrayStats:
    acc = ArrayStats()
    for block in blocks:
        acc.update(block)
    return acc


@pytest.mark.parametrize("values", MERGE_CASES.values(), ids=MERGE_CASES.keys())
def test_merged_partial_stats_equal_the_serial_fold(values):
    """Per-block stats merged in order equal the serial fold; merged ranges differ in sum by rounding."""
    rng = np.random.default_rng(3)
    cuts = np.sort(rng.choice(np.arange(1, values.size), 24, replace=False))
    blocks = np.split(values, cuts)
    serial = _fold(blocks)
    per_block = ArrayStats()
    for block in blocks:
        per_block.merge(_fold([block]))
    assert dataclasses.asdict(per_block) == dataclasses.asdict(serial)
    assert per_block.to_dict() == serial.to_dict()
    finite = values[np.isfinite(values)]
    magnitude = float(np.abs(finite).astype(np.float64).sum())
    for parts in (2, 3, 7):
        ranges = np.array_split(np.arange(len(blocks)), parts)
        merged = ArrayStats()
        for r in ranges:
            merged.merge(_fold(blocks[i] for i in r))
        exact = {k: v for k, v in dataclasses.asdict(merged).items() if k != "sum"}
        assert exact == {k: v for k, v in dataclasses.asdict(serial).items() if k != "sum"}
        assert abs(merged.sum - serial.sum) <= 1e-12 * magnitude


def test_merging_empty_stats_changes_nothing():
    """Stats of no values (or of no finite value) merge as the identity, on either side."""
    acc = _fold([np.array([np.nan, -2.0, 5.0])])
    before = dataclasses.asdict(acc)
    acc.merge(ArrayStats())
    assert dataclasses.asdict(acc) == before
    empty = ArrayStats()
    empty.merge(acc)
    assert dataclasses.asdict(empty) == before
    acc.merge(_fold([np.array([np.nan, np.inf])]))
    assert (acc.min, acc.max, acc.count, acc.nan, acc.inf) == (-2.0, 5.0, 5, 2, 1)


def _several_block_file(make_npz, monkeypatch) -> str:
    """A file whose stack spans many 4 KiB blocks, with values several rules flag."""
    monkeypatch.setattr(_npz, "BLOCK_BYTES", 4096)
    arrays = dataset_arrays(n=200, h=8, w=8)
    diff = arrays["diffraction"]
    diff[3, 2, 2], diff[150, 1, 1], diff[77, 0, 5] = np.nan, np.inf, -0.25
    diff[120:] *= 30  # intensity-like scale
    return make_npz(arrays=arrays)


def test_validate_on_threads_reports_what_one_thread_reports(make_npz, monkeypatch):
    """jobs=2 and 3 give the report of jobs=1, byte for byte, run after run; findings included."""
    path = _several_block_file(make_npz, monkeypatch)
    serial = validate_dataset(path, jobs=1)
    assert {f.rule for f in serial.errors} >= {"diffraction-finite", "diffraction-normalized"}
    for jobs in (2, 2, 3):
        report = validate_dataset(path, jobs=jobs)
        assert report.to_json() == serial.to_json()
        assert report.to_text() == serial.to_text()
        assert report.verdict == serial.verdict


def test_jobs_fold_the_stack_off_the_callers_thread(make_npz, monkeypatch):
    """With jobs=2 the stack's blocks are folded by worker threads; with jobs=1 by the caller."""
    path = _several_block_file(make_npz, monkeypatch)
    threads: dict[int, set[int]] = {1: set(), 2: set()}
    real_update = ArrayStats.update
    jobs = 1

    def recording(self, block):
        if block.size > 1000:  # a block of the stack
            threads[jobs].add(threading.get_ident())
        return real_update(self, block)

    monkeypatch.setattr(ArrayStats, "update", recording)
    validate_dataset(path, jobs=1)
    jobs = 2
    validate_dataset(path, jobs=2)
    assert threads[1] == {threading.get_ident()}
    assert threads[2]
    assert threading.get_ident() not in threads[2]


@pytest.mark.parametrize("jobs", [1, 2])
def test_progress_advances_block_by_block_to_the_whole_stack(make_npz, monkeypatch, jobs):
    """The bar of the stack's pass gets one update per block, adding up to its bytes."""
    path = _several_block_file(make_npz, monkeypatch)
    updates: dict[str, tuple[int, list[int]]] = {}

    @contextmanager
    def recording(total, description, enabled=None):
        seen: list[int] = []

        class Bar:
            def update(self, n):
                seen.append(n)

        yield Bar()
        updates[description] = (total, seen)

    monkeypatch.setattr(validate_module, "progress_bar", recording)
    validate_dataset(path, jobs=jobs)
    total, seen = updates["validate diffraction"]
    assert total == sum(seen) == 200 * 8 * 8 * 4
    assert len(seen) == -(-total // 4096)


@pytest.mark.parametrize("jobs", [0, -1, 1.5, "2", True])
def test_jobs_must_be_a_whole_number_of_at_least_one(make_npz, jobs):
    """Bad jobs values are refused before the file is read, naming the parameter."""
    with pytest.raises(UsageError, match=r"^jobs=.* is not a positive whole number of threads"):
        validate_dataset(make_npz(), jobs=jobs)


# -- layouts, aliases and profiles ----------------------------------------------------------


def _legacy(arrays, key="diffraction"):
    out = dict(arrays)
    out[key] = np.ascontiguousarray(np.transpose(out.pop("diffraction"), (1, 2, 0)))
    return out


@pytest.mark.parametrize(("contract", "severity"), [("data001", "error"), ("legacy", "warning")])
def test_legacy_layout_is_an_error_under_data001_and_a_warning_under_legacy(make_npz, contract, severity):
    """(H, W, N) storage is found from the coordinates; stats equal the canonical file's."""
    arrays = _arrays()
    canonical = validate_dataset(make_npz("canonical.npz", arrays=arrays), contract)
    report = validate_dataset(make_npz("legacy.npz", arrays=_legacy(arrays)), contract)
    assert report.layout == "legacy"
    assert _findings(report) == {("layout", "diffraction", severity)}
    assert report.fields["diffraction"]["shape"] == [H, W, N]
    assert report.fields["diffraction"]["canonical_shape"] == [N, H, W]
    assert report.dims == canonical.dims
    for name in ("min", "max", "mean", "finite_fraction", "count"):
        npt.assert_allclose(report.stats["diffraction"][name], canonical.stats["diffraction"][name])


@pytest.mark.parametrize(("contract", "severity"), [("data001", "error"), ("legacy", "warning")])
def test_diff3d_alias(make_npz, contract, severity):
    """The diff3d key is read as diffraction, with a finding of the profile's severity."""
    arrays = _arrays()
    arrays["diff3d"] = arrays.pop("diffraction")
    report = validate_dataset(make_npz(arrays=arrays), contract)
    assert _findings(report) == {("alias", "diffraction", severity)}
    assert report.fields["diffraction"]["key"] == "diff3d"
    assert "rename it to 'diffraction'" in report.findings[0].message


def test_legacy_profile_accepts_old_files_with_warnings(make_npz):
    """diff3d in (H, W, N) uint16 intensity with an (H, W, 1) probe and no object: warnings only."""
    arrays = _arrays()
    counts = np.random.default_rng(1).poisson(40.0, size=(N, H, W)).astype(np.uint16)
    old = {
        "diff3d": np.ascontiguousarray(np.transpose(counts, (1, 2, 0))),
        "probeGuess": arrays["probeGuess"][..., None],
        "xcoords": arrays["xcoords"],
        "ycoords": arrays["ycoords"],
    }
    path = make_npz(arrays=old)
    strict = validate_dataset(path, "data001")
    assert not strict.ok
    report = validate_dataset(path, "legacy")
    assert report.ok
    assert _findings(report) == {
        ("alias", "diffraction", "warning"),
        ("layout", "diffraction", "warning"),
        ("dtype", "diffraction", "warning"),
        ("shape", "probeGuess", "warning"),
        ("diffraction-normalized", "diffraction", "warning"),
        # Counts around 40 have no single photons; their steps of one count give them away.
        ("diffraction-not-counts", "diffraction", "warning"),
    }
    npt.assert_allclose(report.stats["diffraction"]["max"], counts.max())


def test_ambiguous_stack_is_refused_unless_layout_is_given(make_npz):
    """N == H == W refuses under auto; an explicit layout is honoured."""
    arrays = dataset_arrays(n=8, h=8, w=8)
    path = make_npz(arrays=arrays)
    with pytest.raises(InputError, match=r"ambiguous.*layout='canonical' or layout='legacy'"):
        validate_dataset(path)
    assert validate_dataset(path, layout="canonical").ok
    as_legacy = validate_dataset(path, layout="legacy")
    assert ("layout", "diffraction", "error") in _findings(as_legacy)


def test_user_contract_changes_the_verdict(make_npz, tmp_path):
    """A contract file with a looser bound passes a file data001 fails."""
    arrays = _arrays()
    arrays["diffraction"] = arrays["diffraction"] * 50
    path = make_npz(arrays=arrays)
    assert not validate_dataset(path).ok
    from ptyevidence.contract.model import load_contract

    data = load_contract("data001").to_dict()
    data["name"] = "loose"
    for rule in data["rules"]:
        if rule["id"] == "diffraction-normalized":
            rule["value"] = 1000
    contract_path = os.path.join(tmp_path, "loose.json")
    with open(contract_path, "w") as fh:
        json.dump(data, fh)
    report = validate_dataset(path, contract_path)
    assert report.ok
    assert report.contract == "loose"


# -- storage must not change the report ---------------------------------------------------------


def _comparable(report) -> dict:
    data = report.to_dict()
    del data["path"], data["verdict"]
    for entry in data["fields"].values():
        entry["dtype"] = np.dtype(entry["dtype"]).newbyteorder("=").name
    return data


@pytest.mark.parametrize(
    "store",
    [
        pytest.param(lambda a: (a, True), id="compressed"),
        pytest.param(lambda a: ({k: np.asfortranarray(v) for k, v in a.items()}, False), id="fortran-order"),
        pytest.param(
            lambda a: ({k: v.astype(v.dtype.newbyteorder(">")) for k, v in a.items()}, False), id="big-endian"
        ),
    ],
)
def test_storage_variants_give_the_same_report(tmp_path, store):
    """Compressed, Fortran-order and big-endian files validate exactly like the plain file."""
    arrays = _arrays()
    arrays["diffraction"][2, 3, 3] = 12.0  # one error so findings are compared too
    plain = os.path.join(tmp_path, "plain.npz")
    np.savez(plain, **arrays)
    stored, compressed = store(arrays)
    other = os.path.join(tmp_path, "other.npz")
    (np.savez_compressed if compressed else np.savez)(other, **stored)
    assert _comparable(validate_dataset(other)) == _comparable(validate_dataset(plain))


# -- unreadable members -----------------------------------------------------------------------


@pytest.fixture
def no_unpickling(monkeypatch):
    """Make pickle's own loaders raise and record every global the restricted unpickler is asked for."""
    from ptyevidence.readers.pickled import RestrictedUnpickler

    def forbidden(*args, **kwargs):
        msg = "validation tried to unpickle"
        raise AssertionError(msg)

    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    resolved: list[tuple[str, str]] = []
    real = RestrictedUnpickler.find_class

    def recording(self, module, name):
        resolved.append((module, name))
        return real(self, module, name)

    monkeypatch.setattr(RestrictedUnpickler, "find_class", recording)
    return resolved


def test_object_arrays_are_reported_not_unpickled(tmp_path, no_unpickling):
    """An object objectGuess is never loaded; a pickled dict as _metadata is read as data, never run."""
    arrays = _arrays()
    arrays["objectGuess"] = np.array([None, {"a": 1}], dtype=object)
    arrays["_metadata"] = np.array({"pixel_size": 1e-8}, dtype=object)
    path = os.path.join(tmp_path, "objects.npz")
    np.savez(path, **arrays)
    report = validate_dataset(path)
    assert _findings(report, "error") == {
        ("dtype", "objectGuess", "error"),
        ("metadata-json-object", "_metadata", "error"),
    }
    assert report.fields["objectGuess"]["unreadable"] is True
    assert "objectGuess" not in report.stats
    by_field = {f.field: f.message for f in report.errors}
    assert "not loaded" in by_field["objectGuess"]
    assert "holds a pickled dict, not JSON text" in by_field["_metadata"]
    assert no_unpickling == []  # no global was ever resolved


def test_ptychopinn_pickled_metadata_is_read_without_resolving_a_global(tmp_path, no_unpickling):
    """PtychoPINN's _metadata, a pickled 0-d object array of JSON text, passes (metadata.py:112-114)."""
    arrays = _arrays()
    arrays["_metadata"] = np.array(
        json.dumps({"schema_version": "1.0.0", "physics_parameters": {"nphotons": 1e9}}, indent=2), dtype=object
    )
    path = os.path.join(tmp_path, "ptychopinn.npz")
    np.savez_compressed(path, **arrays)
    report = validate_dataset(path)
    assert _findings(report) == set()
    assert report.checked["metadata-json-object"] == "a JSON object with 2 entries"
    assert no_unpickling == []


def test_a_pickle_that_would_run_code_is_refused_and_never_run(tmp_path, no_unpickling):
    """A _metadata whose pickle calls os.system is an error; the command never runs."""
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    arrays = _arrays()
    arrays["_metadata"] = np.empty((), dtype=object)
    arrays["_metadata"][()] = Payload()
    path = os.path.join(tmp_path, "evil.npz")
    np.savez(path, **arrays)
    report = validate_dataset(path)
    assert _findings(report, "error") == {("metadata-json-object", "_metadata", "error")}
    assert "an object made by" in report.errors[0].message
    assert not marker.exists()
    assert no_unpickling == []


def test_string_metadata_is_fine(make_npz):
    """Metadata stored as a JSON string (no pickles) is the contract's optional text field."""
    arrays = _arrays()
    arrays["_metadata"] = np.array(json.dumps({"pixel_size": 1e-8}))
    report = validate_dataset(make_npz(arrays=arrays))
    assert _findings(report) == set()
    assert report.fields["_metadata"]["key"] == "_metadata"
    assert report.ok


def test_foreign_zip_members_are_warned_about(tmp_path):
    """Non-.npy members in the archive are ignored with a warning."""
    arrays = _arrays()
    members = {f"{k}.npy": npz_damage._npy_bytes(v) for k, v in arrays.items()}
    members["README.txt"] = b"notes"
    path = npz_damage.write_members(os.path.join(tmp_path, "extra.npz"), members)
    report = validate_dataset(path)
    assert _findings(report) == {("foreign-member", "README.txt", "warning")}


@pytest.mark.parametrize(
    ("builder", "words"),
    [pytest.param(b, w, id=i) for i, b, w in npz_damage.UNUSABLE_INPUTS],
)
def test_unusable_files_raise_input_error(tmp_path, builder, words):
    """Damaged, missing or non-NPZ files raise InputError, never a contract verdict."""
    with pytest.raises(InputError, match=words):
        validate_dataset(builder(str(tmp_path)))


@pytest.mark.parametrize("key", ["diffraction", "scan_index", "xcoords_start"])
def test_bad_crc_in_any_contract_field_is_found(tmp_path, key):
    """A flipped byte in any contract member, even one without a value rule, is caught."""
    with pytest.raises(InputError, match=f"{key}.npy.*CRC"):
        validate_dataset(npz_damage.bad_crc(str(tmp_path), key))


def test_validation_never_modifies_the_source(make_npz):
    """The dataset file is byte-identical after validation."""
    path = make_npz()
    with open(path, "rb") as fh:
        before = fh.read()
    validate_dataset(path)
    with open(path, "rb") as fh:
        assert fh.read() == before


# -- the report object -----------------------------------------------------------------------


def test_report_api_on_a_failing_file(make_npz):
    """verdict, errors/warnings, raise_if_failed, to_json and to_text agree."""
    arrays = _arrays()
    arrays["diffraction"][0, 0, 1] = -1.0
    _duplicate_positions(arrays)
    path = make_npz(arrays=arrays)
    report = validate_dataset(path)
    assert not report.ok
    assert [f.rule for f in report.errors] == ["diffraction-nonnegative"]
    assert [f.rule for f in report.warnings] == ["positions-unique"]
    assert report.verdict == f"FAIL: '{path}' against data001: 1 error(s), 1 warning(s)"
    with pytest.raises(ContractError, match="FAIL") as excinfo:
        report.raise_if_failed()
    assert excinfo.value.findings == report.errors
    assert excinfo.value.path == path
    data = json.loads(report.to_json())
    assert data["ok"] is False
    assert data["findings"][0] == {
        "rule": "diffraction-nonnegative",
        "field": "diffraction",
        "severity": "error",
        "message": "key 'diffraction': minimum -1 is below 0",
    }
    table = report.to_text().splitlines()
    assert table[0].split() == ["SEVERITY", "RULE", "FIELD", "MESSAGE"]
    assert table[1].startswith("error ")  # errors sort first
    assert table[-1] == report.verdict


def test_report_api_on_a_passing_file(make_npz):
    """A clean file says so and raise_if_failed is silent."""
    report = validate_dataset(make_npz())
    report.raise_if_failed()
    assert report.to_text() == f"no findings\n{report.verdict}"
    assert report.verdict.startswith("PASS: ")
    assert report.errors == report.warnings == []


def test_validation_markdown_shows_verdict_stats_and_findings(make_npz):
    """The Markdown report carries the verdict, the fields, the statistics and each finding."""
    arrays = _arrays()
    arrays["diffraction"][0, 0, 1] = 11.0
    report = validate_dataset(make_npz(arrays=arrays))
    text = validation_markdown(report)
    assert f"**{report.verdict}**" in text
    assert "| `diffraction` | `diffraction` | float32 | (20, 8, 8) |" in text
    assert "| Field | min | max | mean | finite fraction | values |" in text
    assert "| error | `diffraction-normalized` | `diffraction` |" in text


def test_integer_counts_whose_squares_overflow_their_dtype_are_a_warning(make_npz):
    """NORMALIZE-DATA-UINT16-001: uint16 300**2 wraps to 24464 in a reader that squares in place."""
    arrays = _arrays()
    counts = np.random.default_rng(2).poisson(40.0, size=(N, H, W)).astype(np.uint16)
    counts[3, 2, 2] = 300
    arrays["diffraction"] = counts
    report = validate_dataset(make_npz(arrays=arrays), "legacy")
    (finding,) = [f for f in report.findings if f.rule == "diffraction-integer-squares-fit"]
    assert finding.severity == "warning"
    assert "overflow uint16" in finding.message
    assert "findings.md:99" in finding.message
    arrays["diffraction"] = np.minimum(counts, 255)
    report = validate_dataset(make_npz("small.npz", arrays=arrays), "legacy")
    assert "diffraction-integer-squares-fit" not in {f.rule for f in report.findings}
    assert report.checked["diffraction-integer-squares-fit"] == "max 255, max^2 6.502e+04 vs uint16 max 65535"


def test_record_rules_read_the_record_given_or_beside_the_file(tmp_path, cli, make_npz):
    path = make_npz(arrays=_arrays())
    missing = validate_dataset(path, "fixture-acceptance")
    assert "record entry 'coverage.x_range_ratio' cannot be checked" in " ".join(f.message for f in missing.errors)
    record = {"subset_size": N, "source_frame_shape": [H, W], "coverage": {"x_range_ratio": 0.9, "y_range_ratio": 0.4}}
    given = validate_dataset(path, "fixture-acceptance", record=record)
    failing = {f.rule for f in given.errors}
    assert {"acceptance-y-coverage", "acceptance-object-size"} <= failing
    assert "acceptance-x-coverage" not in failing and "acceptance-subset-size" not in failing  # noqa: PT018
    side = tmp_path / "record.json"
    side.write_text(json.dumps(record))
    done = cli("validate", "--contract", "fixture-acceptance", "--record", str(side), path, "--json")
    assert {f["rule"] for f in json.loads(done.stdout)["findings"] if f["severity"] == "error"} == failing


def test_a_contract_extends_a_builtin(tmp_path):
    from ptyevidence.contract import load_contract

    child = {
        "name": "data001-strict",
        "extends": "data001",
        "dims": {"N": {"min": 100}},
        "rules": [{"id": "diffraction-normalized", "check": "max_below", "value": 2.0, "fields": ["diffraction"]}],
    }
    path = tmp_path / "strict.json"
    path.write_text(json.dumps(child))
    spec = load_contract(str(path))
    base = load_contract("data001")
    assert [f.name for f in spec.fields] == [f.name for f in base.fields]
    assert [r.id for r in spec.rules] == [r.id for r in base.rules]
    assert next(r for r in spec.rules if r.id == "diffraction-normalized").value == 2.0
    assert spec.dims["N"]["min"] == 100
    assert spec.dims["H"] == base.dims["H"]
