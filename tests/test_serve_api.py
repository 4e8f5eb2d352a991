"""The web API (t2mgpt.serve) with the tiny model: generation, validation, queue, store, downloads."""
from __future__ import annotations

import asyncio
import io
import json
import re
import threading
import time

import httpx
import imageio.v2 as imageio
import numpy as np
import pytest
from bvh import Bvh
from fastapi.testclient import TestClient
from tiny_model import make_tiny_model_dir

from t2mgpt import cli
from t2mgpt.commands.serve import is_loopback
from t2mgpt.pipeline import T2MGPT
from t2mgpt.serve import create_app

LOCAL = "http://127.0.0.1"  # a Host name the server answers to (see test_host_header_is_checked)
SAFE_FILENAME = re.compile(r'^attachment; filename="[a-z0-9_-]+_\d+\.(bvh|npy|mp4|json)"$')


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    folder = make_tiny_model_dir(tmp_path_factory.mktemp("serve") / "tiny")
    return T2MGPT.from_pretrained(folder, device="cpu")


@pytest.fixture(scope="module")
def client(pipe):
    with TestClient(create_app(pipe, max_results=16), base_url=LOCAL) as c:
        yield c


@pytest.fixture(scope="module")
def generated(client):
    """One 2 s motion whose downloads several tests check."""
    r = client.post("/api/generate", json={"text": "a person jumps forward", "seconds": 2.0, "seed": 3})
    assert r.status_code == 200, r.text
    return r.json()


def _joints(sample) -> np.ndarray:
    return np.asarray(sample["joints"], dtype=np.float64)


# ------------------------------------------------------------------------------ generation


def test_a_vanishing_top_p_is_greedy_not_an_error(client, pipe):
    """Issue 13.6: top_p below float32's smallest number used to leave no code. The pipeline now
    keeps the likeliest code (greedy); the web API refuses such values with a clear 422 (the
    request limits say top_p >= 1e-6, see test_tiny_top_p_is_a_clear_422)."""
    tokens = pipe(["a person jumps"], top_p=1e-46, seed=1)[0][0].tokens.tolist()
    assert tokens == pipe(["a person jumps"], greedy=True)[0][0].tokens.tolist()
    assert client.post("/api/generate", json={"text": "a person jumps", "top_p": 1e-46, "seed": 1}).status_code == 422


def test_generate_matches_the_pipeline(client, pipe):
    r = client.post("/api/generate", json={"text": "  a person\n jumps   forward ", "num_samples": 2,
                                           "seconds": 2.0, "seed": 5, "top_k": 10, "temperature": 0.9})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["text"] == "a person jumps forward"
    assert doc["model"] == "tiny-test" and doc["skeleton"] == "humanml3d" and doc["seconds"] == 2.0
    (direct,) = pipe(["a person jumps forward"], num_samples=2, seconds=2.0, seed=5, top_k=10, temperature=0.9)
    assert [s["index"] for s in doc["samples"]] == [0, 1]
    assert len({s["id"] for s in doc["samples"]}) == 2
    for s, m in zip(doc["samples"], direct):
        j = _joints(s)
        assert j.shape == (40, 22, 3)
        assert s["num_frames"] == 40 and s["fps"] == 20.0 and s["duration"] == 2.0
        assert s["seed"] == m.seed and s["tokens"] == m.tokens.tolist() and len(s["tokens"]) == 10
        # rounded to millimetres, and the same motion as the pipeline makes with that seed
        np.testing.assert_allclose(j * 1000, np.round(j * 1000), atol=1e-6)
        np.testing.assert_allclose(j, m.joints, atol=0.0005 + 1e-6)
        assert s["downloads"] == {f: f"/api/motions/{s['id']}.{f}" for f in ("bvh", "glb", "npy", "npz", "mp4", "json")}
    assert doc["samples"][0]["seed"] == 5 and doc["samples"][1]["seed"] == 6


def test_guidance_scale_reaches_the_decoding(client, pipe, monkeypatch):
    """The tiny model ignores its text, so guidance cannot change its codes: check what the GPT is asked."""
    seen, generate = [], pipe.gpt.generate

    def spy(*args, **kwargs):
        seen.append(kwargs.get("guidance_scale"))
        return generate(*args, **kwargs)

    monkeypatch.setattr(pipe.gpt, "generate", spy)
    body = {"text": "a person jumps forward", "seconds": 2.0, "seed": 5, "guidance_scale": 2.5}
    assert client.post("/api/generate", json=body).status_code == 200
    assert client.post("/api/generate", json={**body, "guidance_scale": 1}).status_code == 200
    assert seen == [2.5, 1.0]


def test_a_repeated_prompt_is_not_encoded_again(client, pipe, monkeypatch):
    encoded = []
    encode = pipe.text_encoder.encode
    monkeypatch.setattr(pipe.text_encoder, "encode", lambda texts: encoded.append(list(texts)) or encode(texts))
    body = {"text": "a person waves twice with the left hand", "seconds": 1.0}
    first = client.post("/api/generate", json={**body, "seed": 1})
    again = client.post("/api/generate", json={**body, "seed": 2})
    other = client.post("/api/generate", json={"text": "a person sits down on a low stool", "seconds": 1.0,
                                               "seed": 1})
    assert first.status_code == again.status_code == other.status_code == 200
    assert encoded == [["a person waves twice with the left hand"], ["a person sits down on a low stool"]]
    # the remembered features are those the encoder gives: same seed, same motion
    assert client.post("/api/generate", json={**body, "seed": 1}).json()["samples"][0]["tokens"] == \
        first.json()["samples"][0]["tokens"]


def test_control_characters_are_dropped_from_the_text(client):
    r = client.post("/api/generate", json={"text": "a person\x00 walks\x1b[31m\u0085 fast", "seconds": 0.4})
    assert r.status_code == 200 and r.json()["text"] == "a person walks [31m fast"


def test_generate_without_seed_reports_a_reproducing_seed(client):
    r = client.post("/api/generate", json={"text": "a person waves", "seconds": 1.0})
    assert r.status_code == 200
    s = r.json()["samples"][0]
    again = client.post("/api/generate", json={"text": "a person waves", "seconds": 1.0, "seed": s["seed"]}).json()
    assert again["samples"][0]["joints"] == s["joints"]


def test_generate_lets_the_model_choose_the_length(client):
    r = client.post("/api/generate", json={"text": "a person walks", "seed": 0, "seconds": None})
    assert r.status_code == 200
    s = r.json()["samples"][0]
    assert s["num_frames"] == 4 * len(s["tokens"]) and 4 <= s["num_frames"] <= 200
    assert r.json()["seconds"] is None


# ------------------------------------------------------------------------------ validation

INVALID = [
    {},
    {"text": ""},
    {"text": "   \n\t  "},
    {"text": "a" * 301},
    {"text": 5},
    {"text": None},
    {"text": ["a person walks"]},
    {"text": "\x00\x07 \x1f"},
    {"text": "walk", "num_samples": 0},
    {"text": "walk", "num_samples": 9},
    {"text": "walk", "num_samples": 2.5},
    {"text": "walk", "num_samples": "many"},
    {"text": "walk", "seconds": 0},
    {"text": "walk", "seconds": -1},
    {"text": "walk", "seconds": 10.4},
    {"text": "walk", "seconds": "long"},
    {"text": "walk", "temperature": -1},
    {"text": "walk", "temperature": 0},
    {"text": "walk", "temperature": 1e6},
    {"text": "walk", "top_k": 0},
    {"text": "walk", "top_k": -3},
    {"text": "walk", "top_k": 1.5},
    {"text": "walk", "top_p": 0},
    {"text": "walk", "top_p": 1.5},
    {"text": "walk", "top_p": -0.1},
    {"text": "walk", "guidance_scale": -1},
    {"text": "walk", "guidance_scale": 11},
    {"text": "walk", "seed": -1},
    {"text": "walk", "seed": 2**31},
    {"text": "walk", "seed": 1.5},
    {"text": "walk", "bogus": 1},
]


@pytest.mark.parametrize("body", INVALID, ids=lambda b: json.dumps(b)[:40])
def test_invalid_requests_are_422(client, body):
    r = client.post("/api/generate", json=body)
    assert r.status_code == 422, r.text
    doc = r.json()
    assert isinstance(doc["detail"], list) and doc["detail"]
    assert isinstance(doc["message"], str) and doc["message"]


@pytest.mark.parametrize("raw", [
    b'{"text": "walk", "seconds": NaN}',
    b'{"text": "walk", "temperature": Infinity}',
    b'{"text": "walk", "top_p": -Infinity}',
    b'{"text": "walk",',
    b'["walk"]',
    b'"walk"',
    b'{"text": "\\ud800 walk"}',
    b'\xff\xfe not utf-8',
])
def test_malformed_bodies_are_422(client, raw):
    r = client.post("/api/generate", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["message"]


def test_error_messages_name_the_field(client):
    r = client.post("/api/generate", json={"text": "walk", "num_samples": 9})
    assert r.json()["message"].startswith("num_samples:")
    r = client.post("/api/generate", json={"text": "   "})
    assert r.json()["message"].startswith("text:")


def test_oversized_body_is_413(client):
    r = client.post("/api/generate", content=b'{"text": "' + b"a" * 70_000 + b'"}',
                    headers={"content-type": "application/json"})
    assert r.status_code == 413
    # without a Content-Length (chunked upload) the body is counted as it arrives
    chunks = iter([b'{"text": "', *[b"a" * 8192] * 10, b'"}'])
    r = client.post("/api/generate", content=chunks, headers={"content-type": "application/json"})
    assert "content-length" not in r.request.headers and r.status_code == 413
    ok = iter([b'{"text": "a person walks", ', b'"seconds": 1.0}'])
    assert client.post("/api/generate", content=ok, headers={"content-type": "application/json"}).status_code == 200


# ------------------------------------------------------------------------------ queue and store


class GatedPipeline:
    """The tiny pipeline, but each call waits until `gate` is set (a slow model)."""

    def __init__(self, pipe):
        self._pipe = pipe
        self.gate = threading.Event()

    def __getattr__(self, name):
        return getattr(self._pipe, name)

    def __call__(self, *args, **kwargs):
        assert self.gate.wait(30), "test gate never opened"
        return self._pipe(*args, **kwargs)


def test_full_queue_answers_429_with_retry_after(pipe):
    gated = GatedPipeline(pipe)
    app = create_app(gated, max_queue=1)
    q = app.state.generate_queue
    body = {"text": "a person jumps", "seconds": 0.4, "seed": 1}

    async def until(cond):
        for _ in range(500):
            if cond():
                return
            await asyncio.sleep(0.01)
        raise AssertionError("timed out")

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=LOCAL) as c:
            first = asyncio.create_task(c.post("/api/generate", json=body))
            await until(lambda: q.running == 1)
            second = asyncio.create_task(c.post("/api/generate", json=body))
            await until(lambda: q.waiting == 1)
            third = await c.post("/api/generate", json=body)
            health = (await c.get("/api/health")).json()
            gated.gate.set()
            return third, health, await first, await second

    try:
        third, health, first, second = asyncio.run(scenario())
    finally:
        gated.gate.set()
        q.close()
    assert third.status_code == 429
    assert int(third.headers["Retry-After"]) >= 1
    assert "busy" in third.json()["detail"]
    assert health["queue"] == {"running": 1, "waiting": 1, "max_waiting": 1}
    assert first.status_code == 200 and second.status_code == 200
    assert first.json()["samples"][0]["joints"] == second.json()["samples"][0]["joints"]


def test_abandoned_requests_are_dropped_from_the_queue(pipe):
    """A real server: a client that disconnects while its job waits does not cost a model run."""
    import socket

    import uvicorn

    gated = GatedPipeline(pipe)
    calls = []
    real_call = gated.__call__
    gated.__class__ = type("Counting", (GatedPipeline,), {
        "__call__": lambda self, *a, **k: (calls.append(a[0]), real_call(*a, **k))[1]})
    app = create_app(gated, max_queue=4)
    q = app.state.generate_queue
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()

    def wait_for(cond):
        for _ in range(1000):
            if cond():
                return
            time.sleep(0.01)
        raise AssertionError("timed out")

    try:
        wait_for(lambda: server.started)
        first = {}
        runner = threading.Thread(target=lambda: first.update(r=httpx.post(
            f"http://127.0.0.1:{port}/api/generate", json={"text": "first", "seconds": 0.4}, timeout=30)))
        runner.start()
        wait_for(lambda: q.running == 1)
        body = json.dumps({"text": "abandoned", "seconds": 0.4}).encode()
        with socket.create_connection(("127.0.0.1", port)) as c:
            c.sendall(b"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                      + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            wait_for(lambda: q.waiting == 1)
        wait_for(lambda: q.waiting == 0)  # dropped once the server notices the disconnect
        gated.gate.set()
        runner.join(30)
        assert first["r"].status_code == 200
        time.sleep(0.3)
        assert calls == [["first"]]
    finally:
        gated.gate.set()
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_evicted_results_are_404_with_a_clear_message(pipe):
    with TestClient(create_app(pipe, max_results=2), base_url=LOCAL) as c:
        def gen(seed):
            r = c.post("/api/generate", json={"text": "a person sits", "seconds": 0.4, "seed": seed})
            return r.json()["samples"][0]["id"]

        a, b = gen(1), gen(2)
        assert c.get(f"/api/motions/{a}.npy").status_code == 200  # a is now the most recently used
        d = gen(3)  # evicts b
        r = c.get(f"/api/motions/{b}.bvh")
        assert r.status_code == 404
        assert "no longer available" in r.json()["detail"] and "2 most recently used" in r.json()["detail"]
        assert c.get(f"/api/motions/{a}.json").status_code == 200
        assert c.get(f"/api/motions/{d}.json").status_code == 200
        assert c.get("/api/health").json()["results"] == {"stored": 2, "max": 2}
        r = c.get("/api/motions/neverexisted.bvh")
        assert r.status_code == 404 and "no motion with id" in r.json()["detail"]


# ------------------------------------------------------------------------------ downloads


def _download(client, sample, fmt):
    r = client.get(sample["downloads"][fmt])
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"] == f'attachment; filename="a_person_jumps_forward_0.{fmt}"'
    return r


def test_download_bvh_parses(client, generated):
    s = generated["samples"][0]
    r = _download(client, s, "bvh")
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    mocap = Bvh(r.text)
    assert mocap.nframes == 40
    assert mocap.frame_time == pytest.approx(0.05)
    assert len(mocap.get_joints_names()) == 22


def test_download_npy(client, generated):
    s = generated["samples"][0]
    r = _download(client, s, "npy")
    assert r.headers["content-type"] == "application/octet-stream"
    joints = np.load(io.BytesIO(r.content), allow_pickle=False)
    assert joints.shape == (40, 22, 3) and joints.dtype == np.float32
    np.testing.assert_allclose(joints, _joints(s), atol=0.0005 + 1e-6)


def test_download_mp4_decodes(client, generated, tmp_path):
    s = generated["samples"][0]
    r = _download(client, s, "mp4")
    assert r.headers["content-type"] == "video/mp4"
    path = tmp_path / "m.mp4"
    path.write_bytes(r.content)
    with imageio.get_reader(path) as reader:
        frames = [f for f in reader]
        fps = reader.get_meta_data()["fps"]
    assert len(frames) == 40 and fps == pytest.approx(20.0)
    assert frames[0].ndim == 3 and frames[0].std() > 1  # a picture, not a blank frame
    assert client.get(s["downloads"]["mp4"]).content == r.content  # cached


def test_download_json(client, generated):
    s = generated["samples"][0]
    r = _download(client, s, "json")
    assert r.headers["content-type"] == "application/json"
    doc = r.json()
    assert doc["format"] == "t2mgpt-motion" and doc["text"] == "a person jumps forward" and doc["seed"] == 3
    assert doc["joints"] == s["joints"] and doc["tokens"] == s["tokens"]


def test_download_names_are_safe(client):
    text = '../../etc/passwd "x"; rm -rf ~ \u00e9\u00f8\u4e2d\r'
    r = client.post("/api/generate", json={"text": text, "seconds": 0.4})
    s = r.json()["samples"][0]
    for fmt in ("bvh", "json"):
        cd = client.get(s["downloads"][fmt]).headers["content-disposition"]
        assert SAFE_FILENAME.match(cd), cd
    assert client.get(s["downloads"]["json"]).headers["content-disposition"] == \
        'attachment; filename="etc_passwd_x_rm_-rf_eo_0.json"'


@pytest.mark.parametrize("path,status", [
    ("/api/motions/abc.exe", 422),
    ("/api/motions/a%20b.bvh", 422),
    ("/api/motions/abc", 404),
    ("/api/motions/" + "a" * 65 + ".bvh", 422),
])
def test_bad_download_paths(client, path, status):
    assert client.get(path).status_code == status


# ------------------------------------------------------------------------------ health, info, docs


def test_health(client):
    h = client.get("/api/health").json()
    assert h["status"] == "ok" and h["model"] == "tiny-test" and h["device"] == "cpu"
    assert h["queue"]["max_waiting"] == 16 and h["queue"]["waiting"] == 0
    assert h["results"]["max"] == 16


def test_info(client):
    info = client.get("/api/info").json()
    assert info["model"]["name"] == "tiny-test" and info["model"]["fps"] == 20.0
    lim = info["limits"]
    assert lim["min_seconds"] == pytest.approx(0.2) and lim["max_seconds"] == pytest.approx(10.0)
    assert lim["max_samples"] == 8 and lim["max_text_length"] == 300
    assert "a person jumps forward" in info["examples"]
    sk = info["skeleton"]
    assert len(sk["joint_names"]) == len(sk["parents"]) == len(sk["sides"]) == len(sk["colors"]) == 22
    assert sk["sides"][sk["joint_names"].index("left_wrist")] == "left"
    assert sk["sides"][sk["joint_names"].index("right_ankle")] == "right"
    assert sk["sides"].count("left") == sk["sides"].count("right")
    assert sk["joint_names"][sk["head"]] == "head"
    assert set(info["formats"]) == {"bvh", "glb", "npy", "npz", "mp4", "json"}


def test_openapi_schema_and_offline_docs(client):
    schema = client.get("/openapi.json").json()
    assert {"/api/generate", "/api/motions/{motion_id}.{fmt}", "/api/health", "/api/info"} <= set(schema["paths"])
    req = schema["components"]["schemas"]["GenerateRequest"]["properties"]
    assert req["text"]["maxLength"] == 300
    seconds = next(s for s in req["seconds"]["anyOf"] if s.get("type") == "number")
    assert seconds["maximum"] == pytest.approx(10.0) and seconds["minimum"] == pytest.approx(0.2)
    assert "429" in schema["paths"]["/api/generate"]["post"]["responses"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/static/vendor/swagger-ui/swagger-ui-bundle.js" in docs.text
    assert not re.search(r"(src|href)=\"https?://", docs.text)
    assert client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200


def test_index_page_is_self_contained(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    refs = re.findall(r'(?:src|href)="([^"]+)"', r.text) + re.findall(r'"(/static/[^"]+)"', r.text)
    assert refs and all(ref.startswith("/") for ref in refs), refs
    for ref in set(refs):
        assert client.get(ref).status_code == 200, ref
    js = client.get("/static/vendor/three.module.min.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert client.get("/static/vendor/three.core.min.js").status_code == 200
    assert client.get("/static/app.js").status_code == 200


# ------------------------------------------------------------------------------ command line


def test_is_loopback():
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.5.0.1", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.20", "10.0.0.1", "example.com"))


def test_serve_command_fails_clearly(tmp_path, capsys):
    assert cli.main(["serve", "--model", str(tmp_path / "missing"), "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert "warning: listening on 0.0.0.0" in err
    assert "does not exist" in err and "Traceback" not in err
    assert cli.main(["serve", "--model", str(tmp_path / "missing"), "--max-queue", "0"]) == 2
    assert "--max-queue must be at least 1" in capsys.readouterr().err


def test_kit_model(tmp_path):
    """A KIT-ML model (21 joints, 12.5 fps): limits, skeleton and files follow the model."""
    kit = T2MGPT.from_pretrained(make_tiny_model_dir(tmp_path / "kit", dataset="kit"), device="cpu")
    with TestClient(create_app(kit), base_url=LOCAL) as c:
        info = c.get("/api/info").json()
        assert info["limits"]["seconds_step"] == pytest.approx(0.32) and len(info["skeleton"]["parents"]) == 21
        r = c.post("/api/generate", json={"text": "a person walks", "seconds": 1.28, "seed": 0})
        assert r.status_code == 200, r.text
        s = r.json()["samples"][0]
        assert _joints(s).shape == (16, 21, 3) and s["fps"] == 12.5
        mocap = Bvh(c.get(s["downloads"]["bvh"]).text)
        assert mocap.nframes == 16 and len(mocap.get_joints_names()) == 21
        assert mocap.frame_time == pytest.approx(0.08)


# ------------------------------------------------------------------------------ attacks and accidents


class RealServer:
    """`app` served by uvicorn on a free loopback port, in a thread."""

    def __init__(self, app):
        import socket

        import uvicorn

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self):
        self.thread.start()
        _wait_for(lambda: self.server.started)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()

    def raw(self, request: bytes, timeout: float = 10) -> bytes:
        """Send raw bytes, read the whole answer (the server closes or a full response arrives)."""
        import socket

        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as c:
            c.sendall(request)
            chunks = []
            try:
                while chunk := c.recv(65536):
                    chunks.append(chunk)
            except (ConnectionResetError, socket.timeout):
                pass
        return b"".join(chunks)


def _wait_for(cond, timeout: float = 10):
    for _ in range(int(timeout * 100)):
        if cond():
            return
        time.sleep(0.01)
    raise AssertionError("timed out")


def test_chunked_body_over_the_limit_on_a_static_route(pipe, caplog):
    """Before: 'Exception in ASGI application' and a truncated 200. Now: a clean 413."""
    static = "/static/vendor/three.module.min.js"
    chunk = b"a" * 8192
    body = b"".join(b"%x\r\n" % len(chunk) + chunk + b"\r\n" for _ in range(10)) + b"0\r\n\r\n"
    with RealServer(create_app(pipe)) as srv:
        for method in (b"GET", b"POST"):
            answer = srv.raw(method + b" " + static.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + body)
            assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
        # a small chunked body on the same route still gets the whole file
        small = b"5\r\nhello\r\n0\r\n\r\n"
        answer = srv.raw(b"GET " + static.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
                         b"Connection: close\r\n\r\n" + small)
        head, _, payload = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ")
        length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))
        assert len(payload) == length > 100_000
    assert "Exception in ASGI application" not in caplog.text


@pytest.mark.parametrize("host, ok", [
    ("127.0.0.1", True), ("127.0.0.1:8000", True), ("localhost", True), ("LOCALHOST:80", True), ("[::1]:8000", True),
    ("evil.example", False), ("evil.example:8000", False), ("127.0.0.1.evil.example", False), ("", False),
    ("localhost@evil.example", False),
])
def test_host_header_is_checked(pipe, host, ok):
    """DNS rebinding: a page on evil.example that resolves to 127.0.0.1 must not reach the API."""
    with TestClient(create_app(pipe), base_url=LOCAL) as c:
        r = c.get("/api/health", headers={"host": host})
        assert r.status_code == (200 if ok else 400), r.text
        if not ok:
            assert "not served here" in r.json()["detail"] and "--allowed-hosts" in r.json()["detail"]


def test_allowed_hosts_are_configurable(pipe, capsys, monkeypatch):
    import t2mgpt.serve
    from t2mgpt.pipeline import T2MGPT as Pipeline

    with TestClient(create_app(pipe, allowed_hosts=["motion.lan"]), base_url="http://motion.lan") as c:
        assert c.get("/api/health").status_code == 200
        assert c.get("/api/health", headers={"host": "127.0.0.1"}).status_code == 400
    with TestClient(create_app(pipe, allowed_hosts=["*"]), base_url="http://anything.example") as c:
        assert c.get("/api/health").status_code == 200
    # the command: loopback names + --host + --allowed-hosts
    made = {}
    monkeypatch.setattr(Pipeline, "from_pretrained", staticmethod(lambda *a, **k: pipe))
    monkeypatch.setattr(t2mgpt.serve, "create_app", lambda p, **kw: made.update(kw) or "app")
    import uvicorn
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: None)
    assert cli.main(["serve", "--host", "0.0.0.0", "--allowed-hosts", "motion.lan, 10.0.0.5"]) == 0
    assert made["allowed_hosts"] == ["localhost", "127.0.0.1", "::1", "0.0.0.0", "motion.lan", "10.0.0.5"]


@pytest.mark.parametrize("top_p", [1e-46, 1e-300, 5e-7])
def test_tiny_top_p_is_a_clear_422(client, top_p):
    r = client.post("/api/generate", json={"text": "a person walks", "seconds": 0.4, "top_p": top_p})
    assert r.status_code == 422
    assert r.json()["message"] == "top_p: Input should be greater than or equal to 0.000001"


def test_smallest_top_p_generates(client):
    r = client.post("/api/generate", json={"text": "a person walks", "seconds": 0.4, "top_p": 1e-6, "seed": 0})
    assert r.status_code == 200 and len(r.json()["samples"][0]["tokens"]) == 2


def _job_stops_when_its_client_leaves(pipe, route: str, body: dict, prepare=None):
    """POST `body` to `route` from a raw socket, close it after 3 decoding steps: the job must stop
    there (not finish) and leave the worker free for the next client."""
    steps = []

    def slow_step(module, args):  # one decoding step = one call of the token embedding
        steps.append(time.perf_counter())
        time.sleep(0.05)

    app = create_app(pipe)
    q = app.state.generate_queue
    with RealServer(app) as srv:
        if prepare is not None:
            body = prepare(srv.port, body)
        raw = json.dumps(body).encode()
        handle = pipe.gpt.tok_emb.register_forward_pre_hook(slow_step)
        try:
            import socket

            with socket.create_connection(("127.0.0.1", srv.port)) as c:
                c.sendall(f"POST {route} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n".encode()
                          + f"Content-Length: {len(raw)}\r\n\r\n".encode() + raw)
                _wait_for(lambda: len(steps) >= 3)
            _wait_for(lambda: q.running == 0)  # stopped, not finished: the motion has 49+ steps
            stopped_at = len(steps)
            time.sleep(0.3)
            assert len(steps) == stopped_at < 30
        finally:
            handle.remove()
        # the worker is free and the model works for the next client
        r = httpx.post(f"http://127.0.0.1:{srv.port}/api/generate", timeout=60,
                       json={"text": "a person jumps", "seconds": 0.4, "seed": 1})
        assert r.status_code == 200 and len(r.json()["samples"][0]["tokens"]) == 2


def test_running_job_stops_when_its_client_leaves(pipe):
    """The job of a client that disconnects mid-decoding stops at the next decoding step."""
    _job_stops_when_its_client_leaves(pipe, "/api/generate",
                                      {"text": "a person walks", "seconds": pipe.max_seconds, "seed": 0})


def _stored_motion(port: int, body: dict) -> dict:
    r = httpx.post(f"http://127.0.0.1:{port}/api/generate", timeout=60,
                   json={"text": "a person walks", "seconds": 0.8, "seed": 3})
    return {**body, "motion_id": r.json()["samples"][0]["id"]}


@pytest.mark.parametrize("route,body,prepare", [
    ("/api/compose", {"segments": [{"text": "a person walks", "seconds": 9.6}] * 3, "seed": 0}, None),
    ("/api/continue", {"text": "a person runs", "seconds": 9.6, "seed": 0}, _stored_motion),
])
def test_authoring_job_stops_when_its_client_leaves(pipe, route, body, prepare):
    """Timelines and continuations are decoded with the same cancel hook as /api/generate."""
    _job_stops_when_its_client_leaves(pipe, route, body, prepare)


def test_video_downloads_have_a_frame_limit(pipe):
    with TestClient(create_app(pipe, render_options={"max_frames": 10, "width": 64, "height": 64}),
                    base_url=LOCAL) as c:
        sample = c.post("/api/generate", json={"text": "a person walks", "seconds": 0.8, "seed": 0}).json()["samples"][0]
        r = c.get(sample["downloads"]["mp4"])
        assert r.status_code == 422
        assert "16 frames, over the limit of 10" in r.json()["message"]
        assert c.get(sample["downloads"]["bvh"]).status_code == 200
