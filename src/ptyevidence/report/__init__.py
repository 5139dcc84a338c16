"""The evidence report: run the notebooks on a dataset, collect the artifacts.

:func:`render_report` is what ``ptyevidence report`` calls. The notebooks
themselves use :func:`prepare_run` (resolve their ``source``/``out_dir``
parameters) and :func:`write_artifact` (atomic text output that refuses to
overwrite without ``force``). The orchestration lives in
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

__all__ = [
    "ARTIFACTS",
    "DEMO_NAME",
    "NOTEBOOKS",
    "NOTEBOOKS_ENV",
    "NotebookExecutionError",
    "ReportResult",
    "default_out_dir",
    "find_notebooks",
    "prepare_run",
    "render_report",
    "render_reports",
    "write_artifact",
]
