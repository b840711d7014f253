"""The serving index for one corpus folder, kept in step with the corpus.

Writing an index is ``index.writer``, reading one ``index.reader``, noticing corpus
changes ``index.watch``; this module decides when to rebuild and switches to a finished
build by an atomic rename of the ``CURRENT`` pointer, so the last good index keeps
serving while a new one is built or when a corpus file turns out to be unreadable.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from index import bm25, delta
from index.analyzer import ANALYZER_VERSION
from index.documents import CorpusError
from index.integrity import DamagedIndex
from index.reader import ArticleInfo, Passage, SearchIndex
from index.watch import CorpusWatcher
from index.writer import BuildReport, build_index, corpus_fingerprint, problem_of

__all__ = [
    "ArticleInfo",
    "BuildReport",
    "CorpusBuildError",
    "IndexStore",
    "IndexUnavailable",
    "Passage",
    "SearchIndex",
    "build_index",
    "corpus_fingerprint",
    "problem_of",
    "report_dict",
]

log = logging.getLogger(__name__)

_POINTER = "CURRENT"


class IndexUnavailable(Exception):
    """No index can be served: the corpus never built and there is no earlier index."""


class CorpusBuildError(Exception):
    """Some corpus files cannot be read; the message names each file and why."""

    def __init__(self, errors: list[CorpusError]) -> None:
        self.errors = errors
        super().__init__(_unreadable_message([str(e) for e in errors]))


def _problem_line(problem: dict[str, str]) -> str:
    return f"{problem['file']}: {problem['problem']}"


def _unreadable_message(problems: list[str]) -> str:
    lines = "\n".join(f"  {p}" for p in problems)
    return f"{len(problems)} corpus file(s) could not be indexed:\n{lines}"


class IndexStore:
    """The serving index for one corpus folder, rebuilt when the corpus changes.

    ``current()`` is cheap to call per question: once an index is served it only returns
    it.  A watcher thread looks at the corpus every ``check_interval`` seconds (by names,
    sizes and times) and rebuilds on a change, so no question waits for a scan or a
    build.  With ``watch=False`` or ``check_interval=0`` the asking thread looks instead,
    when due (the tests' injected clock decides).  A file that cannot be read is left
    out and named in ``problems()``; every other article, new ones included, is indexed.
    A damaged index is rebuilt from the corpus.
    """

    def __init__(
        self,
        corpus_dir: Path,
        index_dir: Path,
        *,
        check_interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        progress: bool = False,
        watch: bool = True,
    ) -> None:
        self.corpus_dir = corpus_dir
        self.index_dir = index_dir
        self.check_interval = check_interval
        self.clock = clock
        self.progress = progress
        self.last_error: str | None = None
        self.last_build: BuildReport | None = None
        self._index: SearchIndex | None = None
        self._checked_at: float | None = None
        self._lock = threading.RLock()  # one look or build at a time
        self._watcher: CorpusWatcher | None = None
        self.warm_up_queries = True
        self._watch = watch and check_interval > 0

    def _load_pointer(self, *, verify_all: bool = False) -> SearchIndex | None:
        pointer = self.index_dir / _POINTER
        try:
            name = pointer.read_text(encoding="utf-8").strip()
            index = SearchIndex(self.index_dir / name, verify_all=verify_all)
        except FileNotFoundError:
            return None  # no index yet
        except DamagedIndex as exc:
            logging.getLogger("index.integrity").warning(
                "the index is damaged (%s); rebuilding it from the corpus", exc
            )
            return None
        except (OSError, ValueError, KeyError, TypeError, EOFError) as exc:
            # an older format after an upgrade, or damage the checksums cannot see
            log.info("rebuilding the index: %s", exc)
            return None
        if index.meta.get("analyzer_version") != ANALYZER_VERSION:
            index.close()
            return None  # written by another analyzer: rebuild, never misread
        return index

    def _switch_to(self, report: BuildReport) -> SearchIndex:
        final = self.index_dir / f"build-{report.directory.name.removeprefix('.build-')}"
        report.directory.rename(final)
        report.directory = final
        pointer_tmp = self.index_dir / f".{_POINTER}.tmp"
        pointer_tmp.write_text(final.name, encoding="utf-8")
        os.replace(pointer_tmp, self.index_dir / _POINTER)
        # The old index is not closed: questions in flight may still read its paragraphs
        # (its files stay readable after removal until the last reference is dropped).
        self._index = SearchIndex(final)
        for stale in self.index_dir.glob("build-*"):
            if stale != final:
                shutil.rmtree(stale, ignore_errors=True)
        return self._index

    def problems(self) -> list[dict[str, str]]:
        """The corpus files the serving index had to leave out: ``file`` and ``problem``."""
        index = self._index
        if index is None:
            return []
        return [p for p in index.meta.get("skipped") or [] if isinstance(p, dict)]

    def refresh(self, *, force: bool = False, verify_all: bool = False) -> BuildReport | None:
        """Rebuild if the corpus changed (or ``force``); None when nothing needed doing.

        Files that cannot be read are left out of the new index and logged once, when it
        is built; ``force`` builds from the corpus alone, never reading the old index.
        Raises ``CorpusBuildError`` only when the corpus folder itself is gone (the
        earlier index keeps serving).
        """
        with self._lock:
            return self._refresh(force=force, verify_all=verify_all)

    def _refresh(self, *, force: bool, verify_all: bool) -> BuildReport | None:
        if not force and (self._index is None or verify_all):
            if self._index is not None:
                self._index.close()
            self._index = self._load_pointer(verify_all=verify_all)
        fingerprint = corpus_fingerprint(self.corpus_dir)
        current = self._index
        unchanged = (
            current is not None
            and current.meta.get("fingerprint") == fingerprint
            and current.meta.get("corpus_dir") == str(self.corpus_dir.resolve())
        )
        if not force and unchanged and current is not None:
            self.last_error = None
            return None
        if fingerprint == "missing" and current is not None:
            self.last_error = f"{self.corpus_dir}: corpus folder not found"
            raise CorpusBuildError([CorpusError(self.corpus_dir, "corpus folder not found")])
        report = self._build(None if force else current, fingerprint, merge=False)
        if self._index is not None and delta.past_limit(self._index):
            # The change is served from the delta already; merging the segments now, on
            # this (the watcher's) thread, makes no question wait for it.
            report = self._build(self._index, fingerprint, merge=True)
        return report

    def _build(self, previous: SearchIndex | None, fingerprint: str, *, merge: bool) -> BuildReport:
        report = build_index(
            self.corpus_dir,
            self.index_dir,
            progress=self.progress,
            previous=previous,
            fingerprint=fingerprint,
            merge=merge,
        )
        self.last_error = None
        if report.skipped and not merge:  # a merge reads the same files: said once
            log.warning(
                "%s",
                _unreadable_message(
                    [_problem_line(problem_of(self.corpus_dir, e)) for e in report.skipped]
                ),
            )
        self._switch_to(report)
        self.last_build = report
        return report

    def current(self) -> SearchIndex:
        """The index to answer from.

        Safe from many threads, and never waits for a look at the corpus or a rebuild
        once an index is served (only the very first call loads or builds one).
        """
        if self._index is None:
            with self._lock:
                self._check()
        if self._watch:
            if self._watcher is None and self._index is not None:
                self._start_watching()
        elif self._due() and self._lock.acquire(blocking=False):
            try:
                self._check()
            finally:
                self._lock.release()
        if self._index is None:
            raise IndexUnavailable(self.last_error or f"no index for {self.corpus_dir}")
        return self._index

    def _start_watching(self) -> None:
        with self._lock:
            if self._watcher is None:
                self._watcher = CorpusWatcher(
                    self._look, self.check_interval, f"citebot-watch {self.corpus_dir.name}"
                )
                self._watcher.start()
                # The query loop is compiled code: load it now, not on a question (unless
                # this process never searches, as a chat front end with answer workers).
                if self.warm_up_queries:
                    threading.Thread(
                        target=bm25.warm_up, name="citebot-warm-up", daemon=True
                    ).start()

    def _look(self) -> None:
        """The watcher's look: the same as a due check, on the watcher's thread."""
        with self._lock:
            self._checked_at = None
            self._check()

    @property
    def watching(self) -> bool:
        return self._watcher is not None and self._watcher.running

    def close(self) -> None:
        """Stop watching the corpus (a build in progress is finished first)."""
        if self._watcher is not None:
            self._watcher.stop()

    def _due(self) -> bool:
        return self._checked_at is None or self.clock() - self._checked_at >= self.check_interval

    def _check(self) -> None:
        if not self._due() and self._index is not None:
            return  # another thread just looked
        self._checked_at = self.clock()
        try:
            self.refresh()
        except CorpusBuildError as exc:
            log.error("%s", exc)
        except CorpusError as exc:
            self.last_error = str(exc)
            # With no index, whoever asks gets this in IndexUnavailable: log it quietly.
            log.log(logging.ERROR if self._index is not None else logging.INFO, "%s", exc)

    def stats(self) -> dict[str, object]:
        index = self.current()
        return {
            "corpus": str(self.corpus_dir),
            "index": str(index.directory),
            "articles": len(index.articles),
            "paragraphs": index.size,
            "terms": len(index.vocab),
            "corpus_hash": index.corpus_hash[:16],
            "analyzer_version": index.meta["analyzer_version"],
        }


def report_dict(report: BuildReport) -> dict[str, object]:
    data = asdict(report)
    data["directory"] = str(report.directory)
    data["skipped"] = [str(e) for e in report.skipped]
    return data
