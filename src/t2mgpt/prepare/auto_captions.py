"""Time-aligned captions from the motion itself: a kinematic action labeller.

In the spirit of PoseScript / MotionScript, the labeller reads what a person would see in the
joints (`t2mgpt.eval.kinematic_checks.Kinematics`: speed and direction of travel, heading
change, pelvis height, both feet off the ground, foot and hand heights, arm reach,
back-and-forth of a raised hand) and writes short HumanML3D-style sentences with the side
and direction words right ("a person kicks with the left leg", "a person walks forward, then
turns right"). It labels

* windows of `WINDOW_S` seconds every `HOP_S` seconds of a clip (span captions `start#end`),
  with the actions that hold in the window;
* the whole clip as the sequence of its windows' main actions ("..., then ...").

It says nothing when nothing is clear (standing, fidgeting). Sides: the joints are
HumanML3D's, the person's left at +x when facing +z; a left turn is counterclockwise seen
from above. A mirrored clip's captions are made by `prepare.text.swap_left_right` from the
original's, which matches labelling the mirrored joints (tested).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from t2mgpt.eval import kinematic_checks as kc

WINDOW_S = 4.0
HOP_S = 2.0
MIN_SPAN_S = 2.0
_COUNT = {2: "twice", 3: "three times", 4: "four times"}


@dataclass(frozen=True)
class AutoCaption:
    text: str
    start: float  # seconds, clip-local (0, 0: the whole clip)
    end: float


def _travel_phrase(k: kc.Kinematics) -> str | None:
    """'walks forward', 'runs', 'walks backward slowly', 'sidesteps to the left', or None."""
    path = k.path_length()
    if path < 0.6 or k.mean_speed() < 0.25:
        return None
    fwd, left = k.displacement()
    turn = k.turn_degrees()
    if kc.runs(k):
        verb = "runs"
    else:
        verb = "walks"
    if abs(turn) >= 270 and path >= 2.0:
        return f"{verb} in a circle to the {'left' if turn > 0 else 'right'}"
    net = np.hypot(fwd, left)
    if net < 0.5 * path:  # wanders around, no clear direction
        return f"{verb} around"
    if abs(fwd) >= abs(left):
        direction = "forward" if fwd > 0 else "backward"
    else:
        side = "left" if left > 0 else "right"
        return f"{'sidesteps' if verb == 'walks' else verb} to the {side}"
    speed = k.mean_speed()
    pace = " slowly" if verb == "walks" and speed < 0.5 else " quickly" if verb == "walks" and speed > 1.7 else ""
    return f"{verb} {direction}{pace}"


def _turn_phrase(k: kc.Kinematics) -> str | None:
    t = k.turn_degrees()
    if abs(t) >= 150:
        return "turns around"
    if abs(t) >= 60:
        return f"turns {'left' if t > 0 else 'right'}"
    return None


def _jump_phrase(k: kc.Kinematics) -> str | None:
    if k.uneven_ground:  # stepping onto blocks or stairs looks airborne from the lowest floor
        return None
    for side in kc.SIDES:
        if kc.hops(k, side):
            return f"hops on the {side} foot"
    n = len(k.jumps())
    if n == 0 or kc.runs(k):
        return None
    fwd, _ = k.displacement()
    where = " forward" if fwd >= 0.3 else " in place" if k.path_length() < 0.4 else ""
    return "jumps" + where + (f" {_COUNT[n]}" if n in _COUNT else "")


def _level_phrase(k: kc.Kinematics) -> str | None:
    """Pelvis low (sit / squat / crouch) and reaching the ground."""
    drop = k.crouch
    low_hand = kc.picks_up(k, 0.35)
    if not kc.lowers_pelvis(k, 0.25, 0.3):
        return "bends down to pick something up" if low_hand and drop.max() > 0.1 else None
    if low_hand:
        return "bends down to pick something up"
    stays_low = drop[-5:].mean() > 0.25
    starts_low = drop[:5].mean() > 0.25
    if starts_low and not stays_low:
        return "stands up"
    if stays_low and not starts_low:
        return "sits down" if drop.max() < 0.45 else "crouches down"
    return "squats down and stands back up" if not starts_low else None


def _limb_phrases(k: kc.Kinematics) -> list[str]:
    out = []
    kicks = [] if k.uneven_ground else [s for s in kc.SIDES if kc.kicks(k, s)]
    if len(kicks) == 1:
        out.append(f"kicks with the {kicks[0]} leg")
    waves = [s for s in kc.SIDES if kc.waves(k, s, min_seconds=1.0, min_reversals=3)]  # precision over recall
    if len(waves) == 1:
        out.append(f"waves with the {waves[0]} hand")
    elif kc.raises_arms(k, "both"):
        out.append("raises both arms above the head")
    else:
        raised = [s for s in kc.SIDES if kc.raises_arms(k, s)]
        if raised:
            out.append(f"raises the {raised[0]} hand")
    punches = [s for s in kc.SIDES if kc.punches(k, s)]
    if len(punches) == 1 and not waves:
        out.append(f"punches with the {punches[0]} hand")
    return out


def window_phrases(joints: np.ndarray, fps: float = kc.FPS) -> list[str]:
    """Phrases ('walks forward', 'turns left', 'kicks with the right leg') for one window, most salient first."""
    k = kc.Kinematics(joints, fps)
    if k.standing_height < 0.6:  # lying, crawling, swimming: none of the phrases below fit
        return []
    phrases = []
    jump = _jump_phrase(k)
    level = _level_phrase(k)
    travel = None if jump and jump.startswith("hops") else _travel_phrase(k)
    if jump:
        phrases.append(jump)
    if travel and not (jump and travel.startswith("walks")):
        phrases.append(travel)
    if not (travel and "circle" in travel):
        turn = _turn_phrase(k)
        if turn:
            phrases.append(turn)
    if level:
        phrases.append(level)
    phrases.extend(_limb_phrases(k))
    return phrases


def sentence(phrases: list[str], joiner: str = " and ") -> str:
    return "a person " + joiner.join(phrases)


def label_clip(joints: np.ndarray, fps: float = kc.FPS, window_s: float = WINDOW_S,
               hop_s: float = HOP_S) -> list[AutoCaption]:
    """Auto captions of one clip: one per window with a clear action (spans) and the clip's sequence."""
    t = len(joints)
    win, hop = int(round(window_s * fps)), int(round(hop_s * fps))
    out: list[AutoCaption] = []
    seen: set[str] = set()
    starts = list(range(0, t - win + 1, hop)) if t >= win else []
    if starts and starts[-1] < t - win:  # a last window ending with the clip
        starts.append(t - win)
    mains: list[str] = []
    for a in starts:
        phrases = window_phrases(joints[a:a + win], fps)
        if not phrases:
            mains.append("")
            continue
        mains.append(phrases[0])
        text = sentence(phrases[:2])
        if text not in seen:
            seen.add(text)
            out.append(AutoCaption(text, round(a / fps, 2), round(min(a + win, t) / fps, 2)))
    steps = [p for i, p in enumerate(mains) if p and (i == 0 or p != mains[i - 1])]
    if t < win:  # short clip: label it whole
        whole = window_phrases(joints, fps) if t >= MIN_SPAN_S * fps else []
        steps = whole[:2]
        if steps:
            out.append(AutoCaption(sentence(steps), 0.0, 0.0))
    elif 0 < len(steps) <= 3 and all(mains):
        out.append(AutoCaption(sentence(steps, ", then "), 0.0, 0.0))
    return out
