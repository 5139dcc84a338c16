"""The probe diameter: measured from the probe, defined by an amplitude threshold."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ptyevidence.coverage.probe import (
    PROBE_FRACTION,
    measure_probe,
    probe_modes,
    source_probe,
)
from ptyevidence.exceptions import InputError, UsageError
from ptyevidence.readers import ArraySource


def disc(radius: float, side: int = 64, edge: float = 1.5) -> np.ndarray:
    """A soft-edged aperture (amplitude 0.5 at ``radius``), with a phase that must not matter."""
    rows, cols = np.indices((side, side)) - side // 2
    r = np.hypot(rows, cols)
    amplitude = 0.5 * (1.0 - np.tanh((r - radius) / edge))
    return (amplitude * np.exp(1j * 0.3 * r)).astype(np.complex64)


@pytest.mark.parametrize("radius", [6.0, 14.0, 20.0])
def test_a_soft_aperture_measures_its_half_amplitude_diameter(radius):
    size = measure_probe(disc(radius))
    assert size.diameter == pytest.approx(2 * radius, abs=1.0)
    assert size.fraction == PROBE_FRACTION
    assert size.modes == 1
    assert size.diameter == pytest.approx(2 * math.sqrt(size.pixels / math.pi))


def test_the_threshold_moves_the_diameter_and_is_stated():
    low, high = measure_probe(disc(14.0), 0.1), measure_probe(disc(14.0), 0.9)
    assert low.diameter > measure_probe(disc(14.0)).diameter > high.diameter
    assert "at least 0.9 of its maximum" in high.definition
    assert high.to_dict()["definition"] == high.definition


def test_modes_add_incoherently():
    one = disc(10.0)
    # Two equal modes: the summed amplitude has the shape of one, so the same lit pixels.
    both = measure_probe(np.stack([one, one * 1j]))
    assert both.modes == 2
    assert both.pixels == measure_probe(one).pixels
    assert "of 2 modes summed" in both.definition


def test_scale_and_phase_do_not_change_the_diameter():
    probe = disc(12.0)
    assert measure_probe(probe * 1e-6).pixels == measure_probe(np.abs(probe)).pixels == measure_probe(probe).pixels


def test_unusable_probes_and_thresholds_are_refused():
    with pytest.raises(InputError, match="no finite positive amplitude"):
        measure_probe(np.zeros((8, 8)))
    with pytest.raises(InputError, match=r"expected \(H, W\) or \(modes, H, W\)"):
        probe_modes(np.ones(8))
    with pytest.raises(InputError, match="expected complex"):
        measure_probe(np.zeros((8, 8), [("amplitude", "f4"), ("phase", "f4")]))
    with pytest.raises(UsageError, match="between 0 and 1"):
        measure_probe(disc(5.0), fraction=1.0)


def test_source_probe_needs_object_pixel_positions():
    probe = disc(8.0, side=32)
    arrays = {"probeGuess": probe, "xcoords": np.zeros(3), "ycoords": np.zeros(3)}
    read, size = source_probe(ArraySource(arrays, "scan.npz"))
    assert read.shape == (1, 32, 32)
    assert size.diameter == pytest.approx(measure_probe(probe).diameter)
    metres = ArraySource(arrays, "scan.cxi")
    metres.position_units = "m"
    assert source_probe(metres)[1] is None
    assert source_probe(ArraySource({"xcoords": np.zeros(3)}, "scan.npz")) == (None, None)
