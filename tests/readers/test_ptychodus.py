"""Files ptychodus 1.7.0 writes, read by ptyevidence: natively and through ptychodus's plugins."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

import ptychodus_files as pf
from ptyevidence.contract.validate import validate_dataset
from ptyevidence.exceptions import InputError
from ptyevidence.readers import open_source
from ptyevidence.readers.counts import counts_to_amplitude
from ptyevidence.readers.ptychodus_plugins import PtychodusSource


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    truth = pf.scene()
    return truth, pf.write_files(tmp_path_factory.mktemp("ptychodus"), truth)


def test_a_ptychodus_product_passes_with_its_spec_drift_as_named_warnings(scene):
    _, files = scene
    report = validate_dataset(files["product.h5"], "ptychodus-product")
    assert report.ok, report.to_text()
    drift = {f.field: f.message for f in report.warnings if f.rule == "version-drift"}
    assert set(drift) == {"@probe_energy_eV", "@mass_attenuation_m2_kg"}
    assert drift["@probe_energy_eV"].startswith("written by ptychodus 1.7.0")
    assert "@photon_energy_eV; the spec names @probe_energy_eV" in drift["@probe_energy_eV"]
    opr = validate_dataset(files["product_opr.h5"], "ptychodus-product")
    assert opr.ok, opr.to_text()
    assert {f.field for f in opr.warnings if f.rule == "version-drift"} >= {"probe@opr_weights"}
    assert opr.dims["C"] == 2
    assert opr.dims["K"] == 24
    assert opr.dims["L"] == 2
    assert opr.dims["Ls"] == 1


def test_the_native_reader_agrees_with_ptychodus_on_positions_probe_and_object(scene):
    truth, files = scene
    product = pf.read_product("HDF5", files["product.h5"])
    geometry = product.object_.get_geometry()
    with open_source(files["product.h5"]) as src:
        np.testing.assert_allclose(
            src.read("xcoords"),
            geometry.map_probe_positions_to_object_x_px(product.probe_positions),
            rtol=0,
            atol=1e-12,
        )
        np.testing.assert_allclose(src.read("ycoords"), truth["y_px"], rtol=0, atol=1e-9)
        np.testing.assert_array_equal(src.read("probeGuess"), truth["probe"])
        np.testing.assert_array_equal(src.read("objectGuess"), truth["object"])


def test_training_data_is_read_natively_and_cut_to_amplitude(scene, tmp_path):
    from ptyevidence.fixture import make_fixture

    truth, files = scene
    made = make_fixture(files["training_data.h5"], tmp_path / "fx.npz", subset_size=16)
    assert made.sidecar["contract"]["verdict"] == "PASS"
    with np.load(made.path) as fx:
        counts = truth["counts"].astype(np.float64)
        counts[:, truth["bad_pixels"]] = 0  # ptychodus inpaints them; the mask zeroes them
        scale = 1 / np.sqrt(counts.max())
        expected = counts_to_amplitude(counts[made.indices], truth["bad_pixels"], scale)
        np.testing.assert_allclose(fx["diffraction"], expected, rtol=1e-6)
        np.testing.assert_allclose(fx["xcoords"], truth["x_px"][made.indices], atol=1e-9)


def test_a_split_cxi_pair_validates_and_its_rows_pair_by_index(scene):
    truth, files = scene
    report = validate_dataset(files["diffraction.cxi"], "raw", positions_from=files["product.h5"])
    assert report.ok, report.to_text()
    with open_source(files["diffraction.cxi"], positions_from=files["product.cxi"]) as pair:
        np.testing.assert_array_equal(pair.read("diffraction"), truth["counts"])
        np.testing.assert_allclose(pair.read("xcoords"), truth["x_px"], atol=1e-9)
        assert "paired by pattern index" in " ".join(pair.frame_transform_notes())


def test_a_pair_whose_counts_differ_is_unusable(scene, tmp_path):
    _, files = scene
    short = tmp_path / "short.h5"
    with h5py.File(files["product.h5"], "r") as src, h5py.File(short, "w") as dst:
        for key, value in src.attrs.items():
            dst.attrs[key] = value
        for key in src:
            data = src[key][()]
            dst[key] = data[:-4] if key.startswith("probe_position") else data
            for attr, value in src[key].attrs.items():
                dst[key].attrs[attr] = value
    with pytest.raises(InputError, match="holds 24 frames but .* holds 20 positions"):
        open_source(files["diffraction.cxi"], positions_from=short)


def test_permuted_indexes_reorder_the_positions_to_the_frames(scene, tmp_path):
    truth, files = scene
    shuffled = tmp_path / "shuffled.h5"
    order = np.random.default_rng(0).permutation(24)
    with h5py.File(files["product.h5"], "r") as src, h5py.File(shuffled, "w") as dst:
        for key, value in src.attrs.items():
            dst.attrs[key] = value
        for key in src:
            data = src[key][()]
            dst[key] = data[order] if key.startswith("probe_position") else data
            for attr, value in src[key].attrs.items():
                dst[key].attrs[attr] = value
    with open_source(files["diffraction.cxi"], positions_from=shuffled) as pair:
        np.testing.assert_allclose(pair.read("xcoords"), truth["x_px"], atol=1e-9)
        np.testing.assert_allclose(pair.take("xcoords", [3, 1]), truth["x_px"][[3, 1]], atol=1e-9)
        for key in ("xcoords", "diffraction"):  # reordered positions, frames on threads
            mapped = list(pair.map_blocks(key, np.copy, 2, 1000))
            np.testing.assert_array_equal(np.concatenate(mapped), pair.read(key).reshape(-1))


def test_the_plugin_backend_reads_a_product_cxi_and_says_how(scene):
    truth, files = scene
    with open_source(files["product.cxi"]) as src:  # no frames: the CXI reader refuses, ptychodus reads it
        assert src.format == "ptychodus:CXI"
        assert "diffraction" not in src
        np.testing.assert_allclose(src.read("xcoords"), truth["x_px"], atol=1e-9)
        np.testing.assert_array_equal(src.read("probe")[0, 0], truth["probe"])
        assert float(src.read("@photon_energy_eV")) == pf.ENERGY_EV
        assert any("built-in reader refused" in n for n in src.notes)


def test_lazy_plugins_stream_and_eager_ones_say_so(scene):
    truth, files = scene
    with PtychodusSource(files["diffraction.cxi"], "CXI") as lazy:
        assert any("streamed" in n for n in lazy.notes)
        np.testing.assert_array_equal(lazy.take("diffraction", [7, 2, 7]), truth["counts"][[7, 2, 7]])
        blocks = list(lazy.iter_blocks("diffraction", block_bytes=FRAME_BYTES * 5))
        assert len(blocks) == 5
        assert np.array_equal(np.concatenate(blocks), truth["counts"].reshape(-1))
        assert lazy.info("mask").shape == (pf.FRAME, pf.FRAME)
    with PtychodusSource(files["training_data.h5"], "Ptychodus_Training_Data") as eager:
        assert any("eager" in n for n in eager.notes)
        assert eager.plugins == {"diffraction": "Ptychodus_Training_Data", "product": "Ptychodus_Training_Data"}


FRAME_BYTES = pf.FRAME * pf.FRAME * 4


def test_a_named_plugin_that_does_not_exist_is_named_in_the_error(scene):
    _, files = scene
    with pytest.raises(InputError, match="ptychodus has no reader plugin named 'NOPE'; its readers: .*CXI"):
        open_source(files["product.h5"], reader="ptychodus:NOPE")


def test_a_file_no_plugin_reads_lists_the_attempts(tmp_path):
    path = tmp_path / "empty.h5"
    with h5py.File(path, "w") as f:
        f["unrelated"] = np.zeros(3)
    with pytest.raises(InputError, match="ptychodus reader plugin"):
        PtychodusSource(path)


def test_the_ptychopinn_export_passes_its_profile_and_converts(scene, tmp_path):
    from ptyevidence.writers.convert_source import convert_source

    truth, files = scene
    export = files["ptychopinn_training.npz"]
    profile = validate_dataset(export, "ptychodus-ptychopinn")
    assert profile.ok, profile.to_text()
    assert {f.rule for f in profile.warnings} >= {"dtype", "diffraction-counts"}
    assert not any(f.rule == "unknown-key" for f in profile.findings)  # bad_pixels is a field
    assert not validate_dataset(export, "data001").ok
    record = convert_source(export, tmp_path / "out.npz")
    assert record["steps"][0]["bad_pixels"] == len(pf.BAD_PIXELS)
    converted = validate_dataset(tmp_path / "out.npz", "data001")
    assert converted.ok, converted.to_text()
    with np.load(tmp_path / "out.npz") as out, np.load(export) as raw:
        assert out["diffraction"].max() == pytest.approx(1.0)
        assert np.all(out["diffraction"][:, truth["bad_pixels"]] == 0)
        np.testing.assert_array_equal(out["probeGuess"], raw["probeGuess"][0])
