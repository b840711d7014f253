"""A loopback fake of Discord: the REST API and the gateway websocket.

Runs on the test's own event loop.  The gateway does the real handshake (HELLO,
IDENTIFY, READY, GUILD_CREATE, heartbeat ACKs) and then dispatches whatever events a
test hands it; REST calls the bot makes are recorded for assertions.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

APP_ID = "900000000000000001"
BOT_ID = "900000000000000002"
GUILD_ID = "900000000000000003"
CHANNEL_ID = "900000000000000004"
USER_ID = "900000000000000005"
DM_CHANNEL_ID = "900000000000000006"

BOT_USER = {
    "id": BOT_ID,
    "username": "citebot",
    "discriminator": "0",
    "avatar": None,
    "global_name": None,
    "bot": True,
}
HUMAN = {
    "id": USER_ID,
    "username": "ann",
    "discriminator": "0",
    "avatar": None,
    "global_name": "Ann",
}
OTHER_BOT = {
    "id": "900000000000000009",
    "username": "otherbot",
    "discriminator": "0",
    "avatar": None,
    "global_name": None,
    "bot": True,
}
STRANGER = {  # a member who does not own the server
    "id": "900000000000000011",
    "username": "zed",
    "discriminator": "0",
    "avatar": None,
    "global_name": "Zed",
}
JOINED = "2024-01-01T00:00:00+00:00"
ALL_PERMISSIONS = str((1 << 50) - 1)
ADMINISTRATOR, MANAGE_GUILD = 1 << 3, 1 << 5
# Everyone may do everything but run the server: the owner (ann) alone manages it.
EVERYONE_PERMISSIONS = str(((1 << 50) - 1) & ~(ADMINISTRATOR | MANAGE_GUILD))


@dataclass
class Call:
    method: str
    path: str
    data: dict[str, Any] = field(default_factory=dict)


class FakeDiscord:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._sockets: list[web.WebSocketResponse] = []
        self._seq = itertools.count(1)
        self._ids = itertools.count(int(time.time() * 1000) << 22)
        self.identified = asyncio.Event()
        self.ready_sent = asyncio.Event()
        # (method, path, body) -> an HTTP status to fail with, or None to answer normally
        self.fail_when: Callable[[str, str, dict[str, Any]], int | None] = lambda m, p, d: None

    def snowflake(self) -> str:
        return str(next(self._ids))

    async def start(self) -> FakeDiscord:
        app = web.Application()
        app.router.add_get("/gateway/", self._gateway)
        app.router.add_route("*", "/api/v10/{path:.*}", self._rest)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        for ws in self._sockets:
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- REST ----------------------------------------------------------------------------

    @staticmethod
    def _json(data: Any, status: int = 200) -> web.Response:
        # discord.py reads a body as JSON only with exactly this content type.
        return web.Response(
            body=json.dumps(data).encode(),
            status=status,
            headers={"Content-Type": "application/json"},
        )

    def message(
        self,
        channel_id: str,
        body: dict[str, Any],
        author: dict[str, Any] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        return {
            "id": self.snowflake(),
            "channel_id": channel_id,
            "author": author or BOT_USER,
            "content": body.get("content") or "",
            "timestamp": JOINED,
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "pinned": False,
            "type": 0,
            "flags": body.get("flags", 0),
            **extra,
        }

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["path"]
        raw = await request.read()
        data: dict[str, Any] = {}
        if raw and request.content_type == "application/json":
            data = json.loads(raw)
        status = self.fail_when(request.method, path, data)
        if status is not None:
            self.calls.append(Call(request.method, path + f":{status}", data))
            if status == 429:  # as Discord says it: the body and headers discord.py reads
                return web.Response(
                    status=429,
                    text=json.dumps(
                        {
                            "message": "You are being rate limited.",
                            "retry_after": 0.2,
                            "global": False,
                        }
                    ),
                    content_type="application/json",
                    headers={"Retry-After": "0.2", "X-RateLimit-Scope": "user"},
                )
            return self._json({"message": "Internal Server Error", "code": 0}, status=status)
        problem = _over_limits(data) if isinstance(data, dict) else None
        if problem is not None:  # Discord refuses the whole message
            self.calls.append(Call(request.method, path + ":400", data))
            return self._json(
                {"message": "Invalid Form Body", "code": 50035, "errors": problem}, 400
            )
        self.calls.append(Call(request.method, path, data))
        if path == "/users/@me":
            return self._json(BOT_USER)
        if path == "/oauth2/applications/@me":
            return self._json(
                {
                    "id": APP_ID,
                    "name": "citebot",
                    "description": "",
                    "icon": None,
                    "bot_public": True,
                    "bot_require_code_grant": False,
                    "owner": HUMAN,
                    "verify_key": "00",
                    "flags": 0,
                    "team": None,
                }
            )
        if path.endswith("/commands") and request.method == "PUT":
            commands = (
                [
                    {
                        **c,
                        "id": self.snowflake(),
                        "application_id": APP_ID,
                        "version": "1",
                        "default_member_permissions": None,
                        "dm_permission": True,
                        "nsfw": False,
                        "guild_id": path.split("/")[4] if "/guilds/" in path else None,
                    }
                    for c in data
                    if isinstance(c, dict)
                ]
                if isinstance(data, list)
                else []
            )
            return self._json(commands)
        if path.endswith("/typing"):
            return web.Response(status=204)
        if (
            path.startswith("/channels/")
            and path.endswith("/messages")
            and request.method == "POST"
        ):
            channel_id = path.split("/")[2]
            return self._json(self.message(channel_id, data))
        if path.startswith("/channels/") and request.method == "DELETE":
            return web.Response(status=204)
        if path.startswith("/interactions/") and path.endswith("/callback"):
            interaction_id = path.split("/")[2]
            return self._json({"interaction": {"id": interaction_id, "type": data.get("type", 4)}})
        if path.startswith("/webhooks/"):
            return self._json(self.message(CHANNEL_ID, data, webhook_id=APP_ID))
        return self._json({})

    # -- gateway --------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 45000}}))
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            payload = json.loads(message.data)
            if payload["op"] == 1:
                await ws.send_str(json.dumps({"op": 11}))
            elif payload["op"] == 2:
                self.identified.set()
                await self._dispatch(
                    ws,
                    "READY",
                    {
                        "v": 10,
                        "user": BOT_USER,
                        "session_id": "session",
                        "resume_gateway_url": f"ws://127.0.0.1:{self.port}/gateway/",
                        "guilds": [{"id": GUILD_ID, "unavailable": True}],
                        "application": {"id": APP_ID, "flags": 0},
                        "private_channels": [],
                        "relationships": [],
                    },
                )
                await self._dispatch(ws, "GUILD_CREATE", self.guild())
                self.ready_sent.set()
        return ws

    def guild(self) -> dict[str, Any]:
        return {
            "id": GUILD_ID,
            "name": "Test server",
            "owner_id": USER_ID,
            "icon": None,
            "roles": [
                {
                    "id": GUILD_ID,
                    "name": "@everyone",
                    "permissions": EVERYONE_PERMISSIONS,
                    "position": 0,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                    "flags": 0,
                }
            ],
            "channels": [
                {
                    "id": CHANNEL_ID,
                    "type": 0,
                    "name": "general",
                    "position": 0,
                    "permission_overwrites": [],
                    "guild_id": GUILD_ID,
                }
            ],
            "members": [
                {
                    "user": BOT_USER,
                    "roles": [],
                    "joined_at": JOINED,
                    "deaf": False,
                    "flags": 0,
                    "mute": False,
                }
            ],
            "member_count": 2,
            "emojis": [],
            "stickers": [],
            "features": [],
            "threads": [],
            "voice_states": [],
            "presences": [],
            "large": False,
            "unavailable": False,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "joined_at": JOINED,
        }

    async def _dispatch(self, ws: web.WebSocketResponse, event: str, data: dict[str, Any]) -> None:
        await ws.send_str(json.dumps({"op": 0, "t": event, "s": next(self._seq), "d": data}))

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        await self.ready_sent.wait()
        await self._dispatch(self._sockets[-1], event, data)

    # -- event builders --------------------------------------------------------------------

    def user_message(
        self,
        content: str,
        *,
        channel_id: str = CHANNEL_ID,
        dm: bool = False,
        author: dict[str, Any] | None = None,
        mentions_bot: bool = False,
        reply_to: str | None = None,
    ) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if not dm:
            extra["guild_id"] = GUILD_ID
            extra["member"] = {
                "roles": [],
                "joined_at": JOINED,
                "deaf": False,
                "mute": False,
                "flags": 0,
            }
        if reply_to:
            extra["message_reference"] = {
                "message_id": reply_to,
                "channel_id": channel_id,
                "guild_id": None if dm else GUILD_ID,
            }
            extra["type"] = 19
        message = self.message(channel_id, {"content": content}, author=author or HUMAN, **extra)
        if mentions_bot:
            message["mentions"] = [BOT_USER]
        return message

    def interaction(
        self,
        data: dict[str, Any],
        *,
        kind: int = 2,
        message: dict[str, Any] | None = None,
        permissions: str = ALL_PERMISSIONS,
        user: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        payload = {
            "id": self.snowflake(),
            "application_id": APP_ID,
            "type": kind,
            "data": data,
            "guild_id": GUILD_ID,
            "channel_id": CHANNEL_ID,
            "channel": {
                "id": CHANNEL_ID,
                "type": 0,
                "guild_id": GUILD_ID,
                "name": "general",
                "position": 0,
                "permission_overwrites": [],
            },
            "member": {
                "user": user or HUMAN,
                "roles": [],
                "permissions": permissions,
                "joined_at": JOINED,
                "deaf": False,
                "mute": False,
                "flags": 0,
            },
            "token": f"token-{self.snowflake()}",
            "version": 1,
            "locale": "en-US",
            "guild_locale": "en-US",
            "app_permissions": ALL_PERMISSIONS,
            "entitlements": [],
            "authorizing_integration_owners": {"0": GUILD_ID},
            "context": 0,
            "attachment_size_limit": 10485760,
        }
        if message is not None:
            payload["message"] = message
        return payload

    def command(
        self,
        name: str,
        *,
        permissions: str = ALL_PERMISSIONS,
        user: dict[str, Any] | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        kinds = {str: 3, int: 4}
        return self.interaction(
            {
                "id": self.snowflake(),
                "name": name,
                "type": 1,
                "guild_id": GUILD_ID,
                "options": [
                    {"name": k, "type": kinds[type(v)], "value": v} for k, v in options.items()
                ],
            },
            permissions=permissions,
            user=user,
        )

    # -- assertions ------------------------------------------------------------------------

    def calls_to(self, method: str, prefix: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and c.path.startswith(prefix)]

    async def wait_for(
        self, method: str, prefix: str, count: int = 1, timeout: float = 10.0
    ) -> list[Call]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.calls_to(method, prefix)
            if len(found) >= count:
                return found
            await asyncio.sleep(0.02)
        seen = [(c.method, c.path) for c in self.calls]
        raise AssertionError(f"no {count} x {method} {prefix} within {timeout}s; saw {seen}")


def _over_limits(data: dict[str, Any]) -> str | None:
    """What Discord checks of a message's embeds (it answers 400 when one is broken)."""
    body = data.get("data") if isinstance(data.get("data"), dict) else data
    embeds = body.get("embeds") or []
    total = 0
    for embed in embeds:
        sizes = {
            "title": (len(embed.get("title", "")), 256),
            "description": (len(embed.get("description", "")), 4096),
            "footer": (len((embed.get("footer") or {}).get("text", "")), 2048),
        }
        for name, (size, limit) in sizes.items():
            if size > limit:
                return f"embed {name} over {limit}"
            total += size
        for field_ in embed.get("fields", []):
            total += len(field_.get("name", "")) + len(field_.get("value", ""))
    if total > 6000:
        return "embeds over 6000 characters in total"
    if len(body.get("content") or "") > 2000:
        return "content over 2000"
    return None
