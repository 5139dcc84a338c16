"""The coverage explorer: the callbacks behind the notebook's controls."""

from __future__ import annotations

import numpy as np
import pytest

from ptyevidence.coverage import compare_strategies, scan_coverage
from ptyevidence.coverage.explore import CoverageExplorer
from ptyevidence.exceptions import UsageError
from ptyevidence.fixture import select_indices

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def scan() -> tuple[np.ndarray, np.ndarray]:
    gy, gx = np.divmod(np.arange(144), 12)
    rng = np.random.default_rng(1)
    return gx * 2.0 + rng.uniform(-0.2, 0.2, 144), gy * 2.0 + rng.uniform(-0.2, 0.2, 144)


def test_update_measures_the_chosen_subset_like_the_library(scan):
    x, y = scan
    explorer = CoverageExplorer(x, y, probe_diameter=5.0)
    view = explorer.update(20, "farthest-point", seed=4)
    assert view.indices.tolist() == select_indices(x, y, 20, "farthest-point", seed=4).tolist()
    assert view.metrics == scan_coverage(x, y, view.indices, view.comparison[0][1].cell_size, probe_diameter=5.0)
    assert view.comparison == compare_strategies(x, y, 20, seed=4, probe_diameter=5.0)
    gaps = {name: m.largest_gap for name, m in view.comparison}
    assert gaps[view.best] == min(gaps.values())
    text = view.to_text()
    assert "occupancy" in text
    assert "of at most" in text
    assert "probe diameters" in text
    assert f"{view.best:17}" in text
    assert "<- best coverage" in text
    assert view.figure.axes[0].get_title().startswith("farthest-point, seed 4: 20 of 144 positions")


def test_probe_diameter_zero_draws_no_footprints(scan):
    from matplotlib.collections import EllipseCollection

    explorer = CoverageExplorer(*scan, probe_diameter=5.0)
    without = explorer.update(16, "grid", probe_diameter=0)
    assert without.probe_diameter is None
    assert without.metrics.probe_diameter is None
    assert not [c for c in without.figure.axes[0].collections if isinstance(c, EllipseCollection)]
    larger = explorer.update(16, "grid", probe_diameter=9.0)
    assert larger.metrics.probe_diameter == 9.0


def test_update_refuses_a_choice_out_of_range_naming_the_parameter(scan):
    explorer = CoverageExplorer(*scan)
    with pytest.raises(UsageError, match="subset_size"):
        explorer.update(500, "grid")
    with pytest.raises(UsageError, match="strategy"):
        explorer.update(16, "random")


def test_widget_replots_and_remeasures_on_every_change(scan):
    pytest.importorskip("ipywidgets")
    explorer = CoverageExplorer(*scan, background=np.ones((30, 30)), probe_diameter=5.0)
    box = explorer.widget(subset_size=16, strategy="grid")
    assert set(box.controls) == {"subset_size", "strategy", "seed", "probe_diameter"}
    assert box.view.metrics.n_subset == 16
    first_image, first_report = box.image.value, box.report.value
    assert first_image[:8] == PNG_MAGIC
    box.controls["subset_size"].value = 40
    assert box.view.metrics.n_subset == 40
    assert box.image.value != first_image
    assert box.report.value != first_report
    box.controls["strategy"].value = "stratified-index"
    assert box.view.strategy == "stratified-index"
    box.controls["probe_diameter"].value = 0.0
    assert box.view.probe_diameter is None


def test_widget_shows_an_error_instead_of_raising(scan):
    pytest.importorskip("ipywidgets")
    x, y = scan
    box = CoverageExplorer(x, y).widget(subset_size=16, strategy="grid", strategies=["grid", "nope"])
    box.controls["strategy"].value = "nope"
    assert box.view is None
    assert "strategy" in box.report.value
