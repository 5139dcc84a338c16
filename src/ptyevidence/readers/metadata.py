"""The ``_metadata`` member: a JSON record embedded in an NPZ.

PtychoPINN files may carry an optional ``_metadata`` key holding a JSON
string. ptyevidence writes it as a 0-d numpy unicode array (dtype ``<U``),
which ``numpy.load(..., allow_pickle=False)`` reads, and uses it to record
what it did: conversions, and the stack layout of files it wrote (a 64-frame
fixture of 64x64 frames cannot tell its layout from its shape alone).
PtychoPINN itself stores the string in a 0-d *object* array, a pickle; that
one is read with :func:`ptyevidence.readers.pickled.read_object_scalar`,
which runs no code and lets only plain data through.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._json import dumps_strict, parse_json
from ..exceptions import InputError
from .base import Source
from .pickled import plain_problem, read_object_scalar

__all__ = ["METADATA_KEY", "metadata_array", "read_metadata_member", "read_metadata_value"]

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


def read_metadata_value(source: Source, key: str = METADATA_KEY) -> Any:
    """Return the value stored under ``key``: text of a unicode scalar, or a pickled object scalar's element.

    Parameters
    ----------
    source : Source
        An open source holding ``key``.
    key : str
        The member, ``_metadata`` by default.

    Returns
    -------
    str, or the plain data of a 0-d object array (usually a str)

    Raises
    ------
    InputError
        When the member is neither a unicode scalar (or one-element array)
        nor a 0-d object array of plain data, or is larger than the bound.
    """
    info = source.info(key)
    where = f"'{source.path}' key '{key}'"
    if info.has_objects:
        if source.format == "memory":
            value = source.read(key)
            if value.shape == ():
                problem = plain_problem(value.item())
                if problem is None:
                    return value.item()
                msg = f"{where} holds {problem}; only plain data is read"
                raise InputError(msg)
        if source.format != "npz" or info.shape != ():
            msg = f"{where} has dtype object, shape {info.shape}; only a 0-d object array is read"
            raise InputError(msg, source.path)
        return read_object_scalar(source.path, key)
    if (
        info.dtype.kind != "U"
        or info.nbytes > 4 * _MAX_CHARS
        or len(info.shape) > 1
        or (info.shape and info.shape[0] != 1)
    ):
        msg = f"{where} has dtype {info.dtype} and shape {info.shape}; expected a text scalar"
        raise InputError(msg, source.path)
    return str(source.read(key).reshape(-1)[0])


def read_metadata_member(source: Source) -> dict[str, Any] | None:
    """Return the ``_metadata`` record of an open source, or None.

    None when the member is absent, not a small text scalar (or PtychoPINN's
    pickled one, read safely), or not a JSON object; this is a hint, never a
    reason to fail.
    """
    if METADATA_KEY not in source.keys():  # noqa: SIM118 - readers are not iterable
        return None
    try:
        value = read_metadata_value(source)
        record = parse_json(value, METADATA_KEY) if isinstance(value, str) else None
    except ValueError:  # InputError is a ValueError
        return None
    return record if isinstance(record, dict) else None
