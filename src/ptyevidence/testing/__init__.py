"""Regression fixtures in a test suite: assertions, loading, and the pytest plugin.

:func:`assert_fixture` raises an :class:`AssertionError` whose message is the
verify table when a fixture no longer matches its sidecar (or its source);
:func:`load_fixture` reads a fixture's arrays and record for a test. The
pytest plugin (:mod:`ptyevidence.testing.pytest_plugin`, registered as the
``pytest11`` entry point ``ptyevidence``) adds ``pytest --ptyevidence`` and the
``ptyevidence_fixture`` fixture.

Names load on first use, so pytest loading the plugin imports no numpy.
"""

from importlib import import_module
from typing import Any

#: Public name -> submodule that defines it.
_LAZY = {
    "LoadedFixture": "loading",
    "load_fixture": "loading",
    "assert_fixture": "assertions",
    "recorded_thresholds": "assertions",
    "verify_table": "assertions",
}

__all__ = ["LoadedFixture", "assert_fixture", "load_fixture", "recorded_thresholds", "verify_table"]


def __getattr__(name: str) -> Any:
    """Load a public name from its submodule on first access (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'ptyevidence.testing' has no attribute '{name}'"
        raise AttributeError(msg)
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
