"""Audits: validate every dataset of an archive on a dask cluster, resumably, into one summary.

:func:`audit` finds the dataset files under some paths, checks each against
one or more contracts on a :class:`distributed.LocalCluster` of worker
processes (or on an existing cluster), records every result in an SQLite
database as it arrives, and writes the summary files (CSV, JSON lines,
Markdown, HTML). Running it again with ``resume=True`` checks only the files
that changed or were not finished. Needs the ``batch`` extra (dask.distributed).
"""

from .discover import DEFAULT_PATTERNS, find_datasets
from .engine import DEFAULT_OUT, audit
from .fingerprint import dataset_fingerprint
from .store import AuditStore
from .summary import SUMMARY_FILES, AuditSummary, write_summary
from .task import audit_file

__all__ = [
    "DEFAULT_OUT",
    "DEFAULT_PATTERNS",
    "SUMMARY_FILES",
    "AuditStore",
    "AuditSummary",
    "audit",
    "audit_file",
    "dataset_fingerprint",
    "find_datasets",
    "write_summary",
]
