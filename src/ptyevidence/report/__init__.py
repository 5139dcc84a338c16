"""The evidence report: run the notebooks on a dataset, collect the artifacts.

:func:`render_reports` is what ``ptyevidence report`` calls (one source: :func:`render_report`). The
notebooks use :func:`start_run` (a :class:`NotebookRun` writes their artifacts, replacing its own on a
re-run) and the records of :mod:`ptyevidence.report.summary`, which the runner reads back into
:class:`ReportSummary`; the pages are :mod:`ptyevidence.report.html`.

Examples
--------
>>> from ptyevidence.report import NOTEBOOKS
>>> NOTEBOOKS
('data_contract.ipynb', 'dataset.ipynb', 'scan_coverage.ipynb', 'torch_gap_matrix.ipynb')
"""

from .._atomic import write_artifact
from .batch import render_reports
from .run import DEMO_NAME, NotebookRun, start_run
from .runner import (
    ARTIFACTS,
    NOTEBOOKS,
    NOTEBOOKS_ENV,
    NotebookExecutionError,
    ReportResult,
    default_out_dir,
    find_notebooks,
    render_gap_matrix,
    render_report,
)
from .summary import (
    ContractVerdict,
    CoverageRecord,
    CoverageVerdict,
    FixtureRecord,
    FixtureVerdict,
    GapVerdict,
    ReportSummary,
    SourceRecord,
    Verdicts,
)

__all__ = [
    "ARTIFACTS",
    "DEMO_NAME",
    "NOTEBOOKS",
    "NOTEBOOKS_ENV",
    "ContractVerdict",
    "CoverageRecord",
    "CoverageVerdict",
    "FixtureRecord",
    "FixtureVerdict",
    "GapVerdict",
    "NotebookExecutionError",
    "NotebookRun",
    "ReportResult",
    "ReportSummary",
    "SourceRecord",
    "Verdicts",
    "default_out_dir",
    "find_notebooks",
    "render_gap_matrix",
    "render_report",
    "render_reports",
    "start_run",
    "write_artifact",
]
