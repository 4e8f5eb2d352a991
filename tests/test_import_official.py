"""`t2mgpt import-official`: original checkpoints -> model folder that behaves like the original."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from t2mgpt import T2MGPT
from t2mgpt.cli import main
from t2mgpt.io.official import GPT_DEFAULTS, VQ_DEFAULTS, import_official
from t2mgpt.errors import CheckpointError, InputError
from t2mgpt.generator.config import GPTConfig
from t2mgpt.generator.gpt import MotionGPT
from t2mgpt.motion import Normalizer



class FixedTextEncoder:
    """Answers with given features: stands in for CLIP, whose weights tests do not have."""

    name, dim, max_tokens = "clip-vit-b-32", 512, 77

    def __init__(self, table: dict[str, np.ndarray]):
        self.table = table
        self.device = torch.device("cpu")

    def encode(self, texts):
        return torch.stack([torch.from_numpy(self.table[t]) for t in texts]).to(self.device)

    def to(self, device):
        self.device = torch.device(device)
        return self


@pytest.fixture(scope="module")
def ref(ref_dir):
    return {
        "vq": ref_dir / "ref_vqvae_t2m.pth", "gpt": ref_dir / "ref_gpt.pth",
        "vq_hp": json.loads((ref_dir / "ref_vqvae_t2m.json").read_text()),
        "gpt_hp": json.loads((ref_dir / "ref_gpt.json").read_text()),
        "vq_io": dict(np.load(ref_dir / "ref_vqvae_t2m_io.npz")),
        "gpt_io": dict(np.load(ref_dir / "ref_gpt_io.npz")),
        "dir": ref_dir,
    }


@pytest.fixture(scope="module")
def imported(ref, tmp_path_factory):
    assert ref["gpt_hp"]["num_vq"] == ref["vq_hp"]["nb_code"] == 64  # the fixtures belong together
    out = tmp_path_factory.mktemp("imp") / "t2m-ref"
    rc = main(["import-official", "--vq", str(ref["vq"]), "--gpt", str(ref["gpt"]), "--dataset", "t2m",
               "--out", str(out), "--vq-hparams", str(ref["dir"] / "ref_vqvae_t2m.json"),
               "--gpt-hparams", json.dumps(ref["gpt_hp"])])
    assert rc == 0
    return out


@pytest.fixture(scope="module")
def pipe(imported, ref):
    feats = ref["gpt_io"]["clip_feature"]
    enc = FixedTextEncoder({f"prompt {i}": feats[i] for i in range(len(feats))})
    return T2MGPT.from_pretrained(imported, device="cpu", text_encoder=enc)


def test_imported_folder(imported):
    cfg = json.loads((imported / "config.json").read_text())
    assert cfg["text_encoder"] == {"name": "clip-vit-b-32", "dim": 512, "path": None}
    assert (cfg["dataset"], cfg["feature_dim"], cfg["fps"], cfg["unit_length"]) == ("humanml3d", 263, 20.0, 4)
    assert cfg["vqvae"]["nb_code"] == 64 and cfg["gpt"]["embed_dim"] == 64 and cfg["gpt"]["block_size"] == 51
    np.testing.assert_array_equal(np.load(imported / "mean.npy"), Normalizer.humanml3d().mean)
    card = (imported / "README.md").read_text()
    assert "HumanML3D" in card and "Apache-2.0" in card and "ref_gpt.pth" in card


def test_vqvae_matches_the_original(pipe, ref):
    io = ref["vq_io"]
    x = torch.from_numpy(io["x"])
    assert torch.equal(pipe.vqvae.encode(x), torch.from_numpy(io["code_idx"]))
    with torch.no_grad():
        recon, _, _ = pipe.vqvae(x)
    np.testing.assert_allclose(recon.numpy(), io["recon"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(pipe.vqvae.decode(torch.from_numpy(io["code_idx"][:1])).numpy(),
                               io["decoded_from_idx0"], rtol=1e-5, atol=1e-5)


def test_gpt_matches_the_original(pipe, ref):
    io = ref["gpt_io"]
    with torch.no_grad():
        logits = pipe.gpt(torch.from_numpy(io["idx"]), torch.from_numpy(io["clip_feature"]))
    np.testing.assert_allclose(logits.numpy(), io["logits"], rtol=1e-5, atol=1e-5)


def test_greedy_generation_end_to_end_matches_the_original(pipe, ref):
    """Text feature -> original `sample(if_categorial=False)` codes -> decoded, de-normalised motion."""
    io = ref["gpt_io"]
    out = pipe([f"prompt {i}" for i in range(3)], greedy=True)
    for i, (m,) in enumerate(out):
        np.testing.assert_array_equal(m.tokens, io[f"greedy_{i}"][0])
        expected = pipe.vqvae.decode(torch.from_numpy(io[f"greedy_{i}"]))[0].numpy()
        np.testing.assert_allclose(m.features, Normalizer.humanml3d().denormalize(expected), rtol=1e-5, atol=1e-5)
        assert m.joints.shape == (200, 22, 3) and m.duration == pytest.approx(10.0)


def test_clip_text_encoder_missing_is_a_clear_error(imported, tmp_path):
    with pytest.raises(CheckpointError, match="needs the clip-vit-b-32 text encoder.*CLIP weights not found"):
        T2MGPT.from_pretrained(imported, device="cpu", text_encoder_path=tmp_path / "no-clip")
    assert main(["generate", "a person walks", "--model", str(imported), "--clip-path", str(tmp_path / "no-clip"),
                 "--out-dir", str(tmp_path / "o"), "--format", "npy"]) == 2
    assert not (tmp_path / "o").exists()


def test_wrong_or_mismatched_checkpoints(ref, tmp_path):
    # the released hyper-parameters are the defaults: the small fixture does not fit them
    with pytest.raises(CheckpointError, match="does not match the given hyper-parameters.*nb_code=512"):
        import_official(ref["vq"], ref["gpt"], out=tmp_path / "a")
    with pytest.raises(CheckpointError, match="transformer checkpoint"):
        import_official(ref["gpt"], ref["vq"], out=tmp_path / "a", vq_hparams=ref["vq_hp"])
    # a transformer over another codebook size
    other = MotionGPT(GPTConfig(num_vq=32, embed_dim=64, clip_dim=512, num_layers=1, n_head=4))
    torch.save({"trans": other.original_state_dict()}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="predicts 32 codes but the VQ-VAE .* has 64.*do not belong together"):
        import_official(ref["vq"], tmp_path / "other.pth", out=tmp_path / "a", vq_hparams=ref["vq_hp"],
                        gpt_hparams={"num_vq": 32, "embed_dim": 64, "num_layers": 1, "n_head": 4})
    # a transformer that does not take CLIP features
    other = MotionGPT(GPTConfig(num_vq=64, embed_dim=64, clip_dim=384, num_layers=1, n_head=4))
    torch.save({"trans": other.original_state_dict()}, tmp_path / "minilm.pth")
    with pytest.raises(CheckpointError, match="384-d text features"):
        import_official(ref["vq"], tmp_path / "minilm.pth", out=tmp_path / "a", vq_hparams=ref["vq_hp"],
                        gpt_hparams={"num_vq": 64, "embed_dim": 64, "num_layers": 1, "n_head": 4, "clip_dim": 384})
    assert not (tmp_path / "a").exists()


def test_argument_errors(ref, imported, tmp_path, monkeypatch, capsys):
    common = dict(vq_hparams=ref["vq_hp"], gpt_hparams=ref["gpt_hp"])
    with pytest.raises(InputError, match="pass --mean KIT-ML/Mean.npy"):
        import_official(ref["vq"], ref["gpt"], dataset="kit", out=tmp_path / "k", **common)
    mean, std = ref["dir"] / "humanml3d_Mean.npy", ref["dir"] / "humanml3d_Std.npy"
    with pytest.raises(InputError, match="Mean.npy: the mean has 263 entries, expected 251"):
        import_official(ref["vq"], ref["gpt"], dataset="kit", out=tmp_path / "k", mean=mean, std=std, **common)
    kit_mean, kit_std = tmp_path / "Mean.npy", tmp_path / "Std.npy"
    np.save(kit_mean, np.zeros(251, np.float32))
    np.save(kit_std, np.ones(251, np.float32))
    with pytest.raises(InputError, match="--vq-hparams says dataname='t2m' but --dataset is 'kit'"):
        import_official(ref["vq"], ref["gpt"], dataset="kit", out=tmp_path / "k", mean=kit_mean, std=kit_std, **common)
    with pytest.raises(CheckpointError, match="input_dim=251 was given but the weights have input_dim=263"):
        import_official(ref["vq"], ref["gpt"], dataset="kit", out=tmp_path / "k", mean=kit_mean, std=kit_std,
                        vq_hparams={k: v for k, v in ref["vq_hp"].items() if k != "dataname"},
                        gpt_hparams=ref["gpt_hp"])
    with pytest.raises(InputError, match="t2m .* or kit"):
        import_official(ref["vq"], ref["gpt"], dataset="amass", out=tmp_path / "k", **common)
    with pytest.raises(InputError, match="both --mean and --std"):
        import_official(ref["vq"], ref["gpt"], out=tmp_path / "k", mean=mean, **common)
    with pytest.raises(InputError, match="already exists"):
        import_official(ref["vq"], ref["gpt"], out=imported, **common)
    with pytest.raises(InputError, match="invalid model name '../escape'"):
        import_official(ref["vq"], ref["gpt"], name="../escape", **common)
    with pytest.raises(InputError, match="give --out MODEL_DIR, or --name"):
        import_official(ref["vq"], ref["gpt"], **common)
    assert main(["import-official", "--vq", str(ref["vq"]), "--gpt", str(ref["gpt"]), "--out", str(tmp_path / "x"),
                 "--vq-hparams", "{nope"]) == 2
    assert "--vq-hparams is not valid JSON" in capsys.readouterr().err
    # --name alone saves into $T2MGPT_HOME/models, where `--model NAME` and `t2mgpt models` find it
    monkeypatch.setenv("T2MGPT_HOME", str(tmp_path / "home"))
    out = import_official(ref["vq"], ref["gpt"], name="ref-model", mean=mean, std=std, **common)
    assert out == tmp_path / "home" / "models" / "ref-model"
    assert main(["models", "--json"]) == 0
    listed = {m["name"]: m for m in json.loads(capsys.readouterr().out)}
    assert listed["ref-model"]["text_encoder"] == "clip-vit-b-32" and listed["ref-model"]["source"] == "local"


def test_released_defaults_are_the_papers():
    assert VQ_DEFAULTS == dict(nb_code=512, code_dim=512, output_emb_width=512, down_t=2, stride_t=2, width=512,
                               depth=3, dilation_growth_rate=3, activation="relu", quantizer="ema_reset")
    assert GPT_DEFAULTS == dict(num_vq=512, embed_dim=1024, clip_dim=512, block_size=51, num_layers=9, n_head=16,
                                drop_out_rate=0.1, fc_rate=4)
