"""The native reader of ptychodus product and training HDF5 files, and its contract on bad files.

No ptychodus needed: good products come from ptyevidence's own product writer,
then each test breaks one thing with h5py.
"""

from __future__ import annotations

import os

import h5py
import numpy as np
import pytest

from conftest import dataset_arrays
from ptyevidence.contract.validate import validate_dataset
from ptyevidence.exceptions import InputError
from ptyevidence.readers import open_source
from ptyevidence.readers.product import (
    PRODUCT_FORMAT,
    TRAINING_FORMAT,
    ProductSource,
    product_layout,
)
from ptyevidence.readers.registry import default_contract_for
from ptyevidence.writers.geometry import Geometry
from ptyevidence.writers.product import write_product

GEOMETRY = Geometry(8000.0, 0.75, 75e-6, 3e-8, 2e-8, object_center_x_m=1e-7, object_center_y_m=-1e-7)


@pytest.fixture
def product(tmp_path):
    arrays = dataset_arrays(n=20, h=8, w=8)
    path = str(tmp_path / "product.h5")
    write_product(path, arrays, GEOMETRY)
    return path, arrays


def rewrite(path, dataset=None, attr=None, value=None, delete=False):
    """Replace (or delete) a root dataset, or an attribute of the root ("") or of a dataset."""
    with h5py.File(path, "a") as f:
        if attr is not None:
            target = f if not dataset else f[dataset]
            if delete:
                del target.attrs[attr]
            else:
                target.attrs[attr] = value
            return
        del f[dataset]
        if not delete:
            f[dataset] = value


def test_attributes_are_keys_and_the_data001_view_is_derived(product):
    path, arrays = product
    with ProductSource(path) as src:
        assert src.format == PRODUCT_FORMAT
        assert float(src.read("@photon_energy_eV")) == 8000.0
        assert float(src.read("object@pixel_height_m")) == 2e-8
        assert str(src.read("@name")) == "ptyevidence fixture"
        assert src.info("probe").shape == (1, 1, 8, 8)
        np.testing.assert_array_equal(src.read("probeGuess"), arrays["probeGuess"])
        np.testing.assert_array_equal(src.read("objectGuess"), arrays["objectGuess"])
        np.testing.assert_array_equal(src.read("diffraction"), arrays["diffraction"])
        np.testing.assert_array_equal(src.take("diffraction", [5, 2, 5]), arrays["diffraction"][[5, 2, 5]])


def test_positions_in_metres_map_back_to_object_pixels(product):
    path, arrays = product
    with h5py.File(path, "a") as f:
        del f["raw_data/xcoords"], f["raw_data/ycoords"]  # derive them from the metres instead
    with ProductSource(path) as src:
        # ptychodus's mapping: x_px = (x_m - center_x) / pixel_width + (W - 1) / 2
        x_m = src.read("probe_position_x_m")
        width = arrays["objectGuess"].shape[1]
        np.testing.assert_allclose(src.read("xcoords"), (x_m - 1e-7) / 3e-8 + (width - 1) / 2)
        np.testing.assert_allclose(src.read("xcoords"), arrays["xcoords"], rtol=0, atol=1e-9)
        np.testing.assert_allclose(src.read("ycoords"), arrays["ycoords"], rtol=0, atol=1e-9)
        assert any("ObjectGeometry" in note for note in src.notes)


def test_layouts_are_recognized_and_choose_their_contract(product, tmp_path):
    path, _ = product
    training = str(tmp_path / "training.h5")
    with h5py.File(training, "w") as f:
        f["patterns"] = np.ones((4, 8, 8), np.uint16)
        f["probe_position_x_px"] = np.arange(4.0)
        f["probe_position_y_px"] = np.zeros(4)
    assert (product_layout(path), product_layout(training)) == (PRODUCT_FORMAT, TRAINING_FORMAT)
    assert default_contract_for(path) == "ptychodus-product"
    assert default_contract_for(training) == "ptychodus-training"
    with open_source(training) as src:
        assert src.format == TRAINING_FORMAT
        assert src.read("diffraction").dtype == np.uint16  # stored counts ...
        assert src.frame_transform(src.read("diffraction")).max() == 1.0  # ... become amplitude


def test_the_product_written_for_ptychodus_passes_its_contract(product):
    report = validate_dataset(product[0], "ptychodus-product")
    assert report.ok, report.to_text()


@pytest.mark.parametrize(
    ("change", "rule", "field"),
    [
        ({"attr": "detector_object_distance_m", "delete": True}, "required", "@detector_object_distance_m"),
        ({"attr": "exposure_time_s", "delete": True}, "required", "@exposure_time_s"),
        ({"attr": "photon_energy_eV", "value": 8.0}, None, None),  # the spec's name still holds 8000
        ({"attr": "probe_energy_eV", "value": 8.0}, "energy-in-eV", "@probe_energy_eV"),
        ({"dataset": "object", "attr": "pixel_width_m", "value": 0.0}, "object-pixel-positive", "object@pixel_width_m"),
        (
            {"dataset": "probe", "attr": "pixel_height_m", "value": -1e-8},
            "probe-pixel-positive",
            "probe@pixel_height_m",
        ),
        ({"dataset": "probe", "attr": "pixel_width_m", "value": 30.0}, "probe-pixel-in-metres", "probe@pixel_width_m"),
        ({"dataset": "probe_position_x_m", "value": np.zeros(19)}, "shape", "probe_position_x_m"),
        (
            {"dataset": "probe_position_indexes", "value": np.arange(20) + 5},
            "indexes-in-scan",
            "probe_position_indexes",
        ),
        (
            {"dataset": "probe_position_indexes", "value": np.arange(20) - 1},
            "indexes-nonnegative",
            "probe_position_indexes",
        ),
        ({"dataset": "probe_position_x_m", "value": np.arange(20.0) * 10}, "positions-in-metres", "probe_position_x_m"),
        ({"dataset": "probe", "value": np.ones((1, 1, 1, 8, 8), np.complex64)}, "shape", "probe"),
        ({"dataset": "object", "value": np.ones(30, np.complex64)}, "shape", "object"),
        ({"dataset": "probe", "value": np.ones((1, 1, 8, 8))}, "dtype", "probe"),
        ({"dataset": "object_layer_spacing_m", "value": np.ones(2)}, "dims", "object_layer_spacing_m"),
    ],
)
def test_a_broken_product_fails_naming_the_dataset_and_attribute(product, change, rule, field):
    path, _ = product
    rewrite(path, **{"dataset": "", **change})
    report = validate_dataset(path, "ptychodus-product")
    if rule is None:
        assert report.ok, report.to_text()
        return
    hits = [f for f in report.errors if f.rule == rule and f.field == field]
    assert hits, report.to_text()
    assert not report.ok
    key = field.split("@")[-1]
    assert key in hits[0].message or field in hits[0].message


def test_broken_products_exit_1_with_a_verdict_naming_the_file(product, cli):
    path, _ = product
    rewrite(path, dataset="object", attr="pixel_width_m", value=0.0)
    done = cli("validate", path)
    assert done.returncode == 1, done.stderr
    assert "object@pixel_width_m" in done.stdout
    assert f"FAIL: '{path}'" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_pixel_sizes_that_cannot_place_positions_leave_them_underived(product):
    path, _ = product
    with h5py.File(path, "a") as f:
        del f["raw_data/xcoords"], f["raw_data/ycoords"]
        f["object"].attrs["pixel_width_m"] = 0.0
    with ProductSource(path) as src:
        assert "xcoords" not in src
        assert any("object@pixel_width_m" in n and "not derived" in n for n in src.notes)


@pytest.mark.parametrize("damage", ["truncate", "text"])
def test_an_unusable_product_file_exits_2_with_one_line(tmp_path, product, cli, damage):
    path, _ = product
    if damage == "truncate":
        with open(path, "rb") as fh:
            data = fh.read()
        with open(path, "wb") as fh:
            fh.write(data[: len(data) // 3])
    else:
        with open(path, "w") as fh:
            fh.write("not hdf5 at all\n")
    done = cli("validate", path)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert path in done.stderr
    assert "Traceback" not in done.stderr


def test_text_attributes_are_unicode_never_objects(product):
    path, _ = product
    with h5py.File(path, "a") as f:
        f.attrs["comments"] = np.array([b"bytes", b"list"])
        f.attrs.create("name", "variable-length", dtype=h5py.string_dtype())
    with ProductSource(path) as src:
        assert src.read("@comments").dtype.kind == "U"
        assert src.read("@comments").tolist() == ["bytes", "list"]
        assert src.info("@name").dtype.kind == "U"
        assert not src.info("@name").has_objects


def test_a_virtual_dataset_is_refused_by_default_and_followed_on_request(tmp_path, product):
    path, arrays = product
    other = tmp_path / "parts.h5"
    with h5py.File(other, "w") as f:
        f["d"] = arrays["xcoords"]
    with h5py.File(path, "a") as f:
        del f["raw_data/xcoords"]
        layout = h5py.VirtualLayout(shape=arrays["xcoords"].shape, dtype=arrays["xcoords"].dtype)
        layout[...] = h5py.VirtualSource("parts.h5", "d", shape=arrays["xcoords"].shape)
        f.create_virtual_dataset("raw_data/xcoords", layout, fillvalue=0)
    with pytest.raises(
        InputError,
        match=r"'raw_data/xcoords' is a virtual dataset of 1 mapped part\(s\) "
        r"\(first: 'parts\.h5:d'\), which is not followed by default",
    ):
        ProductSource(path)
    with ProductSource(path, allow_external_links=True) as src:
        np.testing.assert_array_equal(src.read("xcoords"), arrays["xcoords"])
        assert src.linked_files() == [os.path.realpath(other)]


def test_damaged_group_metadata_is_one_input_error_naming_the_file(product):
    path, _ = product
    with open(path, "rb") as fh:
        blob = bytearray(fh.read())
    at = blob.find(b"TREE")  # the root group's B-tree node
    blob[at : at + 4] = b"XXXX"
    with open(path, "wb") as fh:
        fh.write(bytes(blob))
    assert product_layout(path) is None
    with pytest.raises(InputError, match="damaged or truncated|is not a readable HDF5 file"):
        ProductSource(path, PRODUCT_FORMAT)
