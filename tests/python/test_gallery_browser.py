"""The gallery in a real browser: Debian's headless chromium, driven over WebDriver
(chromium-driver) with selenium, opens the gallery of a tiny-model night from file://,
checks the cards and their prompts, searches, filters, and opens one image to read its call.

Needs /usr/bin/chromium and /usr/bin/chromedriver (scripts/install-browser.sh; .ci/run installs
them). Without them the test is skipped, loudly (see conftest.py); under CI=true it fails.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
BROWSER_MISSING = not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER))

ROBOT = 'A picture of a "friendly" robot'
LIGHTHOUSE = "A lighthouse in a storm"

if BROWSER_MISSING and os.environ.get("CI") == "true":
    raise RuntimeError("CI=true but chromium/chromedriver are missing: "
                       "scripts/install-browser.sh should have installed them")

pytestmark = pytest.mark.skipif(
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


@pytest.fixture(scope="module")
def night(tmp_path_factory, tiny_models) -> Path:
    """A shared folder after a real tiny-model night: two of alice's robots (one plain, one
    in a style), two lighthouses in output/, and bob's invalid task with its error file."""
    root = tmp_path_factory.mktemp("shared")
    for d in ("tasks", "output", "alice", "bob"):
        (root / d).mkdir()
    (root / "runvqgan.toml").write_text(
        "default_resolution = [32, 32]\n"
        "[models.default]\n"
        f'vqgan_config = "{tiny_models["vqgan_yaml"]}"\n'
        f'vqgan_checkpoint = "{tiny_models["vqgan_ckpt"]}"\n'
        f'clip_model = "{tiny_models["clip"]}"\n')
    (root / "alice" / "task_robot.txt").write_text(json.dumps({
        "text": ROBOT, "style": ["", "Banksy"], "iterations": 2, "out_file": "robot",
        "seed": 7, "raw": "-cuts 2"}))
    (root / "tasks" / "lighthouse.txt").write_text(json.dumps({
        "text": LIGHTHOUSE, "each": 2, "iterations": 2, "out_file": "lighthouse",
        "seed": 3, "raw": "-cuts 2"}))
    (root / "bob" / "task_forest.txt").write_text(json.dumps({
        "text": "A forest", "iteration": 2, "out_file": "forest"}))
    binary = runvqgan()
    env = {k: v for k, v in os.environ.items() if k != "RUNVQGAN_ROOT"}
    run = subprocess.run([binary, "run", "--root", root, "--device", "cpu"], env=env,
                         capture_output=True, text=True)
    assert run.returncode == 3, run.stderr  # bob's task is invalid, the others done
    gallery = subprocess.run([binary, "gallery", "--root", root], env=env,
                             capture_output=True, text=True)
    assert gallery.returncode == 0, gallery.stderr
    return root


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


def wait_for(check, timeout: float = 10.0):
    """Polls ``check`` until it returns a true value; returns that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def visible_prompts(driver) -> list[str]:
    """The prompts of the cards on the page now, read in one step (the list is redrawn
    while the search runs)."""
    return driver.execute_script(
        "return [...document.querySelectorAll('#cards article.card')]"
        ".filter(c => c.offsetParent !== null)"
        ".map(c => c.querySelector('.prompt').textContent)")


def sidecars(root: Path) -> dict[str, str]:
    """Image path -> first line of its sidecar."""
    out = {}
    for txt in sorted(root.glob("*/*.txt")):
        png = txt.with_suffix(".png")
        if png.exists():
            out[png.relative_to(root).as_posix()] = txt.read_text().split("\n", 1)[0]
    return out


def test_cards_search_filters_and_the_image_view(night, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    calls = sidecars(night)
    assert len(calls) == 4
    browser.get((night / "gallery" / "index.html").as_uri())
    assert wait_for(lambda: len(visible_prompts(browser)) == 4), visible_prompts(browser)

    prompts = sorted(visible_prompts(browser))
    assert prompts == sorted([ROBOT, f"{ROBOT} in the style of Banksy", LIGHTHOUSE, LIGHTHOUSE])
    styles = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#cards .style")]
    assert sorted(styles) == ["style: Banksy", "style: plain", "style: plain", "style: plain"]
    tasks = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".task-title")]
    assert sorted(tasks) == ["alice/task_robot.txt in alice", "tasks/lighthouse.txt in output"]
    # Thumbnails load from the relative thumbs/ folder.
    assert wait_for(lambda: browser.execute_script(
        "return [...document.querySelectorAll('img.thumb')]"
        ".every(i => i.complete && i.naturalWidth > 0)"))

    search = browser.find_element(By.ID, "search")
    search.send_keys("robot")
    assert wait_for(lambda: len(visible_prompts(browser)) == 2)
    assert all("robot" in p for p in visible_prompts(browser))
    search.send_keys(" banksy")
    assert wait_for(lambda: visible_prompts(browser) == [f"{ROBOT} in the style of Banksy"])
    assert "1 matching" in browser.find_element(By.ID, "count").text
    search.clear()
    search.send_keys("storm")
    assert wait_for(lambda: visible_prompts(browser) == [LIGHTHOUSE, LIGHTHOUSE])
    search.clear()
    search.send_keys("no such words")
    assert wait_for(lambda: visible_prompts(browser) == [])
    search.clear()
    search.send_keys(" ")
    assert wait_for(lambda: len(visible_prompts(browser)) == 4)

    Select(browser.find_element(By.ID, "filter-folder")).select_by_visible_text("alice")
    assert wait_for(lambda: sorted(visible_prompts(browser)) ==
                    sorted([ROBOT, f"{ROBOT} in the style of Banksy"]))
    Select(browser.find_element(By.ID, "filter-folder")).select_by_visible_text("all")
    assert wait_for(lambda: len(visible_prompts(browser)) == 4)

    card = browser.find_element(By.CSS_SELECTOR, "#cards article.card")
    image_id = card.get_attribute("data-id")
    card.find_element(By.CSS_SELECTOR, "a.open").click()
    viewer = browser.find_element(By.ID, "viewer")
    assert wait_for(lambda: viewer.get_attribute("open") is not None)
    assert browser.find_element(By.ID, "viewer-call").text == calls[image_id]
    sidecar = image_id.removesuffix(".png") + ".txt"
    root = night.resolve()
    assert browser.find_element(By.ID, "viewer-reproduce").text == shlex.join([
        "runvqgan", "reproduce", "--root", str(root),
        "--config", str(root / "runvqgan.toml"),
        "-o", f"{root}/YOUR-FOLDER/NAME_1.png", f"{root}/{sidecar}"])
    assert wait_for(lambda: browser.execute_script(
        "const i = document.querySelector('#viewer img.full');"
        "return i.complete && i.naturalWidth > 0"))
    assert browser.current_url.endswith("#image=" + image_id.replace("/", "%2F"))
    browser.find_element(By.ID, "copy-reproduce").click()
    assert wait_for(lambda: browser.find_element(By.ID, "copy-status").text != "")
    browser.find_element(By.ID, "viewer-close").click()
    assert wait_for(lambda: viewer.get_attribute("open") is None)

    # Every script, style sheet, image and link of the page stays on file://: nothing is
    # loaded from elsewhere.
    urls = browser.execute_script(
        "return [...document.querySelectorAll('[src], [href]')].map(e => e.src || e.href)")
    assert len(urls) > 8 and all(u.startswith("file://") for u in urls), urls


def test_member_page_and_error_page(night, browser):
    from selenium.webdriver.common.by import By

    browser.get((night / "gallery" / "folder-alice.html").as_uri())
    assert wait_for(lambda: sorted(visible_prompts(browser)) ==
                    sorted([ROBOT, f"{ROBOT} in the style of Banksy"]))
    assert browser.find_elements(By.ID, "filter-folder") == []
    browser.find_element(By.LINK_TEXT, "Error files 1").click()
    assert wait_for(lambda: browser.current_url.endswith("errors.html"))
    text = browser.find_element(By.TAG_NAME, "main").text
    assert "bob/task_forest_ERROR.txt" in text
    first = (night / "bob" / "task_forest_ERROR.txt").read_text().strip().split("\n")[0]
    assert first in text


def test_an_image_link_opens_the_image_view(night, browser):
    from selenium.webdriver.common.by import By

    image_id = "output/lighthouse_2.png"
    browser.get((night / "gallery" / "index.html").as_uri() + "#image=" +
                image_id.replace("/", "%2F"))
    viewer = browser.find_element(By.ID, "viewer")
    assert wait_for(lambda: viewer.get_attribute("open") is not None)
    assert browser.find_element(By.ID, "viewer-call").text == sidecars(night)[image_id]
