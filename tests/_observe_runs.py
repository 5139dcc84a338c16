"""Synthetic observe runs: the folder ``ptyevidence observe`` writes, built with numpy only.

The dumps follow what the pipelines were observed to hold (TF channels-last
grouped dict with float64 coordinates and an X_full scaled by
sqrt((N/2)^2 / E) over the grouped frames; Torch channels-first float32 batch,
in-bounds groups x n_subsample, RMS constant sqrt(N^2 / E) over the file), so
a fault injected through ``mutate`` is the only difference a test sees.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable

import numpy as np

from ptyevidence.gap.observe.expressions import in_bounds

N = 16
N_SUBSAMPLE = 7
BOUNDS = (0.1, 0.9)


def fixture_arrays(side: int = 8, n: int = N, seed: int = 0) -> dict[str, np.ndarray]:
    """A DATA-001 fixture with the diff3d alias: side x side jittered grid, n x n frames."""
    rng = np.random.default_rng(seed)
    m = side * side
    gy, gx = np.divmod(np.arange(m), side)
    x = 30.0 + 3.0 * gx + rng.uniform(-0.4, 0.4, m)
    y = 30.0 + 3.0 * gy + rng.uniform(-0.4, 0.4, m)
    frames = rng.random((m, n, n), dtype=np.float32)
    yy, xx = np.mgrid[:n, :n]
    probe = np.exp(-((xx - n / 2) ** 2 + (yy - n / 2) ** 2) / n).astype(np.complex64)
    obj = np.exp(1j * rng.uniform(0, 0.3, (4 * n, 4 * n))).astype(np.complex64)
    return {
        "diffraction": frames,
        "diff3d": frames,
        "xcoords": x,
        "ycoords": y,
        "xcoords_start": np.round(x),
        "ycoords_start": np.round(y),
        "scan_index": np.zeros(m, np.int64),
        "probeGuess": probe,
        "objectGuess": obj,
    }


def _tf_grouped(f: dict, nn: np.ndarray, n: int = N) -> dict[str, np.ndarray]:
    diffraction = np.moveaxis(f["diff3d"][nn], 1, 3)
    xy = np.stack([f["xcoords"], f["ycoords"]], axis=-1)
    start = np.stack([f["xcoords_start"], f["ycoords_start"]], axis=-1)
    coords_nn = np.moveaxis(xy[nn], 1, 2)[:, None]
    start_nn = np.moveaxis(start[nn], 1, 2)[:, None]
    offsets = np.mean(coords_nn, axis=3)[..., None]
    start_offsets = np.mean(start_nn, axis=3)[..., None]
    energy = np.mean(np.sum(diffraction.astype(np.float64) ** 2, axis=(1, 2)))
    scale = np.float32(np.sqrt((n / 2) ** 2 / energy))
    return {
        "diffraction": diffraction,
        "X_full": scale * diffraction.astype(np.float32),
        "Y": np.ones(diffraction.shape, np.complex64),
        "coords_nn": coords_nn,
        "coords_offsets": offsets,
        "coords_relative": -1 * (coords_nn - offsets),
        "coords_start_nn": start_nn,
        "coords_start_offsets": start_offsets,
        "coords_start_relative": -1 * (start_nn - start_offsets),
        "nn_indices": nn,
        "objectGuess": f["objectGuess"],
        "probeGuess": f["probeGuess"],
        "diff3d": f["diff3d"],
        "scan_index": f["scan_index"],
    }


def _tf_container(grouped: dict) -> dict[str, np.ndarray]:
    nominal = grouped["coords_start_relative"].astype(np.float32)
    y = grouped["Y"]
    return {
        "X": grouped["X_full"],
        "Y": y,
        "Y_I": np.abs(y).astype(np.float32),
        "Y_phi": np.angle(y).astype(np.float32),
        "coords": nominal,
        "coords_nominal": nominal,
        "coords_true": nominal,
        "global_offsets": grouped["coords_offsets"],
        "local_offsets": grouped["coords_relative"],
        "nn_indices": grouped["nn_indices"],
        "probe": grouped["probeGuess"],
        "norm_Y_I": np.float32(3.5),
    }


def _torch_groups(f: dict, c: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    inside = in_bounds(f["xcoords"], f["ycoords"], BOUNDS, BOUNDS)
    centres = np.repeat(inside, N_SUBSAMPLE)
    if c == 1:
        return centres[:, None].astype(np.int64), centres
    xy = np.stack([f["xcoords"], f["ycoords"]], axis=-1)[inside]
    order = np.argsort(np.linalg.norm(xy[:, None] - xy[None], axis=-1), axis=1)[:, :7]
    groups = [inside[rng.choice(order[i], c, replace=False)] for i in range(len(inside)) for _ in range(N_SUBSAMPLE)]
    return np.asarray(groups, np.int64), centres


def _torch_batch(f: dict, c: int, ci: bool, rng: np.random.Generator, n: int = N) -> dict[str, np.ndarray]:
    nn, centres = _torch_groups(f, c, rng)
    frames = f["diffraction"]
    count = len(nn)
    xy = np.stack([f["xcoords"], f["ycoords"]], axis=-1)
    coords_nn = xy[nn][:, :, None, :]
    centre = np.mean(coords_nn, axis=1)[:, None]
    norm = 4.0 * float(np.mean(np.abs(f["probeGuess"])))
    probe = np.broadcast_to((f["probeGuess"] / norm).astype(np.complex64), (count, c, 1, n, n)).copy()
    images = frames[nn].astype(np.float32)
    batch = {
        "images": images,
        "coords_global": coords_nn.astype(np.float32),
        "coords_center": centre.astype(np.float32),
        "coords_relative": (-1 * (coords_nn - centre)).astype(np.float32),
        "coords_start_center": np.zeros((count, 1, 1, 2), np.float32),
        "coords_start_relative": np.zeros((count, c, 1, 2), np.float32),
        "nn_indices": nn,
        "center_scan_id": centres.astype(np.int64),
        "center_scan_id_available": np.ones(count, bool),
        "experiment_id": np.zeros(count, np.int32),
        "label_amp": np.zeros(images.shape, np.float32),
        "label_phase": np.zeros(images.shape, np.float32),
        "probe": probe,
        "probe_scaling": np.full((count, 1, 1, 1), 1 / norm, np.float32),
        "objectGuess": f["objectGuess"],
        "diffraction": frames,
    }
    if ci:
        energy = np.mean(np.sum(images.astype(np.float64) ** 2, axis=(-2, -1)))
        batch.update(
            measured_intensity=images.copy(),
            probe_training=probe.copy(),
            probe_physical=np.broadcast_to(f["probeGuess"], probe.shape).copy(),
            probe_normalization=batch["probe_scaling"][..., None],
            rms_input_scale=np.full((count, 1, 1, 1), np.sqrt((n / 2) ** 2 / energy), np.float32),
            mean_measured_intensity=np.full((count, 1, 1, 1), np.mean(images, dtype=np.float64), np.float32),
        )
    else:
        energy = np.mean(np.sum(frames.astype(np.float64) ** 2, axis=(1, 2)))
        batch["rms_scaling_constant"] = np.full((count, 1, 1, 1), np.sqrt(n**2 / energy), np.float32)
        batch["physics_scaling_constant"] = np.full(
            (count, 1, 1, 1), 1 / np.mean(np.sum(frames.astype(np.float64), axis=(1, 2))), np.float32
        )
    return batch


def _frameworks(arrays: dict, default: str, **special: str) -> dict[str, str]:
    return {k: special.get(k, default) for k in arrays}


_TF_CONTAINER_NUMPY = ("global_offsets", "local_offsets", "nn_indices")


def write_run(
    folder,
    gridsizes=(1, 2),
    ci: bool = False,
    nsamples: int = 24,
    mutate: Callable[[int, dict], None] | None = None,
    version: str = "0.0.0+712c23f",
) -> str:
    """Write a run folder; ``mutate(gridsize, dumps)`` may change arrays and frameworks first.

    ``dumps`` maps ``tf_grouped``, ``tf_container``, ``tf_aligned``, ``torch_mmap`` to
    ``{"arrays": {...}, "frameworks": {...}}``.
    """
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    f = fixture_arrays()
    fixture = os.path.join(folder, "..", "fixture.npz")
    np.savez(fixture, **f)
    fixture = os.path.abspath(fixture)
    m = len(f["xcoords"])
    rng = np.random.default_rng(1)
    tf_runs, torch_runs = {}, {}
    data_config = {
        "N": N,
        "C": 1,
        "K": 6,
        "n_subsample": N_SUBSAMPLE,
        "grid_size": [1, 1],
        "neighbor_function": "Nearest",
        "normalize": "Batch",
        "data_scaling": "Parseval",
        "probe_scale": 4.0,
        "probe_normalize": True,
        "x_bounds": list(BOUNDS),
        "y_bounds": list(BOUNDS),
        "scale_contract_version": "ci_intensity_v2",
    }
    model_config = {
        "mode": "Unsupervised",
        "object_big": True,
        "probe_mask": False,
        "physics_forward_mode": "rectangular_scaled" if ci else "amplitude",
    }
    for g in gridsizes:
        c = g * g
        seeds = rng.choice(m, nsamples, replace=False)
        nn_tf = (
            seeds[:, None].astype(np.int64)
            if c == 1
            else np.stack([rng.choice(m, c, replace=False) for _ in seeds]).astype(np.int32)
        )
        grouped = _tf_grouped(f, nn_tf)
        torch = _torch_batch(f, c, ci, rng)
        dumps = {
            "tf_grouped": {"arrays": grouped, "frameworks": _frameworks(grouped, "numpy", Y="tensorflow")},
            "tf_container": {"arrays": _tf_container(grouped), "frameworks": None},
            "tf_aligned": {"arrays": _tf_grouped(f, torch["nn_indices"]), "frameworks": None},
            "torch_mmap": {
                "arrays": torch,
                "frameworks": _frameworks(torch, "torch", objectGuess="numpy", diffraction="numpy"),
            },
        }
        dumps["tf_container"]["frameworks"] = _frameworks(
            dumps["tf_container"]["arrays"], "tensorflow", **{k: "numpy" for k in _TF_CONTAINER_NUMPY}
        )
        dumps["tf_aligned"]["frameworks"] = _frameworks(dumps["tf_aligned"]["arrays"], "numpy", Y="tensorflow")
        if mutate is not None:
            mutate(g, dumps)
        entries = {}
        for name, dump in dumps.items():
            rel = os.path.join(f"g{g}", f"{name}.npz")
            os.makedirs(os.path.join(folder, f"g{g}"), exist_ok=True)
            np.savez(os.path.join(folder, rel), **dump["arrays"])
            groups = len(dump["arrays"]["nn_indices"]) if "nn_indices" in dump["arrays"] else 0
            entries[name] = {"dump": rel, "groups": groups, "frameworks": dump["frameworks"]}
        tf_runs[str(g)] = {
            "grouped": entries["tf_grouped"],
            "container": entries["tf_container"],
            "aligned": entries["tf_aligned"],
            "config": {
                "generate_grouped_data": {
                    "N": N,
                    "K": 4,
                    "nsamples": nsamples,
                    "seed": 0,
                    "sequential_sampling": False,
                    "enable_oversampling": False,
                    "neighbor_pool_size": None,
                    "gridsize": g,
                },
                "params_cfg": {"gridsize": g, "N": N},
            },
        }
        torch_runs[str(g)] = {
            **entries["torch_mmap"],
            "config": {
                "DataConfig": {**data_config, "C": c, "grid_size": [g, g]},
                "ModelConfig": model_config,
                "numpy_seed": 0,
            },
        }
    with open(fixture, "rb") as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()
    record = {
        "fixture": {"path": fixture, "positions": m, "sha256": digest},
        "gridsizes": list(gridsizes),
        "config": {
            "tf": {"N": N, "K": 4, "nsamples": nsamples, "seed": 0},
            "DataConfig": {"N": N},
            "ModelConfig": {},
            "torch": {},
            "seed": 0,
        },
        "environment": {
            "python": "/synthetic/python",
            "numpy": np.__version__,
            "ptychopinn": {"root": "/synthetic/PtychoPINN", "commit": None, "version": version},
        },
        "torch": {
            "runs": torch_runs,
            "overrides": {"DataConfig": {"N": N}, "ModelConfig": {}},
            "defaults": {"DataConfig": {"probe_scale": 4.0}, "ModelConfig": {}},
        },
        "tf": {
            "runs": tf_runs,
            "defaults": {
                "ModelConfig": {"probe_scale": 4.0},
                "TrainingConfig": {"nphotons": 1e9},
                "params_cfg": {"probe_scale": 10.0},
            },
        },
    }
    with open(os.path.join(folder, "run.json"), "w", encoding="utf-8") as fh:
        json.dump(record, fh)
    return folder
