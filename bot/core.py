"""Wiring the platform-neutral parts together once, for the CLI and every chat adapter."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from bot.answer import Answer, Answerer, AnswerPolicy, Status
from bot.question import clean_question
from bot.settings import Settings
from index.analyzer import tokenize_question
from index.store import IndexStore, IndexUnavailable

log = logging.getLogger(__name__)


@dataclass
class Core:
    settings: Settings
    store: IndexStore
    answerer: Answerer

    def ask(self, question: str, *, context: str = "", offset: int = 0) -> Answer:
        """``Answerer.answer`` that turns a missing index into an answer saying so."""
        try:
            return self.answerer.answer(question, context=context, offset=offset)
        except IndexUnavailable as exc:
            return Answer(question, Status.UNAVAILABLE, detail=str(exc))

    def follow_up(self, question: str, previous: str) -> Answer:
        """Answer read with the conversation's earlier question when it leans on it.

        "When will it launch?" after "What is Avocado?" needs the earlier question; a new
        question in the same thread ("Who is Nat Friedman?") must not be bent by it.
        """
        alone = self.ask(question)
        if not previous or not _leans_on_context(question):
            return alone
        together = self.ask(question, context=previous)
        return together if together.answered else alone


_ANAPHORA = frozenset(
    "it its it's they them their theirs this that these those he him his she her "
    "there then such the same one".split()
)


def _leans_on_context(question: str) -> bool:
    """A pronoun standing for something said before, or too few words to stand alone."""
    words = re.findall(r"[\w']+", clean_question(question).casefold())
    return any(w in _ANAPHORA for w in words) or len(tokenize_question(question)) <= 1


def build_core(settings: Settings, *, progress: bool = False) -> Core:
    store = IndexStore(
        settings.corpus,
        settings.resolved_index_dir,
        check_interval=settings.check_interval,
        progress=progress,
    )
    return core_over(settings, store)


def core_over(settings: Settings, store: IndexStore) -> Core:
    """The core answering from ``store`` (one that builds, or one that only follows)."""
    return Core(settings, store, Answerer(store.current, AnswerPolicy(top_k=settings.top_k)))
