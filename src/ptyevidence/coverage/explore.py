"""Explore scan coverage interactively: pick a subset, see it over the object, read its metrics.

:meth:`CoverageExplorer.update` is the callback (a subset choice in, its
metrics, every strategy's and the figure out); :meth:`CoverageExplorer.widget`
wires it to ipywidgets controls (imported only there) for the coverage notebook.

Examples
--------
>>> import numpy as np
>>> gy, gx = np.divmod(np.arange(100), 10)
>>> explorer = CoverageExplorer(gx * 2.0, gy * 2.0, probe_diameter=5.0)
>>> view = explorer.update(16, "grid", 0)
>>> view.metrics.n_subset, view.best
(16, 'grid')
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .judge import BEST_CRITERION, best_strategy, coverage_lines, unit_label

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .metrics import CoverageMetrics

__all__ = ["CoverageExplorer", "ExplorerView"]

# Resolution of the figure in the widget: legible on a laptop screen, quick to redraw.
_WIDGET_DPI = 90


@dataclass(frozen=True, eq=False)
class ExplorerView:
    """One state of the explorer: a subset choice, its coverage and figure.

    Attributes
    ----------
    subset_size, strategy, seed : int, str, int
        The choice.
    probe_diameter : float or None
        Footprint diameter (None: no footprints, no overlap).
    indices : numpy.ndarray
        ``(n,)`` source indices the strategy picks.
    metrics : CoverageMetrics
        Their coverage.
    comparison : list of (str, CoverageMetrics)
        Every strategy at this size and seed, on the same cells.
    figure : matplotlib.figure.Figure
        The positions over the object, with footprints.
    units : str
        Unit of the positions.
    """

    subset_size: int
    strategy: str
    seed: int
    probe_diameter: float | None
    indices: np.ndarray
    metrics: CoverageMetrics
    comparison: list[tuple[str, CoverageMetrics]]
    figure: Figure
    units: str

    @property
    def best(self) -> str:
        """The strategy with the best coverage at this size (:data:`~ptyevidence.coverage.judge.BEST_CRITERION`)."""
        return best_strategy(self.comparison)

    def to_text(self) -> str:
        """Return the coverage statements, then one line per strategy."""
        u = unit_label(self.units)
        lines = coverage_lines(self.metrics, self.units)
        for name, m in self.comparison:
            mark = "  <- best coverage" if name == self.best else ""
            lines.append(
                f"{name:17} occupancy {m.occupancy:.2f} of at most {m.occupancy_ceiling:.2f}, "
                f"largest gap {m.largest_gap:.3g} {u}{mark}"
            )
        return "\n".join(lines)

    def to_html(self) -> str:
        """Return :meth:`to_text` as an HTML block (for the widget)."""
        body = html.escape(self.to_text())
        return (
            f"<pre style='font-size: 0.95em; line-height: 1.35'>{body}</pre>"
            f"<p style='font-size: 0.9em'>best coverage: {html.escape(BEST_CRITERION)}</p>"
        )


class CoverageExplorer:
    """The callbacks behind the coverage notebook's controls.

    Parameters
    ----------
    x, y : numpy.ndarray
        ``(N,)`` source positions (x columns, y rows).
    units : str
        Unit of the positions.
    background : numpy.ndarray, optional
        Image under the positions (the object's amplitude, in object pixels).
    probe_diameter : float, optional
        Default footprint diameter (the measured one).
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        units: str = "object pixels",
        background: np.ndarray | None = None,
        probe_diameter: float | None = None,
    ) -> None:
        from .metrics import _check_positions

        self.x, self.y = _check_positions(x, y)
        self.units = units
        self.background = background
        self.probe_diameter = probe_diameter

    @classmethod
    def from_scene(cls, scene: Any) -> CoverageExplorer:
        """Build the explorer of a :class:`ptyevidence.view.Scene` (object drawn when it fits)."""
        background = np.abs(scene.object) if scene.on_object else None
        return cls(scene.x, scene.y, scene.units, background, scene.probe_diameter)

    def update(
        self, subset_size: int, strategy: str, seed: int = 0, probe_diameter: float | None = None
    ) -> ExplorerView:
        """Choose the subset, measure it against every strategy and draw it.

        Parameters
        ----------
        subset_size : int
            Positions in the subset, 1 to N.
        strategy : {"stratified-index", "grid", "farthest-point"}
            How they are chosen.
        seed : int
            Seed of the farthest-point start.
        probe_diameter : float, optional
            Footprint diameter; None: the explorer's default; 0: none.

        Returns
        -------
        ExplorerView

        Raises
        ------
        UsageError
            If the size, strategy or seed is out of range (named as the parameter).
        """
        from ..fixture.strategies import check_subset_choice
        from .metrics import compare_subsets, select_strategy_subsets
        from .plots import plot_scan_coverage

        subset_size, strategy, seed = check_subset_choice(subset_size, strategy, seed, n_source=self.x.size)
        diameter = self.probe_diameter if probe_diameter is None else (float(probe_diameter) or None)
        subsets = select_strategy_subsets(self.x, self.y, subset_size, seed)
        comparison = compare_subsets(self.x, self.y, subsets, probe_diameter=diameter)
        indices, metrics, title = subsets[strategy], dict(comparison)[strategy], f"{strategy}, seed {seed}"
        figure = plot_scan_coverage(self.x, self.y, indices, metrics, title, self.units, self.background, diameter)
        return ExplorerView(subset_size, strategy, seed, diameter, indices, metrics, comparison, figure, self.units)

    def widget(
        self,
        subset_size: int = 64,
        strategy: str = "stratified-index",
        seed: int = 0,
        strategies: Sequence[str] | None = None,
    ) -> Any:
        """Return ipywidgets controls (subset size, strategy, seed, probe diameter) with a live view.

        Every change re-runs :meth:`update`; a choice out of range shows its message instead.

        Returns
        -------
        ipywidgets.VBox
            Attributes ``controls`` (dict of the four controls by parameter
            name), ``image`` and ``report`` (the live outputs) and ``view``
            (the last :class:`ExplorerView`, or None after an error).
        """
        import ipywidgets as w

        from ..exceptions import UsageError
        from ..fixture.strategies import STRATEGIES
        from .plots import figure_png

        n = self.x.size
        u = unit_label(self.units)
        default_d = self.probe_diameter or 0.0
        controls = {
            "subset_size": w.IntSlider(
                value=min(subset_size, n), min=1, max=n, description="subset size", continuous_update=False
            ),
            "strategy": w.Dropdown(options=list(strategies or STRATEGIES), value=strategy, description="strategy"),
            "seed": w.BoundedIntText(value=seed, min=0, max=2**31 - 1, description="seed"),
            "probe_diameter": w.FloatSlider(
                value=default_d,
                min=0.0,
                max=max(4 * default_d, 1.0),
                step=0.5,
                description=f"probe ⌀ ({u})",
                continuous_update=False,
            ),
        }
        for control in controls.values():
            control.style.description_width = "7em"
        image = w.Image(format="png", layout=w.Layout(max_width="100%"))
        report = w.HTML()
        box = w.VBox([w.HBox(list(controls.values())[:2]), w.HBox(list(controls.values())[2:]), report, image])
        box.controls, box.image, box.report, box.view = controls, image, report, None

        def refresh(_change: Any = None) -> None:
            values = {name: control.value for name, control in controls.items()}
            try:
                view = self.update(**values)
            except UsageError as exc:
                box.view = None
                report.value = f"<p style='color: #a00'>{html.escape(str(exc))}</p>"
                return
            box.view = view
            image.value = figure_png(view.figure, dpi=_WIDGET_DPI)
            report.value = view.to_html()

        for control in controls.values():
            control.observe(refresh, names="value")
        refresh()
        return box
