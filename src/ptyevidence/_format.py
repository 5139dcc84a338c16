"""Text formatting shared by every report: shapes, dimensions, numbers, tables."""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["aligned_rows", "dims_text", "extent_text", "markdown_table", "number_text", "shape_text", "text_table"]


def shape_text(shape: Sequence[Any] | None, sep: str = ", ") -> str:
    """Return a shape as Python writes a tuple; ``any`` for None.

    Examples
    --------
    >>> shape_text((64, 64)), shape_text([3]), shape_text(()), shape_text(None)
    ('(64, 64)', '(3,)', '()', 'any')
    >>> shape_text(("B", 1, "C"), sep=",")
    '(B,1,C)'
    """
    if shape is None:
        return "any"
    inner = sep.join(str(s) for s in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def extent_text(shape: Sequence[int] | None) -> str:
    """Return a frame or object size as ``H x W``; ``-`` when unknown.

    Examples
    --------
    >>> extent_text((64, 32)), extent_text(None)
    ('64 x 32', '-')
    """
    return " x ".join(str(s) for s in shape) if shape else "-"


def dims_text(dims: Mapping[str, int]) -> str:
    """Return bound dimensions as ``N = 64, H = 32``; empty when there are none.

    Examples
    --------
    >>> dims_text({"N": 64, "H": 32})
    'N = 64, H = 32'
    """
    return ", ".join(f"{k} = {v}" for k, v in dims.items())


def number_text(value: Any, digits: int = 4) -> str:
    """Return a value for a table cell: ``-`` for None, integers whole, reals to ``digits`` digits.

    Examples
    --------
    >>> number_text(None), number_text(True), number_text(12345), number_text(0.123456), number_text("x")
    ('-', 'True', '12345', '0.1235', 'x')
    >>> number_text(2 / 3, digits=6), number_text(float("nan"))
    ('0.666667', 'nan')
    """
    if value is None:
        return "-"
    if isinstance(value, numbers.Integral):  # bool included
        return str(value)
    if isinstance(value, numbers.Real):
        return f"{value:.{digits}g}"
    return str(value)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    r"""Return a GitHub-flavoured Markdown table (pipes in cells escaped).

    Examples
    --------
    >>> print(markdown_table(["a", "b"], [[1, "x|y"]]))
    | a | b |
    |---|---|
    | 1 | x\|y |
    """

    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |"]
    lines.append("|" + "|".join("---" for _ in header) + "|")
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def aligned_rows(rows: Sequence[Sequence[str]], align: str = "l") -> list[str]:
    r"""Return text rows with every column padded to its widest cell, two spaces apart.

    ``align`` holds ``l`` (left) or ``r`` (right) per column, its last
    letter repeated for the columns after it; trailing spaces are dropped.

    Examples
    --------
    >>> print("\n".join(aligned_rows([["name", "n", "mean"], ["grid", "12", "0.5"]], align="lr")))
    name   n  mean
    grid  12   0.5
    """
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))] if rows else []
    sides = [align[min(i, len(align) - 1)] for i in range(len(widths))]
    return [
        "  ".join(cell.rjust(w) if side == "r" else cell.ljust(w) for cell, w, side in zip(row, widths, sides)).rstrip()
        for row in rows
    ]


def text_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Return ``rows`` under ``header`` as left-aligned columns two spaces apart.

    Examples
    --------
    >>> print(text_table(["KEY", "STATUS"], [["xcoords", "same"], ["Y", "added"]]))
    KEY      STATUS
    xcoords  same
    Y        added
    """
    return "\n".join(aligned_rows([[str(c) for c in header], *([str(c) for c in row] for row in rows)]))
