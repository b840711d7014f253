"""The Slack adapter: slack-bolt events and commands in, the core's answers out as Block Kit.

With ``bot.slack_server`` the only modules that import slack_bolt / slack_sdk.  It runs on
bolt's asyncio stack: every listener acks on the event loop at once, the CPU-bound
answering runs in a bounded pool beside the loop, and every Web API call is awaited with
a deadline, so a 429 back-off or a dead connection never holds up an ack or another
answer.  Every platform call handles every failure: the asker gets the answer or a short
apology, the failure is logged once, and the bot keeps serving.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from slack_bolt import BoltResponse
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.admin_commands import ChatAdmin
from bot.answer_pool import AnswerPool
from bot.core import Core
from bot.digest import DigestDesk
from bot.rate_limit import RateLimiter
from bot.render import slack as render
from bot.slack_calls import (
    APOLOGY,
    APOLOGY_SECONDS,
    DELIVERY_SECONDS,
    Blocks,
    DropTokenNotice,
    SlackCalls,
)
from bot.state import State

log = logging.getLogger(__name__)

PLATFORM = "slack"
DM_CONTEXT_SECONDS = 15 * 60
REACT_AFTER = 1.0  # seconds before a question still being answered gets :eyes:
RATE_NOTE = "You're asking faster than I can keep up ({n} a minute). Please wait a moment."
USAGE = {
    "/ask": "Usage: `/ask QUESTION`, e.g. `/ask Who leads TBD Lab?`",
    "/search": "Usage: `/search WORDS`, e.g. `/search Qwen distillation`",
    "/source": "Usage: `/source ARTICLE[#PARAGRAPH]`, e.g. `/source 003_995cb40eb3369109#16`",
}

T = TypeVar("T")


class SlackBot(SlackCalls):
    """An ``AsyncApp`` wired to the core; ``bot.slack_server`` serves it over HTTP or
    Socket Mode.  ``answers`` answers questions off the loop (worker processes or threads);
    SQLite and rendering are quick enough for the loop; digests run in its executor."""

    def __init__(
        self,
        core: Core,
        state: State,
        client: AsyncWebClient,
        *,
        signing_secret: str = "",
        digest: DigestDesk | None = None,
        clock: Callable[[], float] = time.time,
        answers: AnswerPool | None = None,
        delivery_seconds: float = DELIVERY_SECONDS,
        react_after: float = REACT_AFTER,
        admin: ChatAdmin | None = None,
    ) -> None:
        self.core = core
        self.admin = admin
        self.react_after = react_after
        self.delivery_seconds = delivery_seconds
        self.apology_seconds = min(APOLOGY_SECONDS, delivery_seconds)
        self.state = state
        self.client = client
        self.clock = clock
        self.answers = answers or AnswerPool(core, workers=0)
        self.limiter = RateLimiter(core.settings.rate_limit)
        self.digest = digest
        self.bot_user_id = ""
        self.in_flight: set[asyncio.Task[Any]] = set()
        bolt_log = logging.getLogger("slack_bolt")
        if not any(isinstance(f, DropTokenNotice) for f in bolt_log.filters):
            bolt_log.addFilter(DropTokenNotice())
        self.app = AsyncApp(
            client=client,
            signing_secret=signing_secret,
            request_verification_enabled=bool(signing_secret),
            logger=bolt_log,
        )
        self._register()

    async def prepare(self) -> None:
        """Learn the bot's own user id (to ignore itself); a failure is logged, not fatal."""
        data = await self._call("auth_test")
        self.bot_user_id = str((data or {}).get("user_id") or "")

    # -- wiring ----------------------------------------------------------------------

    def _register(self) -> None:
        app = self.app
        app.middleware(self._drop_retried_events)
        app.event("app_mention")(self._on_mention)
        app.event("message")(self._on_message)
        for name in ("/ask", "/search", "/source", "/digest", "/add", "/feeds", "/sources"):
            app.command(name)(self._on_command)
        app.action("share_answer")(self._on_share)
        app.action("feedback_helpful")(self._on_feedback)
        app.action("feedback_unhelpful")(self._on_feedback)
        app.action("more_passages")(self._on_more)

    async def _drop_retried_events(
        self, body: dict[str, Any], next: Callable[[], Awaitable[None]]
    ) -> Any:
        """Slack re-sends an event it thinks we missed; answer each event id once."""
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not self.state.first_time(PLATFORM, str(event_id)):
            log.info("dropping repeated delivery of %s", event_id)
            return BoltResponse(status=200, body="")
        await next()
        return None

    async def _tracked(self, work: Awaitable[None]) -> None:
        """Run a listener's work after its ack, counted as in flight for a clean shutdown."""
        task = asyncio.current_task()
        if task is not None:
            self.in_flight.add(task)
        try:
            await work
        finally:
            if task is not None:
                self.in_flight.discard(task)

    async def _compute(self, fn: Callable[..., T], *args: Any) -> T:
        """Slower work that needs this process's core (digests) in the loop's executor."""
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)

    # -- events ----------------------------------------------------------------------

    async def _on_mention(self, event: dict[str, Any], ack: Callable[..., Awaitable[None]]) -> None:
        await ack()
        if self._from_a_bot(event):
            return
        thread = event.get("thread_ts") or event["ts"]
        await self._tracked(
            self.answer_message(
                event["channel"],
                thread,
                event.get("user", ""),
                event.get("text") or "",
                react_to=event["ts"],
            )
        )

    async def _on_message(self, event: dict[str, Any], ack: Callable[..., Awaitable[None]]) -> None:
        await ack()
        if self._from_a_bot(event) or event.get("subtype"):
            return  # edits, joins, bots (itself included): never answered
        text = event.get("text") or ""
        channel = event["channel"]
        user = event.get("user", "")
        thread: str | None
        if event.get("channel_type") == "im":
            thread = None
        elif self.bot_user_id and f"<@{self.bot_user_id}" in text:
            return  # a mention: app_mention answers it
        elif event.get("thread_ts") and self.state.is_bot_thread(
            PLATFORM, channel, event["thread_ts"]
        ):
            thread = event["thread_ts"]
        elif channel in self.core.settings.answer_channels and text.rstrip().endswith("?"):
            thread = event["ts"]
        else:
            return
        await self._tracked(self.answer_message(channel, thread, user, text, react_to=event["ts"]))

    def _from_a_bot(self, event: dict[str, Any]) -> bool:
        return bool(
            event.get("bot_id")
            or event.get("subtype") == "bot_message"
            or (self.bot_user_id and event.get("user") == self.bot_user_id)
        )

    async def _answer_blocks(
        self, channel: str, thread: str | None, user: str, text: str
    ) -> Blocks:
        """The thread's earlier question, the answer (off the loop), its record, its blocks."""
        record = self.state.thread_question(PLATFORM, channel, thread or "")
        previous = ""
        if record is not None and (
            thread is not None or self.clock() - record.created_at <= DM_CONTEXT_SECONDS
        ):
            previous = record.question
        answer = await self.answers.follow_up(text, previous)
        answer_id = self.state.record(
            answer, platform=PLATFORM, channel=channel, thread=thread or "", user=user
        )
        return render.render_answer(answer, answer_id=answer_id if answer.answered else None)

    async def answer_message(
        self, channel: str, thread: str | None, user: str, text: str, *, react_to: str
    ) -> None:
        """Answer in the thread (or DM); never raises.  An answer not ready within
        ``react_after`` seconds gets :eyes: on the question while it is worked on (a quick
        one does not: two Web API calls per question are most of the bot's work)."""
        if not self.limiter.allow(user):
            await self._ephemeral(
                channel, user, RATE_NOTE.format(n=self.limiter.per_minute), thread
            )
            return
        work = asyncio.ensure_future(self._answer_blocks(channel, thread, user, text))
        reacted = None
        if not (await asyncio.wait({work}, timeout=self.react_after))[0]:
            reacted = await self._call(  # a slow answer: show it is being worked on
                "reactions_add", quiet=True, channel=channel, timestamp=react_to, name="eyes"
            )
        try:
            blocks = await work
            posted = await self._post(channel, thread, blocks)
        except Exception:
            log.exception("answering a message in %s failed", channel)
            posted = False
        if not posted:
            await self._apologise(channel, thread)
        if reacted is not None:
            await self._call(
                "reactions_remove", quiet=True, channel=channel, timestamp=react_to, name="eyes"
            )

    # -- slash commands ---------------------------------------------------------------

    async def _on_command(
        self,
        command: dict[str, Any],
        ack: Callable[..., Awaitable[None]],
        respond: Callable[..., Awaitable[Any]],
    ) -> None:
        name = command.get("command", "")
        text = (command.get("text") or "").strip()
        if name in USAGE and not text:
            await ack(text=USAGE[name])
            return
        await ack()
        await self._tracked(self._command(name, text, command, respond))

    async def _command(
        self, name: str, text: str, command: dict[str, Any], respond: Callable[..., Any]
    ) -> None:
        try:
            blocks = await self._command_blocks(name, text, command)
        except Exception:
            log.exception("%s failed", name)
            blocks = render.plain(APOLOGY)
        await self._reply(respond, blocks)

    async def _command_blocks(self, name: str, text: str, command: dict[str, Any]) -> Blocks:
        user = command.get("user_id", "")
        channel = command.get("channel_id", "")
        if name == "/ask":
            if not self.limiter.allow(user):
                return render.plain(RATE_NOTE.format(n=self.limiter.per_minute))
            answer = await self.answers.ask(text)
            answer_id = self.state.record(answer, platform=PLATFORM, channel=channel, user=user)
            return render.render_answer(
                answer, answer_id=answer_id if answer.answered else None, share=True
            )
        if name == "/search":
            return render.render_search(await self.answers.search(text))
        if name == "/source":
            return render.render_source(await self.answers.source(text), text)
        if name in ("/add", "/feeds", "/sources"):
            if self.admin is None:
                return render.plain("Adding articles is not set up on this bot.")
            reply = await self._compute(self.admin.handle, name, user, text)
            return render.plain(reply.text)
        desk = self.digest
        if desk is None:
            return render.plain("The digest is not set up on this bot.")
        if text:
            return render.plain(await self._compute(desk.command, channel, text, user))
        return render.render_digest(await self._compute(desk.preview, channel))

    # -- digests -----------------------------------------------------------------------

    async def post_due_digests(self) -> int:
        """Post every digest that is due; failures are retried later, never raised."""
        if self.digest is None:
            return 0
        desk = self.digest
        posted = 0
        for sub, slot, digest in await self._compute(desk.pending):
            fallback, blocks = render.render_digest(digest)
            sent = await self._call(
                "chat_postMessage",
                channel=sub.channel,
                text=fallback,
                blocks=blocks,
                unfurl_links=False,
            )
            if sent is None:
                desk.failed(sub, slot, RuntimeError("chat.postMessage failed"))
                continue
            desk.posted(sub, slot, digest)
            posted += 1
        return posted

    async def digest_loop(self, interval: float = 30.0) -> None:
        """Check for due digests every ``interval`` seconds until cancelled."""
        while True:
            try:
                await self.post_due_digests()
            except Exception:
                log.exception("the digest check failed")
            await asyncio.sleep(interval)

    # -- buttons -----------------------------------------------------------------------

    def _record_from(self, body: dict[str, Any]) -> Any:
        try:
            answer_id = int(json.loads(body["actions"][0]["value"])["answer"])
        except (KeyError, IndexError, ValueError, TypeError):
            return None
        return self.state.answer(answer_id)

    async def _on_share(
        self, ack: Callable[..., Awaitable[None]], body: dict[str, Any], respond: Callable[..., Any]
    ) -> None:
        await ack()
        await self._tracked(self._share(body, respond))

    async def _share(self, body: dict[str, Any], respond: Callable[..., Any]) -> None:
        async def build() -> tuple[str, Blocks] | None:
            record = self._record_from(body)
            if record is None:
                return None
            answer = await self.answers.ask(record.question)
            channel = (body.get("channel") or {}).get("id") or record.channel
            answer_id = self.state.record(
                answer, platform=PLATFORM, channel=channel, user=record.user_id
            )
            return channel, render.render_answer(
                answer, answer_id=answer_id, asked_by=record.user_id
            )

        built = await build()
        if built is None:
            await self._reply(respond, render.plain("That answer is no longer available."))
            return
        channel, blocks = built
        if await self._post(channel, None, blocks):
            await self._respond(respond, delete_original=True)
        else:
            await self._reply(respond, render.plain(APOLOGY))

    async def _on_feedback(
        self, ack: Callable[..., Awaitable[None]], body: dict[str, Any], respond: Callable[..., Any]
    ) -> None:
        await ack()

        def vote() -> str | None:
            record = self._record_from(body)
            if record is None:
                return None
            helpful = body["actions"][0]["action_id"] == "feedback_helpful"
            self.state.record_feedback(record.id, (body.get("user") or {}).get("id", ""), helpful)
            return "Thanks, glad it helped." if helpful else "Thanks, noted for review."

        note = vote()
        if note is not None:
            await self._respond(
                respond, text=note, response_type="ephemeral", replace_original=False
            )

    async def _on_more(
        self, ack: Callable[..., Awaitable[None]], body: dict[str, Any], respond: Callable[..., Any]
    ) -> None:
        await ack()
        await self._tracked(self._more(body, respond))

    async def _more(self, body: dict[str, Any], respond: Callable[..., Any]) -> None:
        async def build() -> tuple[Any, Blocks] | None:
            record = self._record_from(body)
            if record is None:
                return None
            answer = await self.answers.ask(
                record.question, context=record.context, offset=record.shown
            )
            self.state.set_shown(record.id, record.shown + len(answer.citations))
            return record, render.render_answer(answer, answer_id=record.id)

        built = await build()
        if built is None:
            return
        record, blocks = built
        message = body.get("message") or {}
        container = body.get("container") or {}
        if container.get("is_ephemeral") or not message:
            await self._reply(respond, blocks)
            return
        channel = (body.get("channel") or {}).get("id") or record.channel
        thread = message.get("thread_ts") or message.get("ts")
        if not await self._post(channel, thread, blocks):
            await self._apologise(channel, thread)
