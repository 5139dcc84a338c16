"""Test-only fault injection for audit workers, driven by environment variables.

The audit's fault tests need a worker that is busy with a known file (so the
test can kill it by its process id) and a file that crashes every worker that
checks it. Both are off unless their variable is set; workers inherit the
variables from the process that starts the cluster.

``PTYEVIDENCE_AUDIT_TEST_HOLD=NAME=PIDFILE``
    The first task to check a file called NAME writes its process id to
    PIDFILE and waits (at most :data:`HOLD_SECONDS`); later tasks, once PIDFILE
    exists, go ahead.
``PTYEVIDENCE_AUDIT_TEST_CRASH=NAME``
    Every task that checks a file called NAME kills its own process.
"""

from __future__ import annotations

import os
import signal
import time

HOLD_VARIABLE = "PTYEVIDENCE_AUDIT_TEST_HOLD"
CRASH_VARIABLE = "PTYEVIDENCE_AUDIT_TEST_CRASH"
#: Longest wait of a held task, so that a test that fails never leaves a worker waiting for ever.
HOLD_SECONDS = 300.0


def before_validation(path: str) -> None:
    """Apply the fault the environment asks for to the task checking ``path``, if any."""
    name = os.path.basename(path)
    if os.environ.get(CRASH_VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGKILL)
    hold = os.environ.get(HOLD_VARIABLE, "")
    held_name, _, pidfile = hold.partition("=")
    if not pidfile or held_name != name:
        return
    try:
        fd = os.open(pidfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as fh:
        fh.write(f"{os.getpid()}\n")
    deadline = time.monotonic() + HOLD_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.05)
