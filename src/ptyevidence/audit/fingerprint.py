"""Cheap identities that decide what ``--resume`` may skip: of a file and of a set of contracts."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from typing import Any

# The same cheap identity fixtures record for their source (size + SHA-256 of
# the zip central directory, or of the first and last MiB).
from ..fixture.sidecar import file_fingerprint

__all__ = ["BY_FORMAT", "contracts_key", "dataset_fingerprint"]

#: Name of the contract choice "each file's default contract, by its format".
BY_FORMAT = "by-format"


def dataset_fingerprint(path: str | os.PathLike) -> str:
    """Return ``size:mtime_ns:method:sha256`` for a file, without reading it through.

    The hashed bytes come from :func:`ptyevidence.fixture.sidecar.file_fingerprint`;
    the modification time is added so that a file rewritten in place with the same
    size and layout still counts as changed.

    Parameters
    ----------
    path : str or path
        The dataset file.

    Returns
    -------
    str

    Raises
    ------
    OSError
        If the file cannot be read.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "a.npz")
    >>> np.savez(path, a=np.arange(3))
    >>> size, mtime, method, digest = dataset_fingerprint(path).split(":")
    >>> int(size) == os.path.getsize(path), method, len(digest)
    (True, 'zip-directory', 64)
    """
    mtime_ns = os.stat(path).st_mtime_ns
    fp = file_fingerprint(path)
    return f"{fp['bytes']}:{mtime_ns}:{fp['method']}:{fp['sha256']}"


def contracts_key(contracts: Sequence[Any] | None) -> str:
    """Return a digest of the contracts an audit checks against.

    Parameters
    ----------
    contracts : sequence of DatasetContract, or None
        None stands for :data:`BY_FORMAT`, whose key covers every built-in
        dataset contract (any of them may be a file's default).

    Returns
    -------
    str
        A change to any contract's content changes the key, so ``--resume``
        re-audits every file under edited contracts.
    """
    from ..contract.model import list_contracts, load_contract

    if contracts is None:
        label, specs = BY_FORMAT, [load_contract(n) for n in list_contracts("dataset")]
    else:
        label, specs = ",".join(c.name for c in contracts), list(contracts)
    text = json.dumps([c.to_dict() for c in specs], sort_keys=True, default=str)
    return f"{label}:{hashlib.sha256(text.encode()).hexdigest()[:16]}"
