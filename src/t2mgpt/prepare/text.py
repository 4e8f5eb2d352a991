"""Caption tokens `word/POS` without spaCy, and the HumanML3D caption-line format.

HumanML3D tokenised its captions with spaCy (`en_core_web_sm`): '-' removed, non-alphabetic
tokens dropped, nouns and verbs lemmatised (except 'left'), each token written as
`word/UPOS`. No spaCy model is available offline, so this is a small rule-based stand-in:
closed-class word lists, a motion-verb lexicon, suffix rules and a little context (a word
after a determiner is a noun). It is approximate -- good enough for the text files'
format and for the evaluator's word vectorizer, which only looks up the lemma and maps
any tag outside its 15 classes (CCONJ, SCONJ, PART, ...) to OTHER, and motion words
(left, walk, hand, ...) to their VIP class whatever their tag.
"""
from __future__ import annotations

import re

# ---------------------------------------------------------------------------------------
# closed classes (spaCy's Universal POS tags)
# ---------------------------------------------------------------------------------------
_DET = set("a an the this that these those each every some any another no all both either neither".split())
_PRON = set("""i me my mine you your yours he him his she her hers it its we us our ours they them
    their theirs himself herself itself themselves myself yourself ourselves someone somebody
    something anyone anybody anything everyone everybody everything nobody nothing one who whom
    whose what which""".split())
_POSSESSIVE = set("my your his her its our their".split())
_ADP = set("""in on at of with from into onto over under around through across along behind between
    toward towards about above below by for like off out up down near past before after during
    against upon within without beside besides beneath underneath inside outside throughout via
    per than""".split())
_AUX = set("is are was were be been being am do does did has have had can could will would shall should may might must".split())
_PARTICLES = set("up down out off around over back".split())
_MAIN_VERB_AUX = set("do does did has have had".split())
_CCONJ = set("and or but nor yet plus".split())
_SCONJ = set("while as if because since until unless though although whether when where once so".split())
_PART = set(["not"])
_NUM = set("""zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen
    sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred
    thousand half""".split())
_ADV = set("""then again back forward forwards backward backwards sideways away around also very too quickly
    slowly fast together upward upwards downward downwards clockwise counterclockwise anticlockwise
    once twice thrice still just only almost here there now soon later finally repeatedly slightly
    straight quite rather really even ever never always often sometimes instead afterwards apart
    aside ahead home outward inward backwards""".split())
_ADJ = set("""left right big small large little long short high low wide narrow heavy light slow quick
    normal happy sad angry tired old young other same several few many much full empty upper lower
    front rear middle whole open closed flat tall deep loud quiet strong weak hard soft careful
    proud drunk crazy wild stiff bent straight awkward casual brisk steady uneven various different
    first second third last next opposite diagonal circular single double fancy sexy cool shy
    graceful clumsy bouncy sneaky lazy giant tiny huge""".split())

# Motion verbs (base forms): a word whose lemma is listed is a verb unless a determiner,
# possessive or adjective in front of it makes it a noun ("a jump", "his left hand").
_VERBS = set("""have walk run jog jump hop skip climb hang swing go sit dangle descend rock lower pull drop lean
    turn bend scoop rise lift wash punch strike kick throw dribble shoot pass step carry push drag
    sweep mop wave point direct drink unscrew screw reach tiptoe grab stretch squat stand get fall
    roll flip dance march crawl lay lie look fix adjust avoid navigate follow wait hold put pick
    set stumble spin twist sidestep balance bow curtsey shrug yawn laugh cry mope stomp shake link
    rush stare threaten comfort explain quarrel pound move raise take make come bring keep begin
    start stop play move swim sneak limp shuffle stroll wander stride pace slide glide leap bounce
    catch touch tap clap rub scratch brush wipe clean cross place hit slap pat wiggle wobble sway
    rotate circle tilt nod wobble wave salute cheer celebrate argue fight box block dodge duck
    crouch kneel squat pivot skate ski row paddle swat grip hug kiss greet cover protect fold
    unfold open close shut kneel trip slip perform act imitate mimic pretend use do hold walk
    repeat continue return approach enter leave exit face stare show gesture signal conduct
    cast spell sing talk speak yell shout answer call eat sip pour stir cut chop chopsticks
    type write draw paint read lay rest relax sleep wake breathe sniff smell hear listen watch
    see check search count hammer saw drill lift press bench curl row sweep vacuum dust""".split())
_IRREGULAR_VERBS = {
    "ran": "run", "sat": "sit", "stood": "stand", "went": "go", "gone": "go", "took": "take",
    "taken": "take", "threw": "throw", "thrown": "throw", "got": "get", "gotten": "get",
    "fell": "fall", "fallen": "fall", "held": "hold", "began": "begin", "begun": "begin",
    "came": "come", "made": "make", "swung": "swing", "spun": "spin", "bent": "bend",
    "knelt": "kneel", "lay": "lie", "lain": "lie", "did": "do", "done": "do", "brought": "bring",
    "caught": "catch", "kept": "keep", "led": "lead", "rose": "rise", "risen": "rise",
    "leapt": "leap", "struck": "strike", "hung": "hang", "slid": "slide", "strode": "stride",
    "swam": "swim", "ate": "eat", "drank": "drink", "sang": "sing", "spoke": "speak",
    "shook": "shake", "wrote": "write", "drew": "draw", "saw": "see", "seen": "see",
    "stuck": "stick", "flung": "fling", "dove": "dive", "does": "do", "has": "have", "had": "have",
}
_IRREGULAR_NOUNS = {
    "feet": "foot", "men": "man", "women": "woman", "people": "person", "children": "child",
    "teeth": "tooth", "knives": "knife", "halves": "half", "mice": "mouse", "geese": "goose",
}
_NO_PLURAL = set("""this is was his has does as us its yes bus gas glass class cross grass dress
    chess press process less loss boss kiss miss pass mess toss across always sideways
    backwards forwards upwards downwards towards chopsticks jacks abs""".split())

_TOKEN = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
_CLITICS = ("n't", "'s", "'re", "'ll", "'ve", "'d", "'m")


def words(sentence: str) -> list[str]:
    """Alphabetic words, lower-cased, as spaCy + `isalpha` leave them ('-' removed first)."""
    out = []
    for tok in _TOKEN.findall(sentence.replace("-", "")):
        low = tok.lower()
        for clitic in _CLITICS:
            if low.endswith(clitic) and len(low) > len(clitic):
                low = low[: -len(clitic)]  # the clitic itself is not alphabetic: dropped
                break
        if low.isalpha():
            out.append(low)
    return out


def _verb_lemma(word: str) -> str | None:
    """Base form if `word` is an inflection of a known verb, else None."""
    if word in _VERBS:
        return word
    if word in _IRREGULAR_VERBS:
        return _IRREGULAR_VERBS[word]
    for suffix in ("ing", "ed", "es", "s"):
        if not word.endswith(suffix) or len(word) <= len(suffix) + 1:
            continue
        stem = word[: -len(suffix)]
        candidates = [stem, stem + "e"]
        if len(stem) > 2 and stem[-1] == stem[-2]:
            candidates.append(stem[:-1])  # hopping -> hop, stepped -> step
        if suffix in ("ed", "es") and stem.endswith("i"):
            candidates.append(stem[:-1] + "y")  # carried -> carry
        for c in candidates:
            if c in _VERBS:
                return c
    return None


def _noun_lemma(word: str) -> str:
    if word in _IRREGULAR_NOUNS:
        return _IRREGULAR_NOUNS[word]
    if word in _NO_PLURAL or len(word) <= 3 or word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "zes", "sses")):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


def _open_class_word(word: str) -> bool:
    closed = (_DET, _PRON, _ADP, _AUX, _CCONJ, _SCONJ, _PART, _NUM, _ADV, _PARTICLES)
    return not any(word in c for c in closed) and word not in ("to", "left", "right")


def _guess_open_class(word: str) -> str:
    if word.endswith("ly") and len(word) > 4:
        return "ADV"
    if word in _ADJ or word.endswith(("ful", "ous", "ive", "less", "ish")) or (
            len(word) > 6 and word.endswith(("able", "ible", "ic"))):
        return "ADJ"
    if word.endswith("ing") and len(word) > 5:
        return "VERB"
    if word.endswith("ed") and len(word) > 4:
        return "VERB"
    return "NOUN"


def pos_tag(tokens: list[str]) -> list[tuple[str, str]]:
    """[(lemma-or-word, UPOS)] for lower-case words (HumanML3D: nouns/verbs lemmatised, 'left' kept)."""
    tagged: list[tuple[str, str]] = []
    for i, w in enumerate(tokens):
        prev = tagged[-1][1] if tagged else None
        prev_word = tokens[i - 1] if i else None
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if w in _DET and not (w == "that" and prev in ("VERB", "NOUN")):
            pos = "DET"
        elif w in _POSSESSIVE or w in _PRON:
            pos = "PRON"
        elif w in _MAIN_VERB_AUX and (nxt is None or _verb_lemma(nxt) is None or nxt in _DET):
            pos = "VERB"  # "does a jump", "has a ball": a main verb
        elif w in _AUX:
            pos = "AUX"
        elif w in _CCONJ:
            pos = "CCONJ"
        elif w == "to":
            pos = "PART" if nxt is not None and _verb_lemma(nxt) is not None else "ADP"
        elif w in _PART:
            pos = "PART"
        elif w in _SCONJ:
            pos = "SCONJ"
        elif w in _NUM:
            pos = "NUM"
        elif w in ("left", "right"):
            pos = "ADJ" if nxt is not None and _open_class_word(nxt) else "ADV"
        elif w in _PARTICLES:
            # a particle with an object is a preposition ("around the table"), else an adverb
            pos = "ADP" if nxt is not None and (nxt in _DET or nxt in _POSSESSIVE) else "ADV"
        elif w in _ADP:
            pos = "ADP"
        elif w in _ADV:
            pos = "ADV"
        elif _verb_lemma(w) is not None:
            # after a determiner / possessive / adjective / preposition: a noun ("a kick", "his hand")
            nounish = prev in ("DET", "ADJ", "NUM") or prev_word in _POSSESSIVE or (prev == "ADP" and not w.endswith("ing"))
            pos = "NOUN" if nounish else "VERB"
        elif w in _ADJ:
            pos = "ADJ"
        else:
            pos = _guess_open_class(w)
        tagged.append((w, pos))
    out = []
    for w, pos in tagged:
        if pos == "VERB" and w != "left":
            w = _verb_lemma(w) or _strip_verb(w)
        elif pos == "NOUN" and w != "left":
            w = _noun_lemma(w)
        out.append((w, pos))
    return out


_E_ENDINGS = ("at", "iz", "v", "c", "g", "us", "ur", "bl", "pl", "dl", "tl", "gl", "ak", "ok", "ap", "ar")


def _strip_verb(word: str) -> str:
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            stem = word[: -len(suffix)]
            if len(stem) > 2 and stem[-1] == stem[-2] and stem[-1] not in "lsz":
                return stem[:-1]  # stepped -> step
            if stem.endswith(_E_ENDINGS):
                return stem + "e"  # exaggerated -> exaggerate, moving -> move
            return stem
    return word


def tokenize(sentence: str) -> list[str]:
    """Caption -> ['a/DET', 'person/NOUN', 'walk/VERB', ...] (HumanML3D's token format)."""
    return [f"{w}/{pos}" for w, pos in pos_tag(words(sentence))]


def clean_caption(text: str) -> str:
    """One line of text: whitespace collapsed, '#' (the field separator) removed."""
    return " ".join(text.replace("#", " ").split())


def caption_line(caption: str, start: float = 0.0, end: float = 0.0) -> str:
    """`caption#tokens#start#end` (start = end = 0.0: the whole motion)."""
    caption = clean_caption(caption)
    return f"{caption}#{' '.join(tokenize(caption))}#{float(start)}#{float(end)}"


# a mirrored motion turns the other way: both the side and the turning sense swap
_MIRROR_RE = re.compile(r"\b(left|right|(?:counter|anti)[- ]?clockwise|clockwise)\b", re.IGNORECASE)


def _mirrored_word(word: str) -> str:
    key = word.lower()
    if key in ("left", "right"):
        return "right" if key == "left" else "left"
    return "clockwise" if key.startswith(("counter", "anti")) else "counterclockwise"


def swap_left_right(text: str) -> str:
    """Caption of the mirrored motion: 'left' <-> 'right' (as HumanML3D) and the turning sense,
    'clockwise' <-> 'counterclockwise' ('counter-clockwise', 'anticlockwise', ... -> 'clockwise').
    Case is kept; works on whole caption lines (text#word/POS tokens#start#end)."""
    def repl(m: re.Match) -> str:
        word = m.group(0)
        new = _mirrored_word(word)
        if word.isupper():
            return new.upper()
        if word[0].isupper():
            return new.capitalize()
        return new

    return _MIRROR_RE.sub(repl, text)


_BODY_WORDS = set("""person man woman human people someone guy girl boy child figure character body head neck
    shoulder shoulders arm arms elbow hand hands wrist finger fingers hip hips leg legs knee knees foot
    feet toe toes ankle back chest waist torso side ground floor air place circle line step steps ball
    object box chair table wall door stairs obstacle direction time times degree degrees way motion
    position pose jumping jacks cartwheel dance exercise style manner rhythm music""".split())


def known_english_word(word: str) -> bool:
    """`word` (lower case) is in the caption lexicons: closed-class words, motion verbs (any
    inflection), common adjectives/adverbs and body/scene nouns. A rough English test."""
    lists = (_DET, _PRON, _ADP, _AUX, _CCONJ, _SCONJ, _PART, _NUM, _ADV, _PARTICLES, _ADJ, _BODY_WORDS)
    return (word in ("to", "left", "right") or any(word in c for c in lists) or _verb_lemma(word) is not None
            or _noun_lemma(word) in _BODY_WORDS or (word.endswith("ly") and _verb_lemma(word[:-2]) is not None))
