"""The dataset kinds a model can be trained on, and the facts every module needs about them.

One frozen `DatasetSpec` per kind; look one up by name (`get_dataset_spec("t2m")`) or by the
size of its feature vectors (`spec_for_dim(263)`). Datasets built by `t2mgpt prepare` (CMU
motion capture, any BVH/joint source) are of kind `humanml3d`: same skeleton, 263-d features,
20 fps. Torch-free, so that `t2mgpt models` and `--help` stay fast.
"""
from __future__ import annotations

from dataclasses import dataclass

from t2mgpt.errors import InputError


@dataclass(frozen=True)
class DatasetSpec:
    name: str  # canonical kind, written into model folders' config.json
    dataname: str  # the original T2M-GPT code's name for it ("t2m", "kit")
    title: str  # for messages and model cards
    feature_dim: int  # D of the motion features: 12 * num_joints - 1
    num_joints: int
    skeleton: str  # name in t2mgpt.motion.skeleton
    fps: float
    min_motion_len: int  # frames: shorter motions are left out of training and evaluation
    unit_length: int = 4  # motion frames per VQ code / per movement unit of the evaluator
    max_motion_len: int = 196  # frames: evaluation pads/cuts motions to this (49 codes of 4)
    max_source_frames: int = 200  # frames: motions this long or longer are left out (original)

    @property
    def seconds_per_code(self) -> float:
        return self.unit_length / self.fps


HUMANML3D = DatasetSpec(name="humanml3d", dataname="t2m", title="HumanML3D", feature_dim=263, num_joints=22,
                        skeleton="humanml3d", fps=20.0, min_motion_len=40)
KIT = DatasetSpec(name="kit", dataname="kit", title="KIT-ML", feature_dim=251, num_joints=21,
                  skeleton="kit", fps=12.5, min_motion_len=24)

DATASET_SPECS: dict[str, DatasetSpec] = {s.name: s for s in (HUMANML3D, KIT)}
_ALIASES = {"humanml3d": HUMANML3D, "t2m": HUMANML3D, "kit": KIT, "kit-ml": KIT, "kitml": KIT}


def get_dataset_spec(name: str | DatasetSpec) -> DatasetSpec:
    """The spec of a dataset kind: 'humanml3d' (or 't2m') and 'kit' (or 'kit-ml', 'kitml')."""
    if isinstance(name, DatasetSpec):
        return name
    spec = _ALIASES.get(str(name).strip().lower())
    if spec is None:
        raise InputError(f"unknown dataset kind {name!r}; choose humanml3d (t2m, 263-d) or kit (251-d)")
    return spec


def canonical_dataset(name: str) -> str:
    """'t2m' -> 'humanml3d', 'KIT-ML' -> 'kit' (InputError for an unknown kind)."""
    return get_dataset_spec(name).name


def spec_for_dim(dim: int, default: DatasetSpec | None = None) -> DatasetSpec:
    """The kind whose features have `dim` entries; `default` (if given) for any other size."""
    for spec in DATASET_SPECS.values():
        if spec.feature_dim == dim:
            return spec
    if default is not None:
        return default
    raise InputError(f"feature dimension {dim} matches no dataset kind (263 = HumanML3D, 251 = KIT-ML)")
