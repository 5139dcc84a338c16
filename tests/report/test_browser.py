"""The report's HTML in a real browser: every image loads, every local link resolves.

Runs headless Chromium through selenium and Debian's chromedriver. Skips with one line
when either is missing (CI installs ``chromium`` and ``chromium-driver``). Screenshots
go to ``$PTYEVIDENCE_SCREENSHOTS`` when it is set, else into the test's temporary folder.
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
        check=False, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1400,1000"):
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


def _check_page(browser, page: Path, shots: Path) -> list[str]:
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
    browser.save_screenshot(str(shots / f"{page.stem}.png"))
    return problems


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
