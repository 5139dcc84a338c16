"""Write a fixture as a ptychodus product HDF5 file that carries its frames.

The product is what ptychodus 1.7.0's ``save_product`` writes
(``api/io.py:441-504``), readable by its ``HDF5`` product reader: root
attributes, ``probe_position_indexes`` (the frame numbers ``0..n-1``, which
ptychodus pairs frames by), positions in metres, a ``(1, 1, H, W)`` probe and a
``(1, M1, M2)`` object with their pixel sizes and centre, an empty layer
spacing and loss history. Where the PtychoPINN spec names an attribute
differently (``probe_energy_eV``, ``mass_attenuation_m2_kg``) both names are
written, with the same value, so a reader of either finds it.

The frames travel in the spec's §12 ``/raw_data`` bundle (amplitude
``(N, H, W)``, positions in object pixels, ``scan_index``, ``_metadata``), and
``/entry_1/data_1/data`` links to them: the path ptychodus's CXI diffraction
reader reads, so ptychodus loads the frames from the same file.

Positions in metres follow ptychodus's object mapping backwards:
``x_m = (x_px - (M2 - 1) / 2) * pixel_width + center_x`` (``y`` likewise).
Datasets are written without timestamps, so equal fixtures give equal bytes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import IO

import numpy as np

from .._atomic import atomic_output, check_output_path
from .._version import __version__
from ..readers.metadata import METADATA_KEY, metadata_array
from ..readers.product import RAW_DATA_GROUP
from .geometry import Geometry

__all__ = ["CXI_FRAMES_LINK", "product_layout_arrays", "write_product", "write_product_file"]

#: Where ptychodus's CXI diffraction reader looks for frames first (plugins/cxi_file.py:138).
CXI_FRAMES_LINK = "/entry_1/data_1/data"


def product_layout_arrays(
    arrays: Mapping[str, np.ndarray], geometry: Geometry
) -> tuple[dict[str, object], dict[str, np.ndarray], dict[str, dict[str, object]]]:
    """Return the product's root attributes, its datasets and their attributes.

    Parameters
    ----------
    arrays : mapping
        DATA-001 fixture arrays: ``diffraction``, ``xcoords``, ``ycoords``,
        ``probeGuess``, ``objectGuess`` (``scan_index`` optional).
    geometry : Geometry
        Energy, distance, object pixel size and centre.

    Returns
    -------
    root : dict
        Root attribute -> value.
    datasets : dict
        Dataset path -> array (``raw_data/...`` for the bundle), in writing order.
    attrs : dict
        Dataset path -> its attributes.

    Examples
    --------
    >>> from ptyevidence.writers.geometry import Geometry
    >>> geo = Geometry(8000.0, 0.75, 75e-6, 1e-8, 1e-8)
    >>> fixture = {"diffraction": np.zeros((2, 4, 4), np.float32), "xcoords": np.array([4.0, 6.0]),
    ...            "ycoords": np.array([4.0, 4.0]), "probeGuess": np.ones((4, 4), np.complex64),
    ...            "objectGuess": np.ones((9, 11), np.complex64)}
    >>> _, datasets, _ = product_layout_arrays(fixture, geo)
    >>> datasets["probe_position_x_m"].tolist(), datasets["probe"].shape
    ([-1e-08, 1e-08], (1, 1, 4, 4))
    """
    x_px, y_px = (np.asarray(arrays[k], dtype=np.float64) for k in ("xcoords", "ycoords"))
    obj = np.asarray(arrays["objectGuess"])
    height, width = obj.shape[-2:]
    g = geometry
    n = x_px.size
    root = {
        "name": "ptyevidence fixture",
        "comments": f"written by ptyevidence {__version__} (fixture make --format ptychodus-product)",
        "detector_object_distance_m": g.detector_distance_m,
        "photon_energy_eV": g.photon_energy_eV,
        "probe_energy_eV": g.photon_energy_eV,
        "probe_photon_count": 0.0,
        "exposure_time_s": 0.0,
        "mass_attenuation_m2_per_kg": 0.0,
        "mass_attenuation_m2_kg": 0.0,
        "tomography_angle_deg": 0.0,
        "focus_object_distance_m": 0.0,
        "tilt_angle_deg": 0.0,
        "far_field": np.bool_(True),
    }
    datasets: dict[str, np.ndarray] = {
        "probe_position_indexes": np.arange(n, dtype=np.int64),
        "probe_position_x_m": (x_px - (width - 1) / 2) * g.object_pixel_width_m + g.object_center_x_m,
        "probe_position_y_m": (y_px - (height - 1) / 2) * g.object_pixel_height_m + g.object_center_y_m,
        "probe": np.asarray(arrays["probeGuess"])[None, None],
        "object": obj[None],
        "object_layer_spacing_m": np.zeros(0, np.float64),
        "loss_epochs": np.zeros(0, np.int64),
        "loss_values": np.zeros(0, np.float64),
        f"{RAW_DATA_GROUP}/diffraction": np.asarray(arrays["diffraction"]),
        f"{RAW_DATA_GROUP}/xcoords": x_px,
        f"{RAW_DATA_GROUP}/ycoords": y_px,
        f"{RAW_DATA_GROUP}/scan_index": np.asarray(arrays.get("scan_index", np.zeros(n, np.int64))),
    }
    attrs = {
        "probe": {"pixel_width_m": g.object_pixel_width_m, "pixel_height_m": g.object_pixel_height_m},
        "object": {
            "center_x_m": g.object_center_x_m,
            "center_y_m": g.object_center_y_m,
            "pixel_width_m": g.object_pixel_width_m,
            "pixel_height_m": g.object_pixel_height_m,
        },
        f"{RAW_DATA_GROUP}/diffraction": {"axis_canonical": "NHW"},
    }
    return root, datasets, attrs


def write_product(
    path: str | os.PathLike,
    arrays: Mapping[str, np.ndarray],
    geometry: Geometry,
    force: bool = False,
    inputs: Iterable[str | os.PathLike] = (),
) -> str:
    """Write ``arrays`` as a ptychodus product HDF5 file with its frames (atomic, deterministic).

    Parameters
    ----------
    path : str or path
        Destination (written to a temporary file, then renamed).
    arrays : mapping
        DATA-001 fixture arrays (see :func:`product_layout_arrays`).
    geometry : Geometry
        Physical geometry of the product.
    force : bool
        Replace an existing file.
    inputs : iterable of paths
        Files the output must not overwrite.

    Returns
    -------
    str
        The path written.
    """
    path = check_output_path(path, force=force, inputs=inputs)
    # h5py reads back what it writes: the temporary file is opened for both.
    with atomic_output(path, "w+b", force=force, inputs=inputs) as fh:
        write_product_file(fh, arrays, geometry)
    return path


def write_product_file(fh: IO[bytes], arrays: Mapping[str, np.ndarray], geometry: Geometry) -> None:
    """Write the product of :func:`write_product` into ``fh``, a binary file open for reading and writing."""
    import h5py

    root, datasets, attrs = product_layout_arrays(arrays, geometry)
    record = geometry.metadata_record("canonical", "ptychodus-product")
    with h5py.File(fh, "w") as out:
        for name, value in root.items():
            out.attrs[name] = value
        for name, value in datasets.items():
            dset = out.create_dataset(name, data=value, track_times=False)
            for attr, attr_value in attrs.get(name, {}).items():
                dset.attrs[attr] = attr_value
        out.create_dataset(f"{RAW_DATA_GROUP}/{METADATA_KEY}", data=str(metadata_array(record)), track_times=False)
        out[CXI_FRAMES_LINK] = h5py.SoftLink(f"/{RAW_DATA_GROUP}/diffraction")
