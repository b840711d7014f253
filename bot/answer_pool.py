"""Answering beside a chat adapter's event loop: in worker processes, or in threads.

The adapters' event loop must ack every event at once.  A search holds the GIL, so in
threads of the same process it slows the loop's every socket call (each waits for the
GIL back): under 200 questions at once acks took 150-300 ms.  In worker processes the
loop keeps its GIL; the workers open the same memory-mapped index (the page cache is
shared), and follow the index the serving process builds without ever building one.
Platform-neutral: no chat library is imported here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from bot.answer import Answer, SourceResult
from bot.core import Core, core_over
from bot.settings import Settings
from index.store import _POINTER, IndexStore

log = logging.getLogger(__name__)
T = TypeVar("T")


class FollowerStore(IndexStore):
    """An index store that only reads the index another process builds: two builders
    would remove each other's folders.  It picks up a new build within
    ``check_interval`` seconds (a replaced build stays readable until then: its files
    are memory-mapped or open)."""

    def refresh(self, *, force: bool = False, verify_all: bool = False) -> None:
        try:
            name = (self.index_dir / _POINTER).read_text(encoding="utf-8").strip()
        except OSError as exc:
            self.last_error = f"no index yet in {self.index_dir}: {exc.strerror}"
            return None
        if self._index is not None and self._index.directory.name == name:
            return None
        fresh = self._load_pointer()
        if fresh is None:
            return None
        old, self._index = self._index, fresh
        if old is not None:
            old.close()
        return None


_core: Core | None = None  # the worker process's own


WORKER_NICENESS = 10  # below the event loop's process: under load the CPU goes to acks first


def _start_worker(settings: Settings) -> None:
    global _core
    with contextlib.suppress(OSError, AttributeError):  # AttributeError: no os.nice here
        os.nice(WORKER_NICENESS)
    # Ctrl-C in a terminal (or systemd's SIGTERM to the whole group) reaches the workers
    # too: the serving process alone decides when they stop, after the answers in flight.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    store = FollowerStore(
        settings.corpus, settings.resolved_index_dir, check_interval=settings.check_interval
    )
    _core = core_over(settings, store)


def _worker_core() -> Core:
    assert _core is not None, "the worker was not started"
    return _core


def _follow_up(question: str, previous: str) -> Answer:
    return _worker_core().follow_up(question, previous)


def _ask(question: str, context: str, offset: int) -> Answer:
    return _worker_core().ask(question, context=context, offset=offset)


def _search(terms: str) -> Answer:
    return _worker_core().answerer.search(terms)


def _source(reference: str) -> SourceResult | None:
    return _worker_core().answerer.source(reference)


class AnswerPool:
    """``Core``'s questions as awaitables, answered in ``workers`` processes (0: in four
    threads of this process, as tests and tiny deployments may prefer)."""

    def __init__(self, core: Core, workers: int) -> None:
        self.core = core
        self.workers = workers
        self.executor: Executor = self._executor()

    def _executor(self) -> Executor:
        if self.workers > 0:
            return ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),  # never fork a running loop
                initializer=_start_worker,
                initargs=(self.core.settings,),
            )
        return ThreadPoolExecutor(max_workers=4, thread_name_prefix="answer")

    async def _run(self, in_process: Callable[..., T], here: Callable[[], T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        if self.workers <= 0:
            return await loop.run_in_executor(self.executor, here)
        executor = self.executor
        try:
            return await loop.run_in_executor(executor, in_process, *args)
        except BrokenProcessPool:
            # A worker died (killed, out of memory): start a fresh pool and ask once more,
            # so one lost process costs one slow answer, not every answer after it.
            if self.executor is executor:  # the first to notice replaces it
                log.error("an answer worker died; starting new ones")
                self.executor = self._executor()
                executor.shutdown(wait=False, cancel_futures=True)
            return await loop.run_in_executor(self.executor, in_process, *args)

    async def warm_up(self) -> None:
        """Start every worker and load its index now, not on the first question."""
        await asyncio.gather(*(self.search("") for _ in range(max(self.workers, 1))))

    async def follow_up(self, question: str, previous: str) -> Answer:
        return await self._run(
            _follow_up, lambda: self.core.follow_up(question, previous), question, previous
        )

    async def ask(self, question: str, *, context: str = "", offset: int = 0) -> Answer:
        return await self._run(
            _ask,
            lambda: self.core.ask(question, context=context, offset=offset),
            question,
            context,
            offset,
        )

    async def search(self, terms: str) -> Answer:
        return await self._run(_search, lambda: self.core.answerer.search(terms), terms)

    async def source(self, reference: str) -> SourceResult | None:
        return await self._run(_source, lambda: self.core.answerer.source(reference), reference)

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
