"""SQuAD as a citebot corpus: one Markdown article per Wikipedia title, contexts as paragraphs.

Shared by ``bench/quality.py`` (the quality benchmark) and ``bench/fit_answer_model.py``
(fitting the reranker and the answer decision).  The data stays in ``../shared/eval/squad``
and is read at run time; corpora are written to temporary folders.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SQUAD_DIR = REPO.parent / "shared" / "eval" / "squad"
V11 = SQUAD_DIR / "dev-v1.1.json"
V20 = SQUAD_DIR / "cs224n-dev-v2.0.json"


@dataclass(frozen=True)
class Question:
    text: str
    title: str  # the article it was written against
    context: int  # global number of its context paragraph
    answerable: bool  # False for SQuAD v2.0's unanswerable questions


@dataclass
class Squad:
    titles: list[str]
    contexts: list[str]  # every paragraph, globally numbered
    context_title: list[str]
    questions: list[Question]


def load(path: Path) -> Squad:
    """Either format: v2.0 adds ``is_impossible`` to each question."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    squad = Squad([], [], [], [])
    for article in data:
        title = article["title"]
        squad.titles.append(title)
        for paragraph in article["paragraphs"]:
            number = len(squad.contexts)
            squad.contexts.append(paragraph["context"])
            squad.context_title.append(title)
            for qa in paragraph["qas"]:
                squad.questions.append(
                    Question(qa["question"], title, number, not qa.get("is_impossible", False))
                )
    return squad


def slug(title: str) -> str:
    return re.sub(r"\W+", "_", title).strip("_")[:60] or "article"


def write_corpus(squad: Squad, folder: Path, titles: set[str] | None = None) -> None:
    """One Markdown file per title (all, or only ``titles``), contexts by blank lines."""
    folder.mkdir(parents=True, exist_ok=True)
    by_title: dict[str, list[str]] = {}
    for text, title in zip(squad.contexts, squad.context_title, strict=True):
        by_title.setdefault(title, []).append(text.strip())
    for number, title in enumerate(squad.titles):
        if titles is not None and title not in titles:
            continue
        name = f"{number:03d}_{slug(title)}.md"
        heading = title.replace("_", " ")
        body = "\n\n".join(by_title[title])
        (folder / name).write_text(f"---\ntitle: {heading}\n---\n\n{body}\n", encoding="utf-8")


_NORM = re.compile(r"\W+")


def norm(text: str) -> str:
    return _NORM.sub(" ", text.casefold()).strip()


class ContextMatcher:
    """Which SQuAD context a cited passage is, by its text (never by its number)."""

    def __init__(self, squad: Squad) -> None:
        self._exact = {norm(c): i for i, c in enumerate(squad.contexts)}
        self._contexts = [norm(c) for c in squad.contexts]
        self._by_title: dict[str, list[int]] = {}
        for i, title in enumerate(squad.context_title):
            self._by_title.setdefault(slug(title).casefold(), []).append(i)
        self._cache: dict[str, int] = {}

    def context_of(self, text: str, article_hint: str = "") -> int:
        """The context holding this passage; -1 if none does."""
        key = norm(text)
        if key in self._exact:
            return self._exact[key]
        if key in self._cache:
            return self._cache[key]
        found = -1
        pool = next(
            (ids for s, ids in self._by_title.items() if s and s in article_hint.casefold()),
            range(len(self._contexts)),
        )
        for i in pool:
            if key and (key in self._contexts[i] or self._contexts[i] in key):
                found = i
                break
        self._cache[key] = found
        return found
