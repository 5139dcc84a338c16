"""The content digest of an array: SHA-256 of its dtype, shape and values.

Fixture sidecars record it per key (:func:`content_digest`) and ``diff``
reports it per member, computed from blocks while it streams a file
(:class:`StreamDigest`); both are one computation, so the two always agree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["StreamDigest", "content_digest"]


def content_digest(array: np.ndarray) -> str:
    """Return the SHA-256 of an array's dtype, shape and values.

    The digest covers ``"<dtype>;<shape>;"`` (little-endian dtype string,
    comma-separated shape) followed by the values as little-endian C-order
    bytes. Unlike the file hash, it does not depend on how the NPZ was
    zipped, so it is stable across numpy and zlib versions and tells which
    key changed.

    Parameters
    ----------
    array : numpy.ndarray
        Any numeric array.

    Returns
    -------
    str
        64 hexadecimal characters.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.arange(6, dtype="<f4").reshape(2, 3)
    >>> content_digest(a) == content_digest(np.asfortranarray(a).astype(">f4"))
    True
    >>> content_digest(a) == content_digest(a.reshape(3, 2))
    False
    """
    arr = np.asarray(array)
    digest = StreamDigest(arr.dtype, arr.shape)
    digest.update(arr)
    return digest.hexdigest()


class StreamDigest:
    """:func:`content_digest` of an array fed in C-order blocks.

    Parameters
    ----------
    dtype : numpy.dtype
        The array's dtype (any byte order).
    shape : sequence of int
        The array's shape.

    Examples
    --------
    >>> a = np.arange(12, dtype=">f4").reshape(3, 4)
    >>> d = StreamDigest(a.dtype, a.shape)
    >>> for part in np.array_split(a.reshape(-1), 5):
    ...     d.update(part)
    >>> d.hexdigest() == content_digest(a)
    True
    """

    def __init__(self, dtype: Any, shape: Sequence[int]) -> None:
        self._little = np.dtype(dtype).newbyteorder("<")
        header = f"{self._little.str};{','.join(str(int(s)) for s in shape)};"
        self._hash = hashlib.sha256(header.encode("ascii"))

    def update(self, block: np.ndarray) -> None:
        """Hash the next values (a block in C order; a block of any shape is taken flat)."""
        little = np.ascontiguousarray(block, dtype=self._little)
        self._hash.update(little.reshape(-1).view(np.uint8))

    def hexdigest(self) -> str:
        """Return the digest of every value fed so far (64 hexadecimal characters)."""
        return self._hash.hexdigest()
