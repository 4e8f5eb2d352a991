"""The dataset spec registry agrees with the skeletons and the original code's constants."""
from __future__ import annotations

import pytest

from t2mgpt.data.spec import DATASET_SPECS, HUMANML3D, KIT, canonical_dataset, get_dataset_spec, spec_for_dim
from t2mgpt.errors import InputError
from t2mgpt.motion.skeleton import get_skeleton


@pytest.mark.parametrize("spec", list(DATASET_SPECS.values()), ids=list(DATASET_SPECS))
def test_spec_matches_its_skeleton(spec):
    sk = get_skeleton(spec.skeleton)
    assert sk.feature_dim == spec.feature_dim == 12 * spec.num_joints - 1
    assert sk.num_joints == spec.num_joints
    assert spec_for_dim(spec.feature_dim) is spec and get_dataset_spec(spec.dataname) is spec


def test_original_constants_and_lookup():
    # the original T2M-GPT / text-to-motion code: t2m 263-d 20 fps min 40, kit 251-d 12.5 fps min 24
    assert (HUMANML3D.feature_dim, HUMANML3D.fps, HUMANML3D.min_motion_len) == (263, 20.0, 40)
    assert (KIT.feature_dim, KIT.fps, KIT.min_motion_len) == (251, 12.5, 24)
    assert HUMANML3D.max_motion_len == 196 == 49 * HUMANML3D.unit_length
    assert [canonical_dataset(n) for n in ("t2m", " HumanML3D", "KIT-ML", "kitml")] == \
        ["humanml3d", "humanml3d", "kit", "kit"]
    assert spec_for_dim(100, default=HUMANML3D) is HUMANML3D
    with pytest.raises(InputError, match="unknown dataset kind 'cmu'"):
        get_dataset_spec("cmu")
    with pytest.raises(InputError, match="feature dimension 100"):
        spec_for_dim(100)
