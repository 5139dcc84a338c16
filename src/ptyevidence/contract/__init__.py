"""Contracts as data, the one binding of a file to a contract, and validation.

A contract (:class:`DatasetContract`) is a JSON file of fields, symbolic
dimensions and value rules. :func:`validate_dataset` checks a file against
one and returns a :class:`ValidationReport`; the ``render`` functions turn
contracts and reports into Markdown.
"""

from .model import DatasetContract, FieldSpec, Rule, list_contracts, load_contract
from .render import contract_markdown, validation_markdown
from .validate import ArrayStats, Finding, ValidationReport, validate_dataset

__all__ = [
    "ArrayStats",
    "DatasetContract",
    "FieldSpec",
    "Finding",
    "Rule",
    "ValidationReport",
    "contract_markdown",
    "list_contracts",
    "load_contract",
    "validate_dataset",
    "validation_markdown",
]
