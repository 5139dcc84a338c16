"""Progress bars: drawn on a terminal (even one that reports no width), silent elsewhere."""

from __future__ import annotations

import fcntl
import io
import os
import struct
import termios

import pytest

from ptyevidence import _progress


@pytest.fixture
def pty_stderr(monkeypatch):
    """A fresh pseudo-terminal of 0 x 0 (resize it as needed); yield (master, slave, use).

    Call ``use()`` inside the test: pytest re-installs its own sys.stderr
    between fixture setup and the test body.
    """
    master, slave = os.openpty()
    _resize(slave, 0)  # as `script` leaves it; openpty may copy the caller's size
    stream = open(slave, "w", buffering=1, closefd=False)  # noqa: SIM115 (closed below)
    yield master, slave, lambda: monkeypatch.setattr(_progress.sys, "stderr", stream)
    monkeypatch.undo()
    stream.close()
    os.close(slave)
    os.close(master)


def _resize(fd: int, cols: int) -> None:
    """Set the terminal's width (rows fixed at 40; cols 0 means "unknown")."""
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40 if cols else 0, cols, 0, 0))


def _drain(fd: int) -> str:
    os.set_blocking(fd, False)
    chunks = []
    try:
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    except BlockingIOError:
        pass
    return b"".join(chunks).decode(errors="replace")


def test_a_terminal_without_a_width_still_gets_a_bar(pty_stderr, monkeypatch):
    master, _, use = pty_stderr
    use()
    monkeypatch.setattr(_progress, "PROGRESS_DELAY", 0.0)
    assert _progress._fallback_size() == {"ncols": 80, "nrows": 24}
    with _progress.progress_bar(1000, "validate diffraction") as bar:
        bar.update(500)
    assert "validate diffraction" in _drain(master)


def test_a_terminal_with_a_width_lets_tqdm_size_the_bar(pty_stderr):
    _, slave, use = pty_stderr
    use()
    _resize(slave, 100)
    assert _progress._fallback_size() == {}


def test_no_bar_when_standard_error_is_not_a_terminal(monkeypatch):
    buffer = io.StringIO()
    monkeypatch.setattr(_progress.sys, "stderr", buffer)
    monkeypatch.setattr(_progress, "PROGRESS_DELAY", 0.0)
    with _progress.progress_bar(1000, "validate diffraction") as bar:
        bar.update(1000)
    assert buffer.getvalue() == ""


def test_a_bar_of_files_counts_files_and_shows_the_status_text(pty_stderr, monkeypatch):
    master, slave, use = pty_stderr
    use()
    _resize(slave, 120)
    monkeypatch.setattr(_progress, "PROGRESS_DELAY", 0.0)
    with _progress.progress_bar(10, "audit", unit="file") as bar:
        bar.update(3)
        bar.set_postfix_str("pass 2 fail 1")
    drawn = _drain(master)
    assert "3/10" in drawn
    assert "file/s" in drawn
    assert "pass 2 fail 1" in drawn
    assert "KiB" not in drawn


def test_the_silent_bar_takes_status_text(monkeypatch):
    buffer = io.StringIO()
    monkeypatch.setattr(_progress.sys, "stderr", buffer)
    with _progress.progress_bar(10, "audit", unit="file") as bar:
        bar.update(1)
        bar.set_postfix_str("pass 1")
    assert buffer.getvalue() == ""
