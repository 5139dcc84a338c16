"""Coverage figures: draw what :mod:`ptyevidence.coverage.metrics` computed.

Figures are :class:`matplotlib.figure.Figure` objects (no pyplot, no global
backend switch), so they render with Agg in scripts and inline in notebooks. y
grows downward, as the object's rows do, so a scan lines up with its object.
Scans of :data:`LARGE_SCAN_POINTS` positions or more are drawn as a rasterized
hexbin density: nothing is overplotted and the SVG stays small.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._atomic import check_output_path, output_set
from .judge import best_strategy, unit_label

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .metrics import CoverageMetrics, OccupancyGrid

__all__ = [
    "LARGE_SCAN_POINTS",
    "draw_footprints",
    "draw_image",
    "draw_scan",
    "plot_occupancy",
    "plot_scan_coverage",
    "plot_strategy_comparison",
    "save_figure",
]

#: From this many source positions on, the source is drawn as a hexbin density.
LARGE_SCAN_POINTS = 20_000
#: Resolution of the PNG files, dots per inch.
PNG_DPI = 150
#: Files :func:`save_figure` writes by default.
FORMATS = ("png", "svg")

_SOURCE_COLOUR = "#b0b0b0"
# Over a grey image, the source must stand out from it.
_SOURCE_ON_IMAGE = "#3b8fd1"
_SUBSET_COLOUR = "#c0392b"
_FOOTPRINT_COLOUR = "#f39c12"
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
    background: np.ndarray | None = None,
    probe_diameter: float | None = None,
) -> Figure:
    """Draw the source scan and the subset positions, optionally over an image with probe footprints.

    Parameters
    ----------
    x, y : numpy.ndarray
        ``(N,)`` source positions in ``units`` (x columns, y rows, growing downward).
    indices : numpy.ndarray or None
        ``(n,)`` source indices of the subset; None draws the source alone.
    metrics : CoverageMetrics, optional
        Metrics of this subset, summarized in the title.
    title : str, optional
        First title line (default: "Scan coverage").
    units : str
        Unit of the positions, for the axis labels.
    background : numpy.ndarray, optional
        ``(rows, cols)`` image in position units (the object's amplitude), drawn in grey.
    probe_diameter : float, optional
        Diameter of a probe footprint around every subset (else source) position.

    Returns
    -------
    matplotlib.figure.Figure
        One axes over the scan's bounding box (widened by half a probe), a legend,
        and for large scans a colour bar of the source density.

    Examples
    --------
    >>> import numpy as np
    >>> fig = plot_scan_coverage(np.arange(4.0), np.arange(4.0), [0, 3])
    >>> fig.axes[0].get_xlabel(), bool(fig.axes[0].yaxis_inverted())
    ('x (object pixels)', True)
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.0, 7.4), layout="constrained")
    ax = fig.add_subplot()
    idx = None if indices is None else np.asarray(indices)
    if background is not None:
        draw_image(ax, background, cmap="gray", label="object amplitude")
    handles, hexbin = draw_scan(ax, x, y, idx, marker_scale=1.0, on_image=background is not None)
    if probe_diameter:
        at = idx if idx is not None else slice(None)
        handles.append(draw_footprints(ax, np.asarray(x)[at], np.asarray(y)[at], probe_diameter, units))
    if hexbin is not None:
        fig.colorbar(hexbin, ax=ax, shrink=0.8, label="source positions per hexagon")
    ax.set_xlabel(f"x ({units})")
    ax.set_ylabel(f"y ({units})")
    _view_scan(ax, x, y, probe_diameter)
    heading = title or ("Scan coverage" if idx is not None else "Scan positions")
    count = f"{np.size(x)} positions" if idx is None else f"{idx.size} of {np.size(x)} positions"
    ax.set_title(f"{heading}: {count}" + (f"\n{_metrics_line(metrics, units)}" if metrics else ""))
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 3), frameon=False)
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
        Metrics of the subset: the title gives the occupancy against its ceiling.
    subset_x, subset_y : numpy.ndarray, optional
        ``(n,)`` subset positions, drawn as dots over the cells.
    units : str
        Unit of the positions, for the axis labels.

    Returns
    -------
    matplotlib.figure.Figure
        The cell map and a legend with the cell counts.

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
    fig = Figure(figsize=(9.6, 6.0), layout="constrained")
    ax = fig.add_subplot()
    category = np.where(grid.source_counts > 0, 1, 0) + (grid.subset_counts > 0)
    cmap = ListedColormap(_CELL_COLOURS)
    ax.imshow(
        category,
        origin="lower",
        extent=grid.extent,
        cmap=cmap,
        norm=BoundaryNorm([-0.5, 0.5, 1.5, 2.5], cmap.N),
        interpolation="nearest",
    )
    rows, cols = category.shape
    if max(rows, cols) <= 60:
        # Cell edges help counting on small grids; on large ones they would be a grey wash.
        left, right, bottom, top = grid.extent
        ax.vlines(left + grid.cell_size * np.arange(cols + 1), bottom, top, colors="0.85", linewidths=0.5)
        ax.hlines(bottom + grid.cell_size * np.arange(rows + 1), left, right, colors="0.85", linewidths=0.5)
    handles: list[Any] = []
    for k, what in ((2, "hit by the subset"), (1, "source only (missed)"), (0, "no source position")):
        count = int(np.sum(category == k))
        label = f"{what}: {count} cell{'s' if count != 1 else ''}"
        handles.append(Patch(facecolor=_CELL_COLOURS[k], edgecolor="0.6" if k == 0 else None, label=label))
    if subset_x is not None and subset_y is not None:
        handles.append(
            ax.scatter(
                subset_x,
                subset_y,
                s=10,
                c="black",
                linewidths=0,
                rasterized=np.size(subset_x) >= LARGE_SCAN_POINTS,
                label="subset positions",
            )
        )
    ax.set_aspect("equal")
    _rows_down(ax)
    ax.set_xlabel(f"x ({units})")
    ax.set_ylabel(f"y ({units})")
    occupancy = grid.occupancy if metrics is None else metrics.occupancy
    ceiling = "" if metrics is None else f" (at most {metrics.occupancy_ceiling:.2f} for {metrics.n_subset} positions)"
    ax.set_title(f"Occupancy {occupancy:.2f}{ceiling} on {grid.cell_size:.3g}-{unit_label(units)} cells")
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return fig


def plot_strategy_comparison(
    x: np.ndarray,
    y: np.ndarray,
    subsets: Mapping[str, np.ndarray],
    comparison: Sequence[tuple[str, CoverageMetrics]],
    units: str = "object pixels",
    background: np.ndarray | None = None,
) -> Figure:
    """Draw one panel per subset strategy, side by side on shared axes; name the best.

    Parameters
    ----------
    x, y : numpy.ndarray
        ``(N,)`` source positions in ``units``.
    subsets : mapping of str to numpy.ndarray
        Strategy name to ``(n,)`` source indices (``select_strategy_subsets``).
    comparison : sequence of (str, CoverageMetrics)
        Metrics per strategy (``compare_subsets``), in panel order.
    units : str
        Unit of the positions, for the axis labels.
    background : numpy.ndarray, optional
        Image under every panel, as in :func:`plot_scan_coverage`.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per strategy, titled with its key metrics (the best marked), and one legend.

    Examples
    --------
    >>> import numpy as np
    >>> from ptyevidence.coverage.metrics import compare_subsets
    >>> x, y = np.arange(6.0), np.arange(6.0) % 2
    >>> subsets = {"even": np.array([0, 2, 4]), "left": np.array([0, 1, 2])}
    >>> fig = plot_strategy_comparison(x, y, subsets, compare_subsets(x, y, subsets))
    >>> [ax.get_title().splitlines()[0] for ax in fig.axes]
    ['even (best coverage)', 'left']
    """
    from matplotlib.figure import Figure

    k = len(comparison)
    fig = Figure(figsize=(4.8 * k + 0.4, 6.0), layout="compressed")
    axes = fig.subplots(1, k, sharex=True, sharey=True, squeeze=False)[0]
    handles: list[Any] = []
    best = best_strategy(comparison) if comparison else None
    u = unit_label(units)
    for ax, (name, metrics) in zip(axes, comparison):
        if background is not None:
            draw_image(ax, background, cmap="gray", label="object amplitude")
        handles, _ = draw_scan(ax, x, y, np.asarray(subsets[name]), marker_scale=0.8, on_image=background is not None)
        ax.set_title(
            f"{name}{' (best coverage)' if name == best else ''}\n"
            f"occupancy {metrics.occupancy:.2f} of at most {metrics.occupancy_ceiling:.2f}\n"
            f"hull {metrics.hull_area_ratio:.2f} · largest gap {metrics.largest_gap:.3g} {u}",
            fontweight="bold" if name == best else "normal",
        )
        ax.set_xlabel(f"x ({units})")
    axes[0].set_ylabel(f"y ({units})")
    _view_scan(axes[0], x, y, None)
    n = comparison[0][1].n_subset if comparison else 0
    fig.suptitle(
        f"Subset strategies, {n} of {np.size(x)} positions; best coverage: smallest largest gap", fontsize="large"
    )
    fig.legend(handles=handles, loc="outside lower center", ncols=2, frameon=False)
    return fig


def draw_image(
    ax: Axes,
    image: np.ndarray,
    cmap: str = "gray",
    label: str | None = None,
    norm: Any = None,
    vmin: float | None = None,
    vmax: float | None = None,
) -> Any:
    """Draw a 2-D image with pixel ``(r, c)`` centred at ``x = c``, ``y = r``, rows downward.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    image : numpy.ndarray
        ``(rows, cols)`` real values.
    cmap, label, norm, vmin, vmax
        Passed to ``imshow`` (``label`` names the image for a colour bar).

    Returns
    -------
    matplotlib.image.AxesImage

    Examples
    --------
    >>> import numpy as np
    >>> from matplotlib.figure import Figure
    >>> ax = Figure().add_subplot()
    >>> draw_image(ax, np.zeros((3, 4))).get_extent()
    [-0.5, 3.5, 2.5, -0.5]
    """
    rows, cols = np.shape(image)
    shown = ax.imshow(
        image,
        cmap=cmap,
        origin="upper",
        extent=(-0.5, cols - 0.5, rows - 0.5, -0.5),
        interpolation="nearest",
        norm=norm,
        vmin=vmin,
        vmax=vmax,
        label=label,
        zorder=0,
    )
    _rows_down(ax)
    return shown


def draw_footprints(ax: Axes, x: np.ndarray, y: np.ndarray, diameter: float, units: str = "object pixels") -> Any:
    """Draw a circle of ``diameter`` (in data units) around each position; return a legend handle.

    Examples
    --------
    >>> import numpy as np
    >>> from matplotlib.figure import Figure
    >>> ax = Figure().add_subplot()
    >>> draw_footprints(ax, np.zeros(2), np.ones(2), 4.0).get_label()
    'probe footprint, diameter 4 px'
    """
    from matplotlib.collections import EllipseCollection

    n = np.size(x)
    ax.add_collection(
        EllipseCollection(
            np.full(n, diameter),
            np.full(n, diameter),
            np.zeros(n),
            units="xy",
            offsets=np.column_stack([x, y]),
            offset_transform=ax.transData,
            facecolors="none",
            edgecolors=_FOOTPRINT_COLOUR,
            linewidths=0.7,
            alpha=0.7,
            zorder=2,
        )
    )
    label = f"probe footprint, diameter {diameter:.3g} {unit_label(units)}"
    return _marker_handle(label, markersize=11, markerfacecolor="none", markeredgecolor=_FOOTPRINT_COLOUR)


def save_figure(
    fig: Figure, stem: str | os.PathLike, force: bool = False, formats: Sequence[str] = FORMATS
) -> tuple[str, ...]:
    """Write ``fig`` to ``STEM.png`` and ``STEM.svg``, published together and reproducibly.

    Every path is checked before any is written; the SVG has no date and fixed ids.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure to write.
    stem : str or path
        Output path without extension; its folder must exist.
    force : bool
        Overwrite existing files.
    formats : sequence of {"png", "svg"}
        Files to write, in this order (images need no SVG: it would embed the same raster).

    Returns
    -------
    tuple of str
        The paths written, one per format.

    Raises
    ------
    UsageError
        If a file exists and ``force`` is False, or the folder is missing.
    """
    import matplotlib

    stem = os.fspath(stem)
    paths = tuple(f"{stem}.{fmt}" for fmt in formats)
    for path in paths:
        check_output_path(path, force=force)
    # Constrained layout settles only after a first draw of the text (multi-line
    # titles, outside legends): saving straight away overlaps titles and labels.
    if fig.get_layout_engine() is not None:
        fig.draw_without_rendering()
    with matplotlib.rc_context({"svg.hashsalt": _SVG_SALT}), output_set(paths, force) as outputs:
        # One set: a run that fails, or races another, leaves both formats old or both new.
        for fmt, path in zip(formats, paths):
            with outputs.open(path, "wb") as fh:
                if fmt == "svg":
                    fig.savefig(fh, format="svg", metadata={"Date": None})
                else:
                    fig.savefig(fh, format=fmt, dpi=PNG_DPI)
    return paths


def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    r"""Return ``fig`` as PNG bytes (for a widget or an inline display).

    Examples
    --------
    >>> import numpy as np
    >>> figure_png(plot_scan_coverage(np.arange(3.0), np.zeros(3), None))[:4]
    b'\x89PNG'
    """
    import io

    buffer = io.BytesIO()
    if fig.get_layout_engine() is not None:
        fig.draw_without_rendering()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


# -- helpers -----------------------------------------------------------------


def draw_scan(
    ax: Axes,
    x: np.ndarray,
    y: np.ndarray,
    idx: np.ndarray | None,
    marker_scale: float,
    on_image: bool = False,
) -> tuple[list[Any], Any]:
    """Draw source positions light and subset positions bold, y growing downward.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    x, y : numpy.ndarray
        ``(N,)`` source positions.
    idx : numpy.ndarray or None
        Subset indices, or None for the source alone.
    marker_scale : float
        Scale of the marker areas.
    on_image : bool
        Over an image: the source gets a colour that stands out from grey.

    Returns
    -------
    handles : list
        Legend handles (source, then subset).
    hexbin : matplotlib.collections.PolyCollection or None
        The source density of a large scan, for a colour bar.
    """
    from matplotlib.colors import LinearSegmentedColormap
    from matplotlib.patches import Patch

    n_source = np.size(x)
    hexbin = None
    colour = _SOURCE_ON_IMAGE if on_image else _SOURCE_COLOUR
    if n_source >= LARGE_SCAN_POINTS:
        cmap = LinearSegmentedColormap.from_list("source_density", _HEX_COLOURS)
        # About 50 positions per hexagon: fewer makes a moire of a raster scan
        # (counts jump by one or two between neighbouring hexagons).
        gridsize = int(np.clip(np.sqrt(n_source / _POSITIONS_PER_HEXAGON), 20, 80))
        hexbin = ax.hexbin(
            x,
            y,
            gridsize=gridsize,
            mincnt=1,
            cmap=cmap,
            linewidths=0,
            rasterized=True,
            zorder=1,
            alpha=0.7 if on_image else 1.0,
        )
        source = Patch(facecolor=_HEX_COLOURS[1], label=f"source, {n_source} positions (density)")
    else:
        # Marker area shrinks with the number of positions so dense scans stay legible.
        size = float(np.clip(4000.0 / max(n_source, 1), 1.0, 30.0)) * marker_scale
        ax.scatter(x, y, s=size, c=colour, linewidths=0, zorder=1)
        source = _marker_handle(f"source, {n_source} positions", markersize=4, color=colour)
    ax.set_aspect("equal")
    _rows_down(ax)
    if idx is None:
        return [source], hexbin
    n_subset = idx.size
    subset_size = float(np.clip(3000.0 / max(n_subset, 1), 4.0, 40.0)) * marker_scale
    ax.scatter(
        np.asarray(x)[idx],
        np.asarray(y)[idx],
        s=subset_size,
        c=_SUBSET_COLOUR,
        edgecolors="white",
        linewidths=0.4 if n_subset < 2000 else 0,
        zorder=3,
        rasterized=n_subset >= LARGE_SCAN_POINTS,
    )
    subset = _marker_handle(
        f"subset, {n_subset} positions", markersize=7, color=_SUBSET_COLOUR, markeredgecolor="white"
    )
    return [source, subset], hexbin


def _rows_down(ax: Axes) -> None:
    """Make y grow downward (once: inverting shared axes twice would undo it)."""
    if not ax.yaxis_inverted():
        ax.invert_yaxis()


def _view_scan(ax: Axes, x: np.ndarray, y: np.ndarray, probe_diameter: float | None) -> None:
    """Limit the view to the scan, widened by half a probe (or 5 % of its extent); rows downward."""
    x0, x1, y0, y1 = float(np.min(x)), float(np.max(x)), float(np.min(y)), float(np.max(y))
    pad = probe_diameter / 2 if probe_diameter else 0.05 * max(x1 - x0, y1 - y0, 1e-12)
    ax.set_xlim(x0 - pad, x1 + pad)
    ax.set_ylim(y1 + pad, y0 - pad)


def _metrics_line(m: CoverageMetrics, units: str) -> str:
    gap = f"largest gap {m.largest_gap:.3g} {unit_label(units)}"
    if m.probe_diameter:
        gap += f" ({m.largest_gap / m.probe_diameter:.2f} probe diameters)"
    return (
        f"range x {m.x_range_ratio:.2f}, y {m.y_range_ratio:.2f} · "
        f"occupancy {m.occupancy:.2f} of at most {m.occupancy_ceiling:.2f} · "
        f"hull {m.hull_area_ratio:.2f}\n{gap}"
    )


def _marker_handle(label: str, **style: Any) -> Any:
    """Return a legend entry of one round marker (the markers drawn can be too small to see in a legend)."""
    from matplotlib.lines import Line2D

    return Line2D([], [], linestyle="", marker="o", label=label, **style)
