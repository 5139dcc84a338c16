"""The probe's size, measured from the probe a dataset file holds.

:func:`measure_probe` defines it once: the diameter of the disc whose area is
the number of probe pixels with amplitude at least :data:`PROBE_FRACTION` of the
maximum (several modes: of ``sqrt(sum |P_m|^2)``). For a soft-edged aperture this
is the diameter at half amplitude. Probe pixels are object pixels in DATA-001, so
the diameter is in position units when those are object pixels.

Examples
--------
>>> import numpy as np
>>> rows, cols = np.indices((64, 64)) - 32
>>> disc = (np.hypot(rows, cols) < 10).astype(np.complex64)
>>> size = measure_probe(disc)
>>> round(size.diameter, 1), size.pixels, size.modes
(19.7, 305, 1)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..exceptions import InputError, UsageError

__all__ = ["PROBE_FRACTION", "PROBE_KEY", "ProbeSize", "measure_probe", "probe_modes", "source_probe"]

#: Amplitude, as a fraction of its maximum, above which a probe pixel counts as lit.
PROBE_FRACTION = 0.5
#: Key under which readers present the probe.
PROBE_KEY = "probeGuess"
#: Units in which a probe pixel is a position unit.
PIXEL_UNITS = "object pixels"


@dataclass(frozen=True)
class ProbeSize:
    """The measured size of a probe.

    Attributes
    ----------
    diameter : float
        Equivalent-disc diameter of the lit pixels, in probe (object) pixels.
    fraction : float
        Amplitude threshold, as a fraction of the maximum amplitude.
    pixels : int
        Probe pixels at or above the threshold.
    modes : int
        Probe modes summed.
    """

    diameter: float
    fraction: float
    pixels: int
    modes: int

    @property
    def definition(self) -> str:
        """How the diameter was measured, in one phrase."""
        modes = f" of {self.modes} modes summed" if self.modes > 1 else ""
        return (
            f"diameter of the disc with the area of the probe pixels whose amplitude{modes} "
            f"is at least {self.fraction:g} of its maximum"
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the size as JSON-ready data, with its :attr:`definition`."""
        return {**asdict(self), "definition": self.definition}


def probe_modes(probe: Any) -> np.ndarray:
    """Return a probe as ``(modes, H, W)``: a 2-D probe is one mode.

    Raises
    ------
    InputError
        If the array is not 2-D or 3-D, or not numbers (records, text, objects).

    Examples
    --------
    >>> probe_modes(np.ones((4, 4))).shape, probe_modes(np.ones((2, 4, 4))).shape
    ((1, 4, 4), (2, 4, 4))
    """
    arr = np.asarray(probe)
    if arr.dtype.kind not in "biufc":
        msg = f"probe has dtype {arr.dtype}; expected complex (or real) numbers"
        raise InputError(msg)
    if arr.ndim in (2, 3):
        return arr.reshape(-1, *arr.shape[-2:])
    msg = f"probe has shape {arr.shape}; expected (H, W) or (modes, H, W)"
    raise InputError(msg)


def measure_probe(probe: Any, fraction: float = PROBE_FRACTION) -> ProbeSize:
    """Measure the diameter of a probe (see the module docstring for the definition).

    Parameters
    ----------
    probe : array_like
        ``(H, W)`` or ``(modes, H, W)`` complex (or real) probe.
    fraction : float
        Amplitude threshold as a fraction of the maximum, in ``(0, 1)``.

    Returns
    -------
    ProbeSize

    Raises
    ------
    UsageError
        If ``fraction`` is not in ``(0, 1)``.
    InputError
        If the probe has no finite positive amplitude.
    """
    if not 0 < fraction < 1:
        msg = f"fraction = {fraction!r}; give the amplitude threshold as a number between 0 and 1"
        raise UsageError(msg)
    modes = probe_modes(probe)
    amplitude = np.sqrt(np.sum(np.abs(modes.astype(np.complex128)) ** 2, axis=0))
    peak = float(np.max(amplitude, initial=0.0, where=np.isfinite(amplitude)))
    if not peak > 0:
        msg = "the probe has no finite positive amplitude; its diameter cannot be measured"
        raise InputError(msg)
    lit = int(np.count_nonzero(amplitude >= fraction * peak))
    return ProbeSize(2.0 * math.sqrt(lit / math.pi), float(fraction), lit, int(modes.shape[0]))


def source_probe(source: Any) -> tuple[np.ndarray | None, ProbeSize | None]:
    """Read the probe of an open source and measure it.

    Parameters
    ----------
    source : Source
        An open reader (:func:`ptyevidence.open_source`).

    Returns
    -------
    probe : numpy.ndarray or None
        ``(modes, H, W)``; None when the file holds no probe.
    size : ProbeSize or None
        Its size; None without a measurable probe or with positions not in object pixels.
    """
    if PROBE_KEY not in source:
        return None, None
    try:
        probe = probe_modes(source.read(PROBE_KEY))
        size = measure_probe(probe)
    except InputError:
        return None, None
    return probe, size if source.position_units == PIXEL_UNITS else None
