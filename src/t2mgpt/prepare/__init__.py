"""Build a HumanML3D-layout dataset from raw joint positions of another skeleton (`t2mgpt prepare`)."""
from t2mgpt.prepare.cmu import CMUSource
from t2mgpt.prepare.generic import GenericSource
from t2mgpt.prepare.pipeline import PrepareConfig, prepare, process_trial
from t2mgpt.prepare.resample import resample
from t2mgpt.prepare.retarget import CMU_JOINTS, JointMap, cmu_joint_map
from t2mgpt.prepare.segment import SourceCaption, assign_captions, plan_segments
from t2mgpt.prepare.stats import mean_std
from t2mgpt.prepare.text import caption_line, swap_left_right, tokenize

__all__ = [
    "CMUSource", "CMU_JOINTS", "GenericSource", "JointMap", "PrepareConfig", "SourceCaption",
    "assign_captions", "caption_line", "cmu_joint_map", "mean_std", "plan_segments", "prepare",
    "process_trial", "resample", "swap_left_right", "tokenize",
]
