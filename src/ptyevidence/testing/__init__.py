"""Regression fixtures in a test suite: assertions, loading, and the pytest plugin.

:func:`assert_fixture` raises an :class:`AssertionError` whose message is the
verify table when a fixture no longer matches its sidecar (or its source);
:func:`load_fixture` reads a fixture's arrays and record for a test. The
pytest plugin (:mod:`ptyevidence.testing.pytest_plugin`, registered as the
``pytest11`` entry point ``ptyevidence``) adds ``pytest --ptyevidence`` and the
``ptyevidence_fixture`` fixture.
"""

from .assertions import assert_fixture, recorded_thresholds, verify_table
from .loading import LoadedFixture, load_fixture

__all__ = ["LoadedFixture", "assert_fixture", "load_fixture", "recorded_thresholds", "verify_table"]
