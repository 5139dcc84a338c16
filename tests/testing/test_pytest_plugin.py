"""The pytest plugin, run by pytest itself on temporary projects (pytester).

Each project holds fixtures cut from a scan under ``data/``: ``good`` (as cut),
``tampered`` (a coordinate edited after the cut) and ``stale`` (cut from a scan
that changed afterwards). The project's pytest settings are as strict as ours:
``--strict-markers``, ``--strict-config`` and warnings as errors.
"""

from __future__ import annotations

import re
import shutil
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pytest

from conftest import dataset_arrays
from ptyevidence.fixture import make_fixture
from ptyevidence.testing import pytest_plugin

pytest_plugins = ["pytester"]

PLUGIN = "ptyevidence.testing.pytest_plugin"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "pytest.md"


def _installed() -> bool:
    """True when the installed package registers the plugin as a pytest11 entry point."""
    return PLUGIN in {ep.value for ep in entry_points(group="pytest11")}


def _plugin_args() -> list[str]:
    """``-p PLUGIN`` for a fresh interpreter, unless the entry point loads it anyway."""
    return [] if _installed() else ["-p", PLUGIN]


SETTINGS = """
[tool.pytest.ini_options]
addopts = ["-ra", "--strict-markers", "--strict-config", "-p", "no:cacheprovider"]
filterwarnings = ["error"]
testpaths = ["tests"]
"""


def _write_scan(path: Path, n: int = 40, scale: float = 1.0) -> None:
    arrays = dataset_arrays(n=n, h=8, w=8)
    arrays["diffraction"] = arrays["diffraction"] * np.float32(scale)
    np.savez(path, **arrays)


def _edit(path: Path, key: str, row: int, delta: float) -> None:
    with np.load(path) as f:
        arrays = dict(f)
    arrays[key][row] += delta
    np.savez(path, **arrays)


@pytest.fixture
def project(pytester) -> Path:
    root = pytester.path
    pytester.makepyprojecttoml(SETTINGS)
    (root / "data").mkdir()
    fixtures = root / "tests" / "fixtures"
    fixtures.mkdir(parents=True)
    _write_scan(root / "data" / "scan.npz")
    _write_scan(root / "data" / "scan_b.npz")
    make_fixture("data/scan.npz", fixtures / "good.npz", subset_size=16)
    make_fixture("data/scan.npz", fixtures / "tampered.npz", subset_size=16)
    make_fixture("data/scan_b.npz", fixtures / "stale.npz", subset_size=16, strategy="grid")
    _edit(fixtures / "tampered.npz", "ycoords", 3, 0.5)
    _write_scan(root / "data" / "scan_b.npz", scale=0.5)  # the source moved on
    return root


def run(pytester, *args):
    # In this process the module may be imported already (--doctest-modules src): hand pytest
    # the module itself, as `-p` would warn that it cannot rewrite its asserts.
    plugins = [] if _installed() else [pytest_plugin]
    return pytester.runpytest(*args, plugins=plugins)


def test_each_fixture_is_one_item_and_failures_show_the_verify_table(pytester, project):
    result = run(pytester, "--ptyevidence", "tests/fixtures")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*ptyevidence: fixture NPZs with a sidecar are verified*",
            "tests/fixtures/good.npz .*",
            "tests/fixtures/stale.npz F*",
            "tests/fixtures/tampered.npz F*",
        ]
    )
    out = result.stdout.str()
    tampered = out[out.index("ptyevidence fixture tampered.npz") :]
    assert re.search(r"CHECK +RECORDED +FOUND", tampered)
    assert re.search(r"content_digests\.ycoords +[0-9a-f]{16}\.\.\. +[0-9a-f]{16}\.\.\.", tampered)
    assert "1 of 16 rows differ from the source (first: fixture row 3" in tampered
    stale = out[out.index("ptyevidence fixture stale.npz") : out.index("ptyevidence fixture tampered.npz")]
    assert "rows.diffraction" in stale
    assert "source_fingerprint" in stale
    assert "Traceback" not in out
    result.stdout.fnmatch_lines(["FAILED tests/fixtures/tampered.npz::verify - FAIL: *"])


def test_k_selects_fixtures_by_name(pytester, project):
    result = run(pytester, "--ptyevidence", "-k", "good or stale", "tests/fixtures")
    result.assert_outcomes(passed=1, failed=1, deselected=1)
    result = run(pytester, "--ptyevidence", "-k", "not stale and not tampered")
    result.assert_outcomes(passed=1, deselected=2)


def test_without_a_source_the_rows_are_not_checked_and_the_summary_says_so(pytester, project):
    shutil.move(project / "data", project / "elsewhere")
    result = run(pytester, "--ptyevidence", "tests/fixtures")
    result.assert_outcomes(passed=2, failed=1)  # stale is self-consistent; tampered is not
    result.stdout.fnmatch_lines(
        [
            "*= ptyevidence =*",
            "tests/fixtures/good.npz::verify: source 'data/scan.npz' not found; rows not checked against it",
        ]
    )
    result = run(pytester, "--ptyevidence", "--ptyevidence-source", "elsewhere", "tests/fixtures")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*sources looked up in elsewhere*"])


def test_regen_rewrites_changed_fixtures_fails_them_and_leaves_good_ones(pytester, project):
    fixtures = project / "tests" / "fixtures"
    good = {p.name: p.read_bytes() for p in fixtures.glob("good.*")}
    result = run(pytester, "--ptyevidence-regen", "tests/fixtures")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*fixture regenerated in place (--ptyevidence-regen); review and commit it:*",
            "*replaced tests/fixtures/stale.npz, which differed: keys diffraction, diff3d changed*",
            "*DIFFERENT: the re-cut of 'data/scan_b.npz' does not match 'tests/fixtures/stale.json'*",
            "*replaced tests/fixtures/tampered.npz, which differed: keys ycoords changed*",
            "*REPRODUCED*tampered.json*",
        ]
    )
    result.stdout.fnmatch_lines(["tests/fixtures/good.npz::verify: re-cut from 'data/scan.npz' reproduces it*"])
    assert {p.name: p.read_bytes() for p in fixtures.glob("good.*")} == good
    again = run(pytester, "--ptyevidence", "tests/fixtures")
    again.assert_outcomes(passed=3)


def test_the_plugin_is_inert_without_the_flag(pytester, project):
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    shutil.move(project / "test_plain.py", project / "tests" / "test_plain.py")
    result = run(pytester)
    result.assert_outcomes(passed=1)
    out = result.stdout.str()
    assert ".npz" not in out
    assert "ptyevidence:" not in out  # no header line, no summary section
    assert "= ptyevidence =" not in out
    assert result.ret == 0


def test_the_fixture_and_assert_fixture_inside_tests(pytester, project):
    pytester.makepyfile(
        test_inside="""
        import pytest
        from ptyevidence.testing import assert_fixture

        pytestmark = pytest.mark.ptyevidence_fixture("fixtures/good.npz")

        def test_arrays(ptyevidence_fixture):
            assert ptyevidence_fixture["diffraction"].shape == (16, 8, 8)
            assert ptyevidence_fixture.record["subset_size"] == 16

        @pytest.mark.ptyevidence_fixture("fixtures/tampered.npz")
        def test_closest_marker_wins(ptyevidence_fixture):
            assert ptyevidence_fixture.path.endswith("tampered.npz")

        @pytest.mark.parametrize("ptyevidence_fixture", ["fixtures/stale.npz"], indirect=True)
        def test_indirect(ptyevidence_fixture):
            assert ptyevidence_fixture.path.endswith("stale.npz")

        def test_assert_good():
            assert_fixture("tests/fixtures/good.npz", source="data/scan.npz")

        def test_assert_tampered():
            assert_fixture("tests/fixtures/tampered.npz", source="data/scan.npz")
    """
    )
    shutil.move(project / "test_inside.py", project / "tests" / "test_inside.py")
    result = run(pytester, "tests/test_inside.py")
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: FAIL: 'tests/fixtures/tampered.npz' does not match*",
            "*content_digests.ycoords*",
        ]
    )


def test_the_fixture_without_a_path_or_with_a_missing_one_errors_in_one_line(pytester, project):
    pytester.makepyfile(
        test_bad="""
        import pytest

        def test_unmarked(ptyevidence_fixture):
            pass

        @pytest.mark.ptyevidence_fixture("fixtures/none.npz")
        def test_missing(ptyevidence_fixture):
            pass
    """
    )
    shutil.move(project / "test_bad.py", project / "tests" / "test_bad.py")
    result = run(pytester, "tests/test_bad.py")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "*the ptyevidence_fixture fixture needs a path: mark the test with*",
            "*sidecar '*none.json' does not exist*",
        ]
    )


def test_damaged_or_missing_sidecars_fail_their_item_in_one_line(pytester, project):
    fixtures = project / "tests" / "fixtures"
    (fixtures / "good.json").write_text("{ not json")
    shutil.copy(fixtures / "stale.npz", fixtures / "orphan.npz")
    (fixtures / "unrelated.npz").write_bytes((fixtures / "stale.npz").read_bytes())
    (fixtures / "unrelated.json").write_text('{"something": "else"}')
    result = run(pytester, "--ptyevidence", "tests/fixtures/good.npz", "tests/fixtures/orphan.npz")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*sidecar 'tests/fixtures/good.json' is not valid JSON*",
            "*fixture 'tests/fixtures/orphan.npz' has no sidecar 'tests/fixtures/orphan.json'*",
        ]
    )
    # Found by walking the folder: an NPZ without a sidecar, or beside a foreign JSON, is no fixture.
    result = run(pytester, "--ptyevidence", "--collect-only", "-q", "tests/fixtures")
    assert sorted(line for line in result.stdout.lines if "::" in line) == [
        "tests/fixtures/good.npz::verify",
        "tests/fixtures/stale.npz::verify",
        "tests/fixtures/tampered.npz::verify",
    ]


def test_the_documented_test_module_passes(pytester, tmp_path):
    """docs/pytest.md's module, run on a fixture cut as the page says."""
    text = DOCS.read_text(encoding="utf-8")
    code = text.split("<!-- tests/test_minimal_fixture.py -->", 1)[1].split("```python\n", 1)[1]
    code = code.split("```", 1)[0]
    root = pytester.path
    pytester.makepyprojecttoml(SETTINGS)
    (root / "tests" / "fixtures").mkdir(parents=True)
    (root / "tests" / "test_minimal_fixture.py").write_text(code, encoding="utf-8")
    from ptyevidence.demo import make_demo_data

    make_demo_data(str(tmp_path / "scan.npz"), n_positions=200)
    make_fixture(
        tmp_path / "scan.npz", root / "tests" / "fixtures" / "minimal_dataset_v1.npz", subset_size=64, legacy_alias=True
    )
    # A fresh interpreter: in this one, `import torch` may find tests/torch (see docs/test_blueprint.md).
    result = pytester.runpytest_subprocess(*_plugin_args())
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == outcomes.get("errors", 0) == 0, result.stdout.str()
    assert outcomes["passed"] >= 5
    assert outcomes["passed"] + outcomes.get("skipped", 0) == 7
