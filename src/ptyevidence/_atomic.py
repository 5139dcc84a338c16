"""Write output files atomically: temporary file in the same folder, then rename.

Nothing is left at the destination when writing fails, an existing file is
replaced only with ``force``, and an output may never be one of the inputs.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from .exceptions import UsageError

__all__ = ["atomic_output", "check_output_path", "make_folders", "remove_folders"]


def check_output_path(
    path: str | os.PathLike, force: bool = False, inputs: Iterable[str | os.PathLike] = (),
    create: bool = False,
) -> str:
    """Check that ``path`` can be written; return it as a string.

    With ``create``, a missing folder is fine when its nearest existing
    ancestor is a writable folder (:func:`make_folders` creates it later).

    Raises
    ------
    UsageError
        If the folder is missing (without ``create``) or not writable, a
        parent is a file, the path is a folder, it exists and ``force`` is
        False, or it is one of ``inputs``.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    for src in inputs:
        if src is not None and os.path.exists(src) and os.path.exists(path) and os.path.samefile(src, path):
            msg = f"output '{path}' is the input '{os.fspath(src)}'; choose another output path"
            raise UsageError(msg)
        if src is not None and os.path.abspath(os.fspath(src)) == os.path.abspath(path):
            msg = f"output '{path}' is the input '{os.fspath(src)}'; choose another output path"
            raise UsageError(msg)
    existing = folder
    while create and not os.path.exists(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)
    if os.path.exists(existing) and not os.path.isdir(existing):
        msg = f"output folder '{folder}' cannot be made: '{existing}' is a file; choose another path"
        raise UsageError(msg)
    if not os.path.isdir(existing):
        msg = f"output folder '{folder}' does not exist; create it first"
        raise UsageError(msg)
    if existing != folder:
        return path if _creation_problem(existing) is None else _unwritable(existing)
    problem = _creation_problem(folder)
    if problem:
        msg = f"output folder '{folder}' is not writable ({problem}); choose another folder"
        raise UsageError(msg)
    if os.path.isdir(path):
        msg = f"output '{path}' is a folder; give a file path"
        raise UsageError(msg)
    if os.path.exists(path) and not force:
        msg = f"output '{path}' exists; pass force=True to overwrite it"
        raise UsageError(msg)
    return path


def _unwritable(folder: str) -> str:
    msg = f"output folder '{folder}' is not writable ({_creation_problem(folder)}); choose another folder"
    raise UsageError(msg)


def make_folders(paths: Iterable[str | os.PathLike]) -> list[str]:
    """Create the missing folders of ``paths``; return those created, deepest first.

    The caller removes them again (:func:`remove_folders`) when its output
    set fails, so a failure leaves nothing behind.
    """
    made: list[str] = []
    for path in paths:
        folder = os.path.dirname(os.path.abspath(os.fspath(path)))
        missing = []
        while not os.path.exists(folder):
            missing.append(folder)
            folder = os.path.dirname(folder)
        for new in reversed(missing):
            os.mkdir(new)
            made.insert(0, new)
    return made


def remove_folders(folders: Iterable[str]) -> None:
    """Remove folders made by :func:`make_folders` that are still empty, deepest first."""
    for folder in folders:
        try:
            os.rmdir(folder)
        except OSError:
            pass


def _creation_problem(folder: str) -> str | None:
    """Return why a file cannot be created in ``folder``, or None if it can.

    A real attempt, because permission bits do not bind root while a
    read-only mount or a kernel filesystem (sysfs, procfs) still refuses.
    """
    try:
        fd, probe = tempfile.mkstemp(prefix=".ptyevidence-probe.", dir=folder)
    except OSError as exc:
        return exc.strerror or str(exc)
    os.close(fd)
    os.unlink(probe)
    return None


@contextmanager
def atomic_output(path: str | os.PathLike, mode: str = "wb") -> Iterator:
    """Open a temporary file beside ``path``; rename it over ``path`` on success.

    Parameters
    ----------
    path : str or path
        Final destination (checked with :func:`check_output_path` first).
    mode : {"wb", "w"}
        Binary or text.

    Yields
    ------
    file object
        Write to it; on an exception the temporary file is removed.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, mode, **({"encoding": "utf-8", "newline": "\n"} if "b" not in mode else {})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
