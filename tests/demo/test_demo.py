"""The embedded demo dataset: determinism, contract compliance, geometry, physics, CLI."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import ndimage

import ptyevidence
from ptyevidence import validate_dataset
from ptyevidence.demo import (
    DEMO_FRAME_SHAPE,
    DEMO_OBJECT_SHAPE,
    DEMO_SCAN_REGION,
    make_demo_data,
    simulate_demo_arrays,
)
from ptyevidence.exceptions import UsageError

# Small scans keep the tests quick; the geometry does not depend on N.
N_SMALL = 120


@pytest.fixture(scope="module")
def exact_arrays():
    """Noise-free canonical arrays of a small scan."""
    return simulate_demo_arrays(N_SMALL, seed=0, noise="none")


def test_make_demo_data_same_arguments_give_byte_identical_files(tmp_path):
    first = make_demo_data(tmp_path / "a.npz", n_positions=N_SMALL, seed=3)
    second = make_demo_data(tmp_path / "b.npz", n_positions=N_SMALL, seed=3)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    assert first.endswith("a.npz")
    assert second.endswith("b.npz")


def test_make_demo_data_other_seed_gives_other_object_and_positions():
    a = simulate_demo_arrays(N_SMALL, seed=0)
    b = simulate_demo_arrays(N_SMALL, seed=1)
    assert not np.array_equal(a["objectGuess"], b["objectGuess"])
    assert not np.array_equal(a["xcoords"], b["xcoords"])
    # Commanded positions depend on N only.
    assert np.array_equal(a["xcoords_start"], b["xcoords_start"])


def test_noise_changes_frames_but_not_object_or_positions(exact_arrays):
    noisy = simulate_demo_arrays(N_SMALL, seed=0, noise="poisson")
    for key in ("objectGuess", "probeGuess", "xcoords", "ycoords"):
        assert np.array_equal(noisy[key], exact_arrays[key]), key
    assert not np.array_equal(noisy["diffraction"], exact_arrays["diffraction"])
    # Counting noise on 1e6 photons per frame: the frames stay close in shape.
    corr = np.corrcoef(noisy["diffraction"].ravel(), exact_arrays["diffraction"].ravel())[0, 1]
    assert corr > 0.95


@pytest.mark.parametrize("noise", ["poisson", "none"])
def test_demo_file_passes_data001(tmp_path, noise):
    path = make_demo_data(tmp_path / "demo.npz", n_positions=N_SMALL, noise=noise)
    report = validate_dataset(path)
    assert report.ok, report.to_text()
    assert report.findings == []
    assert report.layout == "canonical"
    assert report.dims == {"N": N_SMALL, "H": 64, "W": 64, "M1": 227, "M2": 226}


def test_demo_shapes_and_dtypes_match_the_reference_geometry(exact_arrays):
    a = exact_arrays
    assert a["diffraction"].shape == (N_SMALL, *DEMO_FRAME_SHAPE) == (N_SMALL, 64, 64)
    assert a["diffraction"].dtype == np.float32
    assert a["objectGuess"].shape == DEMO_OBJECT_SHAPE == (227, 226)
    assert a["objectGuess"].dtype == a["probeGuess"].dtype == np.complex64
    assert a["probeGuess"].shape == (64, 64)
    for key in ("xcoords", "ycoords", "xcoords_start", "ycoords_start"):
        assert a[key].shape == (N_SMALL,), key
        assert a[key].dtype == np.float64, key
    assert a["scan_index"].dtype == np.int64
    assert not a["scan_index"].any()


def test_demo_positions_span_the_reference_region():
    a = simulate_demo_arrays(1087, seed=0, noise="none")
    x_min, x_max, y_min, y_max = DEMO_SCAN_REGION
    assert (a["xcoords_start"].min(), a["xcoords_start"].max()) == (x_min, x_max) == (34.0, 79.0)
    assert (a["ycoords_start"].min(), a["ycoords_start"].max()) == (y_min, y_max) == (34.0, 78.0)
    # Measured positions wander a fraction of a pixel around the commanded ones.
    assert np.abs(a["xcoords"] - a["xcoords_start"]).max() < 2.0
    assert np.abs(a["ycoords"] - a["ycoords_start"]).max() < 1.0
    assert 33.0 < a["xcoords"].min()
    assert a["xcoords"].max() < 80.0
    assert 33.0 < a["ycoords"].min()
    assert a["ycoords"].max() < 79.0
    # Every probe window lies inside the object.
    assert np.floor(a["ycoords"]).min() - 32 >= 0
    assert np.floor(a["xcoords"]).min() - 32 >= 0
    # No two positions coincide.
    points = np.round(np.column_stack([a["xcoords"], a["ycoords"]]), 9)
    assert np.unique(points, axis=0).shape[0] == 1087


def test_demo_amplitudes_are_normalized_as_data001_asks(exact_arrays):
    noisy = simulate_demo_arrays(N_SMALL, seed=0)
    for d in (exact_arrays["diffraction"], noisy["diffraction"]):
        assert d.min() >= 0.0
        assert d.max() == pytest.approx(1.0)
        assert d.max() / d.mean() < 100


def test_demo_probe_is_apodized_with_curved_phase(exact_arrays):
    probe = exact_arrays["probeGuess"].astype(np.complex128)
    modulus = np.abs(probe)
    assert modulus.max() == pytest.approx(1.0, abs=1e-6)
    # Apodized: nothing at the frame border, smooth fall-off across the edge.
    assert modulus[0].max() < 1e-3
    assert modulus[:, 0].max() < 1e-3
    profile = modulus[32, 32:]
    assert np.all(np.diff(profile) <= 1e-6)
    assert 0.05 < profile[14] < 0.95
    # Curved phase: the phase difference centre -> radius 10 is neither 0 nor 2 pi.
    change = np.angle(probe[32, 42] / probe[32, 32])
    assert 1.0 < abs(change) < 3.1


def test_demo_frames_are_far_field_amplitudes_of_probe_times_patch(exact_arrays):
    """Recompute a few frames independently: scipy's Fourier shift, slicing by (row, col)."""
    a = exact_arrays
    probe = a["probeGuess"].astype(np.complex128)
    obj = a["objectGuess"].astype(np.complex128)

    def frame(i):
        x, y = a["xcoords"][i], a["ycoords"][i]
        row, col = int(np.floor(y)), int(np.floor(x))
        shifted = np.fft.ifft2(ndimage.fourier_shift(np.fft.fft2(probe), (y - row, x - col)))
        patch = obj[row - 32 : row + 32, col - 32 : col + 32]
        return np.abs(np.fft.fftshift(np.fft.fft2(shifted * patch)))

    expected = np.stack([frame(i) for i in (0, 7, N_SMALL // 2, N_SMALL - 1)])
    observed = a["diffraction"][[0, 7, N_SMALL // 2, N_SMALL - 1]].astype(np.float64)
    scale = observed.max() / expected.max()
    assert_allclose(observed, scale * expected, rtol=0, atol=1e-5)


def test_legacy_layout_is_hwn_float64_of_the_same_frames(tmp_path, exact_arrays):
    legacy = simulate_demo_arrays(N_SMALL, seed=0, noise="none", layout="legacy")
    assert legacy["diffraction"].shape == (64, 64, N_SMALL)
    assert legacy["diffraction"].dtype == np.float64
    assert np.array_equal(np.moveaxis(legacy["diffraction"], -1, 0).astype(np.float32), exact_arrays["diffraction"])
    path = make_demo_data(tmp_path / "legacy.npz", n_positions=N_SMALL, layout="legacy")
    assert validate_dataset(path, "legacy").ok
    data001 = validate_dataset(path)
    assert not data001.ok
    assert {f.rule for f in data001.errors} == {"dtype", "layout"}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_positions": 1}, "positions = 1"),
        ({"seed": -1}, "seed = -1"),
        ({"layout": "fortran"}, "layout 'fortran'"),
        ({"noise": "gaussian"}, "noise 'gaussian'"),
        ({"photons": 0.0}, "photons = 0.0"),
    ],
    ids=["one-position", "negative-seed", "unknown-layout", "unknown-noise", "no-photons"],
)
def test_make_demo_data_rejects_bad_arguments_before_writing(tmp_path, kwargs, match):
    with pytest.raises(UsageError, match=match):
        make_demo_data(tmp_path / "demo.npz", **kwargs)
    assert not (tmp_path / "demo.npz").exists()


def test_make_demo_data_refuses_to_overwrite_without_force(tmp_path):
    path = tmp_path / "demo.npz"
    path.write_bytes(b"keep me")
    with pytest.raises(UsageError, match="force=True"):
        make_demo_data(path, n_positions=N_SMALL)
    assert path.read_bytes() == b"keep me"
    make_demo_data(path, n_positions=N_SMALL, force=True)
    assert validate_dataset(path).ok


def test_make_demo_data_is_a_lazy_top_level_export():
    from ptyevidence import demo

    assert ptyevidence.make_demo_data is demo.make_demo_data


def test_cli_demo_data_writes_file_and_prints_digest(tmp_path, cli):
    out = tmp_path / "demo.npz"
    result = cli("demo-data", str(out), "--positions", "40", "--seed", "2")
    assert result.returncode == 0, result.stderr
    assert "40 positions" in result.stdout
    assert "seed 2" in result.stdout
    import hashlib

    assert hashlib.sha256(out.read_bytes()).hexdigest() in result.stdout
    again = cli("demo-data", str(out), "--positions", "40")
    assert again.returncode == 2
    assert again.stderr.strip().splitlines() == [
        f"ptyevidence: error: output '{out}' exists; pass --force to overwrite it"
    ]


def test_cli_demo_data_legacy_layout(tmp_path, cli):
    out = tmp_path / "legacy.npz"
    result = cli("demo-data", str(out), "--positions", "30", "--layout", "legacy", "--noise", "none")
    assert result.returncode == 0, result.stderr
    with np.load(out, allow_pickle=False) as data:
        assert data["diffraction"].shape == (64, 64, 30)
        assert data["diffraction"].dtype == np.float64


@pytest.mark.parametrize(
    "args",
    [["--positions", "1"], ["--seed", "-3"], ["--photons", "nan"], ["--layout", "hwn"]],
    ids=["positions", "seed", "photons", "layout"],
)
def test_cli_demo_data_rejects_bad_flags(tmp_path, cli, args):
    result = cli("demo-data", str(tmp_path / "x.npz"), *args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.npz").exists()
