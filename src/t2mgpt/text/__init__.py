"""Text encoders that give the GPT its conditioning feature, behind one interface.

    enc = get_text_encoder("minilm")          # offline default, 384-d
    enc = get_text_encoder("clip", path=DIR)  # the paper's CLIP ViT-B/32, 512-d
    feats = enc.encode(["a person walks forward"])   # (1, dim) float32

A model config stores `enc.name` and `enc.dim`; `get_text_encoder(name, dim=dim)` re-creates
the encoder. A new encoder is one file in `text/encoders/` (see its `__init__`).
`TextFeatureCache` precomputes and stores features for training.
"""
from t2mgpt.text.cache import TextFeatureCache
from t2mgpt.text.encoders import (
    DEFAULT_TEXT_ENCODER,
    TEXT_ENCODER_DIMS,
    canonical_name,
    get_text_encoder,
    register,
    text_encoder_dim,
)
from t2mgpt.text.encoders.base import TextEncoder, TruncationWarning, check_texts
from t2mgpt.text.encoders.hashing import HashingTextEncoder

__all__ = [
    "DEFAULT_TEXT_ENCODER",
    "HashingTextEncoder",
    "TEXT_ENCODER_DIMS",
    "TextEncoder",
    "TextFeatureCache",
    "TruncationWarning",
    "canonical_name",
    "check_texts",
    "get_text_encoder",
    "register",
    "text_encoder_dim",
]
