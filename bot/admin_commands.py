"""``/add``, ``/feeds`` and ``/sources`` for any chat platform: the adapters only pass the
user, the command's text and (Discord) whether the user may manage the server, and send
the reply back privately.

Adding articles makes the bot fetch what someone typed, so ``/add`` and ``/feeds`` are
for admins only: the user ids in the ``admins`` setting, and on Discord also members
with Manage Server.  The check lives here, not in the adapters, so none can forget it.
Replies are plain text (no markup); the adapters escape them as they escape article text.
Fetching takes seconds: adapters call these from a worker thread, never the event loop.

Wiring, once per adapter: ``admin = ChatAdmin(core, state, platform="slack")``; start the
feed poller (``bot.feeds.start_feed_thread(admin.feeds)`` in a thread-based bot, or
``loop.create_task(bot.feeds.feed_task(admin.feeds))`` in an asyncio one); answer
``/add``, ``/feeds`` and ``/sources`` with ``admin.handle(command, user_id, text,
manages_server=...)`` (or ``handle_add`` / ``handle_feeds`` / ``handle_sources``), from a
worker thread, sending ``reply.text`` privately.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.core import Core
from bot.feeds import Feeds, build_feeds
from bot.fetch import FetchError
from bot.state import State
from index.documents import CorpusError
from index.store import ArticleInfo, IndexUnavailable

log = logging.getLogger(__name__)

MAX_URLS = 5  # a single /add; each may take seconds
SOURCES_DEFAULT, SOURCES_MAX = 10, 25
REPLY_CHARS = 1900  # under Discord's 2,000 a message, with room for the adapter
ADD_USAGE = "Usage: /add URL [URL...] (a news article's web page; up to 5 at once)"
FEEDS_USAGE = (
    "Usage: /feeds lists the feeds followed; /feeds add URL [NAME] follows an RSS or Atom "
    "feed; /feeds remove NAME|URL stops."
)
# Slack sends links as <https://...> or <https://...|label>; Discord as typed.
_LINK_RE = re.compile(r"<([^<>|\s]+)(?:\|[^<>]*)?>|(\S+)")


@dataclass(frozen=True)
class Reply:
    """What to tell the user, privately (Slack: ephemeral; Discord: ephemeral)."""

    text: str
    ok: bool = True  # False: refused or failed, nothing changed


def is_admin(admins: list[str], user: str, *, manages_server: bool = False) -> bool:
    return manages_server or (bool(user) and user in admins)


def _refusal(what: str, platform_hint: str) -> Reply:
    return Reply(
        f"Only citebot admins can {what}. An admin lists user ids in the `admins` "
        f"setting{platform_hint}.",
        ok=False,
    )


def _fit(lines: list[str], limit: int = REPLY_CHARS) -> str:
    """Whole lines up to ``limit`` characters (Discord's message limit is 2,000)."""
    text = "\n".join(lines)
    if len(text) <= limit:
        return text
    kept: list[str] = []
    size = 0
    for n, line in enumerate(lines):
        more = f"... and {len(lines) - n} more"
        if size + len(line) + 1 + len(more) > limit:
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join([*kept, more])


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:]


def _links(text: str) -> list[str]:
    return [m.group(1) or m.group(2) for m in _LINK_RE.finditer(text)]


class ChatAdmin:
    """The chat side of following news sources, shared by the Slack and Discord bots."""

    def __init__(
        self,
        core: Core,
        state: State,
        feeds: Feeds | None = None,
        *,
        platform: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.core = core
        self.state = state
        self.feeds = feeds or build_feeds(core, state, clock)
        self.platform = platform
        self.clock = clock

    def is_admin(self, user: str, *, manages_server: bool = False) -> bool:
        return is_admin(self.core.settings.admins, user, manages_server=manages_server)

    def _hint(self) -> str:
        return (
            "; on Discord, members who can manage the server may too"
            if (self.platform == "discord")
            else ""
        )

    def handle(self, command: str, user: str, text: str, *, manages_server: bool = False) -> Reply:
        """Any of the three by name ("/add" or "add"), for an adapter's one listener."""
        name = command.strip().lstrip("/").lower()
        if name == "add":
            return self.handle_add(user, text, manages_server=manages_server)
        if name == "feeds":
            return self.handle_feeds(user, text, manages_server=manages_server)
        if name == "sources":
            return self.handle_sources(text)
        raise ValueError(f"not a ChatAdmin command: {command!r}")

    def handle_add(self, user: str, text: str, *, manages_server: bool = False) -> Reply:
        """``/add URL...``: fetch each page into the corpus; one line per URL."""
        if not self.is_admin(user, manages_server=manages_server):
            log.info("refused /add from %s %s", self.platform, user)
            return _refusal("add articles", self._hint())
        urls = _links(text)
        if not urls:
            return Reply(ADD_USAGE, ok=False)
        if not any("://" in url for url in urls):
            return Reply(f"No link there. {ADD_USAGE}", ok=False)
        if len(urls) > MAX_URLS:
            return Reply(f"At most {MAX_URLS} URLs at once. {ADD_USAGE}", ok=False)
        lines, ok = [], False
        for url in urls:
            try:
                added = self.feeds.adder.add(url)
            except (FetchError, CorpusError) as exc:
                lines.append(f"Not added: {exc}")
                continue
            ok = True
            log.info("%s %s /add %s: %s", self.platform, user, url, added.status)
            if added.status == "duplicate":
                lines.append(f"Already in the corpus: {added.title or added.url} ({added.file})")
            else:
                title = added.title or "(no title)"
                wait = self.core.settings.check_interval
                when = f"within {wait:g} seconds" if wait >= 1 else "now"
                lines.append(
                    f"Added: {title} - {added.url} ({added.file}); it can be cited {when}."
                )
        return Reply(_fit(lines), ok=ok)

    def handle_feeds(self, user: str, text: str, *, manages_server: bool = False) -> Reply:
        """``/feeds`` (list), ``/feeds add URL [NAME]``, ``/feeds remove NAME|URL``."""
        if not self.is_admin(user, manages_server=manages_server):
            log.info("refused /feeds from %s %s", self.platform, user)
            return _refusal("manage feeds", self._hint())
        words = _links(text)
        action = words[0].lower() if words else "list"
        try:
            if action == "list" and len(words) <= 1:
                lines = self.feeds.describe()
                return Reply(_fit(lines) if lines else f"No feeds yet. {FEEDS_USAGE}")
            if action == "add" and len(words) in (2, 3):
                message = self.feeds.follow(words[1], words[2] if len(words) == 3 else "")
                log.info("%s %s followed %s", self.platform, user, words[1])
                minutes = self.core.settings.feed_interval_minutes
                return Reply(f"{_sentence(message)} (polled every {minutes} minutes).")
            if action == "remove" and len(words) == 2:
                message = self.feeds.unfollow(words[1])
                log.info("%s %s unfollowed %s", self.platform, user, words[1])
                return Reply(_sentence(message) + ".")
        except ValueError as exc:
            return Reply(f"Nothing changed: {exc}", ok=False)
        return Reply(FEEDS_USAGE, ok=False)

    def handle_sources(self, text: str = "") -> Reply:
        """``/sources [N]``: the N most recent articles with their dates and links."""
        words = text.split()
        if len(words) > 1 or (words and not words[0].isdigit()):
            return Reply("Usage: /sources [N] (the N most recent articles, up to 25)", ok=False)
        count = min(int(words[0]), SOURCES_MAX) if words else SOURCES_DEFAULT
        try:
            index = self.core.store.current()
        except IndexUnavailable as exc:
            return Reply(f"No articles to list: {exc}", ok=False)
        articles = list(index.articles.values())
        if not articles:
            return Reply("The corpus has no articles yet.")
        seen = self.state.note_articles({a.id: a.sha256 for a in articles})

        def recency(article: ArticleInfo) -> tuple[str, float]:  # undated: when first seen
            first = seen.get(article.id, 0.0)
            return article.date or datetime.fromtimestamp(first, UTC).date().isoformat(), first

        articles.sort(key=recency, reverse=True)
        lines = [f"The {min(count, len(articles))} most recent of {len(articles)} articles:"]
        for a in articles[:count]:
            details = " \u00b7 ".join(x for x in (a.source, a.date or "undated") if x)
            lines.append(
                f"\u2022 {a.display_title} ({details})" + (f"\n  {a.url}" if a.url else "")
            )
        return Reply(_fit(lines))
