"""The web app: a JSON API around a T2MGPT pipeline and a single-page 3D viewer.

    from t2mgpt.serve import create_app
    app = create_app("t2mgpt-cmu-demo")        # or a model folder, or a loaded T2MGPT
    # uvicorn.run(app, host="127.0.0.1", port=8000)

One worker thread owns the model and runs generation jobs from a bounded queue (429 when
full); another renders MP4 files on demand. Results live in a bounded LRU store.
"""
import asyncio
import base64
import hashlib
import math
import re
import secrets
import threading
from contextlib import asynccontextmanager
from enum import Enum
from pathlib import Path as FilePath
from typing import Annotated, Any, Sequence

import numpy as np
from fastapi import FastAPI, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from t2mgpt import export
from t2mgpt.errors import InputError
from t2mgpt.export._rigs import RIG_NAMES
from t2mgpt.export.files import slugify
from t2mgpt.serve.jobs import (ClientGone, author_job, event_sink, generate_job, result_unless_gone, run_stream_job,
                               server_sent_events)
from t2mgpt.serve.middleware import LOOPBACK_NAMES, BodyLimit, HostCheck
from t2mgpt.serve.queue import JobQueue, QueueFull
from t2mgpt.serve.schemas import (ErrorMessage, GenerateResponse, Health, Info, Limits, MAX_SEED,
                                  authoring_request_models, generate_request_model)
from t2mgpt.serve.store import MotionNotFound, ResultStore, StoredMotion

STATIC_DIR = FilePath(__file__).resolve().parent / "static"
MAX_BODY_BYTES = 64 * 1024
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
# Prompts the bundled model does well: each passes its kinematic check in most seeds of the
# prompt suite (benchmarks/prompt_suite.py, docs/prompt_suite.md). Re-check when the model changes.
EXAMPLES = [  # 19-20 of 20 seeds for version 4 of t2mgpt-cmu-demo (guidance 3, its default)
    "a person walks forward",
    "a person waves with the right hand",
    "a person jumps forward",
    "a person sidesteps to the left",
    "a person walks backwards",
    "a person raises both arms",
    "a person picks something up from the ground",
]


def create_app(pipeline_or_model_path: Any, *, device: str = "auto", max_queue: int = 16,
               max_results: int = 64, max_samples: int = 8, max_text_length: int = 300,
               examples: list[str] | None = None, render_options: dict | None = None,
               allowed_hosts: Sequence[str] | None = None) -> FastAPI:
    """The FastAPI app serving `pipeline_or_model_path` (a T2MGPT, a model folder or a model name).

    max_queue: generation requests that may wait for the worker (more get 429);
    max_results: motions kept for download (least recently used dropped first);
    render_options: RenderConfig fields for the MP4 downloads (width, height, camera, max_frames, ...);
    allowed_hosts: the names the server answers to in the Host header (default: the loopback
    names localhost, 127.0.0.1, [::1]; "*" for any), against DNS rebinding.
    """
    import t2mgpt

    pipe = _load_pipeline(pipeline_or_model_path, device)
    downloads = {f.name: f for f in export.formats() if f.web}
    Format = Enum("Format", {name: name for name in downloads}, type=str)  # the {fmt} of download URLs
    Rig = Enum("Rig", {name: name for name in RIG_NAMES}, type=str)  # ?rig= of bvh/glb downloads
    step = round(pipe.seconds_per_token, 9)  # 0.2 s, not 0.2000000001
    limits = Limits(min_seconds=step, max_seconds=round(pipe.max_seconds, 9), seconds_step=step,
                    max_samples=min(int(max_samples), int(pipe.max_batch)), max_text_length=int(max_text_length))
    GenerateRequest = generate_request_model(limits)
    StreamRequest = generate_request_model(limits, stream=True)
    generate_queue = JobQueue(max_queue, name="t2mgpt-generate")
    render_queue = JobQueue(max_queue, name="t2mgpt-render")
    store = ResultStore(max_results)
    examples = list(EXAMPLES if examples is None else examples)
    render_options = dict(render_options or {})
    index_html, index_csp = _index_page()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        generate_queue.open()
        render_queue.open()
        yield
        generate_queue.close()
        render_queue.close()

    app = FastAPI(
        title="t2mgpt", version=t2mgpt.__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
        description="Text to 3D human motion (T2M-GPT). POST a sentence to /api/generate (or to /api/stream "
                    "for server-sent events of the frames as they are decoded), then download "
                    f"the motions ({', '.join(downloads)}) from /api/motions/{{id}}.{{format}}.",
    )
    app.state.pipeline = pipe
    app.state.store = store
    app.state.generate_queue = generate_queue
    app.state.render_queue = render_queue
    app.state.limits = limits

    # -------------------------------------------------------------- errors

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        errors = _json_safe(jsonable_encoder(exc.errors()))
        return JSONResponse({"detail": errors, "message": _summary(errors)}, status_code=422)

    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)
    app.add_middleware(HostCheck, allowed=LOOPBACK_NAMES if allowed_hosts is None else allowed_hosts)

    def input_error(msg: str) -> JSONResponse:  # same shape as FastAPI's validation errors
        return JSONResponse({"detail": [{"loc": ["body"], "msg": msg, "type": "value_error"}], "message": msg},
                            status_code=422)

    def not_found(e: MotionNotFound) -> JSONResponse:
        return JSONResponse({"detail": e.message}, status_code=404)

    def busy(e: QueueFull) -> JSONResponse:
        return JSONResponse({"detail": str(e)}, status_code=429, headers={"Retry-After": str(e.retry_after)})

    # -------------------------------------------------------------- API

    error_responses = {
        400: {"model": ErrorMessage, "description": "Body that cannot be parsed (e.g. not UTF-8)"},
        404: {"model": ErrorMessage, "description": "Unknown or evicted motion id"},
        413: {"model": ErrorMessage, "description": "Request body too large"},
        429: {"model": ErrorMessage, "description": "Queue full; see the Retry-After header"},
    }

    @app.post("/api/generate", response_model=GenerateResponse, tags=["api"],
              responses={k: v for k, v in error_responses.items() if k != 404})
    async def generate(req: GenerateRequest, request: Request):  # type: ignore[valid-type]
        """Generate `num_samples` motions for one sentence. Joints are in metres (y up), rounded to mm."""
        seed = req.seed if req.seed is not None else secrets.randbelow(MAX_SEED + 1)
        cancel = threading.Event()
        try:
            job = generate_queue.submit(generate_job, pipe, store, req, seed, list(downloads), cancel)
            body = await result_unless_gone(request, job, cancel)
        except ClientGone:
            return Response(status_code=499)  # nobody reads it; the access log shows it
        except QueueFull as e:
            return busy(e)
        except InputError as e:
            return input_error(str(e))
        return Response(body, media_type="application/json")

    @app.post("/api/stream", tags=["api"], response_class=StreamingResponse,
              responses={200: {"content": {"text/event-stream": {}},
                               "description": "Server-sent events: start, frames..., sample, done (or error)"},
                         **{k: v for k, v in error_responses.items() if k != 404}})
    async def stream(req: StreamRequest, request: Request):  # type: ignore[valid-type]
        """Like /api/generate (same body but `candidates`, same limits), but the frames come as server-sent events
        while the motion is decoded: `start`, then `frames` ({sample, start, final, joints in
        metres}) as they are ready, `sample` (id, seed, downloads) when one is complete, `done`.
        Closing the connection stops the decoding. Streamed frames go out while they are made, so
        each sample is one candidate (the body has no `candidates`)."""
        seed = req.seed if req.seed is not None else secrets.randbelow(MAX_SEED + 1)
        cancel, events = threading.Event(), asyncio.Queue()
        emit = event_sink(asyncio.get_running_loop(), events)
        try:
            job = generate_queue.submit(run_stream_job, pipe, store, req, seed, list(downloads), cancel, emit=emit)
        except QueueFull as e:
            return busy(e)
        return StreamingResponse(server_sent_events(request, job, events, cancel), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    authoring = authoring_request_models(limits)

    async def author(kind: str, req, request: Request):
        seed = req.seed if req.seed is not None else secrets.randbelow(MAX_SEED + 1)
        try:
            cancel = threading.Event()
            job = generate_queue.submit(author_job, pipe, store, kind, req, seed, list(downloads), cancel)
            body = await result_unless_gone(request, job, cancel)
        except ClientGone:
            return Response(status_code=499)
        except QueueFull as e:
            return busy(e)
        except MotionNotFound as e:
            return not_found(e)
        except InputError as e:
            return input_error(str(e))
        return Response(body, media_type="application/json")

    @app.post("/api/compose", response_model=GenerateResponse, tags=["api"], responses=error_responses)
    async def compose(req: authoring["compose"], request: Request):  # type: ignore[valid-type]
        """One continuous motion from a timeline of (text, seconds) segments, optionally along a path."""
        return await author("compose", req, request)

    @app.post("/api/continue", response_model=GenerateResponse, tags=["api"], responses=error_responses)
    async def continue_(req: authoring["continue"], request: Request):  # type: ignore[valid-type]
        """A stored motion (by id) followed by `seconds` of `text`; its frames come back unchanged."""
        return await author("continue", req, request)

    @app.post("/api/inbetween", response_model=GenerateResponse, tags=["api"], responses=error_responses)
    async def inbetween(req: authoring["inbetween"], request: Request):  # type: ignore[valid-type]
        """Stored motion `start_id`, a gap of `seconds` following `text`, then stored motion `end_id`'s poses."""
        return await author("inbetween", req, request)

    @app.get("/api/motions/{motion_id}.{fmt}", response_class=Response, tags=["api"],
             responses={200: {"content": {f.media_type.split(";")[0]: {} for f in downloads.values()},
                              "description": "The motion file"},
                        404: error_responses[404], 429: error_responses[429]})
    async def download(motion_id: Annotated[str, Path(pattern=ID_PATTERN, description="Motion id")],
                       fmt: Annotated[Format, Path(description="File format")],
                       rig: Annotated[Rig | None, Query(description="bvh, glb: bone names and rest pose for "
                                                                    "these tools (default smpl); other formats "
                                                                    "ignore it")] = None):
        """Download a generated motion: BVH (animation), GLB (skinned character, glTF), NPY (joints,
        float32 (T, J, 3)), NPZ (rotations), MP4 (rendered video, made on first request), JSON
        (metadata + joints in mm), ..."""
        fmt = downloads[fmt.value]
        options, key = {}, fmt.name
        if rig is not None and "rig" in {o.name for o in fmt.options}:
            options, key = {"rig": rig.value}, f"{fmt.name}?rig={rig.value}"
        try:
            entry = store.get(motion_id)
            data = entry.files.get(key)
            if data is None:
                if fmt.renders:
                    data = await render_queue.run(_make_file, entry, fmt, render_options)
                else:  # quick, but not for the event loop
                    data = await run_in_threadpool(_make_file, entry, fmt, options, key)
        except MotionNotFound as e:
            return not_found(e)
        except QueueFull as e:
            return busy(e)
        except InputError as e:  # e.g. a motion over the renderer's frame limit
            return input_error(str(e))
        return Response(data, media_type=fmt.media_type, headers={
            "Content-Disposition": f'attachment; filename="{download_name(entry, fmt)}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, max-age=3600",
        })

    @app.get("/api/health", response_model=Health, tags=["api"])
    async def health():
        """Liveness, model, device, queue depth and stored motions."""
        return {
            "status": "ok", "model": pipe.name, "device": str(pipe.device),
            "queue": {"running": generate_queue.running, "waiting": generate_queue.waiting,
                      "max_waiting": generate_queue.max_waiting},
            "results": {"stored": len(store), "max": store.max_items},
            "version": t2mgpt.__version__,
        }

    info_doc = _info(pipe, limits, examples, t2mgpt.__version__, list(downloads))

    @app.get("/api/info", response_model=Info, tags=["api"])
    async def info():
        """Model card summary, skeleton, request limits and example prompts."""
        return info_doc

    # -------------------------------------------------------------- page

    @app.get("/", include_in_schema=False)
    async def index():
        return HTMLResponse(index_html, headers={"Content-Security-Policy": index_csp,
                                                 "Cache-Control": "no-cache"})

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon():
        return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")

    @app.get("/docs", include_in_schema=False)
    async def docs():
        return get_swagger_ui_html(
            openapi_url=app.openapi_url, title="t2mgpt API",
            swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
            swagger_ui_parameters={"validatorUrl": None, "defaultModelsExpandDepth": 0},
        )

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def _make_file(entry: StoredMotion, fmt: export.Format, options: dict, key: str | None = None) -> bytes:
    """The bytes of one download (cached in the entry under `key`, default the format's name)."""
    key = key or fmt.name
    if key not in entry.files:
        entry.files[key] = fmt.to_bytes(entry.motion, **options)
    return entry.files[key]


def download_name(entry: StoredMotion, fmt: export.Format) -> str:
    """'<prompt slug>_<sample><suffix>': ASCII letters, digits, '_' and '-' only (safe in a header)."""
    return f"{slugify(entry.motion.text)}_{int(entry.motion.sample)}{fmt.suffix}"


# ------------------------------------------------------------------------------ helpers


def _load_pipeline(pipeline_or_model_path: Any, device: str):
    if callable(pipeline_or_model_path) and hasattr(pipeline_or_model_path, "config"):
        return pipeline_or_model_path
    from t2mgpt.pipeline import T2MGPT

    return T2MGPT.from_pretrained(pipeline_or_model_path, device=device)


def _info(pipe, limits: Limits, examples: list[str], version: str, formats: list[str]) -> dict:
    from t2mgpt.motion.skeleton import get_skeleton
    from t2mgpt.render.style import chain_colours, head_joint

    c = pipe.config
    sk = get_skeleton(pipe.skeleton)
    sides = ["center"] * sk.num_joints
    colours = ["#3a4256"] * sk.num_joints
    for chain, rgb in zip(sk.kinematic_chains, chain_colours(sk)):
        x = float(np.asarray(sk.raw_offsets)[list(chain[1:]), 0].sum())
        side = "left" if x > 0 else "right" if x < 0 else "center"
        for j in chain[1:]:
            sides[j] = side
            colours[j] = "#%02x%02x%02x" % tuple(rgb)
    card = c.card
    return {
        "model": {"name": str(pipe.name), "description": card.description, "trained_on": card.trained_on,
                  "license": card.license, "dataset": c.dataset, "fps": float(c.fps),
                  "text_encoder": c.text_encoder, "guidance_scale": pipe.guidance_scale,
                  "candidates": pipe.candidates,
                  "metrics": _json_safe(dict(card.metrics or {}))},
        "skeleton": {"name": sk.name, "joint_names": list(sk.joint_names), "parents": [int(p) for p in sk.parents],
                     "sides": sides, "colors": colours, "head": int(head_joint(sk))},
        "limits": limits.to_dict(),
        "examples": examples,
        "formats": formats,
        "version": version,
    }


def _json_safe(x: Any) -> Any:
    """Non-finite floats -> strings, unpaired surrogates replaced (a 422 must never become a 500)."""
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if isinstance(x, str):
        return x.encode("utf-8", "replace").decode("utf-8")
    if isinstance(x, dict):
        return {_json_safe(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    return x


def _summary(errors: list[dict]) -> str:
    """One line for people: 'num_samples: Input should be less than or equal to 8; ...'."""
    parts = []
    for e in errors[:3]:
        loc = [str(p) for p in e.get("loc", []) if p not in ("body", "path", "query")]
        msg = str(e.get("msg", "invalid value")).removeprefix("Value error, ")
        parts.append(f"{'.'.join(loc)}: {msg}" if loc else msg)
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return "; ".join(parts) + more


def _index_page() -> tuple[str, str]:
    """index.html and its Content-Security-Policy: same-origin only; the inline import map is
    allowed by its hash."""
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    hashes = []
    for body in re.findall(r"<script[^>]*>(.*?)</script>", html, flags=re.S):
        if body.strip():
            digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode("ascii")
            hashes.append(f"'sha256-{digest}'")
    csp = ("default-src 'self'; script-src 'self' " + " ".join(hashes) + "; style-src 'self'; "
           "img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; object-src 'none'; "
           "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
    return html, csp
