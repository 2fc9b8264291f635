"""The gallery's "tonight's queue" page in a real browser: Debian's headless chromium, driven
over WebDriver (chromium-driver) with selenium, opens gallery/queue.html written by `check`
from file:// and reads what a member sees: each member's waiting tasks in tonight's fair-share
order with start and finish times, and the invalid tasks with their reasons, a hostile task
name shown as text.

No engine runs: `check` plans the night from the task files and the stored speeds. Needs
/usr/bin/chromium and /usr/bin/chromedriver (scripts/install-browser.sh); without them the test
is skipped, loudly; under CI=true it fails. Set QUEUE_SCREENSHOT to a path to keep a
screenshot of the page (docs/queue.png is made that way).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from browser import chromium, needs_browser, runvqgan

HOSTILE = "task_<img src=x onerror=alert(1)>.txt"

pytestmark = needs_browser


def task(text: str, out_file: str, each: int = 1) -> str:
    return json.dumps({"text": text, "out_file": out_file, "each": each, "iterations": 40,
                       "resolution": [64, 48], "seed": 1})


@pytest.fixture(scope="module")
def queue_page(tmp_path_factory) -> Path:
    """A shared folder as members left it before a night, checked by its owner: anna's one
    25-image task (the oldest), ben's four 1-image tasks and ben's invalid task with a hostile
    name; earlier nights measured 0.5 s per iteration and 10 s to start."""
    root = tmp_path_factory.mktemp("shared")
    for d in ("tasks", "output", "anna", "ben", ".runvqgan"):
        (root / d).mkdir()
    (root / "runvqgan.toml").write_text('device = "cpu"\ngallery = true\n')
    (root / ".runvqgan" / "speeds.json").write_text(json.dumps({
        "per_iteration": {"default@cpu@64x48": 0.5}, "startup": {"default@cpu": 10.0},
        "last_device": {"default": "cpu"}}))
    lighthouse = root / "anna" / "task_lighthouse.txt"
    lighthouse.write_text(task("A lighthouse in a storm", "lighthouse", each=25))
    os.utime(lighthouse, (1_600_000_000, 1_600_000_000))
    for i in range(1, 5):
        cat = root / "ben" / f"task_cat{i}.txt"
        cat.write_text(task(f"A cat, number {i}", f"cat{i}"))
        os.utime(cat, (1_600_000_100 + i, 1_600_000_100 + i))
    (root / "ben" / HOSTILE).write_text(json.dumps({"text": "cat", "out_flie": "cat"}))
    env = {k: v for k, v in os.environ.items() if k != "RUNVQGAN_ROOT"}
    check = subprocess.run([runvqgan(), "check", "--root", root], env=env,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    page = root / "gallery" / "queue.html"
    assert page.exists(), check.stdout
    return page


@pytest.fixture(scope="module")
def browser():
    driver = chromium(1100, 1000)
    yield driver
    driver.quit()


def member_sections(driver) -> dict[str, dict]:
    """Each member's section: its heading and its table's rows (cells' text)."""
    return driver.execute_script("""
        const out = {};
        for (const s of document.querySelectorAll('section.member')) {
          const name = s.querySelector('.member-name').textContent;
          out[name] = {
            heading: s.querySelector('h2').textContent,
            rows: [...s.querySelectorAll('tbody tr')].map(
              r => [...r.querySelectorAll('td')].map(td => td.textContent.trim())),
          };
        }
        return out;""")


def test_each_member_sees_their_tasks_in_tonights_order_with_times(browser, queue_page):
    browser.get(queue_page.as_uri())
    assert browser.title.startswith("Tonight's queue")
    members = member_sections(browser)
    assert list(members) == ["anna", "ben"], "members in the order of their first turn"
    ben = members["ben"]
    assert [r[0] for r in ben["rows"]] == [f"ben/task_cat{i}.txt" for i in range(1, 5)]
    # 10 s to start, 20 s an image, turns alternate: anna, cat1, anna, cat2, ...
    assert [r[2] for r in ben["rows"]] == ["+0:00:30", "+0:01:10", "+0:01:50", "+0:02:30"]
    assert [r[3] for r in ben["rows"]] == ["+0:00:50", "+0:01:30", "+0:02:10", "+0:02:50"]
    assert "4 images waiting" in ben["heading"]
    assert "done +0:02:50 after the night's start" in ben["heading"]
    anna = members["anna"]
    assert anna["rows"] == [["anna/task_lighthouse.txt", "25", "+0:00:10", "+0:09:50"]]
    assert "done +0:09:50 after the night's start" in anna["heading"]


def test_invalid_tasks_are_listed_with_their_reasons_and_hostile_names_stay_text(
        browser, queue_page):
    browser.get(queue_page.as_uri())
    invalid = browser.find_element("id", "invalid")
    text = invalid.text
    assert "Not run until fixed (1)" in text
    assert f"ben/{HOSTILE}" in text
    assert "did you mean `out_file`?" in text
    # The name did not become an element: no image, no script ran.
    assert browser.execute_script("return document.querySelectorAll('img').length") == 0
    assert browser.execute_script(
        "return document.querySelectorAll('section.member').length") == 2


def test_the_page_loads_nothing_from_elsewhere(browser, queue_page):
    browser.get(queue_page.as_uri())
    urls = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert urls == [], "one file, style inline"
    browser.set_window_size(1100, 1000)
    shot = os.environ.get("QUEUE_SCREENSHOT")
    if shot:
        browser.save_screenshot(shot)
