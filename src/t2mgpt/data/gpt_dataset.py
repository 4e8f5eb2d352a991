"""(caption, code sequence) training pairs for the GPT, as the original `dataset_TM_train.py`.

Entries, built once from the codes of `t2mgpt tokenize` (TOKENS/<id>.npy, (K, N) int64: K
code sequences of one motion, K = 1 for our tokenizer):

- a motion with its code sequences and its whole-motion captions (`#0.0#0.0`); a motion
  without such a caption has no whole entry;
- one entry per caption with a time span `#start#end` (seconds): codes
  int(start*fps/4) .. int(end*fps/4) of each sequence (4 = frames per code); empty spans
  are dropped (the original kept slices past the end as empty sequences);
- motions without captions, and sequences longer than `max_codes` (block_size - 1), are
  skipped and counted (the original's tokenizer never produced longer ones).

HumanML3D lists each clip's left/right mirror `M<id>` in the split like any other motion,
with its own (left/right-swapped) captions; mirrors made by `t2mgpt tokenize` have theirs
in TOKENS/texts/. So a mirrored code sequence always trains with a mirrored caption.

Each sample draws a random sequence and a random caption of its entry; with probability
1/3 one code is dropped, at the tail or the head (1/2 each); then END and PADs follow:
`[c_1 .. c_n, END, PAD, ...]`, block_size integers (51: n <= 50 codes + END; input = the
first 50 after the text token).

With `span_share` s (0..1), each slot of an epoch instead draws a time-span entry with
probability s, else a whole-motion entry (uniformly within each group, with replacement), so
the many short spans of an auto-captioned dataset do not teach the GPT that motions are short.

Like the VQ windows (`t2mgpt.data.vq_dataset`), the order is a pure function of
(seed, epoch): epoch `e` shuffles the entries and draws every random choice of that epoch
from a generator seeded by (seed, e); global batch `k` is `perm[k*B:(k+1)*B]`, rank `r` of
`W` takes its contiguous share. A checkpoint resumes the stream from (epoch, index).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from t2mgpt.data.humanml3d import load_stats, read_captions, read_split
from t2mgpt.data.spec import HUMANML3D, spec_for_dim
from t2mgpt.data.vq_dataset import DataPosition
from t2mgpt.errors import DataError
from t2mgpt.tokenizer.vocab import CodeVocab

DROP_PROB = 1 / 3  # the original: np.random.choice([False, False, True])


@dataclass
class PairStats:
    """What was read and what was left out (for the log)."""

    motions: int = 0  # motions with at least one entry
    whole: int = 0  # whole-motion entries
    spans: int = 0  # time-span entries
    missing_codes: list[str] = field(default_factory=list)  # listed ids without TOKENS/<id>.npy
    no_captions: list[str] = field(default_factory=list)  # ids without a usable caption
    too_long: int = 0  # sequences longer than max_codes
    empty_spans: int = 0  # span captions whose code slice is empty


class CodeCaptionPairs:
    """The entries of one split: CSR-style arrays over sequences and captions.

    `codes` holds every code sequence back to back; sequence `s` is
    `codes[seq_start[s] : seq_start[s] + seq_len[s]]` (a span entry's sequences are slices of
    the motion's). Entry `e` has sequences `seq_ids[seq_ptr[e]:seq_ptr[e+1]]` and captions
    `cap_ids[cap_ptr[e]:cap_ptr[e+1]]`, indices into `captions` (unique caption texts, the
    rows of the text-feature table).
    """

    def __init__(self, tokens_dir: str | Path, data_dir: str | Path, split: str = "train", *,
                 max_codes: int = 50, nb_code: int | None = None, fps: float | None = None,
                 frames_per_code: int | None = None):
        tokens_dir, data_dir = Path(tokens_dir), Path(data_dir)
        if not tokens_dir.is_dir():
            raise DataError(f"codes folder {tokens_dir} not found: make it with `t2mgpt tokenize --data "
                            f"{data_dir} --vq VQ_RUN --out {tokens_dir}`")
        manifest = read_manifest(tokens_dir)
        if nb_code is None:
            if not manifest or "nb_code" not in manifest:
                raise DataError(f"{tokens_dir} has no tokenize.json saying how many codes the VQ-VAE has; pass nb_code")
            nb_code = int(manifest["nb_code"])
        self.nb_code = int(nb_code)
        self.vocab = CodeVocab(self.nb_code)
        if fps is None:
            fps = spec_for_dim(load_stats(data_dir)[0].shape[0], default=HUMANML3D).fps  # as HumanML3DDataset.fps
        if frames_per_code is None:
            frames_per_code = int(manifest.get("frames_per_code", 4)) if manifest else 4
        self.split, self.max_codes, self.fps, self.frames_per_code = split, max_codes, fps, frames_per_code
        # our tokenizer lists what it encoded (mirrors it made included); the original layout has no list
        ids = read_split(tokens_dir if (tokens_dir / f"{split}.txt").is_file() else data_dir, split)

        self.stats = st = PairStats()
        captions: dict[str, int] = {}
        chunks, seq_start, seq_len, seq_ids, cap_ids = [], [], [], [], []
        seq_ptr, cap_ptr = [0], [0]
        offset = 0

        is_span: list[bool] = []

        def add_entry(seqs: list[tuple[int, int]], caps: list[str], span: bool = False) -> None:
            is_span.append(span)
            for s, n in seqs:
                seq_ids.append(len(seq_start))
                seq_start.append(s)
                seq_len.append(n)
            cap_ids.extend(captions.setdefault(c, len(captions)) for c in caps)
            seq_ptr.append(len(seq_ids))
            cap_ptr.append(len(cap_ids))

        for mid in ids:
            path = tokens_dir / f"{mid}.npy"
            if not path.is_file():
                st.missing_codes.append(mid)
                continue
            rows = load_codes(path, self.nb_code)
            text = tokens_dir / "texts" / f"{mid}.txt"  # mirrors made by `t2mgpt tokenize`
            if not text.is_file():
                text = data_dir / "texts" / f"{mid}.txt"
            caps = read_captions(text) if text.is_file() else ()
            if not caps:
                st.no_captions.append(mid)
                continue
            chunks.append(rows.reshape(-1))
            starts = offset + np.arange(len(rows)) * rows.shape[1]
            offset += rows.size
            n_entries = len(seq_ptr)
            whole = [c.text for c in caps if c.whole]
            if whole and rows.shape[1]:
                seqs = [(int(s), rows.shape[1]) for s in starts]
                kept = [(s, n) for s, n in seqs if n <= max_codes]
                st.too_long += len(seqs) - len(kept)
                if kept:
                    add_entry(kept, whole)
                    st.whole += 1
            for c in caps:
                if c.whole:
                    continue
                a = int(c.start * fps / frames_per_code)
                b = min(int(c.end * fps / frames_per_code), rows.shape[1])
                if a >= b:  # the original skips a >= b before clipping; slices past the end were empty
                    st.empty_spans += 1
                    continue
                if b - a > max_codes:
                    st.too_long += len(rows)
                    continue
                add_entry([(int(s) + a, b - a) for s in starts], [c.text], span=True)
                st.spans += 1
            st.motions += len(seq_ptr) > n_entries

        if len(seq_ptr) == 1:
            raise DataError(
                f"no usable (caption, codes) pair in the {split} split of {tokens_dir}: "
                f"{len(st.missing_codes)} of {len(ids)} ids have no codes, {len(st.no_captions)} no caption, "
                f"{st.too_long} sequences exceed {max_codes} codes; check --tokens/--data"
            )
        self.codes = np.concatenate(chunks).astype(np.int64)
        self.seq_start = np.asarray(seq_start, dtype=np.int64)
        self.seq_len = np.asarray(seq_len, dtype=np.int64)
        self.seq_ids = np.asarray(seq_ids, dtype=np.int64)
        self.seq_ptr = np.asarray(seq_ptr, dtype=np.int64)
        self.cap_ids = np.asarray(cap_ids, dtype=np.int64)
        self.cap_ptr = np.asarray(cap_ptr, dtype=np.int64)
        self.captions: list[str] = list(captions)
        self.is_span = np.asarray(is_span, dtype=bool)  # (entries,) time-span entry, else whole motion

    def __len__(self) -> int:
        return len(self.seq_ptr) - 1

    def choose(self, entries: np.ndarray, u_seq: np.ndarray, u_cap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(sequence id, caption id) of each entry, picked by uniforms in [0, 1)."""
        n_seq = self.seq_ptr[entries + 1] - self.seq_ptr[entries]
        n_cap = self.cap_ptr[entries + 1] - self.cap_ptr[entries]
        seq = self.seq_ids[self.seq_ptr[entries] + (u_seq * n_seq).astype(np.int64)]
        cap = self.cap_ids[self.cap_ptr[entries] + (u_cap * n_cap).astype(np.int64)]
        return seq, cap

    def all_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """Every (sequence id, caption id) pair of every entry, in order (for validation)."""
        seq, cap = [], []
        for e in range(len(self)):
            s = self.seq_ids[self.seq_ptr[e]:self.seq_ptr[e + 1]]
            c = self.cap_ids[self.cap_ptr[e]:self.cap_ptr[e + 1]]
            seq.append(np.repeat(s, len(c)))
            cap.append(np.tile(c, len(s)))
        return np.concatenate(seq), np.concatenate(cap)

    def targets(self, seq: np.ndarray, drop: np.ndarray | None = None, tail: np.ndarray | None = None,
                block_size: int = 51) -> tuple[np.ndarray, np.ndarray]:
        """Padded targets (B, block_size) `[codes, END, PAD...]` and code counts (B,).

        `drop[i]`: drop one code of sequence i, the last one if `tail[i]` else the first.
        """
        out = np.full((len(seq), block_size), self.vocab.pad, dtype=np.int64)
        lengths = self.seq_len[seq].copy()
        starts = self.seq_start[seq].copy()
        if drop is not None:
            drop = drop & (lengths > 0)
            starts += drop & ~tail  # head drop: skip the first code
            lengths -= drop
        if lengths.max(initial=0) > block_size - 1:
            raise DataError(f"a sequence of {lengths.max()} codes does not fit block_size {block_size}")
        for i, (s, n) in enumerate(zip(starts.tolist(), lengths.tolist())):
            out[i, :n] = self.codes[s:s + n]
            out[i, n] = self.vocab.end
        return out, lengths

    def summary(self) -> str:
        st = self.stats
        parts = [f"{len(self)} entries ({st.whole} whole motions, {st.spans} time spans) of {st.motions} motions",
                 f"{len(self.captions)} distinct captions"]
        if st.missing_codes:
            parts.append(f"{len(st.missing_codes)} ids without codes skipped")
        if st.no_captions:
            parts.append(f"{len(st.no_captions)} motions without captions skipped")
        if st.too_long:
            parts.append(f"{st.too_long} sequences over {self.max_codes} codes skipped")
        if st.empty_spans:
            parts.append(f"{st.empty_spans} empty time spans skipped")
        return ", ".join(parts)


def read_manifest(tokens_dir: Path) -> dict | None:
    """TOKENS/tokenize.json of `t2mgpt tokenize` (None for codes in the original's layout)."""
    path = Path(tokens_dir) / "tokenize.json"
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise DataError(f"{path} is not readable JSON ({e}); re-run `t2mgpt tokenize`") from e
    if not manifest.get("complete"):
        raise DataError(f"{tokens_dir} holds an unfinished `t2mgpt tokenize` run; run it again")
    return manifest


def load_codes(path: Path, nb_code: int | None = None) -> np.ndarray:
    """(K, N) int64 code sequences of one motion, checked."""
    try:
        a = np.load(path)
    except (ValueError, OSError) as e:
        raise DataError(f"{path} is not a readable .npy file ({e}); re-run `t2mgpt tokenize`") from e
    if a.ndim == 1:
        a = a[None]
    if a.ndim != 2 or not np.issubdtype(a.dtype, np.integer):
        raise DataError(f"{path} holds a {a.dtype} array of shape {a.shape}; expected (K, N) integer code indices")
    if a.size and (a.min() < 0 or (nb_code is not None and a.max() >= nb_code)):
        raise DataError(f"{path} holds code indices in [{a.min()}, {a.max()}] but the VQ-VAE has {nb_code} codes: "
                        f"the codes were made by another VQ-VAE; re-run `t2mgpt tokenize` with this --vq")
    return a.astype(np.int64, copy=False)


@dataclass
class CodeBatch:
    target: np.ndarray  # (b, block_size) int64: codes, END, PAD...
    lengths: np.ndarray  # (b,) codes per row (END at index lengths)
    caption: np.ndarray  # (b,) caption ids (rows of the text-feature table)


class PairLoader:
    """Endless, resumable stream of this rank's share of each global batch (see the module doc)."""

    def __init__(self, pairs: CodeCaptionPairs, batch_size: int, block_size: int, seed: int, rank: int = 0,
                 world_size: int = 1, span_share: float = -1.0):
        if batch_size % world_size:
            raise DataError(f"batch size {batch_size} is the global batch and must be divisible by the "
                            f"number of processes ({world_size})")
        if len(pairs) < batch_size:
            raise DataError(f"only {len(pairs)} training entries, fewer than one batch of {batch_size}: "
                            f"lower --batch-size or add data")
        self.pairs, self.batch_size, self.block_size, self.seed = pairs, batch_size, block_size, seed
        self.rank, self.world_size = rank, world_size
        self.weights = None  # entry probabilities when span_share is set (-1: every entry once per epoch)
        if span_share != -1.0:
            spans = int(pairs.is_span.sum())
            if not 0.0 <= span_share <= 1.0 or (span_share > 0 and not spans) or (span_share < 1 and spans == len(pairs)):
                raise DataError(f"span_share {span_share} needs time-span entries (has {spans}) and whole-motion "
                                f"entries (has {len(pairs) - spans}) in the share asked, and must be in [0, 1] or -1")
            self.weights = np.where(pairs.is_span, span_share / max(spans, 1),
                                    (1 - span_share) / max(len(pairs) - spans, 1))
            self.weights /= self.weights.sum()
        self.local_batch = batch_size // world_size
        self.steps_per_epoch = len(pairs) // batch_size  # drop_last, as the original
        self.position = DataPosition()
        self._plan_epoch: int | None = None

    def epoch_plan(self, epoch: int) -> dict[str, np.ndarray]:
        """The shuffled entry order of `epoch` and every entry's random choices."""
        n = len(self.pairs)
        rng = np.random.default_rng([self.seed, epoch])
        return {
            "perm": rng.permutation(n) if self.weights is None else rng.choice(n, size=n, p=self.weights),
            "u_seq": rng.random(n),
            "u_cap": rng.random(n),
            "drop": rng.random(n) < DROP_PROB,
            "tail": rng.random(n) < 0.5,
        }

    def batch(self, epoch: int, index: int) -> CodeBatch:
        if self._plan_epoch != epoch:
            self._plan = self.epoch_plan(epoch)
            self._plan_epoch = epoch
        p = self._plan
        lo = index * self.batch_size + self.rank * self.local_batch
        e = p["perm"][lo:lo + self.local_batch]
        # an entry appears once per epoch, so its choices can be indexed by entry; drawn with
        # replacement (span_share) it may appear twice, so by slot
        k = e if self.weights is None else np.arange(lo, lo + self.local_batch)
        seq, cap = self.pairs.choose(e, p["u_seq"][k], p["u_cap"][k])
        target, lengths = self.pairs.targets(seq, p["drop"][k], p["tail"][k], self.block_size)
        return CodeBatch(target, lengths, cap)

    def __iter__(self):
        return self

    def __next__(self) -> CodeBatch:
        pos = self.position
        out = self.batch(pos.epoch, pos.index)
        pos.index += 1
        if pos.index == self.steps_per_epoch:
            pos.epoch, pos.index = pos.epoch + 1, 0
        return out

    def close(self) -> None:
        pass

    def state_dict(self) -> dict:
        return self.position.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.position = DataPosition(int(state["epoch"]), int(state["index"]))
