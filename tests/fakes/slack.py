"""A loopback fake of Slack's servers: the Web API, response_url endpoints, and the
Socket Mode websocket.  It records what the bot sends so tests can assert on it."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

BOT_USER = "UBOT"


@dataclass
class Call:
    method: str  # "chat.postMessage", or "response_url" for posts to a response URL
    data: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)  # when the fake received it


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.acks: list[dict[str, Any]] = []
        self.rate_limit_next: dict[str, int] = {}  # method -> how many 429s to answer
        self.fail: set[str] = set()  # methods that answer ok=false
        self.retry_after = 1  # seconds a 429 asks the client to wait
        # "method" or "method#channel" -> answer 429 until this monotonic time
        self.stall_until: dict[str, float] = {}
        self.drop_next: dict[str, int] = {}  # method -> how many connections to drop unanswered
        self.hang: set[str] = set()  # methods that never answer (until the fake stops)
        self._envelopes: asyncio.Queue[dict[str, Any]] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._lock = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> FakeSlack:
        ready = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._start(ready))
            self._loop.run_forever()

        threading.Thread(target=serve, daemon=True, name="fake-slack").start()
        assert ready.wait(10), "fake Slack did not start"
        return self

    async def _start(self, ready: threading.Event) -> None:
        self._envelopes = asyncio.Queue()
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_post("/response/{key}", self._response_url)
        app.router.add_get("/link/", self._socket)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        ready.set()

    def stop(self) -> None:
        if self._loop is None:
            return
        self.hang.clear()
        runner = self._runner

        async def shutdown() -> None:
            if runner is not None:
                await runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, key: str = "1") -> str:
        return f"http://127.0.0.1:{self.port}/response/{key}"

    # -- the Web API -------------------------------------------------------------------

    async def _read(self, request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        if request.content_type == "application/json":
            data: dict[str, Any] = json.loads(raw or b"{}")
        else:
            data = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode()).items()}
        for key, value in request.query.items():  # the async client sends some as a query
            data.setdefault(key, value)
        for key in ("blocks", "attachments"):
            if isinstance(data.get(key), str):
                data[key] = json.loads(data[key])
        return data

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        data = await self._read(request)
        with self._lock:
            per_channel = f"{method}#{data.get('channel', '')}"  # Slack limits posts per channel
            stalled = time.monotonic() < max(
                self.stall_until.get(method, 0.0), self.stall_until.get(per_channel, 0.0)
            )
            if self.rate_limit_next.get(method) or stalled:
                if not stalled:
                    self.rate_limit_next[method] -= 1
                self.calls.append(Call(f"{method}:429", data))
                return web.json_response(
                    {"ok": False, "error": "ratelimited"},
                    status=429,
                    headers={"Retry-After": str(self.retry_after)},
                )
            if self.drop_next.get(method):
                self.drop_next[method] -= 1
                self.calls.append(Call(f"{method}:dropped", data))
                assert request.transport is not None
                request.transport.abort()  # the connection dies with no answer
                return web.Response(status=499)
            hang = method in self.hang
            self.calls.append(
                Call(f"{method}:hung" if hang else method, data, dict(request.headers))
            )
        while hang and method in self.hang:  # until the test clears it or the fake stops
            await asyncio.sleep(0.05)
        if method in self.fail:
            return web.json_response({"ok": False, "error": "fatal_error"})
        if method == "auth.test":
            return web.json_response(
                {
                    "ok": True,
                    "user_id": BOT_USER,
                    "bot_id": "BBOT",
                    "team_id": "T1",
                    "user": "citebot",
                    "team": "Test",
                    "url": "https://test.slack.com/",
                }
            )
        if method == "apps.connections.open":
            return web.json_response(
                {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link/?ticket=x"}
            )
        if method == "chat.postMessage":
            return web.json_response(
                {
                    "ok": True,
                    "channel": data.get("channel"),
                    "ts": f"{time.time():.6f}",
                    "message": {"text": data.get("text", "")},
                }
            )
        return web.json_response({"ok": True})

    async def _response_url(self, request: web.Request) -> web.Response:
        data = await self._read(request)
        with self._lock:
            self.calls.append(Call("response_url", data))
        return web.Response(text="ok")

    # -- Socket Mode ---------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1}))
        assert self._envelopes is not None

        async def pump() -> None:
            assert self._envelopes is not None
            while not ws.closed:
                envelope = await self._envelopes.get()
                await ws.send_str(json.dumps(envelope))

        sender = asyncio.ensure_future(pump())
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    with self._lock:
                        self.acks.append(json.loads(message.data))
        finally:
            sender.cancel()
        return ws

    def send_envelope(self, envelope: dict[str, Any]) -> None:
        assert self._loop is not None and self._envelopes is not None
        self._loop.call_soon_threadsafe(self._envelopes.put_nowait, envelope)

    # -- assertions ----------------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(
        self,
        method: str,
        predicate: Callable[[Call], bool] = lambda c: True,
        timeout: float = 10.0,
        count: int = 1,
    ) -> list[Call]:
        """Poll (with a deadline, not a fixed sleep) until ``count`` matching calls came."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [c for c in self.calls_to(method) if predicate(c)]
            if len(found) >= count:
                return found
            time.sleep(0.02)
        seen = [c.method for c in self.calls]
        raise AssertionError(f"no {count} x {method} within {timeout}s; saw {seen}")
