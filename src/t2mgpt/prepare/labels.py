"""Short action labels (CMU trial descriptions) -> clean captions, and which captions hold
for *any part* of a long motion.

CMU descriptions are terse labels ("walk", "JumpForward", "RightWideTurn CleanedGRS",
"monkey (human subject)", "walk, shake hands (2 subjects - subject A)"). `clean_label`
removes capture notes and drops labels that do not describe the motion (calibration poses,
"Story", bare numbers, two-person scenes told from both sides); `label_sentence` turns a
clean label into a simple sentence ("a person walks forward") because the sentence
encoders (and HumanML3D-trained evaluators) were trained on sentences.

`holds_for_any_part` decides whether a caption of a whole trial can be attached to each
segment of that trial when the trial is split: true only for a single, repetitive
activity ("walk", "slow jog", "hop on left foot", "breast stroke", "dance") -- not for
sequences ("walk forward, turn around and walk back") or one-off events ("sit down").
"""
from __future__ import annotations

import re

from t2mgpt.prepare.text import words

# Labels that are not a description of the motion.
_JUNK = {
    "motorcycle", "motorcycle pose", "range of motion", "t pose", "tpose", "calibration",
    "story", "sequence", "sequesnce", "long sequence good", "bad start sequnce",
    "up right sequence", "start", "idle", "forward", "small forward", "free style",
    "cool", "clean", "cleaned", "unknown", "misc", "test", "various", "stop and go", "stop ang go",
}
_NOTE = re.compile(r"\(\s*(?:\d+\s*)?subjects?\s*-\s*subject\s+[a-z]\s*\)", re.IGNORECASE)
_CLEANED = re.compile(r"\s*cleaned\s*grs\s*$", re.IGNORECASE)
_HUMAN_SUBJECT = re.compile(r"\(\s*human subject\s*\)", re.IGNORECASE)
# the two people of a two-person scene are named "A" and "B"
_TWO_PERSON = re.compile(r"(?:^|[\s;,])(?:A|B)(?:'s)?(?=[\s;,.]|$)")


def split_camel(text: str) -> str:
    """'RightWideTurn' -> 'Right Wide Turn', 'SlowWalk8' -> 'Slow Walk 8'."""
    text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text)
    text = re.sub(r"(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])", " ", text)
    return text


def clean_label(label: str) -> tuple[str | None, str]:
    """(clean lower-case label, '') or (None, reason it was dropped)."""
    text = " ".join(label.split())
    if not text:
        return None, "empty"
    if _NOTE.search(text):
        text = _NOTE.sub("", text).strip()
        if _TWO_PERSON.search(text):
            return None, "two-person scene"
    text = _CLEANED.sub("", text)
    animal = bool(_HUMAN_SUBJECT.search(text))
    text = _HUMAN_SUBJECT.sub("", text)
    text = split_camel(text).lower()
    text = re.sub(r"\s+", " ", text).strip(" .;,-")
    bare = re.sub(r"[^a-z0-9 ]", " ", text)
    bare = " ".join(bare.split())
    if not bare or bare in _JUNK or "motorcycle" in bare or "range of motion" in bare or "t pose" in bare:
        return None, "calibration / not a description"
    if not re.search(r"[a-z]{3,}", bare):
        return None, "no words"
    if animal:
        text = f"{text} (animal)"
    return text, ""


# --- sentences -----------------------------------------------------------------------------

_VERBS3 = {"go": "goes", "do": "does", "be": "is", "have": "has"}
# first words of labels that are verbs in the base form ("walk forward" -> "walks forward")
_LABEL_VERBS = set("""walk run jog jump hop skip climb hang swing go sit dangle descend rock lower pull
    drop lean turn bend scoop rise lift wash punch strike kick throw dribble shoot pass step carry
    push drag sweep mop wave point direct drink unscrew screw reach tiptoe grab stretch squat stand
    get fall roll flip dance march crawl lay lie look fix adjust avoid navigate follow wait hold put
    pick set stumble spin twist sidestep balance bow curtsey shrug yawn laugh cry mope stomp shake
    link rush stare threaten comfort explain quarrel pound move raise take make come bring keep
    start stop play swim sneak limp shuffle stroll wander stride slide leap bounce catch touch clap
    rub wipe cross hit slap duck crouch kneel pivot greet cover fight box block dodge swat grip
    hug conduct cast sing talk eat sip pour cut chop paint drive fake break""".split())
_ADJ_LABELS = set("happy sad angry shy sexy cool clumsy scared childish lavish elderly tired proud".split())
# nouns that take "a" in "a person does a slow walk"
_COUNT_NOUNS = set("""walk jump run turn kick dance flip roll stroke pitch throw shot swing twist step
    sidestep hop cartwheel bow curtsey punch leap spin dive lunge squat stretch toss bunt putt
    sequence routine""".split())


def third_person(verb: str) -> str:
    if verb in _VERBS3:
        return _VERBS3[verb]
    if verb.endswith(("s", "sh", "ch", "x", "z", "o")):
        return verb + "es"
    if len(verb) > 2 and verb.endswith("y") and verb[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def _conjugate_clauses(text: str) -> str:
    """Put the leading base-form verb of each clause in the third person."""
    parts = re.split(r"(\s*[,;/]\s*|\s+and\s+|\s+then\s+)", text)
    out = []
    for part in parts:
        first, _, rest = part.partition(" ")
        if first in _LABEL_VERBS:
            part = third_person(first) + (" " + rest if rest else "")
        out.append(part)
    return "".join(out)


def label_sentence(label: str) -> str:
    """A clean label -> a short sentence with 'a person' as subject.

    'walk forward' -> 'a person walks forward'; 'marching' -> 'a person is marching';
    'slow walk' -> 'a person does a slow walk'; 'yoga' -> 'a person does yoga';
    'monkey (animal)' -> 'a person acts like a monkey'; 'playground - climb, swing'
    -> 'a person climbs, swings (playground)'.
    """
    text = label.strip()
    if text.endswith("(animal)"):
        return f"a person acts like a {text[:-len('(animal)')].strip()}"
    context = ""
    if " - " in text:
        context, text = (s.strip() for s in text.split(" - ", 1))
    first = re.match(r"[a-z']*", text).group(0)
    last = re.split(r"[ /]", text)[-1]
    compound = bool(re.search(r"[,;/]| and | then ", text))
    if " " not in text and (first in _ADJ_LABELS or first.endswith(("ed", "ish", "ful", "y"))) \
            and first not in _LABEL_VERBS:
        sentence = f"a person acts {text}"  # a mood or style: "happy", "sneaky", "depressed"
    elif first in _LABEL_VERBS and (compound or last not in _COUNT_NOUNS or " " not in text):
        sentence = "a person " + _conjugate_clauses(text)
    elif first.endswith("ing") and len(first) > 4:
        sentence = "a person is " + text
    else:
        article = ""
        if last in _COUNT_NOUNS and not text.startswith(("a ", "an ")):
            article = "an " if text[0] in "aeiou" else "a "
        sentence = f"a person does {article}{text}"
    return f"{sentence} ({context})" if context else sentence


# --- captions that hold for any part of a trial ------------------------------------------------

# single activities that go on for the whole trial
_REPETITIVE = set("""walk walks walking run runs running jog jogs jogging march marches marching hop hops
    hopping skip skips skipping dance dances dancing breakdance boxing swim swims swimming
    stroke crawl crawls crawling limp limps limping shuffle shuffles shuffling sneak sneaks sneaking
    stroll strolls strolling wander wanders wandering stride strides striding dribble dribbles
    dribbling yoga jumping jacks""".split())
# words that mark an event or a change within the trial
_EVENT = set("""turn turns turning around stop stops stopping start starts starting sit sits sitting
    stand stands standing get gets getting up down pick picks picking put puts set fall falls
    falling lay lays laying lie lies lying kneel kneels then after before into onto over off
    degree degrees figure eight sequence end endof back backward backwards and while""".split())
_SUBJECT_WORDS = set("a an the person man woman someone somebody human figure is are does do".split())


def holds_for_any_part(caption: str) -> bool:
    """True when the caption names one repetitive activity and nothing that happens only once.

    Used for the segments of a trial longer than the segment length: such a caption
    describes every part of the trial ("a person walks slowly", "jog", "breast stroke").
    'back(ward)' counts as an event (a walk that goes forward and back), except that
    'walk backwards' as a whole-trial style is kept when no other motion is named.
    """
    if re.search(r"[,;]", caption) or " - " in caption:
        return False
    ws = [w for w in words(caption) if w not in _SUBJECT_WORDS]
    if not ws or not any(w in _REPETITIVE for w in ws):
        return False
    events = [w for w in ws if w in _EVENT]
    if any(ch.isdigit() for ch in caption):
        return False
    # 'walk backwards' alone is a single activity
    if events and all(w in ("back", "backward", "backwards") for w in events):
        return sum(w in _REPETITIVE for w in ws) == 1 and "and" not in ws
    return not events
