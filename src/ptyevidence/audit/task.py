"""The work of one audit task, run on a worker: validate one file, return a plain row.

A task never raises: a file that cannot be used, or a bug met while checking
it, becomes a row with a status and a reason, so one bad file never stops an
audit. Rows are plain dicts (they travel from workers to the client, which
alone writes them to the results database).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from typing import Any

from ..exceptions import PtyEvidenceError
from . import _hooks
from .fingerprint import dataset_fingerprint

__all__ = ["STATUS_EXIT", "audit_file", "audit_files", "crashed_row"]

#: Row status -> exit code of that file alone (the command's codes).
STATUS_EXIT = {"pass": 0, "fail": 1, "unusable": 2, "error": 3}
_STATUS_OF = {code: status for status, code in STATUS_EXIT.items()}


def audit_file(path: str, contracts: Sequence[Any] | None = None) -> dict[str, Any]:
    """Validate ``path`` against each contract and return the audit row.

    Parameters
    ----------
    path : str
        Dataset file (absolute).
    contracts : sequence of DatasetContract, or None
        Contracts to check; None checks the file's default contract for its format.

    Returns
    -------
    dict
        ``path``, ``fingerprint``, ``size``, ``format``, ``layout``, ``frames``,
        ``positions``, ``seconds``, ``status`` (pass, fail, unusable, error),
        ``exit_code``, ``reason`` and ``verdicts``: one dict per contract with
        ``contract``, ``verdict`` (pass, fail, unusable), ``errors``,
        ``warnings`` and ``first_finding``.

    Examples
    --------
    >>> import os, tempfile
    >>> bad = os.path.join(tempfile.mkdtemp(), "bad.npz")
    >>> with open(bad, "wb") as fh:
    ...     _ = fh.write(b"not a zip")
    >>> row = audit_file(bad)
    >>> row["status"], row["exit_code"]
    ('unusable', 2)
    """
    from ..readers.registry import default_contract_for

    start = time.perf_counter()
    row: dict[str, Any] = _empty_row(path)
    try:
        _fingerprint(row, path)
        _hooks.before_validation(path)
        names = list(contracts) if contracts is not None else [default_contract_for(path)]
        row["verdicts"] = [_check(path, contract, row) for contract in names]
        row["status"] = _STATUS_OF[max(STATUS_EXIT[v["verdict"]] for v in row["verdicts"])]
        if row["status"] == "unusable" and not row["reason"]:
            row["reason"] = next(v["first_finding"] for v in row["verdicts"] if v["verdict"] == "unusable")
    except (PtyEvidenceError, OSError, MemoryError) as exc:
        row.update(status="unusable", reason=_reason(exc, path))
    except Exception as exc:  # noqa: BLE001 - a bug in a check must not stop the audit
        row.update(status="error", reason=f"internal error: {type(exc).__name__}: {exc}")
    row["exit_code"] = STATUS_EXIT[row["status"]]
    row["seconds"] = round(time.perf_counter() - start, 4)
    return row


def audit_files(paths: Sequence[str], contracts: Sequence[Any] | None = None) -> list[dict[str, Any]]:
    """Return :func:`audit_file`'s row for each of ``paths``, in order: the task of one batch of files.

    Parameters
    ----------
    paths : sequence of str
        Dataset files (absolute).
    contracts : sequence of DatasetContract, or None
        As for :func:`audit_file`.

    Returns
    -------
    list of dict
        One row per path.
    """
    return [audit_file(path, contracts) for path in paths]


def crashed_row(path: str, reason: str) -> dict[str, Any]:
    """Return the row of a file whose task the engine gave up on (its workers died).

    Parameters
    ----------
    path : str
        Dataset file.
    reason : str
        What happened, e.g. "its worker died twice while checking it".

    Returns
    -------
    dict
        A row like :func:`audit_file`'s, status ``error``; the fingerprint is
        taken here when the file is still readable.
    """
    row = _empty_row(path)
    with contextlib.suppress(OSError):
        _fingerprint(row, path)
    row.update(status="error", exit_code=STATUS_EXIT["error"], reason=reason)
    return row


def _empty_row(path: str) -> dict[str, Any]:
    return {
        "path": path,
        "fingerprint": None,
        "size": None,
        "format": None,
        "layout": None,
        "frames": None,
        "positions": None,
        "seconds": None,
        "status": None,
        "exit_code": None,
        "reason": "",
        "verdicts": [],
    }


def _fingerprint(row: dict[str, Any], path: str) -> None:
    row["fingerprint"] = dataset_fingerprint(path)
    row["size"] = int(row["fingerprint"].split(":", 1)[0])


def _check(path: str, contract: Any, row: dict[str, Any]) -> dict[str, Any]:
    """Validate against one contract; fill the row's shape columns from the first report."""
    from ..contract.validate import validate_dataset

    name = getattr(contract, "name", contract)
    try:
        report = validate_dataset(path, contract, progress=False)
    except PtyEvidenceError as exc:
        return {
            "contract": name,
            "verdict": "unusable",
            "errors": 0,
            "warnings": 0,
            "first_finding": _reason(exc, path),
        }
    if row["format"] is None:
        row["format"] = report.format
    for key, value in _shape_columns(report).items():
        if row[key] is None:
            row[key] = value
    first = (report.errors or report.warnings or [None])[0]
    return {
        "contract": report.contract,
        "verdict": "pass" if report.ok else "fail",
        "errors": len(report.errors),
        "warnings": len(report.warnings),
        "first_finding": f"{first.severity} {first.rule} ({first.field}): {first.message}" if first else "",
    }


def _shape_columns(report: Any) -> dict[str, Any]:
    """Frames (diffraction stack length), positions (length of xcoords) and layout."""
    diffraction = report.fields.get("diffraction", {})
    frames = diffraction.get("canonical_shape") or diffraction.get("shape")
    x = report.fields.get("xcoords", {}).get("shape")
    return {
        "frames": frames[0] if frames else None,
        "positions": x[0] if x and len(x) == 1 else None,
        "layout": report.layout,
    }


def _reason(exc: BaseException, path: str) -> str:
    if isinstance(exc, MemoryError) and not isinstance(exc, PtyEvidenceError):
        return "out of memory while checking it; audit it alone or on a larger worker"
    if isinstance(exc, OSError) and not isinstance(exc, PtyEvidenceError):
        return f"cannot read '{path}': {exc.strerror or exc}"
    return str(exc)
