"""The report's HTML: landing pages, Markdown artifacts as pages, executed notebooks as pages.

Everything a browser opens from ``index.html`` is HTML or an image: each Markdown artifact gets a page
beside it (``NAME.md.html``, rendered by mistune, which nbconvert ships with), and each executed notebook
is exported without its nbval markers. Tables keep words whole and figures are shown at the page's width,
linked to the full-size file.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .._atomic import write_artifact
from ..coverage.judge import reference_criterion
from .summary import ReportSummary

__all__ = ["batch_index_html", "export_notebook_html", "index_html", "markdown_page", "page_name"]

# Shared by every page the report writes itself.
PAGE_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 80rem; padding: 0 1.5rem;
       color: #222; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
h3 { font-size: 1.05rem; }
table { border-collapse: collapse; width: 100%; margin: 0.6rem 0; }
th, td { text-align: left; vertical-align: top; padding: 0.3rem 0.6rem; border-bottom: 1px solid #eee;
         overflow-wrap: break-word; }
th { white-space: nowrap; }
code { font-size: 0.9em; }
code.digest { word-break: break-all; }
pre { background: #f6f8fa; padding: 0.6rem; overflow-x: auto; }
.pass, .fail, .info { font-weight: bold; padding: 0.05rem 0.5rem; border-radius: 0.3rem; white-space: nowrap; }
.pass { background: #d4edda; color: #155724; }
.fail { background: #f8d7da; color: #721c24; }
.info { background: #e2e8f0; color: #1a365d; }
.meta { color: #555; }
figure { margin: 1.2rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.95rem; }
ul.statements { margin: 0.2rem 0; padding-left: 1.2rem; }
"""

# The lab template sizes tables with a fixed layout and clips them; let columns
# fit their content, scroll a table wider than the page, and break a word only
# when it alone is wider than its column.
_NOTEBOOK_STYLE = """<style>
.jp-RenderedHTMLCommon table { table-layout: auto; display: block; overflow-x: auto; max-width: 100%; }
.jp-RenderedHTMLCommon td, .jp-RenderedHTMLCommon th { overflow-wrap: break-word; word-break: normal; }
.jp-RenderedImage img { width: 100%; height: auto; }
</style>
"""

# A line that only marks a cell for nbval (the test suite), not for a reader.
_NBVAL_LINE = re.compile(r"^[ \t]*# NBVAL_[A-Z_]+[ \t]*\n?", re.MULTILINE)

e = html.escape


def page_name(markdown: str) -> str:
    """Return the HTML page of a Markdown artifact.

    Examples
    --------
    >>> page_name("fixture_notes.md")
    'fixture_notes.md.html'
    """
    return f"{markdown}.html"


def markdown_page(text: str, title: str, back: str = "index.html") -> str:
    r"""Render Markdown as a standalone page with the report's style and a link back.

    Examples
    --------
    >>> page = markdown_page("| a | b |\n|---|---|\n| `x_y` | 2 |", "t")
    >>> "<td><code>x_y</code></td>" in page, 'href="index.html"' in page
    (True, True)
    """
    import mistune

    render = mistune.create_markdown(plugins=["table", "strikethrough"], escape=True)
    return _page(title, f'<p class="meta"><a href="{e(back)}">← report</a></p>\n{render(text)}')


def write_markdown_pages(out: Path, names: Sequence[str], back: str = "index.html") -> dict[str, str]:
    """Render each Markdown artifact of ``names`` present in ``out``; return name -> page."""
    pages = {}
    for name in names:
        source = out / name
        if source.is_file():
            text = source.read_text(encoding="utf-8")
            write_artifact(out / page_name(name), markdown_page(text, name, back), force=True)
            pages[name] = page_name(name)
    return pages


def export_notebook_html(executed: Path) -> Path:
    """Render an executed notebook to a standalone page beside it, nbval markers stripped."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(os.fspath(executed), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = _NBVAL_LINE.sub("", cell.source)
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    body = body.replace("</head>", f"{_NOTEBOOK_STYLE}</head>", 1)
    target = executed.with_suffix(".html")
    write_artifact(target, body, force=True)
    return target


def index_html(
    summary: ReportSummary,
    descriptions: Mapping[str, str],
    purposes: Mapping[str, str],
    figures: Sequence[tuple[str, str]],
    folder: Path | None = None,
) -> str:
    """Return a source's landing page: verdicts, figures, notebooks, artifacts, parameters.

    Parameters
    ----------
    summary : ReportSummary
        The report.
    descriptions : mapping
        What each artifact holds, by name.
    purposes : mapping
        One line per notebook, by stem.
    figures : sequence of (str, str)
        Image file and caption, shown in this order when the report has them.
    folder : pathlib.Path, optional
        The report folder: each figure is shown as wide as it would be printed
        at 96 dots per inch (its text at its point size), at most the page's width.
    """
    v = summary.verdicts
    contract, fixture, cov, gap = v.data_contract, v.fixture, v.coverage, v.gap_matrix
    src = summary.source
    link = _linker(summary)
    verdicts = [
        (
            "Data contract",
            _badge(contract.ok, contract.verdict),
            (
                f"{e(contract.contract)}: {contract.errors} errors, {contract.warnings} warnings; stack layout "
                f"{e(str(contract.layout))}"
            ),
            link("data_contract.md"),
        ),
        (
            "Fixture",
            _badge(fixture.contract_verdict == "PASS", fixture.contract_verdict)
            + (
                ""
                if fixture.acceptance_verdict is None
                else " " + _badge(fixture.acceptance_verdict == "PASS", f"acceptance {fixture.acceptance_verdict}")
            ),
            (
                f"{fixture.subset_size} of {fixture.source_positions} positions, {e(fixture.strategy)}, seed "
                f'{fixture.seed}; sha256 <code class="digest">{e(fixture.sha256[:16])}…</code>'
            ),
            link("fixture_notes.md"),
        ),
        (
            "Reference criterion",
            _badge(bool(cov.meets_reference), "met" if cov.meets_reference else "not met"),
            (
                f"the fixtures' acceptance rule: {reference_criterion()} (x {cov.x_range_ratio:.3f}, "
                f"y {cov.y_range_ratio:.3f}); two far corners already meet it"
            ),
            link("coverage.json"),
        ),
        ("Coverage", _info("measured"), _coverage_statements(cov), link("coverage.json")),
        (
            "Gap matrix",
            _info(f"{gap.rows} roles"),
            f"<code>{e(gap.left)}</code> vs <code>{e(gap.right)}</code>; "
            + ", ".join(f"{e(k)} {n}" for k, n in gap.kinds.items())
            + (
                f"; PtychoPINN's pipelines run on the fixture: {gap.rows_with_observations} roles observed, "
                + _badge(not gap.drift, f"{gap.drift} contract drift items")
                if gap.observed
                else ""
            ),
            link("torch_gap_matrix.md"),
        ),
    ]
    rows = "".join(
        f"<tr><th>{name}</th><td>{mark}</td><td>{detail}</td><td>{ref}</td></tr>"
        for name, mark, detail, ref in verdicts
    )
    shown = "".join(
        f'<figure><a href="{e(name)}"><img src="{e(name)}" alt="{e(caption)}"{_width(folder, name)}></a>'
        f'<figcaption>{e(caption)} (<a href="{e(name)}">{e(name)}</a>, full size)</figcaption></figure>'
        for name, caption in figures
        if name in summary.artifacts
    )
    notebooks = "".join(
        f'<tr><td><a href="{e(n["html"])}">{e(stem)}</a> (<a href="{e(n["executed"])}">.ipynb</a>)'
        f"</td><td>{e(purposes.get(stem, ''))}</td></tr>"
        for stem, n in summary.notebooks.items()
    )
    artifacts = "".join(
        f"<tr><td>{link(name)}</td><td>{e(descriptions.get(name, ''))}</td></tr>" for name in summary.artifacts
    )
    artifacts += (
        '<tr><td><a href="summary.json">summary.json</a></td>'
        "<td>Tool version, source digest, parameters, verdicts, paths (machine-readable)</td></tr>"
    )
    params = "".join(
        f"<tr><th>{e(k)}</th><td><code>{e(json.dumps(val))}</code></td></tr>" for k, val in summary.parameters.items()
    )
    body = f"""<h1>{e(_title(src.path))}</h1>
<p class="meta">ptyevidence {e(summary.tool_version)} · source <code>{e(src.path)}</code>
({src.size:,} bytes{", simulated demo dataset" if src.demo else ""}) · {_digest(src)}</p>
<h2>Verdicts</h2>
<table>{rows}</table>
<h2>The data and its coverage</h2>
{shown}
<h2>Notebooks</h2>
<table>{notebooks}</table>
<h2>Artifacts</h2>
<table>{artifacts}</table>
<h2>Parameters</h2>
<table>{params}</table>"""
    return _page(_title(src.path), body)


def batch_index_html(rows: Sequence[tuple[str, str, ReportSummary | str]], gap: Mapping[str, str] | None) -> str:
    """Return the landing page of several reports: one row per source, the shared gap matrix.

    Parameters
    ----------
    rows : sequence of (str, str, ReportSummary or str)
        Source label, its report folder (relative) and its summary, or the
        error that stopped it.
    gap : mapping or None
        Links to the report-wide gap matrix: ``html`` (notebook page) and ``md`` (its page);
        None when each report has its own (observed on its fixture), linked from its row.
    """
    lines = []
    for label, folder, outcome in rows:
        if isinstance(outcome, str):
            lines.append(
                f'<tr><td>{e(label)}</td><td>{_badge(False, "ERROR")}</td><td colspan="3">{e(outcome)}</td></tr>'
            )
            continue
        v = outcome.verdicts
        cov = v.coverage
        lines.append(
            f'<tr><td><a href="{e(folder)}/index.html" title="{e(label)}">{e(Path(label).name)}</a></td>'
            f"<td>{_badge(v.data_contract.ok, v.data_contract.verdict)} {e(v.data_contract.contract)}</td>"
            f"<td>{_badge(v.fixture.contract_verdict == 'PASS', v.fixture.contract_verdict)} "
            f"{v.fixture.subset_size} of {v.fixture.source_positions}</td>"
            f"<td>{_coverage_statements(cov)}</td>"
            f'<td><a href="{e(folder)}/data_contract.html">contract</a> · '
            f'<a href="{e(folder)}/dataset.html">data</a> · '
            f'<a href="{e(folder)}/scan_coverage.html">coverage</a>'
            + (
                ""
                if gap
                else f' · <a href="{e(folder)}/torch_gap_matrix.md.html">observed gap matrix</a>'
                f" ({v.gap_matrix.drift} drift)"
            )
            + "</td></tr>"
        )
    body = f"""<h1>Evidence reports: {len(rows)} sources</h1>
<table><tr><th>Source</th><th>Data contract</th><th>Fixture</th><th>Coverage</th><th>Pages</th></tr>
{"".join(lines)}</table>"""
    if gap:
        body += f"""
<h2>Gap matrix (the same for every source)</h2>
<p><a href="{e(gap["html"])}">torch_gap_matrix notebook</a> · <a href="{e(gap["md"])}">the matrix</a>:
TF vs Torch pipeline contracts by role; it depends on the contracts, not on the data.</p>"""
    return _page("Evidence reports", body)


def _width(folder: Path | None, name: str) -> str:
    """Return a ``width`` attribute: the PNG's width at 96 dpi (it was drawn at ``PNG_DPI``)."""
    from ..coverage.plots import PNG_DPI

    if folder is None:
        return ""
    try:
        with open(folder / name, "rb") as fh:
            header = fh.read(24)
    except OSError:
        return ""
    if header[:8] != b"\x89PNG\r\n\x1a\n":
        return ""
    pixels = int.from_bytes(header[16:20], "big")
    return f' width="{round(pixels * 96 / PNG_DPI)}"'


def _coverage_statements(cov: Any) -> str:
    ceiling = "" if cov.occupancy_ceiling is None else f" of at most {cov.occupancy_ceiling:.2f}"
    gap = f"largest gap {cov.largest_gap:.3g} px"
    if cov.gap_in_diameters is not None:
        gap += f" = {cov.gap_in_diameters:.2f} probe diameters ({cov.probe_diameter:.3g} px)"
    items = [f"occupancy {cov.occupancy:.2f}{ceiling}", gap, f"hull area {cov.hull_area_ratio:.2f}"]
    if cov.best_strategy:
        same = " (this fixture's)" if cov.best_strategy == cov.strategy else f" (this fixture: {e(cov.strategy)})"
        items.append(f"best coverage: {e(cov.best_strategy)}{same}, by the smallest largest gap")
    return '<ul class="statements">' + "".join(f"<li>{item}</li>" for item in items) + "</ul>"


def _linker(summary: ReportSummary) -> Any:
    """Link an artifact by name: its HTML page when there is one, the raw file beside it."""

    def link(name: str) -> str:
        path = summary.artifacts.get(name)
        if path is None:
            return e(name)
        page = summary.pages.get(name)
        if page:
            return f'<a href="{e(page)}">{e(name)}</a> (<a href="{e(path)}">raw</a>)'
        return f'<a href="{e(path)}">{e(name)}</a>'

    return link


def _digest(src: Any) -> str:
    if src.sha256:
        return f'sha256 <code class="digest">{e(src.sha256)}</code>'
    fp = src.fingerprint or {}
    return (
        f'fingerprint ({e(str(fp.get("method")))}) <code class="digest">{e(str(fp.get("sha256")))}'
        f"</code>; not hashed in full under source_hash={e(src.source_hash)} (above 1 GiB)"
    )


def _badge(ok: bool, text: str) -> str:
    return f'<span class="{"pass" if ok else "fail"}">{e(text)}</span>'


def _info(text: str) -> str:
    return f'<span class="info">{e(text)}</span>'


def _title(path: str) -> str:
    return f"Evidence report: {Path(path).name}"


def _page(title: str, body: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)}</title>
<style>{PAGE_STYLE}</style>
</head>
<body>
{body}
</body>
</html>
"""
