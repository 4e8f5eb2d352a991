"""Request and response models of the web API (they are also its OpenAPI schema).

The generate request is built per model (`generate_request_model`) so that the schema states
the real limits: seconds between one code and the GPT's block size, samples up to the batch
limit, and so on.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Annotated, Any, Optional

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, create_model

from t2mgpt.utils.checks import MAX_CANDIDATES

MAX_SEED = 2**31 - 1  # seeds stay exact in JavaScript numbers (sample k uses seed + k)


@dataclass(frozen=True)
class Limits:
    """What a generate request may ask for."""

    min_seconds: float
    max_seconds: float
    seconds_step: float
    max_samples: int = 8
    max_text_length: int = 300
    max_seed: int = MAX_SEED
    min_temperature: float = 0.01
    max_temperature: float = 10.0
    max_top_k: int = 100_000
    max_guidance_scale: float = 10.0
    min_top_p: float = 1e-6  # far above float32's smallest probability (1e-45), where nucleus sampling breaks
    max_segments: int = 8  # per timeline (POST /api/compose), each of at most max_seconds
    max_waypoints: int = 16

    @property
    def max_timeline_seconds(self) -> float:
        return self.max_segments * self.max_seconds

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "max_timeline_seconds": self.max_timeline_seconds}


def clean_text(text: str) -> str:
    """Control characters become spaces, runs of whitespace one space; blank text is refused."""
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Cs") else c for c in text)
    text = " ".join(text.split())
    if not text:
        raise ValueError("text is blank; describe a motion, e.g. 'a person walks forward'")
    return text


def json_integer(value: Any) -> Any:
    """JSON Schema integers are 4 and 4.0 alike (but not true or "4", which strict mode refuses)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


JSONInt = BeforeValidator(json_integer)

# at least one character that is neither whitespace nor a control character (what clean_text keeps)
TEXT_PATTERN = r"[^\s\x00-\x1f\x7f-\x9f]"


def _fields(limits: Limits) -> dict:
    """The annotated field types shared by the request models."""
    L = limits
    text = Annotated[str, Field(
        min_length=1, max_length=L.max_text_length, pattern=TEXT_PATTERN,
        description=f"What the person does, in English (at most {L.max_text_length} characters).",
        examples=["a person jumps forward"]), AfterValidator(clean_text)]
    seconds = Annotated[Optional[float], Field(
        default=None, ge=L.min_seconds, le=L.max_seconds, allow_inf_nan=False,
        description=f"Length of each motion ({L.min_seconds:g} to {L.max_seconds:g} s, rounded to "
                    f"{L.seconds_step:g} s); null lets the model end the motion itself.")]
    num_samples = Annotated[int, Field(ge=1, le=L.max_samples), JSONInt,
                            Field(description="Motions to make for the prompt.")]
    seed = Annotated[Optional[Annotated[int, Field(ge=0, le=L.max_seed), JSONInt]], Field(
        description="Random seed (sample k uses seed + k, or seeds seed + k*c .. with c candidates); null draws "
                    "one. The response gives each sample's seed.")]
    temperature = Annotated[float, Field(
        default=1.0, ge=L.min_temperature, le=L.max_temperature, allow_inf_nan=False,
        description="Sampling temperature: lower is more conservative.")]
    top_k = Annotated[Optional[Annotated[int, Field(ge=1, le=L.max_top_k), JSONInt]], Field(
        description="Sample among the k most likely codes only.")]
    top_p = Annotated[Optional[float], Field(
        default=None, ge=L.min_top_p, le=1.0, allow_inf_nan=False,
        description=f"Sample among the most likely codes of total probability p only ({L.min_top_p:g} <= p <= 1; "
                    "smaller values would keep no code at all in float32: use top_k=1 to always take the likeliest).")]
    guidance_scale = Annotated[Optional[float], Field(
        default=None, ge=0.0, le=L.max_guidance_scale, allow_inf_nan=False,
        description="Classifier-free guidance: above 1 follows the text more closely (1: off); null takes the "
                    "model's (GET /api/info: model.guidance_scale).")]
    candidates = Annotated[Optional[Annotated[int, Field(ge=1, le=MAX_CANDIDATES), JSONInt]], Field(
        description="Best-of-k: each sample is the best of k sampled motions, scored by the model and its critic "
                    "(1: plain sampling); null takes the model's (GET /api/info: model.candidates).")]
    return dict(text=text, seconds=seconds, num_samples=num_samples, seed=seed, temperature=temperature,
                top_k=top_k, top_p=top_p, guidance_scale=guidance_scale, candidates=candidates)


STRICT = dict(extra="forbid", strict=True)  # strict: no "5" -> 5 or false -> 0


def generate_request_model(limits: Limits, stream: bool = False) -> type[BaseModel]:
    """The POST /api/generate body for a model with these limits; `stream`: the POST /api/stream
    body, the same without `candidates` (streamed frames leave while they are decoded, so a
    stream cannot pick the best of several motions)."""
    L, f = limits, _fields(limits)
    best_of = {} if stream else {"candidates": (f["candidates"], None)}
    return create_model(
        "StreamRequest" if stream else "GenerateRequest",
        __config__=ConfigDict(**STRICT,
                              json_schema_extra={"examples": [{"text": "a person jumps forward", "num_samples": 2,
                                                               "seconds": min(4.0, L.max_seconds), "seed": 7}]}),
        text=(f["text"], ...), seconds=(f["seconds"], None), num_samples=(f["num_samples"], 1), seed=(f["seed"], None),
        temperature=(f["temperature"], 1.0), top_k=(f["top_k"], None), top_p=(f["top_p"], None),
        guidance_scale=(f["guidance_scale"], None), **best_of,
    )


def authoring_request_models(limits: Limits) -> dict[str, type[BaseModel]]:
    """The bodies of POST /api/compose, /api/continue and /api/inbetween (same limits as generate)."""
    L, f = limits, _fields(limits)
    length = Annotated[float, Field(ge=L.min_seconds, le=L.max_seconds, allow_inf_nan=False,
                                    description=f"Seconds ({L.min_seconds:g} to {L.max_seconds:g}).")]
    coordinate = Annotated[float, Field(ge=-1000.0, le=1000.0, allow_inf_nan=False)]
    motion_id = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Id of a motion made by this server.")]
    sampling = dict(seed=(f["seed"], None), temperature=(f["temperature"], 1.0), top_k=(f["top_k"], None),
                    top_p=(f["top_p"], None), guidance_scale=(f["guidance_scale"], None))
    Segment = create_model("Segment", __config__=ConfigDict(**STRICT), text=(f["text"], ...), seconds=(length, ...))

    segments = Annotated[list[Segment], Field(min_length=1, max_length=L.max_segments, description=(
        f"1 to {L.max_segments} segments (at most {L.max_timeline_seconds:g} s in all)."))]
    when = Annotated[float, Field(ge=0.0, le=L.max_timeline_seconds, allow_inf_nan=False,
                                  description="seconds (a time past the motion's end means its last frame)")]
    waypoint = create_model("Waypoint", __config__=ConfigDict(**STRICT), seconds=(when, ...), x=(coordinate, ...),
                            z=(coordinate, ...))
    path = Annotated[Optional[list[waypoint]], Field(default=None, min_length=1, max_length=L.max_waypoints, description=(
        "Waypoints {seconds, x, z} (metres; the motion starts at the origin facing +z) the pelvis should pass."))]
    return {
        "compose": create_model("ComposeRequest", __config__=ConfigDict(**STRICT), segments=(segments, ...),
                                path=(path, None), **sampling),
        "continue": create_model("ContinueRequest", __config__=ConfigDict(**STRICT), motion_id=(motion_id, ...),
                                 text=(f["text"], ...), seconds=(length, ...), **sampling),
        "inbetween": create_model("InbetweenRequest", __config__=ConfigDict(**STRICT), start_id=(motion_id, ...),
                                  end_id=(motion_id, ...), text=(f["text"], ...), seconds=(length, ...),
                                  end_position=(Optional[Annotated[list[coordinate], Field(min_length=2, max_length=2)]],
                                                None), **sampling),
    }


# ------------------------------------------------------------------------------ responses


class Sample(BaseModel):
    id: str = Field(description="Motion id for the download URLs.")
    index: int = Field(description="Sample number within the request (0-based).")
    seed: Optional[int] = Field(description="The seed that reproduces this sample (with num_samples=1).")
    fps: float
    num_frames: int
    duration: float = Field(description="Seconds.")
    tokens: list[int] = Field(description="Motion code indices (one per 4 frames).")
    joints: list[list[list[float]]] = Field(description="(frames, joints, 3) positions in metres, y up, "
                                                        "rounded to millimetres.")
    downloads: dict[str, str] = Field(description="Format -> download URL (bvh, npy, mp4, json).")
    segments: list[dict[str, Any]] = Field(default=[], description="Authored motions: the parts "
                                           "(text, start frame, end frame) of a timeline, continuation or in-between.")


class GenerateResponse(BaseModel):
    text: str = Field(description="The prompt as used (whitespace collapsed).")
    model: str
    skeleton: str
    seconds: Optional[float] = Field(description="The requested length (null: chosen by the model).")
    elapsed: float = Field(description="Seconds spent generating (queue wait excluded).")
    samples: list[Sample]
    warnings: list[str] = Field(default_factory=list,
                                description="Things to know about the result, e.g. the prompt does not look like "
                                            "English (the text encoder is English-only).")


class QueueStatus(BaseModel):
    running: int = Field(description="Jobs being processed (0 or 1).")
    waiting: int = Field(description="Jobs waiting for the worker.")
    max_waiting: int


class Health(BaseModel):
    status: str
    model: str
    device: str
    queue: QueueStatus
    results: dict[str, int] = Field(description="stored and max: motions kept for download.")
    version: str


class SkeletonInfo(BaseModel):
    name: str
    joint_names: list[str]
    parents: list[int]
    sides: list[str] = Field(description="Per joint: left, right or center.")
    colors: list[str] = Field(description="Per joint: '#rrggbb' of the bone ending there (limb colours).")
    head: int = Field(description="The joint drawn as the head.")


class ModelInfo(BaseModel):
    name: str
    description: str
    trained_on: str
    license: str
    dataset: str
    fps: float
    text_encoder: str
    guidance_scale: float
    candidates: int = Field(description="Best-of-k the model samples with by default (1: plain sampling).")
    metrics: dict[str, Any]


class Info(BaseModel):
    model: ModelInfo
    skeleton: SkeletonInfo
    limits: dict[str, Any]
    examples: list[str]
    formats: list[str]
    version: str


class ErrorMessage(BaseModel):
    detail: str
