"""Answering in worker processes beside the event loop: the same answers as the core,
and a killed worker replaced."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from bot.answer_pool import AnswerPool
from bot.core import build_core
from bot.settings import load_settings


async def test_a_worker_process_answers_and_a_killed_one_is_replaced(
    corpus: Path, caplog: pytest.LogCaptureFixture
) -> None:
    core = build_core(load_settings(overrides={"corpus": str(corpus)}))
    core.store.current()  # the serving process builds; workers only read
    pool = AnswerPool(core, workers=1)
    try:
        answer = await pool.follow_up("when will it launch?", "What is Avocado?")
        assert answer == core.follow_up("when will it launch?", "What is Avocado?")
        assert (await pool.source("003_995cb40eb3369109#16")) == core.answerer.source(
            "003_995cb40eb3369109#16"
        )
        for pid in list(pool.executor._processes):  # type: ignore[attr-defined]
            os.kill(pid, signal.SIGKILL)
        again = await pool.ask("Who leads TBD Lab?")
        assert again.answered and "Wang" in again.highlight
        assert "an answer worker died" in caplog.text
    finally:
        pool.shutdown()
