"""Aligned plain-text tables for terminal reports."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["text_table"]


def text_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Return ``rows`` under ``header`` as left-aligned columns two spaces apart.

    The last column is not padded, so long details do not drag trailing
    blanks across the terminal.

    Examples
    --------
    >>> print(text_table(["KEY", "STATUS"], [["xcoords", "same"], ["Y", "added"]]))
    KEY      STATUS
    xcoords  same
    Y        added
    """
    table = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = []
    for row in table:
        cells = [c.ljust(w) for c, w in zip(row[:-1], widths)] + [row[-1]]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
