"""Write output files atomically, alone or as a set that is published together.

Each output is written to a temporary file beside it, ``.<name>.<pid>.<token>.part``,
and renamed over it once complete. The files of one run (a fixture's NPZ,
sidecar and notes) form an :class:`OutputSet`, published under an advisory
lock on its first file (``fcntl.flock`` on ``.<name>.lock`` beside it). The
check that nothing would be overwritten without ``force`` and every rename
happen inside the lock, so a second writer waits and then finds either no set
or a complete one, and a reader holding the lock shared (:func:`reading_lock`)
sees the old set or the new one, never a mix. A run that fails removes only its
own temporaries; the next run on an output removes those its dead writers
(killed with SIGKILL) left behind. An output may never be one of the inputs.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from typing import IO, Any

from .exceptions import OutputError, UsageError

try:  # POSIX only; elsewhere sets are still written atomically, one file at a time.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = [
    "OutputSet",
    "atomic_output",
    "check_output_path",
    "make_folders",
    "os_error_reason",
    "output_set",
    "process_alive",
    "reading_lock",
    "remove_folders",
    "write_artifact",
]

#: Temporary names: ``.<name>.<pid>.<token>.part`` (the pid tells a dead writer's leftovers).
_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.(?P<token>[0-9a-f]{8})\.part$")
_PROBE_PREFIX = ".ptyevidence-probe"


def check_output_path(
    path: str | os.PathLike,
    force: bool = False,
    inputs: Iterable[str | os.PathLike] = (),
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
    for src in (s for s in inputs if s is not None):
        same_file = os.path.exists(src) and os.path.exists(path) and os.path.samefile(src, path)
        if same_file or os.path.abspath(os.fspath(src)) == os.path.abspath(path):
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
    problem = _creation_problem(existing)
    if problem:
        msg = f"output folder '{existing}' is not writable ({problem}); choose another folder"
        raise UsageError(msg)
    if existing != folder:
        return path
    if os.path.isdir(path):
        msg = f"output '{path}' is a folder; give a file path"
        raise UsageError(msg)
    if os.path.exists(path) and not force:
        msg = f"output '{path}' exists; pass force=True to overwrite it"
        raise UsageError(msg)
    return path


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
        with suppress(OSError):
            os.rmdir(folder)


def _creation_problem(folder: str) -> str | None:
    """Return why a file cannot be created in ``folder``, or None if it can.

    A real attempt, because permission bits do not bind root while a
    read-only mount or a kernel filesystem (sysfs, procfs) still refuses.
    """
    probe = os.path.join(folder, f"{_PROBE_PREFIX}.{os.getpid()}.{secrets.token_hex(4)}.part")
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        return exc.strerror or str(exc)
    os.close(fd)
    os.unlink(probe)
    return None


def os_error_reason(exc: OSError) -> str:
    """Return why an OS call failed, with the error's symbolic name: ``No space left on device (ENOSPC)``."""
    name = errno.errorcode.get(exc.errno or 0)
    return f"{exc.strerror or exc}" + (f" ({name})" if name else "")


def _output_error(exc: OSError, operation: str, path: str) -> OutputError:
    """One line naming what was being done to which file, and why it failed."""
    hint = (
        "; free some space or choose another folder" if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) else ""
    )
    return OutputError(f"cannot {operation} '{path}': {os_error_reason(exc)}{hint}", path, operation)


@contextmanager
def _naming(operation: str, path: str) -> Iterator[None]:
    """Raise an OS error inside the block as the :class:`OutputError` naming ``operation`` and ``path``."""
    try:
        yield
    except OSError as exc:
        raise _output_error(exc, operation, path) from None


class _NamedWrites:
    """A file object whose write errors name the output (the OS names no file for them)."""

    def __init__(self, fh: IO, path: str) -> None:
        self._fh, self._path = fh, path

    def write(self, data: Any) -> int:
        with _naming("write", self._path):
            return self._fh.write(data)

    def flush(self) -> None:
        with _naming("write", self._path):
            self._fh.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fh, name)

    def __iter__(self) -> Iterator:
        return iter(self._fh)


class OutputSet:
    """Files written to temporaries and published together by :meth:`commit`.

    Parameters
    ----------
    paths : sequence of str or path
        The outputs; the first one names the lock.
    force : bool
        Replace outputs that exist.
    inputs : iterable of paths
        Files no output may be.
    """

    def __init__(
        self,
        paths: Sequence[str | os.PathLike],
        force: bool = False,
        inputs: Iterable[str | os.PathLike] = (),
    ) -> None:
        self.paths = [os.fspath(p) for p in paths]
        self.force = force
        self.inputs = [os.fspath(p) for p in inputs if p is not None]
        self._temps: dict[str, str] = {}
        for path in self.paths:
            remove_stale_temporaries(path)

    def temp(self, path: str | os.PathLike) -> str:
        """Return the temporary file that will become ``path`` (created empty, named by this pid)."""
        path = os.fspath(path)
        if path not in self.paths:
            msg = f"'{path}' is not one of this set's outputs {self.paths}"
            raise ValueError(msg)
        if path not in self._temps:
            tmp = _temp_name(path)
            with _naming("create a temporary file for", path):
                os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            self._temps[path] = tmp
        return self._temps[path]

    @contextmanager
    def open(self, path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
        """Open the temporary file of ``path`` for writing (``"wb"`` or ``"w"``); synced on close."""
        path = os.fspath(path)
        tmp = self.temp(path)
        text = {} if "b" in mode else {"encoding": "utf-8", "newline": "\n"}
        fh = open(tmp, mode, **text)  # noqa: SIM115 - closed below, its errors named
        try:
            yield _NamedWrites(fh, path)
            with _naming("write", path):
                fh.flush()
                os.fsync(fh.fileno())
        except BaseException:
            with suppress(OSError):  # closing flushes again: keep the first error, not its echo
                fh.close()
            raise
        with _naming("write", path):
            fh.close()

    def commit(self) -> None:
        """Publish every temporary under the lock: check the outputs again, then rename each.

        Raises
        ------
        UsageError
            If an output appeared meanwhile (and ``force`` is False) or is an input;
            nothing is published then, and nobody else's file is touched.
        OutputError
            If a rename fails.
        """
        with ExitStack() as stack:
            with _naming("lock", self.paths[0]):
                stack.enter_context(_lock(self.paths[0], shared=False))
            for path in self.paths:
                check_output_path(path, self.force, self.inputs)
            self._publish()
            _sync_folder(os.path.dirname(os.path.abspath(self.paths[0])))

    def _publish(self) -> None:
        """Rename every temporary onto its output; if one rename fails, put the old set back."""
        done: list[tuple[str, str | None]] = []  # (output, hard link to what it replaced)
        try:
            for path in self.paths:
                tmp = self.temp(path)
                backup = None
                if len(self.paths) > 1 and os.path.exists(path):
                    backup = _temp_name(path)
                    try:
                        os.link(path, backup)
                    except OSError:
                        backup = None  # no hard links here: that file cannot be put back
                try:
                    os.chmod(tmp, 0o644)
                    os.replace(tmp, path)
                except OSError as exc:
                    if backup:
                        os.unlink(backup)
                    raise _output_error(exc, "rename a temporary file onto", path) from None
                del self._temps[path]
                done.append((path, backup))
        except BaseException:
            for path, backup in reversed(done):
                with suppress(OSError):
                    if backup:
                        os.replace(backup, path)
                    else:
                        os.unlink(path)
            raise
        finally:
            for _, backup in done:
                if backup and os.path.exists(backup):
                    os.unlink(backup)

    def discard(self) -> None:
        """Remove the temporaries not yet published (only this run's own)."""
        for tmp in self._temps.values():
            with suppress(FileNotFoundError):
                os.unlink(tmp)
        self._temps.clear()


@contextmanager
def output_set(
    paths: Sequence[str | os.PathLike], force: bool = False, inputs: Iterable[str | os.PathLike] = ()
) -> Iterator[OutputSet]:
    """Write several outputs as one unit: all of them published, or none.

    Yields
    ------
    OutputSet
        Write each output through :meth:`OutputSet.open` (or into
        :meth:`OutputSet.temp`); on a clean exit the set is committed, on an
        exception its temporaries are removed.
    """
    outputs = OutputSet(paths, force, inputs)
    try:
        yield outputs
        outputs.commit()
    finally:
        outputs.discard()


@contextmanager
def atomic_output(
    path: str | os.PathLike,
    mode: str = "wb",
    force: bool = False,
    inputs: Iterable[str | os.PathLike] = (),
) -> Iterator[IO]:
    """Open a temporary file beside ``path``; publish it over ``path`` on success.

    Parameters
    ----------
    path : str or path
        Final destination (checked with :func:`check_output_path` first, and
        again inside the lock when it is published).
    mode : {"wb", "w"}
        Binary or text.
    force : bool
        Replace ``path`` if it exists by then.
    inputs : iterable of paths
        Files ``path`` may not be.

    Yields
    ------
    file object
        Write to it; on an exception the temporary file is removed.
    """
    with output_set([path], force, inputs) as outputs, outputs.open(path, mode) as fh:
        yield fh


def write_artifact(path: str | os.PathLike, text: str, force: bool = False) -> str:
    """Write a text artifact (Markdown, JSON, CSV, HTML) atomically, UTF-8, Unix line ends.

    Parameters
    ----------
    path : str or path
        Destination; its folder must exist.
    text : str
        Content.
    force : bool
        Replace an existing file.

    Returns
    -------
    str
        The path written.

    Raises
    ------
    UsageError
        If the file exists and ``force`` is False, or the folder is missing.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = tempfile.mkdtemp()
    >>> path = write_artifact(os.path.join(folder, "note.md"), "# Note")
    >>> pathlib.Path(path).read_text(encoding="utf-8")
    '# Note'
    """
    path = check_output_path(path, force=force)
    with atomic_output(path, "w", force=force) as fh:
        fh.write(text)
    return path


def remove_stale_temporaries(path: str | os.PathLike) -> list[str]:
    """Remove the temporaries of ``path`` whose writer is no longer running; return them.

    Parameters
    ----------
    path : str or path
        An output; its temporaries are ``.<name>.<pid>.<token>.part`` beside it.

    Returns
    -------
    list of str
        The files removed.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    name = os.path.basename(path)
    removed = []
    try:
        entries = os.listdir(folder)
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP.match(entry)
        if not match or match["name"] not in (name, _PROBE_PREFIX[1:]) or process_alive(int(match["pid"])):
            continue
        try:
            os.unlink(os.path.join(folder, entry))
            removed.append(os.path.join(folder, entry))
        except OSError:
            continue  # another run removed it first, or the folder is read-only
    return removed


def _temp_name(path: str) -> str:
    """Return a fresh temporary name beside ``path``, carrying this process's pid."""
    folder = os.path.dirname(os.path.abspath(path))
    return os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.{secrets.token_hex(4)}.part")


def process_alive(pid: int) -> bool:
    """Return True unless process ``pid`` is known to have ended (another user's process counts as alive)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process (or a pid no process can have)
    return True


@contextmanager
def reading_lock(path: str | os.PathLike) -> Iterator[None]:
    """Hold the lock of output ``path`` shared while reading its set; no lock where none can be made.

    A writer publishing a set holds it exclusively, so a reader inside this
    block sees one complete set.
    """
    with ExitStack() as stack:
        with suppress(OSError):  # a read-only folder: nothing can be publishing there
            stack.enter_context(_lock(os.fspath(path), shared=True))
        yield


@contextmanager
def _lock(path: str, shared: bool) -> Iterator[None]:
    """``flock`` the lock file beside ``path``; the last holder removes it.

    The lock file is removed while still locked, so a waiter that then gets
    the lock on the removed file sees that its inode is gone and starts over
    on the current one; no lock file outlives the runs that used it.
    """
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    lock = os.path.join(os.path.dirname(os.path.abspath(path)), f".{os.path.basename(path)}.lock")
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            try:
                current = os.stat(lock)
            except FileNotFoundError:
                current = None
            held = os.fstat(fd)
        except BaseException:
            os.close(fd)
            raise
        if current is not None and (current.st_ino, current.st_dev) == (held.st_ino, held.st_dev):
            break
        os.close(fd)
    try:
        yield
    finally:
        try:
            with suppress(OSError):
                if shared:
                    # Only the last reader removes the file: a writer or reader still holding it
                    # keeps the exclusive request from being granted.
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                os.unlink(lock)
        finally:
            os.close(fd)


def _sync_folder(folder: str) -> None:
    """Make the renames durable (best effort: some filesystems cannot sync a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
