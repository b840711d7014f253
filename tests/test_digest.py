from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.core import build_core
from bot.digest import DigestDesk, build_digest
from bot.render.text import render_digest
from bot.schedule import DigestSchedule, handle_command
from bot.settings import load_settings
from bot.state import State
from tests.conftest import SEED_CORPUS

VENICE = (
    "---\ntitle: Heavy rain floods Venice\nsource: Weather Wire\ndate: 2026-11-02\n"
    "url: https://weather.example/venice\n---\n"
    "Heavy rain flooded the lagoon city of Venice on Monday, and the MOSE barrier was raised "
    "to hold back the tide.\n\nShops in St Mark's Square closed as water rose to 120 "
    "centimetres, the city's tide office said.\n\nThe mayor said the barrier saved the city "
    "from worse damage, while residents complained about the cost of repairs.\n"
)


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


class Clock:
    def __init__(self, start: str) -> None:
        self.now = at(start)

    def set(self, text: str) -> None:
        self.now = at(text)

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(SEED_CORPUS, target)
    (target / "venice.md").write_text(VENICE)
    return target


def _desk(corpus: Path, tmp_path: Path, clock: Clock, **env: str) -> DigestDesk:
    core = build_core(
        load_settings(env={**env}, overrides={"corpus": str(corpus), "home": str(tmp_path / "h")})
    )
    return DigestDesk(core, State(tmp_path / "state.sqlite3", clock=clock), "slack", clock)


def test_seed_articles_are_one_story_and_an_unrelated_one_another(
    corpus: Path, tmp_path: Path
) -> None:
    clock = Clock("2026-11-23T08:00:00")
    digest = _desk(corpus, tmp_path, clock).build()
    assert len(digest.stories) == 2
    meta, venice = digest.stories
    assert len(meta.articles) == 4 and [a.id for a in venice.articles] == ["venice"]
    assert venice.headline == "Heavy rain floods Venice"
    assert 1 <= len(meta.passages) <= 3 and 1 <= len(venice.passages) <= 3
    assert len({c.article for c in meta.passages}) == len(meta.passages)  # varied sources
    for citation in meta.passages + venice.passages:
        assert citation.paragraph >= 1 and citation.text and citation.title
    text = render_digest(digest)
    assert "2 new stories from 5 articles" in text
    assert "Weather Wire \u00b7 2026-11-02 \u00b7 https://weather.example/venice" in text


def test_only_articles_new_since_the_last_digest_count(corpus: Path, tmp_path: Path) -> None:
    clock = Clock("2026-11-23T08:00:00")
    desk = _desk(corpus, tmp_path, clock)
    assert len(desk.build().stories) == 2
    clock.set("2026-11-24T08:00:00")
    assert desk.build(since=at("2026-11-23T09:00:00")).stories == ()
    (corpus / "venice.md").write_text(VENICE + "\nThe water receded by Tuesday evening.\n")
    clock.set("2026-11-24T09:00:00")
    desk.core.store.refresh()
    changed = desk.build(since=at("2026-11-23T09:00:00"))
    assert [a.id for s in changed.stories for a in s.articles] == ["venice"]


def test_most_asked_and_unanswered_questions(corpus: Path, tmp_path: Path) -> None:
    clock = Clock("2026-11-23T08:00:00")
    desk = _desk(corpus, tmp_path, clock)
    for question, answered in [
        ("What is Avocado?", True),
        ("what is avocado", True),
        ("Who won the cup?", False),
        ("Who leads TBD Lab?", True),
    ]:
        desk.state.record_answer(
            platform="slack",
            channel="C1",
            thread="",
            user_id="U1",
            question=question,
            context="",
            answered=answered,
            citations=[],
            shown=0,
        )
    digest = build_digest(desk.core.store.current(), desk.state, since=0, until=clock.now + 1)
    assert digest.top_questions == (("What is Avocado?", 2),)
    assert digest.unanswered == ("Who won the cup?",)


def _schedule(tmp_path: Path, clock: Clock, *sub: object) -> DigestSchedule:
    state = State(tmp_path / "schedule.sqlite3", clock=clock)
    if sub:
        state.subscribe("slack", *sub)  # type: ignore[arg-type]
    return DigestSchedule(state, "slack", clock)


def test_post_times_follow_the_local_clock_across_daylight_saving(tmp_path: Path) -> None:
    clock = Clock("2026-03-27T12:00:00")  # Friday; Berlin switches to CEST on Sunday 29th
    schedule = _schedule(tmp_path, clock, "C1", "09:00", "Europe/Berlin", False)
    expected_utc = {"2026-03-28": "08:00", "2026-03-29": "07:00", "2026-03-30": "07:00"}
    for day, utc_time in expected_utc.items():
        clock.set(f"{day}T{utc_time}:00")
        clock.now -= 60
        assert [slot for _, slot, _ in schedule.due()] != [day], f"early on {day}"
        clock.now += 60
        due = schedule.due()
        assert [slot for _, slot, _ in due] == [day]
        schedule.posted(due[0][0], day, 1)


def test_weekdays_only_skips_the_weekend(tmp_path: Path) -> None:
    clock = Clock("2026-11-20T00:00:00")  # a Friday
    schedule = _schedule(tmp_path, clock, "C1", "09:00", "UTC", True)
    clock.set("2026-11-20T09:00:00")
    ((sub, slot, _),) = schedule.due()
    schedule.posted(sub, slot, 1)
    for weekend in ("2026-11-21T10:00:00", "2026-11-22T10:00:00"):
        clock.set(weekend)
        assert schedule.due() == []
    clock.set("2026-11-23T09:00:00")
    assert [s for _, s, _ in schedule.due()] == ["2026-11-23"]


def test_no_double_post_across_a_restart(tmp_path: Path) -> None:
    clock = Clock("2026-11-22T00:00:00")
    schedule = _schedule(tmp_path, clock, "C1", "09:00", "UTC", False)
    clock.set("2026-11-23T09:00:30")
    ((sub, slot, _),) = schedule.due()
    schedule.posted(sub, slot, 1)
    restarted = DigestSchedule(State(tmp_path / "schedule.sqlite3", clock=clock), "slack", clock)
    clock.set("2026-11-23T15:00:00")
    assert restarted.due() == []
    clock.set("2026-11-24T09:00:00")
    assert [s for _, s, _ in restarted.due()] == ["2026-11-24"]


def test_one_catch_up_after_downtime(tmp_path: Path) -> None:
    clock = Clock("2026-11-15T00:00:00")
    schedule = _schedule(tmp_path, clock, "C1", "09:00", "UTC", False)
    clock.set("2026-11-16T09:00:00")
    ((sub, slot, _),) = schedule.due()
    schedule.posted(sub, slot, 1)
    posted_at = clock.now
    clock.set("2026-11-19T13:00:00")  # down Tuesday to Thursday morning
    due = schedule.due()
    assert [(s, since) for _, s, since in due] == [("2026-11-19", posted_at)]
    schedule.posted(due[0][0], "2026-11-19", 3)
    assert schedule.due() == []


def test_a_new_subscription_waits_for_its_first_time(tmp_path: Path) -> None:
    clock = Clock("2026-11-23T10:00:00")
    schedule = _schedule(tmp_path, clock, "C1", "09:00", "UTC", False)
    assert schedule.due() == []
    clock.set("2026-11-24T09:00:00")
    ((_, slot, since),) = schedule.due()
    assert slot == "2026-11-24" and since == at("2026-11-23T09:00:00")  # 24 h look-back


def test_failed_posts_are_retried_with_back_off_then_given_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock("2026-11-22T00:00:00")
    schedule = _schedule(tmp_path, clock, "C1", "09:00", "UTC", False)
    clock.set("2026-11-23T09:00:00")
    for delay in (30, 120, 600):
        ((sub, slot, _),) = schedule.due()
        schedule.failed(sub, slot, RuntimeError("channel_not_found"))
        assert schedule.due() == []
        clock.now += delay
    ((sub, slot, _),) = schedule.due()
    schedule.failed(sub, slot, RuntimeError("channel_not_found"))
    clock.now += 3600
    assert schedule.due() == []
    assert "giving up" in caplog.text


def test_subscribe_and_unsubscribe_commands(tmp_path: Path) -> None:
    state = State(tmp_path / "s.sqlite3")
    reply = handle_command(state, "slack", "C1", "subscribe 9:30 Europe/Berlin weekdays")
    assert reply == "This channel will get the digest every weekday at 09:30 (Europe/Berlin)."
    assert state.subscriptions("slack")[0]["weekdays_only"] == 1
    assert "not a time zone" in handle_command(state, "slack", "C1", "subscribe 09:00 Mars/Base")
    assert "not a time of day" in handle_command(state, "slack", "C1", "subscribe 25:00 UTC")
    assert handle_command(state, "slack", "C1", "frobnicate").startswith("Usage")
    assert "no longer" in handle_command(state, "slack", "C1", "unsubscribe")
    assert state.subscriptions("slack") == []


def test_an_empty_day_posts_nothing_unless_configured(corpus: Path, tmp_path: Path) -> None:
    clock = Clock("2026-11-22T10:00:00")
    desk = _desk(corpus, tmp_path, clock)
    desk.build()  # the articles are seen now, before the subscription's first slot
    desk.state.subscribe("slack", "C1", "09:00", "UTC", False)
    clock.set("2026-11-24T09:00:00")
    assert desk.pending() == []
    assert desk.state.last_digest("slack", "C1") is not None  # the day is done, not retried
    noisy = _desk(corpus, tmp_path / "n", clock, CITEBOT_DIGEST_POST_EMPTY="true")
    clock.set("2026-11-24T08:00:00")
    noisy.build()
    noisy.state.subscribe("slack", "C1", "09:00", "UTC", False)
    clock.set("2026-11-25T09:00:00")
    ((_, _, digest),) = noisy.pending()
    assert digest.empty and render_digest(digest).startswith("Nothing new")
