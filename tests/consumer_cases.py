"""Files that PtychoPINN's loaders refuse (or take silently), one per rule of the consumer profiles.

Each :class:`Case` builds, with numpy alone, a small dataset that breaks one
rule of ``ptychopinn-tf`` or ``ptychopinn-torch`` (a good file breaks none),
and says two things about it: which finding the profile gives (rule id and
severity), and what the real loader does (``loader``: the call, and the
exception type and message it raises, or what it returns when it accepts the
file). ``tests/contract/test_profiles.py`` checks the profile side without
PtychoPINN; ``tests/peer/test_profiles_peer.py`` runs the real loader on the
same files (through ``tests/peer/loaders.py`` in the peer's interpreter) and
checks both sides agree. Line references are to PtychoPINN at 712c23f.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Frame side of the cases: PtychoPINN's default DataConfig.N.
N = 64


def good_arrays(side: int = 10, n: int = N, pitch: float = 3.0, seed: int = 0, alias: bool = True) -> dict:
    """A valid dataset: side**2 positions on a jittered grid, n x n frames, both frame keys."""
    rng = np.random.default_rng(seed)
    m = side * side
    g = np.arange(side) * pitch + 40.0
    x, y = np.meshgrid(g, g)
    x = x.ravel() + rng.uniform(-0.3, 0.3, m)
    y = y.ravel() + rng.uniform(-0.3, 0.3, m)
    frames = (rng.random((m, n, n), dtype=np.float32) * 0.5).astype(np.float32)
    yy, xx = np.mgrid[:n, :n]
    probe = np.exp(-((xx - n / 2) ** 2 + (yy - n / 2) ** 2) / (n * 3.0)).astype(np.complex64)
    arrays = {
        "diffraction": frames,
        "xcoords": x,
        "ycoords": y,
        "xcoords_start": x.copy(),
        "ycoords_start": y.copy(),
        "scan_index": np.zeros(m, np.int64),
        "probeGuess": probe,
        "objectGuess": (np.ones((2 * n + 40, 2 * n + 40)) * np.exp(0.1j)).astype(np.complex64),
    }
    if alias:
        arrays["diff3d"] = frames
    return arrays


def _edit(change: Callable[[dict], None], **good: Any) -> Callable[[], dict]:
    def build() -> dict:
        arrays = good_arrays(**good)
        change(arrays)
        return arrays

    return build


def _drop(*keys: str) -> Callable[[dict], None]:
    def change(a: dict) -> None:
        for key in keys:
            del a[key]

    return change


def _set(**values: Callable[[dict], Any]) -> Callable[[dict], None]:
    def change(a: dict) -> None:
        for key, make in values.items():
            a[key] = make(a)

    return change


def _both_stacks(make: Callable[[np.ndarray], np.ndarray]) -> Callable[[dict], None]:
    def change(a: dict) -> None:
        a["diffraction"] = a["diff3d"] = np.ascontiguousarray(make(a["diffraction"]))

    return change


def _all_positions(value: float) -> Callable[[dict], None]:
    def change(a: dict) -> None:
        for key in ("xcoords", "ycoords", "xcoords_start", "ycoords_start"):
            a[key] = np.full_like(a[key], value)

    return change


def _first_positions(count: int) -> Callable[[dict], None]:
    def change(a: dict) -> None:
        for key in ("xcoords", "ycoords", "xcoords_start", "ycoords_start", "scan_index"):
            a[key] = a[key][:count]

    return change


def _legacy_cube(a: dict) -> None:
    # 64 positions of 64 x 64 frames stored (H, W, N): the shape cannot tell.
    a["diff3d"] = np.ascontiguousarray(np.transpose(a["diffraction"], (1, 2, 0)))
    a["diffraction"] = a["diff3d"]


def _metadata(value: Any) -> Callable[[dict], None]:
    return _set(_metadata=lambda a: value)


def _counts(a: dict) -> None:
    counts = np.random.default_rng(5).poisson(3.0, a["diffraction"].shape).astype(np.float32)
    a["diffraction"] = a["diff3d"] = counts


def _unshifted(a: dict) -> None:
    yy, xx = np.mgrid[:N, :N]
    peak = np.exp(-((yy - N / 2) ** 2 + (xx - N / 2) ** 2) / 8.0)
    frames = a["diffraction"] * 0.01 + np.fft.ifftshift(peak).astype(np.float32)
    a["diffraction"] = a["diff3d"] = frames.astype(np.float32)


def _negative_in_window(a: dict) -> None:
    # Frame 55 is a group centre; a negative count in an outer-band frame is never looked at.
    frames = a["diffraction"].copy()
    frames[55, 10, 10] = -1.0
    a["diffraction"] = a["diff3d"] = frames


@dataclass(frozen=True)
class Case:
    """One rule of a consumer profile shown on one file.

    Attributes
    ----------
    rule : str
        The profile rule the file breaks (``*-good`` for a file that breaks none).
    profile : str
        ``ptychopinn-tf`` or ``ptychopinn-torch``.
    build : callable
        Returns the arrays of the file.
    severity : str
        Severity of the rule's finding; ``""`` for a good file.
    loader : dict
        The real loader's call (``call``: ``from_file``, ``group`` or
        ``dataset``, with its options) and outcome: ``raises`` (exception
        type) and ``match`` (regex of its first line), or ``observe`` (values
        the loader's result must show).
    """

    rule: str
    profile: str
    build: Callable[[], dict]
    severity: str
    loader: dict = field(default_factory=dict)

    def write(self, folder: str) -> str:
        """Write the file into its own folder (PtychoDataset reads a folder); return its path."""
        where = os.path.join(folder, self.rule)
        os.makedirs(where, exist_ok=True)
        path = os.path.join(where, f"{self.rule}.npz")
        np.savez(path, **self.build())
        return path


TF, TORCH = "ptychopinn-tf", "ptychopinn-torch"
_LIST_META = np.array(json.dumps([{"schema_version": "1.0.0"}]))
_BYTES_META = np.array(json.dumps({"physics_parameters": {"nphotons": 1e6}}).encode())

CASES = [
    # -- TensorFlow: RawData.from_file, then generate_grouped_data ------------------------------------
    Case(
        "tf-good",
        TF,
        good_arrays,
        "",
        {"call": "group", "gridsize": 2, "nsamples": 50, "observe": {"X_full_shape": [50, 64, 64, 4]}},
    ),
    Case(
        "tf-requires-diff3d",
        TF,
        _edit(_drop("diff3d")),
        "error",
        {"call": "from_file", "raises": "KeyError", "match": "diff3d"},
    ),
    Case(
        "tf-requires-xcoords",
        TF,
        _edit(_drop("xcoords")),
        "error",
        {"call": "from_file", "raises": "KeyError", "match": "xcoords"},
    ),
    Case(
        "tf-requires-probeGuess",
        TF,
        _edit(_drop("probeGuess")),
        "error",
        {"call": "from_file", "raises": "KeyError", "match": "probeGuess"},
    ),
    Case(
        "tf-coords-equal-shapes",
        TF,
        _edit(_set(ycoords=lambda a: a["ycoords"][:99], ycoords_start=lambda a: a["ycoords_start"][:99])),
        "error",
        {"call": "from_file", "raises": "ValueError", "match": "Coordinate arrays must have matching shapes"},
    ),
    Case(
        "tf-coords-1d",
        TF,
        _edit(
            _set(
                **{k: (lambda a, k=k: a[k][:, None]) for k in ("xcoords", "ycoords", "xcoords_start", "ycoords_start")}
            )
        ),
        "error",
        {"call": "from_file", "raises": "AssertionError", "match": "Expected xcoords to be 1D"},
    ),
    Case(
        "tf-diff3d-3d",
        TF,
        _edit(_set(diff3d=lambda a: a["diff3d"][..., None])),
        "error",
        {"call": "from_file", "raises": "AssertionError", "match": "Expected diff3d to be 3D"},
    ),
    Case(
        "tf-diff3d-canonical-square",
        TF,
        _edit(_set(diff3d=lambda a: np.ascontiguousarray(np.moveaxis(a["diff3d"], 0, -1)))),
        "error",
        {"call": "from_file", "raises": "AssertionError", "match": "^$"},
    ),
    Case(
        "tf-probe-2d",
        TF,
        _edit(_set(probeGuess=lambda a: a["probeGuess"][..., None])),
        "error",
        {"call": "from_file", "raises": "AssertionError", "match": "Expected probeGuess to be 2D"},
    ),
    Case(
        "tf-scan-index-1d",
        TF,
        _edit(_set(scan_index=lambda a: a["scan_index"][:, None])),
        "error",
        {"call": "from_file", "raises": "AssertionError", "match": "Expected scan_index to be 1D"},
    ),
    Case(
        "tf-object-2d",
        TF,
        _edit(_set(objectGuess=lambda a: a["objectGuess"][..., None])),
        "error",
        {"call": "from_file", "raises": "AssertionError", "match": "^$"},
    ),
    Case(
        "tf-frames-cover-positions",
        TF,
        _edit(_set(diff3d=lambda a: a["diff3d"][:90], diffraction=lambda a: a["diffraction"][:90])),
        "error",
        {
            "call": "group",
            "gridsize": 1,
            "nsamples": 100,
            "raises": "IndexError",
            "match": "out of bounds for axis 0 with size 90",
        },
    ),
    Case(
        "tf-metadata-json-object",
        TF,
        _edit(_metadata(_LIST_META)),
        "error",
        {"call": "from_file", "raises": "AttributeError", "match": "'list' object has no attribute 'get'"},
    ),
    Case(
        "tf-gs2-at-least-C-positions",
        TF,
        _edit(_first_positions(3), side=2),
        "warning",
        {
            "call": "group",
            "gridsize": 2,
            "nsamples": 3,
            "raises": "ValueError",
            "match": "only 3 points but 4 coordinates per group",
        },
    ),
    Case(
        "tf-gs2-finite-coords",
        TF,
        _edit(_set(xcoords=lambda a: np.r_[np.nan, a["xcoords"][1:]])),
        "warning",
        {"call": "group", "gridsize": 2, "nsamples": 50, "raises": "ValueError", "match": "data must be finite"},
    ),
    Case(
        "tf-metadata-not-read",
        TF,
        _edit(_metadata(_BYTES_META)),
        "warning",
        {"call": "from_file", "observe": {"metadata": None}},
    ),
    Case(
        "tf-legacy-cube-silent",
        TF,
        _edit(_legacy_cube, side=8),
        "warning",
        {"call": "from_file", "observe": {"diff3d_shape": [64, 64, 64], "first_frame_is_last_axis_slice": False}},
    ),
    Case(
        "tf-probe-size-not-checked",
        TF,
        _edit(_set(probeGuess=lambda a: a["probeGuess"][16:48, 16:48].copy())),
        "warning",
        {"call": "from_file", "observe": {"diff3d_shape": [100, 64, 64]}},
    ),
    Case(
        "tf-supported-N",
        TF,
        lambda: good_arrays(n=32),
        "warning",
        {"call": "group", "N": 32, "gridsize": 1, "nsamples": 20, "observe": {"X_full_shape": [20, 32, 32, 1]}},
    ),
    Case(
        "tf-amplitude-not-counts",
        TF,
        _edit(_counts),
        "warning",
        {"call": "from_file", "observe": {"diff3d_shape": [100, 64, 64]}},
    ),
    Case(
        "tf-frames-centred",
        TF,
        _edit(_unshifted),
        "warning",
        {"call": "from_file", "observe": {"diff3d_shape": [100, 64, 64]}},
    ),
    # -- PyTorch: PtychoDataset --------------------------------------------------------------------
    Case(
        "torch-good",
        TORCH,
        lambda: good_arrays(alias=False),
        "",
        {"call": "dataset", "observe": {"len": 448, "rows_with_minus1": 0}},
    ),
    Case(
        "torch-requires-diffraction-or-diff3d",
        TORCH,
        _edit(_set(frames=lambda a: a.pop("diffraction")), alias=False),
        "error",
        {"call": "dataset", "raises": "ValueError", "match": "Could not find diffraction data"},
    ),
    Case(
        "torch-requires-xcoords-ycoords",
        TORCH,
        _edit(_drop("ycoords")),
        "error",
        {"call": "dataset", "raises": "ValueError", "match": "Could not find 'xcoords' or 'ycoords'"},
    ),
    Case(
        "torch-diffraction-3d",
        TORCH,
        _edit(_both_stacks(lambda f: f[..., None])),
        "error",
        {"call": "dataset", "raises": "ValueError", "match": "diffraction data must be 3D"},
    ),
    Case(
        "torch-coords-1d",
        TORCH,
        _edit(_set(xcoords=lambda a: a["xcoords"][:, None])),
        "error",
        {"call": "dataset", "raises": "ValueError", "match": "must be one-dimensional"},
    ),
    Case(
        "torch-coords-equal-length",
        TORCH,
        _edit(_set(ycoords=lambda a: a["ycoords"][:99])),
        "error",
        {"call": "dataset", "raises": "ValueError", "match": "xcoords=100 and ycoords=99 must have equal lengths"},
    ),
    Case(
        "torch-position-per-frame",
        TORCH,
        _edit(_set(xcoords=lambda a: a["xcoords"][:90], ycoords=lambda a: a["ycoords"][:90])),
        "error",
        {"call": "dataset", "raises": "ValueError", "match": "90 scan positions for 100 diffraction patterns"},
    ),
    Case(
        "torch-extra-positions-dropped",
        TORCH,
        _edit(_both_stacks(lambda f: f[:90])),
        "warning",
        {"call": "dataset", "observe": {"max_index_below": 90}},
    ),
    Case(
        "torch-requires-probe-and-object",
        TORCH,
        _edit(_drop("objectGuess")),
        "error",
        {"call": "dataset", "raises": "ValueError", "match": "missing required key\\(s\\): objectGuess"},
    ),
    Case(
        "torch-object-2d",
        TORCH,
        _edit(_set(objectGuess=lambda a: a["objectGuess"][..., None])),
        "error",
        {"call": "dataset", "raises": "ValueError", "match": "objectGuess must be 2D"},
    ),
    Case(
        "torch-probe-layout",
        TORCH,
        _edit(_set(probeGuess=lambda a: a["probeGuess"][None, ..., None])),
        "error",
        {"call": "dataset", "raises": "ValueError", "match": "must be \\(N, N\\), \\(N, N, 1\\), or \\(P, N, N\\)"},
    ),
    Case(
        "torch-probe-2d-matches-frames",
        TORCH,
        _edit(_set(probeGuess=lambda a: a["probeGuess"][16:48, 16:48].copy())),
        "error",
        {"call": "dataset", "raises": "ValueError", "match": "must be \\(N, N\\), \\(N, N, 1\\), or \\(P, N, N\\)"},
    ),
    Case(
        "torch-probe-frames-N-agree",
        TORCH,
        _edit(_set(probeGuess=lambda a: np.stack([a["probeGuess"][16:48, 16:48]] * 3))),
        "error",
        {"call": "dataset", "raises": "ValueError", "match": "spatial shape \\(32, 32\\) must match"},
    ),
    Case(
        "torch-probe-nonzero",
        TORCH,
        _edit(_set(probeGuess=lambda a: np.zeros_like(a["probeGuess"]))),
        "error",
        {"call": "dataset", "raises": "ValueError", "match": "norm must be positive"},
    ),
    Case(
        "torch-centres-inside-bounds",
        TORCH,
        _edit(_all_positions(50.0)),
        "error",
        {"call": "dataset", "raises": "ValueError", "match": "calculate_length\\(\\) resulted in 0 items"},
    ),
    Case(
        "torch-enough-positions-in-bounds",
        TORCH,
        lambda: good_arrays(side=4),
        "warning",
        {"call": "dataset", "observe": {"rows_with_minus1_above": 0}},
    ),
    Case(
        "torch-legacy-transposed",
        TORCH,
        _edit(_both_stacks(lambda f: np.moveaxis(f, 0, -1))),
        "info",
        {"call": "dataset", "observe": {"len": 448}},
    ),
    Case(
        "torch-legacy-cube-silent",
        TORCH,
        _edit(_legacy_cube, side=8),
        "warning",
        {"call": "dataset", "observe": {"len_above": 0}},
    ),
    Case(
        "torch-ci-counts-nonnegative",
        TORCH,
        _edit(_negative_in_window),
        "warning",
        {
            "call": "dataset",
            "model": {"physics_forward_mode": "rectangular_scaled"},
            "raises": "ValueError",
            "match": "measured_intensity must contain nonnegative counts",
        },
    ),
    Case(
        "torch-supported-N",
        TORCH,
        lambda: good_arrays(n=32),
        "warning",
        {"call": "dataset", "data": {"N": 32}, "observe": {"len_above": 0}},
    ),
    Case("torch-amplitude-not-counts", TORCH, _edit(_counts), "warning", {"call": "dataset", "observe": {"len": 448}}),
    Case("torch-frames-centred", TORCH, _edit(_unshifted), "warning", {"call": "dataset", "observe": {"len": 448}}),
]
