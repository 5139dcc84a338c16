"""Figures of the data itself: frames, probe, object with the scan over it.

Matplotlib only, no computation beyond display (modulus, phase, colour
scales). Images follow one convention: rows grow downward, and an object
pixel ``(r, c)`` is centred at ``x = c``, ``y = r``, where the positions put
the probe's centre; frames are in detector pixels. Figures are built with
:class:`matplotlib.figure.Figure` and written with
:func:`ptyevidence.coverage.save_figure`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..coverage.judge import unit_label
from ..coverage.plots import draw_footprints, draw_image, draw_scan

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..coverage.probe import ProbeSize
    from .read import FrameSample, Scene

__all__ = ["plot_frames", "plot_object", "plot_probe"]

_FRAME_CMAP = "magma"
_PHASE_CMAP = "twilight"
_CONTOUR_COLOUR = "#f39c12"  # the colour of the probe footprints, so the disc and its contour match
_MARK_COLOUR = "#2ecc71"


def plot_frames(sample: FrameSample, scene: Scene | None = None) -> Figure:
    """Draw the mean frame and the representative frames, each on a log colour scale.

    Parameters
    ----------
    sample : FrameSample
        From :func:`ptyevidence.view.read_frame_sample`.
    scene : Scene, optional
        Adds each frame's scan position to its title.

    Returns
    -------
    matplotlib.figure.Figure
        Panels in rows of three, the mean frame first, each with a colour bar (zeros take its lowest colour).

    Examples
    --------
    >>> import numpy as np
    >>> from ptyevidence.view.read import FrameSample
    >>> frames = np.ones((2, 4, 4))
    >>> sample = FrameSample("diffraction", 2, np.array([0, 1]), frames, frames[0], 2, 1)
    >>> [ax.get_title() for ax in plot_frames(sample).axes if ax.get_title()]
    ['mean of all 2 frames', 'frame 0', 'frame 1']
    """
    from matplotlib.figure import Figure

    panels = 1 + len(sample.indices)
    cols = min(3, panels)
    rows = -(-panels // cols)
    # A fixed grid: constrained layout would measure every log-scale colour bar
    # twice per save, most of the figure's cost.
    fig = Figure(figsize=(4.8 * cols, 4.1 * rows + 0.6))
    fig.subplots_adjust(left=0.06, right=0.94, bottom=0.07, top=1 - 0.75 / (4.1 * rows + 0.6), wspace=0.55, hspace=0.3)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    images = [(sample.mean_label, sample.mean)]
    for i, frame in zip(sample.indices, sample.frames):
        where = "" if scene is None else f" at x {scene.x[i]:.1f}, y {scene.y[i]:.1f}"
        images.append((f"frame {int(i)}{where}", frame))
    for ax, (title, image) in zip(axes, images):
        shown = ax.imshow(
            np.ma.masked_less_equal(image, 0), cmap=_log_cmap(), norm=_log_norm(image), interpolation="nearest"
        )
        fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04, label=f"{sample.key} (log scale)")
        ax.set_title(title)
        ax.set_xlabel("detector column")
        ax.set_ylabel("detector row")
    for ax in axes[panels:]:
        ax.set_visible(False)
    fig.suptitle(f"Diffraction frames (`{sample.key}`, values as stored)", fontsize="large")
    return fig


def plot_probe(probe: np.ndarray, size: ProbeSize | None = None) -> Figure:
    """Draw the probe's amplitude and phase, one row per mode, with its measured size.

    Parameters
    ----------
    probe : numpy.ndarray
        ``(H, W)`` or ``(modes, H, W)`` complex probe.
    size : ProbeSize, optional
        From :func:`ptyevidence.coverage.probe.measure_probe`: adds the threshold
        contour and the equivalent disc (at the frame centre) to the amplitude panels.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> fig = plot_probe(np.ones((2, 8, 8), np.complex64))
    >>> [ax.get_title() for ax in fig.axes if ax.get_title()]
    ['mode 0 amplitude', 'mode 0 phase', 'mode 1 amplitude', 'mode 1 phase']
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    from ..coverage.probe import probe_modes

    modes = probe_modes(probe)
    fig = Figure(figsize=(10.0, 4.4 * len(modes) + 0.6), layout="constrained")
    axes = fig.subplots(len(modes), 2, squeeze=False)
    total = np.sqrt(np.sum(np.abs(modes.astype(np.complex128)) ** 2, axis=0))
    h, w = total.shape
    for m, (amp_ax, phase_ax) in enumerate(axes):
        amplitude = np.abs(modes[m])
        shown = amp_ax.imshow(amplitude, cmap="viridis", interpolation="nearest")
        fig.colorbar(shown, ax=amp_ax, shrink=0.85, label="amplitude")
        phase = phase_ax.imshow(np.angle(modes[m]), cmap=_PHASE_CMAP, vmin=-np.pi, vmax=np.pi, interpolation="nearest")
        fig.colorbar(phase, ax=phase_ax, shrink=0.85, label="phase (rad)")
        amp_ax.set_title(f"mode {m} amplitude")
        phase_ax.set_title(f"mode {m} phase")
        if size is not None:
            amp_ax.contour(total, levels=[size.fraction * float(total.max())], colors=_CONTOUR_COLOUR, linewidths=1.2)
            # The footprint's legend marker, renamed: the disc drawn is the probe's equivalent disc.
            disc = draw_footprints(amp_ax, np.array([w // 2]), np.array([h // 2]), size.diameter)
            disc.set_label(f"equivalent disc, {size.diameter:.3g} px")
            handles = [Line2D([], [], color=_CONTOUR_COLOUR, label=f"amplitude = {size.fraction:g} of maximum"), disc]
            amp_ax.legend(handles=handles, loc="lower left", fontsize="small", framealpha=0.8)
        for ax in (amp_ax, phase_ax):
            ax.set_xlabel("probe column (object pixels)")
            ax.set_ylabel("probe row (object pixels)")
    heading = f"Probe, {len(modes)} mode{'s' if len(modes) != 1 else ''}"
    if size is not None:
        heading += f"; diameter {size.diameter:.3g} px: {size.definition}"
    fig.suptitle(heading, fontsize="medium", wrap=True)
    return fig


def plot_object(
    scene: Scene,
    subset: np.ndarray | None = None,
    probe_diameter: float | None = None,
    marks: Sequence[int] = (),
    whole: bool = False,
) -> Figure:
    """Draw the object's amplitude and phase with the scan, the subset and probe footprints over them.

    Parameters
    ----------
    scene : Scene
        From :func:`ptyevidence.view.read_scene`, with :attr:`Scene.on_object` true.
    subset : numpy.ndarray, optional
        ``(n,)`` source indices drawn bold (the fixture's positions).
    probe_diameter : float, optional
        Footprint diameter around the subset's (else every) position; default the scene's.
    marks : sequence of int
        Scan indices labelled with their number (e.g. the frames shown).
    whole : bool
        Show the whole object; default the scan's bounding box widened by a probe diameter (or a tenth).

    Returns
    -------
    matplotlib.figure.Figure
        Two panels, axes in object pixels, rows downward.

    Raises
    ------
    ValueError
        If the scene has no object to draw the positions on.
    """
    from matplotlib.figure import Figure

    if not scene.on_object:
        msg = "the scene has no object in object pixels; draw its positions with plot_scan_coverage"
        raise ValueError(msg)
    diameter = probe_diameter if probe_diameter is not None else scene.probe_diameter
    obj = scene.object
    rows, cols = obj.shape
    if whole:
        left, right, top, bottom = -0.5, cols - 0.5, -0.5, rows - 0.5
    else:
        pad = diameter if diameter else 0.1 * max(rows, cols)
        left, right = max(-0.5, scene.x.min() - pad), min(cols - 0.5, scene.x.max() + pad)
        top, bottom = max(-0.5, scene.y.min() - pad), min(rows - 0.5, scene.y.max() + pad)
    aspect = (bottom - top) / max(right - left, 1e-12)
    fig = Figure(figsize=(13.0, 5.3 * aspect + 1.3), layout="constrained")
    axes = fig.subplots(1, 2, sharex=True, sharey=True)
    layers = [("amplitude", np.abs(obj), "gray"), ("phase (rad)", np.angle(obj), _PHASE_CMAP)]
    handles: list[Any] = []
    for ax, (label, image, cmap) in zip(axes, layers):
        shown = draw_image(ax, image, cmap=cmap)
        fig.colorbar(shown, ax=ax, shrink=0.8, label=label)
        handles, _ = draw_scan(ax, scene.x, scene.y, subset, marker_scale=0.6, on_image=True)
        if diameter:
            at = subset if subset is not None else slice(None)
            handles.append(draw_footprints(ax, scene.x[at], scene.y[at], diameter, scene.units))
        _mark(ax, scene, marks)
        ax.set_title(f"object {label}")
        ax.set_xlabel(f"x ({scene.units})")
        ax.set_ylabel(f"y ({scene.units})")
        ax.set_xlim(left, right)
        ax.set_ylim(bottom, top)
    n = np.size(scene.x)
    what = f"{n} scan positions" + (f", {np.size(subset)} in the subset" if subset is not None else "")
    region = (
        ""
        if whole
        else (f"; shown: x {left:.0f}..{right:.0f}, y {top:.0f}..{bottom:.0f} (the scan, widened by a probe diameter)")
    )
    fig.suptitle(f"Object {rows} x {cols} {unit_label(scene.units)} with {what}{region}", fontsize="large")
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    return fig


def _mark(ax: Axes, scene: Scene, marks: Sequence[int]) -> None:
    for i in marks:
        ax.annotate(
            str(int(i)),
            (scene.x[i], scene.y[i]),
            xytext=(4, -4),
            textcoords="offset points",
            color=_MARK_COLOUR,
            fontsize="small",
            fontweight="bold",
            zorder=4,
        )
        ax.plot(scene.x[i], scene.y[i], marker="+", color=_MARK_COLOUR, markersize=9, zorder=4)


def _log_norm(image: np.ndarray) -> Any:
    from matplotlib.colors import LogNorm

    positive = image[image > 0]
    if positive.size == 0:
        return LogNorm(1e-3, 1.0)
    lo, hi = float(positive.min()), float(positive.max())
    return LogNorm(lo, hi if hi > lo else lo * 10)


def _log_cmap() -> Any:
    from matplotlib import colormaps

    cmap = colormaps[_FRAME_CMAP]
    return cmap.with_extremes(bad=cmap(0.0))
