"""Decide whether a diffraction stack is stored (N, H, W) or legacy (H, W, N).

One shape heuristic alone scrambles frames when N == H == W; here every piece
of evidence is weighed and an ambiguous file is refused unless the caller says
which layout it is.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..exceptions import InputError
from .base import Source
from .metadata import read_metadata_member

__all__ = ["LAYOUTS", "canonical_shape", "read_frames", "resolve_layout", "source_layout"]

#: Layout names accepted by ``--layout``.
LAYOUTS = ("auto", "canonical", "legacy")


def resolve_layout(shape: Sequence[int], n_positions: int | None, requested: str = "auto", where: str = "") -> str:
    """Return ``"canonical"`` or ``"legacy"`` for a 3-D diffraction stack.

    Parameters
    ----------
    shape : sequence of int
        Stored shape of the stack.
    n_positions : int or None
        Number of scan positions from the coordinate arrays, if known.
    requested : {"auto", "canonical", "legacy"}
        An explicit choice is returned as is.
    where : str
        File and key for messages.

    Raises
    ------
    InputError
        If the evidence is ambiguous or contradicts itself under ``auto``.

    Examples
    --------
    >>> resolve_layout((1087, 64, 64), 1087)
    'canonical'
    >>> resolve_layout((64, 64, 1087), 1087)
    'legacy'
    """
    if requested not in LAYOUTS:
        msg = f"layout '{requested}' is not one of {', '.join(LAYOUTS)}"
        raise InputError(msg)
    if requested != "auto":
        return requested
    if len(shape) != 3:
        return "canonical"
    a, b, c = shape
    prefix = f"{where}: " if where else ""
    if n_positions is not None:
        first, last = a == n_positions, c == n_positions
        if first and last:
            msg = (
                f"{prefix}stack shape {tuple(shape)} with {n_positions} positions is ambiguous: "
                "both (N, H, W) and (H, W, N) fit; pass layout='canonical' or layout='legacy'"
            )
            raise InputError(msg)
        if first:
            return "canonical"
        if last:
            return "legacy"
        # Coordinates fit neither axis: fall through to the shape evidence and
        # let the contract report the length mismatch.
    canonical_ok = b == c and a != b
    legacy_ok = a == b and c != a
    if canonical_ok and not legacy_ok:
        return "canonical"
    if legacy_ok and not canonical_ok:
        return "legacy"
    # Without coordinates a stack with no square frames either way can only be
    # read as stored; a cube (N == H == W) stays ambiguous.
    if not canonical_ok and not legacy_ok and n_positions is None and not a == b == c:
        return "canonical"
    msg = (
        f"{prefix}cannot tell whether stack shape {tuple(shape)} is (N, H, W) or (H, W, N)"
        + ("" if n_positions is None else f" (coordinates give N = {n_positions})")
        + "; pass layout='canonical' or layout='legacy'"
    )
    raise InputError(msg)


def source_layout(source: Source, key: str, n_positions: int | None, requested: str = "auto", where: str = "") -> str:
    """Resolve the layout of stack ``key`` in an open source.

    Like :func:`resolve_layout`, but under ``auto`` two pieces of evidence
    beyond the shape settle stacks that are otherwise ambiguous: a reader
    whose format fixes the order (:attr:`Source.layout`, as CXI frames are
    always (N, H, W)), and a ``layout`` entry in the file's embedded
    ``_metadata`` record (written by ptyevidence).
    """
    if requested == "auto":
        if source.layout in ("canonical", "legacy"):
            return source.layout
        record = read_metadata_member(source) or {}
        hint = record.get("layout")
        if hint in ("canonical", "legacy"):
            return hint
    return resolve_layout(source.info(key).shape, n_positions, requested, where)


def canonical_shape(shape: Sequence[int], layout: str) -> tuple[int, ...]:
    """Return the (N, H, W) shape of a stack stored in ``layout``."""
    shape = tuple(int(s) for s in shape)
    if layout == "legacy" and len(shape) == 3:
        return (shape[2], shape[0], shape[1])
    return shape


def read_frames(source: Source, key: str, indices: Sequence[int] | np.ndarray, layout: str) -> np.ndarray:
    """Gather frames ``indices`` of stack ``key`` as an (n, H, W) array.

    Parameters
    ----------
    source : Source
        An open source from :func:`ptyevidence.open_source`.
    key : str
        The stack's key in the file.
    indices : sequence of int
        Scan positions, in output order.
    layout : {"canonical", "legacy"}
        Stored order of the stack.

    Returns
    -------
    numpy.ndarray
        ``(len(indices), H, W)``, native dtype of the file.
    """
    if layout == "legacy":
        frames = source.take(key, indices, axis=-1)
        return np.ascontiguousarray(np.moveaxis(frames, -1, 0))
    return source.take(key, indices, axis=0)
