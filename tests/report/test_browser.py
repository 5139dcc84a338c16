"""The report's HTML in a real browser: every image loads, every local link resolves.

Runs headless Chromium through selenium and Debian's chromedriver. Skips with one line
when either is missing (CI installs ``chromium`` and ``chromium-driver``). Screenshots
go to ``$PTYEVIDENCE_SCREENSHOTS`` when it is set, else into the test's temporary folder:
one per page (the first screen), ``<page>-full.png`` (the whole page) and, for the landing
page and the data notebook, ``<page>-figures.png`` (the first screen of figures).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="no headless browser: install Debian's chromium and chromium-driver",
)


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("browser") / "report"
    proc = subprocess.run(
        [sys.executable, "-m", "ptyevidence", "report", "--out", str(out)],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def batch_dir(tmp_path_factory) -> Path:
    """Two sources rendered at once: one folder each, the gap matrix and the index on top."""
    from ptyevidence.demo import make_demo_data

    folder = tmp_path_factory.mktemp("batch")
    sources = [
        make_demo_data(folder / f"{name}.npz", n_positions=150, seed=seed)
        for name, seed in (("first", 1), ("second", 2))
    ]
    out = folder / "reports"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ptyevidence",
            "report",
            "--source",
            *sources,
            "--jobs",
            "2",
            "--out",
            str(out),
            "--subset-size",
            "16",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER)
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()


def _shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("PTYEVIDENCE_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _local_target(href: str) -> Path | None:
    url = urlparse(href)
    if url.scheme != "file":
        return None
    return Path(unquote(url.path))


def _check_page(browser, page: Path, shots: Path, prefix: str = "") -> list[str]:
    browser.get(page.as_uri())
    problems = []
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.currentSrc || i.src, i.complete, i.naturalWidth]);"
    )
    for src, complete, width in images:
        if not complete or not width:
            problems.append(f"{page.name}: image did not load: {src[:80]}")
    links = browser.execute_script("return Array.from(document.links).map(a => a.href);")
    for href in links:
        target = _local_target(href)
        if target is not None and not target.exists():
            problems.append(f"{page.name}: link to a missing file: {target}")
    text = browser.execute_script("return document.body.innerText;")
    if "NBVAL_" in text:
        problems.append(f"{page.name}: shows nbval markers")
    if "|---|" in text:
        problems.append(f"{page.name}: shows a raw Markdown table")
    # Words stay whole in tables: nothing may let the browser break inside them.
    breaking = browser.execute_script(
        # Digests (hexadecimal, no words) may break anywhere.
        "return Array.from(document.querySelectorAll('td, th, td code:not(.digest)')).filter(el => {"
        " const s = getComputedStyle(el); return s.wordBreak === 'break-all' || s.overflowWrap === 'anywhere';"
        "}).length;"
    )
    if breaking:
        problems.append(f"{page.name}: {breaking} table cells may break words anywhere")
    name = prefix + page.name.removesuffix(".html")
    browser.save_screenshot(str(shots / f"{name}.png"))
    _full_page_screenshot(browser, shots / f"{name}-full.png")
    return problems


def _full_page_screenshot(browser, path: Path) -> None:
    height = browser.execute_script("return document.documentElement.scrollHeight;")
    size = browser.get_window_size()
    browser.set_window_size(size["width"], min(int(height) + 120, 12000))
    browser.save_screenshot(str(path))
    browser.set_window_size(size["width"], size["height"])


def _figures_screenshot(browser, page: Path, selector: str, path: Path, height: int | None = None) -> list[int]:
    """Scroll the first element of ``selector`` to the top, screenshot; return the shown image widths.

    ``height`` makes the window that tall for the screenshot (several figures in one picture).
    """
    size = browser.get_window_size()
    if height:
        browser.set_window_size(size["width"], height)
    browser.get(page.as_uri())
    browser.execute_script(f"document.querySelector({selector!r}).scrollIntoView();")
    browser.save_screenshot(str(path))
    widths = browser.execute_script("return Array.from(document.images).map(i => i.getBoundingClientRect().width);")
    browser.set_window_size(size["width"], size["height"])
    return widths


def test_index_and_notebook_pages_render_whole(report_dir, browser, tmp_path):
    shots = _shots(tmp_path)
    pages = sorted(report_dir.glob("*.html"))
    assert report_dir / "index.html" in pages
    assert len(pages) >= 4  # the index and one page per notebook
    problems = []
    for page in pages:
        problems += _check_page(browser, page, shots)
    assert not problems, "\n".join(problems)
    assert (shots / "index.png").stat().st_size > 0


def test_index_shows_at_least_one_figure(report_dir, browser):
    browser.get((report_dir / "index.html").as_uri())
    widths = browser.execute_script("return Array.from(document.images).map(i => i.naturalWidth);")
    assert widths
    assert min(widths) > 0


def test_figures_are_shown_at_the_page_width(report_dir, browser, tmp_path):
    shots = _shots(tmp_path)
    _figures_screenshot(browser, report_dir / "index.html", "figure", shots / "index-figures.png")
    shown = browser.execute_script(
        "const page = document.body.clientWidth;"
        "return Array.from(document.images).map(i => [i.getBoundingClientRect().width, i.naturalWidth, page]);"
    )
    assert len(shown) >= 6  # the object, coverage, frames, probe, strategies, occupancy
    for width, natural, page in shown:
        # As wide as printed at 96 dpi (drawn at 150), or the page's width: never a thumbnail.
        assert width >= min(natural * 96 / 150, page * 0.9) - 1, (width, natural, page)
        assert width > 700
    links = browser.execute_script(
        "return Array.from(document.querySelectorAll('figure a')).map(a => a.getAttribute('href'));"
    )
    assert {"dataset_object.png", "dataset_frames.png", "dataset_probe.png", "coverage.png"} <= set(links)
    widths = _figures_screenshot(
        browser, report_dir / "dataset.html", ".jp-RenderedImage", shots / "dataset-figures.png", height=1900
    )
    assert len(widths) == 3
    assert min(widths) > 900, widths  # the notebook page's content width


def test_index_links_markdown_as_rendered_pages(report_dir, browser):
    browser.get((report_dir / "index.html").as_uri())
    links = browser.execute_script("return Array.from(document.links).map(a => a.getAttribute('href'));")
    for name in ("data_contract.md", "fixture_notes.md", "torch_gap_matrix.md"):
        assert f"{name}.html" in links
        browser.get((report_dir / f"{name}.html").as_uri())
        assert browser.execute_script("return document.querySelectorAll('table').length;") > 0
        browser.get((report_dir / "index.html").as_uri())


def test_several_sources_have_one_index_and_one_gap_matrix(batch_dir, browser, tmp_path):
    shots = _shots(tmp_path)
    problems = _check_page(browser, batch_dir / "index.html", shots, prefix="batch-")
    rows = browser.execute_script(
        "return Array.from(document.querySelectorAll('table tr')).slice(1).map(r => r.innerText);"
    )
    assert len(rows) == 2
    assert all("PASS" in row for row in rows)
    assert [row.split()[0] for row in rows] == ["first.npz", "second.npz"]
    for page in [
        "torch_gap_matrix.html",
        "torch_gap_matrix.md.html",
        *(f"{s}/{p}" for s in ("first", "second") for p in ("index.html", "dataset.html")),
    ]:
        folder = page.split("/")[0] + "-" if "/" in page else ""
        problems += _check_page(browser, batch_dir / page, shots, prefix=f"batch-{folder}")
    assert not problems, "\n".join(problems)
