"""Atomic output: temp file then rename, no partial files, no silent overwrite."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ptyevidence._atomic import (
    atomic_output,
    check_output_path,
    output_set,
    reading_lock,
)
from ptyevidence.exceptions import OutputError, UsageError


def _listing(folder) -> list[str]:
    return sorted(os.listdir(folder))


# -- check_output_path --------------------------------------------------------------


def test_new_path_is_accepted_and_returned_as_str(tmp_path):
    """A path that does not exist yet, in an existing folder, is fine."""
    assert check_output_path(tmp_path / "out.json") == str(tmp_path / "out.json")


def test_existing_output_is_refused_without_force(tmp_path):
    """An existing file is only replaced with force."""
    out = tmp_path / "out.json"
    out.write_text("old")
    with pytest.raises(UsageError, match=r"out\.json' exists; pass force=True"):
        check_output_path(out)
    assert check_output_path(out, force=True) == str(out)
    assert out.read_text() == "old"  # checking never writes


@pytest.mark.parametrize(
    "spelling",
    [
        pytest.param(lambda p: p, id="same-path"),
        pytest.param(lambda p: p.parent / "." / p.name, id="dot-segment"),
        pytest.param(lambda p: Path(os.path.relpath(p)), id="relative"),
        pytest.param("symlink", id="symlink"),
    ],
)
def test_output_equal_to_an_input_is_refused_even_with_force(tmp_path, spelling):
    """An output may never overwrite one of its inputs, however it is spelled."""
    source = tmp_path / "data.npz"
    source.write_bytes(b"source")
    if spelling == "symlink":
        out = tmp_path / "link.npz"
        out.symlink_to(source)
    else:
        out = spelling(source)
    with pytest.raises(UsageError, match="is the input"):
        check_output_path(out, force=True, inputs=[source])
    assert source.read_bytes() == b"source"


def test_inputs_that_are_other_files_do_not_matter(tmp_path):
    """Listing unrelated inputs (or None) does not block a new output."""
    other = tmp_path / "other.npz"
    other.write_bytes(b"x")
    check_output_path(tmp_path / "out.npz", inputs=[other, None, tmp_path / "absent.npz"])


def test_missing_folder_is_refused(tmp_path):
    """The output folder must exist."""
    with pytest.raises(UsageError, match="folder .* does not exist; create it first"):
        check_output_path(tmp_path / "no" / "such" / "out.json")


def test_folder_as_output_is_refused(tmp_path):
    """A folder is not an output file, even with force."""
    (tmp_path / "sub").mkdir()
    with pytest.raises(UsageError, match="is a folder"):
        check_output_path(tmp_path / "sub", force=True)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can write anywhere")
def test_read_only_folder_is_refused(tmp_path):
    """A folder without write permission is reported before any work."""
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(UsageError, match="not writable"):
            check_output_path(folder / "out.json")
    finally:
        folder.chmod(stat.S_IRWXU)


# -- atomic_output --------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "payload"), [("wb", b"\x00\x01binary"), ("w", "text\nline\n")])
def test_atomic_output_writes_the_file_and_nothing_else(tmp_path, mode, payload):
    """On success only the destination exists, holding exactly what was written."""
    out = tmp_path / "out.bin"
    with atomic_output(out, mode) as fh:
        fh.write(payload)
        assert not out.exists()  # nothing visible until the rename
    assert _listing(tmp_path) == ["out.bin"]
    written = out.read_bytes()
    assert written == (payload if mode == "wb" else payload.encode())
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


def test_text_mode_writes_unix_newlines_in_utf8(tmp_path):
    """Text outputs are UTF-8 with \\n line ends on every platform."""
    out = tmp_path / "note.md"
    with atomic_output(out, "w") as fh:
        fh.write("µm\n")
    assert out.read_bytes() == "µm\n".encode()


def _write_then_fail(out, error: BaseException) -> None:
    with atomic_output(out, "w") as fh:
        fh.write("partial")
        raise error


def test_failure_leaves_nothing_behind(tmp_path):
    """An exception while writing removes the temporary file; no destination appears."""
    out = tmp_path / "out.json"
    with pytest.raises(RuntimeError, match="disk on fire"):
        _write_then_fail(out, RuntimeError("disk on fire"))
    assert _listing(tmp_path) == []


def test_failure_keeps_the_previous_file(tmp_path):
    """A failed rewrite leaves the old file byte-identical."""
    out = tmp_path / "out.json"
    out.write_text("previous")
    with pytest.raises(KeyboardInterrupt):
        _write_then_fail(out, KeyboardInterrupt())
    assert out.read_text() == "previous"
    assert _listing(tmp_path) == ["out.json"]


def test_success_replaces_the_previous_file(tmp_path):
    """A completed write replaces the destination in one rename."""
    out = tmp_path / "out.json"
    out.write_text("previous")
    with atomic_output(out, "w", force=True) as fh:
        fh.write("new")
    assert out.read_text() == "new"
    assert _listing(tmp_path) == ["out.json"]


def test_without_force_the_exists_check_happens_again_when_publishing(tmp_path):
    """A file that appears while the output is written is not replaced; only this run's temporary goes."""
    out = tmp_path / "out.json"

    def write_while_another_run_publishes() -> None:
        with atomic_output(out, "w") as fh:
            fh.write("mine")
            out.write_text("someone else's")

    with pytest.raises(UsageError, match="exists; pass force=True"):
        write_while_another_run_publishes()
    assert out.read_text() == "someone else's"
    assert _listing(tmp_path) == ["out.json"]


# -- output sets ------------------------------------------------------------------------


def test_an_output_set_is_published_together(tmp_path):
    paths = [tmp_path / "a.npz", tmp_path / "a.json", tmp_path / "a.md"]
    with output_set(paths) as outputs:
        for path in paths:
            with outputs.open(path, "w") as fh:
                fh.write(path.name)
        assert _listing(tmp_path) == sorted(
            n for n in os.listdir(tmp_path) if n.endswith(".part")
        )  # only temporaries so far
        assert all(f".{os.getpid()}." in n for n in os.listdir(tmp_path))
    assert _listing(tmp_path) == ["a.json", "a.md", "a.npz"]
    assert [p.read_text() for p in paths] == ["a.npz", "a.json", "a.md"]


def _write_set(paths, text: str, force: bool = False, meanwhile=None) -> None:
    with output_set(paths, force=force) as outputs:
        for path in paths:
            with outputs.open(path, "w") as fh:
                fh.write(text)
        if meanwhile is not None:
            meanwhile()  # another run publishes before this one does


def test_a_losing_writer_never_removes_the_winners_files(tmp_path):
    """The set of a run that finds the outputs taken fails whole, leaving the other set intact."""
    paths = [tmp_path / "a.npz", tmp_path / "a.json"]
    with pytest.raises(UsageError, match="exists"):
        _write_set(paths, "loser", meanwhile=lambda: paths[1].write_text("winner"))
    assert not paths[0].exists()
    assert paths[1].read_text() == "winner"
    assert _listing(tmp_path) == ["a.json"]


def test_a_failed_rename_puts_the_previous_set_back(tmp_path, monkeypatch):
    paths = [tmp_path / "a.npz", tmp_path / "a.json"]
    for path in paths:
        path.write_text("old")
    real = os.replace

    def failing(src, dst):
        if os.fspath(dst) == str(paths[1]):
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(OutputError, match=r"cannot rename a temporary file onto '.*a\.json': No space left"):
        _write_set(paths, "new", force=True)
    assert [p.read_text() for p in paths] == ["old", "old"]
    assert _listing(tmp_path) == ["a.json", "a.npz"]


def test_temporaries_of_dead_writers_are_removed_by_the_next_run(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    pid = int(dead.stdout)
    stale = tmp_path / f".out.npz.{pid}.0123abcd.part"
    stale.write_bytes(b"half a file")
    alive = tmp_path / f".out.npz.{os.getppid()}.0123abcd.part"  # a running process's
    alive.write_bytes(b"being written")
    other = tmp_path / f".other.npz.{pid}.0123abcd.part"
    other.write_bytes(b"another output's")
    with atomic_output(tmp_path / "out.npz") as fh:
        fh.write(b"x")
    assert not stale.exists()
    assert alive.exists()
    assert other.exists()


def test_the_lock_file_does_not_outlive_the_run(tmp_path):
    out = tmp_path / "out.npz"
    with atomic_output(out) as fh:
        fh.write(b"x")
    with reading_lock(out):
        assert (tmp_path / ".out.npz.lock").exists()
    assert _listing(tmp_path) == ["out.npz"]


def test_a_writer_waits_for_a_reader_holding_the_set(tmp_path):
    """While a reader holds the lock shared, a set is not published under it."""
    out = tmp_path / "out.json"
    out.write_text("old")
    code = (
        "import sys; from ptyevidence._atomic import atomic_output\n"
        "with atomic_output(sys.argv[1], 'w', force=True) as fh: fh.write('new')\n"
    )
    with reading_lock(out):
        writer = subprocess.Popen([sys.executable, "-c", code, str(out)])
        deadline = time.monotonic() + 60
        while not any(n.endswith(".part") for n in os.listdir(tmp_path)) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.5)  # its temporary is written: only the lock keeps it from being published
        assert writer.poll() is None
        assert out.read_text() == "old"
    assert writer.wait(timeout=60) == 0
    assert out.read_text() == "new"
    assert _listing(tmp_path) == ["out.json"]
