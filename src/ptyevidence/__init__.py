"""ptyevidence: evidence about ptychography datasets and data pipelines.

Import the main verbs from here, and the rest from the subpackages, whose ``__init__`` is each one's public
surface (``readers``, ``writers``, ``contract``, ``fixture``, ``coverage``, ``view``, ``gap``, ``diff``,
``report``, ``audit``, ``testing``); modules with a leading underscore are private. Heavier modules, SciPy and
Matplotlib load on first use, so ``import ptyevidence`` stays quick and never imports PyTorch.
"""

from importlib import import_module
from typing import Any

from ._version import __version__
from .contract.model import (
    DatasetContract,
    FieldSpec,
    Rule,
    list_contracts,
    load_contract,
)
from .contract.render import contract_markdown, validation_markdown
from .contract.validate import Finding, ValidationReport, validate_dataset
from .exceptions import (
    ContractError,
    InputError,
    MemoryBudgetError,
    MissingExtraError,
    NotebookExecutionError,
    OutputError,
    PtyEvidenceError,
    TorchNotInstalledError,
    UsageError,
)
from .readers.layout import read_frames, resolve_layout
from .readers.registry import open_source

#: Public name -> public module that defines it, imported on first access.
_LAZY = {
    "make_fixture": "fixture",
    "verify_fixture": "fixture",
    "select_indices": "fixture",
    "STRATEGIES": "fixture",
    "FixtureResult": "fixture",
    "VerifyReport": "fixture",
    "scan_coverage": "coverage",
    "compare_strategies": "coverage",
    "CoverageMetrics": "coverage",
    "plot_scan_coverage": "coverage",
    "plot_occupancy": "coverage",
    "plot_strategy_comparison": "coverage",
    "build_gap_matrix": "gap",
    "compare_dumps": "gap",
    "capture": "gap",
    "GapMatrix": "gap",
    "convert_cxi": "writers",
    "make_demo_data": "demo",
    "check_torch_loading": "gap",
    "render_report": "report",
}

__all__ = [
    "STRATEGIES",
    "ContractError",
    "CoverageMetrics",
    "DatasetContract",
    "FieldSpec",
    "Finding",
    "FixtureResult",
    "GapMatrix",
    "InputError",
    "MemoryBudgetError",
    "MissingExtraError",
    "NotebookExecutionError",
    "OutputError",
    "PtyEvidenceError",
    "Rule",
    "TorchNotInstalledError",
    "UsageError",
    "ValidationReport",
    "VerifyReport",
    "__version__",
    "build_gap_matrix",
    "capture",
    "check_torch_loading",
    "compare_dumps",
    "compare_strategies",
    "contract_markdown",
    "convert_cxi",
    "list_contracts",
    "load_contract",
    "make_demo_data",
    "make_fixture",
    "open_source",
    "plot_occupancy",
    "plot_scan_coverage",
    "plot_strategy_comparison",
    "read_frames",
    "render_report",
    "resolve_layout",
    "scan_coverage",
    "select_indices",
    "validate_dataset",
    "validation_markdown",
    "verify_fixture",
]


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first access (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'ptyevidence' has no attribute '{name}'"
        raise AttributeError(msg)
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
