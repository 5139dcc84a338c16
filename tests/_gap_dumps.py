"""Tensor dumps of the TF and Torch pipelines, built from one DATA-001 fixture.

The dumps apply the transforms the pipelines are documented to apply
(grouping by nn_indices, channels-last vs channels-first, float64 vs float32
coordinates, the -1 relative-offset sign, (N/2)^2 vs N^2 in the RMS scale),
so a test can inject one documented difference at a time and check that the
parity engine names it.
"""

from __future__ import annotations

import numpy as np

from conftest import dataset_arrays


def grouped_fixture(n: int = 20, side: int = 8, groups: int = 6, channels: int = 4, seed: int = 3):
    """Return (dataset, nn_indices (B, C), gathered frames (B, C, N, N), xy (B, C, 2))."""
    data = dataset_arrays(n=n, h=side, w=side, seed=seed)
    rng = np.random.default_rng(seed)
    nn = np.stack([rng.choice(n, channels, replace=False) for _ in range(groups)])
    frames = data["diffraction"][nn]
    xy = np.stack([data["xcoords"], data["ycoords"]], axis=-1)[nn]
    return data, nn, frames, xy


def rms_energy(frames: np.ndarray) -> float:
    """Mean over groups and channels of the summed squared amplitude of each frame."""
    return float(np.mean(np.sum(frames.astype(np.float64) ** 2, axis=(-2, -1))))


def tf_grouped_dump(seed: int = 3) -> dict[str, np.ndarray]:
    """The TF grouped dict: channels-last, float64 coordinates, X_full pre-scaled."""
    data, nn, frames, xy = grouped_fixture(seed=seed)
    side = frames.shape[-1]
    scale = np.sqrt((side / 2) ** 2 / rms_energy(frames))
    center = xy.mean(axis=1, keepdims=True)
    return {
        "diffraction": frames.transpose(0, 2, 3, 1),
        "X_full": (scale * frames).astype(np.float32).transpose(0, 2, 3, 1),
        "coords_nn": xy.transpose(0, 2, 1)[:, None],
        "coords_offsets": center.transpose(0, 2, 1)[:, None],
        "coords_relative": (-(xy - center)).transpose(0, 2, 1)[:, None],
        "nn_indices": nn.astype(np.int32),
        "probeGuess": data["probeGuess"],
        "objectGuess": data["objectGuess"],
    }


def torch_mmap_dump(
    seed: int = 3, sign: float = -1.0, rms_side_factor: float = 1.0, channels_last: bool = False
) -> dict[str, np.ndarray]:
    """The Torch TensorDict: channels-first, float32 coordinates, unscaled images.

    ``sign`` is the relative-offset sign (+1 before the documented change);
    the RMS constant uses ``(rms_side_factor * N)^2`` (1: the native N^2,
    0.5: the (N/2)^2 of the TF normalize_data).
    """
    data, nn, frames, xy = grouped_fixture(seed=seed)
    groups, side = frames.shape[0], frames.shape[-1]
    rms = np.sqrt((rms_side_factor * side) ** 2 / rms_energy(frames))
    center = xy.mean(axis=1, keepdims=True)
    images = frames.transpose(0, 2, 3, 1) if channels_last else frames
    return {
        "images": np.ascontiguousarray(images, np.float32),
        "coords_global": xy[:, :, None, :].astype(np.float32),
        "coords_center": center[:, :, None, :].astype(np.float32),
        "coords_relative": (sign * (xy - center))[:, :, None, :].astype(np.float32),
        "nn_indices": nn.astype(np.int64),
        "experiment_id": np.zeros(groups, np.int32),
        "rms_scaling_constant": np.full((groups, 1, 1, 1), rms, np.float32),
        "objectGuess": data["objectGuess"],
    }
