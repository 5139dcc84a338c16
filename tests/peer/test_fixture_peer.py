"""PtychoPINN's own fixture tests pass on a default ptyevidence fixture (needs the peer and its snapshot).

PtychoPINN's ``tests/torch/test_fixture_pytorch_integration.py`` skips all
seven tests, with exit status 0, when its fixture is missing, so the run must
report "7 passed". The fixture is cut by the default ``fixture make`` (which
writes ``diff3d`` beside ``diffraction``) into a writable copy of the
snapshot; without the copy the TF loader fails two of the tests with
KeyError 'diff3d' (``ptycho/raw_data.py:326``), which the ptychopinn-tf
profile names.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from peer_env import peer_env, ptyevidence_cli, require_peer, snapshot, writable_copy

PEER = require_peer()
SNAPSHOT = snapshot()
if SNAPSHOT is None:
    pytest.skip("no PtychoPINN snapshot (set PTYEVIDENCE_PEER_SNAPSHOT)", allow_module_level=True)
TESTS = "tests/torch/test_fixture_pytorch_integration.py"
#: Where that module looks for its fixture (its FIXTURE_PATH, :33) and sidecar (:34).
PLACE = "tests/fixtures/pytorch_integration/minimal_dataset_v1"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("peer-demo")
    done = ptyevidence_cli("demo-data", str(folder / "demo.npz"))
    assert done.returncode == 0, done.stderr
    return folder / "demo.npz"


def _run_fixture_tests(demo, folder, *make_flags):
    copy = writable_copy(SNAPSHOT, folder / "PtychoPINN")
    target = copy / PLACE
    made = ptyevidence_cli(
        "fixture",
        "make",
        "--source",
        str(demo),
        "--output",
        f"{target}.npz",
        "--metadata-out",
        f"{target}.json",
        "--notes-out",
        str(folder / "notes.md"),
        "--force",
        *make_flags,
    )
    assert made.returncode == 0, made.stderr
    (folder / "cwd").mkdir()
    (folder / "home").mkdir()
    done = subprocess.run(
        [PEER, "-m", "pytest", "-p", "no:cacheprovider", "-rA", f"--basetemp={folder / 'tmp'}", str(copy / TESTS)],
        cwd=folder / "cwd",
        env=peer_env(folder / "home"),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return f"{target}.npz", done.stdout + done.stderr, done.returncode


def test_ptychopinn_fixture_tests_pass_7_of_7_on_a_default_fixture(demo, tmp_path):
    fixture, output, code = _run_fixture_tests(demo, tmp_path)
    assert code == 0, output[-4000:]
    assert re.search(r"\b7 passed\b", output), output[-4000:]
    assert "skipped" not in output.splitlines()[-1], output[-2000:]
    for contract in ("data001", "ptychopinn-tf", "ptychopinn-torch"):
        checked = ptyevidence_cli("validate", "--contract", contract, fixture)
        assert checked.returncode == 0, checked.stdout


def test_without_the_diff3d_copy_rawdata_fails_as_the_tf_profile_says(demo, tmp_path):
    fixture, output, code = _run_fixture_tests(demo, tmp_path, "--no-legacy-alias")
    assert code == 1
    assert re.search(r"\b2 failed, 5 passed\b", output), output[-4000:]
    assert output.count("KeyError: 'diff3d'") >= 1, output[-4000:]
    checked = ptyevidence_cli("validate", "--contract", "ptychopinn-tf", fixture)
    assert checked.returncode == 1
    assert "tf-requires-diff3d" in checked.stdout
    assert ptyevidence_cli("validate", "--contract", "ptychopinn-torch", fixture).returncode == 0
