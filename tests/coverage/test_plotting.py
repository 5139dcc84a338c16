"""Coverage figures: what they contain and how they are written (not their pixels)."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from ptyevidence.coverage import (
    compare_subsets,
    occupancy_grid,
    plot_occupancy,
    plot_scan_coverage,
    plot_strategy_comparison,
    save_figure,
    scan_coverage,
    select_strategy_subsets,
)
from ptyevidence.coverage.judge import best_strategy
from ptyevidence.coverage.plots import LARGE_SCAN_POINTS, figure_png
from ptyevidence.exceptions import UsageError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def raster(side: int) -> tuple[np.ndarray, np.ndarray]:
    gy, gx = np.divmod(np.arange(side * side), side)
    return gx * 1.5, gy * 1.5


def legend_texts(legend) -> list[str]:
    return [t.get_text() for t in legend.get_texts()]


def assert_png_and_svg(png: str, svg: str) -> None:
    with open(png, "rb") as fh:
        assert fh.read(8) == PNG_MAGIC
    root = ET.parse(svg).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"


def test_scan_coverage_figure_has_labels_title_metrics_and_legend():
    x, y = raster(10)
    idx = np.arange(0, 100, 7)
    m = scan_coverage(x, y, idx)
    fig = plot_scan_coverage(x, y, idx, m, title="fx.npz in scan.npz")
    (ax,) = fig.axes
    assert ax.get_xlabel() == "x (object pixels)"
    assert ax.get_ylabel() == "y (object pixels)"
    first, second, third = ax.get_title().splitlines()
    assert first == f"fx.npz in scan.npz: {idx.size} of 100 positions"
    assert f"occupancy {m.occupancy:.2f} of at most {m.occupancy_ceiling:.2f}" in second
    assert third == f"largest gap {m.largest_gap:.3g} px"
    assert legend_texts(fig.legends[0]) == ["source, 100 positions", f"subset, {idx.size} positions"]
    assert ax.get_aspect() == 1.0
    assert ax.yaxis_inverted(), "y is a row coordinate: it grows downward"


def test_scan_coverage_over_an_image_with_probe_footprints():
    from matplotlib.collections import EllipseCollection

    x, y = raster(10)
    idx = np.arange(0, 100, 9)
    m = scan_coverage(x, y, idx, probe_diameter=6.0)
    image = np.arange(20.0 * 24).reshape(20, 24)
    fig = plot_scan_coverage(x, y, idx, m, background=image, probe_diameter=6.0)
    ax = fig.axes[0]
    (shown,) = ax.get_images()
    # Pixel (r, c) is centred on x = c, y = r, with rows growing downward.
    assert shown.get_extent() == [-0.5, 23.5, 19.5, -0.5]
    assert np.array_equal(shown.get_array(), image)
    (circles,) = [c for c in ax.collections if isinstance(c, EllipseCollection)]
    assert np.allclose(circles.get_offsets(), np.column_stack([x[idx], y[idx]]))
    assert legend_texts(fig.legends[0])[-1] == "probe footprint, diameter 6 px"
    assert (
        ax.get_title().splitlines()[2]
        == f"largest gap {m.largest_gap:.3g} px ({m.largest_gap / 6:.2f} probe diameters)"
    )
    # The view is the scan, widened by half a probe, rows downward.
    assert ax.get_xlim() == (x.min() - 3, x.max() + 3)
    assert ax.get_ylim() == (y.max() + 3, y.min() - 3)


def test_scan_coverage_without_subset_draws_the_source_alone():
    x, y = raster(5)
    fig = plot_scan_coverage(x, y, None, units="m")
    (ax,) = fig.axes
    assert ax.get_title() == "Scan positions: 25 positions"
    assert ax.get_xlabel() == "x (m)"
    assert legend_texts(fig.legends[0]) == ["source, 25 positions"]


def test_large_scans_are_drawn_as_a_rasterized_density():
    rng = np.random.default_rng(0)
    n = LARGE_SCAN_POINTS
    x, y = rng.uniform(0, 100, n), rng.uniform(0, 50, n)
    fig = plot_scan_coverage(x, y, np.arange(0, n, 97))
    ax = fig.axes[0]
    # No collection holds one marker per source position.
    assert all(len(c.get_offsets()) < n for c in ax.collections)
    density = [c for c in ax.collections if c.get_rasterized()]
    assert density, "expected a rasterized hexbin for the source"
    assert len(fig.axes) == 2  # the plot and its colour bar
    assert fig.axes[1].get_ylabel() == "source positions per hexagon"
    assert "(density)" in legend_texts(fig.legends[0])[0]


def test_occupancy_figure_legend_counts_the_cells():
    gy, gx = np.divmod(np.arange(64), 8)
    x, y = gx.astype(float), gy.astype(float)
    corners = [0, 1, 8, 9, 6, 7, 14, 15, 48, 49, 56, 57, 54, 55, 62, 63]
    grid = occupancy_grid(x, y, corners, cell_size=2.0)
    fig = plot_occupancy(grid, subset_x=x[corners], subset_y=y[corners])
    ax = fig.axes[0]
    assert legend_texts(ax.get_legend()) == [
        "hit by the subset: 4 cells",
        "source only (missed): 12 cells",
        "no source position: 0 cells",
        "subset positions",
    ]
    assert ax.get_title() == "Occupancy 0.25 on 2-px cells"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x (object pixels)", "y (object pixels)")
    assert ax.yaxis_inverted()
    m = scan_coverage(x, y, corners, cell_size=2.0)
    titled = plot_occupancy(grid, m).axes[0].get_title()
    assert titled == "Occupancy 0.25 (at most 1.00 for 16 positions) on 2-px cells"


def test_strategy_comparison_has_one_titled_panel_per_strategy():
    x, y = raster(12)
    subsets = select_strategy_subsets(x, y, 16)
    rows = compare_subsets(x, y, subsets)
    fig = plot_strategy_comparison(x, y, subsets, rows)
    best = best_strategy(rows)
    names = [name + (" (best coverage)" if name == best else "") for name in subsets]
    assert [ax.get_title().splitlines()[0] for ax in fig.axes] == names
    for ax, (_, m) in zip(fig.axes, rows):
        assert f"occupancy {m.occupancy:.2f} of at most {m.occupancy_ceiling:.2f}" in ax.get_title()
        assert ax.get_xlabel() == "x (object pixels)"
        assert ax.yaxis_inverted()
    assert fig.axes[0].get_ylabel() == "y (object pixels)"
    assert fig.get_suptitle() == "Subset strategies, 16 of 144 positions; best coverage: smallest largest gap"
    assert legend_texts(fig.legends[0]) == ["source, 144 positions", "subset, 16 positions"]


def test_save_figure_writes_valid_png_and_svg(tmp_path):
    x, y = raster(6)
    png, svg = save_figure(plot_scan_coverage(x, y, [0, 35]), tmp_path / "cov")
    assert (png, svg) == (str(tmp_path / "cov.png"), str(tmp_path / "cov.svg"))
    assert_png_and_svg(png, svg)
    assert sorted(os.listdir(tmp_path)) == ["cov.png", "cov.svg"]  # no temporary files left


def test_save_figure_is_byte_reproducible(tmp_path):
    x, y = raster(6)
    a = save_figure(plot_scan_coverage(x, y, [0, 35]), tmp_path / "a")
    b = save_figure(plot_scan_coverage(x, y, [0, 35]), tmp_path / "b")
    for first, second in zip(a, b):
        with open(first, "rb") as f1, open(second, "rb") as f2:
            assert f1.read() == f2.read()


def test_save_figure_refuses_to_overwrite_and_writes_nothing(tmp_path):
    x, y = raster(6)
    (tmp_path / "cov.svg").write_text("keep")
    with pytest.raises(UsageError, match="force=True"):
        save_figure(plot_scan_coverage(x, y, [0, 35]), tmp_path / "cov")
    assert not (tmp_path / "cov.png").exists()
    assert (tmp_path / "cov.svg").read_text() == "keep"
    png, svg = save_figure(plot_scan_coverage(x, y, [0, 35]), tmp_path / "cov", force=True)
    assert_png_and_svg(png, svg)


def test_save_figure_publishes_both_formats_or_neither(tmp_path, monkeypatch):
    x, y = raster(6)
    fig = plot_scan_coverage(x, y, [0, 35])
    real = type(fig).savefig

    def svg_fails(self, fh, **kwargs):
        if kwargs.get("format") == "svg":
            raise OSError(28, "No space left on device")
        return real(self, fh, **kwargs)

    monkeypatch.setattr(type(fig), "savefig", svg_fails)
    with pytest.raises(OSError, match="No space left"):
        save_figure(fig, tmp_path / "cov")
    assert sorted(os.listdir(tmp_path)) == []  # no PNG without its SVG, no temporary file


def test_save_figure_writes_only_the_formats_asked_for(tmp_path):
    x, y = raster(6)
    (png,) = save_figure(plot_scan_coverage(x, y, [0, 35]), tmp_path / "cov", formats=("png",))
    assert sorted(os.listdir(tmp_path)) == ["cov.png"]
    with open(png, "rb") as fh:
        assert fh.read()[:8] == PNG_MAGIC


def test_figure_png_returns_the_png_bytes_of_a_figure():
    x, y = raster(6)
    assert figure_png(plot_scan_coverage(x, y, [0, 35]))[:8] == PNG_MAGIC
