"""The HTML report in a real headless Chromium (Debian's `chromium`, driven by Playwright): no console errors,
every image decoded, every section present; a screenshot is saved under the test's tmp dir."""

from __future__ import annotations

import os
import shutil

import pytest

from bayesmixed.reports.document import SECTION_IDS

CHROMIUM = os.environ.get("BAYESMIXED_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (apt-get install chromium)")


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        # --no-sandbox: CI containers run as root, where Chromium's sandbox refuses to start
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.mark.parametrize("stem", ["sleepstudy", "cbpp"])
def test_report_opens_cleanly_in_chromium(browser, reports, stem, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("console", lambda message: problems.append(f"console {message.type}: {message.text}")
            if message.type in ("error", "warning") else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("requestfailed", lambda request: problems.append(f"request failed: {request.url}"))
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(reports.html(stem).as_uri(), wait_until="load")
    images = page.evaluate("[...document.images].map(image => [image.complete, image.naturalWidth, image.alt])")
    assert len(images) >= 8
    undecoded = [alt for complete, width, alt in images if not complete or width == 0]
    assert not undecoded, undecoded
    present = page.evaluate(f"{list(SECTION_IDS)!r}.filter(id => document.getElementById(id) !== null)")
    assert present == list(SECTION_IDS)
    # nothing fetched beyond the file itself and its embedded data: URIs
    assert all(url.startswith(("file:", "data:")) for url in requests), requests
    page.emulate_media(media="print")
    page.screenshot(path=str(tmp_path / f"{stem}.png"), full_page=False)
    assert (tmp_path / f"{stem}.png").stat().st_size > 10_000
    assert not problems, problems
    page.close()
