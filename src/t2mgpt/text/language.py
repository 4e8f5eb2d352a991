"""Is a prompt English? The text encoders (MiniLM, CLIP) were trained on English text only, so
another language gives a motion that ignores the prompt; we warn instead of failing.

The test is a heuristic: more than a quarter of the letters outside ASCII (other scripts,
accents), or -- for two words or more -- fewer than half of the words in the caption
lexicons of `t2mgpt.prepare.text` (function words, motion verbs, body and scene nouns).
Typos and rare English words rarely tip it, since most prompts hold "a person" and a verb.
"""
from __future__ import annotations

import re

_WORD = re.compile(r"[^\W\d_]+")


class NonEnglishWarning(UserWarning):
    """The prompt does not look like English (`T2MGPT.__call__` warns with it)."""


def english_warning(text: str) -> str | None:
    """A one-line warning if `text` does not look like English, else None."""
    from t2mgpt.prepare.text import known_english_word

    letters = [c for c in text if c.isalpha()]
    if not letters:
        return None
    words = [w.lower() for w in _WORD.findall(text)]
    non_ascii = sum(not c.isascii() for c in letters) / len(letters)
    known = sum(known_english_word(w) for w in words if w.isascii()) / max(len(words), 1)
    if non_ascii > 0.25 or (len(words) >= 2 and known < 0.5):
        short = text if len(text) <= 40 else text[:37] + "..."
        return (f"{short!r} does not look like English: the text encoder understands English only, so the "
                f"motion will probably not follow it; describe the motion in English, e.g. 'a person waves "
                f"with the right hand'")
    return None
