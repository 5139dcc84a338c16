"""The audit's parts without a cluster: discovery, fingerprints, the task, the database, the summary."""

from __future__ import annotations

import os
import sqlite3
import sys

import numpy as np
import pytest
from _audit_archive import EXPECTED, make_archive, rewrite

from ptyevidence._cluster import _check_workers, _connect
from ptyevidence.audit import (
    AuditStore,
    AuditSummary,
    audit_file,
    dataset_fingerprint,
    engine,
    find_datasets,
)
from ptyevidence.audit.engine import _prepare_folder, _unchanged, batch_files
from ptyevidence.audit.fingerprint import contracts_key
from ptyevidence.cli import main
from ptyevidence.contract.model import load_contract
from ptyevidence.exceptions import UsageError


@pytest.fixture
def archive(tmp_path):
    return make_archive(str(tmp_path / "archive"))


def test_folders_give_their_dataset_files_and_named_files_always_count(archive, tmp_path):
    root = os.path.dirname(archive["good_a.npz"])
    os.makedirs(os.path.join(root, "sub", ".hidden"))
    rewrite(os.path.join(root, "sub", "deep.NPZ"), seed=5)
    rewrite(os.path.join(root, "sub", ".hidden", "secret.npz"), seed=6)
    notes = os.path.join(root, "notes.txt")
    assert [os.path.basename(p) for p in find_datasets([root])] == sorted(EXPECTED)
    deep = find_datasets([root], recursive=True)
    assert os.path.join(root, "sub", "deep.NPZ") in deep
    assert not any("secret" in p for p in deep)
    assert find_datasets([root, notes, archive["good_a.npz"]]).count(archive["good_a.npz"]) == 1
    assert notes in find_datasets([root, notes])
    assert find_datasets([root], patterns=["good_*"]) == sorted(p for n, p in archive.items() if n.startswith("good_"))
    assert find_datasets([root], recursive=True, patterns=["sub/*"]) == [os.path.join(root, "sub", "deep.NPZ")]
    with pytest.raises(UsageError, match="does not exist"):
        find_datasets([str(tmp_path / "missing")])


def test_the_fingerprint_follows_content_and_modification_time(archive):
    path = archive["good_a.npz"]
    first = dataset_fingerprint(path)
    assert dataset_fingerprint(path) == first
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    assert dataset_fingerprint(path) != first
    size, _, method, _digest = dataset_fingerprint(archive["good_c.cxi"]).split(":")
    assert (int(size), method) == (os.path.getsize(archive["good_c.cxi"]), "head-tail")


def test_the_contracts_key_changes_with_the_contracts():
    data001, raw = load_contract("data001"), load_contract("raw")
    assert contracts_key([data001]) == contracts_key([load_contract("data001")])
    assert contracts_key([data001]) != contracts_key([raw])
    assert contracts_key([data001, raw]) != contracts_key([raw, data001])
    assert contracts_key(None).startswith("by-format:")


@pytest.mark.parametrize(("name", "status"), sorted(EXPECTED.items()))
def test_the_task_turns_every_file_into_a_row(archive, name, status):
    row = audit_file(archive[name])
    assert row["status"] == status
    assert row["exit_code"] == {"pass": 0, "fail": 1, "unusable": 2}[status]
    assert row["fingerprint"] == dataset_fingerprint(archive[name])
    if status == "unusable":
        assert row["reason"]
    else:
        assert row["frames"] > 0
        assert row["positions"] == row["frames"]


def test_the_task_checks_every_contract_and_reports_the_first_finding(archive):
    contracts = [load_contract("raw"), load_contract("data001")]
    row = audit_file(archive["fail_dtype.npz"], contracts)
    assert [(v["contract"], v["verdict"]) for v in row["verdicts"]] == [("raw", "pass"), ("data001", "fail")]
    failing = row["verdicts"][1]
    assert failing["errors"] >= 1
    assert failing["first_finding"].startswith("error dtype (diffraction)")


def test_a_missing_file_and_a_bug_are_rows_not_exceptions(archive, monkeypatch):
    gone = archive["good_a.npz"]
    os.unlink(gone)
    row = audit_file(gone)
    assert (row["status"], row["exit_code"]) == ("unusable", 2)
    assert "cannot read" in row["reason"]

    def broken(*args, **kwargs):
        msg = "boom"
        raise ZeroDivisionError(msg)

    monkeypatch.setattr("ptyevidence.contract.validate.validate_dataset", broken)
    row = audit_file(archive["good_b.npz"])
    assert (row["status"], row["exit_code"]) == ("error", 3)
    assert row["reason"] == "internal error: ZeroDivisionError: boom"


def test_batches_keep_the_order_and_stay_within_their_bytes_and_count(tmp_path, monkeypatch):
    sizes = [300, 300, 300, 900, 100, 100, 100, 100, 100, 100, 100, 100]
    paths = []
    for i, size in enumerate(sizes):
        paths.append(str(tmp_path / f"f{i:02d}.npz"))
        with open(paths[-1], "wb") as fh:
            fh.write(b"x" * size)
    monkeypatch.setattr(engine, "BATCH_BYTES", 700)
    batches = batch_files(paths, workers=1)
    assert [p for batch in batches for p in batch] == paths
    assert all(sum(os.path.getsize(p) for p in b) <= 700 for b in batches if len(b) > 1)
    assert [len(b) for b in batches] == [2, 1, 1, 3, 3, 2]  # at most ceil(12 / 4) files, 700 bytes
    assert [len(b) for b in batch_files(paths, workers=3)] == [1] * 12  # 4 tasks per worker: one file each
    assert batch_files([], workers=2) == []


def test_the_store_keeps_one_row_per_file_in_wal_mode(tmp_path):
    folder = str(tmp_path)
    row = {
        "path": "/x.npz",
        "fingerprint": "1:2:zip-directory:ab",
        "status": "fail",
        "exit_code": 1,
        "reason": "",
        "frames": 4,
        "verdicts": [{"contract": "data001", "verdict": "fail"}],
    }
    with AuditStore(folder) as store:
        run = store.start_run("k", "local:1", files=1, skipped=0)
        store.record([row], run, "k")
        store.record([{**row, "status": "pass", "exit_code": 0}], run, "k")
        store.end_run(run, "complete", audited=1, unfinished=0)
    with AuditStore(folder) as store:
        assert store.finished(["/x.npz", "/y.npz"]) == {"/x.npz": ("1:2:zip-directory:ab", "k", "pass")}
        again = store.rows(["/x.npz"])["/x.npz"]
    assert (again["status"], again["frames"], again["run"]) == ("pass", 4, run)
    assert again["verdicts"] == row["verdicts"]
    with sqlite3.connect(os.path.join(folder, "audit.sqlite")) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT state, audited FROM runs").fetchall() == [("complete", 1)]


def test_a_database_that_is_not_an_audit_is_refused(tmp_path):
    with open(tmp_path / "audit.sqlite", "wb") as fh:
        fh.write(b"this is not SQLite" * 100)
    with pytest.raises(UsageError, match="not an audit database"):
        AuditStore(str(tmp_path))


def test_resume_skips_only_unchanged_files_with_the_same_contracts(archive, tmp_path):
    files = sorted(archive.values())
    key = contracts_key(None)
    with AuditStore(str(tmp_path)) as store:
        run = store.start_run(key, "local:1", files=len(files), skipped=0)
        for path in files:
            store.record([audit_file(path)], run, key)
        store.record([{**audit_file(archive["good_b.npz"]), "status": "error", "exit_code": 3}], run, key)
        rewrite(archive["good_a.npz"], seed=12)
        skipped = _unchanged(store, files, key)
        assert _unchanged(store, files, contracts_key([load_contract("raw")])) == []
    assert sorted(set(files) - set(skipped)) == sorted([archive["good_a.npz"], archive["good_b.npz"]])


def _summary(statuses: list[str], state: str = "complete") -> AuditSummary:
    codes = {"pass": 0, "fail": 1, "unusable": 2, "error": 3}
    files = [f"/d/{i}.npz" for i in range(len(statuses))]
    rows = {
        f: {
            "path": f,
            "status": s,
            "exit_code": codes[s],
            "reason": "",
            "verdicts": [
                {
                    "contract": "data001",
                    "verdict": s if s != "error" else "fail",
                    "errors": int(s != "pass"),
                    "warnings": 0,
                    "first_finding": "" if s == "pass" else f"error x ({f}): bad | worse",
                }
            ],
        }
        for f, s in zip(files, statuses)
        if s != "unfinished"
    }
    unfinished = [f for f, s in zip(files, statuses) if s == "unfinished"]
    return AuditSummary(
        folder="/d",
        files=files,
        rows=rows,
        audited=sorted(rows),
        unfinished=unfinished,
        state=state,
        engine="local:2",
        contracts="data001",
        seconds=1.0,
    )


@pytest.mark.parametrize(
    ("statuses", "state", "code"),
    [
        (["pass", "pass"], "complete", 0),
        (["pass", "fail"], "complete", 1),
        (["pass", "unusable"], "complete", 1),
        (["pass", "error"], "complete", 1),
        (["unusable", "unusable"], "complete", 2),
        (["unusable", "error"], "complete", 2),
        (["pass", "unfinished"], "interrupted", 130),
        (["pass", "unfinished"], "cluster-lost", 2),
    ],
)
def test_the_exit_code_follows_the_worst_files(statuses, state, code):
    assert _summary(statuses, state).exit_code == code


def test_the_summary_formats_agree(tmp_path):
    summary = _summary(["pass", "fail", "unusable", "unfinished"])
    table = summary.table()
    assert [r["status"] for r in table] == ["pass", "fail", "unusable", "unfinished"]
    assert summary.counts() == {"pass": 1, "fail": 1, "unusable": 1, "error": 0, "unfinished": 1}
    csv_text = summary.to_csv()
    assert csv_text.splitlines()[0].startswith("path,status,exit_code,verdict:data001,errors,warnings")
    assert len(csv_text.splitlines()) == 5
    assert len(summary.to_jsonl().splitlines()) == 4
    markdown = summary.to_markdown()
    assert "bad \\| worse" in markdown
    assert markdown.count("\n| /d/") == 4
    page = summary.to_html()
    assert page.count("<tr data-status=") == 4
    assert '<tr data-status="unfinished">' in page
    text = summary.to_text()
    assert "FAIL" in text
    assert "UNFINISHED" in text
    assert "/d/0.npz" not in text
    assert summary.to_dict()["exit_code"] == 1


def test_an_earlier_audit_is_reused_only_with_resume_or_force(tmp_path):
    folder = _prepare_folder(tmp_path / "new", resume=False, force=False)
    AuditStore(folder).close()
    with pytest.raises(UsageError, match="resume=True .* force=True"):
        _prepare_folder(folder, resume=False, force=False)
    assert _prepare_folder(folder, resume=True, force=False) == folder
    _prepare_folder(folder, resume=False, force=True)
    assert not os.path.exists(os.path.join(folder, "audit.sqlite"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="is a file"):
        _prepare_folder(tmp_path / "file", resume=False, force=False)


def test_an_unreachable_scheduler_or_a_foreign_cluster_is_a_usage_error():
    def refused(address, timeout):
        msg = f"Timed out trying to connect to {address} after {timeout} s"
        raise OSError(msg)

    with pytest.raises(UsageError, match="cannot reach the dask scheduler 'tcp://h:1'"):
        _connect(refused, "tcp://h:1")

    class Cluster:
        def __init__(self, versions):
            self.versions = versions

        def wait_for_workers(self, n, timeout):
            if not self.versions:
                raise TimeoutError

        def run(self, function):
            return self.versions

    with pytest.raises(UsageError, match="no worker joined"):
        _check_workers(Cluster({}), "tcp://h:1")
    with pytest.raises(UsageError, match="run ptyevidence 0.0.1"):
        _check_workers(Cluster({"w1": "0.0.1"}), "tcp://h:1")


@pytest.mark.parametrize(
    "argv",
    [
        ["audit", "x", "--resume", "--force"],
        ["audit", "x", "--workers", "0"],
        ["audit", "x", "--workers", "2", "--scheduler", "tcp://h:1"],
    ],
)
def test_conflicting_or_bad_flags_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_no_dataset_or_a_pipeline_contract_is_one_line_and_exit_2(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    np.save(empty / "not_a_dataset.npy", np.zeros(3))
    assert main(["audit", str(empty), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "no dataset files found" in err
    assert "--recursive" in err
    assert "--glob" in err
    rewrite(str(empty / "a.npz"), seed=1)
    pipeline = ["--contract", "ptychopinn-tf-container"]
    assert main(["audit", str(empty), *pipeline, "--out", str(tmp_path / "o")]) == 2
    assert "not a dataset file" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "o")


def test_an_audit_that_cannot_start_leaves_no_output(archive, tmp_path, monkeypatch):
    from ptyevidence.audit import audit, engine

    def no_cluster(workers, scheduler):
        msg = "cannot reach the dask scheduler 'tcp://h:1'"
        raise UsageError(msg)

    monkeypatch.setattr(engine, "dask_client", no_cluster)
    out = tmp_path / "out"
    with pytest.raises(UsageError, match="cannot reach"):
        audit([os.path.dirname(archive["good_a.npz"])], out=out, scheduler="tcp://h:1")
    assert not out.exists()


def test_without_dask_the_audit_names_the_extra_and_writes_nothing(archive, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)  # what `import distributed` meets uninstalled
    out = tmp_path / "out"
    assert main(["audit", os.path.dirname(archive["good_a.npz"]), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "ptyevidence[batch]" in err
    assert not out.exists()
