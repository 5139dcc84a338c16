"""Assert, inside a test, that a fixture still matches its record.

:func:`assert_fixture` runs :func:`ptyevidence.fixture.verify_fixture` and
raises an :class:`AssertionError` whose message is the verify table: one row
per failed check with what the sidecar records and what was found.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from .._format import number_text, text_table
from ..fixture import VerifyReport, read_sidecar, verify_fixture
from ..fixture.sidecar import default_metadata_path

__all__ = ["assert_fixture", "recorded_thresholds", "verify_table"]

_SHA = re.compile(r"\b[0-9a-f]{64}\b")
# A fingerprint shown as a dict ({'method': ..., 'bytes': ..., 'sha256': ...}): its hash says enough.
_FINGERPRINT = re.compile(r"\{[^{}]*'sha256': '([0-9a-f]{64})'[^{}]*\}")


def recorded_thresholds(record: Mapping[str, Any]) -> dict[str, float]:
    """Return the coverage thresholds a sidecar records, as :func:`verify_fixture` arguments.

    A sidecar may carry ``thresholds`` (``min_range_ratio``,
    ``min_occupancy``) fixed when the fixture was cut; thresholds it does not
    record are left to :func:`verify_fixture`'s defaults.

    Examples
    --------
    >>> recorded_thresholds({"thresholds": {"min_range_ratio": 0.8}})
    {'min_range_ratio': 0.8}
    >>> recorded_thresholds({})
    {}
    """
    recorded = record.get("thresholds")
    if not isinstance(recorded, Mapping):
        return {}
    return {
        name: float(recorded[name])
        for name in ("min_range_ratio", "min_occupancy")
        if isinstance(recorded.get(name), (int, float)) and not isinstance(recorded.get(name), bool)
    }


def _recorded(name: str, record: Mapping[str, Any] | None) -> Any:
    """Return what the sidecar records for check ``name`` ('-' when nothing to show)."""
    if record is None:
        return "-"
    head, _, rest = name.partition(".")
    if head == "content_digests":
        return record.get("content_digests", {}).get(rest, "-")
    if head == "coverage" and rest:
        return record.get("coverage", {}).get(rest, "-")
    if head == "rows":
        return f"{len(record.get('indices', []))} rows at the recorded indices"
    contract = record.get("contract") or {}
    fingerprint = record.get("source_fingerprint") or {}
    known = {
        "sha256_checksum": record.get("sha256_checksum"),
        "source_sha256": record.get("source_sha256"),
        "source_fingerprint": fingerprint.get("sha256") if isinstance(fingerprint, Mapping) else None,
        "subset_size": record.get("subset_size"),
        "indices": f"{len(record.get('indices', []))} indices",
        "contract": f"{contract.get('name')}: {contract.get('verdict')}",
        "keys": f"{len(record.get('content_digests', {}))} keys",
        "transformations": f"{len(record.get('transformations') or [])} steps",
        "coverage": "the coverage block",
    }
    value = known.get(name)
    return "-" if value is None else value


def _cell(value: Any) -> str:
    text = _FINGERPRINT.sub(lambda m: m.group(1), number_text(value))
    # Digests are 64 hex digits; 16 tell two apart and keep the table on a screen.
    return _SHA.sub(lambda m: m.group(0)[:16] + "...", text)


def verify_table(report: VerifyReport, record: Mapping[str, Any] | None = None, failures_only: bool = True) -> str:
    """Render a verify report as its verdict, then a table of check, recorded and found.

    Parameters
    ----------
    report : VerifyReport
        From :func:`ptyevidence.fixture.verify_fixture`.
    record : mapping, optional
        The sidecar, for the RECORDED column (read from ``report.metadata``
        when omitted).
    failures_only : bool
        List failed checks only, with a count of the passed ones.

    Returns
    -------
    str
    """
    if record is None and os.path.isfile(report.metadata):
        record = read_sidecar(report.metadata)
    checks = report.mismatches if failures_only else report.checks
    rows = []
    for check in checks:  # a check may carry its own recorded and found values
        recorded, found = getattr(check, "recorded", None), getattr(check, "found", None)
        # Details read "<found> != recorded <value>" on a mismatch; the value has its own column.
        rows.append(
            [
                check.name,
                _cell(_recorded(check.name, record) if recorded is None else recorded),
                _cell(check.detail.split(" != recorded ")[0] if found is None else found),
            ]
        )
    lines = [report.verdict]
    if rows:
        lines.append(text_table(["CHECK", "RECORDED", "FOUND"], rows))
    passed = len(report.checks) - len(report.mismatches)
    if failures_only and passed:
        lines.append(f"({passed} other checks passed)")
    return "\n".join(lines)


def assert_fixture(
    path: str | os.PathLike,
    *,
    metadata: str | os.PathLike | None = None,
    source: str | os.PathLike | None = None,
    profile: str | os.PathLike | None = None,
    min_range_ratio: float | None = None,
    min_occupancy: float | None = None,
) -> VerifyReport:
    """Assert that a fixture matches its sidecar (and its source, and a profile).

    Runs :func:`ptyevidence.fixture.verify_fixture` (with ``source``, the rows
    are also compared with the source); with ``profile``, the fixture must
    also pass that contract.

    Parameters
    ----------
    path : str or path
        The fixture NPZ.
    metadata : str or path, optional
        Its sidecar; default ``path`` with a ``.json`` suffix.
    source : str or path, optional
        The dataset the fixture was cut from.
    profile : str or path, optional
        A contract (built-in name such as ``data001``, or a file) the
        fixture must pass besides the one its sidecar records.
    min_range_ratio, min_occupancy : float, optional
        Coverage thresholds; default: those the sidecar records
        (:func:`recorded_thresholds`), else :func:`verify_fixture`'s.

    Returns
    -------
    VerifyReport
        The passing report.

    Raises
    ------
    AssertionError
        If any check fails; the message is the :func:`verify_table`.
    InputError
        If the fixture or its sidecar cannot be used at all.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from ptyevidence import make_demo_data, make_fixture
    >>> folder = tempfile.mkdtemp()
    >>> src = make_demo_data(os.path.join(folder, "scan.npz"), n_positions=40)
    >>> made = make_fixture(src, os.path.join(folder, "fixture.npz"), subset_size=16)
    >>> assert_fixture(made.path, source=src).ok
    True
    >>> with np.load(made.path) as f:
    ...     arrays = dict(f)
    >>> arrays["ycoords"][5] += 0.5
    >>> tampered = os.path.join(folder, "tampered.npz")
    >>> np.savez(tampered, **arrays)
    >>> assert_fixture(tampered, metadata=made.metadata_path, source=src)
    ... # doctest: +ELLIPSIS, +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    AssertionError: FAIL: '...tampered.npz' does not match '...fixture.json': 3 of 31 checks failed
    CHECK                    RECORDED                         FOUND
    sha256_checksum          ...
    content_digests.ycoords  ...
    rows.ycoords             16 rows at the recorded indices  1 of 16 rows differ from the source
                                                              (first: fixture row 5, source index 12)
    (28 other checks passed)
    """
    metadata_path = os.fspath(metadata) if metadata is not None else None
    record = read_sidecar(metadata_path or default_metadata_path(path))
    given = {"min_range_ratio": min_range_ratio, "min_occupancy": min_occupancy}
    thresholds = {**recorded_thresholds(record), **{k: v for k, v in given.items() if v is not None}}
    report = verify_fixture(path, metadata=metadata_path, source=source, **thresholds)
    if profile is not None:
        _check_profile(report, os.fspath(path), profile)
    if not report.ok:
        raise AssertionError(verify_table(report, record))
    return report


def _check_profile(report: VerifyReport, path: str, profile: str | os.PathLike) -> None:
    from ..contract.validate import validate_dataset

    result = validate_dataset(path, profile, layout="canonical", progress=False)
    errors = "; ".join(f"[{f.rule}] {f.field}: {f.message}" for f in result.errors)
    detail = f"{result.contract}: {'PASS' if result.ok else 'FAIL'}" + (f": {errors}" if errors else "")
    report.add(f"profile.{result.contract}", result.ok, detail)
