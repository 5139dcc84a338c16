"""One notebook run: where it reads, where it writes, and which files in its folder are its own.

A notebook starts with :func:`start_run` and writes every artifact through the :class:`NotebookRun`
it returns, which records what it wrote (name, size, modification time) in
``.ptyevidence/<notebook>.json``: a re-run into the same folder replaces its own earlier artifacts
and refuses, unless ``force``, a file it did not write or one changed since.

An empty ``out_dir`` is a temporary folder kept for the kernel's lifetime and removed when the
kernel exits (or, after a killed kernel, by the next notebook that starts one). In an IPython
kernel, a ptyevidence error shows as one line naming the notebook's parameters, no traceback.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._atomic import atomic_output, process_alive, write_artifact
from .._json import dumps_strict, read_json
from ..exceptions import PARAMETER_HINT, InputError, PtyEvidenceError, UsageError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["DEMO_NAME", "MANIFEST_DIR", "NotebookRun", "notebook_hints", "start_run", "write_artifact"]

#: Folder, inside an artifact folder, of the records of what each notebook wrote.
MANIFEST_DIR = ".ptyevidence"
#: File name of the demo dataset written into the artifact folder.
DEMO_NAME = "demo.npz"
# Temporary folders of this process, by notebook: reused by re-runs, removed at exit.
_TEMPORARY: dict[str, Path] = {}
# A temporary folder is ptyevidence-<notebook>-<pid>-<random>, marked inside as ours.
_TEMPORARY_NAME = re.compile(r"^ptyevidence-[a-z0-9_]+-(\d+)-[A-Za-z0-9_]+$")
_TEMPORARY_MARK = "temporary"


@dataclass(repr=False)
class NotebookRun:
    """The folder a notebook writes to and the artifacts it owns there.

    Attributes
    ----------
    notebook : str
        Name of the notebook (its stem), which owns the artifacts it records.
    source : str
        The dataset to read (``""`` when none was given and none simulated).
    out : pathlib.Path
        The artifact folder.
    force : bool
        Replace any file, its own or not.
    temporary : bool
        ``out`` is a temporary folder, removed when the process exits.
    reading : dict
        How ``source`` is read: the ``reader``, ``positions_from``, ``geometry``
        and ``sample_pixel_size`` given (empty, zero or absent: the defaults), as
        keyword arguments of the readers' callers.
    """

    notebook: str
    source: str
    out: Path
    force: bool
    temporary: bool
    reading: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        where = "temporary folder " if self.temporary else ""
        return f"<NotebookRun {self.notebook}: {self.source or 'no source'} -> {where}{self.out}>"

    def to_text(self) -> str:
        """Return where the run reads and writes, in two or three lines."""
        lines = [f"source:  {self.source or '(none)'}", f"out_dir: {self.out}"]
        if self.temporary:
            lines.append("         (a temporary folder, removed when the kernel stops; set out_dir to keep it)")
        return "\n".join(lines)

    def path(self, name: str) -> Path:
        """Return the path of artifact ``name`` in the folder."""
        return self.out / name

    def owns(self, name: str) -> bool:
        """Return True when this notebook wrote ``name`` and it is unchanged since."""
        entry = self._manifest().get(name)
        target = self.path(name)
        if entry is None or not target.is_file():
            return False
        stat = target.stat()
        return [stat.st_size, stat.st_mtime_ns] == entry

    @contextmanager
    def replacing(self, *names: str) -> Iterator[bool]:
        """Check that ``names`` may be (re)written; yield the ``force`` to pass; record them after.

        Raises
        ------
        UsageError
            If one exists, is not this notebook's own unchanged artifact and
            ``force`` is False.
        """
        for name in names:
            if not self.force and self.path(name).exists() and not self.owns(name):
                msg = (
                    f"'{self.path(name)}' exists and was not written by the {self.notebook} "
                    "notebook (or was changed since); pass force=True to replace it, or choose "
                    "another out_dir=..."
                )
                raise UsageError(msg)
        yield True
        self.record(*names)

    def write(self, name: str, text: str) -> str:
        """Write text artifact ``name`` (replacing this notebook's own); return its path."""
        with self.replacing(name) as force:
            return write_artifact(self.path(name), text, force=force)

    def save_figure(self, fig: Figure, stem: str, formats: Sequence[str] | None = None) -> tuple[str, ...]:
        """Write ``fig`` as ``stem.png`` (and ``.svg``) with :func:`ptyevidence.coverage.save_figure`."""
        from ..coverage.plots import FORMATS, save_figure

        formats = tuple(formats or FORMATS)
        with self.replacing(*(f"{stem}.{fmt}" for fmt in formats)) as force:
            return save_figure(fig, self.path(stem), force=force, formats=formats)

    def show_figure(self, fig: Figure, stem: str, formats: Sequence[str] | None = None) -> tuple[str, ...]:
        """Save ``fig`` like :meth:`save_figure`, then display its PNG (in IPython, at the page's width)."""
        paths = self.save_figure(fig, stem, formats)
        try:
            from IPython.display import Image, display
        except ImportError:
            return paths
        display(Image(filename=paths[0]))
        return paths

    def record(self, *names: str) -> None:
        """Record ``names`` (written by a library call) as this notebook's artifacts."""
        manifest = self._manifest()
        for name in names:
            stat = self.path(name).stat()
            manifest[name] = [stat.st_size, stat.st_mtime_ns]
        folder = self.out / MANIFEST_DIR
        folder.mkdir(exist_ok=True)
        with atomic_output(folder / f"{self.notebook}.json", "w", force=True) as fh:
            fh.write(dumps_strict(manifest, indent=1, sort_keys=True) + "\n")

    def _manifest(self) -> dict[str, list[int]]:
        path = self.out / MANIFEST_DIR / f"{self.notebook}.json"
        if not path.is_file():
            return {}
        try:
            data = read_json(path, f"record '{path}'")
        except InputError:  # a damaged record owns nothing: its files need force
            return {}
        return data if isinstance(data, dict) else {}


def start_run(
    notebook: str,
    source: str | os.PathLike = "",
    out_dir: str | os.PathLike = "",
    force: bool = False,
    simulate: bool = True,
    reader: str = "",
    positions_from: str | os.PathLike = "",
    geometry: str = "",
    sample_pixel_size: float = 0.0,
) -> NotebookRun:
    """Resolve a notebook's ``source`` and ``out_dir`` parameters and start its run.

    An empty ``out_dir`` means this process's temporary folder for the notebook; an empty ``source``
    means the demo dataset ``demo.npz`` in the folder, simulated (deterministically) unless it is there.

    Parameters
    ----------
    notebook : str
        The notebook's name (its stem).
    source : str or path
        Dataset file, or ``""`` for the demo dataset.
    out_dir : str or path
        Artifact folder (created if missing), or ``""``.
    force : bool
        Replace files the notebook did not write.
    simulate : bool
        False leaves ``source`` empty instead of simulating the demo dataset.
    reader, positions_from, geometry, sample_pixel_size : str or float
        How ``source`` is read (see :func:`ptyevidence.readers.open_source`);
        empty or 0: recognized from the file, no positions file, far-field.

    Returns
    -------
    NotebookRun

    Raises
    ------
    InputError
        If ``source`` is given but is missing or unreadable.

    Examples
    --------
    >>> run = start_run("example", simulate=False)
    >>> run.source, run.temporary, run.out.is_dir()
    ('', True, True)
    >>> start_run("example", simulate=False).out == run.out
    True
    """
    _show_errors_in_one_line()
    temporary = not str(out_dir)
    if temporary:
        out = _TEMPORARY.get(notebook)
        if out is None or not out.is_dir():
            _remove_orphans()
            out = _TEMPORARY[notebook] = _temporary_folder(notebook)
    else:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
    given = {
        "reader": reader,
        "positions_from": os.fspath(positions_from),
        "geometry": geometry,
        "sample_pixel_size": sample_pixel_size,
    }
    run = NotebookRun(notebook, "", out, bool(force), temporary, {k: v for k, v in given.items() if v})
    if str(source):
        check_source(source, **run.reading)
        run.source = os.fspath(source)
    elif simulate:
        demo = out / DEMO_NAME
        if not demo.is_file():
            from ..demo import make_demo_data

            with run.replacing(DEMO_NAME):
                make_demo_data(demo)
        run.source = os.fspath(demo)
    return run


def _temporary_folder(notebook: str) -> Path:
    """Return a new temporary folder, named after its owner process, removed when that process exits."""
    out = Path(tempfile.mkdtemp(prefix=f"ptyevidence-{notebook}-{os.getpid()}-"))
    (out / MANIFEST_DIR).mkdir()
    (out / MANIFEST_DIR / _TEMPORARY_MARK).write_text(f"{os.getpid()}\n", encoding="utf-8")
    atexit.register(shutil.rmtree, out, ignore_errors=True)
    return out


def _remove_orphans() -> None:
    """Remove the temporary folders of notebook kernels that were killed (no exit handler ran)."""
    for folder in Path(tempfile.gettempdir()).glob("ptyevidence-*-*-*"):
        match = _TEMPORARY_NAME.match(folder.name)
        if not match or not (folder / MANIFEST_DIR / _TEMPORARY_MARK).is_file():
            continue
        if not process_alive(int(match.group(1))):
            shutil.rmtree(folder, ignore_errors=True)


def check_source(
    source: str | os.PathLike,
    reader: str | None = None,
    positions_from: str | os.PathLike | None = None,
    geometry: str | None = None,
    sample_pixel_size: float | None = None,
) -> None:
    """Refuse a missing or unreadable dataset before anything is written.

    ``reader``, ``positions_from``, ``geometry`` and ``sample_pixel_size``
    are those of :func:`ptyevidence.readers.open_source`.

    Raises
    ------
    InputError
        If ``source`` is not a file a registered reader can open.
    """
    from ..readers.registry import open_source

    path = os.fspath(source)
    if not os.path.exists(path):
        msg = (
            f"source '{path}' does not exist; give a dataset file (NPZ or CXI), "
            "or leave the source out to use the demo dataset"
        )
        raise InputError(msg, path)
    if not os.path.isfile(path):
        msg = f"source '{path}' is not a file; give a dataset file (NPZ or CXI)"
        raise InputError(msg, path)
    # Headers only: an unreadable file fails here, before any artifact is written.
    open_source(path, reader, positions_from, geometry, sample_pixel_size).close()


def notebook_hints(message: str) -> str:
    """Translate the library's parameter hints (``force=True``) into the notebook's terms.

    Examples
    --------
    >>> notebook_hints("output 'a.npz' exists; pass force=True to overwrite it")
    "output 'a.npz' exists; set `force = True` in the parameters cell (papermill: -p force True) to overwrite it"
    """

    def hint(match: re.Match) -> str:
        name, value = match.groups()
        if value == "...":
            return f"`{name}` in the parameters cell (papermill: -p {name} VALUE)"
        return f"`{name} = {value}` in the parameters cell (papermill: -p {name} {value.strip(chr(39))})"

    return PARAMETER_HINT.sub(hint, re.sub(r"\bpass (?=[a-z_]+=)", "set ", message))


def _show_errors_in_one_line() -> None:
    """In an IPython kernel, show ptyevidence errors as one line (type and message), no traceback."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return

    def one_line(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> list[str]:
        stb = [f"{etype.__name__}: {notebook_hints(str(value))}"]
        # IPython leaves showing the error to the handler; the kernel's own
        # _showtraceback sends it as the cell's error (name, value, these lines).
        shell._showtraceback(etype, value, stb)
        return stb

    shell.set_custom_exc((PtyEvidenceError,), one_line)
