"""The real Slack service (bolt's AsyncApp on aiohttp) on its own event loop thread,
talking to a loopback fake Slack; tests send signed requests as Slack does."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from slack_sdk.models.blocks import Block

from bot.admin_commands import ChatAdmin
from bot.core import build_core
from bot.digest import DigestDesk
from bot.settings import load_settings
from bot.slack_app import SlackBot
from bot.slack_server import SlackService
from bot.state import State
from tests.fakes.slack import BOT_USER, Call, FakeSlack

SECRET = "test-signing-secret"
T = TypeVar("T")


class LoopThread:
    """An asyncio loop in a daemon thread, as the bot's process has in its main thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="bot-loop")
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class Harness:
    def __init__(
        self, fake: FakeSlack, service: SlackService, state: State, loop: LoopThread
    ) -> None:
        self.fake, self.service, self.state, self.loop = fake, service, state, loop
        assert service.bot is not None
        self.bot: SlackBot = service.bot
        self.port = service.port

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return self.loop.run(coro, timeout)

    def close(self) -> None:
        self.run(self.service.stop(grace=5))
        self.loop.close()

    def post(
        self,
        body: bytes,
        content_type: str,
        *,
        secret: str = SECRET,
        headers: dict[str, str] | None = None,
        timestamp: int | None = None,
        path: str = "/slack/events",
        timeout: float = 10,
    ) -> tuple[int, str, float]:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        signature = (
            "v0="
            + hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
        )
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=body,
            method="POST",
            headers={
                "Content-Type": content_type,
                "X-Slack-Request-Timestamp": ts,
                "X-Slack-Signature": signature,
                **(headers or {}),
            },
        )
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read().decode(), time.monotonic() - started
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(), time.monotonic() - started

    def event(
        self, event: dict[str, Any], event_id: str = "Ev1", **kw: Any
    ) -> tuple[int, str, float]:
        return self.post(json.dumps(event_body(event, event_id)).encode(), "application/json", **kw)

    def command(
        self, name: str, text: str, key: str = "1", user: str = "U1"
    ) -> tuple[int, str, float]:
        form = {
            "command": name,
            "text": text,
            "user_id": user,
            "user_name": "ann",
            "channel_id": "C1",
            "team_id": "T1",
            "trigger_id": "trig",
            "response_url": self.fake.response_url(key),
            "api_app_id": "A1",
        }
        return self.post(urllib.parse.urlencode(form).encode(), "application/x-www-form-urlencoded")

    def click(
        self,
        action_id: str,
        value: str,
        *,
        ephemeral: bool = False,
        message: dict[str, Any] | None = None,
    ) -> tuple[int, str, float]:
        payload = {
            "type": "block_actions",
            "user": {"id": "U2", "name": "bob"},
            "team": {"id": "T1"},
            "api_app_id": "A1",
            "trigger_id": "trig",
            "channel": {"id": "C1", "name": "general"},
            "container": {"type": "message", "is_ephemeral": ephemeral, "channel_id": "C1"},
            "response_url": self.fake.response_url("click"),
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": "b",
                    "value": value,
                    "action_ts": "1",
                }
            ],
        }
        if message is not None:
            payload["message"] = message
        body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
        return self.post(body, "application/x-www-form-urlencoded")


def event_body(event: dict[str, Any], event_id: str) -> dict[str, Any]:
    return {
        "token": "legacy",
        "team_id": "T1",
        "api_app_id": "A1",
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "event": event,
        "authorizations": [{"team_id": "T1", "user_id": BOT_USER, "is_bot": True}],
    }


def mention(text: str, ts: str, channel: str = "C1", user: str = "U1") -> dict[str, Any]:
    return {
        "type": "app_mention",
        "user": user,
        "text": f"<@{BOT_USER}> {text}",
        "ts": ts,
        "channel": channel,
    }


def make_harness(
    fake: FakeSlack,
    corpus: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clock: Callable[[], float] = time.time,
    delivery_seconds: float = 7.0,
    **env: str,
) -> Harness:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    core = build_core(load_settings(overrides={"corpus": str(corpus)}))
    core.store.current()
    state = State(tmp_path / "state.sqlite3", clock=clock)
    service = SlackService(
        core,
        state,
        bot_token="xoxb-test-token",
        api_url=fake.api_url,
        signing_secret=SECRET,
        digest=DigestDesk(core, state, "slack", clock),
        admin=ChatAdmin(core, state, platform="slack", clock=clock),
        clock=clock,
        delivery_seconds=delivery_seconds,
        workers=0,  # answers in threads: starting worker processes per test is slow
    )
    loop = LoopThread()
    loop.run(service.start())
    loop.run(service.serve_http("127.0.0.1", 0))
    return Harness(fake, service, state, loop)


def all_text(call: Call) -> str:
    return json.dumps(call.data.get("blocks", [])) + call.data.get("text", "")


def assert_valid_blocks(call: Call) -> list[Block]:
    """Every payload parses as Block Kit and stays inside Slack's limits."""
    raw = call.data.get("blocks") or []
    assert len(raw) <= 50
    blocks = Block.parse_all(raw)
    assert len(blocks) == len(raw) and all(b is not None for b in blocks)
    for block in raw:
        text = (block.get("text") or {}).get("text", "")
        assert len(text) <= 3000
        for element in block.get("elements", []):
            if element.get("type") == "mrkdwn":
                assert len(element["text"]) <= 3000
    assert len(call.data.get("text", "")) <= 40000
    return blocks
