"""What the bot remembers between messages and restarts, in one SQLite file.

Both chat adapters share it: the questions asked (for the digest's "most asked" and
"could not answer"), feedback on answers, the question each thread is about (for
follow-ups and "More passages"), events already handled (Slack retries), and digest
subscriptions and posts (so a restart neither posts twice nor skips a day), and the feeds
followed with what each poll found (``bot.feed_state``).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.feed_state import FEEDS_SCHEMA, FeedState

if TYPE_CHECKING:
    from bot.answer import Answer

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    id INTEGER PRIMARY KEY,
    platform TEXT NOT NULL,
    channel TEXT NOT NULL,
    thread TEXT NOT NULL DEFAULT '',
    user_id TEXT NOT NULL,
    question TEXT NOT NULL,
    context TEXT NOT NULL DEFAULT '',
    answered INTEGER NOT NULL,
    citations TEXT NOT NULL DEFAULT '[]',
    shown INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_thread ON answers (platform, channel, thread);
CREATE INDEX IF NOT EXISTS answers_time ON answers (created_at);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    answer_id INTEGER NOT NULL REFERENCES answers (id),
    user_id TEXT NOT NULL,
    helpful INTEGER NOT NULL,
    created_at REAL NOT NULL,
    UNIQUE (answer_id, user_id)
);
CREATE TABLE IF NOT EXISTS events (
    platform TEXT NOT NULL,
    event_id TEXT NOT NULL,
    seen_at REAL NOT NULL,
    PRIMARY KEY (platform, event_id)
);
CREATE TABLE IF NOT EXISTS subscriptions (
    platform TEXT NOT NULL,
    channel TEXT NOT NULL,
    time_of_day TEXT NOT NULL,
    timezone TEXT NOT NULL,
    weekdays_only INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    PRIMARY KEY (platform, channel)
);
CREATE TABLE IF NOT EXISTS digests (
    platform TEXT NOT NULL,
    channel TEXT NOT NULL,
    slot TEXT NOT NULL,
    posted_at REAL NOT NULL,
    articles INTEGER NOT NULL,
    PRIMARY KEY (platform, channel, slot)
);
CREATE TABLE IF NOT EXISTS articles_seen (
    article TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    first_seen REAL NOT NULL
);
"""


@dataclass(frozen=True)
class AnswerRecord:
    id: int
    platform: str
    channel: str
    thread: str
    user_id: str
    question: str
    context: str
    answered: bool
    citations: list[str]
    shown: int
    created_at: float


class State(FeedState):
    """A thread-safe handle on the SQLite file (chat adapters answer from worker threads)."""

    def __init__(self, path: Path | str, clock: Callable[[], float] = time.time) -> None:
        if isinstance(path, Path):
            path.parent.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        with self._tx() as db:
            if str(path) != ":memory:":
                db.execute("PRAGMA journal_mode=WAL")
                # Durable against crashes, not against power loss mid-commit: what is lost
                # then is a dedupe mark or a vote.  FULL costs an fsync (~3 ms) per event,
                # which the chat adapters would pay before every ack.
                db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA + FEEDS_SCHEMA)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._db

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- answers and threads -------------------------------------------------------

    def record_answer(
        self,
        *,
        platform: str,
        channel: str,
        thread: str,
        user_id: str,
        question: str,
        context: str,
        answered: bool,
        citations: list[str],
        shown: int,
    ) -> int:
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO answers (platform, channel, thread, user_id, question, context,"
                " answered, citations, shown, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    platform,
                    channel,
                    thread,
                    user_id,
                    question,
                    context,
                    int(answered),
                    json.dumps(citations),
                    shown,
                    self.clock(),
                ),
            )
            return int(cursor.lastrowid or 0)

    def record(
        self, answer: Answer, *, platform: str, channel: str, user: str, thread: str = ""
    ) -> int:
        """Log an answer the bot gave (for follow-ups, "More passages" and the digest)."""
        return self.record_answer(
            platform=platform,
            channel=channel,
            thread=thread,
            user_id=user,
            question=answer.question,
            context=answer.context,
            answered=answer.answered,
            citations=[c.ref for c in answer.citations],
            shown=answer.offset + len(answer.citations),
        )

    def answer(self, answer_id: int) -> AnswerRecord | None:
        with self._tx() as db:
            row = db.execute("SELECT * FROM answers WHERE id = ?", (answer_id,)).fetchone()
        return _answer_record(row) if row else None

    def set_thread(self, answer_id: int, thread: str) -> None:
        """Tie an answer to the message it was posted as, so replies to it can follow up."""
        with self._tx() as db:
            db.execute("UPDATE answers SET thread = ? WHERE id = ?", (thread, answer_id))

    def set_shown(self, answer_id: int, shown: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE answers SET shown = ? WHERE id = ?", (shown, answer_id))

    def thread_question(self, platform: str, channel: str, thread: str) -> AnswerRecord | None:
        """The latest answered question in a thread the bot took part in."""
        with self._tx() as db:
            row = db.execute(
                "SELECT * FROM answers WHERE platform = ? AND channel = ? AND thread = ?"
                " AND answered = 1 ORDER BY id DESC LIMIT 1",
                (platform, channel, thread),
            ).fetchone()
        return _answer_record(row) if row else None

    def channel_question(self, platform: str, channel: str) -> AnswerRecord | None:
        """The latest answered question in a channel (a DM's conversation so far)."""
        with self._tx() as db:
            row = db.execute(
                "SELECT * FROM answers WHERE platform = ? AND channel = ? AND answered = 1"
                " ORDER BY id DESC LIMIT 1",
                (platform, channel),
            ).fetchone()
        return _answer_record(row) if row else None

    def is_bot_thread(self, platform: str, channel: str, thread: str) -> bool:
        with self._tx() as db:
            row = db.execute(
                "SELECT 1 FROM answers WHERE platform = ? AND channel = ? AND thread = ? LIMIT 1",
                (platform, channel, thread),
            ).fetchone()
        return row is not None

    def questions_since(self, since: float) -> list[AnswerRecord]:
        with self._tx() as db:
            rows = db.execute(
                "SELECT * FROM answers WHERE created_at >= ? ORDER BY id", (since,)
            ).fetchall()
        return [_answer_record(r) for r in rows]

    # -- feedback ------------------------------------------------------------------

    def record_feedback(self, answer_id: int, user_id: str, helpful: bool) -> None:
        """One vote per user and answer; voting again replaces the earlier vote."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO feedback (answer_id, user_id, helpful, created_at) VALUES (?,?,?,?)"
                " ON CONFLICT (answer_id, user_id) DO UPDATE SET helpful = excluded.helpful,"
                " created_at = excluded.created_at",
                (answer_id, user_id, int(helpful), self.clock()),
            )

    def feedback(self) -> list[dict[str, object]]:
        """Every vote with its question, for reviewing unhelpful answers."""
        with self._tx() as db:
            rows = db.execute(
                "SELECT f.helpful, f.user_id, a.question, a.citations, a.platform, f.created_at"
                " FROM feedback f JOIN answers a ON a.id = f.answer_id ORDER BY f.id"
            ).fetchall()
        return [dict(r) for r in rows]

    # -- events --------------------------------------------------------------------

    def first_time(self, platform: str, event_id: str) -> bool:
        """True the first time an event id is seen, so a redelivery is dropped: Slack's
        retries (event ids) and Discord's replays after a RESUME (message ids)."""
        with self._tx() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO events (platform, event_id, seen_at) VALUES (?,?,?)",
                (platform, event_id, self.clock()),
            )
            db.execute("DELETE FROM events WHERE seen_at < ?", (self.clock() - 86400,))
            return cursor.rowcount == 1

    # -- digest --------------------------------------------------------------------

    def subscribe(
        self, platform: str, channel: str, time_of_day: str, timezone: str, weekdays_only: bool
    ) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO subscriptions VALUES (?,?,?,?,?,?) ON CONFLICT (platform, channel)"
                " DO UPDATE SET time_of_day = excluded.time_of_day,"
                " timezone = excluded.timezone, weekdays_only = excluded.weekdays_only",
                (platform, channel, time_of_day, timezone, int(weekdays_only), self.clock()),
            )

    def unsubscribe(self, platform: str, channel: str) -> bool:
        with self._tx() as db:
            cursor = db.execute(
                "DELETE FROM subscriptions WHERE platform = ? AND channel = ?", (platform, channel)
            )
            return cursor.rowcount > 0

    def subscriptions(self, platform: str | None = None) -> list[dict[str, Any]]:
        with self._tx() as db:
            if platform is None:
                rows = db.execute("SELECT * FROM subscriptions ORDER BY platform, channel")
            else:
                rows = db.execute(
                    "SELECT * FROM subscriptions WHERE platform = ? ORDER BY channel", (platform,)
                )
            return [dict(r) for r in rows.fetchall()]

    def last_digest(self, platform: str, channel: str) -> tuple[str, float] | None:
        with self._tx() as db:
            row = db.execute(
                "SELECT slot, posted_at FROM digests WHERE platform = ? AND channel = ?"
                " ORDER BY posted_at DESC LIMIT 1",
                (platform, channel),
            ).fetchone()
        return (str(row["slot"]), float(row["posted_at"])) if row else None

    def record_digest(self, platform: str, channel: str, slot: str, articles: int) -> bool:
        """Record a posted digest; False if that slot was already posted (never twice)."""
        with self._tx() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO digests VALUES (?,?,?,?,?)",
                (platform, channel, slot, self.clock(), articles),
            )
            return cursor.rowcount == 1

    def note_articles(self, articles: dict[str, str]) -> dict[str, float]:
        """When each article (id -> content hash) was first seen; a changed one counts anew."""
        now = self.clock()
        with self._tx() as db:
            known = {
                r["article"]: (r["sha256"], r["first_seen"])
                for r in db.execute("SELECT * FROM articles_seen").fetchall()
            }
            for article, digest in articles.items():
                if article not in known or known[article][0] != digest:
                    db.execute(
                        "INSERT OR REPLACE INTO articles_seen VALUES (?,?,?)",
                        (article, digest, now),
                    )
                    known[article] = (digest, now)
        return {a: float(known[a][1]) for a in articles}


def _answer_record(row: sqlite3.Row) -> AnswerRecord:
    return AnswerRecord(
        id=row["id"],
        platform=row["platform"],
        channel=row["channel"],
        thread=row["thread"],
        user_id=row["user_id"],
        question=row["question"],
        context=row["context"],
        answered=bool(row["answered"]),
        citations=json.loads(row["citations"]),
        shown=row["shown"],
        created_at=row["created_at"],
    )
