"""A notebook's run: its folder, the artifacts it owns there, errors in its parameters."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from ptyevidence.exceptions import InputError, UsageError
from ptyevidence.report import run as _run
from ptyevidence.report.run import MANIFEST_DIR, notebook_hints, start_run


def test_an_empty_out_dir_is_one_temporary_folder_per_notebook_reused_by_reruns():
    first = start_run("t_reuse", simulate=False)
    assert first.temporary
    assert first.out.is_dir()
    assert start_run("t_reuse", simulate=False).out == first.out
    assert start_run("t_other", simulate=False).out != first.out
    assert "removed when the kernel stops" in first.to_text()


def test_the_demo_dataset_is_simulated_once_into_the_folder(tmp_path):
    run = start_run("t_demo", out_dir=tmp_path)
    assert run.source == str(tmp_path / "demo.npz")
    stamp = os.stat(run.source).st_mtime_ns
    assert start_run("t_demo", out_dir=tmp_path).source == run.source
    assert os.stat(run.source).st_mtime_ns == stamp


def test_a_missing_source_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        start_run("t_missing", tmp_path / "nope.npz", tmp_path / "out")


def test_a_rerun_replaces_its_own_artifacts(tmp_path):
    run = start_run("t_own", out_dir=tmp_path, simulate=False)
    run.write("note.md", "first")
    # A second run (another kernel, other parameters) into the same folder.
    again = start_run("t_own", out_dir=tmp_path, simulate=False)
    again.write("note.md", "second")
    assert (tmp_path / "note.md").read_text() == "second"
    assert (tmp_path / MANIFEST_DIR / "t_own.json").is_file()


def test_files_the_notebook_did_not_write_are_refused_without_force(tmp_path):
    (tmp_path / "note.md").write_text("mine")
    run = start_run("t_foreign", out_dir=tmp_path, simulate=False)
    with pytest.raises(UsageError, match="not written by the t_foreign notebook.*force=True"):
        run.write("note.md", "theirs")
    assert (tmp_path / "note.md").read_text() == "mine"
    # Another notebook's artifact is not this one's either.
    start_run("t_writer", out_dir=tmp_path, simulate=False).write("other.md", "x")
    with pytest.raises(UsageError, match="not written by the t_foreign notebook"):
        run.write("other.md", "y")
    forced = start_run("t_foreign", out_dir=tmp_path, force=True, simulate=False)
    forced.write("note.md", "theirs")
    assert (tmp_path / "note.md").read_text() == "theirs"


def test_an_artifact_changed_since_it_was_written_is_not_replaced(tmp_path):
    run = start_run("t_changed", out_dir=tmp_path, simulate=False)
    run.write("note.md", "written")
    time.sleep(0.01)
    (tmp_path / "note.md").write_text("edited by hand")
    with pytest.raises(UsageError, match="or was changed since"):
        run.write("note.md", "again")
    assert (tmp_path / "note.md").read_text() == "edited by hand"


def test_library_writers_get_force_for_the_runs_own_files(tmp_path):
    from matplotlib.figure import Figure

    run = start_run("t_figure", out_dir=tmp_path, simulate=False)
    fig = Figure()
    fig.add_subplot().plot([0, 1])
    assert run.save_figure(fig, "plot", ["png"]) == (str(tmp_path / "plot.png"),)
    assert run.save_figure(fig, "plot", ["png"])  # its own: replaced
    with run.replacing("data.npy") as force:
        np.save(tmp_path / "data.npy", np.arange(3))
    assert force is True
    assert run.owns("data.npy")


def test_folders_of_killed_kernels_are_removed_by_the_next_run(tmp_path, monkeypatch):
    monkeypatch.setattr(_run.tempfile, "gettempdir", lambda: str(tmp_path))
    monkeypatch.setattr(_run.tempfile, "tempdir", str(tmp_path))
    dead = tmp_path / "ptyevidence-dataset-999999999-abc"
    (dead / MANIFEST_DIR).mkdir(parents=True)
    (dead / MANIFEST_DIR / "temporary").write_text("999999999\n")
    alive = tmp_path / f"ptyevidence-dataset-{os.getpid()}-def"
    (alive / MANIFEST_DIR).mkdir(parents=True)
    (alive / MANIFEST_DIR / "temporary").write_text(f"{os.getpid()}\n")
    unmarked = tmp_path / "ptyevidence-dataset-999999998-ghi"
    unmarked.mkdir()
    monkeypatch.setattr(_run, "_TEMPORARY", {})
    run = start_run("t_reaper", simulate=False)
    assert run.out.parent == tmp_path
    assert not dead.exists()
    assert alive.exists()
    assert unmarked.exists()


def test_hints_speak_in_notebook_parameters():
    text = notebook_hints("'a' exists; pass force=True to replace it, or choose another out_dir=...")
    assert "set `force = True` in the parameters cell (papermill: -p force True)" in text
    assert "`out_dir` in the parameters cell (papermill: -p out_dir VALUE)" in text
    assert notebook_hints("subset_size=8 is below 16") == (
        "`subset_size = 8` in the parameters cell (papermill: -p subset_size 8) is below 16"
    )
