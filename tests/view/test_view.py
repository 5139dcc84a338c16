"""The data, shown: what is read for the figures and what the figures hold."""

from __future__ import annotations

import numpy as np
import pytest

from ptyevidence.coverage.probe import measure_probe
from ptyevidence.demo import make_demo_data
from ptyevidence.exceptions import InputError
from ptyevidence.fixture import make_fixture, read_sidecar, select_indices
from ptyevidence.view import (
    plot_frames,
    plot_object,
    plot_probe,
    read_frame_sample,
    read_scene,
    shown_frame_indices,
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> str:
    return make_demo_data(tmp_path_factory.mktemp("view") / "demo.npz", n_positions=120, seed=3)


@pytest.fixture(scope="module")
def legacy(tmp_path_factory) -> str:
    return make_demo_data(tmp_path_factory.mktemp("view") / "old.npz", n_positions=120, seed=3, layout="legacy")


def arrays(path: str) -> dict[str, np.ndarray]:
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def titles(fig) -> list[str]:
    return [ax.get_title() for ax in fig.axes if ax.get_title()]


def test_scene_holds_positions_object_probe_and_the_measured_diameter(demo):
    scene = read_scene(demo)
    data = arrays(demo)
    assert np.array_equal(scene.x, data["xcoords"])
    assert np.array_equal(scene.y, data["ycoords"])
    assert np.array_equal(scene.object, data["objectGuess"])
    assert np.array_equal(scene.probe[0], data["probeGuess"])
    assert scene.probe_diameter == measure_probe(data["probeGuess"]).diameter
    # The demo probe is an aperture of radius 14 px with a soft edge.
    assert scene.probe_diameter == pytest.approx(28, abs=1)
    assert scene.on_object


def test_frame_sample_is_the_same_frames_every_time_and_the_mean_of_all(demo):
    sample = read_frame_sample(demo)
    data = arrays(demo)["diffraction"]
    assert sample.indices.tolist() == shown_frame_indices(120).tolist()
    assert np.array_equal(sample.frames, data[sample.indices].astype(np.float64))
    np.testing.assert_allclose(sample.mean, data.astype(np.float64).mean(axis=0))
    assert (sample.mean_count, sample.mean_stride) == (120, 1)
    assert sample.mean_label == "mean of all 120 frames"
    assert np.array_equal(read_frame_sample(demo).indices, sample.indices)


def test_frame_sample_thins_the_mean_of_a_long_scan(demo):
    sample = read_frame_sample(demo, count=3, mean_frames=50)
    data = arrays(demo)["diffraction"]
    assert (sample.mean_count, sample.mean_stride) == (40, 3)
    np.testing.assert_allclose(sample.mean, data[::3].astype(np.float64).mean(axis=0))
    assert sample.mean_label == "mean of 40 of 120 frames (one in 3)"


def test_legacy_stacks_give_the_same_frames(demo, legacy):
    canonical, old = read_frame_sample(demo), read_frame_sample(legacy)
    assert np.array_equal(canonical.indices, old.indices)
    np.testing.assert_allclose(old.frames, canonical.frames, rtol=1e-6)


def test_a_file_without_frames_is_refused_in_one_line(tmp_path):
    path = tmp_path / "positions.npz"
    np.savez(path, xcoords=np.arange(4.0), ycoords=np.zeros(4))
    with pytest.raises(InputError, match="no readable 3-D diffraction stack"):
        read_frame_sample(path)
    scene = read_scene(path)
    assert (scene.object, scene.probe, scene.probe_size) == (None, None, None)
    assert not scene.on_object


def test_an_object_or_probe_of_records_is_not_drawn(tmp_path):
    path = tmp_path / "records.npz"
    records = np.zeros((16, 16), [("amplitude", "f4"), ("phase", "f4")])
    np.savez(path, xcoords=np.arange(4.0), ycoords=np.zeros(4), objectGuess=records, probeGuess=records[:8, :8])
    scene = read_scene(path)
    assert (scene.object, scene.probe, scene.probe_size) == (None, None, None)


def test_frames_figure_shows_the_mean_then_each_frame_on_a_log_scale(demo):
    from matplotlib.colors import LogNorm

    scene, sample = read_scene(demo), read_frame_sample(demo)
    fig = plot_frames(sample, scene)
    first = sample.indices[1]
    assert titles(fig)[:3] == [
        "mean of all 120 frames",
        f"frame 0 at x {scene.x[0]:.1f}, y {scene.y[0]:.1f}",
        f"frame {first} at x {scene.x[first]:.1f}, y {scene.y[first]:.1f}",
    ]
    panels = [ax for ax in fig.axes if ax.get_images()]
    assert len(panels) == 1 + sample.indices.size
    for ax in panels:
        assert isinstance(ax.get_images()[0].norm, LogNorm)
    assert np.array_equal(panels[1].get_images()[0].get_array().data, sample.frames[0])
    colour_bars = [ax for ax in fig.axes if ax.get_ylabel() == "diffraction (log scale)"]
    assert len(colour_bars) == len(panels)


def test_probe_figure_has_amplitude_and_phase_per_mode_and_the_threshold(demo):
    scene = read_scene(demo)
    fig = plot_probe(scene.probe, scene.probe_size)
    assert titles(fig) == ["mode 0 amplitude", "mode 0 phase"]
    amplitude, phase = (ax for ax in fig.axes if ax.get_images())
    assert np.allclose(amplitude.get_images()[0].get_array(), np.abs(scene.probe[0]))
    assert phase.get_images()[0].get_clim() == (-np.pi, np.pi)
    assert f"diameter {scene.probe_diameter:.3g} px" in fig.get_suptitle()
    assert scene.probe_size.definition in fig.get_suptitle()
    labels = [t.get_text() for t in amplitude.get_legend().get_texts()]
    assert labels == ["amplitude = 0.5 of maximum", f"equivalent disc, {scene.probe_diameter:.3g} px"]


def test_object_figure_puts_the_subset_and_footprints_over_the_object(demo, tmp_path):
    from matplotlib.collections import EllipseCollection

    scene = read_scene(demo)
    made = make_fixture(demo, tmp_path / "fx.npz", 16)
    # What the dataset notebook draws is the fixture's subset.
    subset = select_indices(scene.x, scene.y, 16, "stratified-index", 0)
    assert subset.tolist() == read_sidecar(made.metadata_path)["indices"]
    fig = plot_object(scene, subset, marks=[0, 5])
    amplitude, phase = (ax for ax in fig.axes if ax.get_images())
    assert np.allclose(amplitude.get_images()[0].get_array(), np.abs(scene.object))
    assert np.allclose(phase.get_images()[0].get_array(), np.angle(scene.object))
    for ax in (amplitude, phase):
        assert ax.yaxis_inverted()
        (circles,) = [c for c in ax.collections if isinstance(c, EllipseCollection)]
        assert np.allclose(circles.get_offsets(), np.column_stack([scene.x[subset], scene.y[subset]]))
        assert [t.get_text() for t in ax.texts] == ["0", "5"]
    left, _ = amplitude.get_xlim()
    assert left == pytest.approx(scene.x.min() - scene.probe_diameter)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == [
        "source, 120 positions",
        "subset, 16 positions",
        f"probe footprint, diameter {scene.probe_diameter:.3g} px",
    ]
    whole = plot_object(scene, whole=True)
    assert whole.axes[0].get_xlim() == (-0.5, scene.object.shape[1] - 0.5)


def test_object_figure_needs_an_object_in_object_pixels(tmp_path):
    path = tmp_path / "positions.npz"
    np.savez(path, xcoords=np.arange(4.0), ycoords=np.zeros(4))
    with pytest.raises(ValueError, match="plot_scan_coverage"):
        plot_object(read_scene(path))
