"""The HumanML3D / KIT-ML motion representation: features <-> joints, mirroring, normalisation."""
from t2mgpt.motion.features import (
    FeatureLayout, canonicalize_joints, feature_layout, features_to_joints, features_to_joints_rot,
    joints_to_features, recover_root_rot_pos, retarget_joints,
)
from t2mgpt.motion.kinematics import (
    default_offsets, forward_kinematics, forward_kinematics_cont6d, get_offsets_joints,
    inverse_kinematics, rotation_parents,
)
from t2mgpt.motion.mirror import mirror_features, mirror_joints
from t2mgpt.motion.normalize import Normalizer
from t2mgpt.motion.skeleton import HUMANML3D, KIT, Skeleton, get_skeleton, skeleton_for_dim
from t2mgpt.motion.validate import Motion, load_motion, validate_features, validate_joints

__all__ = [
    "FeatureLayout", "HUMANML3D", "KIT", "Motion", "Normalizer", "Skeleton",
    "canonicalize_joints", "default_offsets", "feature_layout", "features_to_joints",
    "features_to_joints_rot", "forward_kinematics", "forward_kinematics_cont6d",
    "get_offsets_joints", "get_skeleton", "inverse_kinematics", "joints_to_features",
    "load_motion", "mirror_features", "mirror_joints", "recover_root_rot_pos",
    "retarget_joints", "rotation_parents", "skeleton_for_dim", "validate_features",
    "validate_joints",
]
