"""pytest plugin: verify regression fixtures as test items; load fixtures inside tests.

Installed with ptyevidence (entry point ``pytest11``) and inert unless asked:

- ``pytest --ptyevidence [PATHS]`` collects every ``.npz`` under PATHS that
  has a fixture sidecar beside it (same name, ``.json``) as one test item,
  ``<fixture>.npz::verify``, and verifies it against its sidecar; when its
  source can be found (``--ptyevidence-source DIR``, or the recorded source
  path exists) the rows are checked against the source too. A failure shows
  the verify table.
- ``--ptyevidence-regen`` re-cuts every collected fixture whose source is
  available from its recorded parameters, in place, and fails the items
  whose fixture changed (like ``--force-regen``), naming what changed.
- The ``ptyevidence_fixture`` fixture returns a
  :class:`~ptyevidence.testing.LoadedFixture` for the path given by a
  ``@pytest.mark.ptyevidence_fixture(PATH)`` marker (or by indirect
  parametrization); relative paths are relative to the test file's folder.

Nothing beyond pytest and the package itself is imported until a fixture is
verified or loaded.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from .._json import read_json
from ..exceptions import (
    FixtureCheckFailed,
    FixtureUnusable,
    InputError,
    PtyEvidenceError,
)

__all__ = ["FixtureFile", "FixtureItem", "ptyevidence_fixture"]

#: Name of the one item collected per fixture file.
ITEM_NAME = "verify"
_NOTES = pytest.StashKey[list]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--ptyevidence``, ``--ptyevidence-source`` and ``--ptyevidence-regen``."""
    group = parser.getgroup("ptyevidence", "ptyevidence regression fixtures")
    group.addoption(
        "--ptyevidence",
        action="store_true",
        default=False,
        help="collect every fixture NPZ with a sidecar (same name, .json) as a test item and "
        "verify it: file and content digests, contract, rows, indices, coverage thresholds",
    )
    group.addoption(
        "--ptyevidence-source",
        metavar="DIR",
        default=None,
        help="also check each fixture's rows against its source, looked up in DIR by the "
        "recorded file name (sources at their recorded path are always checked)",
    )
    group.addoption(
        "--ptyevidence-regen",
        action="store_true",
        default=False,
        help="re-cut each fixture whose source is available from its recorded parameters, in "
        "place; items whose fixture changed fail and say what changed (implies --ptyevidence)",
    )


def _enabled(config: pytest.Config) -> bool:
    return bool(config.getoption("ptyevidence") or config.getoption("ptyevidence_regen"))


def pytest_configure(config: pytest.Config) -> None:
    """Declare the ``ptyevidence_fixture`` marker (so ``--strict-markers`` accepts it)."""
    config.addinivalue_line(
        "markers",
        "ptyevidence_fixture(path, metadata=None): the fixture NPZ the ptyevidence_fixture "
        "fixture loads (relative to the test file's folder)",
    )
    config.stash[_NOTES] = []


def pytest_report_header(config: pytest.Config) -> str | None:
    """Say what ``--ptyevidence`` will do, when it is on."""
    if not _enabled(config):
        return None
    what = ["ptyevidence: fixture NPZs with a sidecar are verified"]
    folder = config.getoption("ptyevidence_source")
    if folder:
        what.append(f"sources looked up in {folder}")
    if config.getoption("ptyevidence_regen"):
        what.append("fixtures with an available source are regenerated in place")
    return "; ".join(what)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """Collect ``file_path`` when it is a fixture NPZ with a sidecar (and the plugin is on)."""
    if file_path.suffix != ".npz" or not _enabled(parent.config):
        return None
    sidecar = file_path.with_suffix(".json")
    # A file named on the command line is always collected: its item then says what is missing.
    if _is_sidecar(sidecar) or parent.session.isinitpath(file_path):
        return FixtureFile.from_parent(parent, path=file_path)
    return None


def _is_sidecar(path: Path) -> bool:
    """Return True for a JSON object written as a fixture sidecar, or a file too damaged to tell."""
    if not path.is_file():
        return False
    try:
        data = read_json(path, f"sidecar '{path}'")
    except InputError:
        return True  # a damaged sidecar must fail loudly, not vanish from the run
    return isinstance(data, dict) and "content_digests" in data


class FixtureFile(pytest.File):
    """A fixture NPZ: holds the one :class:`FixtureItem` that verifies it."""

    def collect(self):
        """Yield the ``verify`` item."""
        yield FixtureItem.from_parent(self, name=ITEM_NAME)


class FixtureItem(pytest.Item):
    """Verify one fixture against its sidecar (and source); regenerate it when asked."""

    def runtest(self) -> None:
        """Verify, or with ``--ptyevidence-regen`` re-cut and compare."""
        try:
            self._run()
        except PtyEvidenceError as exc:
            raise FixtureUnusable(str(exc)) from None

    def _run(self) -> None:
        from ..fixture import read_sidecar, verify_fixture
        from ..fixture.regenerate import find_source
        from ..fixture.sidecar import default_metadata_path
        from .assertions import recorded_thresholds, verify_table

        # Reports name the fixture as the user would type it, from where pytest was started.
        fixture = os.path.relpath(self.path, self.config.invocation_params.dir)
        sidecar = default_metadata_path(fixture)
        if not os.path.isfile(sidecar):
            msg = f"fixture '{fixture}' has no sidecar '{sidecar}' (its name with .json)"
            raise FixtureUnusable(msg)
        record = read_sidecar(sidecar)
        config = self.config
        source = find_source(record, sidecar, config.getoption("ptyevidence_source"), roots=[str(config.rootpath)])
        if config.getoption("ptyevidence_regen") and source is not None:
            self._regenerate(fixture, sidecar, source)  # returns only when the fixture is unchanged
        elif source is None:
            self._note(f"{self.nodeid}: source '{record.get('source_dataset')}' not found; rows not checked against it")
        # Thresholds and contract apply to a reproduced fixture too.
        report = verify_fixture(fixture, metadata=sidecar, source=source, progress=False, **recorded_thresholds(record))
        self.user_properties.append(("ptyevidence_checks", len(report.checks)))
        if not report.ok:
            raise FixtureCheckFailed(verify_table(report, record))

    def _regenerate(self, fixture: str, sidecar: str, source: str) -> None:
        from ..fixture.regenerate import regenerate_fixture
        from ..fixture.sidecar import file_sha256

        # Cut into a temporary folder first: a fixture that is reproduced as it is on disk
        # is left alone (rewriting it would only change the sidecar's timestamp).
        check = regenerate_fixture(sidecar, source=source, progress=False)
        if check.reproduced and file_sha256(fixture, progress=False) == check.fresh["sha256_checksum"]:
            self._note(f"{self.nodeid}: re-cut from '{source}' reproduces it; left as it is")
            return
        result = regenerate_fixture(
            sidecar, source=source, output=fixture, metadata_out=sidecar, force=True, progress=False
        )
        change = result.verdict if not result.reproduced else result.replaced_text()
        self._note(f"{self.nodeid}: regenerated from '{source}': {change}")
        msg = f"fixture regenerated in place (--ptyevidence-regen); review and commit it:\n{result.to_text()}"
        raise FixtureCheckFailed(msg)

    def _note(self, text: str) -> None:
        self.config.stash[_NOTES].append(text)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        """Show the verify table (or the one-line reason) instead of a traceback."""
        if isinstance(excinfo.value, (FixtureCheckFailed, FixtureUnusable)):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo, style=style))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """Locate the item by its fixture file."""
        return self.path, None, f"ptyevidence fixture {self.path.name}"


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """List fixtures not checked against a source and fixtures regenerated."""
    notes = config.stash.get(_NOTES, [])
    if notes and _enabled(config):
        terminalreporter.ensure_newline()  # end the progress line before the section
        terminalreporter.section("ptyevidence")
        for line in notes:
            terminalreporter.write_line(line)


@pytest.fixture
def ptyevidence_fixture(request: pytest.FixtureRequest) -> Any:
    """Return the fixture named by the ``ptyevidence_fixture`` marker as a LoadedFixture.

    Use ``@pytest.mark.ptyevidence_fixture("fixtures/minimal.npz")`` on a
    test, class or module (``pytestmark``), or parametrize
    ``ptyevidence_fixture`` indirectly with paths. Each test gets fresh arrays.
    """
    from .loading import load_fixture

    metadata = None
    path = getattr(request, "param", None)
    if path is None:
        marker = request.node.get_closest_marker("ptyevidence_fixture")
        if marker is None or not marker.args:
            pytest.fail(
                "the ptyevidence_fixture fixture needs a path: mark the test with "
                "@pytest.mark.ptyevidence_fixture(PATH) or parametrize it indirectly",
                pytrace=False,
            )
        path = marker.args[0]
        metadata = marker.kwargs.get("metadata")
    base = request.path.parent
    path = os.path.join(base, os.fspath(path))
    if metadata is not None:
        metadata = os.path.join(base, os.fspath(metadata))
    try:
        return load_fixture(path, metadata)
    except PtyEvidenceError as exc:
        pytest.fail(str(exc), pytrace=False)
