"""Following RSS and Atom feeds: each new entry's page is added to the corpus.

A feed is polled with a conditional request (its last ``ETag`` / ``Last-Modified``), so
an unchanged feed costs one short answer (304).  Each new entry's *link* is added exactly
as ``citebot add URL`` adds a page (the entry's own summary is not the article), a few at
a time.  Entries already seen are remembered in SQLite, so a restart adds nothing twice;
an entry whose page failed is retried on the next polls, a few times.  A failing feed
backs off (twice the interval after each failure, at most 12 hours, or what the server's
``Retry-After`` asks).  Feeds are parsed by ``feedparser``; the clock is passed in, so
tests move time instead of sleeping.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from bot.core import Core
from bot.fetch import Fetcher, FetchError, check_scheme
from bot.pages import Added, Hints, PageAdder, canonical_url
from bot.state import State
from index.documents import CorpusError
from index.store import IndexUnavailable

log = logging.getLogger(__name__)

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
)
MAX_BACKOFF = 12 * 3600.0
MAX_ENTRIES = 100  # entries read from one poll; a feed's newest come first
ENTRY_ATTEMPTS = 3  # tries for an entry whose page fails, one per poll
WORKERS = 4  # pages fetched at once


@dataclass
class PollReport:
    feed: str
    url: str
    not_modified: bool = False
    added: list[Added] = field(default_factory=list)
    duplicates: int = 0
    failed: list[str] = field(default_factory=list)  # one line each: "URL: reason"
    error: str = ""  # the feed itself could not be read

    @property
    def message(self) -> str:
        if self.error:
            return f"{self.feed}: failed: {self.error}"
        if self.not_modified and not self.added and not self.failed:
            return f"{self.feed}: not modified"
        parts = [f"{len(self.added)} added"]
        if self.duplicates:
            parts.append(f"{self.duplicates} already in the corpus")
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        return f"{self.feed}: " + ", ".join(parts)


@dataclass(frozen=True)
class _Entry:
    link: str
    hints: Hints


class Feeds:
    """The feeds followed (stored in ``State``) and their polling."""

    def __init__(
        self,
        state: State,
        adder: PageAdder,
        fetcher: Fetcher,
        *,
        interval_minutes: float = 30,
        clock: Callable[[], float] = time.time,
        workers: int = WORKERS,
    ) -> None:
        self.state = state
        self.adder = adder
        self.fetcher = fetcher
        self.interval = interval_minutes * 60
        self.clock = clock
        self.workers = workers

    # -- following -----------------------------------------------------------------

    def follow(self, url: str, name: str = "") -> str:
        """Check that ``url`` is a feed and follow it; raises ``ValueError`` saying why not."""
        url = url.strip().strip("<>")
        try:
            check_scheme(url)
            response = self.fetcher.get(url, accept=FEED_ACCEPT)
        except FetchError as exc:
            raise ValueError(str(exc)) from None
        parsed = _parse(response.body, response.url, response.headers)
        if parsed is None:
            raise ValueError(f"{url}: not an RSS or Atom feed")
        title = str(parsed.feed.get("title", "")).strip()
        name = name.strip() or self._free_name(title, url)
        if not re.fullmatch(r"[\w.-]{1,60}", name):
            raise ValueError(f"{name!r}: a feed name is 1-60 letters, digits, '.', '-' or '_'")
        if self.state.feed(name) is not None:
            raise ValueError(f"a feed named {name!r} is followed already")
        existing = self.state.feed(url)
        if existing is not None:
            raise ValueError(f"{url} is followed already, as {existing['name']}")
        if not self.state.add_feed(name, url):  # another process just followed it
            raise ValueError(f"{url} or the name {name} is followed already")
        entries = len(parsed.entries)
        return f"following {name} ({title or url}): {entries} entries, added at the next poll"

    def _free_name(self, title: str, url: str) -> str:
        base = re.sub(r"[^\w.]+", "-", title.casefold()).strip("-_.")[:40].strip("-")
        base = base or (urlsplit(url).hostname or "feed").removeprefix("www.")
        name, n = base, 2
        while self.state.feed(name) is not None:
            name, n = f"{base}-{n}", n + 1
        return name

    def unfollow(self, name_or_url: str) -> str:
        feed = self.state.feed(name_or_url.strip().strip("<>"))
        if feed is None:
            names = ", ".join(f["name"] for f in self.state.feeds()) or "none"
            raise ValueError(f"no feed named {name_or_url!r} (followed: {names})")
        self.state.remove_feed(int(feed["id"]))
        return f"stopped following {feed['name']} ({feed['url']}); its articles stay in the corpus"

    def describe(self) -> list[str]:
        """One line a feed: name, URL, last success, last error, articles added."""
        lines = []
        for f in self.state.feeds():
            ok = _when(f["last_success"]) if f["last_success"] else "never"
            line = f"{f['name']}  {f['url']}\n    last success: {ok}; articles added: "
            line += str(f["articles_added"])
            if f["last_error"]:
                line += f"\n    last error ({_when(f['last_error_at'])}): {f['last_error']}"
                if f["failures"]:
                    line += f"; next try {_when(f['next_poll'])}"
            lines.append(line)
        return lines

    # -- polling -------------------------------------------------------------------

    def poll_all(self) -> list[PollReport]:
        """Poll every feed now, whatever its schedule (``citebot feeds poll``)."""
        return [self.poll(feed) for feed in self.state.feeds()]

    def poll_due(self) -> list[PollReport]:
        """Poll the feeds whose time has come (the running bot calls this every minute)."""
        now = self.clock()
        return [self.poll(f) for f in self.state.feeds() if float(f["next_poll"]) <= now]

    def poll(self, feed: dict[str, Any]) -> PollReport:
        report = PollReport(str(feed["name"]), str(feed["url"]))
        feed_id = int(feed["id"])
        headers = {}
        if feed["etag"]:
            headers["If-None-Match"] = str(feed["etag"])
        if feed["last_modified"]:
            headers["If-Modified-Since"] = str(feed["last_modified"])
        try:
            response = self.fetcher.get(report.url, accept=FEED_ACCEPT, headers=headers)
        except FetchError as exc:
            return self._failed(feed, report, exc.reason, exc.retry_after)
        entries: list[_Entry] = []
        validators: dict[str, object] = {}
        if response.not_modified:
            report.not_modified = True
        else:
            parsed = _parse(response.body, response.url, response.headers)
            if parsed is None:
                return self._failed(feed, report, "not an RSS or Atom feed", None)
            entries = _entries(parsed, response.url, report.url)
            validators = {
                "etag": response.headers.get("etag", ""),
                "last_modified": response.headers.get("last-modified", ""),
            }
        seen = self.state.feed_entries(feed_id)

        def again(link: str) -> bool:  # a page that failed on an earlier poll: a few more tries
            status, attempts = seen[link]
            return status == "failed" and attempts < ENTRY_ATTEMPTS

        current = {canonical_url(e.link): e for e in entries}
        todo = [e for key, e in current.items() if key not in seen or again(key)]
        todo += [_Entry(k, Hints(feed=report.url)) for k in seen if k not in current and again(k)]
        for entry, outcome in zip(todo, self._add_all(todo), strict=True):
            key = canonical_url(entry.link)
            if isinstance(outcome, Added):
                if outcome.status == "duplicate":
                    report.duplicates += 1
                else:
                    report.added.append(outcome)
                self.state.record_entry(feed_id, key, outcome.status)
            else:
                report.failed.append(outcome)
                self.state.record_entry(feed_id, key, "failed", outcome)
        now = self.clock()
        last_error = ""
        if report.failed:
            last_error = (
                f"{len(report.failed)} of {len(todo)} pages failed, e.g. {report.failed[0]}"
            )
        self.state.update_feed(
            feed_id,
            added=len(report.added),
            last_success=now,
            failures=0,
            next_poll=now + self.interval,
            last_error=last_error,
            last_error_at=now if last_error else None,
            **validators,
        )
        return report

    def _add_all(self, entries: list[_Entry]) -> list[Added | str]:
        def add(entry: _Entry) -> Added | str:
            try:
                return self.adder.add(entry.link, hints=entry.hints)
            except (FetchError, CorpusError) as exc:
                return str(exc)
            except Exception as exc:  # one bad page must not stop the others
                log.exception("adding %s failed", entry.link)
                return f"{entry.link}: {type(exc).__name__}: {exc}"

        if len(entries) <= 1 or self.workers <= 1:
            return [add(e) for e in entries]
        with ThreadPoolExecutor(self.workers, thread_name_prefix="citebot-fetch") as pool:
            return list(pool.map(add, entries))

    def _failed(
        self, feed: dict[str, Any], report: PollReport, reason: str, retry_after: float | None
    ) -> PollReport:
        failures = int(feed["failures"]) + 1
        delay = min(self.interval * 2 ** (failures - 1), MAX_BACKOFF)
        if retry_after:
            delay = max(delay, min(retry_after, MAX_BACKOFF))
        now = self.clock()
        self.state.update_feed(
            int(feed["id"]),
            failures=failures,
            last_error=reason,
            last_error_at=now,
            next_poll=now + delay,
        )
        report.error = reason
        log.warning("feed %s: %s; next try in %.0f min", report.feed, reason, delay / 60)
        return report


def page_adder(core: Core, clock: Callable[[], float] = time.time) -> PageAdder:
    """The ``PageAdder`` for the core's corpus, under its ``allow_private_urls`` setting."""

    cache: list[tuple[float, dict[str, tuple[str, str]]]] = []

    def indexed() -> dict[str, tuple[str, str]]:
        """Every indexed article's URL and title (files dropped in name their URL too),
        looked up at most once a minute: pages added here are found in the manifest."""
        if cache and time.monotonic() - cache[0][0] < 60:
            return cache[0][1]
        try:
            articles = core.store.current().articles.values()
        except IndexUnavailable:
            return {}
        cache[:] = [(time.monotonic(), {a.id: (a.url, a.title) for a in articles})]
        return cache[0][1]

    fetcher = Fetcher(allow_private=core.settings.allow_private_urls)
    return PageAdder(core.settings.corpus, fetcher, clock=clock, indexed=indexed)


def build_feeds(core: Core, state: State, clock: Callable[[], float] = time.time) -> Feeds:
    """Everything the CLI and the chat adapters need to follow and poll feeds."""
    adder = page_adder(core, clock)
    return Feeds(
        state,
        adder,
        adder.fetcher,
        interval_minutes=core.settings.feed_interval_minutes,
        clock=clock,
    )


def _parse(body: bytes, url: str, headers: dict[str, str]) -> Any | None:
    """The parsed feed, or None when it is not one.  A stream, never a string: feedparser
    would fetch a string that looks like a URL itself, bypassing every check."""
    parsed = feedparser.parse(
        io.BytesIO(body),
        response_headers={"content-location": url, "content-type": headers.get("content-type", "")},
    )
    if not parsed.get("version") and not parsed.entries:
        return None
    return parsed


def _entries(parsed: Any, base: str, feed_url: str) -> list[_Entry]:
    title = str(parsed.feed.get("title", "")).strip()
    entries = []
    for item in parsed.entries[:MAX_ENTRIES]:
        link = str(item.get("link", "")).strip()
        if not link:
            continue
        link = urljoin(base, link)
        if urlsplit(link).scheme not in ("http", "https"):
            continue
        published = item.get("published_parsed") or item.get("updated_parsed")
        date = time.strftime("%Y-%m-%d", published) if published else ""
        hints = Hints(
            title=str(item.get("title", "")).strip(), date=date, source=title, feed=feed_url
        )
        entries.append(_Entry(link, hints))
    return entries


def _when(timestamp: float | None) -> str:
    if not timestamp:
        return "never"
    return datetime.fromtimestamp(float(timestamp), UTC).strftime("%Y-%m-%d %H:%M UTC")


def run_feed_loop(feeds: Feeds, stop: threading.Event, tick: float = 60.0) -> None:
    """Poll due feeds every ``tick`` seconds until ``stop`` is set (a daemon thread's body
    for the Slack adapter); a failure is logged and the loop goes on."""
    while not stop.is_set():
        try:
            for report in feeds.poll_due():
                log.info("feed poll: %s", report.message)
        except Exception:
            log.exception("the feed poll failed")
        stop.wait(tick)


def start_feed_thread(feeds: Feeds, tick: float = 60.0) -> tuple[threading.Thread, threading.Event]:
    """Start polling in the background; set the returned event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(
        target=run_feed_loop, args=(feeds, stop, tick), daemon=True, name="feeds"
    )
    thread.start()
    return thread, stop


async def feed_task(feeds: Feeds, tick: float = 60.0) -> None:
    """The same loop for an asyncio bot (Discord): polls run in a worker thread."""
    while True:
        try:
            for report in await asyncio.to_thread(feeds.poll_due):
                log.info("feed poll: %s", report.message)
        except Exception:
            log.exception("the feed poll failed")
        await asyncio.sleep(tick)
