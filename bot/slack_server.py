"""Serving the Slack bot: aiohttp's web server for HTTP events, or Socket Mode.

Everything Slack sends is handled on one event loop (acks at once); answering runs in a
bounded pool of worker processes beside it (``bot.answer_pool``).  ``GET /healthz``
answers 200 once the index is loaded (for load balancers); SIGTERM stops taking new
events and finishes answers in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.internals import parse_body
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier

from bot.admin_commands import ChatAdmin
from bot.answer_pool import AnswerPool
from bot.core import Core
from bot.digest import DigestDesk
from bot.feeds import feed_task
from bot.settings import MissingSecret, secret
from bot.slack_app import PLATFORM, SlackBot
from bot.slack_calls import web_client
from bot.state import State

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
DRAIN_SECONDS = 20.0  # how long SIGTERM waits for answers in flight
Headers = dict[str, str | Sequence[str]]
BACKLOG = 1024  # pending connections the listening socket holds (socketserver's was 5)


class SlackService:
    """The loop-side pieces of a running bot: HTTP session, Web API client, bot, pool and
    (with ``serve_http``) the web server.  Start and stop it on one event loop."""

    def __init__(
        self,
        core: Core,
        state: State,
        *,
        bot_token: str,
        api_url: str,
        signing_secret: str = "",
        digest: DigestDesk | None = None,
        workers: int | None = None,
        **bot_options: Any,
    ) -> None:
        self.core, self.state = core, state
        self.bot_token, self.api_url = bot_token, api_url
        self.signing_secret, self.digest = signing_secret, digest
        self.bot_options = bot_options
        workers = core.settings.answer_workers if workers is None else workers
        self.answers = AnswerPool(core, workers)
        # Workers search; this process only acks and posts: loading the compiled query
        # loop here would hold the interpreter for seconds while events arrive.
        core.store.warm_up_queries = workers == 0
        self.session: aiohttp.ClientSession | None = None
        self.bot: SlackBot | None = None
        self.runner: web.AppRunner | None = None
        self.site: web.TCPSite | None = None
        self.port = 0
        self.ready = False
        self.draining = False
        self._background: list[asyncio.Task[Any]] = []
        self._verifier = SignatureVerifier(signing_secret) if signing_secret else None
        self._dispatching: set[asyncio.Task[Any]] = set()
        self._gate = AckFirst()

    async def start(self, *, check_token: bool = False) -> SlackBot:
        """Open the Web API session and build the bot; with ``check_token`` a refused
        token or an unreachable Slack raises (a one-line error at start)."""
        self.session = aiohttp.ClientSession()
        client = web_client(self.bot_token, self.api_url, self.session)
        if check_token:
            try:
                await client.auth_test()
            except SlackApiError as exc:
                await self.session.close()
                raise MissingSecret(
                    f"SLACK_BOT_TOKEN was refused by Slack ({exc.response.get('error')})"
                ) from None
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                await self.session.close()
                raise ConnectionError(
                    f"cannot reach Slack's Web API at {self.api_url}: {exc or type(exc).__name__}"
                ) from None
        self.bot = SlackBot(
            self.core,
            self.state,
            client,
            signing_secret=self.signing_secret,
            digest=self.digest,
            answers=self.answers,
            **self.bot_options,
        )
        await self.bot.prepare()
        self._background.append(asyncio.ensure_future(self._load_index()))
        return self.bot

    async def _load_index(self) -> None:
        """Load the index here and in every answer worker; then /healthz says ready.
        This process keeps looking for corpus changes (the workers follow its builds)."""
        loop = asyncio.get_running_loop()
        interval = max(self.core.settings.check_interval, 1.0)
        last_error = ""
        while True:
            try:
                await loop.run_in_executor(None, self.core.store.current)
                if not self.ready:
                    await self.answers.warm_up()
                    self.ready = True
                last_error = ""
            except Exception as exc:  # IndexUnavailable, a worker that cannot start
                if str(exc) != last_error:  # once, not every few seconds
                    log.error("the index is not available: %s", exc)
                last_error = str(exc)
            await asyncio.sleep(interval)

    def run_digests(self, interval: float = 30.0) -> None:
        assert self.bot is not None
        self._background.append(asyncio.ensure_future(self.bot.digest_loop(interval)))

    def run_feeds(self, admin: ChatAdmin) -> None:
        """Poll the followed feeds in the background (each poll in a worker thread)."""
        self._background.append(asyncio.ensure_future(feed_task(admin.feeds)))

    # -- HTTP --------------------------------------------------------------------------

    async def serve_http(self, host: str, port: int) -> int:
        """Serve ``POST /slack/events`` and ``GET /healthz``; returns the bound port."""
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post(EVENTS_PATH, self._events)
        app.router.add_get("/healthz", self._healthz)
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self.runner.setup()
        self.site = web.TCPSite(self.runner, host, port, backlog=BACKLOG)
        await self.site.start()
        server = self.site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port
        return self.port

    async def _healthz(self, request: web.Request) -> web.Response:
        if self.draining:
            return web.Response(status=503, text="stopping")
        if not self.ready:
            return web.Response(status=503, text="loading the index")
        return web.Response(text="ok")

    async def _events(self, request: web.Request) -> web.Response:
        """One request from Slack into bolt; a body bolt cannot read is a 400, not a 500."""
        if self.draining or self.bot is None:
            return web.Response(status=503, text="stopping")
        self._gate.arrived()
        try:
            body = await request.text()
            parsed = parse_body(body, request.content_type)
            if not isinstance(parsed, dict):
                raise ValueError(f"expected an object, got {type(parsed).__name__}")
        except (ValueError, TypeError, AttributeError, KeyError, UnicodeDecodeError) as exc:
            log.info("refused a malformed request body: %s", exc)
            return web.Response(status=400, text="malformed request body")
        headers: Headers = dict(request.headers)
        if parsed.get("type") == "event_callback" and self._verifier is not None:
            # Slack ignores what an Events API ack says: ack a genuine event at once, and
            # hand it to bolt after the response (bolt verifies it again, dedupes it,
            # and runs the listeners).  Commands and buttons go through bolt first: their
            # ack can carry a message.
            if not self._verifier.is_valid(
                body,
                request.headers.get("X-Slack-Request-Timestamp"),
                request.headers.get("X-Slack-Signature"),
            ):
                return web.Response(status=401, text="invalid request")
            task = asyncio.ensure_future(self._dispatch(body, request.query_string, headers))
            self._dispatching.add(task)
            task.add_done_callback(self._dispatching.discard)
            return web.Response(status=200)
        try:
            bolt_request = AsyncBoltRequest(body=body, query=request.query_string, headers=headers)
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            log.info("refused a malformed request body: %s", exc)
            return web.Response(status=400, text="malformed request body")
        response = await self.bot.app.async_dispatch(bolt_request)
        return await to_aiohttp_response(response)

    async def _dispatch(self, body: str, query: str, headers: Headers) -> None:
        assert self.bot is not None
        await self._gate.wait()  # a burst of requests is acked before any is answered
        try:
            bolt_request = AsyncBoltRequest(body=body, query=query, headers=headers)
            response = await self.bot.app.async_dispatch(bolt_request)
        except Exception:
            log.exception("handling an event failed")
            return
        if response.status >= 400:
            log.warning("bolt refused an event: HTTP %s %s", response.status, response.body)

    # -- Socket Mode --------------------------------------------------------------------

    async def connect_socket_mode(
        self, app_token: str, *, check_token: bool = False
    ) -> AsyncSocketModeHandler:
        """Socket Mode through the same Web API URL and retries as the bot's client.  With
        ``check_token`` a refused app token raises first (the handler itself would retry
        for ever, logging a traceback every ten seconds)."""
        assert self.bot is not None and self.session is not None
        opener = web_client(app_token, self.api_url, self.session)
        if check_token:
            await opener.apps_connections_open(app_token=app_token)
        handler = AsyncSocketModeHandler(self.bot.app, app_token, web_client=opener)
        await handler.connect_async()
        self.socket_mode = handler
        return handler

    # -- stopping ---------------------------------------------------------------------------

    async def stop(self, grace: float = DRAIN_SECONDS) -> None:
        """Stop taking events, let answers in flight finish (up to ``grace`` seconds),
        then close everything."""
        self.draining = True
        if self.site is not None:
            await self.site.stop()  # no new connections
        handler = getattr(self, "socket_mode", None)
        if handler is not None:
            with contextlib.suppress(Exception):
                await handler.close_async()
        if self._dispatching:
            await asyncio.wait(set(self._dispatching), timeout=grace)
        if self.bot is not None and self.bot.in_flight:
            log.info("finishing %d answers in flight", len(self.bot.in_flight))
            await asyncio.wait(set(self.bot.in_flight), timeout=grace)
        for task in self._background:
            task.cancel()
        if self.runner is not None:
            await self.runner.cleanup()
        if self.session is not None:
            await self.session.close()
        self.answers.shutdown()


class AckFirst:
    """Holds the answering of acked events while requests are still arriving (until
    QUIET seconds pass without one, at most HOLD seconds), so that in a burst every ack
    goes out before the loop spends time on any answer.  One timer, not one per event."""

    QUIET = 0.005
    HOLD = 0.1

    def __init__(self) -> None:
        self._open = asyncio.Event()
        self._open.set()
        self._last = 0.0
        self._closed_at = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def arrived(self) -> None:
        loop = asyncio.get_running_loop()
        self._last = loop.time()
        if self._open.is_set():
            self._open.clear()
            self._closed_at = self._last
        if self._timer is None:
            self._timer = loop.call_later(self.QUIET, self._check)

    def _check(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        quiet_at = self._last + self.QUIET
        if now >= quiet_at or now - self._closed_at >= self.HOLD:
            self._timer = None
            self._open.set()
            return
        self._timer = loop.call_at(min(quiet_at, self._closed_at + self.HOLD), self._check)

    async def wait(self) -> None:
        await self._open.wait()


def slack_tokens(http: bool) -> tuple[str, str]:
    """(bot token, app token or signing secret); a missing one names its variable."""
    bot_token = secret("SLACK_BOT_TOKEN")
    other = secret("SLACK_SIGNING_SECRET" if http else "SLACK_APP_TOKEN")
    return bot_token, other


async def serve(
    core: Core, state: State, *, http: bool, host: str, port: int, api_url: str
) -> None:
    """Run until SIGTERM or SIGINT, then drain."""
    bot_token, other = slack_tokens(http)
    admin = ChatAdmin(core, state, platform=PLATFORM)
    service = SlackService(
        core,
        state,
        bot_token=bot_token,
        api_url=api_url,
        signing_secret=other if http else "",
        digest=DigestDesk(core, state, PLATFORM),
        admin=admin,
    )
    await service.start(check_token=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        if http:
            bound = await service.serve_http(host, port)
            log.info("serving Slack events on http://%s:%d%s", host, bound, EVENTS_PATH)
        else:
            try:
                await service.connect_socket_mode(other, check_token=True)
            except SlackApiError as exc:
                raise MissingSecret(
                    f"SLACK_APP_TOKEN was refused by Slack ({exc.response.get('error')})"
                ) from None
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                raise ConnectionError(
                    f"cannot open Slack's Socket Mode connection: {exc or type(exc).__name__}"
                ) from None
            log.info("connected to Slack in Socket Mode")
        service.run_digests()
        service.run_feeds(admin)
        await stop.wait()
        log.info("stopping: finishing answers in flight")
    finally:
        await service.stop()


def run(
    core: Core,
    state: State,
    *,
    http: bool,
    host: str = "0.0.0.0",
    port: int = 3000,
    api_url: str = "https://slack.com/api/",
) -> None:
    """Run the Slack bot until interrupted: Socket Mode by default, HTTP with ``http``."""
    asyncio.run(serve(core, state, http=http, host=host, port=port, api_url=api_url))
