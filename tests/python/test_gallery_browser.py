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
import subprocess
import time
from pathlib import Path

import pytest

from browser import chromium, needs_browser, runvqgan

ROBOT = 'A picture of a "friendly" robot'
LIGHTHOUSE = "A lighthouse in a storm"

pytestmark = needs_browser


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
    # Each sidecar records the loss at the iterations (the viewer draws it).
    for txt in [*root.glob("alice/robot_*.txt"), *root.glob("output/lighthouse_*.txt")]:
        assert "\n# loss-curve: " in txt.read_text(), txt
    return root


@pytest.fixture(scope="module")
def video_night(tmp_path_factory, tiny_models) -> Path:
    """A shared folder after a tiny-model night that made one picture with its progress
    video (alice/dawn_1.png and alice/dawn_1.mp4), and its gallery."""
    root = tmp_path_factory.mktemp("video")
    (root / "alice").mkdir()
    (root / "runvqgan.toml").write_text(
        "default_resolution = [32, 32]\ngallery = true\n"
        "[models.default]\n"
        f'vqgan_config = "{tiny_models["vqgan_yaml"]}"\n'
        f'vqgan_checkpoint = "{tiny_models["vqgan_ckpt"]}"\n'
        f'clip_model = "{tiny_models["clip"]}"\n')
    (root / "alice" / "task_dawn.txt").write_text(json.dumps({
        "text": "A dawn", "iterations": 6, "out_file": "dawn", "seed": 1,
        "video": "progress", "raw": "-cuts 2"}))
    env = {k: v for k, v in os.environ.items() if k != "RUNVQGAN_ROOT"}
    run = subprocess.run([runvqgan(), "run", "--root", root, "--device", "cpu"], env=env,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert (root / "alice" / "dawn_1.mp4").stat().st_size > 0
    return root


def test_the_viewer_plays_an_images_video_with_the_picture_as_poster(video_night, browser):
    browser.get((video_night / "gallery" / "index.html").as_uri() + "#image=alice%2Fdawn_1.png")
    video = wait_for(lambda: browser.execute_script(
        "var v = document.querySelector('video.full'); return v && !v.hidden ? v : null;"))
    assert video is not None, "the viewer shows no video for an image that has one"
    src = browser.execute_script("return arguments[0].currentSrc || arguments[0].src;", video)
    poster = browser.execute_script("return arguments[0].poster;", video)
    assert src.endswith("/alice/dawn_1.mp4"), src
    assert poster.endswith("/alice/dawn_1.png"), poster
    # The browser decodes it: its metadata loads, with the frames' size and a duration.
    meta = wait_for(lambda: browser.execute_script(
        "var v = arguments[0]; return v.readyState >= 1 ? "
        "[v.videoWidth, v.videoHeight, v.duration, v.error && v.error.code] : null;", video),
        timeout=20)
    assert meta is not None, browser.execute_script(
        "var v = arguments[0]; return [v.readyState, v.networkState, v.error && v.error.code];",
        video)
    width, height, duration, error = meta
    assert error is None and duration > 0, meta
    assert (width, height) == (32, 32), meta


@pytest.fixture(scope="module")
def browser():
    driver = chromium(1280, 900)
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
    """The prompts of the tiles on the page now, read in one step (the grid is redrawn
    while the search runs)."""
    return driver.execute_script(
        "return [...document.querySelectorAll('#cards .tile')]"
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
    # One heading per night; a task's name rides on its first thumbnail (no row of its own).
    assert len(browser.find_elements(By.CSS_SELECTOR, ".night-title")) == 1
    tasks = browser.execute_script(
        "return [...document.querySelectorAll('.tile .task-label:not([hidden])')]"
        ".map(e => e.title)")
    assert sorted(tasks) == ["alice/task_robot.txt", "tasks/lighthouse.txt"]
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

    card = browser.find_element(By.CSS_SELECTOR, "#cards .tile")
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
    browser.find_element(By.LINK_TEXT, "Errors and warnings 1").click()
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


# ---- A gallery of 60 one-image tasks (pictures made here, sidecars as runvqgan writes them):
# density, viewer, compare, favourites, search, links and the task form.

SIZES = [(448, 288), (288, 448), (384, 384), (512, 256)]
FOLDERS = ["alice", "bob", "chloé", "output"]
CAFE = "A café in Paris at night"


def picture(i: int, w: int, h: int) -> bytes:
    from io import BytesIO

    from PIL import Image, ImageOps

    red = Image.linear_gradient("L").resize((w, h))
    green = ImageOps.mirror(Image.radial_gradient("L").resize((w, h)))
    blue = Image.new("L", (w, h), (i * 41) % 256)
    out = BytesIO()
    Image.merge("RGB", (red, green, blue)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def sixty(tmp_path_factory) -> Path:
    """60 one-image tasks over three nights, four members and four picture shapes; one
    prompt with an accent; one error file and one warnings note."""
    root = tmp_path_factory.mktemp("sixty")
    for d in ["tasks", *FOLDERS]:
        (root / d).mkdir()
    (root / "runvqgan.toml").write_text("")
    words = "lighthouse storm robot forest dawn river castle cat dog city".split()
    for i in range(60):
        folder = FOLDERS[i % 4]
        w, h = SIZES[i % 4]
        rel = f"{folder}/picture{i:02d}_1.png"
        (root / rel).write_bytes(picture(i, w, h))
        prompt = CAFE if i == 7 else f"A painting of a {words[i % 10]} and a {words[i * 3 % 10]}"
        call = shlex.join(["python", "generate.py", "-p", prompt, "-i", "200", "-s", str(w),
                           str(h), "-sd", str(1000 + i), "-m", "ViT-B/32", "-conf", "m/v.yaml",
                           "-ckpt", "m/v.ckpt", "-cuts", str(32 + i % 2 * 32), "-o", rel])
        curve = " ".join(f"{0.95 - 0.3 * (1 - 0.85 ** k):.4f}" for k in range(32))
        (root / rel).with_suffix(".txt").write_text(
            f"{call}\n# runvqgan: 0.1.0\n# task: {folder}/task_picture{i:02d}.txt\n"
            f"# image: 1 of 1\n# model-set: default\n# device: cuda:0\n"
            f"# started: 2026-11-{20 + i % 3}T23:{i % 60:02d}:00Z\n# seconds: 61.0\n"
            f"# final-loss: {0.6 + (i * 7 % 60) / 600:.4f}\n# loss-curve: {curve}\n")
    (root / "bob" / "task_bad_ERROR.txt").write_text(
        "bob/task_bad.txt: unknown field `iteration`; did you mean `iterations`?\n")
    (root / "alice" / "task_big_WARNINGS.txt").write_text(
        "alice/task_big.txt: `iterations` 5000 is above the workstation's limit of 1000.\n")
    env = {k: v for k, v in os.environ.items() if k != "RUNVQGAN_ROOT"}
    built = subprocess.run([runvqgan(), "gallery", "--root", root], env=env,
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    return root


@pytest.fixture(scope="module")
def screen(tmp_path_factory):
    """Chromium with a 1400x1000 viewport (the page's own size, browser frame aside) and
    downloads allowed into a folder of its own."""
    downloads = tmp_path_factory.mktemp("downloads")
    driver = chromium(1400, 1000, ("--hide-scrollbars",),
                      {"download.default_directory": str(downloads),
                       "download.prompt_for_download": False})
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": False})
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {
        "behavior": "allow", "downloadPath": str(downloads)})
    driver.downloads = downloads
    yield driver
    driver.quit()


def shoot(driver, name: str):
    """Saves a screenshot into $RUNVQGAN_SCREENSHOTS (the docs/ pictures), when it is set."""
    folder = os.environ.get("RUNVQGAN_SCREENSHOTS")
    if folder:
        time.sleep(0.4)
        driver.save_screenshot(str(Path(folder) / name))


def open_page(driver, url: str):
    driver.get(url)
    driver.execute_script("localStorage.clear()")
    driver.get(url)
    assert wait_for(lambda: driver.execute_script(
        "return document.querySelectorAll('#cards .tile').length") > 0)


def js_click(driver, css: str, index: int = 0):
    driver.execute_script(f"document.querySelectorAll({json.dumps(css)})[{index}].click()")


def test_sixty_one_image_tasks_fill_the_first_screen(sixty, screen):
    open_page(screen, (sixty / "gallery" / "index.html").as_uri())
    assert screen.execute_script("return [innerWidth, innerHeight]") == [1400, 1000]
    assert wait_for(lambda: screen.execute_script(
        "return [...document.querySelectorAll('img.thumb')].slice(0, 24)"
        ".every(i => i.complete && i.naturalWidth > 0)"))
    in_view = screen.execute_script(
        "return [...document.querySelectorAll('#cards .tile')].filter(t => {"
        " const r = t.getBoundingClientRect();"
        " return r.top >= 0 && r.bottom <= innerHeight && r.left >= 0 && r.right <= innerWidth"
        "}).length")
    assert in_view >= 24, in_view
    # Rows are justified: every full row spans the grid's width, tiles keep their shape.
    rows = screen.execute_script(
        "const g = document.querySelector('.rows').clientWidth;"
        "return [...document.querySelectorAll('.row')].slice(0, 2).map(r => {"
        " const ts = [...r.children]; const last = ts[ts.length - 1].getBoundingClientRect();"
        " const first = ts[0].getBoundingClientRect(); return [last.right - first.left, g]; })")
    for spanned, width in rows:
        assert abs(spanned - width) < 3, rows
    shoot(screen, "gallery.png")


def test_the_viewer_steps_with_the_arrow_keys_and_shows_loss_and_command(sixty, screen):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    open_page(screen, (sixty / "gallery" / "index.html").as_uri())
    ids = screen.execute_script("return RVG.matches().map(m => m.id)")
    screen.find_elements("css selector", "#cards .tile a.open")[0].click()
    title = lambda: screen.find_element("id", "viewer-title").text  # noqa: E731
    assert wait_for(lambda: title() == ids[0])
    ActionChains(screen).send_keys(Keys.ARROW_RIGHT).perform()
    assert wait_for(lambda: title() == ids[1])
    ActionChains(screen).send_keys(Keys.ARROW_RIGHT).perform()
    assert wait_for(lambda: title() == ids[2])
    ActionChains(screen).send_keys(Keys.ARROW_LEFT).perform()
    assert wait_for(lambda: title() == ids[1])
    assert screen.current_url.endswith("#image=" + ids[1].replace("/", "%2F"))
    # The loss, its curve, and the command with Copy, all in the first screen.
    assert screen.find_element("id", "viewer-loss").text.startswith("0.")
    assert screen.execute_script(
        "return document.querySelectorAll('#viewer-curve polyline').length") == 1
    for element in ("viewer-reproduce", "copy-reproduce", "viewer-download", "viewer-zoom"):
        bottom = screen.execute_script(
            f"return document.getElementById('{element}').getBoundingClientRect().bottom")
        assert 0 < bottom <= 1000, (element, bottom)
    assert "--config" in screen.find_element("id", "viewer-reproduce").text
    # The owner's command: no --config and no -o.
    from selenium.webdriver.support.ui import Select
    Select(screen.find_element("id", "run-as")).select_by_value("owner")
    owner = screen.find_element("id", "viewer-reproduce").text
    assert "--config" not in owner and " -o " not in owner
    Select(screen.find_element("id", "run-as")).select_by_value("member")
    screen.find_element("id", "viewer-zoom").click()
    assert "actual" in screen.find_element("id", "viewer").get_attribute("class")
    screen.find_element("id", "viewer-zoom").click()
    shoot(screen, "gallery-viewer.png")
    ActionChains(screen).send_keys(Keys.ESCAPE).perform()
    assert wait_for(lambda: screen.find_element("id", "viewer").get_attribute("open") is None)


def test_two_images_compare_at_one_scale_with_differences_marked(sixty, screen):
    open_page(screen, (sixty / "gallery" / "index.html").as_uri())
    js_click(screen, "#cards .tile .pick input", 0)
    js_click(screen, "#cards .tile .pick input", 1)
    assert "2 of at most 4" in screen.find_element("id", "compare-count").text
    screen.find_element("id", "compare-open").click()
    assert wait_for(lambda: screen.find_element("id", "compare").get_attribute("open"))
    scales = screen.execute_script(
        "const ims = RVG.matches().slice(0, 2);"
        "return [...document.querySelectorAll('#compare-images img')]"
        ".map((img, i) => parseFloat(img.style.width) / ims[i].w)")
    assert len(scales) == 2 and abs(scales[0] - scales[1]) < 0.01, scales
    rows = screen.execute_script(
        "return [...document.querySelectorAll('#compare-table tr')]"
        ".map(r => [r.firstChild.firstChild.textContent, r.className])")
    marked = dict(rows)
    assert marked["seed"] == "differs" and marked["size"] == "differs"
    assert marked["iterations"] == "same" and marked["model set"] == "same"
    shoot(screen, "gallery-compare.png")


def test_favourites_survive_a_reload_and_can_be_exported(sixty, screen):
    open_page(screen, (sixty / "gallery" / "index.html").as_uri())
    ids = screen.execute_script("return RVG.matches().map(m => m.id)")
    js_click(screen, "#cards .tile .fav", 3)
    js_click(screen, "#cards .tile .fav", 5)
    screen.refresh()
    assert wait_for(lambda: screen.execute_script(
        "return [...document.querySelectorAll('.tile.is-fav')].map(t => t.dataset.id)")
        == [ids[3], ids[5]])
    screen.find_element("id", "filter-fav").click()
    assert wait_for(lambda: len(visible_prompts(screen)) == 2)
    assert "fav=1" in screen.current_url
    screen.find_element("id", "export-fav").click()
    exported = screen.downloads / "favourites.txt"
    assert wait_for(lambda: exported.exists() and exported.read_text().strip())
    assert sorted(exported.read_text().split()) == sorted([ids[3], ids[5]])


def test_search_is_accent_insensitive_and_kept_in_the_address(sixty, screen):
    open_page(screen, (sixty / "gallery" / "index.html").as_uri())
    screen.find_element("id", "search").send_keys("cafe")
    assert wait_for(lambda: visible_prompts(screen) == [CAFE])
    assert "q=cafe" in screen.current_url
    screen.refresh()
    assert wait_for(lambda: visible_prompts(screen) == [CAFE])
    assert screen.find_element("id", "search").get_attribute("value") == "cafe"
    # Task, file name, seed and member are searched too ("chloe" finds chloé's).
    for words, expected in (("task_picture09", 1), ("picture10_1", 1), ("1011", 1),
                            ("chloe", 15)):
        box = screen.find_element("id", "search")
        box.clear()
        box.send_keys(words)
        assert wait_for(lambda n=expected: len(visible_prompts(screen)) == n), words


def test_image_links_react_to_hash_changes(sixty, screen):
    index = (sixty / "gallery" / "index.html").as_uri()
    open_page(screen, index)
    screen.execute_script("location.hash = '#image=' + encodeURIComponent('bob/picture05_1.png')")
    assert wait_for(lambda: screen.find_element("id", "viewer-title").text ==
                    "bob/picture05_1.png")
    screen.execute_script("location.hash = '#image=alice%2Fnot-there_1.png'")
    notice = screen.find_element("id", "notice")
    assert wait_for(lambda: "no image" in notice.text and "not-there_1.png" in notice.text)
    assert screen.find_element("id", "viewer").get_attribute("open") is None
    # On a member's page, another member's image is named with a link to All images.
    screen.get((sixty / "gallery" / "folder-alice.html").as_uri())
    screen.execute_script("location.hash = '#image=bob%2Fpicture05_1.png'")
    assert wait_for(lambda: "not on this page" in screen.find_element("id", "notice").text)


FORM_CASES = [
    # (fields typed into the form, whether `validate` accepts the file they make)
    ({"text": CAFE, "out_file": "cafe"}, True),
    ({"text": "A robot", "out_file": "robot", "style": "\nBanksy", "each": "2", "seed": "7",
      "res_w": "64", "res_h": "48", "raw": "-cuts 2", "iterations": "3"}, True),
    ({"text": "A robot", "out_file": "robot", "seed": "-1"}, False),
    ({"text": "A robot", "out_file": "robot", "iterations": "0"}, False),
    ({"text": "A robot", "out_file": "a/b"}, False),
    ({"text": "A robot", "out_file": ".hidden"}, False),
    ({"text": "", "out_file": "robot"}, False),
    ({"text": "A robot", "out_file": "robot", "style": "a:b"}, False),
    ({"text": "A robot", "out_file": "robot", "res_w": "8", "res_h": "300"}, False),
    ({"text": "A robot", "out_file": "robot", "each": "1.5"}, False),
    ({"text": "A robot", "out_file": "robot", "out_folder": "../elsewhere"}, False),
]


def test_the_task_form_checks_as_validate_does_and_downloads_a_valid_file(sixty, screen):
    index = (sixty / "gallery" / "index.html").as_uri()
    open_page(screen, index)
    env = {k: v for k, v in os.environ.items() if k != "RUNVQGAN_ROOT"}

    def validate(path: Path) -> bool:
        return subprocess.run([runvqgan(), "validate", "--root", sixty, path], env=env,
                              capture_output=True).returncode == 0

    screen.find_element("id", "new-task").click()
    for fields, accepted in FORM_CASES:
        verdict = screen.execute_script(
            "const f = document.getElementById('task-fields'); f.reset();"
            "for (const [k, v] of Object.entries(arguments[0])) f.elements[k].value = v;"
            "f.dispatchEvent(new Event('input'));"
            "return [document.getElementById('task-form').classList.contains('is-valid'),"
            " document.getElementById('form-preview').textContent]", fields)
        task = sixty / "alice" / "task_formcase.txt"
        task.write_text(verdict[1])
        assert verdict[0] == accepted == validate(task), (fields, verdict)
        task.unlink()
        if not accepted:
            assert screen.find_elements("css selector", "#task-fields label.invalid")
    assert len(screen.find_elements("css selector", "#form-night li")) >= 5
    # Prefilled from an image, then saved: the downloaded file passes `runvqgan validate`.
    screen.find_element("css selector", "#task-form #form-close").click()
    screen.execute_script("RVG.form.open(RVG.matches()[0])")
    assert screen.find_element("name", "out_file").get_attribute("value").startswith("picture")
    assert "is-valid" in screen.find_element("id", "task-form").get_attribute("class")
    name = screen.find_element("id", "form-download").get_attribute("download")
    screen.find_element("id", "form-download").click()
    saved = screen.downloads / name
    assert wait_for(lambda: saved.exists() and saved.read_text().strip().endswith("}"))
    copy = sixty / "alice" / name
    copy.write_bytes(saved.read_bytes())
    assert validate(copy), copy.read_text()
    copy.unlink()
    screen.find_element("name", "seed").clear()
    screen.find_element("name", "seed").send_keys("-3")
    shoot(screen, "gallery-form.png")
