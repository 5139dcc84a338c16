"""Report batches: sources named by a list file, rendered as dask tasks (``--workers``, ``--scheduler``)."""

from __future__ import annotations

import json
import os

import pytest

from ptyevidence.demo import make_demo_data
from ptyevidence.exceptions import InputError
from ptyevidence.report.batch import read_source_list


def test_a_source_list_skips_blanks_and_comments_and_reads_relative_to_itself(tmp_path):
    (tmp_path / "scans").mkdir()
    for name in ("a.npz", "b.npz"):
        (tmp_path / "scans" / name).write_bytes(b"")
    elsewhere = tmp_path / "other.npz"
    elsewhere.write_bytes(b"")
    listed = tmp_path / "scans" / "list.txt"
    listed.write_text(f"# the scans\n\n  b.npz  \n{elsewhere}\n   # indented comment\na.npz\n", encoding="utf-8")
    assert read_source_list(listed) == [
        str(tmp_path / "scans" / "b.npz"),
        str(elsewhere),
        str(tmp_path / "scans" / "a.npz"),
    ]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (None, r"source list '.*list.txt' does not exist"),
        ("a.npz\nmissing.npz\n", r"line 2: 'missing.npz' does not exist"),
        ("a.npz\n.\n", r"line 2: '.' is not a readable file"),
        ("# nothing\n\n", "names no source"),
        (b"a.npz\n\xff\xfe\n", "is not UTF-8 text"),
    ],
    ids=["no-list", "missing-entry", "folder-entry", "empty", "not-text"],
)
def test_an_unusable_list_is_one_line_exit_2_and_nothing_is_written(tmp_path, cli, text, match):
    (tmp_path / "a.npz").write_bytes(b"")
    listed = tmp_path / "list.txt"
    if isinstance(text, bytes):
        listed.write_bytes(text)
    elif text is not None:
        listed.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=match):
        read_source_list(listed)
    result = cli("report", "--sources-from", str(listed), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("ptyevidence: error: source list '")
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def scans(tmp_path_factory):
    """Two small scans and a file that is no NPZ."""
    folder = tmp_path_factory.mktemp("scans")
    good = [
        make_demo_data(folder / f"{name}.npz", n_positions=120, seed=seed)
        for name, seed in (("first", 1), ("second", 2))
    ]
    broken = folder / "broken.npz"
    broken.write_bytes(b"PK\x03\x04 not a complete zip archive")
    return [*good, str(broken)]


def _check_batch(out, result, stems, broken=None):
    index = (out / "index.html").read_text(encoding="utf-8")
    for stem in stems:
        summary = json.loads((out / stem / "summary.json").read_text(encoding="utf-8"))
        assert summary["verdicts"]["data_contract"]["verdict"] == "PASS"
        assert (out / stem / "index.html").is_file()
        assert f'href="{stem}/index.html"' in index
    assert index.count("<tr><td><a href=") == len(stems)
    assert result.stdout.count("report for ") == len(stems)
    if broken is not None:
        assert not (out / "broken").exists()
        assert index.count(">ERROR</span>") == 1
        assert "broken.npz&#x27; is not a readable zip archive" in index


@pytest.mark.notebook
def test_two_local_workers_render_a_list_and_an_unreadable_source_is_an_error_row(tmp_path, cli, scans):
    first, second, broken = scans
    listed = tmp_path / "list.txt"
    listed.write_text(f"# after --source\n{second}\n{os.path.relpath(broken, tmp_path)}\n", encoding="utf-8")
    out = tmp_path / "reports"
    result = cli(
        "report",
        "--source",
        first,
        "--sources-from",
        str(listed),
        "--workers",
        "2",
        "--subset-size",
        "16",
        "--out",
        str(out),
    )
    assert result.returncode == 2, result.stderr  # the unreadable source's code; the others are written
    _check_batch(out, result, ["first", "second"], broken)
    assert result.stderr.index(f"[{first}] queued") < result.stderr.index(f"[{broken}] queued")
    assert f"[{second}] written" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"ptyevidence: error: '{broken}'")


@pytest.fixture
def cluster():
    """A dask cluster of two worker processes started here, as someone's existing cluster."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as running:
        yield running


@pytest.mark.notebook
def test_an_existing_scheduler_renders_the_same_batch(tmp_path, cli, scans, cluster):
    out = tmp_path / "reports"
    result = cli(
        "report",
        "--source",
        *scans[:2],
        "--scheduler",
        cluster.scheduler_address,
        "--subset-size",
        "16",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    _check_batch(out, result, ["first", "second"])
    assert (out / "torch_gap_matrix.md").is_file()  # report-wide, rendered by the client
    unreachable = cli(
        "report", "--source", *scans[:2], "--scheduler", "tcp://127.0.0.1:9", "--out", str(tmp_path / "none")
    )
    assert unreachable.returncode == 2
    assert unreachable.stderr.count("\n") == 1
    assert "cannot reach the dask scheduler 'tcp://127.0.0.1:9'" in unreachable.stderr
    assert not (tmp_path / "none").exists()
