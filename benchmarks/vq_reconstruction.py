"""How well VQ-VAEs reconstruct a split's motions, in millimetres: MPJPE of the decoded joints.

    python benchmarks/vq_reconstruction.py --data DIR --split val --vq t2mgpt-cmu-demo --vq runs/vq_lookahead

Each motion (cut to a whole number of codes) is encoded and decoded in one piece; joints come
from the features (`features_to_joints`, the path every output takes). Reported per VQ-VAE
(a train-vq run, a checkpoint, or a model folder or name): MPJPE over all frames and joints,
globally (the integrated root trajectory's drift included) and of the pose (the features' own
joint positions relative to the root, in its facing frame: no drift, no heading), and whether
the codes equal those of the first VQ-VAE given (a decoder-only fine-tuning keeps them).
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


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="dataset folder (HumanML3D layout)")
    p.add_argument("--split", default="val")
    p.add_argument("--vq", action="append", required=True, help="VQ run, checkpoint or model folder (repeat)")
    p.add_argument("--max-motions", type=int, default=0, help="at most this many motions (0: all)")
    args = p.parse_args()
    import torch

    from t2mgpt.data.humanml3d import HumanML3DDataset
    from t2mgpt.motion.features import features_to_joints
    from t2mgpt.tokenizer.receptive_field import receptive_field
    from t2mgpt.train.vq_task import load_init_vq

    ds = HumanML3DDataset(args.data, args.split, texts=False)
    n = len(ds) if not args.max_motions else min(args.max_motions, len(ds))
    first_codes = None
    print(f"{n} motions of the {args.split} split of {args.data}\n")
    print("| VQ-VAE | decoder look-ahead (codes) | MPJPE | pose MPJPE | same codes |\n|---|---:|---:|---:|---|")
    for source in args.vq:
        vq = load_init_vq(source)[0].eval()
        f = vq.config.downsample
        sums, codes_all = np.zeros(2), []
        for i in range(n):
            motion = ds[i].motion
            motion = motion[:len(motion) // f * f]
            x = torch.from_numpy(ds.normalize(motion)).float()[None]
            codes = vq.encode(x)
            codes_all.append(codes)
            recon = ds.denormalize(vq.decode(codes)[0].numpy())
            pred, gt = (features_to_joints(torch.from_numpy(np.asarray(m, np.float32))).numpy()
                        for m in (recon, motion))
            sums += [mpjpe_mm(pred, gt), mpjpe_mm(pose(recon), pose(motion))]
        same = "" if first_codes is None else str(all(torch.equal(a, b) for a, b in zip(first_codes, codes_all)))
        first_codes = first_codes or codes_all
        ahead = receptive_field(vq.decoder, f).right
        print(f"| {source} | {ahead} | " + " | ".join(f"{v / n:.1f} mm" for v in sums) + f" | {same} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
