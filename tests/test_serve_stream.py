"""POST /api/stream against a live uvicorn server on 127.0.0.1, read with a real HTTP client
(httpx, streaming): server-sent events of the frames as they are decoded, the same motion as
/api/generate, the same validation and limits, and a client that leaves stops the decoding."""
from __future__ import annotations

import json
import io
import time

import httpx
import numpy as np
import pytest
from helpers import live_server
from tiny_model import make_tiny_model_dir

from t2mgpt import T2MGPT

BODY = {"text": "a person walks forward", "seconds": 6.0, "seed": 11, "num_samples": 2}


class Slow:
    """Counts GPT steps (one forward of the output head each) and can slow them down."""

    def __init__(self):
        self.steps, self.delay = 0, 0.0

    def __call__(self, module, args, out):
        self.steps += 1
        if self.delay:
            time.sleep(self.delay)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    from t2mgpt.serve import create_app

    pipe = T2MGPT.from_pretrained(make_tiny_model_dir(tmp_path_factory.mktemp("web") / "tiny"), device="cpu")
    slow = Slow()
    pipe.gpt.head.register_forward_hook(slow)
    with live_server(create_app(pipe)) as url:
        yield url, slow


def events(response: httpx.Response):
    """(name, data) of a text/event-stream response, as they arrive."""
    name = None
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[len("event: "):]
        elif line.startswith("data: "):
            yield name, json.loads(line[len("data: "):])


def test_stream_sends_the_frames_of_the_generated_motion(live):
    url, _ = live
    with httpx.Client(base_url=url, timeout=60) as client:
        with client.stream("POST", "/api/stream", json=BODY) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            got = list(events(r))
        want = client.post("/api/generate", json=BODY).json()
        names = [n for n, _ in got]
        assert names[0] == "start" and names[-1] == "done" and "error" not in names
        assert got[0][1]["seed"] == 11 and got[0][1]["num_samples"] == 2 and got[0][1]["fps"] == 20
        for k, sample in enumerate(want["samples"]):
            frames = [d for n, d in got if n == "frames" and d["sample"] == k]
            assert len(frames) >= 2  # streamed in pieces, not in one go
            assert [f["start"] for f in frames] == list(np.cumsum([0] + [len(f["joints"]) for f in frames[:-1]]))
            assert frames[-1]["final"] and not any(f["final"] for f in frames[:-1])
            joints = np.concatenate([np.asarray(f["joints"]) for f in frames])
            assert joints.shape == (120, 22, 3)
            assert np.abs(joints - np.asarray(sample["joints"])).max() <= 1e-3 + 1e-9  # 1 mm (both rounded to mm)
            (done,) = [d for n, d in got if n == "sample" and d["index"] == k]
            assert done["seed"] == sample["seed"] == 11 + k and done["tokens"] == sample["tokens"]
            npy = client.get(done["downloads"]["npy"])  # the streamed motion is stored for download
            assert npy.status_code == 200
            stored = np.load(io.BytesIO(npy.content))
            assert np.abs(stored - joints).max() <= 5e-4 + 1e-6


@pytest.mark.parametrize("body", [{"text": "  "}, {"text": "walk", "seconds": 10.4}, {"text": "walk", "top_p": 0},
                                  {"text": "walk", "num_samples": 9}, {"text": "walk", "seed": -1},
                                  {"text": "walk", "bogus": 1}, {"text": "walk", "temperature": 0}])
def test_invalid_requests_are_refused_before_streaming(live, body):
    url, slow = live
    before = slow.steps
    with httpx.Client(base_url=url, timeout=30) as client:
        streamed = client.post("/api/stream", json=body)
        plain = client.post("/api/generate", json=body)
    assert streamed.status_code == 422 and streamed.headers["content-type"] == "application/json"
    assert streamed.json() == plain.json()  # the same validation and messages as /api/generate
    assert slow.steps == before


def test_body_limit_and_host_check_apply(live):
    url, _ = live
    with httpx.Client(base_url=url, timeout=30) as client:
        big = client.post("/api/stream", content=b'{"text": "' + b"a" * 70_000 + b'"}',
                          headers={"content-type": "application/json"})
        assert big.status_code == 413
        rebound = client.post("/api/stream", json=BODY, headers={"host": "evil.example:80"})
        assert rebound.status_code == 400 and "DNS rebinding" in rebound.json()["detail"]


def test_a_client_that_leaves_stops_the_decoding(live):
    url, slow = live
    slow.delay = 0.1  # 50 codes would take 5 s
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            body = {"text": "a person jumps", "seconds": 10.0, "seed": 1}
            with client.stream("POST", "/api/stream", json=body) as r:
                for name, data in events(r):
                    if name == "frames":
                        break  # and close the connection
            at_close = slow.steps
            deadline = time.monotonic() + 10
            while client.get("/api/health").json()["queue"]["running"]:
                assert time.monotonic() < deadline, "the decoding went on after the client left"
                time.sleep(0.05)
            time.sleep(0.3)
            stopped = slow.steps
            assert stopped - at_close <= 12  # a few steps until the server noticed; not the ~25 left
            time.sleep(0.5)
            assert slow.steps == stopped
            # and the server streams the next request normally
            slow.delay = 0.0
            with client.stream("POST", "/api/stream", json={"text": "a person jumps", "seconds": 1.0}) as r:
                assert [n for n, _ in events(r)][-1] == "done"
    finally:
        slow.delay = 0.0
