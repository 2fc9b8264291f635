"""What the browser tests share: the runvqgan binary, and Debian's headless chromium driven
over WebDriver (chromium-driver) with selenium.

Without /usr/bin/chromium and /usr/bin/chromedriver (scripts/install-browser.sh installs them)
the browser tests are skipped, loudly; under CI=true that is an error instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
BROWSER_MISSING = not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER))

if BROWSER_MISSING and os.environ.get("CI") == "true":
    raise RuntimeError("CI=true but chromium/chromedriver are missing: "
                       "scripts/install-browser.sh should have installed them")

# `pytestmark = needs_browser` in a browser test's module.
needs_browser = pytest.mark.skipif(
    BROWSER_MISSING,
    reason="BROWSER TEST SKIPPED: chromium or chromedriver not found; "
           "install them with scripts/install-browser.sh (as root)")


def runvqgan() -> Path:
    """The runvqgan binary: $RUNVQGAN_BIN, else target/debug/runvqgan (built if missing)."""
    if os.environ.get("RUNVQGAN_BIN"):
        return Path(os.environ["RUNVQGAN_BIN"])
    binary = ROOT / "target" / "debug" / "runvqgan"
    if not binary.exists():
        subprocess.run(["cargo", "build", "--quiet", "--bin", "runvqgan"], cwd=ROOT, check=True)
    return binary


def chromium(width: int, height: int, extra: tuple[str, ...] = (), prefs: dict | None = None):
    """A headless chromium window of `width` x `height` (quit it when done)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}", *extra):
        options.add_argument(arg)
    if prefs:
        options.add_experimental_option("prefs", prefs)
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    driver.implicitly_wait(0)
    return driver
