"""Tests of CXI -> DATA-001 conversion: values, positions, record, refusals, streaming."""

from __future__ import annotations

import json
import os

import numpy as np
import numpy.testing as npt
import pytest

import ptyevidence.writers.convert as convert_module
from cxi_files import (
    ENERGY_8KEV_J,
    PLANCK_TIMES_C,
    far_field_positions,
    scan_counts,
    write_cxi,
)
from ptyevidence import validate_dataset
from ptyevidence.exceptions import InputError, UsageError
from ptyevidence.readers.cxi import CxiSource
from ptyevidence.writers.convert import (
    convert_cxi,
    load_probe,
    minimum_object_shape,
    parse_object_shape,
    read_metadata,
)

H, W = 16, 16


@pytest.fixture
def probe_file(tmp_path):
    rng = np.random.default_rng(5)
    probe = (rng.random((H, W)) + 1j * rng.random((H, W))).astype(np.complex64)
    path = os.fspath(tmp_path / "probe.npy")
    np.save(path, probe)
    return path, probe


def _needed_shape(path, **kw):
    with CxiSource(path, **kw) as src:
        return minimum_object_shape(src.read("xcoords"), src.read("ycoords"), (H, W))


def _convert(tmp_path, cxi_path, probe_path, name="out.npz", **kw):
    out = os.fspath(tmp_path / name)
    shape = kw.pop("object_shape", None) or _needed_shape(
        cxi_path, **{k: kw[k] for k in ("geometry", "sample_pixel_size") if k in kw}
    )
    record = convert_cxi(cxi_path, out, probe=probe_path, object_shape=shape, **kw)
    return out, record, shape


def test_far_field_conversion_values_match_hand_computation(tmp_path, probe_file):
    counts = scan_counts(20, H, W)
    counts[11, 6, 7] = 400
    mask = np.zeros((H, W), np.uint32)
    mask[2, 3] = 0x8  # dead pixel
    mask[2, 4] = 0x1000  # has signal: kept
    cxi = os.fspath(tmp_path / "scan.cxi")
    written = write_cxi(cxi, counts=counts, mask=mask, pixel_size_m=(55e-6, 55e-6), distance_m=3.5)
    out, record, shape = _convert(tmp_path, cxi, probe_file[0])

    data = np.load(out, allow_pickle=False)
    expected = np.sqrt(counts.astype(np.float64)) / 20.0
    expected[:, 2, 3] = 0.0
    assert data["diffraction"].dtype == np.float32
    npt.assert_allclose(data["diffraction"], expected, rtol=1e-6)
    x, y, dx, dy = far_field_positions(written["translation"], ENERGY_8KEV_J, 3.5, (55e-6, 55e-6), (H, W))
    npt.assert_allclose(data["xcoords"], x, rtol=1e-12)
    npt.assert_allclose(data["ycoords"], y, rtol=1e-12)
    npt.assert_array_equal(data["xcoords_start"], data["xcoords"])
    npt.assert_array_equal(data["ycoords_start"], data["ycoords"])
    npt.assert_array_equal(data["probeGuess"], probe_file[1])
    npt.assert_array_equal(data["objectGuess"], np.ones(shape, np.complex64))
    steps = {s["output"]: s for s in record["steps"]}
    assert steps["diffraction"]["scale"] == pytest.approx(1 / 20.0)
    assert steps["diffraction"]["max_count"] == 400
    assert steps["diffraction"]["bad_pixels"] == 1
    assert (steps["xcoords, ycoords"]["dx_m"], steps["xcoords, ycoords"]["dy_m"]) == pytest.approx((dx, dy))
    assert validate_dataset(out, "data001").ok


def test_metadata_is_a_unicode_json_string_loadable_without_pickle(tmp_path, probe_file):
    cxi = os.fspath(tmp_path / "scan.cxi")
    write_cxi(cxi)
    out, record, _ = _convert(tmp_path, cxi, probe_file[0])
    with np.load(out, allow_pickle=False) as data:
        meta = data["_metadata"]
        keys = list(data.keys())
    assert meta.dtype.kind == "U"
    assert meta.shape == ()
    assert json.loads(str(meta)) == record == read_metadata(out)
    assert keys == [
        "diffraction",
        "probeGuess",
        "objectGuess",
        "xcoords",
        "ycoords",
        "xcoords_start",
        "ycoords_start",
        "_metadata",
    ]
    assert record["source"]["file"] == "scan.cxi"  # no absolute paths recorded
    assert record["geometry"]["wavelength_m"] == pytest.approx(PLANCK_TIMES_C / ENERGY_8KEV_J)
    assert record["layout"] == "canonical"
    report = validate_dataset(out, "data001")
    assert report.fields["_metadata"]["dtype"].startswith("<U")
    assert [f for f in report.findings if f.field == "_metadata"] == []


def test_conversion_is_byte_identical_when_repeated(tmp_path, probe_file):
    cxi = os.fspath(tmp_path / "scan.cxi")
    write_cxi(cxi, chunks=(3, H, W), compression="gzip")
    first, _, _ = _convert(tmp_path, cxi, probe_file[0], name="a.npz")
    second, _, _ = _convert(tmp_path, cxi, probe_file[0], name="b.npz")
    with open(first, "rb") as a, open(second, "rb") as b:
        assert a.read() == b.read()


def test_conversion_streams_frames_in_blocks_never_whole(tmp_path, probe_file, monkeypatch):
    cxi = os.fspath(tmp_path / "scan.cxi")
    write_cxi(cxi, n=30, chunks=(4, H, W))
    reference, _, _ = _convert(tmp_path, cxi, probe_file[0], name="ref.npz")
    blocks = []
    real_iter = CxiSource.iter_frames

    def recording_iter(self, block_bytes=None):
        for start, frames in real_iter(self, block_bytes):
            blocks.append(frames.shape[0])
            yield start, frames

    def refuse_whole(self, key):
        assert key != "diffraction", "the whole stack must never be read at once"
        return real_read(self, key)

    real_read = CxiSource.read
    monkeypatch.setattr(convert_module, "CONVERT_BLOCK_BYTES", 4 * H * W * 2)
    monkeypatch.setattr(CxiSource, "iter_frames", recording_iter)
    monkeypatch.setattr(CxiSource, "read", refuse_whole)
    streamed, _, _ = _convert(tmp_path, cxi, probe_file[0], name="streamed.npz")
    # Two streamed passes (scale, then write), four frames (one chunk) at a time.
    assert max(blocks) == 4
    assert sum(blocks) == 2 * 30
    npt.assert_array_equal(np.load(streamed)["diffraction"], np.load(reference)["diffraction"])


def test_near_field_uses_the_given_sample_pixel_size(tmp_path, probe_file):
    cxi = os.fspath(tmp_path / "scan.cxi")
    written = write_cxi(cxi, energy_J=None, distance_m=None)
    out, record, _ = _convert(tmp_path, cxi, probe_file[0], geometry="near-field", sample_pixel_size=40e-9)
    x = written["translation"][:, 0] / 40e-9
    npt.assert_allclose(np.load(out)["xcoords"], x - x.min() + W / 2, rtol=1e-12)
    assert record["geometry"]["sample_pixel_size_rule"].startswith("given")


def test_near_field_without_sample_pixel_size_is_refused(tmp_path, probe_file):
    cxi = os.fspath(tmp_path / "scan.cxi")
    write_cxi(cxi)
    out = tmp_path / "out.npz"
    with pytest.raises(UsageError, match="near-field geometry needs sample_pixel_size=METRES"):
        convert_cxi(cxi, out, geometry="near-field", probe=probe_file[0], object_shape=(64, 64))
    assert not out.exists()


def test_far_field_without_wavelength_names_what_is_missing(tmp_path, probe_file):
    cxi = os.fspath(tmp_path / "scan.cxi")
    write_cxi(cxi, energy_J=None)
    with pytest.raises(UsageError, match=r"needs wavelength .*source_1/energy.*sample_pixel_size="):
        convert_cxi(cxi, tmp_path / "out.npz", probe=probe_file[0], object_shape=(64, 64))


def test_missing_probe_and_object_are_named_with_how_to_supply_them(tmp_path):
    cxi = os.fspath(tmp_path / "scan.cxi")
    write_cxi(cxi)
    needed = _needed_shape(cxi)
    out = tmp_path / "out.npz"
    with pytest.raises(UsageError) as err:
        convert_cxi(cxi, out)
    message = str(err.value)
    assert "probe='PROBE.npy' holding a complex (16, 16) array" in message
    assert f"object_shape='{needed[0]}x{needed[1]}'" in message
    assert not out.exists()
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]


def test_probe_stored_in_the_file_is_used_and_recorded(tmp_path):
    probe = np.full((H, W), 2 + 1j, np.complex64)
    cxi = os.fspath(tmp_path / "scan.cxi")
    write_cxi(cxi, probe=probe)
    out, record, _ = _convert(tmp_path, cxi, None)
    npt.assert_array_equal(np.load(out)["probeGuess"], probe)
    step = next(s for s in record["steps"] if s["output"] == "probeGuess")
    assert "entry_1/instrument_1/source_1/probe" in step["origin"]


def test_object_smaller_than_the_scan_is_refused(tmp_path, probe_file):
    cxi = os.fspath(tmp_path / "scan.cxi")
    write_cxi(cxi)
    m1, m2 = _needed_shape(cxi)
    with pytest.raises(UsageError, match=f"pass object_shape='{m1}x{m2}'"):
        convert_cxi(cxi, tmp_path / "out.npz", probe=probe_file[0], object_shape=(m1, m2 - 1))


def test_counts_clipped_and_zeroed_are_recorded(tmp_path, probe_file):
    counts = scan_counts(20, H, W).astype(np.float64)
    counts[0, 1, 1] = -3.0
    counts[5, 2, 2] = np.nan
    cxi = os.fspath(tmp_path / "scan.cxi")
    write_cxi(cxi, counts=counts)
    out, record, _ = _convert(tmp_path, cxi, probe_file[0])
    step = record["steps"][0]
    assert (step["negative_counts_clipped"], step["nonfinite_counts_zeroed"]) == (1, 1)
    data = np.load(out)["diffraction"]
    assert data[0, 1, 1] == 0
    assert data[5, 2, 2] == 0
    assert validate_dataset(out, "data001").ok


def test_existing_output_is_kept_without_force(tmp_path, probe_file):
    cxi = os.fspath(tmp_path / "scan.cxi")
    write_cxi(cxi)
    out, _, shape = _convert(tmp_path, cxi, probe_file[0])
    before = os.path.getmtime(out), os.path.getsize(out)
    with pytest.raises(UsageError, match="exists; pass force=True"):
        convert_cxi(cxi, out, probe=probe_file[0], object_shape=shape)
    assert (os.path.getmtime(out), os.path.getsize(out)) == before
    convert_cxi(cxi, out, probe=probe_file[0], object_shape=shape, force=True)
    with pytest.raises(UsageError, match="is the input"):
        convert_cxi(cxi, cxi, probe=probe_file[0], object_shape=shape, force=True)


@pytest.mark.parametrize(
    ("stored", "message"),
    [
        pytest.param(np.ones((8, 8), np.complex64), r"shape \(8, 8\); expected .* \(16, 16\)", id="wrong-shape"),
        pytest.param(np.array([{"a": 1}], dtype=object), "cannot be read as a .npy array", id="pickled-object"),
    ],
)
def test_unusable_probe_file_is_refused(tmp_path, stored, message):
    path = os.fspath(tmp_path / "probe.npy")
    np.save(path, stored, allow_pickle=True)
    with pytest.raises(InputError, match=message):
        load_probe(path, (H, W))


def test_probe_with_singleton_axis_is_squeezed_and_cast(tmp_path):
    path = os.fspath(tmp_path / "probe.npy")
    np.save(path, np.ones((H, W, 1)))
    probe, notes = load_probe(path, (H, W))
    assert probe.shape == (H, W)
    assert probe.dtype == np.complex64
    assert any("squeezed" in n for n in notes)
    assert any("float64 to complex64" in n for n in notes)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("256x320", (256, 320)), (" 64 X 64 ", (64, 64)), ("10×12", (10, 12))],
)
def test_parse_object_shape_accepts_m1_x_m2(text, expected):
    assert parse_object_shape(text) == expected


@pytest.mark.parametrize("text", ["256", "0x10", "axb", "-3x4", "3x4x5"])
def test_parse_object_shape_refuses_other_text(text):
    with pytest.raises(UsageError, match="M1xM2"):
        parse_object_shape(text)


def test_minimum_object_shape_holds_every_frame():
    x = np.array([8.0, 20.5, np.nan])
    y = np.array([8.0, 8.0, 30.0])
    assert minimum_object_shape(x, y, (16, 16)) == (16, 29)


def test_square_stack_output_records_its_layout(tmp_path, probe_file):
    cxi = os.fspath(tmp_path / "scan.cxi")
    write_cxi(cxi, n=16, h=H, w=W)
    out, _, _ = _convert(tmp_path, cxi, probe_file[0])
    report = validate_dataset(out, "data001")
    assert report.ok
    assert report.layout == "canonical"


def test_any_source_conversion_of_a_cxi_file_takes_the_readers_frames(tmp_path, probe_file):
    """convert_source converts a CXI file's counts through the reader (its mask, its notes), as convert_cxi does."""
    from ptyevidence.writers.convert_source import convert_source

    mask = np.zeros((H, W), bool)
    mask[3, 4] = True
    cxi = os.fspath(tmp_path / "scan.cxi")
    write_cxi(cxi, n=16, h=H, w=W, mask=mask)
    out, _, shape = _convert(tmp_path, cxi, probe_file[0])
    other = os.fspath(tmp_path / "any.npz")
    record = convert_source(cxi, other, probe=probe_file[0], object_shape=shape)
    with np.load(out) as a, np.load(other) as b:
        npt.assert_array_equal(a["diffraction"], b["diffraction"])
        assert not b["diffraction"][:, 3, 4].any()
    assert record["steps"][0]["converted_by"] == "the cxi reader"
    assert any(note.startswith("detector mask") for note in record["notes"])
