"""The audit's results database: SQLite in WAL mode, one row per file, written by the client only.

The rows of each finished task are committed as soon as they arrive, so an
audit that is interrupted keeps every result it had. A row is keyed by the file's
path and records the fingerprint and the contracts it was checked under, which
is what ``--resume`` compares to decide whether a file must be checked again.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from typing import Any

from .._json import dumps_strict, parse_json
from ..exceptions import UsageError

__all__ = ["DB_NAME", "SCHEMA_VERSION", "AuditStore"]

#: File name of the database inside the audit folder.
DB_NAME = "audit.sqlite"
#: Version of the tables below; a database of another version is refused.
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started REAL NOT NULL, ended REAL, state TEXT NOT NULL,
    contracts TEXT NOT NULL, engine TEXT NOT NULL,
    files INTEGER NOT NULL, skipped INTEGER NOT NULL, audited INTEGER NOT NULL DEFAULT 0,
    unfinished INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, fingerprint TEXT, contracts TEXT NOT NULL, run INTEGER NOT NULL,
    status TEXT NOT NULL, exit_code INTEGER NOT NULL, reason TEXT NOT NULL,
    size INTEGER, format TEXT, layout TEXT, frames INTEGER, positions INTEGER, seconds REAL,
    verdicts TEXT NOT NULL, recorded REAL NOT NULL
);
"""
_COLUMNS = (
    "path",
    "fingerprint",
    "status",
    "exit_code",
    "reason",
    "size",
    "format",
    "layout",
    "frames",
    "positions",
    "seconds",
)


class AuditStore:
    """Open (creating if needed) the results database of an audit folder.

    Parameters
    ----------
    folder : str or path
        The audit's ``--out`` folder; the database is ``folder/audit.sqlite``.

    Raises
    ------
    UsageError
        If the file is not an audit database of this version.

    Examples
    --------
    >>> import tempfile
    >>> store = AuditStore(tempfile.mkdtemp())
    >>> run = store.start_run("data001:0", "local", files=1, skipped=0)
    >>> store.record([{"path": "/a.npz", "fingerprint": "1:2:m:h", "status": "pass", "exit_code": 0,
    ...                "reason": "", "verdicts": []}], run, "data001:0")
    >>> store.rows(["/a.npz"])["/a.npz"]["status"]
    'pass'
    >>> store.close()
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        self.path = os.path.join(os.fspath(folder), DB_NAME)
        try:
            # isolation_level=None: each statement commits unless wrapped in BEGIN/COMMIT.
            self._db = sqlite3.connect(self.path, isolation_level=None)
        except sqlite3.Error as exc:
            msg = f"cannot open the audit database '{self.path}' ({exc}); choose a writable folder"
            raise UsageError(msg) from None
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            # WAL with synchronous=NORMAL survives a crash of the process (not of the machine)
            # without losing a commit, at a fraction of the cost of FULL.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            version = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            msg = f"'{self.path}' is not an audit database ({exc}); choose another --out folder"
            raise UsageError(msg) from None
        if version is None:
            self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        elif version[0] != str(SCHEMA_VERSION):
            self._db.close()
            msg = (
                f"'{self.path}' was written by another version of the audit (schema {version[0]}); "
                "pass force=True to start a new audit there"
            )
            raise UsageError(msg)

    def start_run(self, contracts: str, engine: str, files: int, skipped: int) -> int:
        """Record the start of a run and return its id."""
        cur = self._db.execute(
            "INSERT INTO runs (started, state, contracts, engine, files, skipped) VALUES (?, 'running', ?, ?, ?, ?)",
            (time.time(), contracts, engine, files, skipped),
        )
        return int(cur.lastrowid)

    def end_run(self, run: int, state: str, audited: int, unfinished: int) -> None:
        """Record how a run ended: ``complete``, ``interrupted`` or ``cluster-lost``."""
        self._db.execute(
            "UPDATE runs SET ended=?, state=?, audited=?, unfinished=? WHERE id=?",
            (time.time(), state, audited, unfinished, run),
        )

    def record(self, rows: Sequence[dict[str, Any]], run: int, contracts: str) -> None:
        """Write (or replace) the results of files that arrived together, in one commit."""
        recorded = time.time()
        values = [
            [*(row.get(c) for c in _COLUMNS), contracts, run, dumps_strict(row.get("verdicts", [])), recorded]
            for row in rows
        ]
        self._db.execute("BEGIN")
        with self._db:  # commits, or rolls back on an error
            self._db.executemany(
                f"INSERT OR REPLACE INTO files ({', '.join(_COLUMNS)}, contracts, run, verdicts, recorded) "
                f"VALUES ({', '.join('?' * (len(_COLUMNS) + 4))})",
                values,
            )

    def finished(self, paths: Iterable[str]) -> dict[str, tuple[str | None, str, str]]:
        """Return ``path -> (fingerprint, contracts key, status)`` for the recorded ones of ``paths``."""
        wanted = set(paths)
        cur = self._db.execute("SELECT path, fingerprint, contracts, status FROM files")
        return {p: (fp, key, status) for p, fp, key, status in cur if p in wanted}

    def rows(self, paths: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Return the recorded rows of ``paths`` as dicts (``verdicts`` decoded, ``run`` added)."""
        wanted = set(paths)
        cur = self._db.execute(f"SELECT {', '.join(_COLUMNS)}, run, verdicts FROM files")
        out = {}
        for values in cur:
            if values[0] in wanted:
                row = dict(zip((*_COLUMNS, "run"), values[:-1]))
                row["verdicts"] = parse_json(values[-1], f"verdicts of '{row['path']}' in the audit store")
                out[row["path"]] = row
        return out

    def close(self) -> None:
        """Close the database (its WAL is folded back into the main file)."""
        self._db.close()

    def __enter__(self) -> AuditStore:  # noqa: PYI034
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
