"""Regression fixtures: cut a small, contract-compliant dataset out of a large scan.

Use :func:`make_fixture` to write a fixture NPZ with its JSON sidecar and
Markdown notes, and :func:`verify_fixture` to check a fixture against that
record (and against its source). :func:`select_indices` exposes the subset
strategies on their own, e.g. to compare them before cutting.

Examples
--------
>>> from ptyevidence.fixture import STRATEGIES
>>> STRATEGIES
('stratified-index', 'grid', 'farthest-point')
"""

from ._fixture import (
    MIN_SUBSET_SIZE,
    FixtureResult,
    VerifyCheck,
    VerifyReport,
    make_fixture,
    verify_fixture,
)
from ._sidecar import content_digest, fixture_notes_markdown, read_sidecar
from ._subset import STRATEGIES, select_indices

__all__ = [
    "MIN_SUBSET_SIZE",
    "STRATEGIES",
    "FixtureResult",
    "VerifyCheck",
    "VerifyReport",
    "content_digest",
    "fixture_notes_markdown",
    "make_fixture",
    "read_sidecar",
    "select_indices",
    "verify_fixture",
]
