"""The β slider in a real browser: the demo notebook served by Voilà on 127.0.0.1, opened
in headless Chromium through chromedriver; moving the slider must redraw the figure.

Needs Debian's ``chromium`` and ``chromium-driver`` and the Python packages ``voila`` and
``selenium`` (see requirements.txt); the test skips, saying what is missing, without them.
Set ``VAECF_SCREENSHOTS`` to a folder to keep before/after screenshots of the widget.
"""
from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from browser_tools import CHROMIUM, DRIVER, HEADLESS_FLAGS, skip_unless_ready

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "demo_beta_slider.ipynb"
FLAGS = HEADLESS_FLAGS + ["--window-size=1500,1300"]
PAGE_TIMEOUT = 240  # seconds for the kernel to start and run the smoke-sized notebook (a busy machine is slow)


pytestmark = skip_unless_ready("VAECF_REQUIRE_BROWSER", ("selenium", "voila", "ipywidgets"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def voila_url(tmp_path):
    """Serve the demo notebook with Voilà (smoke size) and yield its address."""
    port = _free_port()
    env = dict(os.environ, VAECF_SMOKE="1", VAECF_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    log = open(tmp_path / "voila.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "voila", str(NOTEBOOK), "--no-browser", f"--port={port}",
         "--Voila.ip=127.0.0.1", "--show_tracebacks=True"],
        cwd=NOTEBOOK.parent, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:  # a bare connection: a page request would start a kernel of its own
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("Voilà did not start:\n" + (tmp_path / "voila.log").read_text())
                time.sleep(0.3)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # Voilà and the kernel it started
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # Voilà answers only once the notebook has run; do not block in get() but wait below.
    options.page_load_strategy = "none"
    for flag in FLAGS + [f"--user-data-dir={tmp_path / 'chromium-profile'}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _figure_png(driver, image) -> bytes:
    """The PNG an Image widget shows, read back in the page (its src is a blob: or data: URL)."""
    encoded = driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch(arguments[0].src).then(r => r.arrayBuffer()).then(buffer => {
            let text = "";
            new Uint8Array(buffer).forEach(c => { text += String.fromCharCode(c); });
            done(btoa(text));
        }).catch(error => done("failed: " + error));""", image)
    assert not encoded.startswith("failed"), encoded
    return base64.b64decode(encoded)


def test_moving_the_beta_slider_redraws_the_figure(voila_url, browser, tmp_path):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(voila_url)
    wait = WebDriverWait(browser, PAGE_TIMEOUT, poll_frequency=0.3, ignored_exceptions=(
        NoSuchElementException, StaleElementReferenceException))
    # the first slider on the page is the β slider; its figure is the widget's image
    handle = wait.until(lambda d: d.find_elements("css selector", ".noUi-handle") or False)[0]
    box = handle.find_element("xpath", "./ancestor::div[contains(@class, 'widget-vbox')][1]")
    image = wait.until(lambda d: box.find_element("css selector", "img.widget-image"))
    readout = box.find_element("css selector", ".widget-readout")
    assert readout.text.strip() == "0.2"
    before = _figure_png(browser, image)
    assert before[:8] == b"\x89PNG\r\n\x1a\n"
    browser.execute_script("arguments[0].scrollIntoView({block: 'start'});", box)
    shots = os.environ.get("VAECF_SCREENSHOTS")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        box.screenshot(str(Path(shots) / "beta_slider_before.png"))

    handle.click()
    handle.send_keys(Keys.ARROW_RIGHT)  # one step up the grid: β = 0.2 -> 0.5
    wait.until(lambda d: readout.text.strip() == "0.5")
    after = wait.until(lambda d: (png := _figure_png(d, image)) != before and png)
    assert after[:8] == b"\x89PNG\r\n\x1a\n" and after != before
    if shots:
        time.sleep(0.3)
        box.screenshot(str(Path(shots) / "beta_slider_after.png"))
