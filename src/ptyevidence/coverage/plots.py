"""Coverage figures: draw what :mod:`ptyevidence.coverage.metrics` computed.

Matplotlib only, no computation. Figures are built with
:class:`matplotlib.figure.Figure` directly (no pyplot, no global backend
switch), so they render with Agg in scripts and display inline in notebooks.
:func:`save_figure` writes PNG and SVG atomically and reproducibly (no date
in the SVG, fixed SVG ids).

Scans of :data:`LARGE_SCAN_POINTS` positions or more are drawn as a
rasterized hexbin density instead of one marker per position: nothing is
overplotted and the SVG stays small.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._atomic import atomic_output, check_output_path

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .metrics import CoverageMetrics, OccupancyGrid

__all__ = [
    "LARGE_SCAN_POINTS",
    "plot_occupancy",
    "plot_scan_coverage",
    "plot_strategy_comparison",
    "save_figure",
]

#: From this many source positions on, the source is drawn as a hexbin density.
LARGE_SCAN_POINTS = 20_000
#: Resolution of the PNG files, dots per inch.
PNG_DPI = 150

_SOURCE_COLOUR = "#b0b0b0"
_SUBSET_COLOUR = "#c0392b"
_HEX_COLOURS = ("#f0f0f0", "#8c8c8c")
# Occupancy map categories: no source position, missed by the subset, hit.
_CELL_COLOURS = ("#ffffff", "#f5c26b", "#2c7bb6")
_SVG_SALT = "ptyevidence"
_POSITIONS_PER_HEXAGON = 50


def plot_scan_coverage(
    x: np.ndarray,
    y: np.ndarray,
    indices: np.ndarray | None,
    metrics: CoverageMetrics | None = None,
    title: str | None = None,
    units: str = "object pixels",
) -> Figure:
    """Draw the source scan (light) and the subset positions (bold).

    Parameters
    ----------
    x, y : numpy.ndarray
        ``(N,)`` float64 source positions in ``units`` (x is the column axis).
    indices : numpy.ndarray or None
        ``(n,)`` integer source indices of the subset; None draws the
        source scan alone.
    metrics : CoverageMetrics, optional
        Metrics of this subset, summarized in the title.
    title : str, optional
        First title line (default: "Scan coverage").
    units : str
        Unit of the positions, for the axis labels.

    Returns
    -------
    matplotlib.figure.Figure
        One axes with equal aspect, a legend, and for large scans a colour
        bar of the source density.

    Examples
    --------
    >>> import numpy as np
    >>> fig = plot_scan_coverage(np.arange(4.0), np.arange(4.0), [0, 3])
    >>> fig.axes[0].get_xlabel()
    'x (object pixels)'
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.0, 6.4), layout="constrained")
    ax = fig.add_subplot()
    idx = None if indices is None else np.asarray(indices)
    handles, hexbin = _draw_scan(ax, x, y, idx, marker_scale=1.0)
    if hexbin is not None:
        fig.colorbar(hexbin, ax=ax, shrink=0.8, label="source positions per hexagon")
    ax.set_xlabel(f"x ({units})")
    ax.set_ylabel(f"y ({units})")
    heading = title or ("Scan coverage" if idx is not None else "Scan positions")
    count = f"{np.size(x)} positions" if idx is None else f"{idx.size} of {np.size(x)} positions"
    ax.set_title(f"{heading}: {count}"
                 + (f"\n{_metrics_line(metrics, units)}" if metrics else ""))
    fig.legend(handles=handles, loc="outside lower center", ncols=2, frameon=False)
    return fig


def plot_occupancy(
    grid: OccupancyGrid,
    metrics: CoverageMetrics | None = None,
    subset_x: np.ndarray | None = None,
    subset_y: np.ndarray | None = None,
    units: str = "object pixels",
) -> Figure:
    """Draw the occupancy cells: empty, source only (missed), hit by the subset.

    Parameters
    ----------
    grid : OccupancyGrid
        Count maps from :func:`ptyevidence.coverage.metrics.occupancy_grid`.
    metrics : CoverageMetrics, optional
        Metrics of the subset, for the title.
    subset_x, subset_y : numpy.ndarray, optional
        ``(n,)`` subset positions, drawn as dots over the cells.
    units : str
        Unit of the positions, for the axis labels.

    Returns
    -------
    matplotlib.figure.Figure
        One axes with the cell map and a legend with the cell counts.

    Examples
    --------
    >>> import numpy as np
    >>> from ptyevidence.coverage.metrics import occupancy_grid
    >>> fig = plot_occupancy(occupancy_grid(np.arange(4.0), np.zeros(4), [0], 1.0))
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()][0]
    'hit by the subset: 1 cell'
    """
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    # Wide and low: a square map with the legend on its right.
    fig = Figure(figsize=(8.4, 5.4), layout="constrained")
    ax = fig.add_subplot()
    category = np.where(grid.source_counts > 0, 1, 0) + (grid.subset_counts > 0)
    cmap = ListedColormap(_CELL_COLOURS)
    ax.imshow(category, origin="lower", extent=grid.extent, cmap=cmap,
              norm=BoundaryNorm([-0.5, 0.5, 1.5, 2.5], cmap.N), interpolation="nearest")
    rows, cols = category.shape
    if max(rows, cols) <= 60:
        # Cell edges help counting on small grids; on large ones they would be a grey wash.
        left, right, bottom, top = grid.extent
        ax.vlines(left + grid.cell_size * np.arange(cols + 1), bottom, top,
                  colors="0.85", linewidths=0.5)
        ax.hlines(bottom + grid.cell_size * np.arange(rows + 1), left, right,
                  colors="0.85", linewidths=0.5)
    handles = [
        Patch(facecolor=_CELL_COLOURS[2], label=_cells_label("hit by the subset", np.sum(category == 2))),
        Patch(facecolor=_CELL_COLOURS[1], label=_cells_label("source only (missed)", np.sum(category == 1))),
        Patch(facecolor=_CELL_COLOURS[0], edgecolor="0.6", label=_cells_label("no source position", np.sum(category == 0))),
    ]
    if subset_x is not None and subset_y is not None:
        handles.append(ax.scatter(subset_x, subset_y, s=6, c="black", linewidths=0,
                                  rasterized=np.size(subset_x) >= LARGE_SCAN_POINTS,
                                  label="subset positions"))
    ax.set_aspect("equal")
    ax.set_xlabel(f"x ({units})")
    ax.set_ylabel(f"y ({units})")
    occupancy = grid.occupancy if metrics is None else metrics.occupancy
    ax.set_title(f"Occupancy {occupancy:.2f} on {grid.cell_size:.3g}-{_short(units)} cells")
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0),
              frameon=False, fontsize="small")
    return fig


def plot_strategy_comparison(
    x: np.ndarray,
    y: np.ndarray,
    subsets: Mapping[str, np.ndarray],
    comparison: Sequence[tuple[str, CoverageMetrics]],
    units: str = "object pixels",
) -> Figure:
    """Draw one panel per subset strategy, side by side on shared axes.

    Parameters
    ----------
    x, y : numpy.ndarray
        ``(N,)`` float64 source positions in ``units``.
    subsets : mapping of str to numpy.ndarray
        Strategy name to ``(n,)`` source indices
        (:func:`ptyevidence.coverage.metrics.select_strategy_subsets`).
    comparison : sequence of (str, CoverageMetrics)
        Metrics per strategy (:func:`ptyevidence.coverage.metrics.compare_subsets`);
        sets the panel order.
    units : str
        Unit of the positions, for the axis labels.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per strategy, titled with its key metrics, and one legend.

    Examples
    --------
    >>> import numpy as np
    >>> from ptyevidence.coverage.metrics import compare_subsets
    >>> x, y = np.arange(6.0), np.arange(6.0) % 2
    >>> subsets = {"even": np.array([0, 2, 4]), "left": np.array([0, 1, 2])}
    >>> fig = plot_strategy_comparison(x, y, subsets, compare_subsets(x, y, subsets))
    >>> [ax.get_title().splitlines()[0] for ax in fig.axes]
    ['even', 'left']
    """
    from matplotlib.figure import Figure

    k = len(comparison)
    fig = Figure(figsize=(3.6 * k + 0.4, 4.6), layout="constrained")
    axes = fig.subplots(1, k, sharex=True, sharey=True, squeeze=False)[0]
    handles: list[Any] = []
    for ax, (name, metrics) in zip(axes, comparison):
        handles, _ = _draw_scan(ax, x, y, np.asarray(subsets[name]), marker_scale=0.7)
        ax.set_title(
            f"{name}\noccupancy {metrics.occupancy:.2f} · hull {metrics.hull_area_ratio:.2f}"
            f"\nlargest gap {metrics.largest_gap:.3g} {_short(units)}",
            fontsize="medium",
        )
        ax.set_xlabel(f"x ({units})")
    axes[0].set_ylabel(f"y ({units})")
    n = comparison[0][1].n_subset if comparison else 0
    fig.suptitle(f"Subset strategies, {n} of {np.size(x)} positions")
    fig.legend(handles=handles, loc="outside lower center", ncols=2, frameon=False,
               fontsize="small")
    return fig


def save_figure(fig: Figure, stem: str | os.PathLike, force: bool = False) -> tuple[str, str]:
    """Write ``fig`` to ``STEM.png`` and ``STEM.svg``, atomically and reproducibly.

    Both paths are checked before either is written, so a refusal leaves
    nothing behind. The SVG carries no date and fixed element ids, so the same
    figure gives the same bytes.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure to write.
    stem : str or path
        Output path without extension; its folder must exist.
    force : bool
        Overwrite existing files.

    Returns
    -------
    tuple of str
        The PNG and SVG paths.

    Raises
    ------
    UsageError
        If a file exists and ``force`` is False, or the folder is missing.
    """
    import matplotlib

    stem = os.fspath(stem)
    paths = (f"{stem}.png", f"{stem}.svg")
    for path in paths:
        check_output_path(path, force=force)
    # Constrained layout settles only after a first draw of the text (multi-line
    # titles, outside legends): saving straight away overlaps titles and labels.
    fig.draw_without_rendering()
    with matplotlib.rc_context({"svg.hashsalt": _SVG_SALT}):
        with atomic_output(paths[0], "wb", force=force) as fh:
            fig.savefig(fh, format="png", dpi=PNG_DPI)
        with atomic_output(paths[1], "wb", force=force) as fh:
            fig.savefig(fh, format="svg", metadata={"Date": None})
    return paths


# -- helpers -----------------------------------------------------------------


def _draw_scan(
    ax: Axes, x: np.ndarray, y: np.ndarray, idx: np.ndarray | None, marker_scale: float
) -> tuple[list[Any], Any]:
    """Source light, subset bold (if any); return the legend handles and the hexbin (or None)."""
    from matplotlib.colors import LinearSegmentedColormap
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    n_source = np.size(x)
    hexbin = None
    if n_source >= LARGE_SCAN_POINTS:
        cmap = LinearSegmentedColormap.from_list("source_density", _HEX_COLOURS)
        # About 50 positions per hexagon: fewer makes a moire of a raster scan
        # (counts jump by one or two between neighbouring hexagons).
        gridsize = int(np.clip(np.sqrt(n_source / _POSITIONS_PER_HEXAGON), 20, 80))
        hexbin = ax.hexbin(x, y, gridsize=gridsize, mincnt=1, cmap=cmap, linewidths=0,
                           rasterized=True, zorder=1)
        source = Patch(facecolor=_HEX_COLOURS[1], label=f"source, {n_source} positions (density)")
    else:
        # Marker area shrinks with the number of positions so dense scans stay legible.
        size = float(np.clip(4000.0 / max(n_source, 1), 1.0, 30.0)) * marker_scale
        ax.scatter(x, y, s=size, c=_SOURCE_COLOUR, linewidths=0, zorder=1)
        # A proxy: the real markers can be too small to see in the legend.
        source = Line2D([], [], linestyle="", marker="o", markersize=4,
                        color=_SOURCE_COLOUR, label=f"source, {n_source} positions")
    ax.set_aspect("equal")
    if idx is None:
        return [source], hexbin
    n_subset = idx.size
    subset_size = float(np.clip(3000.0 / max(n_subset, 1), 4.0, 40.0)) * marker_scale
    ax.scatter(
        np.asarray(x)[idx], np.asarray(y)[idx], s=subset_size, c=_SUBSET_COLOUR,
        edgecolors="white", linewidths=0.4 if n_subset < 2000 else 0, zorder=3,
        rasterized=n_subset >= LARGE_SCAN_POINTS,
    )
    subset = Line2D([], [], linestyle="", marker="o", markersize=7, color=_SUBSET_COLOUR,
                    markeredgecolor="white", label=f"subset, {n_subset} positions")
    return [source, subset], hexbin


def _metrics_line(m: CoverageMetrics, units: str) -> str:
    return (
        f"range x {m.x_range_ratio:.2f}, y {m.y_range_ratio:.2f} · "
        f"occupancy {m.occupancy:.2f} · hull {m.hull_area_ratio:.2f} · "
        f"largest gap {m.largest_gap:.3g} {_short(units)}"
    )


def _cells_label(what: str, count: int) -> str:
    return f"{what}: {int(count)} cell{'s' if count != 1 else ''}"


def _short(units: str) -> str:
    return "px" if units == "object pixels" else units
