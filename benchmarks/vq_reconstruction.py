"""How well VQ-VAEs reconstruct a split's motions, in millimetres: MPJPE of the decoded joints.

    python benchmarks/vq_reconstruction.py --data DIR --split val --vq t2mgpt-cmu-demo --vq runs/vq_lookahead

Each motion (cut to a whole number of codes) is encoded and decoded in one piece; joints come
from the features (`features_to_joints`, the path every output takes). Reported per VQ-VAE
(a train-vq run, a checkpoint, or a model folder or name): MPJPE over all frames and joints,
globally (the integrated root trajectory's drift included) and of the pose (the features' own
joint positions relative to the root, in its facing frame: no drift, no heading), and whether
the codes equal those of the first VQ-VAE given (a decoder-only fine-tuning keeps them).

Two kinematic columns say what survives the codes, on 4 s windows every 2 s
(`t2mgpt.eval.kinematic_checks`): "turn kept", the slope of the reconstruction's heading change
against the real one over windows turning 60 degrees or more, and "kick kept", the mean ratio of
the highest foot lift over windows where a foot rises 30 cm or more. `--unquantised` adds a row
per VQ-VAE decoding the encoder's output before quantisation: what the codes lose is the gap
between the two rows.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np


def mpjpe_mm(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean per-joint position error of (T, J, 3) metres, in mm."""
    return float(np.linalg.norm(pred - gt, axis=-1).mean() * 1000)


def pose(features: np.ndarray) -> np.ndarray:
    """(T, D) HumanML3D features -> (T, J - 1, 3): joints 1.. relative to the root, root-facing frame."""
    J = (features.shape[-1] + 1) // 12
    return features[:, 4:4 + (J - 1) * 3].reshape(len(features), J - 1, 3)


WINDOW_S, HOP_S = 4.0, 2.0  # 4 s windows every 2 s
MIN_TURN, MIN_KICK = 60.0, 0.30  # degrees; metres of foot lift


def kept(real: list[np.ndarray], recon: list[np.ndarray], fps: float = 20.0
         ) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """(real, reconstructed) heading change of turning windows and highest foot lift of kicking
    windows, for (T, J, 3) joint pairs."""
    from t2mgpt.eval.kinematic_checks import Kinematics

    turns, kicks = [], []
    window, hop = round(WINDOW_S * fps), round(HOP_S * fps)
    for a, b in zip(real, recon):
        for s in range(0, len(a) - window + 1, hop):
            ka, kb = Kinematics(a[s:s + window], fps), Kinematics(b[s:s + window], fps)
            if abs(ka.turn_degrees()) >= MIN_TURN:
                turns.append((ka.turn_degrees(), kb.turn_degrees()))
            lift = max(ka.kick_height(side).max() for side in ("left", "right"))
            if lift >= MIN_KICK:
                kicks.append((lift, max(kb.kick_height(side).max() for side in ("left", "right"))))
    return turns, kicks


def turn_slope(turns: list[tuple[float, float]]) -> float:
    """Least-squares slope through 0 of reconstructed on real heading change (1: all kept)."""
    r, g = np.asarray(turns, dtype=float).reshape(-1, 2).T
    return float(np.sum(r * g) / np.sum(r * r)) if len(r) else float("nan")


def kick_ratio(kicks: list[tuple[float, float]]) -> float:
    r, g = np.asarray(kicks, dtype=float).reshape(-1, 2).T
    return float(np.mean(g / r)) if len(r) else float("nan")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="dataset folder (HumanML3D layout)")
    p.add_argument("--split", default="val")
    p.add_argument("--vq", action="append", required=True, help="VQ run, checkpoint or model folder (repeat)")
    p.add_argument("--max-motions", type=int, default=0, help="at most this many motions (0: all)")
    p.add_argument("--unquantised", action="store_true",
                   help="also decode each encoder output before quantisation (what the codes lose)")
    args = p.parse_args()
    import torch

    from t2mgpt.data.humanml3d import HumanML3DDataset
    from t2mgpt.motion.features import features_to_joints
    from t2mgpt.tokenizer.receptive_field import receptive_field
    from t2mgpt.train.vq_task import load_init_vq

    from t2mgpt.errors import T2MGPTError

    try:
        ds = HumanML3DDataset(args.data, args.split, texts=False)
        vqs = [(source, load_init_vq(source)[0].eval()) for source in args.vq]
    except (T2MGPTError, OSError) as e:
        print(f"vq_reconstruction: {e}", file=sys.stderr)
        return 2
    n = len(ds) if not args.max_motions else min(args.max_motions, len(ds))
    first_codes = None
    print(f"{n} motions of the {args.split} split of {args.data}\n")
    print("| VQ-VAE | decoder look-ahead (codes) | MPJPE | pose MPJPE | turn kept | kick kept | same codes |\n"
          "|---|---:|---:|---:|---:|---:|---|")
    to_joints = lambda m: features_to_joints(torch.from_numpy(np.asarray(m, np.float32))).numpy()  # noqa: E731
    for source, vq in vqs:
        f = vq.config.downsample
        rows = {"": (np.zeros(2), [], [])} | ({" (unquantised)": (np.zeros(2), [], [])} if args.unquantised else {})
        codes_all = []
        with torch.inference_mode():
            for i in range(n):
                motion = ds[i].motion
                motion = motion[:len(motion) // f * f]
                x = torch.from_numpy(ds.normalize(motion)).float()[None]
                codes = vq.encode(x)
                codes_all.append(codes)
                decoded = {"": vq.decode(codes)}
                if args.unquantised:
                    decoded[" (unquantised)"] = vq.decoder(vq.encoder(x.permute(0, 2, 1))).permute(0, 2, 1)
                gt = to_joints(motion)
                for key, y in decoded.items():
                    recon = ds.denormalize(y[0].numpy())
                    pred = to_joints(recon)
                    sums, real, rec = rows[key]
                    sums += [mpjpe_mm(pred, gt), mpjpe_mm(pose(recon), pose(motion))]
                    real.append(gt)
                    rec.append(pred)
        same = "" if first_codes is None else str(all(torch.equal(a, b) for a, b in zip(first_codes, codes_all)))
        first_codes = first_codes or codes_all
        ahead = receptive_field(vq.decoder, f).right
        for key, (sums, real, rec) in rows.items():
            turns, kicks = kept(real, rec, ds.fps)
            print(f"| {source}{key} | {ahead} | " + " | ".join(f"{v / n:.1f} mm" for v in sums)
                  + f" | {turn_slope(turns):.2f} ({len(turns)}) | {kick_ratio(kicks):.2f} ({len(kicks)}) | {same} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
