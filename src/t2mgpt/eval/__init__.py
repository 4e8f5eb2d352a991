"""Evaluation helpers of Guo et al.: GloVe/POS caption vectorisation for the evaluator.

The metrics live in `t2mgpt.metrics`, the evaluator networks in `t2mgpt.models.evaluator`.
"""
from t2mgpt.eval.word_vectorizer import (
    MAX_TEXT_LEN,
    POS_ENUMERATOR,
    VIP_WORDS,
    WordVectorizer,
    caption_tokens,
    pos_one_hot,
    vectorize_caption,
    vectorize_captions,
)

__all__ = [
    "MAX_TEXT_LEN",
    "POS_ENUMERATOR",
    "VIP_WORDS",
    "WordVectorizer",
    "caption_tokens",
    "pos_one_hot",
    "vectorize_caption",
    "vectorize_captions",
]
