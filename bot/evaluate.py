"""Scoring the bot on a question set (``citebot eval FILE``).

Each line of the file is ``{"q": ..., "expect": [...], "kind": "fact"|"paraphrase"|"none"}``;
an answer is right when one expected string appears in the cited passages' text
(case-insensitive, curly quotes folded), and a ``none`` question is right when declined.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from bot.answer import Answer, Answerer

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def _fold(text: str) -> str:
    return text.translate(_QUOTES).casefold()


@dataclass
class CaseResult:
    question: str
    kind: str
    expect: list[str]
    answered: bool
    hit_rank: int | None  # 1-based rank of the first citation holding an expected string

    @property
    def ok(self) -> bool:
        if self.kind == "none":
            return not self.answered
        return self.hit_rank is not None and self.hit_rank <= 3


@dataclass
class EvalReport:
    cases: list[CaseResult] = field(default_factory=list)

    def _answerable(self) -> list[CaseResult]:
        return [c for c in self.cases if c.kind != "none"]

    @property
    def top1(self) -> float:
        cases = self._answerable()
        return sum(c.hit_rank == 1 for c in cases) / len(cases) if cases else 0.0

    @property
    def top3(self) -> float:
        cases = self._answerable()
        return sum(c.ok for c in cases) / len(cases) if cases else 0.0

    @property
    def decline_rate(self) -> float:
        """Share of ``none`` questions the bot declined (should be 100 %)."""
        cases = [c for c in self.cases if c.kind == "none"]
        return sum(not c.answered for c in cases) / len(cases) if cases else 1.0

    @property
    def false_declines(self) -> int:
        return sum(not c.answered for c in self._answerable())

    def summary(self) -> str:
        answerable = len(self._answerable())
        none = len(self.cases) - answerable
        return (
            f"{len(self.cases)} questions: top-1 {self.top1:.1%}, top-3 {self.top3:.1%} "
            f"of {answerable} answerable ({self.false_declines} wrongly declined); "
            f"declined {self.decline_rate:.1%} of {none} unanswerable"
        )


def _hit_rank(answer: Answer, expect: list[str]) -> int | None:
    wanted = [_fold(e) for e in expect]
    for citation in answer.citations:
        text = _fold(f"{citation.heading}\n{citation.text}")
        if any(w in text for w in wanted):
            return citation.rank
    return None


def load_cases(path: Path) -> list[dict[str, object]]:
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            case = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: not JSON ({exc.msg})") from exc
        if not isinstance(case, dict) or not isinstance(case.get("q"), str):
            raise ValueError(f'{path}:{number}: expected an object with a "q" string')
        cases.append(case)
    return cases


def evaluate(answerer: Answerer, path: Path) -> EvalReport:
    report = EvalReport()
    for case in load_cases(path):
        question = str(case["q"])
        expect = [str(e) for e in case.get("expect", []) or []]  # type: ignore[attr-defined]
        kind = str(case.get("kind", "fact"))
        answer = answerer.answer(question)
        report.cases.append(
            CaseResult(question, kind, expect, answer.answered, _hit_rank(answer, expect))
        )
    return report
