"""contract.binding.bind: keys, aliases, layout, dimensions and per-scan fields from headers."""

from __future__ import annotations

import numpy as np
import pytest

from ptyevidence.contract import load_contract
from ptyevidence.contract.binding import ArraySource, bind
from ptyevidence.contract.model import contract_from_dict
from ptyevidence.exceptions import InputError


def _renamed_contract():
    """A contract whose positions dimension is P and whose fields share no name with data001."""
    return contract_from_dict(
        {
            "name": "renamed",
            "layout": {"field": "frames", "canonical": ["P", "H", "W"], "legacy": ["H", "W", "P"]},
            "dims": {"P": {"min": 1}, "H": {"min": 1}, "W": {"min": 1}},
            "fields": [
                {"name": "frames", "role": "diffraction", "dtypes": ["float32"], "shape": ["P", "H", "W"]},
                {"name": "illumination", "role": "probe", "dtypes": ["complex64"], "shape": ["H", "W"]},
                {"name": "px", "role": "coords.x", "dtypes": ["float64"], "shape": ["P"]},
                {"name": "weights", "role": "weights", "dtypes": ["float64"], "shape": ["P", 2]},
                {"name": "calibration", "role": "calibration", "dtypes": ["float64"], "shape": [3]},
            ],
        }
    )


def test_per_scan_fields_are_those_whose_shape_starts_with_the_positions_dimension():
    source = ArraySource(
        {
            "frames": np.zeros((6, 4, 4), np.float32),
            "illumination": np.zeros((4, 4), np.complex64),
            "px": np.arange(6.0),
            "weights": np.ones((6, 2)),
            "calibration": np.ones(3),
        }
    )
    binding = bind(_renamed_contract(), source)
    assert binding.per_scan == ("frames", "px", "weights")
    assert binding.whole == ("illumination", "calibration")
    assert binding.positions_dim == "P"
    assert binding.n_positions == 6
    assert binding.ok, binding.findings


def test_a_legacy_stack_under_an_alias_binds_in_canonical_order():
    arrays = {
        "diff3d": np.zeros((8, 8, 20), np.float32),
        "xcoords": np.arange(20.0),
        "ycoords": np.zeros(20),
        "notes": np.arange(3),
    }
    binding = bind("data001", ArraySource(arrays, "scan.npz"))
    assert binding.keys["diffraction"] == "diff3d"
    assert binding.aliases == {"diffraction": ("diff3d", "error")}
    assert binding.layout == "legacy"
    assert binding.fields["diffraction"].stored_shape == (8, 8, 20)
    assert binding.shapes["diffraction"] == (20, 8, 8)
    assert binding.dims == {"N": 20, "H": 8, "W": 8}
    assert binding.dim_fields == {"N": "diffraction", "H": "diffraction", "W": "diffraction"}
    assert binding.unknown == ("notes",)
    rules = [(f.rule, f.field) for f in binding.findings]
    assert ("alias", "diffraction") in rules
    assert ("layout", "diffraction") in rules
    assert ("unknown-key", "notes") in rules
    assert ("required", "probeGuess") in rules
    assert binding.missing[:2] == ("probeGuess", "objectGuess")


def test_a_shape_that_contradicts_the_bound_dimensions_names_the_field_that_bound_them():
    arrays = {"diffraction": np.zeros((20, 8, 8), np.float32), "xcoords": np.arange(17.0)}
    binding = bind("data001", ArraySource(arrays))
    shape = [f for f in binding.findings if f.rule == "shape"]
    assert [f.field for f in shape] == ["xcoords"]
    assert "expected (N,) with N = 20 from diffraction" in shape[0].message
    assert binding.fields["xcoords"].fits is False
    assert binding.fields["diffraction"].fits is True


def test_object_arrays_are_never_read_and_are_reported():
    arrays = {
        "diffraction": np.zeros((20, 8, 8), np.float32),
        "xcoords": np.array([None] * 20, dtype=object),
        "extra": np.array([{}], dtype=object),
    }
    binding = bind("data001", ArraySource(arrays))
    assert binding.fields["xcoords"].readable is False
    found = {(f.rule, f.field, f.severity) for f in binding.findings}
    assert ("dtype", "xcoords", "error") in found
    assert ("object-array", "extra", "error") in found


def test_an_ambiguous_cube_is_refused_unless_the_layout_is_given():
    arrays = {"diffraction": np.zeros((8, 8, 8), np.float32), "xcoords": np.arange(8.0)}
    with pytest.raises(InputError, match="ambiguous"):
        bind("data001", ArraySource(arrays))
    assert bind("data001", ArraySource(arrays), layout="legacy").layout == "legacy"


def test_a_dump_binds_dimensions_by_majority_so_the_odd_array_is_reported():
    contract = load_contract("ptychopinn-torch-mmap")
    arrays = {
        "nn_indices": np.zeros((4, 2), np.int64),
        "coords_relative": np.zeros((4, 2, 1, 2), np.float32),
        "images": np.zeros((4, 8, 8, 2), np.float32),
    }
    binding = bind(contract, ArraySource(arrays, "dump.npz"))
    errors = [f for f in binding.findings if f.severity == "error"]
    assert [f.field for f in errors] == ["images"]
    assert errors[0].message.startswith("dump 'dump.npz': key 'images' has shape (4, 8, 8, 2)")
    assert binding.fields["images"].fits is False
    assert binding.dims["L"] == 4
    assert {f.rule for f in binding.findings if f.severity == "info"} <= {"missing", "unknown-key"}
