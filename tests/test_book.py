"""The book in a real browser: `make book` builds the static site into a temporary folder, a
plain HTTP server on 127.0.0.1 serves it, and headless Chromium opens every chapter.

Checked on every chapter of book/_toc.yml: the page loads; every figure of the committed
notebook is shown (as many loaded images as the .ipynb has image outputs); every formula is
typeset by MathJax, without errors and without a raw ``$…$`` left in the text; every link
inside the site resolves (no 404, anchors exist); nothing the pages load is missing. Also:
the navigation lists the chapters in order, search finds a word, widgets became notes.

Needs Debian's ``chromium`` and ``chromium-driver`` and the book's Python packages
(requirements.txt); the test skips, saying what is missing, without them, unless
``VAECF_REQUIRE_BOOK=1`` (CI). Set ``VAECF_SCREENSHOTS`` to a folder to keep screenshots.
"""
from __future__ import annotations

import functools
import http.server
import json
import os
import re
import subprocess
import threading
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import pytest
import yaml

from browser_tools import CHROMIUM, DRIVER, HEADLESS_FLAGS, skip_unless_ready

ROOT = Path(__file__).resolve().parents[1]
TOC = ROOT / "book" / "_toc.yml"
FLAGS = HEADLESS_FLAGS + ["--window-size=1400,1000"]
IMAGE_MIMES = ("image/png", "image/jpeg", "image/svg+xml", "image/gif")
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
CLAIM_MIME = "application/vnd.vaecf.claim+json"
RAW_MATH = re.compile(r"\$\$?[^$\n]+\$\$?")
MATH_TIMEOUT = 120  # seconds for MathJax to typeset the longest chapter on a busy machine


def source_has_maths(path: Path) -> bool:
    """Whether a chapter's prose holds $…$ maths (code, where $ names a shell variable, aside)."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text())["cells"]
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    else:
        text = path.read_text()
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    return RAW_MATH.search(re.sub(r"`[^`\n]*`", "", text)) is not None


pytestmark = skip_unless_ready("VAECF_REQUIRE_BOOK", ("selenium", "sphinx", "myst_nb", "sphinx_book_theme",
                                                     "sphinx_external_toc"), commands=("make",))


def chapters() -> list[str]:
    """The book's documents in reading order: the root, then every chapter of _toc.yml."""
    toc = yaml.safe_load(TOC.read_text())
    return [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]


def _outputs(doc: str) -> list[dict]:
    path = ROOT / f"{doc}.ipynb"
    if not path.exists():
        return []
    cells = json.loads(path.read_text())["cells"]
    return [o for c in cells for o in c.get("outputs", [])]


def expected_figures(doc: str) -> int:
    """How many image outputs the committed notebook has (0 for a Markdown page)."""
    return sum(any(m in o.get("data", {}) for m in IMAGE_MIMES) for o in _outputs(doc))


def expected_widget_notes(doc: str) -> int:
    """Widget outputs other than progress bars: each must become a readable note."""
    texts = ["".join(o["data"].get("text/plain", "")) for o in _outputs(doc)
             if WIDGET_MIME in o.get("data", {})]
    return sum("%|" not in t for t in texts)


def expected_claims(doc: str) -> int:
    return sum(CLAIM_MIME in o.get("data", {}) for o in _outputs(doc))


class _Site:
    """The built book served on 127.0.0.1; remembers every request's path and status."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.requests: list[tuple[str, int]] = []
        site = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_request(self, code="-", size="-"):
                site.requests.append((urlparse(self.path).path, int(code)))

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    build = tmp_path_factory.mktemp("book")
    done = subprocess.run(["make", "-s", "book", f"BOOK_BUILD={build}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"make book failed:\n{done.stdout}\n{done.stderr}"
    served = _Site(build / "html")
    yield served
    served.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tmp_path_factory.mktemp("chromium-profile")
    for flag in FLAGS + [f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(120)
    try:
        yield driver
    finally:
        driver.quit()


# The article's text with code, outputs and typeset maths taken out: what is left is prose,
# in which a `$` pair would be maths that was never recognised.
PROSE_JS = """
const article = document.querySelector('article') || document.querySelector('main');
const copy = article.cloneNode(true);
copy.querySelectorAll('pre, code, script, style, .math, mjx-container, .cell_output')
    .forEach(e => e.remove());
return copy.textContent;
"""
MATH_JS = """
const all = [...document.querySelectorAll('article .math')];
return {total: all.length,
        typeset: all.filter(e => e.querySelector('mjx-container')).length,
        errors: document.querySelectorAll('mjx-merror, .MathJax_Error').length,
        containers: document.querySelectorAll('article mjx-container').length};
"""
IMAGES_JS = """
return [...document.querySelectorAll('article img')].map(i => ({
    src: i.currentSrc || i.src, complete: i.complete, width: i.naturalWidth,
    output: !!i.closest('.cell_output')}));
"""
LINKS_JS = "return [...document.querySelectorAll('a[href]')].map(a => a.href);"


def _shoot(browser, doc: str, selector: str, name: str):
    shots = os.environ.get("VAECF_SCREENSHOTS")
    if not shots:
        return
    found = browser.find_elements("css selector", selector)
    if selector != "body" and not found:
        return
    if found and selector != "body":
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", found[0])
    else:
        browser.execute_script("window.scrollTo(0, 0);")
    Path(shots).mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(Path(shots) / f"{doc.replace('/', '_')}_{name}.png"))


def _has_anchor(html: str, fragment: str) -> bool:
    return re.search(rf'\bid="{re.escape(fragment)}"', html) is not None


def test_every_chapter_loads_with_its_figures_maths_and_links(site, browser):
    from selenium.webdriver.support.ui import WebDriverWait

    fetched: dict[str, str | None] = {}  # page address -> its HTML (None: not found)

    def fetch(address: str) -> str | None:
        if address not in fetched:
            try:
                with urllib.request.urlopen(address, timeout=30) as answer:
                    fetched[address] = answer.read().decode("utf-8", "replace")
            except urllib.error.HTTPError:
                fetched[address] = None
        return fetched[address]

    problems = []
    for doc in chapters():
        page = urljoin(site.url, f"{doc}.html")
        browser.get(page)
        assert (urlparse(page).path, 200) in site.requests, f"{doc}: the page did not load"
        heading = browser.find_elements("css selector", "article h1")
        assert heading and heading[0].text.strip(), f"{doc}: the page has no title"

        maths = WebDriverWait(browser, MATH_TIMEOUT, poll_frequency=0.3).until(
            lambda d: (m := d.execute_script(MATH_JS))["typeset"] == m["total"] and m)
        if maths["errors"]:
            problems.append(f"{doc}: {maths['errors']} formulas failed to typeset")
        leftover = RAW_MATH.findall(browser.execute_script(PROSE_JS))
        if leftover:
            problems.append(f"{doc}: raw maths left in the text: {leftover[:3]}")
        source = (ROOT / f"{doc}.ipynb") if (ROOT / f"{doc}.ipynb").exists() \
            else ROOT / f"{doc}.md"
        if source_has_maths(source) and not maths["containers"]:
            problems.append(f"{doc}: the source has maths but no formula was typeset")

        images = browser.execute_script(IMAGES_JS)
        local = [i for i in images if i["src"].startswith(site.url)]
        broken = [i["src"] for i in local if not (i["complete"] and i["width"] > 0)]
        if broken:
            problems.append(f"{doc}: images not displayed: {broken}")
        shown = sum(i["output"] and i["complete"] and i["width"] > 0 for i in local)
        if shown != expected_figures(doc):
            problems.append(f"{doc}: {shown} figures shown, the notebook has "
                            f"{expected_figures(doc)}")

        text = browser.find_element("css selector", "article").text
        if "VBox(children=" in text or "HBox(children=" in text:
            problems.append(f"{doc}: a widget is shown as its Python repr")
        notes = len(browser.find_elements("css selector", "article .widget-note"))
        if notes != expected_widget_notes(doc):
            problems.append(f"{doc}: {notes} widget notes, expected {expected_widget_notes(doc)}")
        claims = len(browser.find_elements("css selector", "article .claim"))
        if claims != expected_claims(doc):
            problems.append(f"{doc}: {claims} claims shown, the notebook has "
                            f"{expected_claims(doc)}")

        for link in set(browser.execute_script(LINKS_JS)):
            if not link.startswith(site.url):
                continue
            address, fragment = urldefrag(link)
            html = fetch(address)
            if html is None:
                problems.append(f"{doc}: link to {address} is not found")
            elif fragment and address.endswith(".html") and not _has_anchor(html, fragment):
                problems.append(f"{doc}: link to {link}: no such anchor")

        _shoot(browser, doc, "body", "top")
        _shoot(browser, doc, "article .cell_output img", "figure")
        _shoot(browser, doc, "article div.math", "maths")
        _shoot(browser, doc, "article .widget-note", "widget")
        _shoot(browser, doc, "article .claim", "claim")

    # (Chromium asks every site for /favicon.ico by itself; the pages do not link it)
    missing = sorted({path for path, code in site.requests
                      if code >= 400 and path != "/favicon.ico"})
    if missing:
        problems.append(f"the pages requested files the site does not have: {missing}")
    assert not problems, "\n".join(problems)


def test_navigation_lists_the_chapters_in_order(site, browser):
    browser.get(urljoin(site.url, "README.html"))
    links = browser.execute_script(
        "return [...document.querySelectorAll('nav.bd-docs-nav a.reference.internal')]"
        ".map(a => a.href);")
    listed = [urlparse(link).path.lstrip("/").removesuffix(".html") for link in links]
    assert listed == chapters()[1:], listed


def test_search_finds_a_chapter(site, browser):
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(urljoin(site.url, "search.html?q=reparameterisation"))
    results = WebDriverWait(browser, 60, poll_frequency=0.3).until(
        lambda d: d.find_elements("css selector", "#search-results ul.search li a"))
    found = {urlparse(a.get_attribute("href")).path.lstrip("/").removesuffix(".html")
             for a in results}
    assert "notebooks/05_amortised_inference" in found \
        or "assignments/student/03_reparameterisation_kl" in found, found
