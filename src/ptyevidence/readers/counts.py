"""Photon counts as normalized amplitude: the one conversion every counts reader applies.

Beamline files (CXI), ptychodus files and their PtychoPINN export store
photon counts; DATA-001 stores ``sqrt(counts) * scale`` with ``scale = 1 /
sqrt(max count)`` over the whole file, bad pixels and non-finite counts set
to 0. :func:`summarize_counts` finds the scale in one streamed pass,
:func:`counts_to_amplitude` applies it, :func:`counts_notes` says what was done.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .._progress import progress_bar
from .base import ArrayInfo

__all__ = ["IntensitySummary", "counts_notes", "counts_to_amplitude", "summarize_counts"]


def counts_to_amplitude(counts: np.ndarray, bad_pixels: np.ndarray | None, scale: float) -> np.ndarray:
    """Convert photon counts to normalized amplitude: ``sqrt(max(counts, 0)) * scale``.

    Non-finite counts and pixels flagged in ``bad_pixels`` become 0.

    Parameters
    ----------
    counts : numpy.ndarray
        ``(n, H, W)`` frames of photon counts, any real dtype.
    bad_pixels : numpy.ndarray or None
        ``(H, W)`` bool, True for pixels to zero in every frame.
    scale : float
        Factor applied to the square root.

    Returns
    -------
    numpy.ndarray
        ``(n, H, W)`` float32 amplitude.

    Examples
    --------
    >>> counts = np.array([[[4, 16], [-1, 9]]])
    >>> counts_to_amplitude(counts, np.array([[False, False], [False, True]]), 0.25).tolist()
    [[[0.5, 1.0], [0.0, 0.0]]]
    """
    values = np.array(counts, dtype=np.float64)
    values[~np.isfinite(values)] = 0.0
    np.maximum(values, 0.0, out=values)
    if bad_pixels is not None:
        values[:, bad_pixels] = 0.0
    np.sqrt(values, out=values)
    values *= scale
    return values.astype(np.float32)


@dataclass(frozen=True)
class IntensitySummary:
    """What one streaming pass over all frames learned, for the amplitude scale.

    Attributes
    ----------
    n_frames : int
        Frames scanned.
    max_count : float
        Largest finite count outside the mask (0 if none).
    n_negative : int
        Finite negative counts outside the mask (clipped to 0).
    n_nonfinite : int
        NaN or infinite counts outside the mask (set to 0).
    """

    n_frames: int
    max_count: float
    n_negative: int
    n_nonfinite: int

    @property
    def scale(self) -> float:
        """Amplitude scale ``1 / sqrt(max_count)`` (1 when every count is 0)."""
        return 1.0 / math.sqrt(self.max_count) if self.max_count > 0 else 1.0


def summarize_counts(
    blocks: Iterable[tuple[int, np.ndarray]],
    info: ArrayInfo,
    bad_pixels: np.ndarray | None,
    progress: bool | None = None,
) -> IntensitySummary:
    """Scan every frame once for the amplitude scale.

    Parameters
    ----------
    blocks : iterable of (int, numpy.ndarray)
        ``(first_index, frames)`` blocks of ``(n, H, W)`` counts covering the stack once.
    info : ArrayInfo
        Header of the stack (its frame count and size for the progress bar).
    bad_pixels : numpy.ndarray or None
        ``(H, W)`` bool, pixels left out of the maximum.
    progress : bool or None
        Progress bar; None shows one on a terminal for long passes.

    Returns
    -------
    IntensitySummary

    Examples
    --------
    >>> frames = np.array([[[4, 16], [-1, 9]]], np.int32)
    >>> info = ArrayInfo("diffraction", frames.dtype, frames.shape, False, False)
    >>> summarize_counts([(0, frames)], info, np.array([[False, True], [False, False]]))
    IntensitySummary(n_frames=1, max_count=9.0, n_negative=1, n_nonfinite=0)
    """
    good = None if bad_pixels is None else ~bad_pixels
    peak, negative, nonfinite = 0.0, 0, 0
    with progress_bar(info.nbytes, "scan counts", progress) as bar:
        for _, frames in blocks:
            values = frames if good is None else frames[:, good]
            if values.dtype.kind == "f":
                finite = np.isfinite(values)
                nonfinite += int(values.size - np.count_nonzero(finite))
                values = values[finite]
            if values.size:
                peak = max(peak, float(values.max()))
                if values.dtype.kind != "u":
                    negative += int(np.count_nonzero(values < 0))
            bar.update(frames.nbytes)
    return IntensitySummary(info.shape[0], peak, negative, nonfinite)


def counts_notes(summary: IntensitySummary, where: str) -> list[str]:
    """Describe the counts-to-amplitude conversion of the stack ``where``, with its values."""
    notes = [
        "diffraction: photon counts -> amplitude = sqrt(max(counts, 0)) * scale (float32)",
        (
            f"scale = 1/sqrt(max count) = {summary.scale:.9g}, max count "
            f"{summary.max_count:.9g} over all {summary.n_frames} frames of "
            f"{where} (bad pixels excluded), so it does not depend on the subset"
        ),
    ]
    if summary.n_negative:
        notes.append(f"{summary.n_negative} negative count values (whole file) clipped to 0")
    if summary.n_nonfinite:
        notes.append(f"{summary.n_nonfinite} NaN/Inf count values (whole file) set to 0")
    return notes
