"""The corpus from the command line: the JSON contracts, bad input in one line, no
traceback, no file holding the others hostage."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import REPO

ARTICLE_KEYS = {"article", "file", "title", "source", "date", "url", "paragraphs"}
WINE = (
    "Wine harvest in Bordeaux hits a fifty-year low\n"
    "Source: Example Wire\n"
    "By Jane Doe\n"
    "Published: November 19, 2019\n\n"
    "Bordeaux winemakers reported the smallest grape harvest in fifty years, blaming hail "
    "and late frost.\n\n"
    "Prices for the 2019 vintage are expected to rise sharply.\n"
)


def _run(corpus: Path, *args: str) -> int:
    return main(["--corpus", str(corpus), *args])


def test_sources_json_lists_articles_and_unreadable_files(
    corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (corpus / "news").mkdir()
    (corpus / "news" / "wine.txt").write_text(WINE)
    (corpus / "broken.md").write_bytes(b"caf\xe9")
    assert _run(corpus, "sources", "--json") == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    articles = [obj for obj in lines if "article" in obj]
    assert all(set(obj) == ARTICLE_KEYS for obj in articles) and len(articles) == 5
    wine = next(obj for obj in articles if obj["article"] == "news/wine")
    assert wine == {
        "article": "news/wine",
        "file": "news/wine.txt",
        "title": "Wine harvest in Bordeaux hits a fifty-year low",
        "source": "Example Wire",
        "date": "2019-11-19",
        "url": "",
        "paragraphs": 2,
    }
    assert lines[-1] == {
        "file": "broken.md",
        "problem": "is not UTF-8 text (byte 0xe9 at offset 3)",
    }


def test_source_json_is_exactly_what_can_be_cited(
    corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(corpus, "source", "003_995cb40eb3369109", "--json") == 0
    obj = json.loads(capsys.readouterr().out)
    assert set(obj) == ARTICLE_KEYS and obj["file"] == "003_995cb40eb3369109.txt"
    assert obj["date"] == "2025-12-22" and len(obj["paragraphs"]) == 29
    assert [p["paragraph"] for p in obj["paragraphs"]] == list(range(1, 30))
    assert all(set(p) == {"paragraph", "heading", "text"} for p in obj["paragraphs"])
    sixteen = obj["paragraphs"][15]
    assert "godfathers of AI" in sixteen["text"]
    assert _run(corpus, "source", "003_995cb40eb3369109#16", "--json") == 0
    assert json.loads(capsys.readouterr().out)["paragraphs"] == [sixteen]
    assert _run(corpus, "source", "no-such-article", "--json") == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "no article matches 'no-such-article'" in captured.err


def test_an_unreadable_file_does_not_block_a_new_article(
    tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (corpus / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert _run(corpus, "index") == 0
    first = capsys.readouterr()
    assert first.out.count("image.txt: looks like a binary file, not text") == 1
    wine = tmp_path / "wine.txt"
    wine.write_text(WINE)
    assert _run(corpus, "add", str(wine)) == 0
    assert capsys.readouterr().out.strip() == f"added {corpus / 'wine.txt'}"
    assert _run(corpus, "ask", "--json", "How small was the Bordeaux grape harvest?") == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["answered"] and answer["citations"][0]["article"] == "wine"
    assert answer["citations"][0]["date"] == "2019-11-19"


def test_a_headline_is_the_title_and_stays_searchable(
    tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wine = tmp_path / "wine.txt"
    wine.write_text(WINE)
    assert _run(corpus, "add", str(wine)) == 0
    capsys.readouterr()
    assert _run(corpus, "search", "fifty-year", "low") == 0
    out = capsys.readouterr().out
    assert "Wine harvest in Bordeaux hits a fifty-year low" in out and "wine#1" in out
    assert _run(corpus, "source", "wine", "--json") == 0
    shown = json.loads(capsys.readouterr().out)["paragraphs"]
    assert shown[0] == {
        "paragraph": 1,
        "heading": "",
        "text": "Bordeaux winemakers reported the smallest grape harvest in fifty years, "
        "blaming hail and late frost.",
    }  # the headline, byline, source and date lines are metadata, not paragraphs


def test_an_article_without_a_title_shows_its_lead_sentence(
    corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(corpus, "sources") == 0
    out = capsys.readouterr().out
    assert "Untitled" not in out
    assert "Meta Platforms Inc (NASDAQ:META) is taking steps to revamp its artificial\u2026" in out


def test_add_refuses_bad_input_in_one_line(
    tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.html"
    empty.write_text("<html><body><nav><a href='/'>Home</a></nav></body></html>")
    story = tmp_path / "story.txt"
    story.write_text("Zebras were seen on the trading floor of the exchange on Tuesday.\n")
    cases = [
        (["add", str(tmp_path / "missing.txt")], f"{tmp_path / 'missing.txt'}: no such file"),
        (["add", str(tmp_path)], f"{tmp_path}: is a folder, not an article file"),
        (["add", str(empty)], f"{empty}: no article text found in it (0 paragraphs)"),
        (
            ["add", str(story), "--date", "next tuesday"],
            "--date: 'next tuesday' is not a date (write it like 2025-12-22 or December 22, 2025)",
        ),
        (["add", str(story), "--date", "Tue Nov 19"], "--date: 'Tue Nov 19' is not a date"),
    ]
    for args, message in cases:
        assert _run(corpus, *args) == 2, args
        err = capsys.readouterr().err
        assert err.startswith(f"citebot: {message}") and err.count("\n") == 1, err
    assert not (corpus / "story.txt").exists() and not (corpus / "empty.html").exists()
    assert _run(corpus, "add", str(story), "--date", "November 19, 2019") == 0
    manifest = tomllib.loads((corpus / "metadata.toml").read_text())
    assert manifest["story.txt"] == {"date": "2019-11-19"}


def test_add_force_replaces_the_metadata_cleanly(
    tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    story = tmp_path / "f.txt"
    story.write_text("Zebras were seen on the trading floor of the exchange on Tuesday.\n")
    assert _run(corpus, "add", str(story), "--title", "A") == 0
    assert _run(corpus, "add", str(story), "--title", "B") == 2
    assert "exists already (use --force to replace it)" in capsys.readouterr().err
    assert _run(corpus, "add", "--force", str(story), "--title", "B", "--source", "Zoo") == 0
    text = (corpus / "metadata.toml").read_text()
    assert text.count('["f.txt"]') == 1 and "# Metadata for articles" in text
    assert tomllib.loads(text)["f.txt"] == {"title": "B", "source": "Zoo"}
    assert '# "\u00a9 2025 Benzinga.com"' in text  # hand-written comments are kept
    capsys.readouterr()
    assert _run(corpus, "sources", "--json") == 0
    objs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {"title": "B", "source": "Zoo"}.items() <= next(
        o for o in objs if o.get("article") == "f"
    ).items()
    assert all("problem" not in o for o in objs)


def test_a_citebot_home_that_is_a_file_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home-file"
    home.write_text("not a folder")
    monkeypatch.setenv("CITEBOT_HOME", str(home))
    assert main(["ask", "Who leads TBD Lab?"]) == 2
    assert capsys.readouterr().err == (
        f"citebot: CITEBOT_HOME: {home} is not a folder (point it at a folder citebot may write)\n"
    )


def test_global_options_before_or_after_the_command(
    corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (corpus / "zebra.txt").write_text("Zebras were seen on the trading floor on Tuesday.\n")
    for args in (
        ["--corpus", str(corpus), "-v", "search", "zebra"],
        ["search", "zebra", "--corpus", str(corpus), "-v"],
        ["search", "-v", "--corpus", str(corpus), "zebra"],
    ):
        assert main(args) == 0, args
        assert "Zebras were seen" in capsys.readouterr().out


def test_a_closed_pipe_ends_quietly(corpus: Path) -> None:
    questions = ["Who leads TBD Lab?"] * 300  # far more than a pipe holds
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "--corpus", str(corpus), "ask", "--json", *questions],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()  # `| head -1`
    process.stdout.close()
    err = process.stderr.read()
    assert process.wait(timeout=120) == 0
    assert json.loads(first)["answered"] and err == b""


def test_a_missing_or_unusable_corpus_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere"
    assert main(["--corpus", str(missing), "ask", "Who leads TBD Lab?"]) == 1
    assert capsys.readouterr().err == (
        f"citebot: no index to answer from: {missing}: corpus folder not found\n"
    )
    a_file = tmp_path / "story.txt"
    a_file.write_text("Zebras were seen on the trading floor of the exchange on Tuesday.\n")
    assert main(["--corpus", str(a_file), "add", str(a_file)]) == 2
    assert capsys.readouterr().err == f"citebot: {a_file}: the corpus is not a folder\n"
