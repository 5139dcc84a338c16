"""The evidence report: run the notebooks on a dataset, collect the artifacts.

:func:`render_report` is what ``ptyevidence report`` calls. The notebooks
themselves use :func:`prepare_run` (resolve their ``source``/``out_dir``
parameters), :func:`write_artifact` (atomic text output that refuses to
overwrite without ``force``) and the records of
:mod:`ptyevidence.report.summary` (:class:`CoverageRecord`), which the
runner reads back into :class:`ReportSummary`. The orchestration lives in
:mod:`ptyevidence.report.runner`.

Examples
--------
>>> from ptyevidence.report import NOTEBOOKS
>>> NOTEBOOKS
('data_contract.ipynb', 'scan_coverage.ipynb', 'torch_gap_matrix.ipynb')
"""

from .runner import (
    ARTIFACTS,
    DEMO_NAME,
    NOTEBOOKS,
    NOTEBOOKS_ENV,
    NotebookExecutionError,
    ReportResult,
    default_out_dir,
    find_notebooks,
    prepare_run,
    render_report,
    render_reports,
    write_artifact,
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
    "ReportResult",
    "ReportSummary",
    "SourceRecord",
    "Verdicts",
    "default_out_dir",
    "find_notebooks",
    "prepare_run",
    "render_report",
    "render_reports",
    "write_artifact",
]
