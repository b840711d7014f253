"""Calls to Slack for the Slack adapter: the Web API client, and every call awaited with
a deadline and every failure handled (Slack API errors, HTTP errors, dropped connections,
timeouts), logged once in one line.  Part of the adapter with ``bot.slack_app``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.render import slack as render

log = logging.getLogger("bot.slack_app")

DELIVERY_SECONDS = 7.0  # an answer's post, 429 back-offs included; the apology gets the rest
APOLOGY_SECONDS = 3.0
APOLOGY = "Sorry, something went wrong while answering. It has been logged; please try again."
_TOKEN_NOTICE = "As you gave `client` as well, `token` will be unused."
Blocks = tuple[str, list[dict[str, Any]]]


def web_client(
    token: str, base_url: str | None = None, session: aiohttp.ClientSession | None = None
) -> AsyncWebClient:
    """An async Web API client that waits out 429s (``Retry-After``, on the event loop)
    and retries a connection that could not be opened (never one that may have been
    delivered: that would post twice)."""
    return AsyncWebClient(
        token=token,
        base_url=base_url or AsyncWebClient.BASE_URL,
        session=session,
        timeout=int(DELIVERY_SECONDS),
        retry_handlers=[  # in place of slack_sdk's defaults, which retry a dropped connection
            AsyncRateLimitErrorRetryHandler(max_retry_count=10),  # the deadline bounds it
            AsyncConnectionErrorRetryHandler(
                max_retry_count=2, error_types=[aiohttp.ClientConnectorError]
            ),
        ],
    )


class DropTokenNotice(logging.Filter):
    """Bolt warns at every start that the token in the environment is unused because the
    client carries it: true and intended (the client holds the Web API URL)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != _TOKEN_NOTICE


class SlackCalls:
    """What the bot needs to call Slack safely; ``client`` and the deadlines are set by
    ``SlackBot``."""

    client: AsyncWebClient
    delivery_seconds: float = DELIVERY_SECONDS
    apology_seconds: float = APOLOGY_SECONDS

    async def _call(
        self, method: str, *, seconds: float | None = None, quiet: bool = False, **kw: Any
    ) -> dict[str, Any] | None:
        """A Web API call with a deadline; None (logged once) on any failure."""
        seconds = seconds or self.delivery_seconds
        name = method.replace("_", ".", 1)  # chat_postMessage -> chat.postMessage
        level = logging.DEBUG if quiet else logging.WARNING
        try:
            response = await asyncio.wait_for(getattr(self.client, method)(**kw), seconds)
            return dict(response.data) if isinstance(response.data, dict) else {}
        except SlackApiError as exc:
            log.log(level, "Slack %s failed: %s", name, exc.response.get("error"))
        except TimeoutError:
            log.log(level, "Slack %s failed: no answer within %g s", name, seconds)
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            log.log(level, "Slack %s failed: %s", name, str(exc) or type(exc).__name__)
        except Exception:
            log.exception("Slack %s failed", name)
        return None

    async def _respond(
        self, respond: Callable[..., Awaitable[Any]], seconds: float | None = None, **kw: Any
    ) -> bool:
        """Post to the command's response_url with a deadline; False (logged) on failure."""
        seconds = seconds or self.delivery_seconds
        try:
            response = await asyncio.wait_for(respond(**kw), seconds)
        except TimeoutError:
            log.warning("response_url failed: no answer within %g s", seconds)
            return False
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            log.warning("response_url failed: %s", str(exc) or type(exc).__name__)
            return False
        except Exception:
            log.exception("response_url failed")
            return False
        status = getattr(response, "status_code", 200)
        if status >= 400:
            log.warning("response_url failed: HTTP %s", status)
            return False
        return True

    async def _reply(self, respond: Callable[..., Awaitable[Any]], blocks: Blocks) -> None:
        fallback, rendered = blocks
        if not await self._respond(
            respond,
            text=fallback,
            blocks=rendered,
            response_type="ephemeral",
            replace_original=False,
        ):
            await self._respond(
                respond,
                self.apology_seconds,
                text=APOLOGY,
                response_type="ephemeral",
                replace_original=False,
            )

    async def _post(self, channel: str, thread: str | None, blocks: Blocks) -> bool:
        fallback, rendered = blocks
        return (
            await self._call(
                "chat_postMessage",
                channel=channel,
                thread_ts=thread,
                text=fallback,
                blocks=rendered,
                unfurl_links=False,
                unfurl_media=False,
            )
            is not None
        )

    async def _apologise(self, channel: str, thread: str | None) -> None:
        await self._call(
            "chat_postMessage",
            seconds=self.apology_seconds,
            channel=channel,
            thread_ts=thread,
            text=APOLOGY,
        )

    async def _ephemeral(self, channel: str, user: str, text: str, thread: str | None) -> None:
        fallback, blocks = render.plain(text)
        await self._call(
            "chat_postEphemeral",
            channel=channel,
            user=user,
            text=fallback,
            blocks=blocks,
            thread_ts=thread,
        )
