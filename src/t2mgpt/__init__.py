"""t2mgpt: T2M-GPT text-to-motion generation (VQ-VAE + GPT), faithful to the paper.

Heavy submodules are imported lazily so that `import t2mgpt` and the CLI start fast.
"""
from importlib import import_module

__version__ = "0.1.0"

_LAZY = {
    "VQVAE": "t2mgpt.tokenizer.vqvae",
    "VQVAEConfig": "t2mgpt.tokenizer.vqvae",
    "MotionGPT": "t2mgpt.generator.gpt",
    "GPTConfig": "t2mgpt.generator.gpt",
    "Evaluator": "t2mgpt.models.evaluator",
    "T2MGPT": "t2mgpt.pipeline",
    "T2MGPTError": "t2mgpt.errors",
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 't2mgpt' has no attribute {name!r}")


__all__ = list(_LAZY) + ["__version__"]
