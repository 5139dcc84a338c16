"""Contracts as data, the one binding of a file to a contract, and validation.

A contract (:class:`DatasetContract`) is a JSON file of fields, symbolic
dimensions and value rules. :func:`bind` maps a file's keys to a contract's
fields (the one binding validation, fixtures and the gap checks share);
:func:`validate_dataset` checks a file against a contract and returns a
:class:`ValidationReport`; the ``render`` functions turn contracts and
reports into Markdown.
"""

from .binding import Binding, bind
from .model import DatasetContract, FieldSpec, Rule, list_contracts, load_contract
from .render import contract_markdown, validation_markdown
from .validate import ArrayStats, Finding, ValidationReport, validate_dataset

__all__ = [
    "ArrayStats",
    "Binding",
    "DatasetContract",
    "FieldSpec",
    "Finding",
    "Rule",
    "ValidationReport",
    "bind",
    "contract_markdown",
    "list_contracts",
    "load_contract",
    "validate_dataset",
    "validation_markdown",
]
