"""Slack under load, faults and hostile metadata: the real bolt AsyncApp on aiohttp,
driven over loopback HTTP against the fake Slack (issue 11, cases 1-5)."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import SEED_CORPUS
from tests.fakes.slack import FakeSlack
from tests.slack_harness import Harness, all_text, assert_valid_blocks, make_harness, mention

QUESTIONS = (
    "Who leads TBD Lab?",
    "Who is Nat Friedman?",
    "Which exchange lists Alibaba?",
    "Who is Shengjia Zhao?",
)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """The bundled articles plus two whose URLs would ping if linked."""
    target = tmp_path / "corpus"
    shutil.copytree(SEED_CORPUS, target)
    (target / "zebra.md").write_text(
        "---\ntitle: Zebra escape\nsource: Zoo Wire\nurl: !channel\n---\n"
        "Zebras escaped from the city zoo on Friday, keepers said.\n"
    )
    (target / "okapi.md").write_text(
        "Okapis were seen grazing near the zoo gate at dawn on Saturday, keepers said.\n"
    )
    (target / "metadata.toml").write_text(
        '["okapi.md"]\ntitle = "Okapi sighting"\nsource = "Zoo Gazette"\nurl = "@U12345"\n'
    )
    return target


@pytest.fixture
def slack(
    fake: FakeSlack, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Harness]:
    harness = make_harness(fake, corpus, tmp_path, monkeypatch, delivery_seconds=1.5)
    yield harness
    harness.close()


def test_case1_fifty_users_asking_at_once_are_all_answered_once(slack: Harness) -> None:
    def ask(n: int) -> int:
        user, question = f"U{n // 4:03d}", QUESTIONS[n % 4]
        try:
            return slack.event(
                mention(question, f"1000.{n:03d}", channel=f"C{n % 7}", user=user),
                event_id=f"EvLoad{n}",
            )[0]
        except OSError:  # a reset connection
            return -1

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(ask, range(200)))
    assert statuses.count(200) == 200, f"{200 - statuses.count(200)} requests failed"
    posts = slack.fake.wait_for("chat.postMessage", count=200, timeout=30)
    threads = [p.data["thread_ts"] for p in posts]
    assert sorted(threads) == sorted(f"1000.{n:03d}" for n in range(200))  # none lost or twice
    assert not any("Sorry" in p.data["text"] for p in posts)


def test_case2_acks_are_never_starved_by_answers_waiting_out_429s(slack: Harness) -> None:
    slack.bot.delivery_seconds = 7.0
    slack.fake.stall_until["chat.postMessage#CBUSY"] = time.monotonic() + 3.0
    for n in range(5):
        slack.event(mention("Who leads TBD Lab?", f"2000.{n}", channel="CBUSY"), f"EvStall{n}")
    slack.fake.wait_for("chat.postMessage:429", count=5)
    status, body, seconds = slack.command("/ask", "Who is Yann LeCun?")
    assert status == 200 and seconds < 1.0
    reply = slack.fake.wait_for("response_url", timeout=2)[0]
    assert "godfathers of AI" in all_text(reply)
    asked = time.monotonic()
    slack.event(mention("Who is Nat Friedman?", "2100.1", channel="COTHER"), "EvOther")
    other = slack.fake.wait_for("chat.postMessage", lambda c: c.data["channel"] == "COTHER")
    assert "Friedman" in all_text(other[0]) and time.monotonic() - asked < 1.5
    assert not [c for c in slack.fake.calls_to("chat.postMessage") if c.data["channel"] == "CBUSY"]
    posts = slack.fake.wait_for(
        "chat.postMessage", lambda c: c.data["channel"] == "CBUSY", count=5, timeout=10
    )
    assert sorted(p.data["thread_ts"] for p in posts) == [f"2000.{n}" for n in range(5)]
    assert not any("Sorry" in p.data["text"] for p in posts)  # answered once the stall ended


def test_case3_metadata_urls_that_would_ping_are_plain_text(slack: Harness) -> None:
    slack.event(mention("Where did the zebras escape from?", "3000.1"), "EvZebra")
    slack.event(mention("Where were okapis seen grazing?", "3000.2"), "EvOkapi")
    slack.command("/source", "zebra", key="src")
    slack.command("/source", "okapi", key="src2")
    slack.command("/digest", "", key="dig")
    calls = slack.fake.wait_for("chat.postMessage", count=2)
    calls += slack.fake.wait_for("response_url", count=3)
    text = " ".join(all_text(c) for c in calls)
    assert "Zebra escape" in text and "Okapi sighting" in text
    for ping in ("<!channel", "<@U12345", "<!here", "|Zebra escape>", "|Zoo Gazette>"):
        assert ping not in text
    for call in calls:
        assert_valid_blocks(call)


def test_case4_a_dropped_connection_on_a_reaction_still_answers(slack: Harness) -> None:
    slack.bot.react_after = 0.0  # always react, as for a slow answer
    slack.fake.drop_next["reactions.add"] = 3  # more than any retry would absorb
    slack.fake.drop_next["reactions.remove"] = 1
    slack.event(mention("Who is Nat Friedman?", "4000.1"), "EvDrop1")
    post = slack.fake.wait_for("chat.postMessage")[0]
    assert "Friedman" in all_text(post) and post.data["thread_ts"] == "4000.1"


def test_case4_a_dropped_or_hung_post_gets_an_apology_and_the_bot_keeps_serving(
    slack: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    slack.fake.drop_next["chat.postMessage"] = 1
    slack.event(mention("Who is Nat Friedman?", "4100.1"), "EvDrop2")
    assert "Sorry" in slack.fake.wait_for("chat.postMessage")[0].data["text"]
    slack.bot.react_after = 0.0
    slack.fake.hang.add("chat.postMessage")  # Slack takes the request and never answers
    started = time.monotonic()
    slack.event(mention("Who leads TBD Lab?", "4100.2"), "EvHang")
    slack.fake.wait_for("chat.postMessage:hung", count=2, timeout=10)  # answer, then apology
    slack.fake.wait_for("reactions.remove", timeout=10)  # and the answer is over
    assert time.monotonic() - started < 6  # bounded: 1.5 s for the answer, 1.5 s to apologise
    slack.fake.hang.clear()
    slack.event(mention("Who leads TBD Lab?", "4100.3"), "EvAfter")
    after = slack.fake.wait_for("chat.postMessage", lambda c: c.data["thread_ts"] == "4100.3")
    assert "Alexandr Wang" in all_text(after[0])
    failures = [r for r in caplog.records if "chat.postMessage failed" in r.getMessage()]
    assert failures and all(r.exc_info is None for r in failures)  # one line each, no trace


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"type": "event_callback", "event": ', "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b'"just a string"', "application/json"),
        (b"payload=%7Bnot-json", "application/x-www-form-urlencoded"),
        (b"\xff\xfe\x00garbage", "application/json"),
    ],
)
def test_case5_malformed_bodies_are_refused_with_400_and_no_traceback(
    slack: Harness, caplog: pytest.LogCaptureFixture, body: bytes, content_type: str
) -> None:
    status, _, _ = slack.post(body, content_type)
    assert status == 400
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    slack.event(mention("Who is Nat Friedman?", "5000.1"), "EvAfterJunk")
    assert "Friedman" in all_text(slack.fake.wait_for("chat.postMessage")[0])


def test_healthz_answers_once_the_index_is_loaded(slack: Harness) -> None:
    import urllib.request

    deadline = time.monotonic() + 10
    while not slack.service.ready:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    with urllib.request.urlopen(f"http://127.0.0.1:{slack.port}/healthz", timeout=5) as r:
        assert r.status == 200 and r.read() == b"ok"


async def test_the_ack_first_gate_opens_after_a_quiet_moment_or_a_hold_at_most() -> None:
    """Answers wait while a burst is being acked, but sustained traffic never starves them."""
    import asyncio

    from bot.slack_server import AckFirst

    gate = AckFirst()
    await asyncio.wait_for(gate.wait(), 1)  # open with no traffic
    loop = asyncio.get_running_loop()
    started = loop.time()
    gate.arrived()
    assert not gate._open.is_set()  # answers held while requests come in
    waiter = asyncio.ensure_future(gate.wait())
    while not waiter.done():  # requests every 2 ms, for ever
        gate.arrived()
        await asyncio.sleep(0.002)
        assert loop.time() - started < 1.0, "answers starved by a steady stream of requests"
    gate.arrived()
    await asyncio.wait_for(gate.wait(), 1)  # and opens once requests stop
