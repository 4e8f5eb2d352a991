"""The web API's authoring routes: /api/compose, /api/continue, /api/inbetween (issue 15.7)."""
from __future__ import annotations

import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from tiny_model import make_tiny_model_dir

from t2mgpt.authoring.smoothness import boundary_smoothness
from t2mgpt.pipeline import T2MGPT
from t2mgpt.serve import create_app

LOCAL = "http://127.0.0.1"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    pipe = T2MGPT.from_pretrained(make_tiny_model_dir(tmp_path_factory.mktemp("serve") / "tiny"), device="cpu")
    with TestClient(create_app(pipe, max_results=16), base_url=LOCAL) as c:
        yield c


def joints(sample):
    return np.asarray(sample["joints"])


def test_a_waypoint_past_the_end_means_the_last_frame(client):
    """Segments are rounded to whole codes (0.2 s): 3.88 + 3.976 s make 3.8 + 4.0 s, and a waypoint at
    7.856 s (within what was asked) is the last frame, as the schema says, not a 422."""
    body = {"segments": [{"text": "a person walks", "seconds": 3.88}, {"text": "a person walks", "seconds": 3.976}],
            "seed": 2, "path": [{"seconds": 7.856, "x": 0.0, "z": 1.0}]}
    r = client.post("/api/compose", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["samples"][0]["num_frames"] == 156


def test_compose_continue_and_inbetween(client):
    r = client.post("/api/compose", json={"segments": [{"text": "a person walks", "seconds": 4},
                                                       {"text": "a person sits down", "seconds": 3}],
                                          "seed": 1, "path": [{"seconds": 2.0, "x": 0.0, "z": 0.5}]})
    assert r.status_code == 200, r.text
    timeline = r.json()["samples"][0]
    assert timeline["num_frames"] == 140 and timeline["seed"] == 1
    assert timeline["segments"] == [{"text": "a person walks", "start": 0, "end": 80},
                                    {"text": "a person sits down", "start": 80, "end": 140}]
    assert max(boundary_smoothness(joints(timeline), [80])) <= 1.75
    r = client.post("/api/continue", json={"motion_id": timeline["id"], "text": "a person jumps", "seconds": 2,
                                           "seed": 0})
    assert r.status_code == 200, r.text
    cont = r.json()["samples"][0]
    np.testing.assert_array_equal(joints(cont)[:140], joints(timeline))
    assert [s["start"] for s in cont["segments"]] == [0, 80, 140] and cont["num_frames"] == 180
    npy = np.load(io.BytesIO(client.get(cont["downloads"]["npy"]).content))
    assert npy.shape == (180, 22, 3)
    r = client.post("/api/inbetween", json={"start_id": timeline["id"], "end_id": cont["id"], "text": "a person turns",
                                            "seconds": 1, "seed": 0, "end_position": [1.0, 2.0]})
    assert r.status_code == 200, r.text
    between = r.json()["samples"][0]
    assert between["num_frames"] == 140 + 20 + 180
    np.testing.assert_allclose(joints(between)[160, 0, [0, 2]], [1.0, 2.0], atol=0.02)


@pytest.mark.parametrize("route, body, status, message", [
    ("/api/compose", {"segments": []}, 422, "at least 1 item"),
    ("/api/compose", {"segments": [{"text": "walk", "seconds": 0}]}, 422, "greater than or equal to 0.2"),
    ("/api/compose", {"segments": [{"text": "walk", "seconds": 11}]}, 422, "less than or equal to 10"),
    ("/api/compose", {"segments": [{"text": "walk", "seconds": 1}] * 9}, 422, "at most 8 items"),
    ("/api/compose", {"segments": [{"text": "  ", "seconds": 1}]}, 422, "text"),
    ("/api/compose", {"segments": [{"text": "walk", "seconds": 2}], "path": [{"seconds": -1.0, "x": 0.0, "z": 0.0}]}, 422,
     "greater than or equal to 0"),
    ("/api/compose", {"segments": [{"text": "walk", "seconds": 2}], "path": []}, 422, "at least 1 item"),
    ("/api/compose", {"segments": [{"text": "walk", "seconds": 2}], "path": [{"seconds": 1.0, "x": 0.0}]}, 422, "Field required"),
    ("/api/continue", {"motion_id": "nope", "text": "walk", "seconds": 2}, 404, "no motion with id"),
    ("/api/continue", {"motion_id": "../x", "text": "walk", "seconds": 2}, 422, "pattern"),
    ("/api/inbetween", {"start_id": "nope", "end_id": "nope", "text": "walk", "seconds": 2}, 404, "no motion"),
])
def test_bad_requests(client, route, body, status, message):
    r = client.post(route, json=body)
    assert r.status_code == status, r.text
    assert message in r.text


def test_routes_are_in_the_schema(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/compose", "/api/continue", "/api/inbetween"} <= set(paths)
    limits = client.get("/api/info").json()["limits"]
    assert limits["max_segments"] == 8 and limits["max_timeline_seconds"] == 80
