"""Reports of several sources: one folder each, one gap matrix, one landing page.

:func:`render_reports` renders one report per source, here or as dask tasks (the engine of
``ptyevidence audit``); the gap matrix, which depends on the contracts and not on the data, is
rendered once into the parent folder (unless ``observe`` runs PtychoPINN on each fixture), whose
``index.html`` has one row per source. Progress lines name their source and are written whole, so
reports rendered at the same time never mix their lines. :func:`read_source_list` reads a list file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from .._atomic import write_artifact
from ..exceptions import InputError, PtyEvidenceError, UsageError
from .html import batch_index_html, page_name
from .run import DEMO_NAME
from .runner import (
    GAP_MARKDOWN,
    GAP_NOTEBOOK,
    INDEX_NAME,
    ReportResult,
    _log_stderr,
    _shown,
    check_out_dir,
    default_out_dir,
    render_gap_matrix,
    render_report,
)

__all__ = ["read_source_list", "render_reports"]

# Options of render_report naming files: absolute before they travel to a worker of an existing
# cluster, whose working directory may be another one (its workers see the files at the same paths).
_PATH_OPTIONS = ("positions_from", "notebooks", "python", "ptychopinn", "contract")
_Outcome = tuple[str, "ReportResult | PtyEvidenceError"]


def read_source_list(path: str | os.PathLike) -> list[str]:
    r"""Return the sources a list file names, one per line, relative ones resolved against its folder.

    Blank lines and ``#`` lines are skipped; every other line, stripped, is a dataset path, a relative
    one joined to the list's folder as given (a relative list gives paths relative to the working directory).

    Parameters
    ----------
    path : str or path
        The list, UTF-8 text.

    Returns
    -------
    list of str
        The sources, in the list's order, normalized (``a/../b.npz`` is ``b.npz``).

    Raises
    ------
    InputError
        If the list cannot be read, names no source, or a line names a path
        that is not a readable file (the message gives the line number).

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> (folder / "a.npz").write_bytes(b"")
    0
    >>> _ = (folder / "list.txt").write_text("# scans\n\na.npz\n")
    >>> [Path(p).name for p in read_source_list(folder / "list.txt")]
    ['a.npz']
    """
    name = os.fspath(path)
    try:
        text = Path(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        msg = f"source list '{name}' does not exist; give a text file naming one dataset per line"
        raise InputError(msg, name) from None
    except UnicodeDecodeError:
        msg = f"source list '{name}' is not UTF-8 text; give a text file naming one dataset per line"
        raise InputError(msg, name) from None
    except OSError as exc:
        msg = f"source list '{name}' cannot be read ({exc.strerror or exc}); check its permissions"
        raise InputError(msg, name) from None
    folder = os.path.dirname(name)
    sources = []
    for number, line in enumerate(text.splitlines(), 1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        source = os.path.normpath(os.path.join(folder, os.path.expanduser(entry)))
        if not os.path.isfile(source) or not os.access(source, os.R_OK):
            what = "does not exist" if not os.path.exists(source) else "is not a readable file"
            msg = f"source list '{name}' line {number}: '{entry}' {what} (as '{source}'); fix or remove the line"
            raise InputError(msg, name)
        sources.append(source)
    if not sources:
        msg = f"source list '{name}' names no source; write one dataset path per line"
        raise InputError(msg, name)
    return sources


def render_reports(
    sources: Sequence[str | os.PathLike | None],
    out: str | os.PathLike | None = None,
    jobs: int = 1,
    log: Callable[[str], None] | None = None,
    scheduler: str | None = None,
    **kwargs: Any,
) -> list[tuple[str, ReportResult | PtyEvidenceError]]:
    """Render one report per source: here one after the other, or one dask task per source.

    With one source, ``out`` is its artifact folder. With several, each
    report goes to ``out/<source-stem>`` (default ``artifacts/<source-stem>``),
    the gap matrix once to ``out`` and ``out/index.html``, written when every
    report has finished, lists every source.

    Parameters
    ----------
    sources : sequence of str, path or None
        Dataset files (None: the demo dataset).
    out : str or path, optional
        Artifact folder (one source) or parent folder (several).
    jobs : int
        1 renders the reports in this process, one after the other; K > 1
        renders K at a time on a local dask cluster of K worker processes.
    log : callable, optional
        Receives progress lines, each naming its source.
    scheduler : str, optional
        Address of an existing dask cluster's scheduler (``tcp://host:8786``)
        to render on instead; its workers must see the files at the same
        paths and run this version of ptyevidence.
    **kwargs
        Passed to :func:`~ptyevidence.report.render_report`.

    Returns
    -------
    list of (str, ReportResult or PtyEvidenceError)
        Per source, in the given order: the result, or the error it raised.

    Raises
    ------
    UsageError
        If two sources would share an artifact folder, ``jobs`` < 1, the
        parent folder holds an earlier report without ``force``, or the dask
        cluster cannot be used (checked before anything is written).
    PipelineUnavailableError
        With ``observe``, if the interpreter cannot import PtychoPINN,
        TensorFlow or PyTorch.
    """
    if jobs < 1:
        msg = f"jobs={jobs} is not a positive number of processes"
        raise UsageError(msg)
    log = log or _log_stderr
    folders = _output_folders(sources, out)
    labels = [os.fspath(s) if s is not None else DEMO_NAME for s in sources]
    on_cluster = jobs > 1 or scheduler is not None
    if len(sources) == 1 and not on_cluster:
        try:
            return [(labels[0], render_report(sources[0], folders[0], log=log, **kwargs))]
        except PtyEvidenceError as exc:
            return [(labels[0], exc)]
    if on_cluster:
        from .._cluster import require_dask

        require_dask("rendering several reports at once")
    observe = bool(kwargs.get("observe"))
    if observe:
        from ..gap.observe import check_interpreter

        check_interpreter(kwargs.get("python"), kwargs.get("ptychopinn"))
    base = Path(out) if out is not None else Path("artifacts")
    batch = len(sources) > 1
    if batch:
        parent = [INDEX_NAME, GAP_NOTEBOOK, *GAP_MARKDOWN, *(page_name(n) for n in GAP_MARKDOWN)]
        check_out_dir(base, kwargs.get("force", False), parent)
    with _engine(jobs, scheduler, log) as render:
        # Observed, the gap matrix holds each fixture's run: every report renders its own.
        if batch and not observe:
            gap_options = {k: kwargs[k] for k in ("force", "notebooks") if k in kwargs}
            render_gap_matrix(base, log=lambda line: log(f"[report-wide] {line}"), progress=False, **gap_options)
            kwargs = {**kwargs, "gap_dir": os.fspath(base.absolute())}
        results = render(labels, sources, folders, kwargs)
    if batch:
        rows = [
            (
                label,
                os.path.relpath(folder, base),
                outcome.summary if isinstance(outcome, ReportResult) else str(outcome),
            )
            for (label, outcome), folder in zip(results, folders)
        ]
        gap = (
            None
            if observe
            else {"html": Path(GAP_NOTEBOOK).with_suffix(".html").name, "md": page_name(GAP_MARKDOWN[0])}
        )
        write_artifact(base / INDEX_NAME, batch_index_html(rows, gap), force=True)
        log(f"index of {len(rows)} reports: {base / INDEX_NAME}")
    return results


@contextmanager
def _engine(jobs: int, scheduler: str | None, log: Callable[[str], None]) -> Iterator[Callable[..., list[_Outcome]]]:
    """Yield the function rendering the reports: in this process, or as tasks on a dask cluster.

    The cluster is reached (or started) on entry, before anything is written.
    """
    if jobs == 1 and scheduler is None:
        yield lambda labels, sources, folders, kwargs: [
            _render_one(label, src, folder, kwargs, log) for label, src, folder in zip(labels, sources, folders)
        ]
        return
    from .._cluster import dask_client

    with dask_client(None if scheduler else jobs, scheduler) as client:
        yield partial(_render_on_cluster, client, log=log, absolute=scheduler is not None)


def _render_one(label: str, source: Any, folder: Path, kwargs: dict[str, Any], log: Callable[[str], None]) -> _Outcome:
    try:
        return label, render_report(source, folder, log=lambda line: log(f"[{label}] {line}"), **kwargs)
    except PtyEvidenceError as exc:
        return label, exc


def _render_on_cluster(
    client: Any,
    labels: list[str],
    sources: Sequence[Any],
    folders: list[Path],
    kwargs: dict[str, Any],
    log: Callable[[str], None],
    absolute: bool,
) -> list[_Outcome]:
    """Submit one task per report; collect the outcomes as they arrive, return them in order.

    With ``absolute``, paths travel absolute (the workers of a local cluster
    share this working directory: the reports record the paths as given).
    """
    from distributed import as_completed

    kwargs = {**kwargs, "progress": False}
    targets = folders
    if absolute:
        kwargs.update(
            {
                k: os.path.abspath(v)
                for k, v in kwargs.items()
                if k in _PATH_OPTIONS and isinstance(v, (str, os.PathLike)) and os.path.exists(v)
            }
        )
        sources = [None if src is None else os.path.abspath(src) for src in sources]
        targets = [folder.absolute() for folder in folders]
    futures = [
        client.submit(_render_in_worker, label, src, folder, kwargs, pure=False)
        for label, src, folder in zip(labels, sources, targets)
    ]
    for label in labels:
        log(f"[{label}] queued")
    position = {future.key: i for i, future in enumerate(futures)}
    outcomes: list[ReportResult | PtyEvidenceError | None] = [None] * len(futures)
    for future, result in as_completed(futures, with_results=True, raise_errors=False):
        i = position[future.key]
        if future.status == "finished":
            report, error = result
            outcomes[i] = report if error is None else _rebuild_error(*error)
            if report is not None:  # as seen from here, not from the worker's directory
                report.out_dir = _shown(folders[i].absolute())
        else:
            outcomes[i] = _rebuild_error(_task_failure(future, labels[i]), 3)
        future.release()
        log(f"[{labels[i]}] {'written' if isinstance(outcomes[i], ReportResult) else 'failed'}")
    return list(zip(labels, outcomes))


def _task_failure(future: Any, label: str) -> str:
    """Say why the task of a report did not finish (its worker died, the scheduler went away...)."""
    from distributed.scheduler import KilledWorker

    if future.cancelled():
        return f"the report of '{label}' was not finished: the connection to the dask scheduler was lost"
    error = future.exception()
    if isinstance(error, KilledWorker):
        return f"the report of '{label}' killed its worker process twice (a crash, or out of memory); render it alone"
    return f"the report of '{label}' failed on its worker: {type(error).__name__}: {error}"


def _render_in_worker(
    label: str, source: str | os.PathLike | None, folder: Path, kwargs: dict[str, Any]
) -> tuple[ReportResult | None, tuple[str, int] | None]:
    """Run :func:`render_report` in a worker; return errors as plain data (picklable)."""
    outcome = _render_one(label, source, folder, kwargs, _log_stderr)[1]
    if isinstance(outcome, PtyEvidenceError):
        return None, (str(outcome), outcome.exit_code)
    return outcome, None


def _rebuild_error(message: str, exit_code: int) -> PtyEvidenceError:
    error = PtyEvidenceError(message)
    error.exit_code = exit_code
    return error


def _output_folders(sources: Sequence[str | os.PathLike | None], out: str | os.PathLike | None) -> list[Path]:
    if len(sources) == 1:
        return [Path(out) if out is not None else default_out_dir(sources[0])]
    base = Path(out) if out is not None else Path("artifacts")
    folders = [base / default_out_dir(s).name for s in sources]
    seen: dict[Path, str] = {}
    for src, folder in zip(sources, folders):
        label = os.fspath(src) if src is not None else DEMO_NAME
        if folder in seen:
            msg = (
                f"sources '{seen[folder]}' and '{label}' would share the artifact folder "
                f"'{folder}'; rename one, or render them in separate calls with out=..."
            )
            raise UsageError(msg)
        seen[folder] = label
    return folders
