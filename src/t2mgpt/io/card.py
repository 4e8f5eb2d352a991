"""The model card: what a model folder says about itself (config.json's "card", README.md)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from t2mgpt.errors import InputError

if TYPE_CHECKING:
    from t2mgpt.io.config import ModelConfig


@dataclass
class ModelCard:
    """What goes into README.md (and config.json, so that re-saving keeps it)."""

    name: str = "t2mgpt model"
    description: str = "A T2M-GPT text-to-motion model (VQ-VAE motion tokenizer + GPT)."
    trained_on: str = "unknown"
    license: str = "unknown"
    metrics: dict[str, Any] = field(default_factory=dict)
    evaluation: str = ""  # markdown table of `t2mgpt evaluate` results (t2mgpt.eval.report)
    notes: str = ""

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "ModelCard":
        """The known fields of `d` (a config.json's "card"), type-checked: text, and metrics of
        name -> number or text."""
        known = {f.name for f in dataclasses.fields(cls)}
        card = {k: v for k, v in (d or {}).items() if k in known}
        for k, v in card.items():
            if k != "metrics" and not isinstance(v, str):
                raise InputError(f"card.{k} must be a string, got {type(v).__name__}")
        metrics = card.get("metrics", {})
        if not isinstance(metrics, dict) or not all(
                isinstance(v, (str, int, float)) or v is None for v in metrics.values()):
            raise InputError("card.metrics must map metric names to numbers or strings")
        return cls(**card)


def model_card_text(config: ModelConfig) -> str:
    """README.md of a model folder, filled from the config and its card."""
    from t2mgpt.io.config import FORMAT, FORMAT_VERSION

    c, vq, gpt = config.card, config.vqvae, config.gpt
    metrics = "\n".join(f"| {k} | {v} |" for k, v in c.metrics.items()) if c.metrics else None
    lines = [
        f"# {c.name}", "", c.description, "",
        "## Model", "",
        f"- Dataset kind: {config.dataset} ({config.feature_dim}-d features, {config.skeleton} skeleton, "
        f"{config.fps:g} fps, {config.unit_length} frames per code)",
        f"- Text encoder: {config.text_encoder} ({config.text_dim}-d)",
        f"- VQ-VAE: {vq['nb_code']} codes of {vq['code_dim']} dims, width {vq['width']}, depth {vq['depth']}, "
        f"quantizer {vq['quantizer']}",
        f"- GPT: {gpt['num_layers']}+{gpt['num_layers']} layers, width {gpt['embed_dim']}, {gpt['n_head']} heads, "
        f"up to {gpt['block_size'] - 1} codes ({(gpt['block_size'] - 1) * config.unit_length / config.fps:g} s)",
        f"- Sampling: classifier-free guidance scale {config.guidance_scale:g} by default"
        + (" (none)" if config.guidance_scale == 1 else " (override with guidance_scale / --guidance-scale)")
        + ("" if config.candidates == 1 else f"; each motion the best of {config.candidates} sampled ones "
           "(override with candidates / --candidates; streaming decodes one)"),
        "", "## Training data", "", c.trained_on, "",
        "## Licence", "", c.license, "",
        "## Metrics", "",
    ]
    if c.evaluation:
        lines += [c.evaluation, ""]
    if metrics:
        lines += ["| metric | value |\n| --- | --- |\n" + metrics, ""]
    if not (c.evaluation or metrics):
        lines += ["Not measured.", ""]
    if c.notes:
        lines += ["## Notes", "", c.notes, ""]
    lines += [
        "## Use", "",
        "```python",
        "from t2mgpt import T2MGPT",
        f'pipe = T2MGPT.from_pretrained("{c.name}")  # or the folder path',
        'motion = pipe(["a person walks forward"])[0][0]',
        'motion.save("walk.mp4")',
        "```", "",
        f"Written by t2mgpt {config.to_dict()['t2mgpt_version']} (model format {FORMAT} v{FORMAT_VERSION}).", "",
    ]
    return "\n".join(lines)
