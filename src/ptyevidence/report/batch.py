"""Reports of several sources: one folder each, one gap matrix, one landing page.

:func:`render_reports` renders one report per source (``jobs`` at a time,
each in its own process); with several sources the gap matrix, which
depends on the pipeline contracts and not on the data, is rendered once into
the parent folder and linked from every report, and the parent's
``index.html`` has one row per source (verdicts, coverage, links). Progress
lines name their source and are written whole, so reports rendered at the
same time never mix their lines.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..exceptions import PtyEvidenceError, UsageError
from .html import batch_index_html, page_name
from .run import DEMO_NAME, write_artifact
from .runner import (
    GAP_MARKDOWN,
    GAP_NOTEBOOK,
    INDEX_NAME,
    ReportResult,
    _log_stderr,
    check_out_dir,
    default_out_dir,
    render_gap_matrix,
    render_report,
)

__all__ = ["render_reports"]


def render_reports(
    sources: Sequence[str | os.PathLike | None],
    out: str | os.PathLike | None = None,
    jobs: int = 1,
    log: Callable[[str], None] | None = None,
    **kwargs: Any,
) -> list[tuple[str, ReportResult | PtyEvidenceError]]:
    """Render one report per source, ``jobs`` at a time in separate processes.

    With one source, ``out`` is its artifact folder. With several, each
    report goes to ``out/<source-stem>`` (default ``artifacts/<source-stem>``),
    the gap matrix once to ``out`` and ``out/index.html`` lists every source.

    Parameters
    ----------
    sources : sequence of str, path or None
        Dataset files (None: the demo dataset).
    out : str or path, optional
        Artifact folder (one source) or parent folder (several).
    jobs : int
        Reports rendered at the same time, each in its own process.
    log : callable, optional
        Receives progress lines, each naming its source.
    **kwargs
        Passed to :func:`~ptyevidence.report.render_report`.

    Returns
    -------
    list of (str, ReportResult or PtyEvidenceError)
        Per source, in the given order: the result, or the error it raised.

    Raises
    ------
    UsageError
        If two sources would share an artifact folder, ``jobs`` < 1, or the
        parent folder holds an earlier report without ``force``.
    """
    if jobs < 1:
        msg = f"jobs={jobs} is not a positive number of processes"
        raise UsageError(msg)
    log = log or _log_stderr
    folders = _output_folders(sources, out)
    labels = [os.fspath(s) if s is not None else DEMO_NAME for s in sources]
    if len(sources) == 1:
        try:
            return [(labels[0], render_report(sources[0], folders[0], log=log, **kwargs))]
        except PtyEvidenceError as exc:
            return [(labels[0], exc)]
    base = Path(out) if out is not None else Path("artifacts")
    parent = [INDEX_NAME, GAP_NOTEBOOK, *GAP_MARKDOWN, *(page_name(n) for n in GAP_MARKDOWN)]
    check_out_dir(base, kwargs.get("force", False), parent)
    gap_options = {k: kwargs[k] for k in ("force", "notebooks") if k in kwargs}
    render_gap_matrix(base, log=lambda line: log(f"[report-wide] {line}"), progress=False, **gap_options)
    kwargs = {**kwargs, "gap_dir": os.fspath(base.absolute())}
    if jobs == 1:
        results = [_render_one(label, src, folder, kwargs, log)
                   for label, src, folder in zip(labels, sources, folders)]
    else:
        results = _render_parallel(labels, sources, folders, kwargs, jobs, log)
    rows = [(label, os.path.relpath(folder, base), outcome.summary if isinstance(outcome, ReportResult)
             else str(outcome)) for (label, outcome), folder in zip(results, folders)]
    gap = {"html": Path(GAP_NOTEBOOK).with_suffix(".html").name, "md": page_name(GAP_MARKDOWN[0])}
    write_artifact(base / INDEX_NAME, batch_index_html(rows, gap), force=True)
    log(f"index of {len(rows)} reports: {base / INDEX_NAME}")
    return results


def _render_one(label: str, source: Any, folder: Path, kwargs: dict[str, Any],
                log: Callable[[str], None]) -> tuple[str, ReportResult | PtyEvidenceError]:
    try:
        return label, render_report(source, folder, log=lambda line: log(f"[{label}] {line}"), **kwargs)
    except PtyEvidenceError as exc:
        return label, exc


def _render_parallel(labels: list[str], sources: Sequence[Any], folders: list[Path], kwargs: dict[str, Any],
                     jobs: int, log: Callable[[str], None]) -> list[tuple[str, ReportResult | PtyEvidenceError]]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    kwargs = {**kwargs, "progress": False}
    # Spawned, not forked: a fresh interpreter per worker, so no thread or
    # ZeroMQ state of this process leaks into the kernels the workers start.
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_render_in_worker, label, src, folder, kwargs)
                   for label, src, folder in zip(labels, sources, folders)]
        for label in labels:
            log(f"[{label}] queued")
        outcomes = [f.result() for f in futures]
    return [(label, result if error is None else _rebuild_error(*error))
            for label, (result, error) in zip(labels, outcomes)]


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
            msg = (f"sources '{seen[folder]}' and '{label}' would share the artifact folder "
                   f"'{folder}'; rename one, or render them in separate calls with out=...")
            raise UsageError(msg)
        seen[folder] = label
    return folders
