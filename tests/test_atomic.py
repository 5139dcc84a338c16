"""Atomic output: temp file then rename, no partial files, no silent overwrite."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ptyevidence._atomic import atomic_output, check_output_path
from ptyevidence.exceptions import UsageError


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
