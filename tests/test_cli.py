from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import REPO, SEED_QUESTIONS

CITATION_KEYS = {"rank", "article", "title", "source", "url", "date", "paragraph", "text", "score"}


def test_ask_json_follows_the_contract(capsys: pytest.CaptureFixture[str]) -> None:
    questions = ["Who leads TBD Lab?", "What is the capital of Australia?", ""]
    assert main(["ask", "--json", *questions]) == 0
    lines = capsys.readouterr().out.strip().split("\n")
    assert len(lines) == 3
    objects = [json.loads(line) for line in lines]
    for obj, question in zip(objects, questions, strict=True):
        assert set(obj) == {"question", "answered", "text", "citations"}
        assert obj["question"] == question
        assert isinstance(obj["answered"], bool) and isinstance(obj["text"], str)
        for citation in obj["citations"]:
            assert set(citation) == CITATION_KEYS
            assert isinstance(citation["paragraph"], int) and isinstance(citation["score"], float)
    assert objects[0]["answered"] and "Alexandr Wang" in objects[0]["citations"][0]["text"]
    assert [c["rank"] for c in objects[0]["citations"]] == [1, 2, 3]
    assert not objects[1]["answered"] and objects[1]["citations"] == []
    assert "couldn\u2019t find an answer" in objects[1]["text"]
    assert not objects[2]["answered"] and "Ask me a question" in objects[2]["text"]


def test_ask_prints_the_answer_as_in_chat(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "Who", "is", "Nat", "Friedman?"]) == 0  # unquoted: one question
    out = capsys.readouterr().out
    assert out.startswith("\u00bb ") and "Former GitHub CEO Nat Friedman" in out
    assert "[1] " in out and "paragraph" in out


def test_search_source_sources_and_index(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "Qwen", "distillation", "-n", "2"]) == 0
    assert "distilling" in capsys.readouterr().out
    assert main(["source", "003_995cb40eb3369109#16"]) == 0
    assert "godfathers of AI" in capsys.readouterr().out
    assert main(["source", "nothing-like-this"]) == 1
    assert "No article matches" in capsys.readouterr().out
    assert main(["sources"]) == 0
    assert "JamThame Capital" in capsys.readouterr().out
    assert main(["index"]) == 0
    assert "paragraphs: " in capsys.readouterr().out


def test_chat_session_with_follow_up_and_commands(capsys: pytest.CaptureFixture[str]) -> None:
    from bot import ask_cli
    from bot.core import build_core
    from bot.settings import load_settings

    lines = iter(["What is Avocado?", "when will it launch?", "/more", "/search Vibes", "/quit"])
    core = build_core(load_settings())
    assert ask_cli.cmd_chat(core, None, read=lambda prompt: next(lines)) == 0  # type: ignore[arg-type]
    out = capsys.readouterr().out
    assert "next spring" in out and "[4]" in out and "Vibes" in out


def test_add_copies_validates_and_indexes(
    tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    story = tmp_path / "zebra.txt"
    story.write_text("Zebras were seen on the trading floor of the exchange on Tuesday.\n")
    assert main(["--corpus", str(corpus), "add", str(story), "--source", "Zoo Wire"]) == 0
    assert (corpus / "zebra.txt").exists()
    capsys.readouterr()
    assert main(["--corpus", str(corpus), "ask", "--json", "Where were zebras seen?"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["answered"] and answer["citations"][0]["source"] == "Zoo Wire"
    binary = tmp_path / "bad.txt"
    binary.write_bytes(b"\x00\x01\x02")
    assert main(["--corpus", str(corpus), "add", str(binary)]) == 2
    assert "bad.txt: looks like a binary file" in capsys.readouterr().err
    assert not (corpus / "bad.txt").exists()


def test_broken_corpus_file_is_named_and_answers_continue(
    corpus: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    assert main(["--corpus", str(corpus), "index"]) == 0
    (corpus / "broken.html").write_bytes(b"<html>\xff\xfe</html>")
    assert main(["--corpus", str(corpus), "ask", "Who leads TBD Lab?"]) == 0
    captured = capsys.readouterr()
    assert "Alexandr Wang" in captured.out
    assert caplog.text.count("broken.html: is not UTF-8 text") == 1  # the log, once
    assert main(["--corpus", str(corpus), "index"]) == 0
    out = capsys.readouterr().out
    assert out.count("broken.html: is not UTF-8 text (byte 0xff at offset 6)") == 1
    assert caplog.text.count("broken.html") == 1  # not logged again: nothing was rebuilt


def test_bad_config_value_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITEBOT_TOP_K", "lots")
    assert main(["ask", "x"]) == 2
    assert "CITEBOT_TOP_K: expected a whole number, got 'lots'" in capsys.readouterr().err


def test_eval_prints_the_scores(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(SEED_QUESTIONS)]) == 0
    assert "top-3 100.0%" in capsys.readouterr().out


def test_python_dash_m_bot_runs_from_a_shell(tmp_path: Path) -> None:
    env = {**os.environ, "CITEBOT_HOME": str(tmp_path / "h")}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "--json", "Which exchange lists Alibaba?"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "NYSE" in json.loads(done.stdout)["citations"][0]["text"]


@pytest.mark.parametrize(
    ("argv", "missing"),
    [
        (["slack"], "SLACK_BOT_TOKEN"),
        (["slack", "--http"], "SLACK_SIGNING_SECRET"),
        (["discord"], "DISCORD_TOKEN"),
    ],
)
def test_a_missing_token_names_its_variable(
    argv: list[str],
    missing: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "DISCORD_TOKEN"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"{name}_FILE", raising=False)
    if missing != "SLACK_BOT_TOKEN":
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-secret-value")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert missing in err and err.count("\n") == 1
    assert "xoxb-secret-value" not in err


def test_an_unreachable_slack_is_a_clear_error_without_the_token(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-secret-value")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-secret-value")
    assert main(["slack"]) == 1  # the network guard refuses slack.com, as no network would
    err = capsys.readouterr().err
    assert "cannot reach Slack" in err and "secret-value" not in err


def test_digest_prints_the_bundled_corpus_as_one_story(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["digest"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Digest: 1 new story from 4 articles since ")
    assert "[1] " in out and "cite: " in out
    assert main(["digest", "--since", "yesterday"]) == 2
    assert "--since: expected YYYY-MM-DD" in capsys.readouterr().err
