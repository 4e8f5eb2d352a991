"""Non-English prompts get a warning (the text encoders are English-only): heuristic, API, CLI, web."""
from __future__ import annotations

import warnings

import pytest

from t2mgpt.text.language import NonEnglishWarning, english_warning

ENGLISH = ["a person walks forward", "a man kicks with his left leg then turns around", "someone boxes",
           "a person does the cha-cha", "zombie shuffles", "Moonwalk", "jumping jacks",
           "a person is stumbling drunkenly", "the person performs a pirouette", "A PERSON JUMPS TWICE!"]
OTHER = ["eine Person geht vorwärts", "una persona camina hacia adelante", "un homme saute deux fois",
         "Der Mann springt hoch", "一个人向前走", "человек идет вперед", "persona salta"]


@pytest.mark.parametrize("text", ENGLISH)
def test_english_prompts_pass(text):
    assert english_warning(text) is None


@pytest.mark.parametrize("text", OTHER)
def test_other_languages_are_flagged_in_one_line(text):
    msg = english_warning(text)
    assert msg and "English" in msg and "\n" not in msg


def test_pipeline_warns_and_still_generates(tmp_path):
    from tiny_model import make_tiny_model_dir

    from t2mgpt import T2MGPT

    pipe = T2MGPT.from_pretrained(make_tiny_model_dir(tmp_path / "tiny"), device="cpu")
    with pytest.warns(NonEnglishWarning, match="does not look like English"):
        (out,) = pipe(["una persona camina hacia adelante"], seconds=0.8, seed=0)
    assert out[0].joints.shape == (16, 22, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NonEnglishWarning)
        pipe(["a person walks forward"], seconds=0.8, seed=0)


def test_cli_and_web_say_it(tmp_path, capsys):
    from fastapi.testclient import TestClient
    from tiny_model import make_tiny_model_dir

    from t2mgpt import T2MGPT
    from t2mgpt.cli import main
    from t2mgpt.serve.app import create_app

    folder = make_tiny_model_dir(tmp_path / "tiny")
    assert main(["generate", "eine Person geht vorwärts", "--model", str(folder), "--out", str(tmp_path / "o"),
                 "--format", "npy", "--seconds", "0.4", "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert "t2mgpt generate: warning: 'eine Person geht vorwärts' does not look like English" in err

    with TestClient(create_app(T2MGPT.from_pretrained(folder, device="cpu")), base_url="http://127.0.0.1") as client:
        other = client.post("/api/generate", json={"text": "eine Person geht vorwärts", "seconds": 0.4}).json()
        english = client.post("/api/generate", json={"text": "a person walks", "seconds": 0.4}).json()
    assert len(other["warnings"]) == 1 and "English" in other["warnings"][0]
    assert english["warnings"] == []
