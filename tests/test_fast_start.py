"""Fast start: models built without their random init, arguments checked before loading,
and a CLI that imports only what a command needs."""
from __future__ import annotations

import subprocess
import sys

import torch
from torch import nn

from t2mgpt.utils.init import uninitialised


class _WithComputedBuffer(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 4)
        self.lin = nn.Linear(4, 3)
        self.register_buffer("ramp", torch.arange(5.0), persistent=False)  # not in the state dict


def test_uninitialised_skips_init_but_computes_buffers_and_loads():
    torch.manual_seed(0)
    reference = _WithComputedBuffer()
    torch.manual_seed(0)
    model = uninitialised(_WithComputedBuffer)
    after = torch.rand(3)
    torch.manual_seed(0)
    assert torch.equal(after, torch.rand(3))  # no random init ran: the generator did not move
    assert torch.equal(model.ramp, torch.arange(5.0))  # ordinary ops still run
    model.load_state_dict(reference.state_dict())
    x = torch.tensor([1, 7])
    assert torch.equal(model.lin(model.emb(x)), reference.lin(reference.emb(x)))
    # and init works again afterwards
    torch.manual_seed(0)
    assert torch.equal(_WithComputedBuffer().emb.weight, reference.emb.weight)


def test_loading_the_bundled_model_imports_no_compiler_or_transformers():
    code = ("import sys; from t2mgpt.model_folder import load_model_folder, resolve_model;"
            "load_model_folder(resolve_model('t2mgpt-cmu-demo'));"
            "print(sorted(m for m in ('torch._dynamo', 'transformers', 'sympy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
