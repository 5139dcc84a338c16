"""Convert any Source of photon counts (ptychodus files, pairs, count NPZs) to a DATA-001 NPZ.

Where :func:`~ptyevidence.writers.convert.convert_cxi` reads a CXI file's
geometry itself, :func:`convert_source` takes what any reader presents:
frames of photon counts beside positions already in object pixels (a
ptychodus product or training file, a ``diffraction.cxi`` paired with its
product, ptychodus's PtychoPINN export). The frames are converted as
``convert_cxi`` converts them (bad pixels from the reader's ``mask`` or a
``bad_pixels`` key), by the reader where it has its own conversion, and
every step goes into ``_metadata``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from .._atomic import check_output_path
from .._progress import progress_bar
from .._version import __version__
from ..contract.model import load_contract
from ..exceptions import InputError, UsageError
from ..readers.base import Source
from ..readers.counts import IntensitySummary, counts_to_amplitude, summarize_counts
from ..readers.layout import canonical_shape, read_frames, source_layout
from ..readers.metadata import METADATA_KEY, metadata_array
from ..readers.registry import open_source
from .convert import (
    CONVERT_BLOCK_BYTES,
    METADATA_FORMAT,
    _as_probe,
    _diffraction_step,
    _placeholder_object_step,
    _probe_from_file,
    minimum_object_shape,
    parse_object_shape,
)
from .npz import StreamedArray, write_npz

__all__ = ["convert_source"]

#: Keys a bad-pixel mask ((H, W) bool, True = bad) may be under, in the order tried.
MASK_KEYS = ("mask", "bad_pixels")


def convert_source(
    source: str | os.PathLike,
    output: str | os.PathLike,
    reader: str | None = None,
    positions_from: str | os.PathLike | None = None,
    probe: str | os.PathLike | None = None,
    object_shape: tuple[int, int] | str | None = None,
    force: bool = False,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Convert the photon counts of any readable source to a DATA-001 NPZ.

    Parameters
    ----------
    source : str or path
        The file (read with :func:`ptyevidence.readers.open_source`).
    output : str or path
        NPZ to write (atomically; refused if it exists unless ``force``).
    reader, positions_from
        As for :func:`~ptyevidence.readers.open_source`.
    probe : str, path or None
        ``.npy`` complex ``(H, W)`` probe; else the source's ``probeGuess``
        (its first mode if it holds several).
    object_shape : (int, int), str or None
        A placeholder ``objectGuess`` of ones of this shape; else the source's.
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
        If the source cannot be read, or holds no frames or positions.
    UsageError
        If the frames are amplitude already, positions are not in object
        pixels, or the probe or object is missing or too small.
    """
    path = os.fspath(source)
    inputs = [path] + [os.fspath(p) for p in (positions_from, probe) if p is not None]
    output = check_output_path(output, force=force, inputs=inputs)
    if isinstance(object_shape, str):
        object_shape = parse_object_shape(object_shape)
    with open_source(path, reader, positions_from) as src:
        plan = _Plan(src)
        probe_array, probe_step = _probe(src, probe, plan.frame_shape)
        obj, obj_step = _object(src, object_shape, plan)
        summary = plan.summary(progress)
        record = _record(src, plan, summary, probe_step, obj_step, reader, positions_from)
        arrays = {
            "diffraction": StreamedArray(
                (plan.n, *plan.frame_shape), np.dtype(np.float32), lambda: plan.amplitude_blocks(summary, progress)
            ),
            "probeGuess": probe_array,
            "objectGuess": obj,
            "xcoords": plan.x,
            "ycoords": plan.y,
            "xcoords_start": plan.start("xcoords_start", plan.x),
            "ycoords_start": plan.start("ycoords_start", plan.y),
            METADATA_KEY: metadata_array(record),
        }
        write_npz(output, arrays, force=force, inputs=inputs)
    return record


class _Plan:
    """What the conversion reads: the frames, their layout and mask, the positions."""

    def __init__(self, src: Source) -> None:
        self.src = src
        # The stack's legacy name (diff3d, as ptychodus's PtychoPINN export writes it) counts too.
        self.key = next(
            (k for k in ("diffraction", *load_contract("data001").field_named("diffraction").aliases) if k in src),
            "diffraction",
        )
        for key in (self.key, "xcoords", "ycoords"):
            if key not in src:
                what = "diffraction frames" if key == "diffraction" else "scan positions"
                msg = (
                    f"'{src.path}' holds no {what} ('{key}'); convert needs frames and positions "
                    "(a diffraction-only file needs positions_from=FILE)"
                )
                raise InputError(msg, src.path)
        if src.position_units != "object pixels":
            msg = (
                f"'{src.path}': positions are in {src.position_units}, not object pixels (the file "
                "gives no object pixel size); convert it with a product that has one"
            )
            raise UsageError(msg)
        self.x = np.asarray(src.read("xcoords"), dtype=np.float64)
        self.y = np.asarray(src.read("ycoords"), dtype=np.float64)
        if not (np.isfinite(self.x).all() and np.isfinite(self.y).all()):
            msg = f"'{src.path}': xcoords/ycoords hold non-finite positions; every frame needs one"
            raise InputError(msg, src.path)
        self.layout = source_layout(src, self.key, self.x.size, "auto", f"'{src.path}' key '{self.key}'")
        self.n, *frame = canonical_shape(src.info(self.key).shape, self.layout)
        self.frame_shape = tuple(frame)
        if self.n != self.x.size:
            msg = f"'{src.path}' holds {self.n} frames but {self.x.size} positions; each frame needs one"
            raise InputError(msg, src.path)
        self.dtype = src.info(self.key).dtype
        # Readers of counts files convert counts themselves; others (an NPZ of counts) are converted here.
        self.own = not src.counts
        self.mask_key = next(
            (
                k
                for k in MASK_KEYS
                if k in src and src.info(k).dtype.kind == "b" and tuple(src.info(k).shape) == self.frame_shape
            ),
            None,
        )
        self.mask = None if self.mask_key is None else np.asarray(src.read(self.mask_key))
        if self.own and self.dtype.kind == "f":
            peak = max((float(b.max()) for b in self.blocks() if b.size), default=0.0)
            if peak < 10.0:
                msg = (
                    f"'{src.path}': the frames are float with maximum {peak:.4g}: amplitude already, "
                    "not photon counts; there is nothing to convert (validate it against data001)"
                )
                raise UsageError(msg)

    def blocks(self) -> Iterator[np.ndarray]:
        rows = max(1, CONVERT_BLOCK_BYTES // max(1, int(np.prod(self.frame_shape)) * self.dtype.itemsize))
        for start in range(0, self.n, rows):
            yield read_frames(self.src, self.key, np.arange(start, min(self.n, start + rows)), self.layout)

    def summary(self, progress: bool | None) -> IntensitySummary:
        if not self.own:
            return self.src.intensity_summary(progress)
        info = self.src.info(self.key)
        return summarize_counts(((0, b) for b in self.blocks()), info, self.mask, progress)

    def amplitude_blocks(self, summary: IntensitySummary, progress: bool | None) -> Iterator[np.ndarray]:
        with progress_bar(self.src.info(self.key).nbytes, "convert frames", progress) as bar:
            for frames in self.blocks():
                yield (
                    counts_to_amplitude(frames, self.mask, summary.scale)
                    if self.own
                    else self.src.frame_transform(frames)
                )
                bar.update(frames.nbytes)

    def start(self, key: str, fallback: np.ndarray) -> np.ndarray:
        if key in self.src and tuple(self.src.info(key).shape) == fallback.shape:
            return np.asarray(self.src.read(key), dtype=np.float64)
        return fallback.copy()


def _probe(src: Source, probe: Any, frame_shape: tuple[int, ...]) -> tuple[np.ndarray, dict[str, Any]]:
    if probe is not None:
        return _probe_from_file(probe, frame_shape)
    if "probeGuess" not in src:
        msg = f"'{src.path}' holds no probeGuess: pass probe='PROBE.npy' holding a complex {tuple(frame_shape)} array"
        raise UsageError(msg)
    array, notes = np.asarray(src.read("probeGuess")), []
    if array.ndim == 3 and array.shape[1:] == tuple(frame_shape):
        notes.append(f"probeGuess {array.shape}: the first of its {array.shape[0]} mode(s) kept")
        array = array[0]
    what = f"'{src.path}' key 'probeGuess'"
    array, notes = _as_probe(array, frame_shape, what, src.path, notes, ", or pass probe='PROBE.npy'")
    return array, {"output": "probeGuess", "origin": "probeGuess of the source", "notes": notes}


def _object(src: Source, shape: tuple[int, int] | None, plan: _Plan) -> tuple[np.ndarray, dict[str, Any]]:
    needed = minimum_object_shape(plan.x, plan.y, plan.frame_shape)
    if shape is None and "objectGuess" in src:
        obj = np.asarray(src.read("objectGuess"))
        if obj.ndim == 2 and obj.dtype.kind in "biufc":
            return obj.astype(np.complex64), {
                "output": "objectGuess",
                "dtype": "complex64",
                "origin": "objectGuess of the source",
                "shape": list(obj.shape),
            }
    if shape is None:
        msg = (
            f"'{src.path}' holds no 2-D objectGuess: pass object_shape='{needed[0]}x{needed[1]}' "
            "(the smallest grid holding every frame at its position) for a placeholder of ones"
        )
        raise UsageError(msg)
    return np.ones(shape, np.complex64), _placeholder_object_step(shape, needed)


def _record(
    src: Source,
    plan: _Plan,
    summary: IntensitySummary,
    probe_step: dict[str, Any],
    obj_step: dict[str, Any],
    reader: str | None,
    positions_from: Any,
) -> dict[str, Any]:
    notes = list(src.frame_transform_notes()) if not plan.own else []
    n_bad = 0 if plan.mask is None else int(np.count_nonzero(plan.mask))
    return {
        "format": METADATA_FORMAT,
        "ptyevidence_version": __version__,
        "layout": "canonical",
        "source": {
            "file": os.path.basename(src.path),
            "format": src.format,
            "reader": reader,
            "positions_from": None if positions_from is None else os.path.basename(os.fspath(positions_from)),
            "bytes": src.file_size(),
            "n_frames": plan.n,
            "frame_shape": list(plan.frame_shape),
            "frames_key": plan.key,
            "frames_dtype": str(plan.dtype),
            "layout": plan.layout,
        },
        "steps": [
            {
                **_diffraction_step(
                    (plan.n, *plan.frame_shape),
                    summary,
                    n_bad,
                    None if plan.mask_key is None else f"'{plan.mask_key}': True = bad pixel",
                    "scale = 1/sqrt(max count), max over all frames with bad pixels excluded",
                ),
                "converted_by": "ptyevidence" if plan.own else f"the {src.format} reader",
            },
            {
                "output": "xcoords, ycoords",
                "dtype": "float64",
                "units": "object pixels",
                "rule": "as the source's reader gives them",
            },
            {"output": "xcoords_start, ycoords_start", "rule": "the source's, else copies of xcoords, ycoords"},
            probe_step,
            obj_step,
        ],
        "notes": notes,
    }
