"""The ``_metadata`` member: a JSON record embedded in an NPZ without pickles.

PtychoPINN files may carry an optional ``_metadata`` key holding a JSON
string. ptyevidence writes it as a 0-d numpy unicode array (dtype ``<U``),
which ``numpy.load(..., allow_pickle=False)`` reads, and uses it to record
what it did: conversions, and the stack layout of files it wrote (a 64-frame
fixture of 64x64 frames cannot tell its layout from its shape alone).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._json import dumps_strict, parse_json
from .base import Source

__all__ = ["METADATA_KEY", "metadata_array", "read_metadata_member"]

#: Key of the embedded record.
METADATA_KEY = "_metadata"
#: Largest record read, in characters; anything longer is not ours.
_MAX_CHARS = 2**20


def metadata_array(record: dict[str, Any]) -> np.ndarray:
    """Return ``record`` as a 0-d unicode array ready to store under ``_metadata``.

    Keys are sorted so equal records give equal bytes.

    Examples
    --------
    >>> arr = metadata_array({"layout": "canonical"})
    >>> arr.dtype.kind, arr.shape
    ('U', ())
    """
    return np.array(dumps_strict(record, sort_keys=True, separators=(",", ":")))


def read_metadata_member(source: Source) -> dict[str, Any] | None:
    """Return the ``_metadata`` record of an open source, or None.

    None when the member is absent, not a small unicode scalar, or not a
    JSON object; this is a hint, never a reason to fail.
    """
    if METADATA_KEY not in source.keys():  # noqa: SIM118 - readers are not iterable
        return None
    info = source.info(METADATA_KEY)
    if info.dtype.kind != "U" or info.nbytes > 4 * _MAX_CHARS or len(info.shape) > 1:
        return None
    try:
        value = source.read(METADATA_KEY)
        record = parse_json(str(value.reshape(-1)[0]) if value.size else "", METADATA_KEY)
    except (ValueError, IndexError):  # InputError is a ValueError
        return None
    return record if isinstance(record, dict) else None
