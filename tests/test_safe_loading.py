"""Loading never runs code from a file: malicious TorchScript archives and pickles, given as a
model folder's text encoder path or as --clip-path, are read as data or refused (issue 13)."""
from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys
import zipfile
from typing import Tuple

import pytest
import torch
import torch.nn as nn

from t2mgpt import T2MGPT
from t2mgpt.cli import main
from t2mgpt.errors import CheckpointError
from t2mgpt.text import get_text_encoder
from t2mgpt.text.encoders.clip import CLIPEncoder
from tiny_model import make_tiny_model_dir

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")


class _Evil(nn.Module):
    """A TorchScript module whose __setstate__ (run by torch.jit.load) writes `target`."""

    def __init__(self, target: str):
        super().__init__()
        self.target = target
        self.weight = nn.Parameter(torch.ones(2))
        self.marker = torch.zeros(1, dtype=torch.uint8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight

    @torch.jit.export
    def __getstate__(self) -> Tuple[str, torch.Tensor, bool]:
        return (self.target, self.weight, self.training)

    @torch.jit.export
    def __setstate__(self, state: Tuple[str, torch.Tensor, bool]) -> None:
        self.target = state[0]
        self.weight = state[1]
        self.training = state[2]
        t = torch.from_file(self.target, shared=True, size=6, dtype=torch.uint8)  # creates/overwrites it
        t.fill_(88)
        self.marker = t


class _OpensFile:
    def __init__(self, target: str):
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))  # unpickling creates the file


@pytest.fixture()
def attacks(tmp_path):
    """(target, {name: malicious file}); every file creates `target` if its code runs."""
    target = tmp_path / "PWNED"
    files = {}
    files["torchscript"] = tmp_path / "x" / "clip.pt"
    files["torchscript"].parent.mkdir()
    torch.jit.save(torch.jit.script(_Evil(str(target))), files["torchscript"])
    files["pickle"] = tmp_path / "clip_pickle.pt"
    with open(files["pickle"], "wb") as f:
        pickle.dump({"token_embedding.weight": _OpensFile(str(target))}, f)
    # a TorchScript-looking archive whose data.pkl itself calls open()
    files["archive"] = tmp_path / "archive.pt"
    with zipfile.ZipFile(files["archive"], "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps(_OpensFile(str(target)), protocol=2))
        z.writestr("archive/constants.pkl", pickle.dumps((), protocol=2))
    return target, files


def test_the_torchscript_attack_is_real(attacks):
    target, files = attacks
    code = f"import torch; torch.jit.load({str(files['torchscript'])!r})"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    assert target.read_bytes() == b"X" * 6  # torch.jit.load ran __setstate__
    target.unlink()
    with pytest.raises(CheckpointError, match="lacks"):  # here: read as data, no CLIP weights in it
        CLIPEncoder.load(files["torchscript"])
    assert not target.exists()


def _clip_model(tmp_path, text_path: str):
    m = make_tiny_model_dir(tmp_path / "clip-model", text_encoder="clip-vit-b-32")
    config = json.loads((m / "config.json").read_text())
    config["text_encoder"]["path"] = text_path
    (m / "config.json").write_text(json.dumps(config))
    return m


def test_malicious_files_never_run_through_any_loader(attacks, tmp_path, capsys):
    target, files = attacks
    tried = 0
    for kind, file in files.items():
        model = _clip_model(tmp_path / kind, "x/clip.pt")
        (model / "x").mkdir()
        shutil.copy(file, model / "x" / "clip.pt")
        loaders = [
            lambda: CLIPEncoder.load(file),
            lambda: get_text_encoder("clip", path=str(file)),
            lambda: T2MGPT.from_pretrained(model, device="cpu"),  # config.json's text_encoder.path
            lambda: T2MGPT.from_pretrained(model, device="cpu", text_encoder_path=file),
        ]
        for load in loaders:
            with pytest.raises(CheckpointError):
                load()
            tried += 1
        for args in (["--model", str(model)], ["--model", str(model), "--clip-path", str(file)]):
            assert main(["generate", "a person walks", *args, "--out-dir", str(tmp_path / "o"),
                         "--format", "npy", "--device", "cpu"]) == 2
            err = capsys.readouterr().err.strip()
            assert "error:" in err and "\n" not in err and "Traceback" not in err
            tried += 1
    assert tried == 18 and not target.exists()  # 18 loads of malicious files, 0 executed


def test_text_encoder_path_must_stay_inside_the_model_folder(attacks, tmp_path, capsys):
    target, files = attacks
    model = _clip_model(tmp_path, "../x/clip.pt")  # tmp_path/x/clip.pt: outside the folder
    with pytest.raises(CheckpointError, match="leaves the model folder"):
        T2MGPT.from_pretrained(model, device="cpu")
    assert main(["generate", "a walk", "--model", str(model), "--out-dir", str(tmp_path / "o")]) == 2
    assert "leaves the model folder" in capsys.readouterr().err
    assert not target.exists()


def test_minilm_folder_with_pickled_weights_is_refused(tmp_path, capsys):
    from t2mgpt.text.encoders.minilm import default_minilm_path

    target = tmp_path / "PWNED"
    model = make_tiny_model_dir(tmp_path / "m", text_encoder="minilm")
    minilm = model / "minilm"
    shutil.copytree(default_minilm_path(), minilm)
    (minilm / "model.safetensors").unlink()
    with open(minilm / "pytorch_model.bin", "wb") as f:
        pickle.dump({"embeddings.word_embeddings.weight": _OpensFile(str(target))}, f)
    config = json.loads((model / "config.json").read_text())
    config["text_encoder"]["path"] = "minilm"
    (model / "config.json").write_text(json.dumps(config))
    assert main(["generate", "a person walks", "--model", str(model), "--out-dir", str(tmp_path / "o"),
                 "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert "model.safetensors" in err and "\n" not in err and "Traceback" not in err
    assert not target.exists()
