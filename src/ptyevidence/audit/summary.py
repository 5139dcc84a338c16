"""The outcome of an audit and its summary files: CSV, JSON lines, Markdown and an HTML page."""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from typing import Any

from .._atomic import write_artifact
from .._format import markdown_table
from .._json import dumps_strict
from .html import summary_page

__all__ = ["STATUSES", "SUMMARY_FILES", "AuditSummary", "write_summary"]

#: Row statuses, best first; ``unfinished``: not checked when the audit stopped.
STATUSES = ("pass", "fail", "unusable", "error", "unfinished")
#: Summary files written into the audit folder after every run.
SUMMARY_FILES = ("summary.csv", "summary.jsonl", "summary.md", "summary.html")
#: Exit code of an audit that was interrupted (as for any command stopped by Ctrl-C).
INTERRUPTED_EXIT = 130
#: Rows that did not pass listed by :meth:`AuditSummary.to_text`.
_TEXT_ROWS = 20


@dataclass
class AuditSummary:
    """What an audit found, for every file it covers (checked now or skipped as unchanged).

    Attributes
    ----------
    folder : str
        The audit folder.
    files : list of str
        Every file the audit covers.
    rows : dict
        Path -> recorded row (see :func:`ptyevidence.audit.task.audit_file`).
    audited, skipped, unfinished : list of str
        Files checked in this run, skipped as unchanged, not finished.
    state : {"complete", "interrupted", "cluster-lost"}
    note : str
        Why the audit stopped early, if it did.
    engine : str
        ``local:K`` or the scheduler's address.
    contracts : str
        Contract names, or ``by-format``.
    seconds : float
        Wall time of the run.
    """

    folder: str
    files: list[str]
    rows: dict[str, dict[str, Any]]
    audited: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)
    state: str = "complete"
    note: str = ""
    engine: str = ""
    contracts: str = ""
    seconds: float = 0.0

    def table(self) -> list[dict[str, Any]]:
        """Return one flat row per file, sorted by path, as in the CSV."""
        names = self.contract_names()
        unfinished = set(self.unfinished)
        out = []
        for path in self.files:
            row = self.rows.get(path) if path not in unfinished else None
            if row is None:
                row = {"path": path, "status": "unfinished", "exit_code": None, "verdicts": []}
            verdicts = {v["contract"]: v for v in row.get("verdicts", [])}
            flat = {"path": path, "status": row["status"], "exit_code": row.get("exit_code")}
            for name in names:
                flat[f"verdict:{name}"] = verdicts[name]["verdict"] if name in verdicts else ""
            flat["errors"] = sum(v["errors"] for v in verdicts.values())
            flat["warnings"] = sum(v["warnings"] for v in verdicts.values())
            flat["first_finding"] = _first_finding(row, len(names) > 1)
            for key in ("frames", "positions", "layout", "format", "size", "fingerprint", "seconds"):
                flat[key] = row.get(key)
            out.append(flat)
        return out

    def contract_names(self) -> list[str]:
        """Contracts that appear in the rows, in order of first appearance."""
        names: dict[str, None] = {}
        for path in self.files:
            for v in self.rows.get(path, {}).get("verdicts", []):
                names[v["contract"]] = None
        return list(names)

    def counts(self) -> dict[str, int]:
        """Files per status (every status present, zeros included)."""
        counts = dict.fromkeys(STATUSES, 0)
        for row in self.table():
            counts[row["status"]] += 1
        return counts

    @property
    def exit_code(self) -> int:
        """0 every file passes; 1 some fail, are unusable or crashed; 2 none could be checked.

        An interrupted audit gives 130; one that lost its scheduler gives 2.
        """
        if self.state == "interrupted":
            return INTERRUPTED_EXIT
        if self.state == "cluster-lost":
            return 2
        codes = [r["exit_code"] for r in self.table()]
        if all(c == 0 for c in codes):
            return 0
        return 2 if all(c is not None and c >= 2 for c in codes) else 1

    def _intro(self) -> str:
        against = "each file's default contract" if self.contracts == "by-format" else self.contracts
        return f"{len(self.files)} file(s) against {against} on {self.engine}"

    def _counts_text(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in self.counts().items())

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as JSON-serializable data (``rows`` as in :meth:`table`)."""
        return {
            "folder": self.folder,
            "state": self.state,
            "note": self.note,
            "engine": self.engine,
            "contracts": self.contracts,
            "seconds": round(self.seconds, 3),
            "exit_code": self.exit_code,
            "counts": self.counts(),
            "files": len(self.files),
            "audited": self.audited,
            "skipped": self.skipped,
            "unfinished": self.unfinished,
            "rows": self.table(),
        }

    def to_text(self) -> str:
        """Return a few lines for the terminal: counts, the files that did not pass, the outputs."""
        rate = f"; {len(self.audited) / self.seconds:.1f} files/s" if self.seconds and self.audited else ""
        lines = [
            (
                f"audit of {self._intro()}: {len(self.audited)} checked, {len(self.skipped)} unchanged "
                f"since an earlier run, {len(self.unfinished)} unfinished "
                f"({self.seconds:.1f} s with cluster start-up{rate})"
            ),
            "  " + self._counts_text(),
        ]
        bad = [r for r in self.table() if r["status"] != "pass"]
        for r in bad[:_TEXT_ROWS]:
            lines.append(f"  {r['status'].upper():10s} {r['path']}  {r['first_finding']}".rstrip())
        if len(bad) > _TEXT_ROWS:
            lines.append(f"  ... {len(bad) - _TEXT_ROWS} more in summary.csv")
        if self.note:
            lines.append(f"  stopped: {self.note}")
        lines.append(
            f"summary: {os.path.join(self.folder, 'summary.html')} "
            "(also summary.csv, summary.jsonl, summary.md; results in audit.sqlite)"
        )
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """Return the summary as a Markdown page: counts, then one table row per file."""
        head = _display_columns(self.contract_names())
        body = [[_cell(key, r.get(key)) for key, _ in head] for r in self.table()]
        return (
            f"# Dataset audit\n\n{self._intro()}: {self._counts_text()}. State: {self.state}.\n\n"
            + markdown_table([label for _, label in head], body)
            + "\n"
        )

    def to_csv(self) -> str:
        """Return :meth:`table` as CSV (``verdict:NAME`` columns per contract)."""
        rows = self.table()
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["path"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buf.getvalue()

    def to_jsonl(self) -> str:
        """Return one JSON object per file: the recorded row with its per-contract verdicts."""
        unfinished = set(self.unfinished)
        lines = []
        for path in self.files:
            row = self.rows.get(path) if path not in unfinished else None
            lines.append(dumps_strict(row or {"path": path, "status": "unfinished"}, sort_keys=True))
        return "".join(line + "\n" for line in lines)

    def to_html(self) -> str:
        """Return a self-contained HTML page with a sortable, filterable table."""
        head = _display_columns(self.contract_names())
        cells = [[(_cell(key, r.get(key)), r.get(key)) for key, _ in head] for r in self.table()]
        intro = f"{self._intro()}: {self._counts_text()}. State: {self.state}."
        return summary_page(intro, [label for _, label in head], cells, STATUSES)


def write_summary(summary: AuditSummary) -> list[str]:
    """Write the four summary files into ``summary.folder`` (each atomically); return their paths."""
    texts = {
        "summary.csv": summary.to_csv(),
        "summary.jsonl": summary.to_jsonl(),
        "summary.md": summary.to_markdown(),
        "summary.html": summary.to_html(),
    }
    return [write_artifact(os.path.join(summary.folder, name), text, force=True) for name, text in texts.items()]


def _display_columns(contracts: list[str]) -> list[tuple[str, str]]:
    """(table key, header) of the summary table, one verdict column per contract."""
    return [
        ("path", "file"),
        ("status", "status"),
        *((f"verdict:{name}", name) for name in contracts),
        ("errors", "errors"),
        ("warnings", "warnings"),
        ("first_finding", "first finding"),
        ("frames", "frames"),
        ("positions", "positions"),
        ("layout", "layout"),
        ("size", "bytes"),
        ("fingerprint", "fingerprint"),
        ("seconds", "seconds"),
    ]


def _first_finding(row: dict[str, Any], named: bool) -> str:
    """Return the reason of an unusable or crashed file, else the first contract's first finding."""
    if row.get("reason"):
        return row["reason"]
    # A stable sort puts the verdicts that did not pass first, each group in contract order.
    for v in sorted(row.get("verdicts", []), key=lambda v: v["verdict"] == "pass"):
        if v["first_finding"]:
            return f"{v['contract']}: {v['first_finding']}" if named else v["first_finding"]
    return ""


def _cell(key: str, value: Any) -> str:
    """Text of one summary cell: a fingerprint as its digest's first 12 digits, seconds to ms."""
    if value is None:
        return ""
    if key == "fingerprint":
        return str(value).rsplit(":", 1)[-1][:12]
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)
