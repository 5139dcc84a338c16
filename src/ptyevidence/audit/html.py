"""The audit's HTML page: one self-contained file, a table that sorts by any column and filters."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

__all__ = ["summary_page"]

_STYLE = """
body { font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; cursor: pointer; user-select: none; position: sticky; top: 0; }
th[aria-sort=ascending]::after { content: " \\25B2"; }
th[aria-sort=descending]::after { content: " \\25BC"; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: #176b1f; } .fail { color: #b00020; font-weight: 600; }
.unusable, .error { color: #8a4b00; font-weight: 600; } .unfinished { color: #666; }
#controls { margin: 1em 0; } #controls input { width: 28em; }
"""

# Sorting compares numbers as numbers (empty cells last) and text as text;
# filtering keeps rows whose text holds the query and whose status is chosen.
_SCRIPT = """
const table = document.getElementById("audit"), body = table.tBodies[0];
const query = document.getElementById("query"), status = document.getElementById("status");
const shown = document.getElementById("shown");
function key(row, i) { const v = row.cells[i].dataset.v; return v === undefined ? "" : v; }
table.tHead.addEventListener("click", (event) => {
  const th = event.target.closest("th"); if (!th) return;
  const i = th.cellIndex, down = th.getAttribute("aria-sort") === "ascending";
  for (const other of table.tHead.rows[0].cells) other.removeAttribute("aria-sort");
  th.setAttribute("aria-sort", down ? "descending" : "ascending");
  const rows = Array.from(body.rows);
  rows.sort((a, b) => {
    const x = key(a, i), y = key(b, i);
    if (x === "" || y === "") return (x === "") - (y === "");
    const nx = Number(x), ny = Number(y);
    const c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
    return down ? -c : c;
  });
  for (const row of rows) body.appendChild(row);
});
function filter() {
  const q = query.value.toLowerCase(), s = status.value; let n = 0;
  for (const row of body.rows) {
    const keep = (!s || row.dataset.status === s) && row.textContent.toLowerCase().includes(q);
    row.hidden = !keep; n += keep;
  }
  shown.textContent = n + " of " + body.rows.length + " files shown";
}
query.addEventListener("input", filter); status.addEventListener("change", filter); filter();
"""


def summary_page(
    intro: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[tuple[str, Any]]],
    statuses: Sequence[str],
) -> str:
    """Return the HTML page of an audit.

    Parameters
    ----------
    intro : str
        One line above the table.
    headers : sequence of str
        Column headers; the second column is the row's status.
    rows : sequence of sequences of (text, value)
        Each cell's shown text and the value it sorts by (numbers sort as numbers).
    statuses : sequence of str
        The choices of the status filter.

    Returns
    -------
    str

    Examples
    --------
    >>> page = summary_page("1 file", ["file", "status"], [[("a<b>.npz", "a"), ("pass", "pass")]],
    ...                     ["pass"])
    >>> "a&lt;b&gt;.npz" in page and '<tr data-status="pass">' in page
    True
    """
    esc = html.escape
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for cells in rows:
        tds = []
        for text, value in cells:
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            sort = repr(value) if number and math.isfinite(value) else ("" if value is None else str(value))
            kind = " num" if number else ""
            word = f" {esc(text)}" if text in statuses else ""
            cls = f' class="{(kind + word).strip()}"' if kind or word else ""
            tds.append(f'<td{cls} data-v="{esc(sort)}">{esc(text)}</td>')
        body.append(f'<tr data-status="{esc(cells[1][0])}">{"".join(tds)}</tr>')
    options = "".join(f'<option value="{esc(s)}">{esc(s)}</option>' for s in statuses)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Dataset audit</title><style>{_STYLE}</style></head><body>\n"
        f"<h1>Dataset audit</h1>\n<p>{esc(intro)}</p>\n"
        '<div id="controls"><input id="query" type="search" placeholder="filter: any text in a row"> '
        f'<select id="status"><option value="">every status</option>{options}</select> '
        '<span id="shown"></span></div>\n'
        f'<table id="audit"><thead><tr>{head}</tr></thead><tbody>\n'
        + "\n".join(body)
        + f"\n</tbody></table>\n<script>{_SCRIPT}</script>\n</body></html>\n"
    )
