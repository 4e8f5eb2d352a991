"""Fast start: models built without their random init, arguments checked before loading,
and a CLI that imports only what a command needs."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
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
    code = ("import sys; from t2mgpt.io.folder import load_model_folder; from t2mgpt.io.lookup import resolve_model;"
            "load_model_folder(resolve_model('t2mgpt-cmu-demo'));"
            "print(sorted(m for m in ('torch._dynamo', 'transformers', 'sympy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _cli_without_loading(args: list[str]) -> tuple[int, str, list[str], float]:
    """Run the CLI in a fresh interpreter: (exit code, stderr, heavy modules imported, CPU s)."""
    import resource

    code = ("import sys; from t2mgpt.cli import main; rc = main(sys.argv[1:]);"
            "print(sorted(m for m in ('torch', 'tokenizers', 't2mgpt.commands.export', 't2mgpt.commands.serve')"
            " if m in sys.modules)); sys.exit(rc)")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc.returncode, proc.stderr.strip(), eval(proc.stdout.strip()), cpu


@pytest.mark.parametrize("seconds, message", [
    ("400", "seconds is 400 s, over the limit of 300 s"),  # beyond the context (10 s): a timeline (issue 15)
    ("0", "seconds must be between 0.2 and 10"),
    ("-1", "seconds must be between 0.2 and 10"),
    ("nan", "seconds must be a number"),
])
def test_bad_seconds_is_reported_before_anything_loads(tmp_path, seconds, message):
    rc, err, imported, cpu = _cli_without_loading(
        ["generate", "a person walks forward", "--seconds", seconds, "--out-dir", str(tmp_path / "out")])
    assert rc == 2 and err.startswith("t2mgpt generate: error: ") and message in err and "\n" not in err
    assert imported == [] and cpu < 1.0  # neither torch nor any other command was imported
    assert not (tmp_path / "out").exists()


def test_unwritable_out_dir_is_reported_before_anything_loads(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    rc, err, imported, cpu = _cli_without_loading(
        ["generate", "a person walks forward", "--format", "npy", "--out-dir", str(blocker / "out")])
    assert rc == 2 and f"cannot create the output folder {blocker / 'out'}: {blocker} is a file" in err
    assert "\n" not in err and imported == [] and cpu < 1.0
    rc, err, imported, _ = _cli_without_loading(["generate", "a walk", "--out-dir", str(blocker)])
    assert rc == 2 and f"output folder {blocker} exists and is not a folder" in err and imported == []


def test_unknown_model_is_reported_before_anything_loads(tmp_path):
    rc, err, imported, _ = _cli_without_loading(["generate", "a walk", "--model", "no-such-model"])
    assert rc == 2 and "unknown model 'no-such-model'" in err and imported == []


def test_a_valid_command_line_still_generates(tmp_path):
    out = tmp_path / "out"
    rc = subprocess.run([sys.executable, "-m", "t2mgpt", "generate", "a person walks forward", "--seconds", "2",
                         "--format", "npy", "--seed", "0", "--out-dir", str(out), "--device", "cpu"],
                        capture_output=True, text=True).returncode
    assert rc == 0 and np.load(out / "a_person_walks_forward_0.npy").shape == (40, 22, 3)


def test_help_still_lists_every_command():
    out = subprocess.run([sys.executable, "-m", "t2mgpt", "--help"], capture_output=True, text=True).stdout
    from t2mgpt.cli import build_parser

    names = build_parser()._subparsers._group_actions[0].choices
    assert len(names) >= 10 and all(name in out for name in names)
