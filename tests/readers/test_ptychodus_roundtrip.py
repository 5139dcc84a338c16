"""Fixtures ptyevidence writes, read back by ptychodus 1.7.0's own readers."""

from __future__ import annotations

import numpy as np
import pytest

import ptychodus_files as pf
from ptyevidence.demo import make_demo_data
from ptyevidence.fixture import make_fixture
from ptyevidence.readers.cxi import ELECTRON_VOLT_J, photon_wavelength


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.npz"
    make_demo_data(path)
    return path


def cut(demo, folder, fmt):
    """64 positions of 64 x 64 frames: N == H == W, the case a layout guess gets wrong."""
    suffix = {"data001": ".npz", "slac-npz": ".npz", "ptychodus-product": ".h5"}[fmt]
    made = make_fixture(demo, folder / f"fx-{fmt}{suffix}", subset_size=64, format=fmt)
    with np.load(demo) as src:
        rows = {k: src[k][made.indices] for k in ("diffraction", "xcoords", "ycoords")}
        rows.update(probeGuess=src["probeGuess"], objectGuess=src["objectGuess"])
    return made, rows


def far_field_pixel(geometry: dict, width: int) -> float:
    wavelength = photon_wavelength(geometry["photon_energy_eV"] * ELECTRON_VOLT_J)
    return wavelength * geometry["detector_distance_m"] / (width * geometry["detector_pixel_size_m"])


def test_a_slac_npz_fixture_gives_ptychodus_the_same_frames(demo, tmp_path):
    made, rows = cut(demo, tmp_path, "slac-npz")
    assert rows["diffraction"].shape == (64, 64, 64)
    frames = pf.read_frames("SLAC_NPZ", made.path)
    np.testing.assert_array_equal(frames, rows["diffraction"])  # frame k is fixture row k
    product = pf.read_product("SLAC_NPZ", made.path)
    dx = far_field_pixel(made.sidecar["geometry"], 64)
    assert dx == pytest.approx(made.sidecar["geometry"]["object_pixel_width_m"], rel=1e-12)
    np.testing.assert_allclose(product.probe_positions.get_coordinates_x_m(), rows["xcoords"] * dx, rtol=1e-12)
    np.testing.assert_allclose(product.probe_positions.get_coordinates_y_m(), rows["ycoords"] * dx, rtol=1e-12)
    np.testing.assert_array_equal(product.probes.get_array()[0, 0], rows["probeGuess"])
    np.testing.assert_array_equal(product.object_.get_array()[0], rows["objectGuess"])


def test_a_data001_fixture_loads_in_ptychodus_with_the_wrong_frames(demo, tmp_path):
    # What the slac-npz format is for: ptychodus's SLAC reader transposes every stack.
    made, rows = cut(demo, tmp_path, "data001")
    frames = pf.read_frames("SLAC_NPZ", made.path)
    assert frames.shape == rows["diffraction"].shape
    assert not np.array_equal(frames, rows["diffraction"])
    np.testing.assert_array_equal(frames, np.transpose(rows["diffraction"], (2, 0, 1)))


def test_a_product_fixture_gives_ptychodus_frames_positions_probe_and_object(demo, tmp_path):
    made, rows = cut(demo, tmp_path, "ptychodus-product")
    assert made.sidecar["contract"] == {**made.sidecar["contract"], "name": "ptychodus-product", "verdict": "PASS"}
    np.testing.assert_array_equal(pf.read_frames("CXI", made.path), rows["diffraction"])
    product = pf.read_product("HDF5", made.path)
    geo = made.sidecar["geometry"]
    assert product.metadata.photon_energy_eV == geo["photon_energy_eV"]
    _height, width = rows["objectGuess"].shape
    x_m = (rows["xcoords"] - (width - 1) / 2) * geo["object_pixel_width_m"] + geo["object_center_x_m"]
    np.testing.assert_array_equal(product.probe_positions.get_coordinates_x_m(), x_m)
    np.testing.assert_array_equal(product.probe_positions.get_indexes(), np.arange(64))
    mapped = product.object_.get_geometry().map_probe_positions_to_object_y_px(product.probe_positions)
    np.testing.assert_allclose(mapped, rows["ycoords"], rtol=0, atol=1e-9)
    np.testing.assert_array_equal(product.probes.get_array()[0, 0], rows["probeGuess"])
    np.testing.assert_array_equal(product.object_.get_array()[0], rows["objectGuess"])


@pytest.mark.parametrize("fmt", ["slac-npz", "ptychodus-product"])
def test_every_format_is_deterministic(demo, tmp_path, fmt):
    first, _ = cut(demo, tmp_path, fmt)
    again = make_fixture(demo, tmp_path / "again.bin", subset_size=64, format=fmt)
    assert again.sidecar["sha256_checksum"] == first.sidecar["sha256_checksum"]
