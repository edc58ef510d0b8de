"""The app in a real browser: Debian's chromium driven by Playwright for Python.

Each test opens the served app, goes to a tab, uploads an example (or draws on the
sketchpad), presses the button, waits for the result and checks what a person would see: the
label's text, an output picture that is not blank. Every tab is screenshotted into the test's
temporary folder and, when ``ZOO_SCREENSHOTS`` names a folder (``ZOO_SCREENSHOTS=docs/demos``),
there too, for the README.

Needs ``/usr/bin/chromium`` (``apt-get install chromium``; ``ZOO_CHROMIUM`` points elsewhere)
and the ``playwright`` package; Playwright's own browser download is never used. Without
either, the tests are skipped with the reason.
"""

from __future__ import annotations

import importlib.util
import io
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from demos import app, common
from tests.demos.conftest import EXAMPLES

CHROMIUM = os.environ.get("ZOO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]
_MISSING = ("playwright is not installed (pip install playwright)"
            if importlib.util.find_spec("playwright") is None else
            f"no chromium at {CHROMIUM} (apt-get install chromium, or set ZOO_CHROMIUM)"
            if not Path(CHROMIUM).is_file() else None)
pytestmark = [pytest.mark.browser, pytest.mark.skipif(_MISSING is not None, reason=_MISSING or "")]

TIMEOUT_MS = 60_000      # a first request loads and compiles its model on a busy CPU


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(app_url, wait_until="networkidle")
    page.get_by_role("tab", name="Classify").wait_for()
    yield page
    context.close()
    assert not errors, f"script errors in the page: {errors}"


def screenshot(page, tmp_path: Path, name: str) -> Path:
    """The whole page as ``<name>.png`` in the test's temp dir (and in $ZOO_SCREENSHOTS)."""
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    target = os.environ.get("ZOO_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(target) / path.name)
    return path


def upload(page, elem_id: str, path: Path) -> None:
    """Sets the file of an upload box and waits until its preview shows the new picture."""
    previews = page.locator(f"#{elem_id} img")
    before = previews.first.get_attribute("src") if previews.count() else None
    page.locator(f"#{elem_id} input[type=file]").set_input_files(str(path))
    page.wait_for_function(
        "([id, before]) => { const img = document.querySelector('#' + id + ' img');"
        " return img && img.src && img.src !== before; }", arg=[elem_id, before])


def expect_text(page, elem_id: str, text: str) -> None:
    from playwright.sync_api import expect

    expect(page.locator(f"#{elem_id}")).to_contain_text(text, timeout=TIMEOUT_MS)


def shown_image(page, elem_id: str) -> np.ndarray:
    """The output picture as the browser draws it; fails when it is missing or blank."""
    image = page.locator(f"#{elem_id} img").first
    image.wait_for()
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0",
                           arg=image.element_handle())
    pixels = np.asarray(Image.open(io.BytesIO(image.screenshot())).convert("RGB"))
    assert pixels.std() > 8, f"the picture in #{elem_id} is blank"
    return pixels


def open_tab(page, title: str) -> None:
    page.get_by_role("tab", name=title).click()


def needs(key: str):
    return pytest.mark.skipif(not common.available(key), reason=f"no {key} weights here")


def test_every_tab_is_there(page):
    assert page.get_by_role("tab").all_inner_texts()[:len(app.TABS)] == [t for t, _ in app.TABS]


def test_classify_draw_and_upload(page, tmp_path):
    pad = page.locator("#classify-sketch")
    pad.get_by_role("button", name="Brush").click()
    box = pad.locator("canvas").first.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx - 45, cy - 70)                            # a 7: the bar, then the stem
    page.mouse.down()
    for i in range(1, 11):
        page.mouse.move(cx - 45 + 9 * i, cy - 70)
    for i in range(1, 15):
        page.mouse.move(cx + 45 - 4 * i, cy - 70 + 10 * i)
    page.mouse.up()
    page.locator("#classify-sketch-button").click()
    expect_text(page, "classify-sketch-label", "%")
    heading = page.locator("#classify-sketch-label").inner_text().split()
    assert heading[heading.index("says") + 1] == "7"               # LeNet-5 says 7

    upload(page, "classify-image", EXAMPLES / "cifar10" / "cat.jpg")
    page.locator("#classify-image-button").click()
    expect_text(page, "classify-image-label", "cat")
    assert "dog" in page.locator("#classify-image-label").inner_text()   # the top 5 shown
    screenshot(page, tmp_path, "classify")


def test_verify_two_faces(page, tmp_path):
    open_tab(page, "Verify")
    upload(page, "verify-a", EXAMPLES / "faces" / "s35_1.png")
    upload(page, "verify-b", EXAMPLES / "faces" / "s35_2.png")
    page.locator("#verify-button").click()
    expect_text(page, "verify-verdict", "Same person")
    expect_text(page, "verify-details", "L2 distance")
    shown_image(page, "verify-picture")
    screenshot(page, tmp_path, "verify")


def run_example(page, tab: str, slug: str, example: Path, text_id: str,
                text: str) -> np.ndarray:
    """Opens ``tab``, uploads ``example`` into ``#<slug>-image``, presses ``#<slug>-button``,
    waits for ``text`` in ``#<text_id>``; returns the picture in ``#<slug>-output``."""
    open_tab(page, tab)
    upload(page, f"{slug}-image", example)
    page.locator(f"#{slug}-button").click()
    expect_text(page, text_id, text)
    return shown_image(page, f"{slug}-output")


@needs("unet.membrane")
def test_segment_the_synthetic_em_picture(page, tmp_path):
    run_example(page, "Segment", "segment", EXAMPLES / "membrane" / "synthetic_em.png",
                "segment-areas", "membrane")
    screenshot(page, tmp_path, "segment")


@needs("eigen_depth.scenes")
def test_depth_of_a_rendered_room(page, tmp_path):
    pixels = run_example(page, "Depth", "depth", EXAMPLES / "scenes" / "scene_1.png",
                         "depth-summary", "nearest")
    assert pixels.shape[1] > 2 * pixels.shape[0]                   # photo | depth | bar
    screenshot(page, tmp_path, "depth")


def test_detect_boxes_table_and_a_slider(page, tmp_path, forward_passes):
    """Boxes, table and NMS picture for a BCCD example; moving the score slider decodes the
    kept outputs again (no second forward pass) and the summary follows the slider."""
    run_example(page, "Detect", "detect", EXAMPLES / "bccd" / "JPEGImages" /
                "BloodImage_00057.jpg", "detect-summary", "NMS kept")
    shown_image(page, "detect-nms")
    expect_text(page, "detect-table", "x1")
    words = page.locator("#detect-table").inner_text().split()
    first = words[words.index("y2") + 1:][:2]                     # the best box: class, score
    if "No detections" not in page.locator("#detect-summary").inner_text():
        assert first[0] in ("RBC", "WBC", "Platelets") and 0.3 <= float(first[1]) <= 1
    screenshot(page, tmp_path, "detect")

    page.locator("#detect-score").scroll_into_view_if_needed()
    slider = page.locator("#detect-score input[type=range]").bounding_box()
    page.mouse.click(slider["x"] + 0.85 * slider["width"], slider["y"] + slider["height"] / 2)
    value = float(page.locator("#detect-score input[type=number]").input_value())
    assert value > 0.5
    expect_text(page, "detect-summary", f"score >= {value:.2f}")
    shown_image(page, "detect-output")
    assert forward_passes == [1]                                  # the slider: decoding only


def test_look_inside_feature_maps_and_convolution(page, tmp_path):
    open_tab(page, "Look inside")
    page.locator("#inside-model input").click()
    page.get_by_role("option", name="ResNet-20 (CIFAR-10)").click()
    page.wait_for_function(
        "() => document.querySelector('#inside-layer input').value === 'conv1_conv'")
    upload(page, "inside-image", EXAMPLES / "cifar10" / "cat.jpg")
    page.locator("#inside-maps-button").click()
    expect_text(page, "inside-maps-caption", "conv1_conv")
    shown_image(page, "inside-maps")
    screenshot(page, tmp_path, "inside_maps")

    upload(page, "inside-image", EXAMPLES / "scenes" / "scene_2.png")
    page.get_by_role("tab", name="Convolution playground").click()
    page.get_by_label("Sobel magnitude").check()
    page.locator("#inside-conv-button").click()
    expect_text(page, "inside-conv-caption", "Sobel magnitude")
    shown_image(page, "inside-filtered")
    screenshot(page, tmp_path, "inside_convolution")


def test_a_bad_upload_shows_a_plain_error(page, bad_files):
    upload_input = page.locator("#classify-image input[type=file]")
    upload_input.set_input_files(str(bad_files["truncated"]))
    page.locator("#classify-image-button").click()
    # Gradio shows a gr.Error as a toast with the message
    page.get_by_text("is truncated or corrupt").first.wait_for()
