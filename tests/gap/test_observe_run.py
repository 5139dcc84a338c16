"""Running the pipelines: interpreter checks, subprocesses, timeouts, failures and the output folder.

The pipelines here are a stand-in PtychoPINN checkout (``_fake_ptychopinn``)
passed with ``ptychopinn=``; the real one is exercised in ``tests/peer``.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest

from _fake_ptychopinn import make_fake
from _observe_runs import fixture_arrays
from ptyevidence import UsageError
from ptyevidence.gap.observe import (
    PipelineError,
    PipelineUnavailableError,
    check_interpreter,
    evaluate_run,
    observe,
)


@pytest.fixture
def fixture(tmp_path):
    path = tmp_path / "fixture.npz"
    np.savez(path, **fixture_arrays())
    return str(path)


def _observe(fixture, fake, out, **kw):
    return observe(fixture, ptychopinn=fake, config=["N=16"], out=out, **kw)


def test_this_interpreter_without_ptychopinn_is_named_with_what_to_pass():
    with pytest.raises(PipelineUnavailableError) as exc:
        check_interpreter(sys.executable)
    message = str(exc.value)
    assert message.startswith("PtychoPINN")
    assert "ptycho, ptycho_torch" in message
    assert "--python PATH" in message
    assert "--ptychopinn PATH" in message


def test_missing_frameworks_are_named(tmp_path):
    fake = make_fake(tmp_path / "fake")
    for name in ("tensorflow", "torch"):
        os.remove(os.path.join(fake, name, "__init__.py"))  # a bare folder is not the library
    with pytest.raises(
        PipelineUnavailableError, match=r"^TensorFlow and PyTorch not importable .*\(tensorflow, torch missing\)"
    ):
        check_interpreter(sys.executable, fake)


def test_an_interpreter_with_everything_passes_the_check(tmp_path):
    found = check_interpreter(sys.executable, make_fake(tmp_path / "fake"))
    assert found.python == sys.executable
    assert found.version == ".".join(map(str, sys.version_info[:3]))


def test_bad_interpreter_and_checkout_paths_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="is not an executable file"):
        check_interpreter(tmp_path / "python3")
    with pytest.raises(UsageError, match="has no ptycho/__init__.py"):
        check_interpreter(sys.executable, tmp_path)


def test_a_run_writes_dumps_matrix_and_record(fixture, tmp_path):
    out = tmp_path / "out"
    report = _observe(fixture, make_fake(tmp_path / "fake"), out)
    assert report.ok, report.to_text()
    assert sorted(os.listdir(out)) == ["g1", "g2", "logs", "observe.json", "observed_gap_matrix.md", "run.json"]
    assert sorted(os.listdir(out / "g2")) == ["tf_aligned.npz", "tf_container.npz", "tf_grouped.npz", "torch_mmap.npz"]
    record = json.loads((out / "run.json").read_text())
    assert record["config"]["tf"] == {"N": 16, "K": 4, "nsamples": 48, "seed": 0}
    assert record["torch"]["runs"]["1"]["config"]["DataConfig"]["grid_size"] == [1, 1]
    assert record["tf"]["runs"]["2"]["grouped"]["frameworks"]["Y"] == "tensorflow"
    assert record["torch"]["runs"]["2"]["frameworks"]["images"] == "torch"
    assert (out / "observed_gap_matrix.md").read_text() == report.to_markdown()
    # The stored run can be judged again without running anything.
    assert evaluate_run(out).to_markdown() == report.to_markdown()
    assert [p for p in os.listdir(tmp_path) if "partial" in p] == []


def test_an_existing_output_folder_needs_force(fixture, tmp_path):
    fake = make_fake(tmp_path / "fake")
    out = tmp_path / "out"
    out.mkdir()
    (out / "kept.txt").write_text("kept")
    with pytest.raises(UsageError, match="pass force=True"):  # the library's parameter; the CLI says --force
        _observe(fixture, fake, out)
    assert (out / "kept.txt").read_text() == "kept"
    _observe(fixture, fake, out, force=True, gridsizes=(1,))
    assert not (out / "kept.txt").exists()
    assert os.listdir(out / "g1")


def test_a_pipeline_that_raises_is_one_line_and_leaves_nothing(fixture, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(PipelineError) as exc:
        _observe(fixture, make_fake(tmp_path / "fake", "raise"), out)
    message = str(exc.value)
    assert message.startswith("PtychoPINN's Torch path failed on ")
    assert "ValueError: fixture has no key label at ptycho_torch/dataloader.py:" in message
    assert "\n" not in message
    assert not out.exists()
    assert sorted(os.listdir(tmp_path)) == ["fake", "fixture.npz"]


def test_a_pipeline_that_crashes_is_reported(fixture, tmp_path):
    with pytest.raises(PipelineError, match="Torch path exited with code -9"):
        _observe(fixture, make_fake(tmp_path / "fake", "crash"), tmp_path / "out")


def test_a_pipeline_that_hangs_is_stopped_at_the_timeout(fixture, tmp_path):
    fake = make_fake(tmp_path / "fake", "hang")
    with pytest.raises(PipelineError, match="did not finish within 3 s"):
        _observe(fixture, fake, tmp_path / "out", timeout=3)
    pid = int((tmp_path / "fake" / "pid.txt").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not (tmp_path / "out").exists()


def test_a_config_key_the_pipeline_lacks_is_a_usage_error(fixture, tmp_path):
    fake = make_fake(tmp_path / "fake")
    with pytest.raises(UsageError, match="'bogus' is not a field of ptycho_torch DataConfig or ModelConfig"):
        observe(fixture, ptychopinn=fake, config=["bogus=1"], out=tmp_path / "out")
    for key in ("tf.bogus", "tf.gridsize"):
        with pytest.raises(UsageError, match=f"{key} is not a settable argument"):
            observe(fixture, ptychopinn=fake, config=["N=16", f"{key}=2"], out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_configured_values_reach_the_pipelines(fixture, tmp_path):
    out = tmp_path / "out"
    report = observe(
        fixture,
        ptychopinn=make_fake(tmp_path / "fake"),
        gridsizes=(1,),
        out=out,
        config=["N=16", "nsamples=64", "ModelConfig.physics_forward_mode=rectangular_scaled"],
    )
    result = report.results[0]
    assert result.groups["tf"] == 64
    assert result.profiles["ptychopinn-torch-mmap"] == "ci"
    assert report.ok, report.to_text()


def test_arguments_are_checked_before_anything_runs(fixture, tmp_path):
    with pytest.raises(UsageError, match="gridsizes"):
        observe(fixture, gridsizes=(0,), out=tmp_path / "out")
    with pytest.raises(UsageError, match="timeout"):
        observe(fixture, timeout=0, out=tmp_path / "out")
    with pytest.raises(UsageError, match="does not exist; create it first"):
        observe(fixture, out=tmp_path / "missing" / "out")


def test_the_runner_writes_standard_json_its_caller_reads(tmp_path):
    from ptyevidence._json import read_json
    from ptyevidence.gap.observe import _runner

    path = tmp_path / "manifest.json"
    defaults = _runner._plain({"limit": float("inf"), "pair": (1.0, float("nan"))})
    _runner._write(str(path), {"defaults": defaults, "scale": np.float32(2.5)})
    assert read_json(path, "manifest") == {"defaults": {"limit": "inf", "pair": [1.0, "nan"]}, "scale": 2.5}
