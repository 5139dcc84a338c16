"""What coverage metrics say about a subset: against its ceiling, the reference, the other strategies.

Kept apart, as they answer different questions: the *reference criterion*
(:func:`meets_reference`, x and y ranges above a fraction of the source's: two
far corners meet it); the *ceiling* (``n`` positions occupy at most ``n`` cells);
the *best coverage* (:func:`best_strategy`, by :data:`BEST_CRITERION`).

Examples
--------
>>> import numpy as np
>>> from ptyevidence.coverage import compare_strategies
>>> gx, gy = np.meshgrid(np.arange(8.0), np.arange(8.0))
>>> rows = compare_strategies(gx.ravel(), gy.ravel(), 16)
>>> best_strategy(rows)
'grid'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .metrics import CoverageMetrics

__all__ = [
    "BEST_CRITERION",
    "best_strategy",
    "coverage_lines",
    "meets_reference",
    "reference_criterion",
    "reference_thresholds",
    "unit_label",
]

#: How :func:`best_strategy` ranks subsets, in words.
BEST_CRITERION = (
    "smallest largest gap (the distance from the worst-served source position to the "
    "subset), ties to the higher occupancy"
)


def unit_label(units: str) -> str:
    """Return the short form of a position unit (``px`` for object pixels).

    Examples
    --------
    >>> unit_label("object pixels"), unit_label("m")
    ('px', 'm')
    """
    return "px" if units == "object pixels" else units


def reference_criterion(min_range_ratio: float | None = None) -> str:
    """Return the reference criterion in words (default thresholds: :func:`reference_thresholds`).

    Examples
    --------
    >>> reference_criterion()
    'x and y range ratios > 0.5'
    """
    tx, ty = reference_thresholds(min_range_ratio)
    if tx == ty:
        return f"x and y range ratios > {tx:g}"
    return f"x range ratio > {tx:g}, y range ratio > {ty:g}"


def meets_reference(metrics: CoverageMetrics, min_range_ratio: float | None = None) -> bool:
    """Return True when both range ratios exceed the reference thresholds (as ``fixture verify`` checks)."""
    tx, ty = reference_thresholds(min_range_ratio)
    return metrics.x_range_ratio > tx and metrics.y_range_ratio > ty


def reference_thresholds(min_range_ratio: float | None = None) -> tuple[float, float]:
    """Return the x and y range-ratio thresholds: ``min_range_ratio`` for both, or the acceptance contract's.

    The ``fixture-acceptance`` contract holds the rule, so coverage and ``fixture verify`` read the same one.

    Examples
    --------
    >>> reference_thresholds(), reference_thresholds(0.3)
    ((0.5, 0.5), (0.3, 0.3))
    """
    if min_range_ratio is not None:
        return float(min_range_ratio), float(min_range_ratio)
    from ..fixture.verdict import acceptance_threshold

    return acceptance_threshold("coverage.x_range_ratio"), acceptance_threshold("coverage.y_range_ratio")


def best_strategy(comparison: Sequence[tuple[str, CoverageMetrics]]) -> str:
    """Return the name of the subset with the best coverage by :data:`BEST_CRITERION`.

    Parameters
    ----------
    comparison : sequence of (str, CoverageMetrics)
        Subsets of one scan measured on the same cells
        (:func:`~ptyevidence.coverage.compare_subsets`); the first wins a full tie.

    Returns
    -------
    str
    """
    return min(comparison, key=lambda row: (row[1].largest_gap, -row[1].occupancy))[0]


def coverage_lines(metrics: CoverageMetrics, units: str = "object pixels") -> list[str]:
    r"""Return what the metrics of one subset mean, one statement per line.

    The reference criterion, occupancy against its ceiling, the largest gap and the probes' overlap.

    Examples
    --------
    >>> import numpy as np
    >>> from ptyevidence.coverage import scan_coverage
    >>> gx, gy = np.meshgrid(np.arange(4.0), np.arange(4.0))
    >>> m = scan_coverage(gx.ravel(), gy.ravel(), [0, 3, 12, 15], cell_size=1.0, probe_diameter=2.0)
    >>> print("\n".join(coverage_lines(m)))
    reference criterion (x and y range ratios > 0.5): met (x 1.000, y 1.000)
    occupancy 0.25 of at most 0.25 (4 positions on 16 occupied 1-px cells)
    largest gap 1.41 px = 0.71 probe diameters (2 px)
    overlap of neighbouring probes: 0 in the subset, 0.5 in the scan
    """
    u, m = unit_label(units), metrics
    met = "met" if meets_reference(m) else "NOT met"
    cells = f"{m.n_subset} positions on {m.n_source_cells} occupied {m.cell_size:.3g}-{u} cells"
    lines = [
        f"reference criterion ({reference_criterion()}): {met} (x {m.x_range_ratio:.3f}, y {m.y_range_ratio:.3f})",
        f"occupancy {m.occupancy:.2f} of at most {m.occupancy_ceiling:.2f} ({cells})",
        f"largest gap {m.largest_gap:.3g} {u}",
    ]
    if m.probe_diameter:
        lines[-1] += f" = {m.largest_gap / m.probe_diameter:.2f} probe diameters ({m.probe_diameter:.3g} {u})"
        overlap = f"{m.overlap_ratio:.2g} in the subset, {m.source_overlap_ratio:.2g} in the scan"
        lines.append(f"overlap of neighbouring probes: {overlap}")
    return lines
