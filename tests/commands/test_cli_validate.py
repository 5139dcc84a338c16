"""`ptyevidence validate` and `ptyevidence contract` through the real entry point."""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import sys

import numpy as np
import numpy.testing as npt
import pytest

import npz_damage
from conftest import dataset_arrays
from ptyevidence import __version__
from ptyevidence.cli import build_parser, main
from ptyevidence.contract.model import contract_from_dict, load_contract


def _assert_one_line_error(proc, *words: str) -> None:
    """Exit 2, nothing on stdout, one 'ptyevidence: error:' line on stderr, no traceback."""
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("ptyevidence")
    assert "error:" in lines[0]
    for word in words:
        assert word in lines[0]


def _table_rows(stdout: str) -> set[tuple[str, str, str]]:
    """(severity, rule, field) of each row of the findings table."""
    lines = stdout.splitlines()
    assert lines[0].split() == ["SEVERITY", "RULE", "FIELD", "MESSAGE"]
    return {tuple(line.split()[:3]) for line in lines[1:-1]}


# -- verdicts and exit codes ----------------------------------------------------------------


def test_compliant_file_exits_0(cli, make_npz):
    """A DATA-001 file: exit 0, the verdict line, nothing on stderr."""
    path = make_npz()
    proc = cli("validate", path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.splitlines() == [
        "no findings",
        f"PASS: '{path}' against data001: 0 error(s), 0 warning(s)",
    ]


def test_contract_violation_exits_1_with_a_findings_table(cli, make_npz):
    """Violations: exit 1, a table row per finding, the FAIL verdict last."""
    arrays = dataset_arrays()
    arrays["diffraction"] = arrays["diffraction"] * 40  # intensity-like scale: max >= 10
    arrays["xcoords"] = arrays["xcoords"][:-1]
    path = make_npz(arrays=arrays)
    proc = cli("validate", path)
    assert proc.returncode == 1
    assert proc.stderr == ""
    assert _table_rows(proc.stdout) == {
        ("error", "diffraction-normalized", "diffraction"),
        ("error", "shape", "xcoords"),
    }
    assert proc.stdout.splitlines()[-1] == f"FAIL: '{path}' against data001: 2 error(s), 0 warning(s)"


def test_warnings_alone_exit_0(cli, make_npz):
    """Duplicate positions are a warning: reported, but the exit code stays 0."""
    arrays = dataset_arrays()
    arrays["xcoords"][3], arrays["ycoords"][3] = arrays["xcoords"][0], arrays["ycoords"][0]
    proc = cli("validate", make_npz(arrays=arrays))
    assert proc.returncode == 0
    assert _table_rows(proc.stdout) == {("warning", "positions-unique", "xcoords")}
    assert "0 error(s), 1 warning(s)" in proc.stdout


@pytest.mark.parametrize(("contract", "code", "severity"), [("data001", 1, "error"), ("legacy", 0, "warning")])
def test_legacy_layout_exit_code_depends_on_profile(cli, make_npz, contract, code, severity):
    """(H, W, N) storage fails data001 and passes the legacy profile with a warning."""
    arrays = dataset_arrays()
    arrays["diffraction"] = np.ascontiguousarray(np.transpose(arrays["diffraction"], (1, 2, 0)))
    proc = cli("validate", make_npz(arrays=arrays), "--contract", contract)
    assert proc.returncode == code
    assert _table_rows(proc.stdout) == {(severity, "layout", "diffraction")}


def test_ambiguous_layout_exits_2_unless_given(cli, make_npz):
    """N == H == W: auto refuses with exit 2; --layout canonical validates."""
    path = make_npz(arrays=dataset_arrays(n=8, h=8, w=8))
    _assert_one_line_error(cli("validate", path), "ambiguous", "--layout")
    assert cli("validate", path, "--layout", "canonical").returncode == 0
    assert cli("validate", path, "--layout", "legacy").returncode == 1


def test_object_array_exits_1_without_unpickling(make_npz, monkeypatch, capsys):
    """A pickled dict as _metadata is read as plain data (no pickle loader, no global), then refused."""

    def forbidden(*args, **kwargs):
        msg = "validate tried to unpickle"
        raise AssertionError(msg)

    arrays = dataset_arrays()
    arrays["_metadata"] = np.array({"note": 1}, dtype=object)
    path = make_npz(arrays=arrays)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    assert main(["validate", path]) == 1
    out = capsys.readouterr().out
    assert _table_rows(out) == {("error", "metadata-json-object", "_metadata")}
    assert "holds a pickled dict, not JSON text" in out


@pytest.mark.parametrize(
    ("builder", "words"),
    [pytest.param(b, w, id=i) for i, b, w in npz_damage.UNUSABLE_INPUTS],
)
def test_unusable_input_exits_2_with_one_line(cli, tmp_path, builder, words):
    """Damaged, missing or non-NPZ input: exit 2, one line naming the file, no traceback."""
    path = builder(str(tmp_path))
    proc = cli("validate", path)
    _assert_one_line_error(proc, os.path.basename(path), words)


def test_unrecognized_file_without_npz_suffix_exits_2(cli, tmp_path):
    """A file that is neither zip nor HDF5 says so and what to do."""
    path = os.path.join(tmp_path, "scan.dat")
    with open(path, "wb") as fh:
        fh.write(b"\x00\x01garbage")
    _assert_one_line_error(cli("validate", path), "scan.dat", "neither an NPZ")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        pytest.param(["validate"], "required: path", id="no-path"),
        pytest.param(["validate", "x.npz", "--layout", "sideways"], "invalid choice", id="bad-layout"),
        pytest.param(["validate", "x.npz", "--colour"], "unrecognized arguments", id="unknown-option"),
        pytest.param(["--memory-budget", "lots", "validate", "x.npz"], "not a number", id="bad-budget"),
        pytest.param(["frobnicate"], "invalid choice", id="unknown-command"),
        pytest.param(
            ["validate", "x.npz", "--jobs", "0"], "--jobs: jobs '0' is not a whole number >= 1", id="zero-jobs"
        ),
        pytest.param(["validate", "x.npz", "--jobs", "1.5"], "--jobs: jobs '1.5'", id="fractional-jobs"),
        pytest.param(["validate", "x.npz", "--jobs", "two"], "--jobs: jobs 'two'", id="word-jobs"),
    ],
)
def test_usage_errors_exit_2_with_one_line(cli, args, words):
    """Argument mistakes: exit 2, one line, pointing at --help."""
    proc = cli(*args)
    _assert_one_line_error(proc, words, "--help")


def test_no_command_prints_help_and_exits_2(cli):
    """Bare `ptyevidence` shows the usage and fails."""
    proc = cli()
    assert proc.returncode == 2
    assert "usage: ptyevidence" in proc.stderr


def test_memory_budget_refusal_exits_2(cli, make_npz):
    """An operation over --memory-budget is refused up front with exit 2."""
    proc = cli("--memory-budget", "100", "validate", make_npz())
    _assert_one_line_error(proc, "memory budget", "--memory-budget")


def test_pipeline_contract_is_refused_for_a_dataset(cli, make_npz):
    """validate only takes dataset contracts; a pipeline contract is a usage error."""
    from ptyevidence.contract.model import list_contracts

    pipelines = list_contracts("pipeline")
    if not pipelines:
        pytest.skip("no pipeline contract is shipped")
    proc = cli("validate", make_npz(), "--contract", pipelines[0])
    _assert_one_line_error(proc, pipelines[0], "data001")


# -- --json ---------------------------------------------------------------------------------


def test_json_report_structure_and_statistics(cli, make_npz):
    """--json: fields with dtype/shape, bound dims, findings, stats equal to numpy's."""
    arrays = dataset_arrays(n=20, h=8, w=8, object_shape=(32, 30))
    arrays["diffraction"][3, 2, 2] = np.nan
    path = make_npz(arrays=arrays)
    proc = cli("validate", path, "--json")
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert set(report) == {
        "path",
        "contract",
        "format",
        "layout",
        "ok",
        "verdict",
        "dims",
        "fields",
        "stats",
        "findings",
        "checked",
    }
    # What each applicable rule measured, beside the findings it raised.
    assert report["checked"]["diffraction-finite"] == "1 non-finite of 1280"
    assert report["checked"]["positions-unique"] == "20 distinct of 20"
    assert (report["path"], report["contract"], report["format"]) == (path, "data001", "npz")
    assert report["ok"] is False
    assert report["layout"] == "canonical"
    assert report["dims"] == {"N": 20, "H": 8, "W": 8, "M1": 32, "M2": 30}
    for key, arr in arrays.items():
        assert report["fields"][key]["dtype"] == arr.dtype.name
        assert report["fields"][key]["shape"] == list(arr.shape)
    assert report["findings"] == [
        {
            "rule": "diffraction-finite",
            "field": "diffraction",
            "severity": "error",
            "message": "key 'diffraction': 1 NaN and 0 Inf of 1280 values",
        },
    ]
    stats = report["stats"]["diffraction"]
    diff = arrays["diffraction"].astype(np.float64)
    npt.assert_allclose(
        [stats["min"], stats["max"], stats["mean"]],
        [np.nanmin(diff), np.nanmax(diff), np.nanmean(diff)],
        rtol=1e-6,
    )
    npt.assert_allclose(stats["finite_fraction"], 1279 / 1280)


def test_json_reports_of_compressed_and_stored_files_are_identical(cli, make_npz):
    """The same arrays, deflated or stored, give the same JSON report (path aside)."""
    arrays = dataset_arrays()
    arrays["diffraction"][0, 1, 1] = -0.5

    def report(path):
        data = json.loads(cli("validate", path, "--json").stdout)
        del data["path"], data["verdict"]
        return data

    stored = report(make_npz("stored.npz", arrays=arrays))
    deflated = report(make_npz("deflated.npz", arrays=arrays, compressed=True))
    assert stored == deflated
    assert stored["findings"]  # the comparison includes a finding


def test_jobs_2_prints_what_jobs_1_prints(cli, make_npz):
    """A stack of three 16 MiB blocks: --jobs 2 gives the same table, verdict and JSON as --jobs 1."""
    arrays = dataset_arrays(n=2200, h=64, w=64, object_shape=(128, 128))
    arrays["diffraction"][5, 3, 3] = np.nan
    arrays["diffraction"][1500:] *= 40  # intensity-like scale in the last block
    path = make_npz(arrays=arrays)
    runs = {
        jobs: (cli("validate", path, "--jobs", jobs), cli("validate", path, "--jobs", jobs, "--json"))
        for jobs in ("1", "2")
    }
    (text1, json1), (text2, json2) = runs["1"], runs["2"]
    assert text1.returncode == text2.returncode == json1.returncode == json2.returncode == 1
    assert _table_rows(text1.stdout) >= {
        ("error", "diffraction-finite", "diffraction"),
        ("error", "diffraction-normalized", "diffraction"),
    }
    assert text2.stdout == text1.stdout
    assert json2.stdout == json1.stdout
    assert json.loads(json1.stdout)["stats"]["diffraction"]["count"] == 2200 * 64 * 64


# -- user contracts -------------------------------------------------------------------------


def _write_contract(tmp_path, text: str, name: str = "mine.json") -> str:
    path = os.path.join(tmp_path, name)
    with open(path, "w") as fh:
        fh.write(text)
    return path


def test_user_contract_by_path(cli, make_npz, tmp_path):
    """--contract PATH applies the file's rules (here: a looser max bound)."""
    data = load_contract("data001").to_dict()
    data["name"] = "loose"
    for rule in data["rules"]:
        if rule["id"] == "diffraction-normalized":
            rule["value"] = 500.0
    contract = _write_contract(tmp_path, json.dumps(data))
    arrays = dataset_arrays()
    arrays["diffraction"] = arrays["diffraction"] * 40
    path = make_npz(arrays=arrays)
    assert cli("validate", path).returncode == 1
    proc = cli("validate", path, "--contract", contract)
    assert proc.returncode == 0, proc.stdout
    assert "against loose" in proc.stdout


def test_contract_syntax_error_names_line_and_column(cli, make_npz, tmp_path):
    """A JSON syntax error in a contract file exits 2 naming its line and column."""
    contract = _write_contract(tmp_path, '{\n  "name": "x",\n  "fields": [}\n')
    proc = cli("validate", make_npz(), "--contract", contract)
    _assert_one_line_error(proc, "mine.json", "line 3 column 14")


def test_contract_unknown_dtype_names_it(cli, make_npz, tmp_path):
    """An unknown dtype in a contract file exits 2 naming the dtype and the field."""
    data = load_contract("data001").to_dict()
    data["fields"][1]["dtypes"] = ["complex65"]
    contract = _write_contract(tmp_path, json.dumps(data))
    proc = cli("validate", make_npz(), "--contract", contract)
    _assert_one_line_error(proc, "field 'probeGuess'", "unknown dtype 'complex65'")


def test_unknown_contract_name_exits_2(cli, make_npz):
    """A name that is neither a built-in nor a file lists the built-ins."""
    _assert_one_line_error(cli("validate", make_npz(), "--contract", "data999"), "data001")


# -- contract show / list --------------------------------------------------------------------


def test_contract_show_markdown_prints_the_table(cli):
    """`contract show data001 --format markdown` prints the field table and the rules."""
    proc = cli("contract", "show", "data001", "--format", "markdown")
    assert proc.returncode == 0
    out = proc.stdout
    assert out.startswith("# Contract `data001`")
    assert "| Field | Role | Required | dtype | Also accepted | Shape | Aliases | Meaning |" in out
    assert "| `diffraction` | diffraction | yes | float32 | - | (N, H, W) | `diff3d` (error) |" in out
    assert "| `diffraction-normalized` | `diffraction` | max_below | 10 | error |" in out
    assert cli("contract", "show").stdout == out  # data001 and markdown are the defaults


@pytest.mark.parametrize("name", ["data001", "legacy"])
def test_contract_show_json_round_trips(cli, name):
    """`contract show NAME --format json` parses back into the same contract."""
    proc = cli("contract", "show", name, "--format", "json")
    assert proc.returncode == 0
    builtin = load_contract(name)
    assert contract_from_dict(json.loads(proc.stdout), origin=builtin.origin) == builtin


def test_contract_show_accepts_a_path(cli, tmp_path):
    """A contract file renders like a built-in."""
    data = load_contract("legacy").to_dict()
    data["name"] = "site-profile"
    path = _write_contract(tmp_path, json.dumps(data))
    proc = cli("contract", "show", path)
    assert proc.returncode == 0
    assert proc.stdout.startswith("# Contract `site-profile`")


def test_contract_show_bad_file_exits_2(cli, tmp_path):
    """A broken contract file is an unusable input for `contract show` too."""
    path = _write_contract(tmp_path, "{not json")
    _assert_one_line_error(cli("contract", "show", path), "not valid JSON", "line 1 column 2")


def test_contract_list_names_the_builtins(cli):
    """`contract list` prints one line per built-in with its kind."""
    proc = cli("contract", "list")
    assert proc.returncode == 0
    kinds = {line.split()[0]: line.split()[1] for line in proc.stdout.splitlines()}
    assert kinds["data001"] == "dataset"
    assert kinds["legacy"] == "dataset"


# -- help and version -----------------------------------------------------------------------


def _subcommand_paths(parser: argparse.ArgumentParser, prefix=()) -> list[tuple[str, ...]]:
    paths = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                paths.append((*prefix, name))
                paths.extend(_subcommand_paths(sub, (*prefix, name)))
    return paths


SUBCOMMANDS = _subcommand_paths(build_parser())


def test_the_foundation_subcommands_exist():
    """validate, contract show and contract list are registered."""
    assert {("validate",), ("contract",), ("contract", "show"), ("contract", "list")} <= set(SUBCOMMANDS)


@pytest.mark.parametrize("path", SUBCOMMANDS, ids=" ".join)
def test_every_subcommand_has_help(cli, path):
    """`ptyevidence ... --help` exits 0 with a usage line and a description."""
    proc = cli(*path, "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: ptyevidence {' '.join(path)}")
    description = proc.stdout.split("\n\n")[1]
    assert description.strip()
    assert not description.lstrip().startswith(("positional arguments", "options"))


def test_version(cli):
    """--version prints the package version."""
    proc = cli("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"ptyevidence {__version__}"


def test_console_script_runs(make_npz):
    """The installed `ptyevidence` script is the same entry point."""
    import subprocess

    script = shutil.which("ptyevidence", path=os.path.dirname(sys.executable))
    if script is None:
        pytest.skip("console script not installed next to the interpreter")
    proc = subprocess.run([script, "validate", make_npz()], capture_output=True, text=True, check=False, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1].startswith("PASS: ")
