"""The web page in a real browser (Debian's headless chromium, driven by Playwright): upload a
photo and a painting, run both backends side by side, see the picture change and the difference
between them step by step, stop, resume to the end, download the picture and its options, with
no request leaving 127.0.0.1. STYLE_TRANSFER_SCREENSHOT=FILE.jpg saves the side-by-side view."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, require, require_module, unavailable

CHROMIUM = os.environ.get("STYLE_TRANSFER_CHROMIUM", "/usr/bin/chromium")
SHOT = os.environ.get("STYLE_TRANSFER_SCREENSHOT")


@pytest.fixture
def page_url(tmp_path):
    require_module("aiohttp")
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "web.py"), "--port", "0", "--folder", str(tmp_path / "runs")],
                            cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()
    assert "serving http://127.0.0.1:" in line, line + proc.stderr.read()
    yield line.split("serving ", 1)[1].split()[0]
    proc.terminate()
    proc.wait(30)


def images(tmp_path):
    """The chapter's photos when they are beside the checkout (.ci/run says where), else small ones."""
    shared = os.environ.get("STYLE_TRANSFER_TEST_IMAGES")
    if shared and (Path(shared) / "rainier.jpg").is_file():
        return Path(shared) / "rainier.jpg", Path(shared) / "autumn-oak.jpg"
    from tests.conftest import synthetic_image
    from PIL import Image

    paths = tmp_path / "photo.png", tmp_path / "painting.png"
    for seed, path in enumerate(paths, 1):
        Image.fromarray((synthetic_image(seed, (60, 90)) * 255).astype("uint8")).save(path)
    return paths


def test_side_by_side_start_live_stop_resume_download(page_url, tmp_path):
    playwright = require_module("playwright.sync_api")
    require("torch")
    require("mxnet")
    if not shutil.which(CHROMIUM):
        unavailable(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    content, style = images(tmp_path)
    size, steps = ("150 225", 40) if SHOT else ("48 72", 60)
    requests = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 800}, accept_downloads=True)
        page.on("request", lambda r: requests.append(r.url))
        page.on("websocket", lambda ws: requests.append(ws.url))
        page.goto(page_url)
        page.wait_for_selector("#status:has-text('ready')")
        page.set_input_files("#content", str(content))
        page.set_input_files("#styles", str(style))
        page.wait_for_function("state.content && state.styles.length === 1")  # both uploads answered
        page.select_option("[name=backend]", "both")
        page.select_option("#weights", "random")
        page.fill("[name='--size']", size)
        page.fill("[name='--steps']", str(steps))
        page.click("#start")
        page.wait_for_function("document.querySelector('#diff').dataset.step >= 3", timeout=20000)
        first = page.get_attribute("#run-torch img", "src")
        page.wait_for_function("document.querySelector('#run-torch').dataset.step >= 10", timeout=20000)
        assert page.get_attribute("#run-torch img", "src") != first  # the picture changes as it optimises
        assert "relative loss difference" in page.inner_text("#diff .stats")
        page.click("#stop")
        page.wait_for_selector("#run-torch[data-ended=interrupted]")
        page.wait_for_selector("#run-mxnet[data-ended=interrupted]")
        stopped = int(page.get_attribute("#run-torch", "data-step"))
        assert stopped < steps and page.is_enabled("#resume")
        page.click("#resume")
        page.wait_for_selector("#run-torch[data-ended=finished]", timeout=30000)
        page.wait_for_selector("#run-mxnet[data-ended=finished]", timeout=30000)
        assert int(page.get_attribute("#diff", "data-step")) == steps
        latency = sorted(page.evaluate("state.latency"))
        print(f"step to page: median {1000 * latency[len(latency) // 2]:.1f} ms, slowest {1000 * latency[-1]:.1f} ms "
              f"over {len(latency)} steps; page {page.evaluate('document.documentElement.outerHTML.length')} chars")
        assert latency[len(latency) // 2] < 0.5  # live: a step reaches the page at once
        if SHOT:
            page.screenshot(path=SHOT, type="jpeg", quality=80)
        with page.expect_download() as download:
            page.click("#run-mxnet .files a:has-text('picture.png')")
        assert download.value.path().read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        with page.expect_download() as download:
            page.click("#run-torch .files a:has-text('options.json')")
        options = json.loads(download.value.path().read_text())
        assert options["argv"][:2] == ["--backend", "torch"] and f"--steps {steps}" in options["command"]
        assert content.name in options["argv"]
        browser.close()
    host = page_url.split("//", 1)[1].rstrip("/")
    outside = [u for u in requests if not u.startswith((f"http://{host}/", f"ws://{host}/", "data:"))]
    assert requests and outside == []
