"""Fuzz the web API from its own OpenAPI schema (schemathesis): no 5xx, and every response
(status, content type, headers, body) conforms to the schema, for valid and invalid requests."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from tiny_model import make_tiny_model_dir

from t2mgpt.generator.sampling import check_sampling_args
from t2mgpt.pipeline import GeneratedMotion, T2MGPT
from t2mgpt.serve import create_app
from t2mgpt.serve.middleware import LOOPBACK_NAMES

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.python import asgi  # noqa: E402
from schemathesis.checks import (content_type_conformance, negative_data_rejection,  # noqa: E402
                                 not_a_server_error, positive_data_acceptance, response_headers_conformance,
                                 response_schema_conformance, status_code_conformance)


class FastPipeline:
    """The tiny model's limits and checks, but motions cut from the packaged real clip instead of
    sampled by the GPT (also for compose / continue / inbetween), so that hundreds of requests
    take seconds."""

    def __init__(self, pipe: T2MGPT):
        from importlib.resources import files

        self._pipe = pipe
        self._clip = np.load(files("t2mgpt") / "assets" / "sample_motion.npy")  # (170, 22, 3)

    def __getattr__(self, name):
        return getattr(self._pipe, name)

    def __call__(self, texts, num_samples=1, seconds=None, temperature=1.0, top_k=None, top_p=None, seed=None,
                 hooks=(), guidance_scale=None, candidates=None):
        check_sampling_args(temperature, top_k, top_p)
        self._pipe.candidates_used(candidates)  # the pipeline's check
        n = 10 if seconds is None else self._pipe.tokens_for_seconds(seconds)
        joints = np.take(self._clip, np.arange(4 * n), axis=0, mode="wrap")
        return [[GeneratedMotion(text=t, features=np.zeros((4 * n, 263), np.float32), joints=joints, fps=self.fps,
                                 tokens=np.arange(n) % 32, seed=seed + i * num_samples + j, model=self.name, sample=j)
                 for j in range(num_samples)] for i, t in enumerate(texts)]


    def _one(self, text, frames, seed, segments=()):
        joints = np.take(self._clip, np.arange(frames), axis=0, mode="wrap")
        return GeneratedMotion(text=text, features=np.zeros((frames, 263), np.float32), joints=joints, fps=self.fps,
                               tokens=np.arange(frames // 4) % 32, seed=seed, model=self.name, segments=segments)

    def compose(self, timeline, seed=None, path=None, temperature=1.0, top_k=None, top_p=None, guidance_scale=None,
                hooks=()):
        from t2mgpt.authoring.path import check_path
        from t2mgpt.authoring.timeline import check_timeline, segments_of

        check_sampling_args(temperature, top_k, top_p)
        plan = check_timeline(timeline, self.seconds_per_token)
        frames = 4 * sum(n for _, n in plan)
        if path is not None:
            check_path(path, self.fps, frames)
        return self._one(" / ".join(t for t, _ in plan), frames, seed, segments_of(plan, 4))

    def continue_motion(self, motion, text, seconds, seed=None, temperature=1.0, top_k=None, top_p=None,
                        guidance_scale=None, hooks=()):
        check_sampling_args(temperature, top_k, top_p)
        return self._one(text, motion.num_frames + 4 * self._pipe.tokens_for_seconds(seconds), seed)

    def inbetween(self, start, end, text, seconds, seed=None, end_position=None, temperature=1.0, top_k=None,
                  top_p=None, guidance_scale=None, hooks=()):
        check_sampling_args(temperature, top_k, top_p)
        frames = start.num_frames + 4 * self._pipe.tokens_for_seconds(seconds) + end.num_frames
        return self._one(text, frames, seed)


def _make_app():
    import atexit
    import shutil
    import tempfile
    from pathlib import Path

    tmp = Path(tempfile.mkdtemp(prefix="t2mgpt-fuzz-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    pipe = T2MGPT.from_pretrained(make_tiny_model_dir(tmp / "tiny"), device="cpu")
    # schemathesis' ASGI client sends "Host: testserver"; the server answers to loopback names only
    return create_app(FastPipeline(pipe), max_results=8, allowed_hosts=[*LOOPBACK_NAMES, asgi.HOST])


# Built at import: schemathesis' lazy fixture loading does not work with this pytest.
APP = _make_app()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, negative_data_rejection, positive_data_acceptance]


@schema.parametrize()
@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_schema(case):
    case.call_and_validate(checks=CHECKS)


def test_downloads_of_a_real_motion_conform():
    """Random ids only reach 404s; one real id checks the 200 answers of every format too."""
    from fastapi.testclient import TestClient

    with TestClient(APP, base_url="http://127.0.0.1") as client:
        r = client.post("/api/generate", json={"text": "a person walks", "seconds": 0.8})
        motion_id = r.json()["samples"][0]["id"]
    operation = schema["/api/motions/{motion_id}.{fmt}"]["GET"]
    for fmt in ("bvh", "npy", "json", "mp4"):
        case = operation.Case(path_parameters={"motion_id": motion_id, "fmt": fmt})
        response = case.call_and_validate(checks=CHECKS)
        assert response.status_code == 200
