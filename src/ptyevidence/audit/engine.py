"""Run an audit on dask.distributed: a local cluster of worker processes, or an existing one.

The client (this process) finds the files, decides with the results database
what ``--resume`` may skip, submits the files in batches (one task each), and
records the rows of each batch as it arrives; workers only read files and
return rows. Both engines share this code: a :class:`~distributed.LocalCluster`
is just a scheduler address that this process started.

Faults: the scheduler re-runs the task of a worker that died; a batch whose
task was on two workers that died (``allowed-failures`` = 1, dask's
``KilledWorker``) is split into one task per file, and a file whose own task
meets the same fate is recorded as an error; the audit goes on. An
interrupted audit (Ctrl-C) or one that loses its scheduler keeps every result
recorded so far and lists the files it did not finish.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

from .._cluster import ALLOWED_FAILURES, dask_client, require_dask
from .._progress import progress_bar
from ..exceptions import ClusterLostError, UsageError
from .discover import find_datasets
from .fingerprint import contracts_key, dataset_fingerprint
from .store import DB_NAME, AuditStore
from .summary import SUMMARY_FILES, AuditSummary, write_summary
from .task import audit_files, crashed_row

__all__ = ["ALLOWED_FAILURES", "BATCH_BYTES", "DEFAULT_OUT", "audit", "batch_files"]

#: Output folder when none is given.
DEFAULT_OUT = "ptyevidence-audit"
#: Bytes of files checked by one task. The engine costs a few milliseconds per task on the
#: client, scheduler and worker (docs/audit.md, Performance); a task of this size validates
#: for about 0.2 s, so that cost stays small beside it. A larger file is a task of its own.
BATCH_BYTES = 256 * 2**20
#: Tasks per worker at least, so that the last tasks do not leave workers idle.
TASKS_PER_WORKER = 4
_CRASH_REASON = (
    "its worker process died twice while checking it (a crash in a reader, or out of memory); "
    "check it alone with `ptyevidence validate`"
)


def audit(
    paths: Sequence[str | os.PathLike],
    contracts: Sequence[Any] | None = None,
    out: str | os.PathLike = DEFAULT_OUT,
    recursive: bool = False,
    patterns: Sequence[str] | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    force: bool = False,
    progress: bool | None = None,
) -> AuditSummary:
    """Validate every dataset under ``paths`` on a dask cluster and write the summary into ``out``.

    Parameters
    ----------
    paths : sequence of str or path
        Dataset files and folders (see :func:`~ptyevidence.audit.find_datasets`).
    contracts : sequence of str, path or DatasetContract, or None
        Contracts each file is checked against; None: each file's default
        contract for its format.
    out : str or path
        Audit folder: results database ``audit.sqlite`` and the summary files.
    recursive : bool
        Descend into sub-folders.
    patterns : sequence of str or None
        File-name patterns for folders (default ``*.npz *.cxi *.h5 *.hdf5``).
    workers : int or None
        Worker processes of the local cluster (default: the number of cores).
    scheduler : str or None
        Address of an existing cluster's scheduler (``tcp://host:8786``)
        instead of a local cluster; its workers must see the files at the
        same paths and have ptyevidence installed.
    resume : bool
        Continue the audit in ``out``: skip files whose fingerprint and
        contracts are those of a recorded result (files recorded as crashed
        are checked again).
    force : bool
        Discard an earlier audit in ``out`` and start a new one.
    progress : bool or None
        Progress bar (None: on a terminal).

    Returns
    -------
    AuditSummary
        Also when the audit was interrupted (``state`` tells); its summary
        files are written either way.

    Raises
    ------
    UsageError
        No dataset found, an earlier audit in ``out`` without ``resume`` or
        ``force``, a dask installation or scheduler that cannot be used.
    InputError
        A contract that cannot be loaded.
    """
    if resume and force:
        msg = "resume=True continues the audit in the folder and force=True discards it; choose one"
        raise UsageError(msg)
    require_dask("the audit")
    specs = _load_contracts(contracts)
    files = find_datasets(paths, recursive=recursive, patterns=patterns)
    if not files:
        msg = "no dataset files found; name files, or folders holding *.npz, *.cxi, *.h5 files"
        raise UsageError(msg + " (see recursive=True and patterns)")
    created = not os.path.exists(os.path.abspath(os.fspath(out)))
    folder = _prepare_folder(out, resume, force)
    new_db = not os.path.exists(os.path.join(folder, DB_NAME))
    key = contracts_key(specs)
    engine = scheduler or f"local:{workers or os.cpu_count() or 1}"
    started = time.perf_counter()
    with AuditStore(folder) as store:
        skipped = _unchanged(store, files, key) if resume else []
        todo = sorted(set(files) - set(skipped))
        run = store.start_run(key, engine, files=len(files), skipped=len(skipped))
        done: list[str] = []

        def record(rows: list[dict[str, Any]]) -> None:
            store.record(rows, run, key)
            done.extend(row["path"] for row in rows)

        state, note = "failed", ""
        try:
            if todo:
                _execute(todo, specs, workers, scheduler, progress, record)
            state = "complete"
        except KeyboardInterrupt:
            state, note = "interrupted", "interrupted before every file was checked"
        except ClusterLostError as exc:
            state, note = "cluster-lost", str(exc)
        finally:
            unfinished = sorted(set(todo) - set(done))
            if state == "failed" and new_db and not done:  # e.g. no cluster: leave nothing behind
                store.close()
                _remove_new_output(folder, created)
            else:
                store.end_run(run, state, audited=len(done), unfinished=len(unfinished))
        rows = store.rows(files)
    summary = AuditSummary(
        folder=folder,
        files=files,
        rows=rows,
        audited=sorted(done),
        skipped=skipped,
        unfinished=unfinished,
        state=state,
        note=note,
        engine=engine,
        contracts=key.split(":", 1)[0],
        seconds=time.perf_counter() - started,
    )
    write_summary(summary)
    return summary


def _load_contracts(contracts: Sequence[Any] | None) -> list[Any] | None:
    if not contracts:
        return None
    from ..contract.model import load_contract

    specs = [load_contract(c) for c in contracts]
    for spec in specs:
        if spec.kind != "dataset":
            msg = (
                f"contract '{spec.name}' describes a pipeline's in-memory data, not a dataset "
                "file; audit against a dataset contract (see list_contracts('dataset'))"
            )
            raise UsageError(msg)
    return specs


def _prepare_folder(out: str | os.PathLike, resume: bool, force: bool) -> str:
    """Create the audit folder; refuse to reuse an earlier audit's without resume or force."""
    folder = os.path.abspath(os.fspath(out))
    if os.path.exists(folder) and not os.path.isdir(folder):
        msg = f"audit folder '{os.fspath(out)}' is a file; give a folder"
        raise UsageError(msg)
    os.makedirs(folder, exist_ok=True)
    ours = [n for n in (DB_NAME, *SUMMARY_FILES) if os.path.exists(os.path.join(folder, n))]
    if ours and not (resume or force):
        msg = (
            f"'{os.fspath(out)}' holds an earlier audit ({ours[0]}); pass resume=True to "
            "continue it or force=True to start over"
        )
        raise UsageError(msg)
    if force:
        _remove_database(folder)
    return folder


def _remove_database(folder: str) -> None:
    for name in (DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm"):
        if os.path.exists(os.path.join(folder, name)):
            os.unlink(os.path.join(folder, name))


def _remove_new_output(folder: str, created: bool) -> None:
    """Remove the database this run created (and the folder, if it made it and it is empty)."""
    _remove_database(folder)
    if created and not os.listdir(folder):
        os.rmdir(folder)


def _unchanged(store: AuditStore, files: list[str], key: str) -> list[str]:
    """Files whose recorded result is still valid: same fingerprint, same contracts, no crash."""
    out = []
    for path, (fingerprint, recorded_key, status) in store.finished(files).items():
        if recorded_key != key or status == "error" or fingerprint is None:
            continue
        try:
            if dataset_fingerprint(path) == fingerprint:
                out.append(path)
        except OSError:
            continue
    return sorted(out)


def _execute(
    todo: list[str],
    specs: list[Any] | None,
    workers: int | None,
    scheduler: str | None,
    progress: bool | None,
    record: Any,
) -> None:
    """Submit the files in batches and pass the rows of each batch to ``record`` as it arrives.

    A batch whose workers died twice is split into one task per file, so that only
    the file that kills its workers is recorded as crashed.
    """
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    with dask_client(workers, scheduler) as client:
        batches = batch_files(todo, sum(client.nthreads().values()))
        futures = client.map(audit_files, batches, contracts=specs, pure=False)
        batch_of = {future.key: batch for future, batch in zip(futures, batches)}
        counts = dict.fromkeys(("pass", "fail", "unusable", "error"), 0)
        with progress_bar(len(todo), "audit", progress, unit="file") as bar:
            # with_results: each result comes with its future, fetched on the client's event
            # loop, instead of one blocking round trip per future.result() call.
            finished = as_completed(futures, with_results=True, raise_errors=False)
            for future, result in finished:
                batch = batch_of.pop(future.key)
                if future.status == "finished":
                    rows = result
                elif future.cancelled():
                    raise ClusterLostError(_lost_message(scheduler))
                elif isinstance(error := future.exception(), KilledWorker) and len(batch) > 1:
                    singles = client.map(audit_files, [[path] for path in batch], contracts=specs, pure=False)
                    for single, path in zip(singles, batch):
                        batch_of[single.key] = [path]
                        finished.add(single)
                    rows = []
                elif isinstance(error, KilledWorker):
                    rows = [crashed_row(batch[0], _CRASH_REASON)]
                else:  # e.g. a worker that cannot unpickle the task
                    reason = f"task failed on its worker: {type(error).__name__}: {error}"
                    rows = [crashed_row(path, reason) for path in batch]
                future.release()
                record(rows)
                for row in rows:
                    counts[row["status"]] += 1
                bar.update(len(rows))
                bar.set_postfix_str(" ".join(f"{k} {v}" for k, v in counts.items()))


def batch_files(paths: list[str], workers: int) -> list[list[str]]:
    """Group consecutive files into tasks of up to ``BATCH_BYTES``, at least ``TASKS_PER_WORKER`` per worker.

    Parameters
    ----------
    paths : list of str
        Files to check, in the order they are submitted.
    workers : int
        Worker threads of the cluster.

    Returns
    -------
    list of list of str
        The batches; together they hold every path once, in order.

    Examples
    --------
    >>> batch_files(["a", "b", "c", "d", "e"], workers=1)  # files that cannot be sized count as empty
    [['a', 'b'], ['c', 'd'], ['e']]
    """
    most = max(1, -(-len(paths) // (TASKS_PER_WORKER * max(1, workers))))
    batches: list[list[str]] = []
    size = 0
    for path in paths:
        try:
            nbytes = os.path.getsize(path)
        except OSError:
            nbytes = 0
        if batches and len(batches[-1]) < most and size + nbytes <= BATCH_BYTES:
            batches[-1].append(path)
            size += nbytes
        else:
            batches.append([path])
            size = nbytes
    return batches


def _lost_message(scheduler: str | None) -> str:
    where = f"scheduler '{scheduler}'" if scheduler else "the local cluster's scheduler"
    return f"lost the connection to {where}"
