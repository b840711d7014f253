"""Wiring the platform-neutral parts together once, for the CLI and every chat adapter."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.answer import Answer, Answerer, AnswerPolicy, Status
from bot.settings import Settings
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


def build_core(settings: Settings, *, progress: bool = False) -> Core:
    store = IndexStore(
        settings.corpus,
        settings.resolved_index_dir,
        check_interval=settings.check_interval,
        progress=progress,
    )
    policy = AnswerPolicy(top_k=settings.top_k, min_coverage=settings.min_coverage)
    return Core(settings, store, Answerer(store.current, policy))
