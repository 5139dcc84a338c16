"""`ptyevidence audit` on real dask clusters: local worker processes, an external scheduler, faults.

Every run is a child process (the command as a user runs it); timeouts are
generous and nothing is timed, so the tests hold on a loaded 2-core machine.
Each test tags its processes through the environment and checks afterwards
that none of them is left running.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid

import pytest
from _audit_archive import (
    EXPECTED,
    RUN_TIMEOUT,
    jsonl_rows,
    make_archive,
    rewrite,
    run_audit,
    start_audit,
    statuses,
    wait_for_pid,
)

pytest.importorskip("distributed")
psutil = pytest.importorskip("psutil")

TAG = "PTYEVIDENCE_AUDIT_TEST_TAG"


@pytest.fixture
def env():
    """Environment for audit runs; on teardown, fail if a process started with it is still alive."""
    tag = uuid.uuid4().hex
    environment = dict(os.environ, **{TAG: tag})
    environment.pop("PTYEVIDENCE_AUDIT_TEST_HOLD", None)
    environment.pop("PTYEVIDENCE_AUDIT_TEST_CRASH", None)
    yield environment
    deadline = time.monotonic() + 60
    while (left := _tagged(tag)) and time.monotonic() < deadline:
        time.sleep(0.2)
    for proc in left:
        proc.kill()
    assert not left, f"processes left behind: {[p.pid for p in left]}"


def _tagged(tag: str) -> list:
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(TAG) == tag and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (psutil.Error, OSError):
            continue
    return found


@pytest.fixture
def archive(tmp_path):
    return make_archive(str(tmp_path / "archive"))


def test_two_local_workers_check_every_file_once(archive, tmp_path, env):
    root = os.path.dirname(archive["good_a.npz"])
    os.makedirs(os.path.join(root, "deeper"))
    rewrite(os.path.join(root, "deeper", "good_d.npz"), seed=9)
    out = str(tmp_path / "out")
    result = run_audit(root, "--workers", "2", "--out", out, "--json", env=env)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert statuses(out) == EXPECTED  # the text file and the sub-folder are not part of it
    assert report["engine"] == "local:2"
    assert report["counts"] == {"pass": 3, "fail": 2, "unusable": 1, "error": 0, "unfinished": 0}
    assert sorted(map(os.path.basename, report["audited"])) == sorted(EXPECTED)
    unreadable = next(r for r in jsonl_rows(out) if r["path"] == archive["unreadable.npz"])
    assert unreadable["exit_code"] == 2
    assert "zip" in unreadable["reason"]
    with open(os.path.join(out, "summary.html")) as fh:
        page = fh.read()
    assert page.count("<tr data-status=") == len(EXPECTED)
    with sqlite3.connect(os.path.join(out, "audit.sqlite")) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT COUNT(*) FROM files").fetchone()[0] == len(EXPECTED)

    deeper = run_audit(
        root,
        "--recursive",
        "--contract",
        "raw",
        "--contract",
        "data001",
        "--workers",
        "2",
        "--out",
        str(tmp_path / "deeper"),
        env=env,
    )
    assert deeper.returncode == 1, deeper.stderr
    assert statuses(str(tmp_path / "deeper"))["good_d.npz"] == "pass"
    with open(os.path.join(tmp_path, "deeper", "summary.csv")) as fh:
        header = fh.readline()
    assert "verdict:raw,verdict:data001" in header


def test_a_worker_killed_mid_file_is_retried_and_the_file_checked_once(archive, tmp_path, env):
    pidfile = str(tmp_path / "held.pid")
    env["PTYEVIDENCE_AUDIT_TEST_HOLD"] = f"good_b.npz={pidfile}"
    out = str(tmp_path / "out")
    proc = start_audit(os.path.dirname(archive["good_a.npz"]), "--workers", "2", "--out", out, "--json", env=env)

    def kill(worker: int) -> None:
        assert worker != proc.pid
        os.kill(worker, signal.SIGKILL)

    worker, stdout, stderr = _stop_when_held(proc, pidfile, kill)
    assert proc.returncode == 1, stderr
    assert not psutil.pid_exists(worker) or psutil.Process(worker).status() == psutil.STATUS_ZOMBIE
    assert statuses(out) == EXPECTED
    report = json.loads(stdout)
    assert sorted(map(os.path.basename, report["audited"])) == sorted(EXPECTED)
    assert report["unfinished"] == []


@pytest.mark.parametrize("workers", ["2", "1"])  # 1 worker: 6 files in tasks of 2, the batch is split
def test_a_file_that_kills_its_worker_twice_is_recorded_and_the_audit_goes_on(archive, tmp_path, env, workers):
    env["PTYEVIDENCE_AUDIT_TEST_CRASH"] = "good_a.npz"
    out = str(tmp_path / "out")
    result = run_audit(os.path.dirname(archive["good_a.npz"]), "--workers", workers, "--out", out, env=env)
    assert result.returncode == 1, result.stderr
    assert statuses(out) == {**EXPECTED, "good_a.npz": "error"}
    crashed = next(r for r in jsonl_rows(out) if r["path"] == archive["good_a.npz"])
    assert crashed["exit_code"] == 3
    assert "died twice" in crashed["reason"]
    assert "ERROR" in result.stdout
    assert "died twice" in result.stdout


def test_resume_after_ctrl_c_checks_only_the_unfinished_and_the_changed_files(archive, tmp_path, env):
    pidfile = str(tmp_path / "held.pid")
    out = str(tmp_path / "out")
    root = os.path.dirname(archive["good_a.npz"])
    first_env = dict(env, PTYEVIDENCE_AUDIT_TEST_HOLD=f"good_b.npz={pidfile}")
    proc = start_audit(root, "--workers", "2", "--out", out, "--json", env=first_env)
    # Two results: at least one of them is a readable file to change before resuming.
    _, stdout, stderr = _stop_when_held(proc, pidfile, lambda _: proc.send_signal(signal.SIGINT), out, 2)
    assert proc.returncode == 130, stderr
    first = json.loads(stdout)
    assert first["state"] == "interrupted"
    assert archive["good_b.npz"] in first["unfinished"]
    assert "--resume" in stderr
    assert "not finished" in stderr
    assert sorted(first["audited"] + first["unfinished"]) == sorted(archive.values())
    assert statuses(out)["good_b.npz"] == "unfinished"

    changed = next(p for p in first["audited"] if p != archive["unreadable.npz"])
    rewrite(changed, seed=11)  # now a passing DATA-001 file with another fingerprint
    again = run_audit(root, "--workers", "2", "--out", out, "--resume", "--json", env=env)
    assert again.returncode == 1, again.stderr
    second = json.loads(again.stdout)
    assert sorted(second["audited"]) == sorted({*first["unfinished"], changed})
    assert sorted(second["skipped"]) == sorted(set(first["audited"]) - {changed})
    assert statuses(out) == {**EXPECTED, os.path.basename(changed): "pass"}

    unchanged = run_audit(root, "--workers", "2", "--out", out, "--resume", "--json", env=env)
    assert json.loads(unchanged.stdout)["audited"] == []
    refused = run_audit(root, "--workers", "2", "--out", out, env=env)
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1
    assert "--resume" in refused.stderr
    assert "--force" in refused.stderr


def _stop_when_held(
    proc: subprocess.Popen, pidfile: str, stop, out: str | None = None, results: int = 0
) -> tuple[int, str, str]:
    """Wait for the held task (and ``results`` recorded rows), call ``stop(worker pid)``.

    Returns the worker's pid and the audit's output; the audit never outlives the call.
    """
    try:
        worker = wait_for_pid(pidfile, proc)
        if results:
            _wait_for_results(os.path.join(out, "audit.sqlite"), results, proc)
        stop(worker)
        return (worker, *proc.communicate(timeout=RUN_TIMEOUT))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def _wait_for_results(db_path: str, count: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            with sqlite3.connect(db_path) as db:
                if db.execute("SELECT COUNT(*) FROM files").fetchone()[0] >= count:
                    return
        except sqlite3.OperationalError:
            pass  # the database or its tables do not exist yet
        time.sleep(0.1)
    msg = f"fewer than {count} results recorded in {db_path}"
    raise AssertionError(msg)


@pytest.fixture
def external_cluster(tmp_path, env):
    """Factory: start a `dask scheduler` and a `dask worker` (2 processes) on the loopback interface.

    ``start(hold=NAME)`` makes the workers hold the task of file NAME (see the audit's test
    hooks); returns ``(address, scheduler process, pidfile of the held task)``.
    """
    bin_dir = os.path.dirname(sys.executable)
    procs: list[subprocess.Popen] = []

    def start(hold: str | None = None):
        info, pidfile = str(tmp_path / "scheduler.json"), str(tmp_path / "held-external.pid")
        cluster_env = dict(env, PTYEVIDENCE_AUDIT_TEST_HOLD=f"{hold}={pidfile}") if hold else env
        scheduler = subprocess.Popen(
            [
                os.path.join(bin_dir, "dask"),
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--scheduler-file",
                info,
                "--no-dashboard",
            ],
            env=cluster_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(scheduler)
        deadline = time.monotonic() + RUN_TIMEOUT
        while not os.path.exists(info) and time.monotonic() < deadline:
            assert scheduler.poll() is None, "dask scheduler did not start"
            time.sleep(0.1)
        time.sleep(0.2)  # the file is complete once its JSON parses
        with open(info) as fh:
            address = json.load(fh)["address"]
        procs.append(
            subprocess.Popen(
                [
                    os.path.join(bin_dir, "dask"),
                    "worker",
                    address,
                    "--nworkers",
                    "2",
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                ],
                env=cluster_env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        return address, scheduler, pidfile

    yield start
    for proc in reversed(procs):
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_an_existing_cluster_gives_the_same_summary(archive, tmp_path, env, external_cluster):
    address, _, _ = external_cluster()
    out = str(tmp_path / "out")
    result = run_audit(os.path.dirname(archive["good_a.npz"]), "--scheduler", address, "--out", out, "--json", env=env)
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)["engine"] == address
    assert statuses(out) == EXPECTED


def test_a_lost_scheduler_keeps_the_finished_results(archive, tmp_path, env, external_cluster):
    address, scheduler, pidfile = external_cluster(hold="good_b.npz")
    out = str(tmp_path / "out")
    proc = start_audit(os.path.dirname(archive["good_a.npz"]), "--scheduler", address, "--out", out, "--json", env=env)
    _, stdout, stderr = _stop_when_held(proc, pidfile, lambda _: scheduler.kill(), out, 1)
    assert proc.returncode == 2, stderr
    report = json.loads(stdout)
    assert report["state"] == "cluster-lost"
    assert archive["good_b.npz"] in report["unfinished"]
    assert "lost the connection" in stderr
    assert "--resume" in stderr
    assert sorted(report["audited"] + report["unfinished"]) == sorted(archive.values())
    with sqlite3.connect(os.path.join(out, "audit.sqlite")) as db:
        recorded = {row[0] for row in db.execute("SELECT path FROM files")}
    assert recorded == set(report["audited"])


def test_local_workers_run_without_dasks_malloc_trim_setting():
    """dask sets MALLOC_TRIM_THRESHOLD_ for its workers; the audit's local cluster leaves it out (docs/audit.md)."""
    from ptyevidence._cluster import dask_client

    with dask_client(1, None) as client:
        environ = client.run(lambda: (os.environ.get("MALLOC_TRIM_THRESHOLD_"), os.environ.get("OMP_NUM_THREADS")))
    assert list(environ.values()) == [(None, "1")]  # dask's other worker settings stay
