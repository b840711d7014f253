"""The feeds followed and what each poll found, kept in ``State``'s SQLite file so a
restart neither fetches nor adds an article twice.

``State`` mixes this in: one file, one connection and one lock for everything the bot
remembers; this module holds the feeds' tables and queries.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

FEEDS_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL UNIQUE,
    etag TEXT NOT NULL DEFAULT '',
    last_modified TEXT NOT NULL DEFAULT '',
    last_success REAL,
    last_error TEXT NOT NULL DEFAULT '',
    last_error_at REAL,
    failures INTEGER NOT NULL DEFAULT 0,
    next_poll REAL NOT NULL DEFAULT 0,
    articles_added INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS feed_entries (
    feed_id INTEGER NOT NULL,
    link TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1,
    error TEXT NOT NULL DEFAULT '',
    updated_at REAL NOT NULL,
    PRIMARY KEY (feed_id, link)
);
"""
_FEED_COLUMNS = frozenset(
    "etag last_modified last_success last_error last_error_at failures next_poll".split()
)


class FeedState:
    """The feeds part of ``State``, which supplies the connection (``_tx``) and ``clock``."""

    clock: Callable[[], float]

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def add_feed(self, name: str, url: str) -> bool:
        """Follow a feed; False when that name or URL is followed already."""
        with self._tx() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO feeds (name, url, created_at) VALUES (?,?,?)",
                (name, url, self.clock()),
            )
            return cursor.rowcount == 1

    def feeds(self) -> list[dict[str, Any]]:
        with self._tx() as db:
            return [dict(r) for r in db.execute("SELECT * FROM feeds ORDER BY name").fetchall()]

    def feed(self, name_or_url: str) -> dict[str, Any] | None:
        with self._tx() as db:
            row = db.execute(
                "SELECT * FROM feeds WHERE name = ? OR url = ? ORDER BY name = ? DESC LIMIT 1",
                (name_or_url, name_or_url, name_or_url),
            ).fetchone()
        return dict(row) if row else None

    def remove_feed(self, feed_id: int) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM feed_entries WHERE feed_id = ?", (feed_id,))
            db.execute("DELETE FROM feeds WHERE id = ?", (feed_id,))

    def update_feed(self, feed_id: int, *, added: int = 0, **values: object) -> None:
        """Record a poll's outcome (only the columns a poll changes) and articles added."""
        unknown = set(values) - _FEED_COLUMNS
        if unknown:
            raise ValueError(f"not a feed column: {sorted(unknown)}")
        assignments = [f"{column} = ?" for column in values] + [
            "articles_added = articles_added + ?"
        ]
        with self._tx() as db:
            db.execute(
                f"UPDATE feeds SET {', '.join(assignments)} WHERE id = ?",
                (*values.values(), added, feed_id),
            )

    def feed_entries(self, feed_id: int) -> dict[str, tuple[str, int]]:
        """Each entry link seen in a feed: (status, attempts)."""
        with self._tx() as db:
            rows = db.execute(
                "SELECT link, status, attempts FROM feed_entries WHERE feed_id = ?", (feed_id,)
            ).fetchall()
        return {r["link"]: (r["status"], int(r["attempts"])) for r in rows}

    def record_entry(self, feed_id: int, link: str, status: str, error: str = "") -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO feed_entries (feed_id, link, status, error, updated_at)"
                " VALUES (?,?,?,?,?) ON CONFLICT (feed_id, link) DO UPDATE SET"
                " status = excluded.status, error = excluded.error,"
                " attempts = attempts + 1, updated_at = excluded.updated_at",
                (feed_id, link, status, error, self.clock()),
            )
