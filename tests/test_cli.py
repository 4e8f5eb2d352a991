"""The `t2mgpt` command line as a whole: every subcommand registered, fast start-up."""
import subprocess
import sys

from t2mgpt.cli import build_parser, main

EXPECTED = {"render", "export", "generate", "models", "import-official", "prepare", "train-vq", "tokenize",
            "train-gpt", "export-model", "train-evaluator", "evaluate", "serve"}


def test_every_subcommand_is_registered():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert EXPECTED <= set(sub.choices)


def test_help_does_not_import_torch():
    # `t2mgpt --help` and argument errors must answer at once: building the parser stays torch-free.
    code = "import sys; from t2mgpt.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_user_errors_exit_2_with_one_line(tmp_path, capsys):
    assert main(["render", str(tmp_path / "missing.npy"), "-o", str(tmp_path / "x.mp4")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("t2mgpt render: error:") and "missing.npy" in err
    assert not (tmp_path / "x.mp4").exists()
