"""Small files written by ptychodus 1.7.0's own writers, and ptychodus's readers, for the tests.

Importing this module skips the importing test module when ptychodus is not
installed (``make install`` installs it: ``requirements/ptychodus.txt``).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("ptychodus", reason="ptychodus is not installed (make install adds it)")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from ptychodus.api.constants import energy_eV_to_wavelength_m
    from ptychodus.api.diffraction import (
        DiffractionDatasetLayoutNode,
        DiffractionMetadata,
        SimpleDiffractionArray,
        SimpleDiffractionDataset,
    )
    from ptychodus.api.geometry import ImageExtent, PixelGeometry
    from ptychodus.api.io import save_ptychopinn_training_data, save_training_data
    from ptychodus.api.object import Object, ObjectCenter
    from ptychodus.api.probe import ProbeSequence
    from ptychodus.api.probe_positions import ProbePosition, ProbePositionSequence
    from ptychodus.api.product import LossValue, Product, ProductMetadata
    from ptychodus.api.reconstruct import ReconstructInput

from ptyevidence.readers.ptychodus_plugins import load_registry

ENERGY_EV, DISTANCE_M, DETECTOR_PIXEL_M = 8000.0, 0.75, 75e-6
FRAME = 32
NX, NY, STEP_PX = 6, 4, 5.0
OBJECT_SHAPE = (80, 88)
CENTER_M = (4e-7, -2e-7)
BAD_PIXELS = [(0, 0), (7, 20)]
OBJECT_PIXEL_M = energy_eV_to_wavelength_m(ENERGY_EV) * DISTANCE_M / (FRAME * DETECTOR_PIXEL_M)


def registry() -> Any:
    """ptychodus's plugin registry (loaded once)."""
    return load_registry()


def read_frames(plugin: str, path: Path | str) -> np.ndarray:
    """Frames of ``path`` as ptychodus's diffraction plugin ``plugin`` reads them, (N, H, W)."""
    dataset = registry().diffraction_file_readers.get_strategy_by_name(plugin).read(Path(path))
    return np.concatenate([np.asarray(a.get_patterns()) for a in dataset])


def read_product(plugin: str, path: Path | str) -> Any:
    """The ptychodus Product that product plugin ``plugin`` reads from ``path``."""
    logging.getLogger("ptychodus").setLevel(logging.CRITICAL)
    return registry().product_file_readers.get_strategy_by_name(plugin).read(Path(path))


def scene(seed: int = 7) -> dict[str, Any]:
    """A far-field scan: 24 positions of 32x32 photon-count frames, probe, object, geometry."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:FRAME, :FRAME] - (FRAME - 1) / 2
    probe = (np.exp(-(x**2 + y**2) / 40.0) * np.exp(2e-3j * (x**2 + y**2))).astype(np.complex64)
    obj = (0.8 + 0.2 * rng.random(OBJECT_SHAPE)) * np.exp(1j * rng.random(OBJECT_SHAPE))
    obj = obj.astype(np.complex64)
    points = []
    for iy in range(NY):
        for ix in range(NX):
            jx, jy = rng.uniform(-0.3, 0.3, 2)
            points.append(
                ProbePosition(
                    iy * NX + ix,
                    CENTER_M[0] + ((ix - (NX - 1) / 2) * STEP_PX + jx) * OBJECT_PIXEL_M,
                    CENTER_M[1] + ((iy - (NY - 1) / 2) * STEP_PX + jy) * OBJECT_PIXEL_M,
                )
            )
    positions = ProbePositionSequence(points)
    pixels = PixelGeometry(OBJECT_PIXEL_M, OBJECT_PIXEL_M)
    object_ = Object(obj, pixels, ObjectCenter(*CENTER_M), [])
    geometry = object_.get_geometry()
    x_px = geometry.map_probe_positions_to_object_x_px(positions)
    y_px = geometry.map_probe_positions_to_object_y_px(positions)
    counts = np.empty((len(points), FRAME, FRAME), np.uint32)
    half = (FRAME - 1) / 2
    for n, (px, py) in enumerate(zip(x_px, y_px)):
        x0, y0 = round(px - half), round(py - half)
        field = np.fft.fftshift(np.fft.fft2(probe * obj[y0 : y0 + FRAME, x0 : x0 + FRAME]))
        counts[n] = rng.poisson(np.abs(field) ** 2 * 2e4 / np.sum(np.abs(field) ** 2))
    bad = np.zeros((FRAME, FRAME), bool)
    for yb, xb in BAD_PIXELS:
        bad[yb, xb] = True
        counts[:, yb, xb] = 65535
    metadata = ProductMetadata(
        name="test scene",
        comments="tests/ptychodus_files.py",
        detector_distance_m=DISTANCE_M,
        photon_energy_eV=ENERGY_EV,
        probe_photon_count=2e4,
        exposure_time_s=0.1,
        mass_attenuation_m2_per_kg=0.0,
        tomography_angle_deg=0.0,
    )
    product = Product(
        metadata, positions, ProbeSequence(probe, None, pixels), object_, [LossValue(0, 1.0), LossValue(1, 0.5)]
    )
    return {
        "product": product,
        "counts": counts,
        "bad_pixels": bad,
        "probe": probe,
        "object": obj,
        "x_m": positions.get_coordinates_x_m(),
        "y_m": positions.get_coordinates_y_m(),
        "x_px": x_px,
        "y_px": y_px,
        "pixels": pixels,
    }


def opr_product(truth: dict[str, Any]) -> Any:
    """The scene's product with 2 coherent x 2 incoherent probe modes, OPR weights and 2 layers."""
    base = truth["product"]
    n = len(base.probe_positions)
    modes = np.stack([np.stack([truth["probe"] * 0.5**i for i in range(2)]) * (1.0, 0.2)[c] for c in range(2)]).astype(
        np.complex64
    )
    weights = np.stack([np.ones(n), np.linspace(0.0, 0.2, n)], axis=1)
    layers = np.stack([truth["object"], np.ones_like(truth["object"])])
    return Product(
        base.metadata,
        base.probe_positions,
        ProbeSequence(modes, weights, truth["pixels"]),
        Object(layers, truth["pixels"], ObjectCenter(*CENTER_M), [2e-6]),
        base.losses,
    )


def write_files(folder: Path, truth: dict[str, Any]) -> dict[str, Path]:
    """Write the scene with ptychodus's writers; return name -> path."""
    reg = registry()
    paths = {
        name: folder / name
        for name in (
            "product.h5",
            "product_opr.h5",
            "product.cxi",
            "product.npz",
            "diffraction.cxi",
            "training_data.h5",
            "ptychopinn_training.npz",
        )
    }
    writers = reg.product_file_writers
    writers.get_strategy_by_name("HDF5").write(paths["product.h5"], truth["product"])
    writers.get_strategy_by_name("HDF5").write(paths["product_opr.h5"], opr_product(truth))
    writers.get_strategy_by_name("CXI").write(paths["product.cxi"], truth["product"])
    writers.get_strategy_by_name("NPZ").write(paths["product.npz"], truth["product"])
    counts = truth["counts"]
    meta = DiffractionMetadata(
        [len(counts)],
        counts.dtype,
        ImageExtent(FRAME, FRAME),
        DISTANCE_M,
        PixelGeometry(DETECTOR_PIXEL_M, DETECTOR_PIXEL_M),
        None,
        ENERGY_EV,
    )
    dataset = SimpleDiffractionDataset(
        meta,
        DiffractionDatasetLayoutNode.create_root(),
        [SimpleDiffractionArray("scene", np.arange(len(counts)), counts)],
        bad_pixels=truth["bad_pixels"],
    )
    reg.diffraction_file_writers.get_strategy_by_name("CXI").write(paths["diffraction.cxi"], dataset)
    recon = ReconstructInput(diffraction_patterns=counts, bad_pixels=truth["bad_pixels"], product=truth["product"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        save_training_data(paths["training_data.h5"], recon)
        save_ptychopinn_training_data(paths["ptychopinn_training.npz"], recon)
    return paths
