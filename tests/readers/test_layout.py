"""Stack-order decisions: canonical (N, H, W) vs legacy (H, W, N), refusing ambiguity."""

from __future__ import annotations

import os

import numpy as np
import numpy.testing as npt
import pytest

from conftest import dataset_arrays
from ptyevidence.exceptions import InputError
from ptyevidence.readers.layout import (
    LAYOUTS,
    canonical_shape,
    read_frames,
    resolve_layout,
)
from ptyevidence.readers.registry import open_source

# (stored shape, positions from the coordinates, expected layout)
DECIDED = [
    pytest.param((1087, 64, 64), 1087, "canonical", id="canonical-by-coords"),
    pytest.param((64, 64, 1087), 1087, "legacy", id="legacy-by-coords"),
    pytest.param((8, 8, 6), 8, "canonical", id="N-equals-H-but-not-W-canonical"),
    pytest.param((6, 8, 8), 8, "legacy", id="N-equals-W-but-not-H-legacy"),
    pytest.param((20, 16, 16), None, "canonical", id="canonical-square-frames-no-coords"),
    pytest.param((16, 16, 20), None, "legacy", id="legacy-square-frames-no-coords"),
    pytest.param((20, 16, 12), None, "canonical", id="no-square-evidence-no-coords"),
    pytest.param((20, 16, 16), 19, "canonical", id="coords-fit-no-axis-shape-decides"),
    pytest.param((16, 16, 20), 19, "legacy", id="coords-fit-no-axis-shape-decides-legacy"),
    pytest.param((64, 64), 64, "canonical", id="not-3d-left-to-shape-rule"),
]

AMBIGUOUS = [
    pytest.param((8, 8, 8), 8, "ambiguous", id="N-equals-H-equals-W"),
    pytest.param((8, 5, 8), 8, "ambiguous", id="N-fits-first-and-last-axis"),
    pytest.param((16, 16, 16), None, "cannot tell", id="cube-without-coords"),
    pytest.param((16, 16, 16), 3, "cannot tell", id="cube-coords-fit-neither"),
]


@pytest.mark.parametrize(("shape", "n_positions", "expected"), DECIDED)
def test_resolve_layout_decides_from_evidence(shape, n_positions, expected):
    """Coordinate length decides first, square frames second."""
    assert resolve_layout(shape, n_positions) == expected


@pytest.mark.parametrize(("shape", "n_positions", "words"), AMBIGUOUS)
def test_resolve_layout_refuses_ambiguous_stacks(shape, n_positions, words):
    """When both orders fit, auto refuses and says how to choose."""
    with pytest.raises(InputError, match=words) as excinfo:
        resolve_layout(shape, n_positions, where="'x.npz' key 'diffraction'")
    message = str(excinfo.value)
    assert "layout='canonical' or layout='legacy'" in message
    assert "'x.npz' key 'diffraction'" in message
    assert str(tuple(shape)) in message


@pytest.mark.parametrize("requested", ["canonical", "legacy"])
@pytest.mark.parametrize("shape", [(8, 8, 8), (20, 8, 8), (8, 8, 20)], ids=str)
def test_explicit_layout_is_taken_as_given(requested, shape):
    """An explicit --layout overrides the evidence, including ambiguous shapes."""
    assert resolve_layout(shape, shape[0], requested) == requested


def test_unknown_layout_name_is_refused():
    """A layout name outside LAYOUTS is an InputError listing the choices."""
    with pytest.raises(InputError, match="'sideways' is not one of auto, canonical, legacy"):
        resolve_layout((4, 8, 8), 4, "sideways")
    assert LAYOUTS == ("auto", "canonical", "legacy")


@pytest.mark.parametrize(
    ("shape", "layout", "expected"),
    [
        ((20, 8, 6), "canonical", (20, 8, 6)),
        ((8, 6, 20), "legacy", (20, 8, 6)),
        ((8, 6), "legacy", (8, 6)),
    ],
    ids=["canonical", "legacy", "legacy-2d-untouched"],
)
def test_canonical_shape(shape, layout, expected):
    """Legacy (H, W, N) maps to (N, H, W); other ranks are left alone."""
    assert canonical_shape(shape, layout) == expected


@pytest.mark.parametrize("compressed", [False, True], ids=["stored", "compressed"])
@pytest.mark.parametrize("layout", ["canonical", "legacy"])
def test_read_frames_returns_frames_in_output_order(tmp_path, layout, compressed):
    """read_frames gives (n, H, W) frames equal to indexing the canonical stack."""
    arrays = dataset_arrays(n=30, h=6, w=5)
    stack = arrays["diffraction"]
    stored = stack if layout == "canonical" else np.transpose(stack, (1, 2, 0)).copy()
    path = os.path.join(tmp_path, "frames.npz")
    (np.savez_compressed if compressed else np.savez)(path, diffraction=stored)
    idx = np.array([29, 0, 7, 7, 12])
    with open_source(path) as src:
        frames = read_frames(src, "diffraction", idx, layout)
    assert frames.shape == (5, 6, 5)
    assert frames.flags.c_contiguous
    npt.assert_array_equal(frames, stack[idx])
    npt.assert_allclose(frames[:, 0, 0], idx / 1000, rtol=1e-6)


def test_reading_a_legacy_stack_as_canonical_scrambles_frames(tmp_path):
    """Control: the wrong layout gives different frames, which is why auto refuses to guess."""
    stack = dataset_arrays(n=8, h=8, w=8)["diffraction"]
    path = os.path.join(tmp_path, "cube.npz")
    np.savez(path, diffraction=np.transpose(stack, (1, 2, 0)).copy())
    with open_source(path) as src:
        right = read_frames(src, "diffraction", [3], "legacy")
        wrong = read_frames(src, "diffraction", [3], "canonical")
    npt.assert_array_equal(right[0], stack[3])
    assert not np.array_equal(wrong[0], stack[3])
