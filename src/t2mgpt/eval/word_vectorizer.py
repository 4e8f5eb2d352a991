"""GloVe word vectors + part-of-speech one-hots: the evaluator's text input.

Matches `WordVectorizer` of EricGuo5513/text-to-motion `utils/word_vectorizer.py`
(also used by T2M-GPT) and the caption handling of T2M-GPT `dataset/dataset_TM_eval.py`.
Captions are HumanML3D token lists such as ["a/DET", "man/NOUN", "walk/VERB"].
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from t2mgpt.errors import DataError, InputError
from t2mgpt.utils.safe_pickle import safe_pickle_load

# The original's 15 POS classes (order = one-hot index).
POS_ENUMERATOR = {
    "VERB": 0, "NOUN": 1, "DET": 2, "ADP": 3, "NUM": 4, "AUX": 5, "PRON": 6, "ADJ": 7,
    "ADV": 8, "Loc_VIP": 9, "Body_VIP": 10, "Obj_VIP": 11, "Act_VIP": 12, "Desc_VIP": 13,
    "OTHER": 14,
}  # fmt: skip

# Motion-relevant words get their own POS class, whatever their tag (the original's VIP_dict).
VIP_WORDS = {
    "Loc_VIP": ("left", "right", "clockwise", "counterclockwise", "anticlockwise", "forward",
                "back", "backward", "up", "down", "straight", "curve"),
    "Body_VIP": ("arm", "chin", "foot", "feet", "face", "hand", "mouth", "leg", "waist", "eye",
                 "knee", "shoulder", "thigh"),
    "Obj_VIP": ("stair", "dumbbell", "chair", "window", "floor", "car", "ball", "handrail",
                "baseball", "basketball"),
    "Act_VIP": ("walk", "run", "swing", "pick", "bring", "kick", "put", "squat", "throw", "hop",
                "dance", "jump", "turn", "stumble", "dance", "stop", "sit", "lift", "lower", "raise",
                "wash", "stand", "kneel", "stroll", "rub", "bend", "balance", "flap", "jog", "shuffle",
                "lean", "rotate", "spin", "spread", "climb"),
    "Desc_VIP": ("slowly", "carefully", "fast", "careful", "slow", "quickly", "happy", "angry",
                 "sad", "happily", "angrily", "sadly"),
}  # fmt: skip
# word -> VIP class; reversed so that the first listed class wins, as the original's loop
_VIP_POS = {w: pos for pos, words in reversed(VIP_WORDS.items()) for w in words}

MAX_TEXT_LEN = 20  # tokens kept; +2 for sos/eos gives the evaluator's 22 steps
GLOVE_PREFIX = "our_vab"


def pos_one_hot(pos: str) -> np.ndarray:
    """(15,) float64 one-hot of a POS tag; unknown tags map to OTHER."""
    vec = np.zeros(len(POS_ENUMERATOR))
    vec[POS_ENUMERATOR.get(pos, POS_ENUMERATOR["OTHER"])] = 1
    return vec


def _split_token(token: str) -> tuple[str, str]:
    parts = token.split("/")
    if len(parts) != 2:
        raise InputError(f"caption token {token!r} is not of the form 'word/POS' (e.g. 'walk/VERB')")
    return parts[0], parts[1]


class WordVectorizer:
    """`vectorizer["walk/VERB"] -> (word_vec (dim,), pos_one_hot (15,))`, as the original.

    Known words get their GloVe vector and their POS (or VIP category if listed in
    VIP_WORDS); unknown words get the 'unk' vector and POS OTHER.
    """

    def __init__(self, word2vec: dict[str, np.ndarray]):
        if "unk" not in word2vec:
            raise DataError("the GloVe vocabulary has no 'unk' entry; it is not the original our_vab files")
        self.word2vec = word2vec

    @classmethod
    def from_folder(cls, folder: str | os.PathLike, prefix: str = GLOVE_PREFIX) -> "WordVectorizer":
        """Read `<prefix>_data.npy`, `<prefix>_words.pkl`, `<prefix>_idx.pkl` (the released glove/ folder)."""
        folder = Path(folder)
        files = [folder / f"{prefix}_{s}" for s in ("data.npy", "words.pkl", "idx.pkl")]
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise DataError(
                f"GloVe folder {folder} lacks {', '.join(missing)}; download the original glove/ folder "
                f"(T2M-GPT dataset/prepare/download_glove.sh) and pass its path"
            )
        vectors = _load_vectors(files[0])
        words, word2idx = safe_pickle_load(files[1]), safe_pickle_load(files[2])
        return cls(_build_word2vec(vectors, words, word2idx, folder))

    @property
    def dim(self) -> int:
        return int(self.word2vec["unk"].shape[0])

    def __len__(self) -> int:
        return len(self.word2vec)

    def __getitem__(self, token: str) -> tuple[np.ndarray, np.ndarray]:
        word, pos = _split_token(token)
        if word not in self.word2vec:
            return self.word2vec["unk"], pos_one_hot("OTHER")
        return self.word2vec[word], pos_one_hot(_VIP_POS.get(word, pos))


def _load_vectors(path: Path) -> np.ndarray:
    try:
        vectors = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise DataError(f"{path} is not a readable numpy array file: {e}") from e
    if vectors.ndim != 2 or not np.issubdtype(vectors.dtype, np.floating):
        raise DataError(f"{path} should hold a (vocabulary, dim) float array, got {vectors.dtype} {vectors.shape}")
    return vectors


def _build_word2vec(vectors: np.ndarray, words, word2idx, folder: Path) -> dict[str, np.ndarray]:
    if not isinstance(words, (list, tuple)) or not isinstance(word2idx, dict):
        raise DataError(f"{folder}: words.pkl must hold a list of words and idx.pkl a dict word -> row")
    try:
        return {w: vectors[int(word2idx[w])] for w in words}
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise DataError(f"{folder}: words.pkl, idx.pkl and data.npy do not agree ({e!r})") from e


def caption_tokens(tokens: list[str], max_text_len: int = MAX_TEXT_LEN) -> tuple[list[str], int]:
    """Wrap caption tokens as the original eval dataset: ('sos' + tokens[:20] + 'eos', padded).

    Returns the `max_text_len + 2` tokens and the caption length (sos and eos included).
    Short captions are padded with 'unk/OTHER'; long ones cropped to `max_text_len` words.
    """
    if len(tokens) == 0:
        raise InputError("caption has no tokens")
    tokens = ["sos/OTHER"] + list(tokens[:max_text_len]) + ["eos/OTHER"]
    cap_len = len(tokens)
    return tokens + ["unk/OTHER"] * (max_text_len + 2 - cap_len), cap_len


def vectorize_caption(
    tokens: list[str], vectorizer: WordVectorizer, max_text_len: int = MAX_TEXT_LEN
) -> tuple[np.ndarray, np.ndarray, int]:
    """Caption tokens -> (word_embs (22, dim), pos_ohot (22, 15), cap_len), as `dataset_TM_eval.py`."""
    padded, cap_len = caption_tokens(tokens, max_text_len)
    pairs = [vectorizer[t] for t in padded]
    word_embs = np.stack([w for w, _ in pairs])
    pos_ohot = np.stack([p for _, p in pairs])
    return word_embs, pos_ohot, cap_len


def vectorize_captions(
    captions: list[list[str]], vectorizer: WordVectorizer, max_text_len: int = MAX_TEXT_LEN
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Batch of captions -> (word_embs (B, 22, dim) float32, pos_ohot (B, 22, 15) float32, cap_lens (B,))."""
    if len(captions) == 0:
        raise InputError("no captions given")
    out = [vectorize_caption(c, vectorizer, max_text_len) for c in captions]
    word_embs = np.stack([o[0] for o in out]).astype(np.float32)
    pos_ohot = np.stack([o[1] for o in out]).astype(np.float32)
    return word_embs, pos_ohot, np.array([o[2] for o in out], dtype=np.int64)
