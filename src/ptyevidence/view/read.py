"""Read what a dataset's figures show: the object, probe and positions, and a sample of frames.

Bounded by what is shown, not by the file: :func:`read_frame_sample` gathers a few
frames and the mean of at most :data:`MEAN_FRAMES` evenly strided ones, chosen by
the number of positions only (the same file always gives the same frames).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from ..coverage.matching import ScanPositions, source_positions
from ..coverage.probe import ProbeSize, source_probe

__all__ = [
    "MEAN_FRAMES",
    "OBJECT_KEY",
    "SHOWN_FRAMES",
    "FrameSample",
    "Scene",
    "read_frame_sample",
    "read_scene",
    "shown_frame_indices",
]

#: Most frames averaged into the mean frame (evenly strided beyond that).
MEAN_FRAMES = 2048
#: Representative frames shown by default.
SHOWN_FRAMES = 5
#: Key under which readers present the object.
OBJECT_KEY = "objectGuess"
# Frames gathered per read while averaging (bounds the working set).
_MEAN_BATCH = 256


@dataclass(frozen=True, eq=False)
class Scene(ScanPositions):
    """The positions of a scan (as :class:`~ptyevidence.coverage.ScanPositions`) with the object and probe.

    Attributes
    ----------
    object : numpy.ndarray or None
        ``(M1, M2)`` complex object, when the file holds one.
    probe : numpy.ndarray or None
        ``(modes, H, W)`` complex probe, when the file holds one.
    probe_size : ProbeSize or None
        The probe's measured size (:func:`~ptyevidence.coverage.probe.measure_probe`);
        None without a probe or when positions are not in object pixels.
    """

    object: np.ndarray | None = None
    probe: np.ndarray | None = None
    probe_size: ProbeSize | None = None

    @property
    def probe_diameter(self) -> float | None:
        """The measured probe diameter in position units, if known."""
        return None if self.probe_size is None else self.probe_size.diameter

    @property
    def on_object(self) -> bool:
        """True when the positions can be drawn over the object (both in object pixels)."""
        return self.object is not None and self.units == "object pixels"


@dataclass(frozen=True, eq=False)
class FrameSample:
    """Representative frames of a scan and its mean frame, as stored.

    Attributes
    ----------
    key : str
        The stack's key in the file.
    n_frames : int
        Frames in the file.
    indices : numpy.ndarray
        ``(k,)`` scan indices of :attr:`frames` (:func:`shown_frame_indices`).
    frames : numpy.ndarray
        ``(k, H, W)`` float64 frames, values as stored.
    mean : numpy.ndarray
        ``(H, W)`` float64 mean of :attr:`mean_count` frames.
    mean_count, mean_stride : int
        Frames averaged, and the step between their indices (1: every frame).
    """

    key: str
    n_frames: int
    indices: np.ndarray
    frames: np.ndarray
    mean: np.ndarray
    mean_count: int
    mean_stride: int

    @property
    def mean_label(self) -> str:
        """What the mean frame averages, in words."""
        if self.mean_stride == 1:
            return f"mean of all {self.n_frames} frames"
        return f"mean of {self.mean_count} of {self.n_frames} frames (one in {self.mean_stride})"


def shown_frame_indices(n_frames: int, count: int = SHOWN_FRAMES) -> np.ndarray:
    """Return ``count`` scan indices spread evenly from the first frame to the last.

    Examples
    --------
    >>> shown_frame_indices(1087).tolist()
    [0, 272, 543, 814, 1086]
    >>> shown_frame_indices(3).tolist()
    [0, 1, 2]
    """
    return np.unique(np.linspace(0, n_frames - 1, min(count, n_frames)).round().astype(np.int64))


def read_scene(
    source: str | os.PathLike,
    reader: str | None = None,
    positions_from: str | os.PathLike | None = None,
    geometry: str | None = None,
    sample_pixel_size: float | None = None,
) -> Scene:
    """Read the positions, object and probe of a dataset (NPZ or CXI).

    Parameters
    ----------
    source : str or path
        The dataset.
    reader, positions_from, geometry, sample_pixel_size : optional
        How ``source`` is read (see :func:`ptyevidence.readers.open_source`).

    Returns
    -------
    Scene

    Raises
    ------
    InputError
        If the file or its positions cannot be read.
    """
    from ..readers.registry import open_source

    with open_source(source, reader, positions_from, geometry, sample_pixel_size) as src:
        positions = source_positions(src, os.fspath(source), minimum=1)
        obj = src.read(OBJECT_KEY) if OBJECT_KEY in src else None
        probe, size = source_probe(src)
    if obj is not None and (obj.ndim != 2 or obj.dtype.kind not in "biufc"):
        obj = None  # not an image (records, text): nothing to draw
    return Scene(**vars(positions), object=obj, probe=probe, probe_size=size)


def read_frame_sample(
    source: str | os.PathLike,
    count: int = SHOWN_FRAMES,
    mean_frames: int = MEAN_FRAMES,
    layout: str = "auto",
    contract: str | None = None,
    reader: str | None = None,
    positions_from: str | os.PathLike | None = None,
    geometry: str | None = None,
    sample_pixel_size: float | None = None,
) -> FrameSample:
    """Gather the representative frames of a dataset and its mean frame.

    Parameters
    ----------
    source : str or path
        The dataset.
    count : int
        Frames to gather (:func:`shown_frame_indices`).
    mean_frames : int
        Most frames averaged; more frames are thinned to every ``ceil(N / mean_frames)``-th.
    layout : {"auto", "canonical", "legacy"}
        Stored order of the stack.
    contract : str, optional
        Contract whose layout field is the stack (default: the file format's).
    reader, positions_from, geometry, sample_pixel_size : optional
        How ``source`` is read (see :func:`ptyevidence.readers.open_source`).

    Returns
    -------
    FrameSample

    Raises
    ------
    InputError
        If the file has no readable 3-D stack, or its layout is ambiguous under ``auto``.
    """
    from ..contract.binding import bind
    from ..exceptions import InputError
    from ..readers.layout import read_frames
    from ..readers.registry import default_contract_for, open_source

    path = os.fspath(source)
    reading = (reader, positions_from, geometry, sample_pixel_size)
    with open_source(path, *reading) as src:
        binding = bind(contract or default_contract_for(path, *reading), src, layout)
        stack = (binding.contract.layout or {}).get("field")
        bound = binding.fields.get(stack) if stack else None
        if bound is None or binding.layout is None or len(bound.shape) != 3 or not bound.readable:
            msg = f"'{path}' holds no readable 3-D diffraction stack to show"
            raise InputError(msg, path)
        n = bound.shape[0]
        indices = shown_frame_indices(n, count)
        frames = read_frames(src, bound.key, indices, binding.layout).astype(np.float64)
        stride = max(1, math.ceil(n / mean_frames))
        chosen = np.arange(0, n, stride)
        total = np.zeros(bound.shape[1:], np.float64)
        for start in range(0, chosen.size, _MEAN_BATCH):
            block = read_frames(src, bound.key, chosen[start : start + _MEAN_BATCH], binding.layout)
            total += block.sum(axis=0, dtype=np.float64)
    return FrameSample(bound.key, int(n), indices, frames, total / chosen.size, int(chosen.size), stride)
