"""Convert a CXI (HDF5) beamline file to a DATA-001 NPZ, recording every step.

The frames are streamed twice, chunk by chunk: once for the amplitude scale,
once to write ``sqrt(counts) * scale`` straight into the NPZ member
(:class:`ptyevidence.writers.npz.StreamedArray`), never whole in memory.
Every choice (formula, factor, masked pixels, position units, where the
probe and object came from) goes into the ``_metadata`` member (see
:mod:`ptyevidence.readers.metadata`), with ``"layout": "canonical"`` so a
stack with N == H == W is never ambiguous.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._atomic import check_output_path
from .._memory import check_budget
from .._progress import progress_bar
from .._version import __version__
from ..exceptions import InputError, UsageError
from ..readers.counts import IntensitySummary
from ..readers.cxi import PROBE_PATHS, CxiSource
from ..readers.metadata import METADATA_KEY, metadata_array, read_metadata_member
from .npz import StreamedArray, write_npz

__all__ = [
    "convert_cxi",
    "load_probe",
    "minimum_object_shape",
    "parse_object_shape",
    "read_metadata",
]

#: Raw frame bytes converted per block (the float64 working copy is 2-8x this).
CONVERT_BLOCK_BYTES = 16 * 2**20
#: Version of the ``_metadata`` layout.
METADATA_FORMAT = "ptyevidence-convert/1"


def parse_object_shape(text: str) -> tuple[int, int]:
    """Parse ``"M1xM2"`` (rows x columns) into two positive integers.

    Parameters
    ----------
    text : str
        For example ``"256x320"``.

    Returns
    -------
    tuple of int
        ``(M1, M2)``.

    Raises
    ------
    UsageError
        If the text is not two positive integers joined by ``x``.

    Examples
    --------
    >>> parse_object_shape("256x320")
    (256, 320)
    """
    match = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text)
    if not match or int(match[1]) < 1 or int(match[2]) < 1:
        msg = f"object shape '{text}' is not M1xM2 with positive integers (e.g. 256x256)"
        raise UsageError(msg)
    return int(match[1]), int(match[2])


def minimum_object_shape(xcoords: np.ndarray, ycoords: np.ndarray, frame_shape: tuple[int, int]) -> tuple[int, int]:
    """Return the smallest object grid holding every frame placed at its position.

    Parameters
    ----------
    xcoords, ycoords : numpy.ndarray
        ``(N,)`` frame centres in object pixels (positions with a non-finite
        coordinate are ignored).
    frame_shape : tuple of int
        ``(H, W)`` in pixels.

    Returns
    -------
    tuple of int
        ``(M1, M2)``: ``ceil(max(y) + H/2)`` rows, ``ceil(max(x) + W/2)``
        columns, at least one frame.

    Examples
    --------
    >>> minimum_object_shape(np.array([4.0, 10.0]), np.array([4.0, 4.0]), (8, 8))
    (8, 14)
    """
    h, w = frame_shape
    finite = np.isfinite(xcoords) & np.isfinite(ycoords)
    x, y = xcoords[finite], ycoords[finite]
    rows = math.ceil(float(y.max()) + h / 2 - 1e-9) if y.size else h
    cols = math.ceil(float(x.max()) + w / 2 - 1e-9) if x.size else w
    return max(h, rows), max(w, cols)


def load_probe(path: str | os.PathLike, frame_shape: tuple[int, int]) -> tuple[np.ndarray, list[str]]:
    """Load a probe from a ``.npy`` file (never unpickling) as complex64 ``(H, W)``.

    Parameters
    ----------
    path : str or path
        ``.npy`` file holding a ``(H, W)``, ``(H, W, 1)`` or ``(1, H, W)`` array.
    frame_shape : tuple of int
        ``(H, W)`` of the diffraction frames.

    Returns
    -------
    probe : numpy.ndarray
        ``(H, W)`` complex64.
    notes : list of str
        What was done to it (squeeze, cast).

    Raises
    ------
    InputError
        If the file cannot be read as a plain numeric array of a frame's shape.
    """
    path = os.fspath(path)
    try:
        # Mapped first: the header's shape is checked against the budget before any copy.
        probe = np.load(path, mmap_mode="r", allow_pickle=False)
        if isinstance(probe, np.ndarray):
            check_budget(2 * probe.nbytes, f"reading the probe '{path}'")
            probe = np.array(probe)
    except (OSError, ValueError, EOFError) as exc:
        msg = f"probe file '{path}' cannot be read as a .npy array ({exc}); save it with numpy.save"
        raise InputError(msg, path) from None
    if not isinstance(probe, np.ndarray):
        msg = f"probe file '{path}' is an archive; give a single .npy array"
        raise InputError(msg, path)
    notes = []
    if probe.ndim == 3 and 1 in (probe.shape[0], probe.shape[-1]):
        notes.append(f"probe of shape {probe.shape} squeezed to {tuple(frame_shape)}")
        probe = probe.reshape(probe.shape[1:] if probe.shape[0] == 1 else probe.shape[:-1])
    return _as_probe(probe, frame_shape, f"probe file '{path}'", path, notes)


def _as_probe(
    probe: np.ndarray, frame_shape: tuple[int, ...], what: str, path: str, notes: list[str], hint: str = ""
) -> tuple[np.ndarray, list[str]]:
    """Return ``probe`` as complex64, noting a cast; refuse one that is not numbers of a frame's shape."""
    if probe.shape != tuple(frame_shape) or probe.dtype.kind not in "biufc":
        msg = (
            f"{what} holds {probe.dtype} of shape {probe.shape}; expected a "
            f"complex array of a frame's shape {tuple(frame_shape)}{hint}"
        )
        raise InputError(msg, path)
    if probe.dtype != np.complex64:
        notes.append(f"probe cast from {probe.dtype} to complex64")
    return probe.astype(np.complex64), notes


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """Return the ``_metadata`` record of a converted NPZ as a dict.

    Parameters
    ----------
    path : str or path
        NPZ written by :func:`convert_cxi`.

    Raises
    ------
    InputError
        If the file has no ``_metadata`` member holding a JSON object.
    """
    from ..readers.npz import NpzSource

    path = os.fspath(path)
    with NpzSource(path) as source:
        record = read_metadata_member(source)
    if record is None:
        msg = (
            f"'{path}' has no readable '{METADATA_KEY}' member (a JSON object stored as "
            "a unicode scalar); it was not written by ptyevidence convert"
        )
        raise InputError(msg, path)
    return record


def convert_cxi(
    source: str | os.PathLike,
    output: str | os.PathLike,
    geometry: str = "far-field",
    sample_pixel_size: float | None = None,
    probe: str | os.PathLike | None = None,
    object_shape: tuple[int, int] | str | None = None,
    force: bool = False,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Convert a CXI file of photon counts to a DATA-001 NPZ.

    ``diffraction = sqrt(max(counts, 0)) * scale`` (float32) with
    ``scale = 1 / sqrt(max count)`` over all frames, bad pixels of the
    detector mask and non-finite counts set to 0. Positions become object
    pixels: far-field ``dx = wavelength * distance / (W * x_pixel_size)``
    (``dy`` likewise with ``H``), or ``sample_pixel_size``; then
    ``x = translation_x / dx + W/2 - min(translation_x / dx)`` (``y`` likewise).

    Parameters
    ----------
    source : str or path
        CXI (HDF5) file.
    output : str or path
        NPZ to write (atomically; refused if it exists unless ``force``).
    geometry : {"far-field", "near-field"}
        Near-field needs ``sample_pixel_size``.
    sample_pixel_size : float or None
        Sample-plane pixel size in metres; overrides the far-field formula.
    probe : str, path or None
        ``.npy`` with a complex ``(H, W)`` probe; else a probe stored in the
        file is used; else the conversion is refused.
    object_shape : (int, int), str or None
        ``(M1, M2)`` or ``"M1xM2"``: writes a placeholder ``objectGuess`` of
        ones; without it the conversion is refused.
    force : bool
        Overwrite ``output``.
    progress : bool or None
        Progress bars; None shows them on a terminal for long passes.

    Returns
    -------
    dict
        The ``_metadata`` record written into the NPZ.

    Raises
    ------
    InputError
        If the CXI file is malformed, or the probe file is unusable.
    UsageError
        If positions cannot be put in object pixels, the probe or object is
        missing, the object is too small for the scan, or ``output`` exists.

    Examples
    --------
    >>> import h5py, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> cxi = os.path.join(folder, "scan.cxi")
    >>> with h5py.File(cxi, "w") as f:
    ...     det = f.create_group("entry_1/instrument_1/detector_1")
    ...     det["data"] = np.arange(4 * 8 * 8, dtype=np.uint16).reshape(4, 8, 8)
    ...     det["distance"], det["x_pixel_size"], det["y_pixel_size"] = 1.0, 1e-4, 1e-4
    ...     f["entry_1/instrument_1/source_1/wavelength"] = 1e-10
    ...     t = np.zeros((4, 3)); t[:, 0] = np.arange(4) * 250e-9
    ...     f["entry_1/sample_1/geometry_1/translation"] = t
    ...     f["entry_1/instrument_1/source_1/probe"] = np.ones((8, 8), np.complex64)
    >>> record = convert_cxi(cxi, os.path.join(folder, "scan.npz"), object_shape="8x14")
    >>> record["steps"][0]["max_count"], round(record["steps"][0]["scale"] ** -2, 6)
    (255.0, 255.0)
    """
    source = os.fspath(source)
    inputs = [source] + ([probe] if probe else [])
    output = check_output_path(output, force=force, inputs=inputs)
    if isinstance(object_shape, str):
        object_shape = parse_object_shape(object_shape)
    with CxiSource(source, geometry=geometry, sample_pixel_size=sample_pixel_size) as src:
        n, h, w = src.info("diffraction").shape
        x, y = _checked_positions(src)
        needed = minimum_object_shape(x, y, (h, w))
        probe_array, probe_step = _probe_from_file(probe, (h, w)) if probe is not None else _stored_probe(src)
        _check_complete(src, probe_array, object_shape, needed)
        object_step = _placeholder_object_step(object_shape, needed)
        # The placeholder object is held whole while the NPZ is written.
        check_budget(
            object_shape[0] * object_shape[1] * np.dtype(np.complex64).itemsize,
            f"the placeholder objectGuess of {object_shape[0]}x{object_shape[1]}",
        )
        summary = src.intensity_summary(progress, block_bytes=CONVERT_BLOCK_BYTES)
        record = _metadata(src, summary, probe_step, object_step)

        def amplitude_blocks():
            # Converted block by block straight into the zip member: memory stays
            # at one block whatever the scan size.
            with progress_bar(src.info("diffraction").nbytes, "convert frames", progress) as bar:
                for _, frames in src.iter_frames(CONVERT_BLOCK_BYTES):
                    yield src.frame_transform(frames)
                    bar.update(frames.nbytes)

        arrays = {
            "diffraction": StreamedArray((n, h, w), np.dtype(np.float32), amplitude_blocks),
            "probeGuess": probe_array,
            "objectGuess": np.ones(object_shape, np.complex64),
            "xcoords": x,
            "ycoords": y,
            "xcoords_start": x,
            "ycoords_start": y,
            METADATA_KEY: metadata_array(record),
        }
        write_npz(output, arrays, force=force, inputs=inputs)
    return record


def _checked_positions(src: CxiSource) -> tuple[np.ndarray, np.ndarray]:
    """Return the positions in object pixels (float64); refuse metres and non-finite values."""
    if src.position_units != "object pixels":
        if src.geometry == "near-field":
            msg = (
                f"'{src.path}': near-field geometry needs sample_pixel_size=METRES (the "
                "sample-plane pixel size; the far-field formula wavelength * distance / "
                "(frame size * detector pixel size) does not apply)"
            )
        else:
            msg = (
                f"'{src.path}': cannot put positions in object pixels: the far-field sample "
                f"pixel size needs {'; '.join(src.missing_geometry) or 'a usable geometry'}; "
                "add them to the file or pass sample_pixel_size=METRES"
            )
        raise UsageError(msg)
    x, y = src.read("xcoords"), src.read("ycoords")
    bad = int(np.count_nonzero(~(np.isfinite(x) & np.isfinite(y))))
    if bad:
        msg = (
            f"'{src.path}': '{src.translation_path}' has {bad} non-finite positions of {x.size}; "
            "every frame needs a finite position"
        )
        raise InputError(msg, src.path)
    return x.astype(np.float64), y.astype(np.float64)


def _probe_from_file(probe: str | os.PathLike, frame_shape: tuple[int, ...]) -> tuple[np.ndarray, dict[str, Any]]:
    """Load the probe of ``probe=`` and describe the step."""
    array, notes = load_probe(probe, frame_shape)
    origin = f"--probe file '{os.path.basename(os.fspath(probe))}' (loaded with allow_pickle=False)"
    return array, {"output": "probeGuess", "origin": origin, "notes": notes}


def _placeholder_object_step(shape: tuple[int, int], needed: tuple[int, int]) -> dict[str, Any]:
    """Describe a placeholder ``objectGuess`` of ones; refuse one smaller than the scan ``needed``."""
    if shape[0] < needed[0] or shape[1] < needed[1]:
        msg = (
            f"object shape {shape[0]}x{shape[1]} is smaller than the scan "
            f"needs: every frame placed at its position fits only in {needed[0]}x{needed[1]} "
            f"or larger; pass object_shape='{needed[0]}x{needed[1]}'"
        )
        raise UsageError(msg)
    return {
        "output": "objectGuess",
        "dtype": "complex64",
        "origin": "placeholder: ones of shape --object-shape (not a reconstruction)",
        "shape": list(shape),
        "minimum_shape": list(needed),
    }


def _diffraction_step(
    shape: Sequence[int], summary: IntensitySummary, bad_pixels: int, mask_rule: str | None, scale_rule: str
) -> dict[str, Any]:
    """Describe the counts-to-amplitude step of the ``_metadata`` record."""
    return {
        "output": "diffraction",
        "dtype": "float32",
        "shape": list(shape),
        "formula": "diffraction = sqrt(max(counts, 0)) * scale",
        "scale": summary.scale,
        "scale_rule": scale_rule,
        "max_count": summary.max_count,
        "bad_pixels": bad_pixels,
        "mask_rule": mask_rule,
        "bad_pixel_value": 0.0,
        "negative_counts_clipped": summary.n_negative,
        "nonfinite_counts_zeroed": summary.n_nonfinite,
    }


def _stored_probe(src: CxiSource) -> tuple[np.ndarray | None, dict[str, Any]]:
    if "probeGuess" in src:
        return src.read("probeGuess"), {
            "output": "probeGuess",
            "origin": f"HDF5 dataset '{src.hdf5_paths['probe']}' of the source, as stored",
            "notes": ["CXI defines no probe dataset: its plane, centring and normalization are not checked"],
        }
    return None, {}


def _check_complete(
    src: CxiSource,
    probe: np.ndarray | None,
    object_shape: tuple[int, int] | None,
    needed: tuple[int, int],
) -> None:
    """Refuse, naming every missing part and how to supply it, before any long pass."""
    h, w = src.info("diffraction").shape[1:]
    missing = []
    if probe is None:
        missing.append(
            f"probeGuess (the file has none at {', '.join(PROBE_PATHS)}): pass probe='PROBE.npy' "
            f"holding a complex ({h}, {w}) array"
        )
    if object_shape is None:
        missing.append(
            f"objectGuess: pass object_shape='{needed[0]}x{needed[1]}' (the smallest grid "
            "holding every frame at its position) for a placeholder of ones, or larger"
        )
    if missing:
        msg = f"'{src.path}' lacks what a full DATA-001 file needs: " + "; ".join(missing)
        raise UsageError(msg)


def _metadata(
    src: CxiSource, summary: IntensitySummary, probe_step: dict[str, Any], object_step: dict[str, Any]
) -> dict[str, Any]:
    meta = src.metadata
    n, h, w = src.info("diffraction").shape
    dx, dy = src.sample_pixel_size
    x0, y0 = src.position_offset
    return {
        "format": METADATA_FORMAT,
        "ptyevidence_version": __version__,
        "layout": "canonical",
        "source": {
            "file": meta["file"],
            "format": "cxi",
            "bytes": src.file_size(),
            "hdf5_paths": meta["hdf5_paths"],
            "n_frames": n,
            "frame_shape": [h, w],
            "frames_dtype": meta["frames_dtype"],
            **({"linked_files": meta["linked_files"]} if meta.get("linked_files") else {}),
        },
        "geometry": {
            key: meta[key]
            for key in (
                "geometry",
                "energy_J",
                "wavelength_m",
                "distance_m",
                "detector_pixel_size_m",
                "basis_vectors_unit",
                "sample_pixel_size_m",
                "sample_pixel_size_rule",
            )
        },
        "steps": [
            _diffraction_step(
                (n, h, w),
                summary,
                meta["n_bad_pixels"],
                meta["mask_rule"],
                "scale = 1/sqrt(max count), max over all frames with bad pixels "
                "excluded: the largest amplitude is 1.0 (DATA-001: normalized amplitude, max < 10)",
            ),
            {
                "output": "xcoords, ycoords",
                "dtype": "float64",
                "units": "object pixels",
                "formula": "x = tx / dx + offset_x, y = ty / dy + offset_y; (tx, ty) = "
                "-translation projected on the detector column/row unit vectors "
                "(= translation x, y for the CXI default basis_vectors)",
                "dx_m": dx,
                "dy_m": dy,
                "offset_px": [x0, y0],
                "offset_rule": "the smallest x (y) sits W/2 (H/2) pixels from the object edge",
            },
            {"output": "xcoords_start, ycoords_start", "rule": "copies of xcoords, ycoords"},
            probe_step,
            object_step,
        ],
        "notes": meta["notes"],
    }
