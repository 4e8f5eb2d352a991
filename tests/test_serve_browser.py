"""The web page in headless Chromium (Playwright) against a real `t2mgpt serve` server.

Needs the `playwright` Python package and Debian's `chromium` at /usr/bin/chromium (never
`playwright install`). Without them the test is skipped, or fails when CI is set.
Set T2MGPT_WEB_SCREENSHOT=docs/images/web.png to refresh the documentation screenshot.
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from helpers import live_server
from tiny_model import make_tiny_model_dir

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run"]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def _missing(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (required in CI)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def sync_playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed (pip install playwright; do not run playwright install)")
    if not CHROMIUM.is_file():
        _missing(f"{CHROMIUM} not found (apt-get install -y chromium)")
    return sync_playwright


@pytest.fixture(scope="module")
def server(tmp_path_factory, sync_playwright):
    """A real uvicorn server with the tiny model on 127.0.0.1 and a free port."""
    from t2mgpt.serve import create_app

    app = create_app(make_tiny_model_dir(tmp_path_factory.mktemp("web") / "tiny"), device="cpu")
    with live_server(app) as url:
        yield url


def _wait(page, expr: str, timeout: float = 45_000):
    # arrow functions: string expressions would need eval, which the page's CSP forbids
    page.wait_for_function(f"() => {expr}", timeout=timeout)


def _state(page) -> dict:
    return page.evaluate("() => ({...window.__t2mgpt.state})")


def test_page_generates_plays_and_downloads(server, sync_playwright, tmp_path):
    from bvh import Bvh
    from PIL import Image

    external, errors = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 760}, accept_downloads=True)

            def guard(route):
                if urlparse(route.request.url).hostname in LOCAL_HOSTS:
                    route.continue_()
                else:
                    external.append(route.request.url)
                    route.abort()

            context.route("**/*", guard)
            page = context.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server + "/")
            _wait(page, "window.__t2mgpt && window.__t2mgpt.state.ready")
            assert _state(page)["webgl"], "WebGL is not available in this Chromium"
            assert page.locator("#examples .example").count() >= 4

            # a blank prompt is refused inline, without a request
            page.fill("#prompt", "   ")
            page.click("#generate")
            assert "Describe a motion" in page.locator("#error").inner_text()

            # generate: example chip fills the prompt, 3 samples, fixed seed
            page.locator("#examples .example", has_text="jumps forward").click()
            assert page.input_value("#prompt") == "a person jumps forward"
            page.click("#samples button:has-text('3')")
            page.fill("#seed", "7")
            page.click("#generate")
            _wait(page, "window.__t2mgpt.state.samples === 3")
            assert page.locator("#error").is_hidden()
            st = _state(page)
            assert st["text"] == "a person jumps forward" and st["numFrames"] == 80 and st["fps"] == 20
            assert page.locator("#tabs .tab").count() == 3

            # the animation plays: the frame advances, the scrubber follows
            f0 = st["frame"]
            _wait(page, f"window.__t2mgpt.state.frame >= {f0 + 4} || window.__t2mgpt.state.frame < {f0}")
            assert _state(page)["playing"]
            assert int(page.input_value("#scrub")) > 0

            # space pauses (the frame stops); the rest runs paused (software WebGL is slow)
            page.keyboard.press("Space")
            paused = _state(page)
            assert not paused["playing"]
            page.wait_for_timeout(300)
            assert _state(page)["frame"] == paused["frame"]
            page.keyboard.press("ArrowRight")
            assert _state(page)["frame"] == min(paused["frame"] + 1, 79)
            page.select_option("#speed", "2")
            assert _state(page)["speed"] == 2

            # the canvas shows the skeletons: many non-background pixels, left (blue) and right (red) limbs
            shot = np.asarray(Image.open(io.BytesIO(page.locator("#canvas").screenshot())).convert("RGB")).astype(int)
            r, g, b = shot[..., 0], shot[..., 1], shot[..., 2]
            background = np.median(shot.reshape(-1, 3), axis=0)
            assert (np.abs(shot - background).sum(-1) > 60).mean() > 0.01
            assert ((r > 150) & (g < 90) & (b < 90)).sum() > 50, "no right-side (red) bones drawn"
            assert ((b > 150) & (r < 90)).sum() > 50, "no left-side (blue) bones drawn"

            # download the BVH of sample 2
            page.locator("#tabs .tab").nth(1).click()
            assert _state(page)["sample"] == 1 and not _state(page)["playing"]
            sample2 = page.evaluate("() => window.__t2mgpt.response.samples[1]")
            assert page.get_attribute("#dl-bvh", "href") == sample2["downloads"]["bvh"]
            with page.expect_download() as info:
                page.click("#dl-bvh")
            download = info.value
            assert download.suggested_filename == "a_person_jumps_forward_1.bvh"
            mocap = Bvh(Path(download.path()).read_text())
            assert mocap.nframes == 80 and len(mocap.get_joints_names()) == 22

            # the MP4 (rendered on demand) arrives as a download through the page's fetch
            page.locator("#tabs .tab").nth(0).click()
            with page.expect_download(timeout=60_000) as info:
                page.click("#dl-mp4")
            video = info.value
            assert video.suggested_filename == "a_person_jumps_forward_0.mp4"
            assert Path(video.path()).read_bytes()[4:8] == b"ftyp"
            _wait(page, "!document.getElementById('dl-mp4').classList.contains('busy')")

            # the skinned character of each sample's GLB download in place of the sticks
            page.check("#character")
            _wait(page, "window.__t2mgpt.state.charactersLoaded === 3")
            page.wait_for_timeout(300)
            assert _state(page)["character"]
            shot = np.asarray(Image.open(io.BytesIO(page.locator("#canvas").screenshot())).convert("RGB")).astype(int)
            r, g, b = shot[..., 0], shot[..., 1], shot[..., 2]
            assert (np.abs(shot - background).sum(-1) > 60).mean() > 0.01
            assert ((r > 120) & (g < 90) & (b < 90)).sum() > 50, "no right-side (red) character limbs drawn"
            assert ((b > 120) & (r < 90)).sum() > 50, "no left-side (blue) character limbs drawn"
            page.uncheck("#character")
            assert not _state(page)["character"]

            # the documentation screenshot: sample 1 selected, paused mid-motion
            page.select_option("#speed", "1")
            page.evaluate("() => { const s = document.getElementById('scrub'); s.value = '34'; "
                          "s.dispatchEvent(new Event('input')); }")
            page.mouse.move(1, 1)  # no hover highlight in the picture
            page.wait_for_timeout(300)
            assert _state(page)["frame"] == 34
            target = os.environ.get("T2MGPT_WEB_SCREENSHOT") or str(tmp_path / "web.png")
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=target)
            assert Image.open(target).size == (1280, 760)
            assert errors == [], errors

            # a request the server refuses is explained inline
            page.click(".advanced summary")
            page.fill("#top-p", "5")
            page.click("#generate")
            _wait(page, "window.__t2mgpt.state.error !== null && !window.__t2mgpt.state.generating")
            assert "top_p" in page.locator("#error").inner_text()
        finally:
            browser.close()
    assert external == [], f"the page asked for non-local URLs: {external}"
    unexpected = [e for e in errors if "422" not in e]
    assert unexpected == [], unexpected


def test_timeline_editor_composes_marks_boundaries_and_continues(server, sync_playwright, tmp_path):
    """Issue 15.7: add / reorder / remove segments, compose, boundaries on the scrubber, continue."""
    errors = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server + "/")
            _wait(page, "window.__t2mgpt && window.__t2mgpt.state.ready")
            page.click("#timeline-box summary")
            assert page.locator("#segments .segment").count() == 2
            page.click("#add-segment")
            rows = page.locator("#segments .segment")
            assert rows.count() == 3
            rows.nth(2).locator("input[type=text]").fill("a person jumps")
            rows.nth(2).locator("input[type=number]").fill("2")
            rows.nth(2).locator("button[title='Move up']").click()  # now second
            assert page.locator("#segments .segment").nth(1).locator("input[type=text]").input_value() == "a person jumps"
            page.locator("#segments .segment").nth(2).locator("button[title='Remove segment']").click()
            assert page.locator("#segments .segment").count() == 2
            page.fill("#seed", "3")
            page.click("#compose")
            _wait(page, "window.__t2mgpt.response && window.__t2mgpt.response.samples[0].segments.length === 2")
            sample = page.evaluate("() => window.__t2mgpt.response.samples[0]")
            assert [s["text"] for s in sample["segments"]] == ["a person walks forward", "a person jumps"]
            assert sample["num_frames"] == 120 and page.locator("#marks .mark").count() == 1
            left = page.locator("#marks .mark").first.evaluate("m => m.style.left")
            assert abs(float(left.rstrip("%")) - 100 * 80 / 119) < 0.5
            if os.environ.get("T2MGPT_TIMELINE_SCREENSHOT"):
                page.screenshot(path=os.environ["T2MGPT_TIMELINE_SCREENSHOT"])
            # continue from this motion with the prompt box's text and length
            page.fill("#prompt", "a person sits down")
            page.click("#continue")
            _wait(page, "window.__t2mgpt.response && window.__t2mgpt.response.samples[0].num_frames === 200")
            cont = page.evaluate("() => window.__t2mgpt.response.samples[0]")
            assert cont["joints"][:120] == sample["joints"] and len(cont["segments"]) == 3
            assert page.locator("#marks .mark").count() == 2 and page.locator("#error").is_hidden()
        finally:
            browser.close()
    assert not errors, errors
