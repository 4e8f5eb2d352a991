"""`t2mgpt prepare`: joint maps, resampling, segmentation, caption policy, text format, stats, layout."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from t2mgpt.cli import main as cli_main
from t2mgpt.data.humanml3d import HumanML3DDataset, parse_caption_line, read_captions, read_split
from t2mgpt.errors import DataError
from t2mgpt.motion import (
    HUMANML3D, features_to_joints, joints_to_features, mirror_features, mirror_joints,
)
from t2mgpt.prepare import CMUSource, JointMap, cmu_joint_map, mean_std, prepare, resample
from t2mgpt.prepare.labels import clean_label, holds_for_any_part, label_sentence
from t2mgpt.prepare.retarget import CMU_JOINTS, facing_forward_fraction
from t2mgpt.prepare.segment import SourceCaption, assign_captions, plan_segments
from t2mgpt.prepare.stats import feature_groups
from t2mgpt.prepare.text import caption_line, swap_left_right, tokenize

NAMES = HUMANML3D.joint_names
J = {n: i for i, n in enumerate(NAMES)}
# one long trial (23 s, KIT + CMU text), short ones with text, a split walk, a cropped val
# trial, a test trial and a trial without text
IDS = ["01_01", "08_07", "111_35", "06_12", "14_37", "94_01"]


@pytest.fixture(scope="module")
def cmu(cmu_dir):
    return CMUSource(cmu_dir)


@pytest.fixture(scope="module")
def prepared(cmu, tmp_path_factory):
    out = tmp_path_factory.mktemp("cmu_hml")
    summary = prepare(cmu, out, ids=IDS, progress=False)
    return out, summary


def canonical(joints20, fps=12.0):
    """CMU joints -> SMPL-22 at 20 fps -> features -> canonical joints."""
    smpl = resample(cmu_joint_map().apply(joints20), fps)
    return features_to_joints(joints_to_features(smpl))


# --- joint map -------------------------------------------------------------------------------

def test_cmu_map_gives_plausible_smpl_joints(cmu):
    raw = cmu.load("02_01").joints
    smpl = cmu_joint_map().apply(raw)
    assert smpl.shape == (len(raw), 22, 3)
    # unmapped joints are copied, blended ones lie between their sources
    assert np.allclose(smpl[:, J["left_foot"]], raw[:, CMU_JOINTS.index("left_toe")])
    assert np.allclose(smpl[:, J["spine3"]], raw[:, CMU_JOINTS.index("upper_spine")])
    pelvis, spine3 = smpl[:, J["pelvis"]], smpl[:, J["spine3"]]
    d1 = np.linalg.norm(smpl[:, J["spine1"]] - pelvis, axis=-1) / np.linalg.norm(spine3 - pelvis, axis=-1)
    off = np.linalg.norm(np.load(os.path.join(os.path.dirname(__file__), "..", "src", "t2mgpt", "assets",
                                              "humanml3d_offsets.npy")), axis=-1)
    assert np.allclose(d1, off[3] / (off[3] + off[6] + off[9]), atol=1e-6)  # SMPL proportions
    # bone-length ratios like a human: thigh ~ shin, upper arm > collar, torso upright
    bone = lambda a, b: np.median(np.linalg.norm(smpl[:, J[a]] - smpl[:, J[b]], axis=-1))  # noqa: E731
    assert 0.8 < bone("left_knee", "left_hip") / bone("left_ankle", "left_knee") < 1.2
    assert bone("left_elbow", "left_shoulder") > bone("left_shoulder", "left_collar")
    assert (smpl[:, J["head"], 1] > smpl[:, J["pelvis"], 1] + 0.4).all()


def test_left_is_plus_x_in_humanml3d_and_cmu(ref_motion, cmu):
    # HumanML3D convention: facing +z, the person's left is at +x
    ref = ref_motion["joints"]
    assert ref[0, J["left_hip"], 0] > ref[0, J["right_hip"], 0]
    assert ref[0, J["left_shoulder"], 0] > ref[0, J["right_shoulder"], 0]
    for tid in ("02_01", "35_01"):  # CMU walks: same convention, so they walk forward along +z
        joints = canonical(cmu.load(tid).joints)
        assert joints[0, J["left_hip"], 0] > joints[0, J["right_hip"], 0]
        assert joints[20, 0, 2] > joints[0, 0, 2] + 0.5  # walks forward, along +z
        assert abs(joints[20, 0, 0] - joints[0, 0, 0]) < 0.3
        frac, moving = facing_forward_fraction(cmu_joint_map().apply(cmu.load(tid).joints), 12.0)
        assert moving > 10 and frac > 0.95
        # a source with left and right swapped would face backwards while walking
        flipped = cmu_joint_map().apply(cmu.load(tid).joints)
        flipped = flipped[:, list(HUMANML3D.mirror)]  # swap labels, keep positions
        assert facing_forward_fraction(flipped, 12.0)[0] < 0.05


def test_hop_on_left_foot_keeps_left_low(cmu):
    joints = canonical(cmu.load("132_23").joints)  # "Hop on left foot"
    assert np.median(joints[:, J["left_ankle"], 1]) < np.median(joints[:, J["right_ankle"], 1]) - 0.05


def test_joint_map_json_round_trip_and_axes(cmu):
    m = cmu_joint_map()
    again = JointMap.from_dict(json.loads(json.dumps(m.to_dict())))
    raw = cmu.load("08_07").joints
    assert np.allclose(again.apply(raw), m.apply(raw))
    # the same motion given z-up in centimetres maps to the same metres, y up
    d = m.to_dict()
    d.pop("axes")
    d.update(up="z", scale=0.01)
    zup_cm = np.stack([raw[..., 0], -raw[..., 2], raw[..., 1]], -1) * 100
    assert np.allclose(JointMap.from_dict(d).apply(zup_cm), m.apply(raw), atol=1e-9)


@pytest.mark.parametrize("change, message", [
    (lambda d: d["joints"].pop("head"), "missing"),
    (lambda d: d["joints"].update(spine1={"pelvis": 0.5, "upper_spine": 0.6}), "sum to"),
    (lambda d: d["joints"].update(neck="chin"), "not in source_joints"),
    (lambda d: d.update(axes=[[1, 0, 0], [0, 1, 0], [0, 1, 0]]), "orthonormal"),
    (lambda d: d.update(up="w"), "'up'"),
])
def test_joint_map_errors(change, message):
    d = cmu_joint_map().to_dict()
    if "up" in message:
        d.pop("axes")
    change(d)
    with pytest.raises(DataError, match=message):
        JointMap.from_dict(d)


# --- resampling ------------------------------------------------------------------------------

def test_resample_sine_is_smooth_and_keeps_duration():
    t12 = np.arange(61) / 12.0  # 5 s
    x = np.sin(2 * np.pi * 0.7 * t12)[:, None]
    y = resample(x, 12.0, 20.0)
    assert len(y) == 101 and (len(y) - 1) / 20 == pytest.approx((len(x) - 1) / 12)
    t20 = np.arange(len(y)) / 20
    assert np.abs(y[:, 0] - np.sin(2 * np.pi * 0.7 * t20)).max() < 2e-3
    assert (np.abs(np.diff(y[:, 0])) > 1e-4).all()  # no repeated frames
    # velocity changes smoothly: second differences are as small as the true curve's
    true_dd = np.abs(np.diff(np.sin(2 * np.pi * 0.7 * t20), 2)).max()
    assert np.abs(np.diff(y[:, 0], 2)).max() < 1.1 * true_dd


def test_resample_real_walk_has_no_stair_steps(cmu):
    raw = cmu.load("02_01").joints.astype(np.float64)
    y = resample(raw, 12.0)
    assert len(y) == int((len(raw) - 1) / 12 * 20) + 1
    assert np.allclose(y[::5], raw[::3][: len(y[::5])], atol=1e-9)  # every 3rd source frame is kept
    step = np.linalg.norm(np.diff(y[:, 0], axis=0), axis=-1)
    assert step.min() > 1e-3  # the pelvis never stands still between frames of a walk
    # frame-to-frame velocity changes little (nearest-frame resampling jumps by a whole step)
    nearest = raw[np.round(np.arange(len(y)) * 12 / 20).astype(int)]
    jerk = lambda p: np.abs(np.diff(p[:, 0], 2, axis=0)).max()  # noqa: E731
    assert jerk(y) < 0.5 * jerk(nearest)


# --- segmentation and caption policy -----------------------------------------------------------

def test_plan_segments():
    assert plan_segments(150) == plan_segments(150)  # deterministic
    (whole,) = plan_segments(200)
    assert (whole.start, whole.stop, whole.kind) == (0, 200, "whole")
    (crop,) = plan_segments(208)
    assert (crop.start, crop.stop, crop.kind) == (4, 204, "cropped")  # around the middle
    for n in (211, 399, 401, 1000, 3821):
        segs = plan_segments(n)
        assert all(s.kind == "split" for s in segs) and [s.index for s in segs] == list(range(len(segs)))
        assert segs[0].start == 0 and segs[-1].stop == n
        assert all(a.stop == b.start for a, b in zip(segs, segs[1:]))  # consecutive, nothing lost
        lengths = [s.frames for s in segs]
        assert max(lengths) <= 200 and min(lengths) > 100 and max(lengths) - min(lengths) <= 1
    assert plan_segments(401)[1].clip_id("07_01") == "07_01_s1"


def test_caption_policy():
    kit = SourceCaption("A person walks forward, turns around and walks back.", "kit-ml")
    walk = SourceCaption("a person walks", "cmu-index", any_part=True)
    # short trial: every caption, whole motion
    (seg,) = plan_segments(150)
    kept, dropped = assign_captions(seg, [kit, walk], 150, 20.0)
    assert [(c.rule, c.start, c.end) for c in kept] == [("whole", 0.0, 0.0)] * 2 and not dropped
    (seg,) = plan_segments(205)
    assert [c.rule for c in assign_captions(seg, [kit, walk], 205, 20.0)[0]] == ["cropped"] * 2
    # long trial: the multi-action sentence is dropped, the repetitive label kept on each part
    for seg in plan_segments(600):
        kept, dropped = assign_captions(seg, [kit, walk], 600, 20.0)
        assert [c.text for c in kept] == [walk.text] and kept[0].rule == "any_part"
        assert dropped == {0: "long_trial"}
    # spans: inside a segment -> clip-local span; crossing a cut -> dropped; short -> dropped
    s0, s1, s2 = plan_segments(600)  # cuts at 10 s and 20 s
    inside = SourceCaption("a person sits down", "generic", 12.0, 17.0)
    crossing = SourceCaption("a person jumps", "generic", 8.0, 12.0)
    short = SourceCaption("a person claps", "generic", 21.0, 22.0)
    caps = [inside, crossing, short]
    kept, dropped = assign_captions(s1, caps, 600, 20.0)
    assert [(c.text, c.start, c.end) for c in kept] == [("a person sits down", 2.0, 7.0)]
    assert dropped == {1: "span_crosses_cut"}
    assert assign_captions(s2, caps, 600, 20.0)[1] == {2: "span_too_short"}
    # a span that is the whole segment is the whole clip
    exact = SourceCaption("a person runs", "generic", 0.0, 10.0)
    assert [(c.rule, c.start, c.end) for c in assign_captions(s0, [exact], 600, 20.0)[0]] == [("span", 0.0, 0.0)]


def test_cmu_labels():
    assert clean_label("Motorcycle") == (None, "calibration / not a description")
    assert clean_label("Range of Motion")[0] is None and clean_label("Story")[0] is None
    assert clean_label("RightWideTurn CleanedGRS")[0] == "right wide turn"
    assert clean_label("chicken dance (2 subjects - subject A)")[0] == "chicken dance"
    assert clean_label("A pulls B; B resists (2 subjects - subject B)") == (None, "two-person scene")
    assert label_sentence(clean_label("walk")[0]) == "a person walks"
    assert label_sentence(clean_label("JumpForward")[0]) == "a person jumps forward"
    assert label_sentence(clean_label("Marching")[0]) == "a person is marching"
    assert label_sentence(clean_label("slow walk")[0]) == "a person does a slow walk"
    assert label_sentence(clean_label("monkey (human subject)")[0]) == "a person acts like a monkey"
    assert label_sentence("playground - climb, swing") == "a person climbs, swings (playground)"
    for text in ("a person walks", "a person jogs slowly", "a person hops on left foot",
                 "a person does a breast stroke", "a person walks backwards", "walk on uneven terrain"):
        assert holds_for_any_part(text), text
    for text in ("a person walks forward, turns around and walks back", "a person sits down",
                 "walk forward 90 degree left turn", "a person walks up and down stairs",
                 "a person pushes a heavy box", "a person waves"):
        assert not holds_for_any_part(text), text


# --- text format -------------------------------------------------------------------------------

ALLOWED = {"VERB", "NOUN", "DET", "ADP", "NUM", "AUX", "PRON", "ADJ", "ADV", "CCONJ", "SCONJ", "PART"}


def test_tokens_and_line_format():
    assert tokenize("A man kicks something with his left leg.") == [
        "a/DET", "man/NOUN", "kick/VERB", "something/PRON", "with/ADP", "his/PRON", "left/ADJ", "leg/NOUN"]
    assert tokenize("The person is walking forward, then turns left and runs away.") == [
        "the/DET", "person/NOUN", "is/AUX", "walk/VERB", "forward/ADV", "then/ADV", "turn/VERB",
        "left/ADV", "and/CCONJ", "run/VERB", "away/ADV"]
    assert "foot/NOUN" in tokenize("jumping with both feet") and "jump/NOUN" in tokenize("he does a jump")
    line = caption_line("walks #4 steps", 1.5, 4.0)
    c = parse_caption_line(line)
    assert c.text == "walks 4 steps" and (c.start, c.end) == (1.5, 4.0) and line.count("#") == 3
    for sentence in ("A person hops forward with both feet for 4 hops, turns around hops back.",
                     "someone quickly picks up a box and puts it on the table"):
        toks = tokenize(sentence)
        assert all(t.split("/")[1] in ALLOWED and t.split("/")[0].isalpha() for t in toks)
    assert swap_left_right("Left hand up, then right, clockwise; leftover") == \
        "Right hand up, then left, counterclockwise; leftover"
    for text, mirrored in (("turns counter-clockwise", "turns clockwise"),
                           ("Counter clockwise, then ANTI-CLOCKWISE", "Clockwise, then CLOCKWISE"),
                           ("spins anticlockwise to the right", "spins clockwise to the left")):
        assert swap_left_right(text) == mirrored
    sentence = "turns clockwise, steps left, turns counterclockwise#turn/VERB clockwise/ADV left/ADV#0.0#0.0"
    assert swap_left_right(swap_left_right(sentence)) == sentence  # mirroring twice is the identity


# --- statistics ----------------------------------------------------------------------------------

def test_mean_std_grouping_matches_humanml3d(ref_dir):
    # the published Std.npy is constant on exactly these groups
    published = np.load(ref_dir / "humanml3d_Std.npy")
    groups = feature_groups("humanml3d")
    assert sum(g.stop - g.start for g in groups) == 263
    for g in groups:
        assert np.ptp(published[g]) == 0
    rng = np.random.default_rng(0)
    motions = [rng.normal(size=(n, 263)) * rng.uniform(0.1, 3, size=263) + 5 for n in (40, 77, 199)]
    mean, std = mean_std(iter(motions), "humanml3d")
    data = np.concatenate(motions)
    assert mean.shape == std.shape == (263,) and mean.dtype == np.float32
    assert np.allclose(mean, data.mean(0), atol=1e-5)
    per_dim = data.std(0)
    for g in groups:
        assert np.allclose(std[g], per_dim[g].mean(), rtol=1e-5)


# --- the written layout --------------------------------------------------------------------------

def test_layout_is_readable_and_consistent(prepared):
    out, summary = prepared
    assert summary["trials"] == len(IDS) and summary["dropped_clips"] == 0
    ids = read_split(out, "all")
    originals = [i for i in ids if not i.startswith("M")]
    assert len(ids) == 2 * len(originals)
    assert {"01_01_s0", "01_01_s2", "08_07", "111_35_s0", "111_35_s1", "06_12", "14_37"} <= set(originals)
    for cid in originals:
        feats = np.load(out / "new_joint_vecs" / f"{cid}.npy")
        joints = np.load(out / "new_joints" / f"{cid}.npy")
        assert feats.shape[1] == 263 and 40 <= len(feats) <= 199 and np.isfinite(feats).all()
        assert joints.shape == (len(feats), 22, 3)
        assert np.abs(joints - features_to_joints(feats)).max() < 1e-5
        mfeats = np.load(out / "new_joint_vecs" / f"M{cid}.npy")
        mjoints = np.load(out / "new_joints" / f"M{cid}.npy")
        assert np.abs(mfeats - mirror_features(feats)).max() < 1e-6
        assert np.abs(mjoints - mirror_joints(joints, "humanml3d")).max() < 1e-4
        caps, mcaps = read_captions(out / "texts" / f"{cid}.txt"), read_captions(out / "texts" / f"M{cid}.txt")
        assert [swap_left_right(c.text) for c in caps] == [c.text for c in mcaps]
    assert len(np.load(out / "new_joint_vecs" / "06_12.npy")) == 199  # 10.2 s trial, cropped
    # captions: short trials keep theirs, the long KIT trial's segments none, the split walk its label
    assert [c.text for c in read_captions(out / "texts" / "08_07.txt")][0].startswith("A person is walking")
    assert read_captions(out / "texts" / "01_01_s1.txt") == ()
    assert [c.text for c in read_captions(out / "texts" / "111_35_s1.txt")] == ["a person walks"]
    assert all(c.whole for i in originals for c in read_captions(out / "texts" / f"{i}.txt"))
    # splits follow the source (06 is a val subject, 14 a test subject), mirrored ids included
    assert read_split(out, "val") == ["06_12", "M06_12"] and read_split(out, "test") == ["14_37", "M14_37"]
    captioned = read_split(out, "train_captioned")
    assert "08_07" in captioned and "M08_07" in captioned and "01_01_s1" not in captioned
    # statistics over train (+ mirrored), grouped
    mean, std = np.load(out / "Mean.npy"), np.load(out / "Std.npy")
    train = np.concatenate([np.load(out / "new_joint_vecs" / f"{i}.npy") for i in read_split(out, "train")])
    assert mean.shape == std.shape == (263,)
    assert np.allclose(mean, train.mean(0), atol=1e-5)
    for g in feature_groups("humanml3d"):
        assert np.ptp(std[g]) == 0 and std[g][0] == pytest.approx(train.std(0)[g].mean(), rel=1e-4)
    # the dataset reader accepts it
    ds = HumanML3DDataset(out, "train")
    assert len(ds) == len(read_split(out, "train")) and ds.dim == 263
    # counts
    assert summary["pairs_by_rule"]["any_part:cmu-index"] == 2
    assert summary["captions_dropped_by_reason"]["long_trial:kit-ml"] == 1


def test_rerun_skips_and_force_redoes(prepared, cmu):
    out, _ = prepared
    path = out / "new_joint_vecs" / "08_07.npy"
    before = path.stat().st_mtime_ns
    again = prepare(cmu, out, ids=IDS, progress=False)
    assert again["trials_skipped"] == len(IDS) and path.stat().st_mtime_ns == before
    (out / "new_joints" / "M08_07.npy").unlink()  # an incomplete trial is redone
    again = prepare(cmu, out, ids=IDS, progress=False)
    assert again["trials_skipped"] == len(IDS) - 1 and (out / "new_joints" / "M08_07.npy").is_file()
    forced = prepare(cmu, out, ids=["08_07"], force=True, progress=False)
    assert forced["trials_skipped"] == 0 and path.stat().st_mtime_ns != before
    assert read_split(out, "all") == ["08_07", "M08_07"]  # split files list this run's clips


def test_generic_source_matches_cmu(cmu, prepared, tmp_path):
    """The same trial given z-up in centimetres at 12 fps with a generic joint map, and a span caption."""
    out_cmu, _ = prepared
    src = tmp_path / "src"
    src.mkdir()
    raw = cmu.load("06_12").joints  # 10.2 s: cropped by 0.1 s at each end
    np.savez(src / "motions.npz", walk=np.stack([raw[..., 0], -raw[..., 2], raw[..., 1]], -1) * 100)
    d = cmu_joint_map().to_dict()
    d.pop("axes")
    d.update(up="z", scale=0.01)
    (src / "joint_map.json").write_text(json.dumps(d))
    (src / "captions.jsonl").write_text(json.dumps(
        {"id": "walk", "split": "val", "captions": [{"text": "a person walks to the left"},
                                                    {"text": "the first steps", "start_s": 2.0, "end_s": 6.0}]}) + "\n")
    out = tmp_path / "out"
    assert cli_main(["prepare", "generic", "--src", str(src), "--out", str(out), "--quiet"]) == 0
    feats = np.load(out / "new_joint_vecs" / "walk.npy")
    assert np.abs(feats - np.load(out_cmu / "new_joint_vecs" / "06_12.npy")).max() < 1e-4
    caps = read_captions(out / "texts" / "walk.txt")
    assert [(c.text, c.start, c.end) for c in caps] == [("a person walks to the left", 0.0, 0.0),
                                                         ("the first steps", 1.9, 5.9)]
    assert read_captions(out / "texts" / "Mwalk.txt")[0].text == "a person walks to the right"
    assert read_split(out, "val") == ["walk", "Mwalk"]


def test_bad_sources_raise_data_error(tmp_path, capsys):
    with pytest.raises(DataError, match="not found"):
        CMUSource(tmp_path / "missing")
    (tmp_path / "captions.jsonl").write_text("")
    with pytest.raises(DataError, match="joints20.npz not found"):
        CMUSource(tmp_path)
    assert cli_main(["prepare", "generic", "--src", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "motions.npz not found" in capsys.readouterr().err
    np.savez(tmp_path / "motions.npz", Mwalk=np.zeros((30, 3, 3)))
    (tmp_path / "joint_map.json").write_text(json.dumps({"fps": 30, "joints": {"pelvis": 0}}))
    with pytest.raises(DataError, match="22 SMPL joints"):
        from t2mgpt.prepare import GenericSource
        GenericSource(tmp_path)


def test_workers_write_the_same_files(prepared, cmu, tmp_path):
    out, _ = prepared
    prepare(cmu, tmp_path, ids=["08_07", "14_37"], workers=2, progress=False)
    for name in ("new_joint_vecs/08_07.npy", "new_joints/M14_37.npy"):
        assert np.array_equal(np.load(tmp_path / name), np.load(out / name))
    assert (tmp_path / "texts" / "08_07.txt").read_text() == (out / "texts" / "08_07.txt").read_text()
