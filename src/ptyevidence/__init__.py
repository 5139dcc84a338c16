"""ptyevidence: evidence about ptychography datasets and data pipelines.

Import public names from here; modules with a leading underscore are private.
"""

from ._contract import DatasetContract, FieldSpec, Rule, list_contracts, load_contract
from ._layout import read_frames, resolve_layout
from ._markdown import contract_markdown, validation_markdown
from ._sources import open_source
from ._validate import Finding, ValidationReport, validate_dataset
from ._version import __version__
from .exceptions import (
    ContractError,
    ContractWarning,
    InputError,
    MemoryBudgetError,
    PtyEvidenceError,
    UsageError,
)

__all__ = [
    "ContractError",
    "ContractWarning",
    "DatasetContract",
    "FieldSpec",
    "Finding",
    "InputError",
    "MemoryBudgetError",
    "PtyEvidenceError",
    "Rule",
    "UsageError",
    "ValidationReport",
    "__version__",
    "contract_markdown",
    "list_contracts",
    "load_contract",
    "open_source",
    "read_frames",
    "resolve_layout",
    "validate_dataset",
    "validation_markdown",
]
