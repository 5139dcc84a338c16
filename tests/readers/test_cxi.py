"""Tests of the CXI (HDF5) reader: canonical keys, geometry, mask, gathers, errors."""

from __future__ import annotations

import os
import threading

import h5py
import numpy as np
import numpy.testing as npt
import pytest

from cxi_files import (
    DETECTOR,
    ENERGY_8KEV_J,
    FRAMES,
    PLANCK_TIMES_C,
    SOURCE,
    TRANSLATION,
    far_field_positions,
    scan_counts,
    scan_translation,
    write_cxi,
)
from ptyevidence import validate_dataset
from ptyevidence.exceptions import InputError, UsageError
from ptyevidence.readers import ArrayInfo, read_cxi
from ptyevidence.readers.cxi import CxiSource, _read_groups
from ptyevidence.readers.registry import default_contract_for, open_source


@pytest.fixture
def cxi(tmp_path):
    """Factory: ``cxi(name="x.cxi", **write_cxi_kw)`` -> (path, written arrays)."""

    def factory(name: str = "x.cxi", **kw):
        path = os.fspath(tmp_path / name)
        return path, write_cxi(path, **kw)

    return factory


# -- registration and interface ------------------------------------------------------


@pytest.mark.parametrize("name", ["scan.cxi", "scan.h5", "scan.hdf5", "scan.data"])
def test_open_source_picks_cxi_reader_by_magic_or_extension(cxi, name):
    path, _ = cxi(name)
    with open_source(path) as src:
        assert isinstance(src, CxiSource)
        assert src.format == "cxi"
    assert default_contract_for(path) == "raw"


def test_keys_are_canonical_names(cxi):
    path, _ = cxi(mask=np.zeros((16, 16), np.uint32))
    with CxiSource(path) as src:
        assert src.keys() == [
            "diffraction",
            "xcoords",
            "ycoords",
            "xcoords_start",
            "ycoords_start",
            "mask",
        ]
        assert "diffraction" in src
        assert "probeGuess" not in src


def test_info_reports_stored_dtype_shape_and_compression(cxi, tmp_path):
    path, _ = cxi(chunks=(4, 16, 16), compression="gzip")
    plain, _ = cxi("plain.cxi")
    with CxiSource(path) as src, CxiSource(plain) as src_plain:
        info = src.info("diffraction")
        assert isinstance(info, ArrayInfo)
        assert (info.dtype, info.shape, info.compressed, info.data_offset) == (
            np.dtype(np.uint16),
            (20, 16, 16),
            True,
            None,
        )
        assert src_plain.info("diffraction").compressed is False
        assert src.info("xcoords").shape == (20,)
        assert src.file_size() == os.path.getsize(path)


def test_big_endian_frames_read_in_native_order(cxi):
    counts = scan_counts(6, 8, 8).astype(">u2")
    path, _ = cxi(counts=counts, n=6, h=8, w=8)
    with CxiSource(path) as src:
        assert src.info("diffraction").dtype == np.dtype("=u2")
        frames = src.read("diffraction")
    assert frames.dtype.isnative
    npt.assert_array_equal(frames, counts.astype(np.uint16))


# -- gathers -------------------------------------------------------------------------

LAYOUTS = [
    pytest.param({}, id="contiguous"),
    pytest.param({"chunks": (4, 16, 16)}, id="chunked"),
    pytest.param({"chunks": (3, 8, 8), "compression": "gzip"}, id="gzip-partial-frame-chunks"),
]


@pytest.mark.parametrize("storage", LAYOUTS)
def test_take_returns_frames_in_requested_order_with_repeats(cxi, storage):
    path, written = cxi(**storage)
    idx = [17, 2, 3, 2, 19, 0, 8]
    with CxiSource(path) as src:
        got = src.take("diffraction", idx)
        cols = src.take("diffraction", [5, 0, 5], axis=-1)
        xs = src.take("xcoords", idx)
        full_x = src.read("xcoords")
    npt.assert_array_equal(got, written["counts"][idx])
    npt.assert_array_equal(got[:, 0, 1], idx)
    npt.assert_array_equal(cols, written["counts"][..., [5, 0, 5]])
    npt.assert_array_equal(xs, full_x[idx])


@pytest.mark.parametrize("storage", LAYOUTS)
def test_iter_blocks_concatenate_to_the_whole_stack(cxi, storage):
    path, written = cxi(**storage)
    with CxiSource(path) as src:
        blocks = list(src.iter_blocks("diffraction", block_bytes=1500))
        x_blocks = list(src.iter_blocks("xcoords", block_bytes=24))
        x = src.read("xcoords")
    assert len(blocks) > 1
    npt.assert_array_equal(np.concatenate(blocks), written["counts"].ravel())
    npt.assert_array_equal(np.concatenate(x_blocks), x)


@pytest.mark.parametrize("storage", LAYOUTS)
def test_map_blocks_on_threads_sees_the_blocks_iter_blocks_yields(cxi, storage):
    """map_blocks(jobs=2) folds the blocks of iter_blocks in order, on threads unless compressed."""
    path, _ = cxi(**storage)
    threads = set()

    def copy(block):
        threads.add(threading.get_ident())
        return block.copy()

    with CxiSource(path) as src:
        for key, block_bytes in (("diffraction", 1500), ("xcoords", 24)):
            want = list(src.iter_blocks(key, block_bytes))
            got = list(src.map_blocks(key, copy, 2, block_bytes))
            assert len(got) == len(want) > 1
            for a, b in zip(got, want):
                npt.assert_array_equal(a, b)
                assert a.dtype == b.dtype
    caller = threading.get_ident()
    assert caller in threads  # xcoords: an array in memory, folded by the caller
    assert (threads == {caller}) == ("compression" in storage)


def test_take_reads_each_chunk_once(cxi):
    path, written = cxi(n=40, chunks=(8, 16, 16), compression="gzip")
    wanted = [39, 1, 3, 5, 33, 9, 10, 1]
    with CxiSource(path) as src:
        reads = []
        real = src._frames

        class Counting:
            """Dataset proxy counting read calls."""

            def __getattr__(self, name):
                return getattr(real, name)

            def __getitem__(self, sel):
                reads.append(sel)
                return real[sel]

            def read_direct(self, out, source_sel=None, dest_sel=None):
                reads.append(source_sel)
                real.read_direct(out, source_sel=source_sel, dest_sel=dest_sel)

        src._frames = Counting()
        got = src.take("diffraction", wanted)
    chunks_touched = len({i // 8 for i in wanted})
    assert len(reads) == chunks_touched == 3
    npt.assert_array_equal(got, written["counts"][wanted])


def test_read_groups_split_by_chunk_or_by_run():
    class Chunked:
        chunks = (4, 8, 8)

    class Contiguous:
        chunks = None

    uniq = np.array([0, 1, 2, 9, 11, 12, 17])
    chunked = [(lo, hi, pos.tolist()) for lo, hi, pos in _read_groups(Chunked(), uniq)]
    runs = [(lo, hi, pos.tolist()) for lo, hi, pos in _read_groups(Contiguous(), uniq)]
    assert chunked == [(0, 3, [0, 1, 2]), (9, 12, [3, 4]), (12, 13, [5]), (17, 18, [6])]
    assert runs == [(0, 3, [0, 1, 2]), (9, 10, [3]), (11, 13, [4, 5]), (17, 18, [6])]


def test_take_refuses_out_of_range_and_non_integer_indices(cxi):
    path, _ = cxi()
    with CxiSource(path) as src:
        with pytest.raises(InputError, match="out of range"):
            src.take("diffraction", [20])
        with pytest.raises(TypeError, match="integers"):
            src.take("diffraction", np.array([0.5]))


# -- geometry and positions -------------------------------------------------------


def test_far_field_positions_match_hand_computation(cxi):
    path, written = cxi(h=16, w=32, pixel_size_m=(55e-6, 75e-6))
    x, y, dx, dy = far_field_positions(written["translation"], ENERGY_8KEV_J, 2.0, (55e-6, 75e-6), (16, 32))
    with CxiSource(path) as src:
        assert src.position_units == "object pixels"
        npt.assert_allclose(src.sample_pixel_size, (dx, dy), rtol=1e-12)
        npt.assert_allclose(src.read("xcoords"), x, rtol=1e-12)
        npt.assert_allclose(src.read("ycoords"), y, rtol=1e-12)
        npt.assert_array_equal(src.read("xcoords_start"), src.read("xcoords"))
        npt.assert_array_equal(src.read("ycoords_start"), src.read("ycoords"))
        npt.assert_allclose(src.wavelength, PLANCK_TIMES_C / ENERGY_8KEV_J, rtol=1e-12)


def test_wavelength_gives_same_positions_as_equivalent_energy(cxi):
    via_energy, _ = cxi("e.cxi")
    via_wavelength, _ = cxi("l.cxi", energy_J=None, wavelength_m=PLANCK_TIMES_C / ENERGY_8KEV_J)
    with CxiSource(via_energy) as a, CxiSource(via_wavelength) as b:
        npt.assert_allclose(b.read("xcoords"), a.read("xcoords"), rtol=1e-12)
        assert b.energy is None
        assert a.energy == ENERGY_8KEV_J


def test_units_attributes_are_converted_to_si(cxi):
    si, _ = cxi("si.cxi")
    scaled, _ = cxi(
        "scaled.cxi",
        energy_J=8.0,
        distance_m=2000.0,
        pixel_size_m=(75.0, 75.0),
        translation=scan_translation(20) * 1e6,
        units={"energy": "keV", "distance": "mm", "x_pixel_size": "um", "y_pixel_size": "um", "translation": "um"},
    )
    with CxiSource(si) as a, CxiSource(scaled) as b:
        npt.assert_allclose(b.read("xcoords"), a.read("xcoords"), rtol=1e-9)
        npt.assert_allclose(b.distance, 2.0, rtol=1e-12)
        assert any("keV" in note for note in b.notes)


def test_unknown_units_are_refused_naming_the_dataset(cxi):
    path, _ = cxi(units={"distance": "furlong"})
    with pytest.raises(InputError, match=r"detector_1/distance.*furlong"):
        CxiSource(path)


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        pytest.param({"energy_J": None}, "wavelength", id="no-energy"),
        pytest.param({"distance_m": None}, "distance", id="no-distance"),
        pytest.param({"pixel_size_m": None}, "pixel size", id="no-pixel-size"),
        pytest.param({"energy_J": 8000.0}, "implausible", id="energy-in-eV-without-units"),
    ],
)
def test_incomplete_geometry_keeps_positions_in_metres_with_a_note(cxi, kw, reason):
    path, written = cxi(**kw)
    with CxiSource(path) as src:
        assert src.position_units == "m"
        assert src.sample_pixel_size is None
        npt.assert_allclose(src.read("xcoords"), written["translation"][:, 0])
        npt.assert_allclose(src.read("ycoords"), written["translation"][:, 1])
        assert any(reason in note for note in src.notes)


def test_distance_varying_between_frames_is_not_used(cxi, tmp_path):
    path, _ = cxi()
    with h5py.File(path, "a") as f:
        del f[f"{DETECTOR}/distance"]
        f[f"{DETECTOR}/distance"] = np.linspace(2.0, 2.5, 20)
    with CxiSource(path) as src:
        assert src.position_units == "m"
        assert any("varies between frames" in note for note in src.notes)


def test_near_field_needs_a_sample_pixel_size(cxi):
    path, written = cxi()
    with CxiSource(path, geometry="near-field") as src:
        assert src.position_units == "m"
    with CxiSource(path, geometry="near-field", sample_pixel_size=20e-9) as src:
        x = written["translation"][:, 0] / 20e-9
        npt.assert_allclose(src.read("xcoords"), x - x.min() + 8, rtol=1e-12)
        assert src.metadata["sample_pixel_size_rule"].startswith("given")


def test_flipped_basis_vectors_mirror_positions_and_give_pixel_size(cxi):
    default, _ = cxi("default.cxi")
    flipped, _written = cxi(
        "flipped.cxi",
        pixel_size_m=None,
        basis_vectors=np.array([[0.0, 75e-6, 0.0], [75e-6, 0.0, 0.0]]),
    )
    with CxiSource(default) as a, CxiSource(flipped) as b:
        assert b.detector_pixel_size == pytest.approx((75e-6, 75e-6))
        xa, xb = a.read("xcoords"), b.read("xcoords")
        # Mirrored: the order of positions along x reverses, the spacing is kept.
        npt.assert_allclose(xb, xa.max() + xa.min() - xa, rtol=1e-9)


def test_geometry_and_choices_are_in_metadata(cxi):
    path, _ = cxi(mask=np.zeros((16, 16), np.uint8))
    with CxiSource(path) as src:
        meta = src.metadata
    assert meta["hdf5_paths"]["frames"] == FRAMES
    assert meta["hdf5_paths"]["translation"] == TRANSLATION
    assert meta["hdf5_paths"]["energy"] == f"{SOURCE}/energy"
    assert meta["distance_m"] == 2.0
    assert meta["position_units"] == "object pixels"
    assert meta["mask_rule"].startswith("CXI bit field")


# -- frames location -------------------------------------------------------------------


def test_frames_found_through_data_1_soft_link(cxi):
    path, written = cxi(data_at="entry_1/instrument_1/detector_1/raw_frames", link_data=True)
    with CxiSource(path) as src:
        assert src.frames_path == "entry_1/data_1/data"
        npt.assert_array_equal(src.take("diffraction", [4, 1]), written["counts"][[4, 1]])


def test_dangling_soft_link_is_named(cxi):
    path, _ = cxi(data_at="entry_1/instrument_1/detector_1/raw_frames")
    with h5py.File(path, "a") as f:
        del f["entry_1/instrument_1/detector_1/raw_frames"]
        f["entry_1/data_1/data"] = h5py.SoftLink("/entry_1/instrument_1/detector_1/raw_frames")
    with pytest.raises(InputError, match=r"'entry_1/data_1/data' is a link to '/entry_1/.*raw_frames'"):
        CxiSource(path)


# -- malformed files ----------------------------------------------------------------


def _one_d_frames(path):
    with h5py.File(path, "a") as f:
        del f[FRAMES]
        f[FRAMES] = np.arange(20, dtype=np.uint16)


def _no_frames(path):
    with h5py.File(path, "a") as f:
        del f[FRAMES]


def _no_translation(path):
    with h5py.File(path, "a") as f:
        del f[TRANSLATION]


def _short_translation(path):
    with h5py.File(path, "a") as f:
        del f[TRANSLATION]
        f[TRANSLATION] = np.zeros((19, 3))


def _translation_wrong_width(path):
    with h5py.File(path, "a") as f:
        del f[TRANSLATION]
        f[TRANSLATION] = np.zeros((20, 5))


def _mask_wrong_shape(path):
    with h5py.File(path, "a") as f:
        f[f"{DETECTOR}/mask"] = np.zeros((8, 8), np.uint32)


def _frames_are_a_group(path):
    with h5py.File(path, "a") as f:
        del f[FRAMES]
        f.create_group(FRAMES)


def _complex_frames(path):
    with h5py.File(path, "a") as f:
        del f[FRAMES]
        f[FRAMES] = np.ones((20, 16, 16), np.complex64)


MALFORMED = [
    pytest.param(_one_d_frames, r"detector_1/data' has shape \(20,\); expected a 3-D stack", id="1d-data"),
    pytest.param(_no_frames, r"holds no diffraction frames.*detector_1/data", id="no-frames"),
    pytest.param(_no_translation, r"no scan positions.*geometry_1/translation", id="no-translation"),
    pytest.param(_short_translation, r"translation' holds 19 positions but .* holds 20 frames", id="length-mismatch"),
    pytest.param(_translation_wrong_width, r"translation' has shape \(20, 5\)", id="translation-not-kx3"),
    pytest.param(
        _mask_wrong_shape, r"detector_1/mask' has shape \(8, 8\); expected \(H, W\) = \(16, 16\)", id="mask-shape"
    ),
    pytest.param(_frames_are_a_group, r"detector_1/data' is a group", id="frames-group"),
    pytest.param(_complex_frames, r"expected real photon counts", id="complex-frames"),
]


@pytest.mark.parametrize(("damage", "message"), MALFORMED)
def test_malformed_file_raises_input_error_naming_the_path(cxi, damage, message):
    path, _ = cxi()
    damage(path)
    with pytest.raises(InputError, match=message) as err:
        open_source(path)
    assert "\n" not in str(err.value)
    assert path in str(err.value)


def test_not_hdf5_with_cxi_extension_is_refused(tmp_path):
    path = tmp_path / "fake.cxi"
    path.write_bytes(b"not an hdf5 file at all")
    with pytest.raises(InputError, match="not a readable HDF5 file"):
        open_source(path)


def test_unknown_geometry_is_a_usage_error(cxi):
    path, _ = cxi()
    with pytest.raises(UsageError, match="far-field, near-field"):
        CxiSource(path, geometry="mid-field")


# -- mask, probe, amplitude ------------------------------------------------------------


def test_mask_follows_cxi_bits_has_signal_is_not_bad(cxi):
    mask = np.zeros((16, 16), np.uint32)
    mask[0, 0] = 0x1  # invalid
    mask[0, 1] = 0x1000  # has signal: informative only
    mask[0, 2] = 0x1001  # invalid and has signal
    mask[0, 3] = 0x80  # bad
    path, _ = cxi(mask=mask)
    with CxiSource(path) as src:
        bad = src.read("mask")
    assert bad.dtype == np.bool_
    assert np.flatnonzero(bad).tolist() == [0, 2, 3]


def test_boolean_mask_true_is_bad(cxi):
    mask = np.zeros((16, 16), bool)
    mask[3, 4] = True
    path, _ = cxi(mask=mask)
    with CxiSource(path) as src:
        npt.assert_array_equal(src.read("mask"), mask)


def test_mask_flagging_most_pixels_gets_a_note(cxi):
    path, _ = cxi(mask=np.ones((16, 16), np.uint8))
    with CxiSource(path) as src:
        assert any("good pixels instead" in note for note in src.notes)


def test_frame_transform_is_sqrt_counts_over_sqrt_global_max_with_mask_zeroed(cxi):
    counts = scan_counts(20, 16, 16)
    counts[7, 5, 5] = 900  # the largest good count
    counts[3, 9, 9] = 60000  # larger, but masked: must not set the scale
    mask = np.zeros((16, 16), np.uint32)
    mask[9, 9] = 1
    path, _ = cxi(counts=counts, mask=mask)
    with CxiSource(path) as src:
        some = src.frame_transform(src.take("diffraction", [3, 7]))
        every = src.frame_transform(src.read("diffraction"))
        notes = src.frame_transform_notes()
    expected = np.sqrt(counts.astype(np.float64)) / 30.0
    expected[:, 9, 9] = 0.0
    assert every.dtype == np.float32
    npt.assert_allclose(every, expected, rtol=1e-6)
    npt.assert_array_equal(some, every[[3, 7]])  # scale independent of the subset
    assert float(every.max()) == pytest.approx(1.0)
    assert any("max count 900 over all 20 frames" in n for n in notes)


def test_negative_and_nonfinite_counts_are_zeroed_and_counted(cxi):
    counts = scan_counts(20, 16, 16).astype(np.float32)
    counts[0, 2, 2] = -5.0
    counts[1, 3, 3] = np.nan
    counts[2, 4, 4] = np.inf
    path, _ = cxi(counts=counts)
    with CxiSource(path) as src:
        summary = src.intensity_summary()
        amp = src.frame_transform(src.take("diffraction", [0, 1, 2]))
    assert (summary.n_negative, summary.n_nonfinite) == (1, 2)
    assert amp[0, 2, 2] == 0
    assert amp[1, 3, 3] == 0
    assert amp[2, 4, 4] == 0
    assert np.isfinite(amp).all()


@pytest.mark.parametrize(
    ("stored", "expected_index"),
    [pytest.param((16, 16), None, id="single"), pytest.param((3, 16, 16), 0, id="modes-first-used")],
)
def test_probe_stored_in_file_is_offered_as_probe_guess(cxi, stored, expected_index):
    rng = np.random.default_rng(3)
    probe = (rng.random(stored) + 1j * rng.random(stored)).astype(np.complex128)
    path, _ = cxi(probe=probe)
    with CxiSource(path) as src:
        got = src.read("probeGuess")
    want = probe if expected_index is None else probe[expected_index]
    assert got.dtype == np.complex64
    npt.assert_allclose(got, want.astype(np.complex64))


def test_probe_of_wrong_size_is_ignored_with_a_note(cxi):
    path, _ = cxi(probe=np.ones((8, 8), np.complex64))
    with CxiSource(path) as src:
        assert "probeGuess" not in src
        assert any("probe candidate" in note and "ignored" in note for note in src.notes)


# -- validation and the public reader ----------------------------------------------------


def test_validate_cxi_passes_raw_profile_and_fails_data001(cxi):
    path, _ = cxi()
    raw = validate_dataset(path, "raw")
    strict = validate_dataset(path, "data001")
    assert raw.ok
    assert raw.format == "cxi"
    assert {f.rule for f in raw.warnings} >= {"dtype"}
    assert not strict.ok
    assert {f.field for f in strict.errors if f.rule == "required"} == {"objectGuess", "probeGuess"}


def test_read_cxi_returns_arrays_and_attrs(cxi):
    path, written = cxi(mask=np.zeros((16, 16), np.uint32))
    arrays, attrs = read_cxi(path)
    npt.assert_array_equal(arrays["diffraction"], written["counts"])
    assert set(arrays) == {"diffraction", "xcoords", "ycoords", "xcoords_start", "ycoords_start", "mask"}
    assert attrs["energy_J"] == ENERGY_8KEV_J
    amplitude, attrs_amp = read_cxi(path, amplitude=True)
    assert amplitude["diffraction"].dtype == np.float32
    assert float(amplitude["diffraction"].max()) == pytest.approx(1.0)
    assert any("scale" in note for note in attrs_amp["amplitude_notes"])


def test_square_stack_is_not_ambiguous_for_cxi(cxi):
    path, _ = cxi(n=16, h=16, w=16)
    with CxiSource(path) as src:
        assert src.layout == "canonical"
    assert validate_dataset(path, "raw").layout == "canonical"


def test_take_from_one_huge_chunk_reads_frame_by_frame(cxi, monkeypatch):
    import ptyevidence.readers.cxi as cxi_module

    path, written = cxi(n=20, chunks=(20, 16, 16))
    monkeypatch.setattr(cxi_module, "BLOCK_BYTES", 3 * 16 * 16 * 2)
    with CxiSource(path) as src:
        got = src.take("diffraction", [19, 0, 7])
    npt.assert_array_equal(got, written["counts"][[19, 0, 7]])
