"""``citebot add URL...`` and ``citebot feeds ...``: following news sources from a terminal.

Kept apart from ``bot.cli`` so the commands there stay short; ``bot.cli`` registers the
``feeds`` parser, and ``bot.corpus_cli`` hands URLs given to ``add`` to ``add_urls``.
"""

from __future__ import annotations

import argparse
import re
import sys

from bot.core import Core
from bot.feeds import Feeds, build_feeds, page_adder
from bot.fetch import FetchError
from bot.pages import Hints
from bot.state import State
from index.documents import CorpusError

_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:(//|[^\\/])")


def is_url(argument: str) -> bool:
    """``https://...`` or any other ``scheme:`` (refused later with a reason), not a path."""
    return bool(_URL_RE.match(argument))


def add_urls(
    core: Core, urls: list[str], *, force: bool = False, hints: Hints | None = None
) -> int:
    """Fetch each page into the corpus, one line each; 1 if any could not be added."""
    adder = page_adder(core)
    status = 0
    added = 0
    for url in urls:
        try:
            result = adder.add(url, force=force, hints=hints)
        except (FetchError, CorpusError) as exc:
            print(f"citebot: {exc}", file=sys.stderr)
            status = 1
            continue
        print(result.message)
        added += result.status != "duplicate"
    if added:
        core.store.refresh()
    return status


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    feeds = sub.add_parser("feeds", help="follow RSS/Atom feeds: add, list, remove, poll")
    actions = feeds.add_subparsers(dest="feeds_action", metavar="ACTION")
    add = actions.add_parser("add", help="follow a feed (checked now, read at the next poll)")
    add.add_argument("url", metavar="URL")
    add.add_argument("--name", default="", help="a short name (default: from the feed's title)")
    actions.add_parser("list", help="the feeds: last success, last error, articles added")
    remove = actions.add_parser("remove", help="stop following a feed (its articles stay)")
    remove.add_argument("feed", metavar="NAME|URL")
    actions.add_parser("poll", help="poll every feed once, now, and index what is new")


def cmd_feeds(core: Core, args: argparse.Namespace) -> int:
    feeds = build_feeds(core, State(core.settings.database))
    action = args.feeds_action or "list"
    if action == "poll":
        return _poll(core, feeds)
    try:
        if action == "add":
            print(feeds.follow(args.url, args.name))
        elif action == "remove":
            print(feeds.unfollow(args.feed))
        else:
            lines = feeds.describe()
            print("\n".join(lines) if lines else "No feeds yet: citebot feeds add URL")
    except ValueError as exc:
        print(f"citebot: {exc}", file=sys.stderr)
        return 2
    return 0


def _poll(core: Core, feeds: Feeds) -> int:
    reports = feeds.poll_all()
    if not reports:
        print("No feeds yet: citebot feeds add URL")
        return 0
    for report in reports:
        print(report.message)
        for added in report.added:
            print(f"  + {added.title or added.url} ({added.file})")
        for failure in report.failed:
            print(f"  ! {failure}")
    if any(r.added for r in reports):
        core.store.refresh()
    return 1 if any(r.error for r in reports) else 0
