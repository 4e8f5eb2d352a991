"""Evaluation: GloVe/POS caption vectorisation, the evaluation split, the paper's protocol.

The metrics live in `t2mgpt.metrics`, the evaluator networks in `t2mgpt.models.evaluator`
and `t2mgpt.models.contrastive_evaluator`. The protocol names below (EvalDataset,
evaluate_generation, ...) are imported lazily, so `import t2mgpt.eval` stays light.
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

_LAZY = {
    "EvalDataset": "t2mgpt.eval.dataset",
    "EvalBatch": "t2mgpt.eval.dataset",
    "MotionTextEvaluator": "t2mgpt.eval.evaluators",
    "GuoEvaluator": "t2mgpt.eval.evaluators",
    "load_evaluator": "t2mgpt.eval.evaluators",
    "EvaluationResult": "t2mgpt.eval.result",
    "GenerationModels": "t2mgpt.eval.generation",
    "evaluate_generation": "t2mgpt.eval.protocol",
    "evaluate_reconstruction": "t2mgpt.eval.protocol",
    "make_validation_fn": "t2mgpt.eval.validation",
    "EvaluatorTrainConfig": "t2mgpt.eval.trainer",
    "train_evaluator": "t2mgpt.eval.trainer",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 't2mgpt.eval' has no attribute {name!r}")


__all__ = [
    *_LAZY,
    "MAX_TEXT_LEN",
    "POS_ENUMERATOR",
    "VIP_WORDS",
    "WordVectorizer",
    "caption_tokens",
    "pos_one_hot",
    "vectorize_caption",
    "vectorize_captions",
]
