"""T2MGPT pipeline and model folders: save/load, lookup by name, generation, errors."""
from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from tiny_model import make_tiny_model_dir, tiny_parts

from t2mgpt import T2MGPT
from t2mgpt.io import folder as model_folder
from t2mgpt.io import lookup
from t2mgpt.io.card import ModelCard
from t2mgpt.io.config import make_config
from t2mgpt.io.folder import save_model_folder
from t2mgpt.io.lookup import DEFAULT_MODEL, list_models, models_home
from t2mgpt.text.encoders.hashing import HashingTextEncoder
from t2mgpt.errors import CheckpointError, InputError
from t2mgpt.motion import HUMANML3D, KIT, default_offsets, features_to_joints
from t2mgpt.pipeline import GeneratedMotion
from t2mgpt.text import TruncationWarning

PROMPTS = ["a person walks forward", "a person jumps"]



@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return make_tiny_model_dir(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(scope="module")
def pipe(tiny_dir):
    return T2MGPT.from_pretrained(tiny_dir, device="cpu")


def copy_model(src, dst):
    shutil.copytree(src, dst)
    return dst


# ------------------------------------------------------------------------------------ model folders


def test_save_load_round_trip_is_bitwise(pipe, tiny_dir, tmp_path):
    out = pipe.save_pretrained(tmp_path / "copy")
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["config.json", "vqvae.safetensors", "gpt.safetensors", "mean.npy", "std.npy", "README.md"])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folder left
    for name in ("vqvae.safetensors", "gpt.safetensors"):
        a, b = load_file(tiny_dir / name), load_file(out / name)
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a)
    assert json.loads((out / "config.json").read_text()) == json.loads((tiny_dir / "config.json").read_text())
    again = T2MGPT.from_pretrained(out, device="cpu")
    for m1, m2 in ((pipe.vqvae, again.vqvae), (pipe.gpt, again.gpt)):
        s1, s2 = m1.state_dict(), m2.state_dict()
        assert all(torch.equal(s1[k], s2[k]) for k in s1)
    np.testing.assert_array_equal(again.normalizer.std, pipe.normalizer.std)
    plain = tmp_path / "plain"
    plain.write_text("")  # the mode an ordinary file gets here: others can read a shared model
    assert {p.stat().st_mode & 0o777 for p in out.iterdir()} == {plain.stat().st_mode & 0o777}
    card = (out / "README.md").read_text()
    assert "# tiny-test" in card and "CC0-1.0" in card and "hashing (32-d)" in card


def test_save_is_atomic_and_never_overwrites_silently(pipe, tmp_path, monkeypatch):
    target = pipe.save_pretrained(tmp_path / "m")
    before = (target / "gpt.safetensors").read_bytes()
    with pytest.raises(InputError, match="already exists"):
        pipe.save_pretrained(target)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(model_folder.np, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        pipe.save_pretrained(target, overwrite=True)  # fails half-way: the old folder stays intact
    with pytest.raises(OSError, match="disk full"):
        pipe.save_pretrained(tmp_path / "new")  # and no half-written new folder appears
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    assert (target / "gpt.safetensors").read_bytes() == before
    monkeypatch.undo()
    pipe.save_pretrained(target, overwrite=True)
    (tmp_path / "notamodel").mkdir()
    (tmp_path / "notamodel" / "precious.txt").write_text("keep me")
    with pytest.raises(InputError, match="not a model folder"):
        pipe.save_pretrained(tmp_path / "notamodel", overwrite=True)


def test_lookup_by_name_local_and_bundled(tiny_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("T2MGPT_HOME", str(tmp_path / "home"))
    bundled = tmp_path / "bundled"
    bundled.mkdir()
    monkeypatch.setattr(lookup, "bundled_models_dir", lambda: bundled)
    with pytest.raises(CheckpointError, match="unknown model 'mine' .*none installed"):
        T2MGPT.from_pretrained("mine", device="cpu")
    copy_model(tiny_dir, models_home() / "mine")
    pipe = T2MGPT.from_pretrained("mine", device="cpu")
    assert pipe.path == tmp_path / "home" / "models" / "mine"
    with pytest.raises(CheckpointError, match=r"unknown model 'other' \(available: mine\)"):
        T2MGPT.from_pretrained("other", device="cpu")
    # a bundled model of the same name comes first
    make_tiny_model_dir(bundled / "mine", seed=1)
    assert T2MGPT.from_pretrained("mine", device="cpu").path == bundled / "mine"
    assert [(e.name, e.source) for e in list_models()] == [("mine", "bundled"), ("mine", "local")]
    # names never escape the model folders
    with pytest.raises(CheckpointError, match="does not exist"):
        T2MGPT.from_pretrained("../home/models/mine/../nothing", device="cpu")
    assert DEFAULT_MODEL == "t2mgpt-cmu-demo"


def test_missing_files_and_foreign_configs(tiny_dir, tmp_path):
    m = copy_model(tiny_dir, tmp_path / "m")
    (m / "gpt.safetensors").unlink()
    with pytest.raises(CheckpointError, match="incomplete: missing gpt.safetensors"):
        T2MGPT.from_pretrained(m, device="cpu")
    with pytest.raises(CheckpointError, match="config.json is missing"):
        T2MGPT.from_pretrained(tmp_path, device="cpu")
    with pytest.raises(CheckpointError, match="is a file"):
        T2MGPT.from_pretrained(tiny_dir / "vqvae.safetensors", device="cpu")

    cfg = json.loads((tiny_dir / "config.json").read_text())
    cases = [
        ({**cfg, "format": "diffusers"}, "not a t2mgpt model config"),
        ({**cfg, "format_version": 2}, "newer t2mgpt"),
        ({k: v for k, v in cfg.items() if k != "gpt"}, "incomplete or malformed"),
        ({**cfg, "gpt": {**cfg["gpt"], "num_vq": 64}}, r"predicts 64 codes \(num_vq\) but the VQ-VAE codebook has 32"),
        ({**cfg, "dataset": "kit"}, "263-d features but kit motions have 251"),
        ({**cfg, "normalization": {"mean": "../../etc/passwd", "std": "std.npy"}}, "plain file name"),
        ({**cfg, "text_encoder": {"name": "word2vec", "dim": 32}}, "unknown text encoder"),
    ]
    for bad, message in cases:
        m = tmp_path / f"bad{cases.index((bad, message))}"
        copy_model(tiny_dir, m)
        (m / "config.json").write_text(json.dumps(bad))
        with pytest.raises(CheckpointError, match=message):
            T2MGPT.from_pretrained(m, device="cpu")
    (m / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        T2MGPT.from_pretrained(m, device="cpu")


def test_weights_that_do_not_match_the_config(tiny_dir, tmp_path):
    m = copy_model(tiny_dir, tmp_path / "m")
    cfg = json.loads((m / "config.json").read_text())
    cfg["gpt"]["embed_dim"] = 64  # the file holds embed_dim 32 weights
    (m / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=r"gpt.safetensors: the GPT weights do not match .*tok_emb.weight \(34, 32\) "
                                              r"\(config.json implies \(34, 64\)\)"):
        T2MGPT.from_pretrained(m, device="cpu")

    m = copy_model(tiny_dir, tmp_path / "m2")
    sd = load_file(m / "vqvae.safetensors")
    del sd["decoder.model.0.bias"]
    sd["extra.weight"] = torch.zeros(1)
    save_file(sd, m / "vqvae.safetensors")
    with pytest.raises(CheckpointError, match=r"VQ-VAE weights do not match .*missing: \['decoder.model.0.bias'\].*"
                                              r"unexpected: \['extra.weight'\]"):
        T2MGPT.from_pretrained(m, device="cpu")
    sd = load_file(tiny_dir / "vqvae.safetensors")
    sd["decoder.model.0.weight"][0, 0, 0] = float("nan")
    save_file(sd, m / "vqvae.safetensors")
    with pytest.raises(CheckpointError, match="decoder.model.0.weight contains NaN or inf"):
        T2MGPT.from_pretrained(m, device="cpu")
    (m / "vqvae.safetensors").write_bytes(b"\x00" * 10)
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        T2MGPT.from_pretrained(m, device="cpu")
    np.save(m / "std.npy", np.zeros(263, np.float32))
    shutil.copy(tiny_dir / "vqvae.safetensors", m / "vqvae.safetensors")
    with pytest.raises(CheckpointError, match="normalisation.*non-positive"):
        T2MGPT.from_pretrained(m, device="cpu")


def test_text_encoder_unavailable_or_wrong(tiny_dir, tmp_path, monkeypatch):
    from t2mgpt.text.encoders import clip as clip_module

    vq, gpt, norm, _ = tiny_parts(text_encoder="clip-vit-b-32")
    config = make_config(vq.config, gpt.config, "clip", 512, text_encoder_path=str(tmp_path / "no-clip"))
    m = save_model_folder(tmp_path / "clip-model", config, vq, gpt, norm)
    assert json.loads((m / "config.json").read_text())["text_encoder"]["name"] == "clip-vit-b-32"
    with pytest.raises(CheckpointError, match="needs the clip-vit-b-32 text encoder.*CLIP weights not found") as e:
        T2MGPT.from_pretrained(m, device="cpu", text_encoder_path=tmp_path / "nowhere")
    assert "--text-encoder" not in str(e.value) and "--clip-path" in str(e.value)
    # the stored hint points nowhere either: it says so and looks in the usual places
    monkeypatch.delenv(clip_module.CLIP_PATH_ENV, raising=False)
    monkeypatch.setattr(clip_module, "OPENAI_CACHE_FILE", str(tmp_path / "none" / "ViT-B-32.pt"))
    monkeypatch.setattr(clip_module, "_hf_cache_dir", lambda: str(tmp_path / "hf"))
    monkeypatch.setattr(clip_module.CLIPEncoder, "_from_hf", classmethod(
        lambda cls, *a, **k: (_ for _ in ()).throw(CheckpointError("not in cache"))))
    with pytest.warns(UserWarning, match="does not exist here"), pytest.raises(CheckpointError, match="CLIP weights not found"):
        T2MGPT.from_pretrained(m, device="cpu")
    # an injected encoder replaces it; its size must fit
    pipe = T2MGPT.from_pretrained(m, device="cpu", text_encoder=HashingTextEncoder(512))
    assert pipe(["a person waves"], seconds=1.0, seed=0)[0][0].num_frames == 20
    with pytest.raises(InputError, match="gives 32-d features but the GPT takes 512-d"):
        T2MGPT.from_pretrained(m, device="cpu", text_encoder=HashingTextEncoder(32))


# ------------------------------------------------------------------------------------ generation


def test_the_model_folder_sets_the_default_guidance(tiny_dir, tmp_path, monkeypatch):
    folder = copy_model(tiny_dir, tmp_path / "guided")
    config = json.loads((folder / "config.json").read_text())
    assert T2MGPT.from_pretrained(folder, device="cpu").guidance_scale == 1.0  # absent: none
    config["sampling"] = {"guidance_scale": 2.5}
    (folder / "config.json").write_text(json.dumps(config))
    guided = T2MGPT.from_pretrained(folder, device="cpu")
    assert guided.guidance_scale == 2.5
    asked, generate = [], guided.gpt.generate
    monkeypatch.setattr(guided.gpt, "generate", lambda *a, **k: asked.append(k["guidance_scale"]) or generate(*a, **k))
    guided(["a person walks"], seconds=1.0, seed=0)
    guided(["a person walks"], seconds=1.0, seed=0, guidance_scale=1.0)
    list(guided.stream("a person walks", seconds=1.0, seed=0))
    guided.compose([("a person walks", 1.0)], seed=0)
    assert asked == [2.5, 1.0, 2.5, 2.5]
    out = guided.save_pretrained(tmp_path / "saved")
    assert json.loads((out / "config.json").read_text())["sampling"] == {"guidance_scale": 2.5, "candidates": 1}
    assert "guidance scale 2.5 by default" in (out / "README.md").read_text()


def test_generation_shapes_fps_duration(pipe):
    out = pipe(PROMPTS, num_samples=3, seed=0)
    assert [len(r) for r in out] == [3, 3]
    for i, row in enumerate(out):
        for j, m in enumerate(row):
            assert isinstance(m, GeneratedMotion) and m.text == PROMPTS[i] and m.sample == j
            n = len(m.tokens)
            assert 1 <= n <= 50 and m.tokens.dtype == np.int64 and (m.tokens < 32).all()
            assert m.features.shape == (4 * n, 263) and m.joints.shape == (4 * n, 22, 3)
            assert m.fps == 20.0 and m.duration == pytest.approx(0.2 * n)
            assert np.isfinite(m.joints).all() and m.seed == 3 * i + j and m.model == "tiny-test"
            # raw joints are the features' joints; features are de-normalised decoder outputs
            np.testing.assert_allclose(m.raw_joints, features_to_joints(m.features), atol=1e-5)
            # joints: one rigid skeleton (the dataset's bone lengths) posed by the rotations
            bones = np.linalg.norm(m.joints[:, 1:] - m.joints[:, list(HUMANML3D.parents[1:])], axis=-1)
            reference = np.linalg.norm(default_offsets("humanml3d"), axis=-1)[1:]
            assert np.abs(bones - reference).max() < 1e-5
            np.testing.assert_allclose(m.joints, m.rigid.joints, atol=1e-6)
            codes = torch.as_tensor(m.tokens)[None]
            x = pipe.normalizer.denormalize(pipe.vqvae.decode(codes))[0].numpy()
            np.testing.assert_allclose(m.features, x, atol=1e-5)
    assert len({len(m.tokens) for row in out for m in row}) > 1  # lengths differ: grouped decoding


def test_seconds_are_honoured(pipe):
    for seconds, frames in ((3.0, 60), (0.2, 4), (10.0, 200), (3.1, 64), (2.29, 44)):
        m = pipe(["a person runs"], seconds=seconds, seed=1)[0][0]
        assert m.num_frames == frames and len(m.tokens) == frames // 4
    for bad in (0, -1.0, 0.1, float("nan"), float("inf"), "3"):
        with pytest.raises(InputError, match="seconds must be"):
            pipe(["a person runs"], seconds=bad)
    assert pipe.max_seconds == pytest.approx(10.0)
    # longer motions go through the timeline (issue 15): exact lengths up to 300 s
    for seconds, frames in ((10.3, 208), (12, 240)):
        m = pipe(["a person runs"], seconds=seconds, seed=1)[0][0]
        assert m.num_frames == frames and len(m.tokens) == frames // 4
    with pytest.raises(InputError, match="over the limit of 300 s"):
        pipe(["a person runs"], seconds=301)


def test_seeded_generation_is_reproducible(pipe):
    a = pipe(PROMPTS, num_samples=2, seed=123)
    b = pipe(PROMPTS, num_samples=2, seed=123)
    c = pipe(PROMPTS, num_samples=2, seed=124)
    tokens = lambda out: [m.tokens.tolist() for row in out for m in row]  # noqa: E731
    assert tokens(a) == tokens(b) and tokens(a) != tokens(c)
    np.testing.assert_array_equal(a[1][1].joints, b[1][1].joints)
    # any one motion is reproduced alone from its seed (batch composition does not matter)
    m = a[1][1]
    alone = pipe([m.text], seed=m.seed)[0][0]
    assert alone.tokens.tolist() == m.tokens.tolist()
    np.testing.assert_array_equal(alone.joints, m.joints)  # same tokens, same joints to the bit
    # unseeded calls record the seeds they drew
    fresh = pipe(["a person sits down"])[0][0]
    assert fresh.tokens.tolist() == pipe(["a person sits down"], seed=fresh.seed)[0][0].tokens.tolist()


def test_batch_size_does_not_change_a_single_bit(pipe, tmp_path):
    """Issue 13.7: with --seconds, a motion made in a batch of 64 is byte-identical to the same seed alone."""
    batch = pipe(["a person walks in a circle"], num_samples=64, seconds=2.0, seed=40)[0]
    for k in (0, 23, 63):
        m = batch[k]
        alone = pipe([m.text], seconds=2.0, seed=m.seed)[0][0]
        assert alone.tokens.tolist() == m.tokens.tolist()
        a, b = m.save(tmp_path / f"b{k}.npy"), alone.save(tmp_path / f"a{k}.npy")
        assert a.read_bytes() == b.read_bytes()
        assert m.save(tmp_path / f"b{k}.bvh").read_bytes() == alone.save(tmp_path / f"a{k}.bvh").read_bytes()


def test_prefix_fixed_codes_hooks_and_callback(pipe):
    from t2mgpt.generator.decoding import StopDecoding

    first = pipe(["a person walks"], seconds=2.0, seed=9)[0][0]  # 10 codes
    more = pipe(["a person walks"], seconds=3.0, seed=9, prefix_codes=first.tokens)[0][0]
    assert more.tokens[:10].tolist() == first.tokens.tolist() and len(more.tokens) == 15
    np.testing.assert_array_equal(more.tokens, pipe(["a person walks"], seconds=3.0, seed=9)[0][0].tokens)
    kept = pipe(["a person walks"], num_samples=2, seed=1, fixed_codes=[{6: 5}, None])[0]
    assert len(kept[0].tokens) >= 7 and kept[0].tokens[6] == 5
    streamed = []
    banned = torch.arange(0, 32, 2)  # even codes
    odd = pipe(["a person walks"], seed=2, hooks=[lambda s: s.logits.index_fill(1, banned, float("-inf"))],
               callback=lambda s: streamed.append(int(s.codes[0, -1])))[0][0]
    assert (odd.tokens % 2 == 1).all() and streamed[:len(odd.tokens)] == odd.tokens.tolist()

    def stop_at_4(step):
        if step.step == 3:
            raise StopDecoding

    assert len(pipe(["a person walks"], seed=2, callback=stop_at_4)[0][0].tokens) == 4


def test_sampling_options_and_greedy(pipe):
    g = pipe(["a person kicks"], num_samples=3, greedy=True)[0]
    assert all(m.seed is None and m.tokens.tolist() == g[0].tokens.tolist() for m in g)
    top1 = pipe(["a person kicks"], num_samples=2, top_k=1, seed=5)[0]
    assert top1[0].tokens.tolist() == g[0].tokens.tolist() == top1[1].tokens.tolist()
    # issue 13.6: a top_p that rounds to 0 in float32 still keeps the most likely code
    assert pipe(["a person kicks"], top_p=1e-46, seed=0)[0][0].tokens.tolist() == g[0].tokens.tolist()
    assert pipe(["a person kicks"], top_p=0.5, temperature=0.7, seed=0)[0][0].num_frames > 0
    with pytest.raises(InputError, match="temperature"):
        pipe(["a person kicks"], temperature=0)
    with pytest.raises(InputError, match="top_p"):
        pipe(["a person kicks"], top_p=1.5)


def test_input_errors(pipe):
    for bad in ("", "   ", [], ["ok", " \n"], [3], None):
        with pytest.raises(InputError):
            pipe(bad)
    with pytest.raises(InputError, match="text #1 is empty"):
        pipe(["ok", "  "])
    for n in (0, -1, 1.5, True):
        with pytest.raises(InputError, match="num_samples"):
            pipe(["ok"], num_samples=n)
    with pytest.raises(InputError, match=r"2 prompt\(s\) x 40 sample\(s\) = 80 motions is over the limit of 64"):
        pipe(PROMPTS, num_samples=40)
    for seed in (-1, 2**63, "7", 1.5):
        with pytest.raises(InputError, match="seed"):
            pipe(["ok"], seed=seed)
    with pytest.raises(InputError, match="CUDA is not available|only"):
        pipe.to("cuda:7")
    with pytest.raises(InputError, match="unknown device"):
        T2MGPT.from_pretrained(pipe.path, device="gpu0")
    assert pipe.to("cpu").device == torch.device("cpu")


def test_long_text_is_truncated_with_a_warning(pipe):
    long = "a person walks forward and then " * 40
    with pytest.warns(TruncationWarning, match="word limit"):
        m = pipe([long], seconds=1.0, seed=0)[0][0]
    assert m.text == long.strip() and m.num_frames == 20
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pipe(["a person walks"], seconds=1.0)


def test_max_batch_is_configurable(tiny_dir):
    small = T2MGPT.from_pretrained(tiny_dir, device="cpu", max_batch=4)
    assert len(small(PROMPTS, num_samples=2, seconds=0.4)[1]) == 2
    with pytest.raises(InputError, match="limit of 4"):
        small(PROMPTS, num_samples=3)


def test_kit_model(tmp_path):
    m = make_tiny_model_dir(tmp_path / "kit", dataset="kit")
    cfg = json.loads((m / "config.json").read_text())
    assert (cfg["dataset"], cfg["feature_dim"], cfg["fps"], cfg["skeleton"]) == ("kit", 251, 12.5, "kit")
    pipe = T2MGPT.from_pretrained(m, device="cpu")
    motion = pipe(["a person jumps"], seconds=2.0, seed=0)[0][0]
    assert motion.joints.shape == (24, KIT.num_joints, 3) and motion.features.shape == (24, 251)
    assert motion.fps == 12.5 and motion.duration == pytest.approx(24 / 12.5)
    assert pipe.max_seconds == pytest.approx(50 * 4 / 12.5)


def test_motion_saves_every_format(pipe, tmp_path):
    import imageio.v2 as imageio

    m = pipe(["a person walks in a circle"], seconds=1.0, seed=3)[0][0]
    assert m.save(tmp_path / "j.npy") == tmp_path / "j.npy"
    np.testing.assert_array_equal(np.load(tmp_path / "j.npy"), m.joints)
    m.save(tmp_path / "f.npy", what="features")
    np.testing.assert_array_equal(np.load(tmp_path / "f.npy"), m.features)
    doc = json.loads(m.save(tmp_path / "m.json").read_text())
    assert doc["text"] == m.text and doc["seed"] == 3 and doc["fps"] == 20.0 and doc["num_frames"] == 20
    assert doc["skeleton"]["joint_names"] == list(HUMANML3D.joint_names)
    np.testing.assert_allclose(doc["joints"], m.joints, atol=5e-4 + 1e-7)
    assert doc == m.to_dict()
    m.save(tmp_path / "m.gif", width=64, height=64)
    assert len(imageio.mimread(tmp_path / "m.gif")) == 20
    assert "HIERARCHY" in m.save(tmp_path / "m.bvh").read_text()[:20]
    with pytest.raises(InputError, match="cannot tell the output format"):
        m.save(tmp_path / "m.txt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.npy", "j.npy", "m.bvh", "m.gif", "m.json"]


def test_pipeline_from_parts(tmp_path):
    vq, gpt, norm, dim = tiny_parts()
    pipe = T2MGPT(vq, gpt, HashingTextEncoder(dim), dataset="humanml3d",
                  card=ModelCard(name="from-parts", license="MIT"))
    assert pipe.config.text_encoder == "hashing" and pipe.config.fps == 20.0
    out = pipe.save_pretrained(tmp_path / "parts")
    loaded = T2MGPT.from_pretrained(out, device="cpu")
    assert loaded.name == "from-parts"
    a = pipe(["a person bows"], seconds=1.0, seed=9)[0][0]
    b = loaded(["a person bows"], seconds=1.0, seed=9)[0][0]
    np.testing.assert_array_equal(a.joints, b.joints)
    with pytest.raises(InputError, match="GPT takes 32-d text features .* 'hashing' gives 16"):
        T2MGPT(vq, gpt, HashingTextEncoder(16))


def test_minilm_model_shares_the_loaded_encoder(tmp_path):
    folder = make_tiny_model_dir(tmp_path / "minilm", text_encoder="minilm")
    assert json.loads((folder / "config.json").read_text())["text_encoder"]["dim"] == 384
    a = T2MGPT.from_pretrained(folder, device="cpu")
    b = T2MGPT.from_pretrained(folder, device="cpu")
    assert a.text_encoder is b.text_encoder and a.text_encoder.name == "minilm"
    ma = a(["a person walks forward"], seconds=1.0, seed=0)[0][0]
    mb = b(["a person walks forward"], seconds=1.0, seed=0)[0][0]
    np.testing.assert_array_equal(ma.joints, mb.joints)
    other = a(["a person walks forward", "someone does a cartwheel"], seconds=1.0, seed=0)
    assert other[0][0].tokens.tolist() == ma.tokens.tolist()
