"""The dask.distributed client of the commands that fan out: a local cluster, or an existing one.

``ptyevidence audit`` (one task per file) and ``ptyevidence report`` with
several sources (one task per report) run on the same engine: a
:class:`~distributed.LocalCluster` of worker processes started here, or the
scheduler of an existing cluster, whose workers must see the files at the
same paths and run the same ptyevidence. A local cluster is only a scheduler
address this process started, so both take one code path.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .exceptions import UsageError

__all__ = ["ALLOWED_FAILURES", "LOCAL_CONFIG", "dask_client", "require_dask"]

#: Worker deaths a task may survive before dask gives up on it (``KilledWorker``): a second death ends it.
ALLOWED_FAILURES = 1
#: Seconds to wait for an existing cluster's scheduler to answer, then for its first worker.
CONNECT_TIMEOUT = 10
WORKER_TIMEOUT = 60
#: dask settings of the local cluster (the workers get them too). One task at a time per
#: worker: a worker that dies takes only the task it was running with it, so a task queued
#: behind a crashing one is not blamed for its crash. No statistical profiler: its samples,
#: every 10 ms, take the GIL from the tasks and slow every one down. No MALLOC_TRIM_THRESHOLD_
#: in the workers' environment: setting it stops glibc from raising its mmap threshold, so
#: every block buffer of a validation is a fresh mapping, page-faulted and zeroed, which cost
#: about 5 ms per 25 MB file (docs/audit.md, Performance); a validation's buffers are bounded.
LOCAL_CONFIG = {
    "distributed.scheduler.worker-saturation": 1.0,
    "distributed.worker.profile.enabled": False,
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
}


def require_dask(what: str) -> None:
    """Refuse to go on without dask.distributed, naming the extra that installs it.

    Parameters
    ----------
    what : str
        What needs it, as the message's subject (``the audit``).

    Raises
    ------
    UsageError
        If ``distributed`` cannot be imported.
    """
    try:
        import distributed  # noqa: F401 - only whether it imports
    except ImportError as exc:
        msg = (
            f"{what} runs on dask.distributed, which is not installed ({exc}); "
            "install the extra: pip install 'ptyevidence[batch]'"
        )
        raise UsageError(msg) from None


@contextmanager
def dask_client(workers: int | None, scheduler: str | None) -> Iterator[Any]:
    """Yield a dask Client: of a new local cluster of ``workers`` processes, or connected to ``scheduler``.

    Parameters
    ----------
    workers : int or None
        Worker processes of the local cluster (None: the number of cores).
    scheduler : str or None
        Address of an existing cluster's scheduler (``tcp://host:8786``); it
        must have a worker running this version of ptyevidence.

    Raises
    ------
    UsageError
        If the scheduler cannot be reached, no worker joins it, or its
        workers run another ptyevidence.
    """
    import dask
    from distributed import Client, LocalCluster

    with _quiet_dask():
        if scheduler:
            client = _connect(Client, scheduler)
            try:
                _check_workers(client, scheduler)
                yield client
            finally:
                client.close()
            return
        with (
            dask.config.set(LOCAL_CONFIG),
            LocalCluster(
                n_workers=workers or os.cpu_count() or 1,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.CRITICAL,
                scheduler_kwargs={"allowed_failures": ALLOWED_FAILURES},
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client


def _connect(client_class: Any, scheduler: str) -> Any:
    try:
        return client_class(scheduler, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        msg = (
            f"cannot reach the dask scheduler '{scheduler}' ({exc}); start one with "
            "`dask scheduler` or leave out the scheduler to use this machine's cores"
        )
        raise UsageError(msg) from None


def _check_workers(client: Any, scheduler: str) -> None:
    """Refuse a cluster without workers, or whose workers run another ptyevidence."""
    from ._version import __version__

    try:
        client.wait_for_workers(1, timeout=WORKER_TIMEOUT)
    except TimeoutError:
        msg = (
            f"no worker joined the scheduler '{scheduler}' within {WORKER_TIMEOUT} s; "
            f"start some with `dask worker {scheduler}`"
        )
        raise UsageError(msg) from None
    try:
        versions = client.run(_worker_version)
    except Exception as exc:  # noqa: BLE001 - whatever a worker raises, the answer is the same
        msg = (
            f"the workers of '{scheduler}' cannot run ptyevidence ({type(exc).__name__}: {exc}); "
            f"install ptyevidence {__version__} on every worker"
        )
        raise UsageError(msg) from None
    other = sorted({v for v in versions.values() if v != __version__})
    if other:
        msg = (
            f"workers of '{scheduler}' run ptyevidence {', '.join(other)}, this client "
            f"{__version__}; install the same version everywhere"
        )
        raise UsageError(msg)


def _worker_version() -> str:
    from ._version import __version__

    return __version__


@contextmanager
def _quiet_dask() -> Iterator[None]:
    """Keep dask's own log lines (worker restarts, lost connections) off the terminal.

    The commands report every such event themselves, in one line or in their summary.
    """
    logger = logging.getLogger("distributed")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)
