"""PyTorch stays optional: nothing imports it unasked, and its absence is one clear error.

These tests run with and without PyTorch installed. "Not installed" is
simulated in a subprocess whose ``sys.path`` folders holding PyTorch are
replaced by mirrors without it (symlinks to every other entry), so the import
fails exactly as it does on a machine without PyTorch, including the trap of a
``torch/`` folder on ``sys.path`` importing as an empty namespace package.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import ptyevidence
from conftest import dataset_arrays
from ptyevidence.gap.torch_check import TORCH_MISSING_MESSAGE
from ptyevidence.writers.npz import write_npz

REPO = Path(__file__).resolve().parents[1]
#: Folder holding the ptyevidence package these tests import.
SRC = str(Path(ptyevidence.__file__).resolve().parents[1])

#: Prepended to a subprocess script: hide an installed PyTorch from it.
WITHOUT_TORCH = r"""
import importlib, os, sys

def _hide_torch(mirror_root):
    for i, entry in enumerate(list(sys.path)):
        folder = entry or os.getcwd()
        if not os.path.isfile(os.path.join(folder, "torch", "__init__.py")):
            continue
        mirror = os.path.join(mirror_root, f"path{i}")
        os.makedirs(mirror, exist_ok=True)
        for name in os.listdir(folder):
            link = os.path.join(mirror, name)
            if name != "torch" and not name.startswith("torch-") and not os.path.lexists(link):
                os.symlink(os.path.join(folder, name), link)
        sys.path[i] = mirror
    sys.path_importer_cache.clear()
    importlib.invalidate_caches()

_hide_torch(os.environ["PTYEVIDENCE_MIRROR"])
"""

#: Imports the package, every module and every subcommand's help; reports torch.
IMPORT_EVERYTHING = r'''
import argparse, contextlib, importlib, io, json, pkgutil, sys, traceback

lookups = []

class _WatchTorch:
    """Record who looks for torch (diagnostics only; finds nothing itself)."""

    def find_spec(self, name, path=None, target=None):
        if name == "torch":
            lookups.append("".join(traceback.format_stack(limit=12)))
        return None

sys.meta_path.insert(0, _WatchTorch())
import ptyevidence
from ptyevidence import cli

modules = sorted(m.name for m in pkgutil.walk_packages(ptyevidence.__path__, "ptyevidence."))
for name in modules:
    importlib.import_module(name)
parser = cli.build_parser()
sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
commands = sorted(sub.choices)
out = io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
    for command in commands:
        try:
            cli.main([command, "--help"])
        except SystemExit:
            pass
    validate_code = cli.main(["validate", sys.argv[1]])
from ptyevidence.gap.torch_check import torch_available
torch_available()
print(json.dumps({
    "modules": modules,
    "commands": commands,
    "validate": validate_code,
    "torch_imported": "torch" in sys.modules,
    "lookups": lookups,
}))
'''


@pytest.fixture
def fixture_npz(tmp_path) -> str:
    return write_npz(os.path.join(tmp_path, "fixture.npz"), dataset_arrays(n=12))


def run_python(script: str, *args: str, cwd: Path, hide_torch: bool) -> subprocess.CompletedProcess:
    """Run ``script`` in a fresh interpreter, with PyTorch hidden if asked."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSTARTUP")}
    env["PYTHONPATH"] = SRC  # the tree under test, not whichever one the environment installed
    if hide_torch:
        env["PTYEVIDENCE_MIRROR"] = str(cwd / "site-without-torch")
        script = WITHOUT_TORCH + script
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        check=False,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
    )


def run_cli_without_torch(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run ``python -m ptyevidence ARGS`` with PyTorch hidden."""
    script = (
        "import runpy, sys\n"
        "sys.argv = ['ptyevidence', *sys.argv[1:]]\n"
        "runpy.run_module('ptyevidence', run_name='__main__', alter_sys=True)\n"
    )
    return run_python(script, *args, cwd=cwd, hide_torch=True)


def test_importing_ptyevidence_every_module_and_the_cli_does_not_import_torch(tmp_path, fixture_npz):
    result = run_python(IMPORT_EVERYTHING, fixture_npz, cwd=tmp_path, hide_torch=False)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert "ptyevidence.gap.torch_check" in report["modules"]
    assert "ptyevidence.commands.torch_check" in report["modules"]
    assert {"torch-check", "validate"} <= set(report["commands"])
    assert report["validate"] == 0
    assert not report["torch_imported"], "torch was imported; lookups:\n" + "\n".join(report["lookups"])


def test_hiding_torch_makes_it_unimportable(tmp_path):
    script = "from ptyevidence.gap.torch_check import torch_available\nprint(torch_available())\nimport torch\n"
    result = run_python(script, cwd=tmp_path, hide_torch=True)
    assert result.stdout.strip() == "False"
    assert "ModuleNotFoundError: No module named 'torch'" in result.stderr


def test_torch_check_without_torch_exits_2_with_one_line(tmp_path, fixture_npz):
    result = run_cli_without_torch("torch-check", fixture_npz, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == f"ptyevidence: error: {TORCH_MISSING_MESSAGE}\n"
    assert result.stdout == ""


def test_torch_check_json_without_torch_exits_2_with_one_line(tmp_path, fixture_npz):
    result = run_cli_without_torch("torch-check", fixture_npz, "--json", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == f"ptyevidence: error: {TORCH_MISSING_MESSAGE}\n"
    assert result.stdout == ""


def test_torch_check_help_works_without_torch(tmp_path):
    result = run_cli_without_torch("torch-check", "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "FIXTURE" in result.stdout
    assert "--json" in result.stdout


def test_check_torch_loading_without_torch_raises_an_import_error_with_exit_code_2(tmp_path, fixture_npz):
    script = (
        "import sys\n"
        "from ptyevidence import PtyEvidenceError\n"
        "from ptyevidence.gap.torch_check import check_torch_loading\n"
        "try:\n"
        "    check_torch_loading(sys.argv[1])\n"
        "except PtyEvidenceError as exc:\n"
        "    print(isinstance(exc, ImportError), exc.exit_code, exc)\n"
    )
    result = run_python(script, fixture_npz, cwd=tmp_path, hide_torch=True)
    assert result.stdout.strip() == f"True 2 {TORCH_MISSING_MESSAGE}"


def test_a_folder_named_torch_on_the_path_is_not_pytorch(tmp_path, fixture_npz):
    (tmp_path / "torch").mkdir()  # importable as an empty namespace package
    script = (
        "import sys\n"
        "from ptyevidence.gap.torch_check import torch_available, _import_torch\n"
        "print(torch_available())\n"
        "try:\n"
        "    _import_torch()\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
        "print('torch' in sys.modules)\n"
    )
    result = run_python(script, cwd=tmp_path, hide_torch=True)
    # Not even imported: in sys.modules it would pass for PyTorch to other libraries.
    assert result.stdout.splitlines() == ["False", TORCH_MISSING_MESSAGE, "False"]


def test_torch_tests_skip_cleanly_without_torch(tmp_path):
    script = "import sys, pytest\nsys.exit(pytest.main(['-p', 'no:cacheprovider', '-q', '-rs', sys.argv[1]]))\n"
    result = run_python(script, str(REPO / "tests" / "torch"), cwd=tmp_path, hide_torch=True)
    summary = result.stdout.strip().splitlines()[-1]
    # A module skipped as a whole collects no test: pytest exits 5, not 0.
    ok_codes = (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)
    assert result.returncode in ok_codes, result.stdout + result.stderr
    assert re.search(r"\d+ skipped", summary), summary
    assert not re.search(r"passed|failed|error", summary), summary
    assert "PyTorch is not installed" in result.stdout
