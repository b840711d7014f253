"""When each channel's digest is due: a time of day in an IANA time zone, optionally on
weekdays only, posted exactly once per day.

A day's post is identified by its *slot*, the local date it belongs to.  What was posted
is stored (SQLite), so a restart neither posts twice nor skips a day, and after downtime
only the most recent missed slot is posted (one catch-up, not one per missed day).  The
clock is passed in, so tests move time instead of sleeping.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.state import State

log = logging.getLogger(__name__)

RETRY_DELAYS = (30.0, 120.0, 600.0)  # seconds between attempts; then give up on that slot
USAGE = (
    "Usage: `/digest` previews it; `/digest subscribe HH:MM TIMEZONE [weekdays]` posts it "
    "here daily (e.g. `/digest subscribe 09:00 Europe/Berlin weekdays`); "
    "`/digest unsubscribe` stops it."
)


@dataclass(frozen=True)
class Subscription:
    platform: str
    channel: str
    time_of_day: str  # "HH:MM", local to ``timezone``
    timezone: str  # IANA name
    weekdays_only: bool = False
    created_at: float = 0.0

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def post_time(self, day: date) -> datetime:
        """The UTC instant of this subscription's post on a local calendar day."""
        hour, minute = (int(x) for x in self.time_of_day.split(":"))
        local = datetime.combine(day, time(hour, minute), tzinfo=self.zone)
        # A wall time skipped by a daylight-saving jump is posted at the jump instead.
        return local.astimezone(UTC)

    def latest_slot(self, now: datetime) -> tuple[date, datetime] | None:
        """The most recent local day whose post time is at or before ``now``."""
        day = now.astimezone(self.zone).date()
        for _ in range(8):
            if not (self.weekdays_only and day.weekday() >= 5):
                at = self.post_time(day)
                if at <= now:
                    return day, at
            day -= timedelta(days=1)
        return None


def parse_time_of_day(text: str) -> str:
    match = re.fullmatch(r"([01]?\d|2[0-3])[:.h]?([0-5]\d)", text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a time of day; use HH:MM, e.g. 09:00")
    return f"{int(match.group(1)):02d}:{match.group(2)}"


def parse_timezone(text: str) -> str:
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{text!r} is not a time zone; use an IANA name such as Europe/Berlin or UTC"
        ) from None
    return text


def subscription_from_config(entry: dict[str, object]) -> Subscription:
    """A ``[[digest.subscriptions]]`` table from the config file, checked."""
    try:
        platform = str(entry["platform"])
        channel = str(entry["channel"])
    except KeyError as exc:
        raise ValueError(f"digest subscription {entry}: missing {exc.args[0]!r}") from None
    if platform not in ("slack", "discord"):
        raise ValueError(f"digest subscription {entry}: platform must be slack or discord")
    return Subscription(
        platform=platform,
        channel=channel,
        time_of_day=parse_time_of_day(str(entry.get("time", "09:00"))),
        timezone=parse_timezone(str(entry.get("timezone", "UTC"))),
        weekdays_only=bool(entry.get("weekdays_only", False)),
    )


def load_config_subscriptions(tables: dict[str, Any], state: State, platform: str) -> int:
    """Subscriptions from the config file's ``[[digest.subscriptions]]``, stored for use."""
    entries = tables.get("digest", {}).get("subscriptions", [])
    if not isinstance(entries, list):
        raise ValueError("[digest] subscriptions must be a list of tables")
    count = 0
    for entry in entries:
        sub = subscription_from_config(entry)
        if sub.platform == platform:
            state.subscribe(platform, sub.channel, sub.time_of_day, sub.timezone, sub.weekdays_only)
            count += 1
    return count


def handle_command(state: State, platform: str, channel: str, text: str) -> str:
    """``/digest subscribe 09:00 Europe/Berlin [weekdays]`` or ``/digest unsubscribe``."""
    words = text.split()
    if not words:
        return USAGE
    action = words[0].lower()
    if action == "unsubscribe":
        removed = state.unsubscribe(platform, channel)
        return (
            "This channel will no longer get the daily digest."
            if removed
            else ("This channel has no daily digest to stop.")
        )
    if action != "subscribe" or len(words) < 3 or len(words) > 4:
        return USAGE
    weekdays = len(words) == 4 and words[3].lower() in ("weekdays", "weekdays-only", "mon-fri")
    if len(words) == 4 and not weekdays:
        return USAGE
    try:
        at = parse_time_of_day(words[1])
        zone = parse_timezone(words[2])
    except ValueError as exc:
        return f"{exc}. {USAGE}"
    state.subscribe(platform, channel, at, zone, weekdays)
    days = "every weekday" if weekdays else "every day"
    return f"This channel will get the digest {days} at {at} ({zone})."


@dataclass
class _Failure:
    attempts: int
    retry_at: float


class DigestSchedule:
    """Which subscriptions are due now; the adapter posts them and reports back."""

    def __init__(
        self, state: State, platform: str, clock: Callable[[], float], lookback_hours: float = 24
    ) -> None:
        self.state = state
        self.platform = platform
        self.clock = clock
        self.lookback = lookback_hours * 3600
        self._failures: dict[tuple[str, str], _Failure] = {}

    def subscriptions(self) -> list[Subscription]:
        return [
            Subscription(
                platform=str(row["platform"]),
                channel=str(row["channel"]),
                time_of_day=str(row["time_of_day"]),
                timezone=str(row["timezone"]),
                weekdays_only=bool(row["weekdays_only"]),
                created_at=float(row["created_at"]),
            )
            for row in self.state.subscriptions(self.platform)
        ]

    def due(self) -> list[tuple[Subscription, str, float]]:
        """(subscription, slot, since) for each digest to post now.

        ``since`` is when the channel's previous digest was posted, so nothing is missed
        or repeated between posts; a first digest looks back ``lookback`` from the slot.
        """
        now_ts = self.clock()
        now = datetime.fromtimestamp(now_ts, UTC)
        due = []
        for sub in self.subscriptions():
            latest = sub.latest_slot(now)
            if latest is None:
                continue
            day, at = latest
            slot = day.isoformat()
            if at.timestamp() < sub.created_at:
                continue  # subscribed after today's time: the first post is the next one
            last = self.state.last_digest(self.platform, sub.channel)
            if last is not None and last[0] >= slot:
                continue  # already posted (or skipped) this slot
            failure = self._failures.get((sub.channel, slot))
            if failure is not None and (
                failure.attempts > len(RETRY_DELAYS) or now_ts < failure.retry_at
            ):
                continue
            since = last[1] if last is not None else at.timestamp() - self.lookback
            due.append((sub, slot, since))
        return due

    def posted(self, sub: Subscription, slot: str, articles: int) -> None:
        self._failures.pop((sub.channel, slot), None)
        self.state.record_digest(self.platform, sub.channel, slot, articles)

    def failed(self, sub: Subscription, slot: str, error: BaseException) -> None:
        """Retry later with growing delays; after the last one, give up on this slot."""
        failure = self._failures.setdefault((sub.channel, slot), _Failure(0, 0.0))
        failure.attempts += 1
        if failure.attempts > len(RETRY_DELAYS):
            log.error(
                "giving up on the %s digest for %s %s after %d attempts: %s",
                slot,
                self.platform,
                sub.channel,
                failure.attempts,
                error,
            )
            return
        delay = RETRY_DELAYS[failure.attempts - 1]
        failure.retry_at = self.clock() + delay
        log.warning(
            "posting the %s digest to %s %s failed (%s); retrying in %.0f s",
            slot,
            self.platform,
            sub.channel,
            error,
            delay,
        )
