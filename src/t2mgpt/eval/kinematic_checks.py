"""Kinematic measures of a motion and checks of what a caption asks for.

Input: HumanML3D joints (T, 22, 3) in metres, y up, 20 fps, the person's left at +x when
facing +z (as `t2mgpt.motion.features_to_joints` returns them). `Kinematics` measures what a
person would look at -- travel (speed, direction relative to the body), heading change,
pelvis height, both feet off the ground (flight), foot and hand heights, arm reach -- and the
check functions turn them into a yes/no for one request ("runs", "kicks with the left leg").
The prompt suite (`benchmarks/prompt_suite.py`) and the caption labeller
(`t2mgpt.prepare.auto_captions`) share these measures.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

FPS = 20.0
PELVIS, L_HIP, R_HIP, L_KNEE, R_KNEE = 0, 1, 2, 4, 5
L_ANKLE, R_ANKLE, L_FOOT, R_FOOT, NECK, HEAD = 7, 8, 10, 11, 12, 15
L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST = 16, 17, 18, 19, 20, 21
SIDES = ("left", "right")
_FEET = {"left": (L_ANKLE, L_FOOT), "right": (R_ANKLE, R_FOOT)}
_ARMS = {"left": (L_SHOULDER, L_WRIST), "right": (R_SHOULDER, R_WRIST)}
_HIPS = {"left": L_HIP, "right": R_HIP}
ANKLE_ABOVE_SOLE = 0.06  # m: ankle joint height of a standing foot, removed so both joints read ~0
CONTACT = 0.05  # m: a foot lower than this is on the ground
FLIGHT = 0.07  # m: both feet higher than this -> airborne


def _smooth(x: np.ndarray, k: int = 3) -> np.ndarray:
    """Moving average over time (axis 0), same length."""
    if len(x) < k:
        return x
    pad = [(k // 2, k - 1 - k // 2)] + [(0, 0)] * (x.ndim - 1)
    xp = np.pad(x, pad, mode="edge")
    c = np.cumsum(np.concatenate([np.zeros((1,) + x.shape[1:]), xp]), axis=0)
    return (c[k:] - c[:-k]) / k


def _runs(mask: np.ndarray, min_len: int = 1) -> list[tuple[int, int]]:
    """[start, stop) of the runs of True at least `min_len` long."""
    m = np.concatenate([[False], mask.astype(bool), [False]])
    d = np.flatnonzero(np.diff(m.astype(np.int8)))
    return [(int(a), int(b)) for a, b in zip(d[::2], d[1::2]) if b - a >= min_len]


@dataclass
class Kinematics:
    """Measures of one motion; every property is computed once."""

    joints: np.ndarray  # (T, 22, 3)
    fps: float = FPS

    def __post_init__(self):
        j = np.asarray(self.joints, dtype=np.float64)
        if j.ndim != 3 or j.shape[1:] != (22, 3) or len(j) < 2:
            raise ValueError(f"expected joints (T>=2, 22, 3), got {j.shape}")
        self.joints = j

    @property
    def frames(self) -> int:
        return len(self.joints)

    @property
    def seconds(self) -> float:
        return self.frames / self.fps

    @cached_property
    def floor(self) -> float:
        """Ground height: a low percentile of the lowest foot point per frame."""
        return float(np.percentile(self._sole_raw.min(axis=1), 5))

    @cached_property
    def _sole_raw(self) -> np.ndarray:  # (T, 2): lowest point of each foot, left then right
        return np.stack([np.minimum(self.joints[:, a, 1] - ANKLE_ABOVE_SOLE, self.joints[:, t, 1])
                         for a, t in _FEET.values()], axis=1)

    @cached_property
    def foot_height(self) -> np.ndarray:
        """(T, 2) height of the left and right foot above the ground."""
        return _smooth(self._sole_raw - self.floor)

    def foot(self, side: str) -> np.ndarray:
        return self.foot_height[:, SIDES.index(side)]

    @cached_property
    def uneven_ground(self) -> bool:
        """Feet come to rest at clearly different heights (steps, blocks, stairs): heights above
        the lowest floor then do not mean flight."""
        feet = self.joints[:, [L_FOOT, R_FOOT]]
        still = np.linalg.norm(np.diff(feet[..., [0, 2]], axis=0), axis=-1) * self.fps < 0.15  # (T-1, 2)
        resting = self.foot_height[1:][still]
        return bool(resting.size >= 10 and (resting > 0.1).mean() > 0.15)

    @cached_property
    def heading(self) -> np.ndarray:
        """(T,) unwrapped facing angle (rad) about +y; increasing = turning left (counterclockwise from above)."""
        j = self.joints
        across = (j[:, L_HIP] - j[:, R_HIP]) + (j[:, L_SHOULDER] - j[:, R_SHOULDER])  # points to the left
        fwd = np.stack([-across[:, 2], across[:, 0]], axis=1)  # (x, z) of across x up
        ang = np.unwrap(np.arctan2(fwd[:, 0], fwd[:, 1]))
        return _smooth(ang, 5)

    def turn_degrees(self, a: int = 0, b: int | None = None) -> float:
        """Heading change from frame a to b (positive = left / counterclockwise)."""
        h = self.heading
        return float(np.degrees(h[(b if b is not None else len(h)) - 1] - h[a]))

    @cached_property
    def root_xz(self) -> np.ndarray:
        return self.joints[:, PELVIS][:, [0, 2]]

    @cached_property
    def speed(self) -> np.ndarray:
        """(T-1,) ground speed of the pelvis, m/s (smoothed over 5 frames)."""
        return _smooth(np.linalg.norm(np.diff(self.root_xz, axis=0), axis=1) * self.fps, 5)

    def path_length(self, a: int = 0, b: int | None = None) -> float:
        d = np.diff(self.root_xz[a:b], axis=0)
        return float(np.linalg.norm(d, axis=1).sum())

    def mean_speed(self, a: int = 0, b: int | None = None) -> float:
        b = self.frames if b is None else b
        return self.path_length(a, b) / max((b - a - 1) / self.fps, 1e-6)

    def displacement(self, a: int = 0, b: int | None = None) -> tuple[float, float]:
        """(forward, leftward) travel from frame a to b in the body frame of the mean heading."""
        b = self.frames if b is None else b
        d = self.root_xz[b - 1] - self.root_xz[a]
        h = float(np.mean(self.heading[a:b]))
        fwd, left = np.array([np.sin(h), np.cos(h)]), np.array([np.cos(h), -np.sin(h)])
        return float(d @ fwd), float(d @ left)

    @cached_property
    def pelvis_height(self) -> np.ndarray:
        return self.joints[:, PELVIS, 1] - self.floor

    @cached_property
    def standing_height(self) -> float:
        """Pelvis height when upright: a high percentile over the motion."""
        return float(np.percentile(self.pelvis_height, 90))

    @cached_property
    def pelvis_over_feet(self) -> np.ndarray:
        """(T,) pelvis height above the lower foot: drops when sitting or squatting, not on stairs."""
        return _smooth(self.joints[:, PELVIS, 1] - self.floor - self.foot_height.min(axis=1), 5)

    @cached_property
    def crouch(self) -> np.ndarray:
        """(T,) how far (m) the pelvis is below its upright height over the feet."""
        return float(np.percentile(self.pelvis_over_feet, 90)) - self.pelvis_over_feet

    @cached_property
    def flight(self) -> np.ndarray:
        """(T,) both feet off the ground."""
        return self.foot_height.min(axis=1) > FLIGHT

    def flights(self, min_frames: int = 2) -> list[tuple[int, int]]:
        return _runs(self.flight, min_frames)

    def jumps(self, min_rise: float = 0.08) -> list[tuple[int, int]]:
        """Airborne phases where the pelvis rises at least `min_rise` above its level just before."""
        out = []
        ph = self.pelvis_height
        for a, b in self.flights(2):
            before = ph[max(0, a - 10):a + 1].min()
            if ph[a:b].max() - before >= min_rise or self.foot_height[a:b].min(axis=1).max() > 0.2:
                out.append((a, b))
        return out

    def hand_above(self, side: str, joint: int, margin: float = 0.0) -> np.ndarray:
        """(T,) the wrist of `side` is higher than `joint` by `margin`."""
        return self.joints[:, _ARMS[side][1], 1] > self.joints[:, joint, 1] + margin

    def hand_raised(self, side: str) -> np.ndarray:
        """(T,) the wrist is above its shoulder."""
        return self.hand_above(side, _ARMS[side][0], 0.05)

    def body_frame(self, joint: int) -> np.ndarray:
        """(T, 3) joint relative to the pelvis as (leftward, up, forward) in the body's frame."""
        rel = self.joints[:, joint] - self.joints[:, PELVIS]
        h = self.heading
        s, c = np.sin(h), np.cos(h)
        fwd = rel[:, 0] * s + rel[:, 2] * c
        left = rel[:, 0] * c - rel[:, 2] * s
        return np.stack([left, rel[:, 1], fwd], axis=1)

    def hand_reversals(self, side: str, mask: np.ndarray | None = None, min_swing: float = 0.025) -> int:
        """Direction reversals of the wrist's side-to-side (and up-down) swing relative to the
        shoulder, while `mask` holds: a wave's back-and-forth."""
        sh, wr = _ARMS[side]
        rel = self.body_frame(wr) - self.body_frame(sh)
        best = 0
        for axis in (0, 1):
            x = _smooth(rel[:, axis], 3)
            if mask is not None:
                x = x[mask]
            best = max(best, _count_reversals(x, min_swing))
        return best

    def reach_forward(self, side: str) -> np.ndarray:
        """(T,) how far the wrist is in front of its shoulder (m, body frame)."""
        sh, wr = _ARMS[side]
        return self.body_frame(wr)[:, 2] - self.body_frame(sh)[:, 2]

    def wrist_height(self, side: str) -> np.ndarray:
        return self.joints[:, _ARMS[side][1], 1] - self.floor

    def kick_height(self, side: str) -> np.ndarray:
        """(T,) height of the foot of `side` while the other foot is on the ground (no jump)."""
        other = self.foot("right" if side == "left" else "left")
        return np.where(other < CONTACT * 2, self.foot(side), 0.0)

    def foot_forward(self, side: str) -> np.ndarray:
        """(T,) how far the ankle of `side` is in front of its hip (body frame)."""
        return self.body_frame(_FEET[side][0])[:, 2] - self.body_frame(_HIPS[side])[:, 2]

    @cached_property
    def limb_activity(self) -> float:
        """Mean speed (m/s) of wrists and ankles relative to the pelvis: how much the limbs move."""
        rel = self.joints[:, [L_WRIST, R_WRIST, L_ANKLE, R_ANKLE]] - self.joints[:, PELVIS:PELVIS + 1]
        return float(np.linalg.norm(np.diff(rel, axis=0), axis=2).mean() * self.fps)


def _count_reversals(x: np.ndarray, min_swing: float) -> int:
    """Turning points of a 1-D signal between swings of at least `min_swing` (a zigzag filter)."""
    n, direction = 0, 0
    lo = hi = ext = float(x[0]) if len(x) else 0.0
    for v in map(float, x[1:]):
        if direction == 0:
            lo, hi = min(lo, v), max(hi, v)
            if v - lo >= min_swing:
                direction, ext = 1, v
            elif hi - v >= min_swing:
                direction, ext = -1, v
        elif direction * (v - ext) > 0:
            ext = v
        elif abs(v - ext) >= min_swing:
            n, direction, ext = n + 1, -direction, v
    return n


# --- checks: Kinematics -> bool, one per kind of request ---------------------------------

def walks(k: Kinematics, direction: str = "forward", min_dist: float = 1.0, max_speed: float = 2.2) -> bool:
    """Travels at least `min_dist` in `direction` (forward/backward/left/right) at walking pace."""
    fwd, left = k.displacement()
    along = {"forward": fwd, "backward": -fwd, "left": left, "right": -left}[direction]
    return along >= min_dist and abs(along) >= 0.6 * np.hypot(fwd, left) and k.mean_speed() <= max_speed


def runs(k: Kinematics, min_speed: float = 1.4, min_flight_share: float = 0.08) -> bool:
    """Fast travel with both feet off the ground in some frames (a walk never leaves the ground)."""
    moving = k.speed > 1.0
    if moving.sum() < k.fps:
        return False
    return (float(np.percentile(k.speed, 75)) >= min_speed
            and float(k.flight[1:][moving].mean()) >= min_flight_share)


def turns(k: Kinematics, side: str = "any", min_deg: float = 60.0) -> bool:
    """Heading changes by at least `min_deg` to the left, right or either side."""
    t = k.turn_degrees()
    return {"left": t >= min_deg, "right": -t >= min_deg, "any": abs(t) >= min_deg}[side]


def circles(k: Kinematics, min_deg: float = 270.0, min_path: float = 2.0) -> bool:
    """Walks along a curve that turns by at least `min_deg` in one sense."""
    return abs(k.turn_degrees()) >= min_deg and k.path_length() >= min_path


def jumps(k: Kinematics, count: int | None = None, min_count: int = 1) -> bool:
    """At least `min_count` jumps (or exactly `count`)."""
    n = len(k.jumps())
    return n == count if count is not None else n >= min_count


def jumps_forward(k: Kinematics, min_dist: float = 0.3) -> bool:
    return jumps(k) and k.displacement()[0] >= min_dist


def hops(k: Kinematics, side: str, min_hops: int = 2) -> bool:
    """Hops on the foot of `side`: the other foot stays off the ground while the body is airborne
    repeatedly (each hop: the standing foot leaves the ground)."""
    other = k.foot("right" if side == "left" else "left")
    stand = k.foot(side)
    up = other > CONTACT
    airborne = _runs((stand > FLIGHT) & up, 2)
    return (len(airborne) >= min_hops and float(up.mean()) >= 0.75 and float(np.median(other)) > 0.1) and float(other.mean()) > float(stand.mean())


def kicks(k: Kinematics, side: str, min_height: float = 0.35) -> bool:
    """The foot of `side` swings up to `min_height` (m) in front while the other foot stands, higher than the other foot ever kicks."""
    other = "right" if side == "left" else "left"
    h = k.kick_height(side) * (k.foot_forward(side) > 0.15)
    return float(h.max()) >= min_height and float(h.max()) > float(k.kick_height(other).max()) + 0.05


def punches(k: Kinematics, side: str, min_reach: float = 0.45) -> bool:
    """The wrist of `side` thrusts out in front of its shoulder, about shoulder height, further than the other."""
    other = "right" if side == "left" else "left"
    sh = {"left": L_SHOULDER, "right": R_SHOULDER}[side]
    level = np.abs(k.joints[:, _ARMS[side][1], 1] - k.joints[:, sh, 1]) < 0.3
    r = k.reach_forward(side) * level
    return float(r.max()) >= min_reach and float(r.max()) > float(k.reach_forward(other).max()) - 0.02


def waves(k: Kinematics, side: str, min_seconds: float = 0.6, min_reversals: int = 2) -> bool:
    """The hand of `side` is above its shoulder for a while and swings back and forth there,
    and it is raised longer than the other hand."""
    other = "right" if side == "left" else "left"
    up = k.hand_raised(side)
    both = up & k.hand_raised(other)  # boxing guard: both fists up
    if up.sum() < min_seconds * k.fps or both.sum() > 0.3 * up.sum():
        return False
    return k.hand_reversals(side, up) >= min_reversals


def raises_arms(k: Kinematics, side: str = "both", min_seconds: float = 0.5) -> bool:
    """Wrist(s) above the head for at least `min_seconds` (one side: that side more than the other)."""
    need = int(min_seconds * k.fps)
    above = {s: k.hand_above(s, HEAD, 0.0) for s in SIDES}
    if side == "both":
        return int((above["left"] & above["right"]).sum()) >= need
    other = "right" if side == "left" else "left"
    return int(above[side].sum()) >= need and above[side].sum() > above[other].sum() + need // 2


def lowers_pelvis(k: Kinematics, min_drop: float = 0.25, min_seconds: float = 0.5) -> bool:
    """Pelvis at least `min_drop` below standing height for `min_seconds` (sit, squat, crouch)."""
    low = k.crouch > min_drop
    return any(b - a >= min_seconds * k.fps for a, b in _runs(low))


def sits(k: Kinematics, min_drop: float = 0.25) -> bool:
    """Sits down: the pelvis lowers and stays low until the end (or for 1 s)."""
    return lowers_pelvis(k, min_drop, 1.0)


def squats(k: Kinematics, min_drop: float = 0.25) -> bool:
    return lowers_pelvis(k, min_drop, 0.3)


def picks_up(k: Kinematics, max_height: float = 0.5) -> bool:
    """A wrist comes down to `max_height` (m) above the ground (below the knees) while on the feet."""
    low = np.minimum(k.wrist_height("left"), k.wrist_height("right")) < max_height
    return bool(low.any())


def steps_over(k: Kinematics, min_lift: float = 0.25, min_dist: float = 0.2) -> bool:
    """Moves forward and lifts a foot at least `min_lift` (m) while the other stands (no jump)."""
    lift = max(float(k.kick_height(s).max()) for s in SIDES)
    return lift >= min_lift and k.displacement()[0] >= min_dist


def dances(k: Kinematics, min_activity: float = 0.45, max_path_speed: float = 0.8) -> bool:
    """Lively limbs (wrists/ankles relative to the pelvis) without simply walking or running away."""
    return k.limb_activity >= min_activity and k.mean_speed() <= max_path_speed


def then(first, second, split: float = 0.5):
    """Two-step request: `first` holds on the first part of the motion and `second` on the rest
    (checked on the two halves, each with a 15% overlap)."""
    def check(k: Kinematics) -> bool:
        t = k.frames
        a, b = int(t * (split + 0.15)), int(t * (split - 0.15))
        return first(Kinematics(k.joints[:a], k.fps)) and second(Kinematics(k.joints[b:], k.fps))
    return check
