"""Coverage reports of a dataset file: what ``ptyevidence coverage`` prints and plots.

:func:`scan_report` (a scan alone), :func:`subset_report` (a fixture's or a
sidecar's subset, with optional thresholds) and :func:`strategies_report` (each
fixture strategy) measure the positions, optionally write their figures (PNG and
SVG, atomically; existing files need ``force``) and return a report with
``to_dict()`` and ``to_text()``.

Examples
--------
>>> import numpy as np, os, tempfile
>>> folder = tempfile.mkdtemp()
>>> path = os.path.join(folder, "scan.npz")
>>> gx, gy = np.meshgrid(np.arange(4.0), np.arange(4.0))
>>> np.savez(path, xcoords=gx.ravel(), ycoords=gy.ravel())
>>> report = strategies_report(path, subset_size=4)
>>> [name for name in report.to_dict()["strategies"]]
['stratified-index', 'grid', 'farthest-point']
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._format import aligned_rows, number_text
from .judge import BEST_CRITERION, best_strategy, coverage_lines, unit_label
from .matching import PathLike, ScanPositions, Subset, match_subset, read_positions, subset_from_sidecar

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .metrics import CoverageMetrics, ScanStats

__all__ = [
    "DEFAULT_COMPARE_SIZE",
    "ScanReport",
    "StrategiesReport",
    "SubsetReport",
    "scan_report",
    "strategies_report",
    "subset_report",
]

#: Subset size of :func:`strategies_report` when none is given.
DEFAULT_COMPARE_SIZE = 64
#: File stems written into the plot folder (each as ``.png`` and ``.svg``).
PLOT_SCAN = "scan_coverage"
PLOT_OCCUPANCY = "occupancy"
PLOT_STRATEGIES = "strategy_comparison"
#: Columns of the strategy table, by metric name.
TABLE_METRICS = (
    "x_range_ratio",
    "y_range_ratio",
    "occupancy",
    "occupancy_ceiling",
    "hull_area_ratio",
    "largest_gap",
    "subset_nn_median",
    "source_nn_median",
)


@dataclass(frozen=True, eq=False)
class _Report:
    """What the three reports share: the scan, the figures written, the probe diameter used."""

    source: ScanPositions
    plots: list[str] = field(default_factory=list, kw_only=True)
    probe: dict[str, Any] | None = field(default=None, kw_only=True)
    ok = True

    def _source_dict(self) -> dict[str, Any]:
        out = {"source": self.source.path, "format": self.source.format, "units": self.source.units}
        return {**out, "geometry": self.source.geometry} if self.source.geometry else out

    def _text(self, head: str, *body: str) -> str:
        """Join the head, the CXI conversion, the probe diameter, the body and the files written."""
        units, probe = self.source.units, self.probe
        if probe is None:
            probe_line = "probe diameter: none (no probe in object pixels in the file; give one for the overlap)"
        else:
            how = "given" if probe["from"] == "given" else f"measured: {probe['definition']}"
            probe_line = f"probe diameter {probe['diameter']:.4g} {unit_label(units)} ({how})"
        lines = [head, *([self.source.geometry] if self.source.geometry else []), probe_line, "", *body]
        if self.plots:
            lines += ["", *(f"wrote {p}" for p in self.plots)]
        return "\n".join(lines)


@dataclass(frozen=True, eq=False)
class ScanReport(_Report):
    """Extent and spacing of one scan (no subset).

    Attributes
    ----------
    stats : ScanStats
        The scan's statistics.
    source, plots, probe
        The scan, the figure files written, and the probe diameter used with how it was found.
    """

    stats: ScanStats

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data."""
        return {**self._source_dict(), "scan": self.stats.to_dict(), "probe": self.probe, "plots": self.plots}

    def to_text(self) -> str:
        """Return the report as aligned plain text."""
        rows = [["statistic", "value"], *([k, number_text(v)] for k, v in self.stats.to_dict().items())]
        head = f"{self.source.path}: scan positions in {self.source.units} (no subset given)"
        return self._text(head, *aligned_rows(rows, "lr"))


@dataclass(frozen=True, eq=False)
class SubsetReport(_Report):
    """Coverage of a subset of a scan, with the threshold checks asked for.

    Attributes
    ----------
    subset : Subset
        The subset's source indices and where they came from.
    metrics : CoverageMetrics
        Its coverage.
    checks : list of dict
        One per threshold: ``metric``, ``value``, ``criterion``, ``threshold``, ``ok``.
    source, plots, probe
        The scan, the figure files written, and the probe diameter used with how it was found.
    """

    subset: Subset
    metrics: CoverageMetrics
    checks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every threshold check passed (or none was asked for)."""
        return all(c["ok"] for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data."""
        s = self.subset
        return {
            **self._source_dict(),
            "subset": {
                "path": s.path,
                "indices_from": s.origin,
                "sidecar": s.sidecar,
                "n_positions": int(s.indices.size),
            },
            "metrics": _metrics_dict(self.metrics),
            "probe": self.probe,
            "checks": self.checks,
            "ok": self.ok,
            "plots": self.plots,
        }

    def to_text(self) -> str:
        """Return the report as aligned plain text, then PASS/FAIL per check."""
        s = self.subset
        how = f"indices from '{s.sidecar}'" if s.origin == "sidecar" else "indices by exact position match"
        metrics = _metrics_dict(self.metrics)
        head = (
            f"{s.path}: {s.indices.size} of {metrics['n_source']} positions of "
            f"{self.source.path} ({how}); lengths in {self.source.units}"
        )
        checks = [
            f"{'PASS' if c['ok'] else 'FAIL'}  {c['metric']} {number_text(c['value'])} "
            f"(must be {c['criterion']} {c['threshold']:g})"
            for c in self.checks
        ]
        return self._text(
            head,
            *aligned_rows([["metric", "value"], *([k, number_text(v)] for k, v in metrics.items())], "lr"),
            "",
            *coverage_lines(self.metrics, self.source.units),
            *([""] if checks else []),
            *checks,
        )


@dataclass(frozen=True, eq=False)
class StrategiesReport(_Report):
    """Coverage of the subset each strategy picks, all on the same occupancy cells.

    Attributes
    ----------
    subset_size, seed : int
        Positions per subset, and the seed given to every strategy.
    probe_diameter : float or None
        Probe diameter of the overlap ratios, if given.
    rows : list of (str, CoverageMetrics)
        One entry per strategy.
    source, plots, probe
        The scan, the figure files written, and the probe diameter used with how it was found.
    """

    subset_size: int
    seed: int
    probe_diameter: float | None
    rows: list[tuple[str, CoverageMetrics]]

    @property
    def best(self) -> str:
        """The strategy with the best coverage, by :data:`~ptyevidence.coverage.judge.BEST_CRITERION`."""
        return best_strategy(self.rows)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data (``strategies.<name>.<metric>``)."""
        return {
            **self._source_dict(),
            "n_positions": int(self.source.x.size),
            "subset_size": self.subset_size,
            "seed": self.seed,
            "cell_size": self.rows[0][1].cell_size,
            "probe_diameter": self.probe_diameter,
            "probe": self.probe,
            "best_strategy": self.best,
            "best_criterion": BEST_CRITERION,
            "strategies": {name: _metrics_dict(m) for name, m in self.rows},
            "plots": self.plots,
        }

    def to_text(self) -> str:
        """Return a header line and one aligned row per strategy."""
        columns = ["strategy", *TABLE_METRICS]
        if self.probe_diameter is not None:
            columns.append("overlap_ratio")
        table = self.to_dict()["strategies"]
        body = [[name, *(number_text(m[c]) for c in columns[1:])] for name, m in table.items()]
        head = (
            f"{self.source.path}: {self.source.x.size} positions; subsets of "
            f"{self.subset_size}, seed {self.seed}, occupancy cells "
            f"{self.rows[0][1].cell_size:.4g} {unit_label(self.source.units)}"
        )
        return self._text(
            head, *aligned_rows([columns, *body], "lr"), "", f"best coverage: {self.best} ({BEST_CRITERION})"
        )


def scan_report(
    source: PathLike,
    probe_diameter: float | None = None,
    plot_dir: PathLike | None = None,
    force: bool = False,
) -> ScanReport:
    """Describe the extent and spacing of a scan, and optionally plot it.

    Parameters
    ----------
    source : str or path
        The scan (NPZ or CXI).
    probe_diameter : float, optional
        Probe diameter in position units; default measured from the file's probe, if any.
    plot_dir : str or path, optional
        Folder (created if missing, its parent must exist) for ``scan_coverage.png/.svg``.
    force : bool
        Overwrite existing figures.

    Returns
    -------
    ScanReport
        The statistics (:func:`~ptyevidence.coverage.describe_scan`) and the files written.

    Raises
    ------
    InputError
        If the positions cannot be read or used.
    UsageError
        If ``plot_dir`` cannot be used, or a figure exists and ``force`` is False.
    """
    from .metrics import describe_scan

    stems = _plot_stems(plot_dir, [PLOT_SCAN], force, [source])
    positions = read_positions(source)
    diameter, probe, _ = _from_file(source, probe_diameter, positions.units, drawn=False)
    stats = describe_scan(positions.x, positions.y, diameter)

    def draw() -> list[Figure]:
        from .plots import plot_scan_coverage

        return [
            plot_scan_coverage(
                positions.x, positions.y, None, title=os.path.basename(positions.path), units=positions.units
            )
        ]

    return ScanReport(positions, stats, plots=_save_plots(stems, draw, force, [source]), probe=probe)


def subset_report(
    source: PathLike,
    fixture: PathLike | None = None,
    sidecar: PathLike | None = None,
    cell_size: float | None = None,
    probe_diameter: float | None = None,
    min_range_ratio: float | None = None,
    min_occupancy: float | None = None,
    plot_dir: PathLike | None = None,
    force: bool = False,
) -> SubsetReport:
    """Measure the coverage of a fixture's (or a sidecar's) subset of a scan.

    Parameters
    ----------
    source : str or path
        The scan the subset was cut from.
    fixture : str or path, optional
        A fixture; its indices as :func:`~ptyevidence.coverage.match_subset` finds them.
    sidecar : str or path, optional
        A fixture sidecar whose ``indices`` select the subset (instead of ``fixture``).
    cell_size : float, optional
        Occupancy cell edge; default :func:`~ptyevidence.coverage.default_cell_size`.
    probe_diameter : float, optional
        Probe diameter in position units; default measured from the source's probe.
    min_range_ratio : float, optional
        Check that the x and y range ratios exceed this.
    min_occupancy : float, optional
        Check that the occupancy is at least this.
    plot_dir : str or path, optional
        Folder for ``scan_coverage`` and ``occupancy`` (PNG and SVG).
    force : bool
        Overwrite existing figures.

    Returns
    -------
    SubsetReport
        Metrics, checks (``.ok`` is False when one failed) and the files written.

    Raises
    ------
    InputError
        If a file cannot be used or the subset does not belong to the source.
    UsageError
        If not exactly one of ``fixture`` and ``sidecar`` is given, or the plots cannot be written.
    """
    from ..exceptions import UsageError
    from .metrics import occupancy_grid, scan_coverage

    if (fixture is None) == (sidecar is None):
        msg = "give one of fixture (a fixture file) and sidecar (its JSON sidecar)"
        raise UsageError(msg)
    inputs = [p for p in (source, fixture, sidecar) if p is not None]
    stems = _plot_stems(plot_dir, [PLOT_SCAN, PLOT_OCCUPANCY], force, inputs)
    positions = read_positions(source)
    if sidecar is not None:
        subset = subset_from_sidecar(positions, sidecar)
    else:
        subset = match_subset(positions, fixture)
    diameter, probe, background = _from_file(source, probe_diameter, positions.units, bool(stems))
    metrics = scan_coverage(positions.x, positions.y, subset.indices, cell_size, diameter)
    checks = _threshold_checks(metrics, min_range_ratio, min_occupancy)

    def draw() -> list[Figure]:
        from .plots import plot_occupancy, plot_scan_coverage

        x, y, idx, units = positions.x, positions.y, subset.indices, positions.units
        title = f"{os.path.basename(subset.path)} in {os.path.basename(positions.path)}"
        grid = occupancy_grid(x, y, idx, metrics.cell_size)
        return [
            plot_scan_coverage(x, y, idx, metrics, title, units, background=background, probe_diameter=diameter),
            plot_occupancy(grid, metrics, x[idx], y[idx], units=units),
        ]

    plots = _save_plots(stems, draw, force, inputs)
    return SubsetReport(positions, subset, metrics, checks, plots=plots, probe=probe)


def strategies_report(
    source: PathLike,
    subset_size: int = DEFAULT_COMPARE_SIZE,
    seed: int = 0,
    cell_size: float | None = None,
    probe_diameter: float | None = None,
    plot_dir: PathLike | None = None,
    force: bool = False,
) -> StrategiesReport:
    """Measure the subset of ``subset_size`` positions that each fixture strategy picks.

    Parameters
    ----------
    source : str or path
        The scan.
    subset_size : int
        Positions per subset, 1 to the scan's number of positions.
    seed : int
        Seed of the farthest-point start.
    cell_size : float, optional
        Occupancy cell edge, shared by every strategy.
    probe_diameter : float, optional
        Probe diameter in position units; default measured from the source's probe.
    plot_dir : str or path, optional
        Folder for ``strategy_comparison`` (PNG and SVG).
    force : bool
        Overwrite existing figures.

    Returns
    -------
    StrategiesReport
        One row of metrics per strategy and the files written.

    Raises
    ------
    InputError
        If the positions cannot be read or used.
    UsageError
        If ``subset_size`` is out of range, or the plots cannot be written.
    """
    from .metrics import compare_subsets, select_strategy_subsets

    stems = _plot_stems(plot_dir, [PLOT_STRATEGIES], force, [source])
    positions = read_positions(source)
    subsets = select_strategy_subsets(positions.x, positions.y, subset_size, seed)
    diameter, probe, background = _from_file(source, probe_diameter, positions.units, bool(stems))
    rows = compare_subsets(positions.x, positions.y, subsets, cell_size, diameter)

    def draw() -> list[Figure]:
        from .plots import plot_strategy_comparison

        return [plot_strategy_comparison(positions.x, positions.y, subsets, rows, positions.units, background)]

    plots = _save_plots(stems, draw, force, [source])
    return StrategiesReport(positions, subset_size, seed, diameter, rows, plots=plots, probe=probe)


# -- helpers -------------------------------------------------------------------


def _metrics_dict(metrics: CoverageMetrics) -> dict[str, Any]:
    """Return the metrics with their occupancy ceiling (kept out of the sidecar's coverage block)."""
    items = list(metrics.to_dict().items())
    at = [k for k, _ in items].index("occupancy") + 1
    return dict([*items[:at], ("occupancy_ceiling", metrics.occupancy_ceiling), *items[at:]])


def _from_file(
    source: PathLike, given: float | None, units: str, drawn: bool
) -> tuple[float | None, dict[str, Any] | None, Any]:
    """Return the probe diameter (``given``, else the file's), how it was found, and the object's amplitude.

    The object is read only for figures, with positions in object pixels. Positions
    read with ``reader``/``positions_from`` (the CLI passes :class:`ScanPositions`)
    may be of a file that opens only with them: then there is no probe or object.
    """
    import numpy as np

    from ..exceptions import InputError
    from ..readers.registry import open_source
    from .probe import source_probe

    want_object = drawn and units == "object pixels"
    size = obj = None
    if given is None or want_object:
        try:
            src = open_source(os.fspath(source))
        except InputError:
            src = None
        if src is not None:
            with src:
                size = source_probe(src)[1] if given is None else None
                obj = src.read("objectGuess") if want_object and "objectGuess" in src else None
    background = np.abs(obj) if obj is not None and obj.ndim == 2 else None
    if given is not None:
        return given, {"diameter": float(given), "from": "given"}, background
    if size is None:
        return None, None, background
    return size.diameter, {**size.to_dict(), "from": "probe"}, background


def _threshold_checks(
    metrics: CoverageMetrics, min_range_ratio: float | None, min_occupancy: float | None
) -> list[dict[str, Any]]:
    """Evaluate the thresholds, with the same criteria as ``fixture verify``."""
    wanted = [] if min_range_ratio is None else [(f"{a}_range_ratio", ">", min_range_ratio) for a in "xy"]
    if min_occupancy is not None:
        wanted.append(("occupancy", ">=", min_occupancy))
    checks = []
    for metric, criterion, threshold in wanted:
        value = getattr(metrics, metric)
        ok = value > threshold if criterion == ">" else value >= threshold
        checks.append({"metric": metric, "value": value, "criterion": criterion, "threshold": threshold, "ok": ok})
    return checks


def _plot_stems(plot_dir: PathLike | None, names: Sequence[str], force: bool, inputs: Sequence[PathLike]) -> list[str]:
    """Output stems in ``plot_dir``; refuse before any work if one cannot be written."""
    from ..exceptions import UsageError

    if plot_dir is None:
        return []
    plot_dir = os.fspath(plot_dir)
    if os.path.exists(plot_dir) and not os.path.isdir(plot_dir):
        msg = f"plot_dir '{plot_dir}' is a file; give a folder"
        raise UsageError(msg)
    parent = os.path.dirname(os.path.abspath(plot_dir))
    if not os.path.isdir(parent):
        msg = f"plot_dir '{plot_dir}': its parent folder '{parent}' does not exist; create it first"
        raise UsageError(msg)
    stems = [os.path.join(plot_dir, name) for name in names]
    if os.path.isdir(plot_dir):
        _check_stems(stems, force, inputs)
    return stems


def _check_stems(stems: list[str], force: bool, inputs: Sequence[PathLike]) -> None:
    """Every ``STEM.png``/``STEM.svg`` can be written and is none of the inputs."""
    from .._atomic import check_output_path

    for stem in stems:
        for ext in (".png", ".svg"):
            check_output_path(stem + ext, force=force, inputs=[os.fspath(p) for p in inputs])


def _save_plots(
    stems: list[str], draw: Callable[[], list[Figure]], force: bool, inputs: Sequence[PathLike]
) -> list[str]:
    """Draw the figures (only when there is somewhere to put them) and save them; return the paths."""
    if not stems:
        return []
    from .plots import save_figure

    figures = draw()
    os.makedirs(os.path.dirname(stems[0]), exist_ok=True)
    _check_stems(stems, force, inputs)
    return [path for fig, stem in zip(figures, stems) for path in save_figure(fig, stem, force=force)]
