"""The SLAC NPZ and ptychodus product writers, without ptychodus: layout, refusals, determinism."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from conftest import dataset_arrays
from ptyevidence.exceptions import UsageError
from ptyevidence.readers import open_source
from ptyevidence.readers.metadata import read_metadata_member
from ptyevidence.writers.geometry import DEFAULTS, Geometry, source_geometry
from ptyevidence.writers.product import CXI_FRAMES_LINK, write_product
from ptyevidence.writers.slac import reader_pixel_size, slac_arrays, write_slac_npz

GEOMETRY = Geometry(8000.0, 0.75, 75e-6, 2.5e-8, 2.5e-8)


def test_slac_frames_are_stored_h_w_n_and_the_layout_is_recorded(tmp_path):
    arrays = dataset_arrays(n=8, h=8, w=8)  # N == H == W
    path = write_slac_npz(tmp_path / "s.npz", arrays, GEOMETRY)
    with np.load(path) as f:
        np.testing.assert_array_equal(np.moveaxis(f["diffraction"], -1, 0), arrays["diffraction"])
        np.testing.assert_array_equal(f["xcoords_start"], arrays["xcoords"])
    with open_source(path) as src:
        assert read_metadata_member(src)["layout"] == "legacy"


def test_an_unrecorded_slac_layout_is_refused_when_the_shape_cannot_tell(tmp_path):
    with pytest.raises(UsageError, match="N equals H or W"):
        slac_arrays(dataset_arrays(n=8, h=8, w=8), GEOMETRY, record_layout=False)
    assert "_metadata" not in slac_arrays(dataset_arrays(n=20, h=8, w=8), GEOMETRY, record_layout=False)


def test_slac_positions_near_zero_are_refused_as_metres_to_ptychodus():
    arrays = dataset_arrays(n=20)
    arrays["xcoords"] = arrays["ycoords"] = np.zeros(20)
    with pytest.raises(UsageError, match="take these object pixels for metres"):
        slac_arrays(arrays, GEOMETRY)


def test_the_slac_detector_pixel_makes_ptychodus_scale_by_the_object_pixel():
    # lambda * z / (W * detector pixel) == object pixel
    pixel = reader_pixel_size(GEOMETRY, 64)
    wavelength = 6.62607015e-34 * 299_792_458.0 / (8000 * 1.602176634e-19)
    assert wavelength * 0.75 / (64 * pixel) == pytest.approx(2.5e-8, rel=1e-12)


def test_the_product_holds_the_spec_and_ptychodus_names_and_links_its_frames(tmp_path):
    arrays = dataset_arrays(n=20, h=8, w=8)
    path = write_product(tmp_path / "p.h5", arrays, GEOMETRY)
    with h5py.File(path, "r") as f:
        assert f.attrs["photon_energy_eV"] == f.attrs["probe_energy_eV"] == 8000.0
        assert "mass_attenuation_m2_kg" in f.attrs
        assert "mass_attenuation_m2_per_kg" in f.attrs
        assert f.get(CXI_FRAMES_LINK, getlink=True).path == "/raw_data/diffraction"
        np.testing.assert_array_equal(f[CXI_FRAMES_LINK][()], arrays["diffraction"])
        assert f["probe"].shape == (1, 1, 8, 8)
        assert f["object"].shape == (1, 32, 32)
        np.testing.assert_array_equal(f["probe_position_indexes"][()], np.arange(20))


@pytest.mark.parametrize("write", [write_slac_npz, write_product])
def test_equal_fixtures_give_equal_bytes(tmp_path, write):
    arrays = dataset_arrays(n=20)
    first = write(tmp_path / "a", arrays, GEOMETRY)
    second = write(tmp_path / "b", arrays, GEOMETRY)
    with open(first, "rb") as fa, open(second, "rb") as fb:
        assert fa.read() == fb.read()


def test_an_existing_output_needs_force(tmp_path):
    path = write_product(tmp_path / "p.h5", dataset_arrays(), GEOMETRY)
    with pytest.raises(UsageError, match="force=True"):
        write_product(path, dataset_arrays(), GEOMETRY)


def test_geometry_comes_from_the_source_or_is_defaulted_and_says_so(tmp_path, make_npz):
    with open_source(make_npz()) as npz:
        geo = source_geometry(npz, (8, 8))
    assert geo.photon_energy_eV == DEFAULTS["photon_energy_eV"]
    assert geo.origin["photon_energy_eV"].startswith("default")
    assert geo.origin["object_pixel_width_m"].startswith("far field")
    path = write_product(tmp_path / "p.h5", dataset_arrays(), Geometry(9000.0, 1.0, 5e-5, 1e-8, 2e-8, 3e-7))
    with open_source(path) as product:
        geo = source_geometry(product, (8, 8))
    assert (geo.photon_energy_eV, geo.object_pixel_height_m, geo.object_center_x_m) == (9000.0, 2e-8, 3e-7)
    assert geo.origin["object_pixel_height_m"] == "'object@pixel_height_m' of the source"
