"""The Slack adapter: slack-bolt events and commands in, the core's answers out as Block Kit.

The only module that imports slack_bolt / slack_sdk.  It translates Slack's events into
calls of the core (``Core``, ``State``) and posts what ``bot.render.slack`` renders.
Every event and command is acknowledged at once; the answer follows the ack.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from slack_bolt import App, BoltResponse
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)

from bot.answer import Answer
from bot.core import Core
from bot.digest import DigestDesk
from bot.render import slack as render
from bot.settings import MissingSecret, secret
from bot.state import RateLimiter, State

log = logging.getLogger(__name__)

PLATFORM = "slack"
DM_CONTEXT_SECONDS = 15 * 60
APOLOGY = "Sorry, something went wrong while answering. It has been logged; please try again."
RATE_NOTE = "You're asking faster than I can keep up ({n} a minute). Please wait a moment."
USAGE = {
    "/ask": "Usage: `/ask QUESTION`, e.g. `/ask Who leads TBD Lab?`",
    "/search": "Usage: `/search WORDS`, e.g. `/search Qwen distillation`",
    "/source": "Usage: `/source ARTICLE[#PARAGRAPH]`, e.g. `/source 003_995cb40eb3369109#16`",
}


def web_client(token: str, base_url: str | None = None) -> WebClient:
    """A WebClient that waits out HTTP 429 (``Retry-After``) and retries dropped connections."""
    client = WebClient(token=token, base_url=base_url or WebClient.BASE_URL)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=3))
    client.retry_handlers.append(ConnectionErrorRetryHandler(max_retry_count=2))
    return client


class SlackBot:
    """A Bolt ``App`` wired to the core; ``app`` can be served over HTTP or Socket Mode."""

    def __init__(
        self,
        core: Core,
        state: State,
        client: WebClient,
        *,
        signing_secret: str = "",
        digest: DigestDesk | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.core = core
        self.state = state
        self.client = client
        self.clock = clock
        self.limiter = RateLimiter(core.settings.rate_limit)
        self.digest = digest
        self.app = App(
            client=client,
            signing_secret=signing_secret,
            request_verification_enabled=bool(signing_secret),
            logger=logging.getLogger("slack_bolt"),
        )
        self.bot_user_id = self._bot_user_id()
        self._register()

    def _bot_user_id(self) -> str:
        try:
            return str(self.client.auth_test().get("user_id") or "")
        except SlackApiError as exc:
            log.warning("auth.test failed: %s", exc.response.get("error"))
            return ""

    # -- wiring ----------------------------------------------------------------------

    def _register(self) -> None:
        app = self.app
        app.middleware(self._drop_retried_events)
        app.event("app_mention")(self._on_mention)
        app.event("message")(self._on_message)
        for name in ("/ask", "/search", "/source", "/digest"):
            app.command(name)(self._on_command)
        app.action("share_answer")(self._on_share)
        app.action("feedback_helpful")(self._on_feedback)
        app.action("feedback_unhelpful")(self._on_feedback)
        app.action("more_passages")(self._on_more)

    def _drop_retried_events(self, body: dict[str, Any], next: Callable[[], None]) -> Any:
        """Slack re-sends an event it thinks we missed; answer each event id once."""
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not self.state.first_time(PLATFORM, str(event_id)):
            log.info("dropping repeated delivery of %s", event_id)
            return BoltResponse(status=200, body="")
        next()
        return None

    # -- events ----------------------------------------------------------------------

    def _on_mention(self, event: dict[str, Any], ack: Callable[..., None]) -> None:
        ack()
        if self._from_a_bot(event):
            return
        thread = event.get("thread_ts") or event["ts"]
        self.answer_message(
            event["channel"], thread, event.get("user", ""), event["text"], react_to=event["ts"]
        )

    def _on_message(self, event: dict[str, Any], ack: Callable[..., None]) -> None:
        ack()
        if self._from_a_bot(event) or event.get("subtype"):
            return  # edits, joins, bots (itself included): never answered
        text = event.get("text") or ""
        channel = event["channel"]
        user = event.get("user", "")
        if event.get("channel_type") == "im":
            self.answer_message(channel, None, user, text, react_to=event["ts"])
            return
        if self.bot_user_id and f"<@{self.bot_user_id}" in text:
            return  # a mention: app_mention answers it
        thread = event.get("thread_ts")
        if thread and self.state.is_bot_thread(PLATFORM, channel, thread):
            self.answer_message(channel, thread, user, text, react_to=event["ts"])
        elif channel in self.core.settings.answer_channels and text.rstrip().endswith("?"):
            self.answer_message(channel, event["ts"], user, text, react_to=event["ts"])

    def _from_a_bot(self, event: dict[str, Any]) -> bool:
        return bool(
            event.get("bot_id")
            or event.get("subtype") == "bot_message"
            or (self.bot_user_id and event.get("user") == self.bot_user_id)
        )

    def _previous_question(self, channel: str, thread: str | None) -> str:
        record = self.state.thread_question(PLATFORM, channel, thread or "")
        if record is None:
            return ""
        if thread is None and self.clock() - record.created_at > DM_CONTEXT_SECONDS:
            return ""
        return record.question

    def answer_message(
        self, channel: str, thread: str | None, user: str, text: str, *, react_to: str
    ) -> None:
        """Answer in the thread (or DM), with a reaction while working; never raises."""
        if not self.limiter.allow(user):
            self._ephemeral(channel, user, RATE_NOTE.format(n=self.limiter.per_minute), thread)
            return
        reacted = self._react("reactions_add", channel, react_to)
        try:
            previous = self._previous_question(channel, thread)
            answer = self.core.follow_up(text, previous)
            answer_id = self._record(answer, channel, thread or "", user)
            fallback, blocks = render.render_answer(
                answer, answer_id=answer_id if answer.answered else None
            )
            self.client.chat_postMessage(
                channel=channel,
                thread_ts=thread,
                text=fallback,
                blocks=blocks,
                unfurl_links=False,
                unfurl_media=False,
            )
        except Exception:
            log.exception("answering a message in %s failed", channel)
            self._apologise(channel, thread)
        finally:
            if reacted:
                self._react("reactions_remove", channel, react_to)

    def _record(self, answer: Answer, channel: str, thread: str, user: str) -> int:
        return self.state.record(
            answer, platform=PLATFORM, channel=channel, thread=thread, user=user
        )

    def _react(self, method: str, channel: str, ts: str) -> bool:
        try:
            getattr(self.client, method)(channel=channel, timestamp=ts, name="eyes")
            return True
        except SlackApiError as exc:  # missing scope, already reacted: not worth failing on
            log.debug("%s failed: %s", method, exc.response.get("error"))
            return False

    def _ephemeral(self, channel: str, user: str, text: str, thread: str | None = None) -> None:
        fallback, blocks = render.plain(text)
        try:
            self.client.chat_postEphemeral(
                channel=channel, user=user, text=fallback, blocks=blocks, thread_ts=thread
            )
        except SlackApiError as exc:
            log.warning("could not post an ephemeral note: %s", exc.response.get("error"))

    def _apologise(self, channel: str, thread: str | None) -> None:
        try:
            self.client.chat_postMessage(channel=channel, thread_ts=thread, text=APOLOGY)
        except Exception:
            log.exception("could not even post the apology in %s", channel)

    # -- slash commands ---------------------------------------------------------------

    def _on_command(
        self, command: dict[str, Any], ack: Callable[..., None], respond: Callable[..., None]
    ) -> None:
        name = command["command"]
        text = (command.get("text") or "").strip()
        user = command.get("user_id", "")
        if name != "/digest" and not text:
            ack(text=USAGE[name])
            return
        ack()
        try:
            if name == "/ask":
                if not self.limiter.allow(user):
                    respond(
                        text=RATE_NOTE.format(n=self.limiter.per_minute), response_type="ephemeral"
                    )
                    return
                answer = self.core.ask(text)
                answer_id = self._record(answer, command.get("channel_id", ""), "", user)
                fallback, blocks = render.render_answer(
                    answer, answer_id=answer_id if answer.answered else None, share=True
                )
            elif name == "/search":
                fallback, blocks = render.render_search(self.core.answerer.search(text))
            elif name == "/source":
                fallback, blocks = render.render_source(self.core.answerer.source(text), text)
            else:
                fallback, blocks = self._digest(text, command)
            respond(text=fallback, blocks=blocks, response_type="ephemeral")
        except Exception:
            log.exception("%s failed", name)
            respond(text=APOLOGY, response_type="ephemeral")

    def _digest(self, text: str, command: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        channel = command.get("channel_id", "")
        if self.digest is None:
            return render.plain("The digest is not set up on this bot.")
        if text:
            return render.plain(self.digest.command(channel, text, command.get("user_id", "")))
        return render.render_digest(self.digest.preview(channel))

    def post_due_digests(self) -> int:
        """Post every digest that is due; failures are retried later, never raised."""
        if self.digest is None:
            return 0
        posted = 0
        for sub, slot, digest in self.digest.pending():
            fallback, blocks = render.render_digest(digest)
            try:
                self.client.chat_postMessage(
                    channel=sub.channel, text=fallback, blocks=blocks, unfurl_links=False
                )
            except Exception as exc:  # SlackApiError, connection trouble
                self.digest.failed(sub, slot, exc)
                continue
            self.digest.posted(sub, slot, digest)
            posted += 1
        return posted

    def digest_loop(self, interval: float = 30.0) -> None:
        """Check for due digests every ``interval`` seconds, for ever (a daemon thread)."""
        while True:
            try:
                self.post_due_digests()
            except Exception:
                log.exception("the digest check failed")
            time.sleep(interval)

    # -- buttons -----------------------------------------------------------------------

    def _record_from(self, body: dict[str, Any]) -> Any:
        try:
            answer_id = int(json.loads(body["actions"][0]["value"])["answer"])
        except (KeyError, IndexError, ValueError, TypeError):
            return None
        return self.state.answer(answer_id)

    def _on_share(
        self, ack: Callable[..., None], body: dict[str, Any], respond: Callable[..., None]
    ) -> None:
        ack()
        record = self._record_from(body)
        if record is None:
            respond(
                text="That answer is no longer available.",
                response_type="ephemeral",
                replace_original=False,
            )
            return
        answer = self.core.ask(record.question)
        channel = body.get("channel", {}).get("id") or record.channel
        answer_id = self._record(answer, channel, "", record.user_id)
        fallback, blocks = render.render_answer(
            answer, answer_id=answer_id, asked_by=record.user_id
        )
        try:
            self.client.chat_postMessage(
                channel=channel, text=fallback, blocks=blocks, unfurl_links=False
            )
            respond(delete_original=True)
        except Exception:
            log.exception("sharing an answer in %s failed", channel)
            respond(text=APOLOGY, response_type="ephemeral", replace_original=False)

    def _on_feedback(
        self, ack: Callable[..., None], body: dict[str, Any], respond: Callable[..., None]
    ) -> None:
        ack()
        record = self._record_from(body)
        if record is None:
            return
        helpful = body["actions"][0]["action_id"] == "feedback_helpful"
        self.state.record_feedback(record.id, body.get("user", {}).get("id", ""), helpful)
        note = "Thanks, glad it helped." if helpful else "Thanks, noted for review."
        respond(text=note, response_type="ephemeral", replace_original=False)

    def _on_more(
        self, ack: Callable[..., None], body: dict[str, Any], respond: Callable[..., None]
    ) -> None:
        ack()
        record = self._record_from(body)
        if record is None:
            return
        answer = self.core.ask(record.question, context=record.context, offset=record.shown)
        self.state.set_shown(record.id, record.shown + len(answer.citations))
        fallback, blocks = render.render_answer(answer, answer_id=record.id)
        message = body.get("message") or {}
        container = body.get("container") or {}
        channel = body.get("channel", {}).get("id") or record.channel
        if container.get("is_ephemeral") or not message:
            respond(text=fallback, blocks=blocks, response_type="ephemeral", replace_original=False)
            return
        thread = message.get("thread_ts") or message.get("ts")
        try:
            self.client.chat_postMessage(
                channel=channel, thread_ts=thread, text=fallback, blocks=blocks, unfurl_links=False
            )
        except Exception:
            log.exception("posting more passages in %s failed", channel)
            self._apologise(channel, thread)


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib name)
        log.debug("http: " + format, *args)


def serve_http(bot: SlackBot, host: str, port: int) -> WSGIServer:
    """A threaded WSGI server for Slack's HTTP events at ``/slack/events``."""
    server = make_server(
        host,
        port,
        SlackRequestHandler(bot.app),
        server_class=_ThreadingWSGIServer,
        handler_class=_QuietHandler,
    )
    return server


def socket_mode_handler(bot: SlackBot, app_token: str) -> SocketModeHandler:
    """Socket Mode through the same Web API base URL as the bot's client."""
    opener = WebClient(base_url=bot.client.base_url)
    opener.retry_handlers.extend(bot.client.retry_handlers)
    return SocketModeHandler(bot.app, app_token, web_client=opener)


def slack_tokens(http: bool) -> tuple[str, str]:
    """(bot token, app token or signing secret); a missing one names its variable."""
    bot_token = secret("SLACK_BOT_TOKEN")
    other = secret("SLACK_SIGNING_SECRET" if http else "SLACK_APP_TOKEN")
    return bot_token, other


def run(
    core: Core,
    state: State,
    *,
    http: bool,
    host: str = "0.0.0.0",
    port: int = 3000,
    base_url: str | None = None,
) -> None:
    """Run until interrupted: Socket Mode by default, HTTP events with ``http``; digests
    are checked for in a background thread."""
    bot_token, other = slack_tokens(http)
    client = web_client(bot_token, base_url)
    try:
        client.auth_test()
    except SlackApiError as exc:
        raise MissingSecret(
            f"SLACK_BOT_TOKEN was refused by Slack ({exc.response.get('error')})"
        ) from None
    except OSError as exc:
        raise ConnectionError(f"cannot reach Slack's Web API: {exc}") from None
    digest = DigestDesk(core, state, PLATFORM)
    bot = SlackBot(core, state, client, signing_secret=other if http else "", digest=digest)
    threading.Thread(target=bot.digest_loop, daemon=True, name="digest").start()
    if http:
        server = serve_http(bot, host, port)
        log.info("serving Slack events on http://%s:%d/slack/events", host, port)
        server.serve_forever()
    else:
        log.info("connecting to Slack in Socket Mode")
        socket_mode_handler(bot, other).start()
