"""Training checkpoints as models: a `t2mgpt train-vq` run (or an original T2M-GPT VQ-VAE .pth)
-> a VQ-VAE with its training data's statistics. Read with `torch.load(weights_only=True)`."""
from __future__ import annotations

from pathlib import Path

from t2mgpt.errors import CheckpointError, InputError
from t2mgpt.utils.io import safe_torch_load


def resolve_vq_path(path: str | Path) -> Path:
    """A run folder (best.pt, else last.pt) or a checkpoint file."""
    path = Path(path)
    if path.is_dir():
        for name in ("best.pt", "last.pt"):
            if (path / name).is_file():
                return path / name
        raise CheckpointError(f"{path} holds no best.pt or last.pt; point --vq at a train-vq run folder or a checkpoint")
    if not path.is_file():
        raise CheckpointError(f"VQ-VAE checkpoint {path} not found")
    return path


def load_vq(path: str | Path, device="cpu"):
    """(VQVAE in eval mode, mean or None, std or None, checkpoint path).

    Reads `t2mgpt train-vq` checkpoints (which carry the training set's Mean/Std) and
    original T2M-GPT checkpoints ({'net': ...}: normalise with the dataset's Mean/Std).
    """
    from t2mgpt.tokenizer.vqvae import VQVAE

    path = resolve_vq_path(path)
    obj = safe_torch_load(path)
    mean = std = None
    if isinstance(obj, dict) and "net" in obj:
        model = VQVAE.from_original(path)
    elif isinstance(obj, dict) and obj.get("kind") == "t2mgpt.vqvae" and "config" in obj and "model" in obj:
        try:
            model = VQVAE.from_config_dict(obj["config"])
            model.load_state_dict(obj["model"])
        except (InputError, RuntimeError, TypeError) as e:
            raise CheckpointError(f"{path}: VQ-VAE weights do not match the stored config: {e}") from e
        if "mean" in obj and "std" in obj:
            mean, std = obj["mean"].numpy(), obj["std"].numpy()
    else:
        raise CheckpointError(f"{path} is not a VQ-VAE checkpoint (neither t2mgpt train-vq nor original T2M-GPT)")
    return model.to(device).eval(), mean, std, path
