"""What the headless-Chromium tests share (tests/test_browser.py, tests/test_book.py): where
Chromium and its driver are, the flags they start with, and one skip-or-fail rule."""
from __future__ import annotations

import importlib.util
import os
import shutil

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
HEADLESS_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-dev-shm-usage"]
"""Without the background-networking flags Chromium keeps calling hosts a closed network refuses."""


def missing(modules, commands=()) -> str | None:
    """What is missing for a browser test (Chromium, its driver, a command, a Python package), or None."""
    if CHROMIUM is None:
        return "chromium is not installed (apt-get install chromium chromium-driver)"
    if DRIVER is None:
        return "chromedriver is not installed (apt-get install chromium-driver)"
    for command in commands:
        if shutil.which(command) is None:
            return f"{command} is not installed"
    for module in modules:
        if importlib.util.find_spec(module) is None:
            return f"the Python package {module} is not installed (pip install -r requirements.txt)"
    return None


def skip_unless_ready(required_by: str, modules, commands=()):
    """A module's ``pytestmark``: skip, saying what is missing, unless ``required_by`` (an
    environment variable CI sets to 1) demands the test, in which case fail at once."""
    absent = missing(modules, commands)
    if absent is not None and os.environ.get(required_by) == "1":
        raise RuntimeError(f"{required_by}=1 but {absent}")
    return pytest.mark.skipif(absent is not None, reason=absent or "")
