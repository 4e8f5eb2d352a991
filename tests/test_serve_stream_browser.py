"""The web page plays a motion while it is still being decoded (POST /api/stream), in headless
Chromium (Playwright, Debian's /usr/bin/chromium; see test_serve_browser.py) against a live
server whose GPT is slowed down so that the stream visibly takes seconds."""
from __future__ import annotations

import io
import os
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from helpers import live_server
from test_serve_browser import ARGS, CHROMIUM, _state, _wait, sync_playwright  # noqa: F401 (fixture)
from tiny_model import make_tiny_model_dir

from t2mgpt import T2MGPT

BODY = {"text": "a person walks forward", "seconds": 10.0, "seed": 3, "num_samples": 1, "temperature": 1.0}


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory, sync_playwright):  # noqa: F811
    from t2mgpt.serve import create_app

    pipe = T2MGPT.from_pretrained(make_tiny_model_dir(tmp_path_factory.mktemp("web") / "tiny"), device="cpu")
    pipe.gpt.head.register_forward_hook(lambda *a: time.sleep(0.12))  # 50 codes take 6 s
    with live_server(create_app(pipe)) as url:
        yield url


def test_the_viewer_plays_the_first_chunk_while_the_rest_is_decoded(slow_server, sync_playwright, tmp_path):  # noqa: F811
    from PIL import Image

    errors = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 760})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(slow_server + "/")
            _wait(page, "window.__t2mgpt && window.__t2mgpt.state.ready")
            page.fill("#prompt", BODY["text"])
            page.evaluate("() => { const s = document.getElementById('seconds'); s.value = '10'; "
                          "s.dispatchEvent(new Event('input')); }")
            page.fill("#seed", "3")
            page.click("#generate")
            # playing while frames are still arriving: fewer frames than the 200 asked for
            early = page.wait_for_function(  # the state at that moment
                "() => { const s = window.__t2mgpt.state; return s.frame > 0 && s.streaming && {...s}; }",
                timeout=30_000).json_value()
            assert early["playing"] and early["generating"] and 0 < early["numFrames"] < 200
            assert early["firstFrameMs"] is not None
            assert page.locator("#busy").is_hidden()  # no spinner over the figure once it plays
            assert page.get_attribute("#dl-bvh", "aria-disabled") == "true"  # files come with the last frame
            target = os.environ.get("T2MGPT_WEB_STREAM_SCREENSHOT") or str(tmp_path / "stream.png")
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=target)
            shot = np.asarray(Image.open(target).convert("RGB")).astype(int)
            assert (np.abs(shot - np.median(shot.reshape(-1, 3), axis=0)).sum(-1) > 60).mean() > 0.01

            # the whole motion arrives; it is the one /api/generate makes for the same request
            _wait(page, "!window.__t2mgpt.state.generating", timeout=60_000)
            done = _state(page)
            assert done["numFrames"] == 200 and not done["streaming"] and done["error"] is None
            streamed = np.asarray(page.evaluate("() => window.__t2mgpt.response.samples[0].joints"))
            want = httpx.post(slow_server + "/api/generate", json=BODY, timeout=60).json()["samples"][0]
            assert np.abs(streamed - np.asarray(want["joints"])).max() <= 1e-3 + 1e-9
            href = page.get_attribute("#dl-npy", "href")
            npy = np.load(io.BytesIO(httpx.get(slow_server + href, timeout=30).content))
            assert npy.shape == (200, 22, 3)
            assert page.get_attribute("#dl-bvh", "aria-disabled") is None
        finally:
            browser.close()
    assert errors == [], errors
