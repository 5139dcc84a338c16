"""Differences: two datasets (or fixtures) key by key, two contracts rule by rule.

:func:`diff_datasets` compares two files of any readable format, streaming
both, and says which keys were added or removed, how shapes, dtypes and
layouts changed, and how many values and rows differ.
:func:`diff_contracts` lists what changed between two contracts and whether
each change can fail a dataset that passed the old one.
"""

from .contracts import ContractChange, ContractDiff, diff_contracts
from .datasets import ArraySide, DatasetDiff, KeyDiff, MetadataChange, diff_datasets
from .streaming import StreamDigest, aligned_blocks, member_digest
from .values import ValueDifferences

__all__ = [
    "ArraySide",
    "ContractChange",
    "ContractDiff",
    "DatasetDiff",
    "KeyDiff",
    "MetadataChange",
    "StreamDigest",
    "ValueDifferences",
    "aligned_blocks",
    "diff_contracts",
    "diff_datasets",
    "member_digest",
]
