"""The real discord.py client, connected to a loopback fake gateway and REST API."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import discord
import discord.gateway
import discord.http
import pytest
import yarl

from bot.admin_commands import ChatAdmin
from bot.core import build_core
from bot.digest import DigestDesk
from bot.discord_app import CitebotClient
from bot.render.discord import (
    CONTENT_LIMIT,
    DESCRIPTION_LIMIT,
    MESSAGE_TOTAL_LIMIT,
    embed_length,
)
from bot.settings import load_settings
from bot.state import State
from tests.conftest import SEED_CORPUS
from tests.fakes.discord import (
    BOT_ID,
    CHANNEL_ID,
    DM_CHANNEL_ID,
    GUILD_ID,
    OTHER_BOT,
    STRANGER,
    Call,
    FakeDiscord,
)
from tests.fakes.web import WebServer, article_html


class Harness:
    def __init__(self, fake: FakeDiscord, client: CitebotClient, state: State) -> None:
        self.fake, self.client, self.state = fake, client, state

    async def say(self, content: str, **kw: Any) -> dict[str, Any]:
        message = self.fake.user_message(content, **kw)
        await self.fake.dispatch("MESSAGE_CREATE", message)
        return message

    async def replies(self, count: int = 1, channel: str = CHANNEL_ID) -> list[Call]:
        return await self.fake.wait_for("POST", f"/channels/{channel}/messages", count)


async def _start(
    fake: FakeDiscord,
    corpus: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clock: Callable[[], float] = time.time,
    send_seconds: float = 6.0,
    **env: str,
) -> Harness:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(discord.http.Route, "BASE", f"http://127.0.0.1:{fake.port}/api/v10")
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket,
        "DEFAULT_GATEWAY",
        yarl.URL(f"ws://127.0.0.1:{fake.port}/gateway/"),
    )
    core = build_core(load_settings(overrides={"corpus": str(corpus)}))
    core.store.current()
    state = State(tmp_path / "state.sqlite3", clock=clock)
    client = CitebotClient(
        core,
        state,
        guild_ids=[int(GUILD_ID)],
        guild_ready_timeout=0.05,
        digest=DigestDesk(core, state, "discord", clock),
        digest_interval=0,
        send_seconds=send_seconds,
        admin=ChatAdmin(core, state, platform="discord", clock=clock),
        feed_tick=0,
    )
    asyncio.ensure_future(client.start("discord-secret-token"))
    await asyncio.wait_for(client.wait_until_ready(), 10)
    return Harness(fake, client, state)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(SEED_CORPUS, target)
    (target / "ping.md").write_text(
        "---\ntitle: Zebra alert @everyone\nsource: Prank Wire\n---\n"
        "@everyone @here <@&123> Zebras escaped from the city zoo on Friday, keepers said, "
        "and **nobody** should panic.\n"
    )
    return target


@pytest.fixture
async def discord_bot(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Harness]:
    fake = await FakeDiscord().start()
    harness = await _start(fake, corpus, tmp_path, monkeypatch)
    yield harness
    await harness.client.close()
    await fake.stop()


def assert_within_limits(call: Call) -> None:
    data = call.data
    assert len(data.get("content") or "") <= CONTENT_LIMIT
    embeds = data.get("embeds") or []
    assert len(embeds) <= 10
    assert sum(embed_length(e) for e in embeds) <= MESSAGE_TOTAL_LIMIT
    for embed in embeds:
        assert len(embed.get("description", "")) <= DESCRIPTION_LIMIT
        assert len(embed.get("title", "")) <= 256
        assert len(embed.get("fields", [])) <= 25
    assert (
        data.get("allowed_mentions") == {"parse": []}
        or data.get("allowed_mentions", {}).get("parse") == []
    )


def _text(call: Call) -> str:
    return json.dumps(call.data.get("embeds") or []) + (call.data.get("content") or "")


async def test_login_syncs_commands_to_the_test_server(discord_bot: Harness) -> None:
    fake = discord_bot.fake
    assert fake.calls_to("GET", "/users/@me")
    synced = fake.calls_to("PUT", "/applications/")
    assert synced and synced[0].path.endswith(f"/guilds/{GUILD_ID}/commands")
    names = {c["name"] for c in json.loads(json.dumps(synced[0].data))}
    assert names == {"ask", "search", "source", "digest", "add", "feeds", "sources"}


async def test_mention_is_answered_as_a_reply_with_an_embed(discord_bot: Harness) -> None:
    message = await discord_bot.say(f"<@{BOT_ID}> Who leads TBD Lab?", mentions_bot=True)
    reply = (await discord_bot.replies())[0]
    assert str(reply.data["message_reference"]["message_id"]) == message["id"]
    assert_within_limits(reply)
    text = _text(reply)
    assert "Alexandr Wang" in text and "paragraph" in text
    custom_ids = [c["custom_id"] for row in reply.data["components"] for c in row["components"]]
    assert custom_ids[0].startswith("citebot:helpful:") and len(custom_ids) == 3
    assert discord_bot.fake.calls_to("POST", f"/channels/{CHANNEL_ID}/typing")


async def test_direct_message_is_answered_in_the_dm(discord_bot: Harness) -> None:
    await discord_bot.say("Which exchange lists Alibaba?", channel_id=DM_CHANNEL_ID, dm=True)
    reply = (await discord_bot.replies(channel=DM_CHANNEL_ID))[0]
    assert "NYSE" in _text(reply)


async def test_reply_to_an_answer_follows_up_with_the_earlier_question(
    discord_bot: Harness,
) -> None:
    await discord_bot.say(f"<@{BOT_ID}> What is Avocado?", mentions_bot=True)
    await discord_bot.replies()
    bot_message = discord_bot.state.questions_since(0)[-1].thread  # the answer's message id
    assert bot_message.isdigit()
    await discord_bot.say("when will it launch?", reply_to=bot_message)
    follow = (await discord_bot.replies(count=2))[1]
    assert "next spring" in _text(follow)


async def test_quiet_channels_other_bots_and_itself_get_no_answer(discord_bot: Harness) -> None:
    await discord_bot.say("Who leads TBD Lab?")  # no mention, channel not opted in
    await discord_bot.say(f"<@{BOT_ID}> Who leads TBD Lab?", author=OTHER_BOT, mentions_bot=True)
    await discord_bot.say(
        "Who leads TBD Lab?",
        dm=True,
        channel_id=DM_CHANNEL_ID,
        author={
            "id": BOT_ID,
            "username": "citebot",
            "discriminator": "0",
            "avatar": None,
            "bot": True,
        },
    )
    await asyncio.sleep(0.5)
    assert not discord_bot.fake.calls_to("POST", "/channels/")


async def test_everyone_in_an_article_never_pings(discord_bot: Harness) -> None:
    await discord_bot.say(
        f"<@{BOT_ID}> Where did the zebras escape from? @everyone", mentions_bot=True
    )
    reply = (await discord_bot.replies())[0]
    assert_within_limits(reply)
    text = _text(reply)
    assert "Zebras escaped" in text
    assert "@everyone" not in text and "@here" not in text and "<@&123>" not in text
    assert "**nobody**" not in text


async def test_ask_command_defers_then_answers_publicly(discord_bot: Harness) -> None:
    fake = discord_bot.fake
    await fake.dispatch("INTERACTION_CREATE", fake.command("ask", question="Who is Nat Friedman?"))
    callback = (await fake.wait_for("POST", "/interactions/"))[0]
    assert callback.data["type"] == 5  # deferred: "citebot is thinking..."
    followup = (await fake.wait_for("POST", "/webhooks/"))[0]
    assert "Former GitHub CEO" in _text(followup)
    assert not followup.data.get("flags", 0) & 64  # public
    assert_within_limits(followup)


@pytest.mark.parametrize(
    ("name", "options", "expected"),
    [
        ("search", {"terms": "Qwen distillation"}, "distilling"),
        ("source", {"article": "003_995cb40eb3369109", "paragraph": 16}, "godfathers of AI"),
        ("source", {"article": "no-such-thing"}, "No article matches"),
        ("digest", {}, "Digest: 2 new stories"),
    ],
)
async def test_private_commands_answer_ephemerally(
    discord_bot: Harness, name: str, options: dict[str, Any], expected: str
) -> None:
    fake = discord_bot.fake
    await fake.dispatch("INTERACTION_CREATE", fake.command(name, **options))
    callback = (await fake.wait_for("POST", "/interactions/"))[0]
    assert callback.data["data"]["flags"] & 64
    followup = (await fake.wait_for("POST", "/webhooks/"))[0]
    assert followup.data["flags"] & 64 and expected in _text(followup)
    assert_within_limits(followup)


async def test_source_autocompletes_article_names(discord_bot: Harness) -> None:
    fake = discord_bot.fake
    event = fake.interaction(
        {
            "id": fake.snowflake(),
            "name": "source",
            "type": 1,
            "guild_id": GUILD_ID,
            "options": [{"name": "article", "type": 3, "value": "close", "focused": True}],
        },
        kind=4,
    )
    await fake.dispatch("INTERACTION_CREATE", event)
    callback = (await fake.wait_for("POST", "/interactions/"))[0]
    assert callback.data["type"] == 8
    choices = callback.data["data"]["choices"]
    assert [c["value"] for c in choices] == ["003_995cb40eb3369109"]


async def test_buttons_record_feedback_and_show_more(discord_bot: Harness) -> None:
    fake = discord_bot.fake
    await discord_bot.say(f"<@{BOT_ID}> Meta open source strategy", mentions_bot=True)
    reply = (await discord_bot.replies())[0]
    answer_message = fake.message(CHANNEL_ID, reply.data, guild_id=GUILD_ID)
    helpful = reply.data["components"][0]["components"][1]["custom_id"]
    more = reply.data["components"][0]["components"][2]["custom_id"]
    await fake.dispatch(
        "INTERACTION_CREATE",
        fake.interaction(
            {"custom_id": helpful, "component_type": 2}, kind=3, message=answer_message
        ),
    )
    callback = (await fake.wait_for("POST", "/interactions/"))[0]
    assert callback.data["data"]["flags"] & 64 and "noted" in callback.data["data"]["content"]
    vote = discord_bot.state.feedback()[0]
    assert vote["helpful"] == 0 and vote["question"] == "Meta open source strategy"
    await fake.dispatch(
        "INTERACTION_CREATE",
        fake.interaction({"custom_id": more, "component_type": 2}, kind=3, message=answer_message),
    )
    followup = (await fake.wait_for("POST", "/webhooks/"))[0]
    assert "[4]" in _text(followup)


async def test_rate_limit_replies_with_a_short_note(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = await FakeDiscord().start()
    harness = await _start(fake, corpus, tmp_path, monkeypatch, CITEBOT_RATE_LIMIT="1")
    try:
        for _ in range(2):
            await harness.say(f"<@{BOT_ID}> Who is Nat Friedman?", mentions_bot=True)
        replies = await harness.replies(count=2)
        assert any("faster" in (c.data.get("content") or "") for c in replies)
    finally:
        await harness.client.close()
        await fake.stop()


async def test_a_failure_while_answering_replies_with_an_apology(
    discord_bot: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("index exploded")

    monkeypatch.setattr(discord_bot.client.core, "follow_up", explode)
    await discord_bot.say(f"<@{BOT_ID}> anything?", mentions_bot=True)
    reply = (await discord_bot.replies())[0]
    assert "Sorry" in reply.data["content"]
    assert "index exploded" in caplog.text and "discord-secret-token" not in caplog.text
    assert not discord_bot.client.is_closed()


async def test_digest_subscription_posts_once_to_the_channel(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1_795_422_000.0]  # 2026-11-23 08:20 UTC
    fake = await FakeDiscord().start()
    harness = await _start(fake, corpus, tmp_path, monkeypatch, clock=lambda: now[0])
    try:
        await fake.dispatch(
            "INTERACTION_CREATE", fake.command("digest", settings="subscribe 09:00 UTC weekdays")
        )
        callback = (await fake.wait_for("POST", "/interactions/"))[0]
        assert "every weekday at 09:00 (UTC)" in callback.data["data"]["content"]
        assert await harness.client.post_due_digests() == 0
        now[0] += 45 * 60
        assert await harness.client.post_due_digests() == 1
        post = (await harness.replies())[0]
        assert_within_limits(post)
        assert "Digest: 2 new stories" in post.data["content"]
        assert "Zebras escaped" in _text(post) and "@everyone" not in _text(post)
        assert await harness.client.post_due_digests() == 0
    finally:
        await harness.client.close()
        await fake.stop()


async def test_add_command_works_for_a_server_manager_and_is_refused_to_others(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = await FakeDiscord().start()
    with WebServer() as web:
        url = web.page(
            "/ferry",
            article_html(
                "Valdoria ferry",
                ["The harbour authority in Valdoria approved the new ferry terminal on Friday."],
            ),
        )
        bot = await _start(fake, corpus, tmp_path, monkeypatch, CITEBOT_ALLOW_PRIVATE_URLS="true")
        try:
            await fake.dispatch("INTERACTION_CREATE", fake.command("add", user=STRANGER, url=url))
            refused = (await fake.wait_for("POST", "/webhooks/"))[0]
            assert refused.data["flags"] & 64 and "Only citebot admins" in _text(refused)
            await fake.dispatch("INTERACTION_CREATE", fake.command("add", url=url))
            added = (await fake.wait_for("POST", "/webhooks/", count=2))[1]
            assert added.data["flags"] & 64 and "Valdoria ferry" in _text(added)
            assert added.data.get("allowed_mentions", {}).get("parse") == []
            assert any(a.title == "Valdoria ferry" for a in _articles(bot))
        finally:
            await bot.client.close()
            await fake.stop()


def _articles(bot: Harness) -> list[Any]:
    bot.client.core.store.refresh()
    return list(bot.client.core.store.current().articles.values())
