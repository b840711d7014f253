"""Discord under replays, oversized answers, DMs and failing sends: the real discord.py
client against the fake gateway and REST API, which refuses what Discord would refuse
(issue 11, cases 8-13)."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import SEED_CORPUS
from tests.fakes.discord import BOT_ID, CHANNEL_ID, DM_CHANNEL_ID, HUMAN, FakeDiscord
from tests.test_discord import Harness, _start, assert_within_limits

LONG_SENTENCE = (  # about 4,100 characters, one sentence: the best one for its question
    "The okapi census found that "
    + ", ".join(
        f"okapi group {n} counted in the eastern forest reserve near river {n}" for n in range(60)
    )
    + " by the rangers."
)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(SEED_CORPUS, target)
    for n in range(12):  # distinct reports with long titles, agency names and links
        (target / f"giraffe{n:02d}.md").write_text(
            f"---\ntitle: Giraffe report {n} "
            + "on the long savanna road and river crossing " * 5
            + f"\nsource: Savanna Wire number {n} "
            + "with a very long agency name " * 6
            + f"\nurl: https://example.com/giraffes/{'long-path-' * 20}{n}\n---\n"
            f"Giraffe herd {n} crossed the savanna road near checkpoint {n * 7} at dawn; "
            f"rangers counted {n + 10} animals, word{n}a word{n}b word{n}c, by truck {n}.\n"
        )
    (target / "okapi.md").write_text(
        f"---\ntitle: Okapi census\nsource: Forest Wire\n---\n{LONG_SENTENCE}\n"
    )
    (target / "prank.md").write_text(
        "---\ntitle: **Bold** @everyone <@&123> [click](https://evil.example)\n"
        "url: @U12345\n---\nA prank article about zebras and pranks in the zoo.\n"
    )
    return target


@pytest.fixture
async def bot(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Harness]:
    fake = await FakeDiscord().start()
    harness = await _start(
        fake, corpus, tmp_path, monkeypatch, send_seconds=1.5, CITEBOT_TOP_K="10"
    )
    yield harness
    await harness.client.close()
    await fake.stop()


def _refs(calls: list) -> list[str]:  # type: ignore[type-arg]
    return [str(c.data["message_reference"]["message_id"]) for c in calls]


async def test_case8_a_message_replayed_after_resume_is_answered_once(bot: Harness) -> None:
    first = bot.fake.user_message(f"<@{BOT_ID}> Who leads TBD Lab?", mentions_bot=True)
    await bot.fake.dispatch("MESSAGE_CREATE", first)
    await bot.fake.dispatch("MESSAGE_CREATE", first)  # the same event again, as after a RESUME
    sentinel = await bot.say(f"<@{BOT_ID}> Who is Nat Friedman?", mentions_bot=True)
    replies = await bot.replies(count=2)
    assert sorted(_refs(replies)) == sorted([first["id"], sentinel["id"]])


async def test_case9_many_long_citations_stay_within_discords_limits(bot: Harness) -> None:
    await bot.say(f"<@{BOT_ID}> Which giraffe herd crossed the savanna road?", mentions_bot=True)
    reply = (await bot.replies())[0]
    assert not bot.fake.calls_to("POST", f"/channels/{CHANNEL_ID}/messages:400")
    assert_within_limits(reply)
    description = reply.data["embeds"][0]["description"]
    assert "**[1]**" in description and "paragraph 1" in description
    assert "Sorry" not in (reply.data.get("content") or "")


async def test_case10_a_long_best_sentence_leaves_the_first_citation(bot: Harness) -> None:
    await bot.say(f"<@{BOT_ID}> How many okapi groups did the census count?", mentions_bot=True)
    reply = (await bot.replies())[0]
    assert_within_limits(reply)
    description = reply.data["embeds"][0]["description"]
    assert "**[1]**" in description and "paragraph 1" in description
    assert description.startswith("**\u00bb ") and description.count("**") % 2 == 0


async def test_case11_a_dm_follow_up_that_is_not_a_reply_keeps_the_context(
    bot: Harness,
) -> None:
    await bot.say("What is Avocado?", channel_id=DM_CHANNEL_ID, dm=True)
    await bot.replies(channel=DM_CHANNEL_ID)
    await bot.say("when will it launch?", channel_id=DM_CHANNEL_ID, dm=True)
    follow = (await bot.replies(count=2, channel=DM_CHANNEL_ID))[1]
    highlight = follow.data["embeds"][0]["description"].split("\n")[0]
    assert "launch next spring" in highlight  # read with "What is Avocado?"


async def test_case12_the_source_embed_title_and_link_are_escaped(bot: Harness) -> None:
    fake = bot.fake
    await fake.dispatch("INTERACTION_CREATE", fake.command("source", article="prank"))
    followup = (await fake.wait_for("POST", "/webhooks/"))[0]
    embed = followup.data["embeds"][0]
    assert "url" not in embed  # "@U12345" is no link
    title = embed["title"]
    assert "**Bold**" not in title and "\\*\\*Bold" in title
    assert "@everyone" not in title and "<@&123>" not in title and "](https" not in title


def test_case12_an_unreachable_discord_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "discord-secret-value")
    assert main(["discord"]) == 1  # the network guard refuses discord.com
    err = capsys.readouterr().err.strip()
    assert err.startswith("citebot: cannot reach Discord") and len(err.splitlines()) == 1
    assert "secret-value" not in err


async def test_case13_a_failing_send_does_not_hold_the_next_question_in_the_channel(
    bot: Harness,
) -> None:
    doomed = bot.fake.user_message(f"<@{BOT_ID}> Who leads TBD Lab?", mentions_bot=True)

    def fail(method: str, path: str, data: dict) -> int | None:  # type: ignore[type-arg]
        ref = (data.get("message_reference") or {}).get("message_id")
        return 500 if path.endswith("/messages") and str(ref) == doomed["id"] else None

    bot.fake.fail_when = fail
    await bot.fake.dispatch("MESSAGE_CREATE", doomed)
    await bot.fake.wait_for("POST", f"/channels/{CHANNEL_ID}/messages:500")
    asked = time.monotonic()
    second = await bot.say(f"<@{BOT_ID}> Who is Nat Friedman?", mentions_bot=True)
    path = f"/channels/{CHANNEL_ID}/messages"
    while not (
        answered := [c for c in bot.fake.calls if c.path == path and _refs([c]) == [second["id"]]]
    ):
        assert time.monotonic() - asked < 6, "the next question waited on the failing send"
        await asyncio.sleep(0.02)  # polling what the fake recorded, with a deadline
    assert "Friedman" in json.dumps(answered[0].data)


async def test_case14_many_users_at_once_with_429s_each_get_one_reply_that_pings_nobody(
    bot: Harness,
) -> None:
    questions = ["Who leads TBD Lab?", "Who is Nat Friedman?", "When will Avocado launch?"]
    messages = [
        bot.fake.user_message(
            f"<@{BOT_ID}> {questions[n % 3]} @everyone",
            author={**HUMAN, "id": str(800000000000000000 + n), "username": f"user{n}"},
            mentions_bot=True,
        )
        for n in range(20)
    ]
    limited = {m["id"] for m in messages[:6]}
    refused: set[str] = set()

    def rate_limit(method: str, path: str, data: dict) -> int | None:  # type: ignore[type-arg]
        ref = str((data.get("message_reference") or {}).get("message_id"))
        if path.endswith("/messages") and ref in limited and ref not in refused:
            refused.add(ref)  # each of these replies is refused once, then accepted
            return 429
        return None

    bot.fake.fail_when = rate_limit
    await asyncio.gather(*(bot.fake.dispatch("MESSAGE_CREATE", m) for m in messages))
    replies = await bot.replies(count=20)
    await asyncio.sleep(0.5)  # nothing more arrives: no reply is sent twice
    path = f"/channels/{CHANNEL_ID}/messages"
    replies = [c for c in bot.fake.calls if c.method == "POST" and c.path == path]
    assert refused == limited
    assert sorted(_refs(replies)) == sorted(m["id"] for m in messages)
    for reply in replies:
        assert reply.data["allowed_mentions"]["parse"] == []
        assert "@everyone" not in json.dumps(reply.data).replace("@\u200beveryone", "")
