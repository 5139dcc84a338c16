"""A small archive for audit tests, and helpers to run the audit command and read its output."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np

from conftest import dataset_arrays
from cxi_files import write_cxi

#: File name -> expected status of the file alone.
EXPECTED = {
    "good_a.npz": "pass",
    "good_b.npz": "pass",
    "good_c.cxi": "pass",
    "fail_dtype.npz": "fail",
    "fail_nan.npz": "fail",
    "unreadable.npz": "unusable",
}
#: Seconds any one audit run may take before a test gives up on it.
RUN_TIMEOUT = 300


def make_archive(root: str) -> dict[str, str]:
    """Write the files of :data:`EXPECTED` and an ignored text file into ``root``; return name -> path."""
    os.makedirs(root, exist_ok=True)
    paths = {name: os.path.join(root, name) for name in EXPECTED}
    np.savez(paths["good_a.npz"], **dataset_arrays(seed=1))
    np.savez(paths["good_b.npz"], **dataset_arrays(seed=2, n=30))
    write_cxi(paths["good_c.cxi"], n=12)
    wrong_dtype = dataset_arrays(seed=3)
    wrong_dtype["diffraction"] = wrong_dtype["diffraction"].astype(np.float64)
    np.savez(paths["fail_dtype.npz"], **wrong_dtype)
    with_nan = dataset_arrays(seed=4)
    with_nan["diffraction"][3, 2, 2] = np.nan
    np.savez(paths["fail_nan.npz"], **with_nan)
    with open(paths["unreadable.npz"], "wb") as fh:
        fh.write(b"PK\x03\x04 this is no zip archive")
    with open(os.path.join(root, "notes.txt"), "w") as fh:
        fh.write("not a dataset\n")
    return paths


def rewrite(path: str, seed: int) -> None:
    """Write a DATA-001 file at exactly ``path`` (replacing one there: new fingerprint)."""
    with open(path, "wb") as fh:  # a file object: numpy.savez would add ".npz" to other names
        np.savez(fh, **dataset_arrays(seed=seed, n=25))


def audit_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "ptyevidence", "audit", *args]


def start_audit(*args: str, env: dict[str, str]) -> subprocess.Popen:
    """Start the audit command; Ctrl-C (SIGINT) reaches it even from a shell that ignores it."""
    return subprocess.Popen(
        audit_command(*args),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509 - no threads here
    )


def run_audit(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        audit_command(*args), env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
    )


def wait_for_pid(pidfile: str, process: subprocess.Popen | None = None) -> int:
    """Wait until a held task has written its process id into ``pidfile``."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            msg = f"audit ended before the hold: {process.communicate()}"
            raise AssertionError(msg)
        try:
            with open(pidfile) as fh:
                text = fh.read().strip()
            if text:
                return int(text)
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    msg = f"no held task wrote {pidfile}"
    raise AssertionError(msg)


def csv_rows(folder: str) -> list[dict[str, str]]:
    with open(os.path.join(folder, "summary.csv"), newline="") as fh:
        return list(csv.DictReader(fh))


def jsonl_rows(folder: str) -> list[dict]:
    with open(os.path.join(folder, "summary.jsonl")) as fh:
        return [json.loads(line) for line in fh]


def statuses(folder: str) -> dict[str, str]:
    """File name -> status in the CSV summary (each file must appear once)."""
    rows = csv_rows(folder)
    names = [os.path.basename(r["path"]) for r in rows]
    assert len(names) == len(set(names)), f"a file appears twice: {names}"
    return {os.path.basename(r["path"]): r["status"] for r in rows}
