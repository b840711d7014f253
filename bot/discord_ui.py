"""Discord's UI pieces for the adapter: the answer buttons (which outlive restarts), the
embeds, an answer's message, the invite URL, and sends that are bounded in time and never
raise.

Part of the Discord adapter with ``bot.discord_app``: the only modules importing discord.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable
from typing import Any, TypeVar

import aiohttp
import discord

from bot.answer import Answer
from bot.render import discord as render

log = logging.getLogger("bot.discord_app")
T = TypeVar("T")

SEND_SECONDS = 6.0  # discord.py retries a 5xx for ~25 s holding the channel's bucket: cut it
APOLOGY_SECONDS = 3.0
NO_MENTIONS = discord.AllowedMentions.none()
PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    embed_links=True,
    read_message_history=True,
)


def to_embeds(embeds: list[dict[str, Any]]) -> list[discord.Embed]:
    return [discord.Embed.from_dict(e) for e in embeds]


def invite_url(application_id: int) -> str:
    return discord.utils.oauth_url(
        application_id, permissions=PERMISSIONS, scopes=("bot", "applications.commands")
    )


class AnswerButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"citebot:(?P<action>helpful|unhelpful|more):(?P<answer>\d+)",
):
    """Buttons under an answer; the custom id carries the answer, so they outlive restarts."""

    LABELS = {"helpful": "Helpful", "unhelpful": "Not helpful", "more": "More passages"}
    STYLES = {
        "helpful": discord.ButtonStyle.success,
        "unhelpful": discord.ButtonStyle.secondary,
        "more": discord.ButtonStyle.primary,
    }

    def __init__(self, action: str, answer_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=self.LABELS[action],
                style=self.STYLES[action],
                custom_id=f"citebot:{action}:{answer_id}",
            )
        )
        self.action = action
        self.answer_id = answer_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> AnswerButton:
        return cls(match["action"], int(match["answer"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        on_button = getattr(interaction.client, "on_button", None)
        if on_button is not None:  # the CitebotClient
            await on_button(interaction, self.action, self.answer_id)


def answer_view(answer_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for action in ("helpful", "unhelpful", "more"):
        view.add_item(AnswerButton(action, answer_id))
    return view


def answer_message(answer: Answer, answer_id: int) -> dict[str, Any]:
    """The arguments that send an answer, to a message reply or an interaction follow-up
    alike: its embeds, its buttons when it answered, no mentions, and the content only when
    there is some (otherwise each send's own default)."""
    content, embeds = render.render_answer(answer)
    message: dict[str, Any] = {
        "embeds": to_embeds(embeds),
        "view": answer_view(answer_id) if answer.answered else discord.utils.MISSING,
        "allowed_mentions": NO_MENTIONS,
    }
    if content:
        message["content"] = content
    return message


class GuardedSends:
    """Every Discord call awaited with a deadline and every failure caught and logged once:
    the asker gets the answer or an apology, and the bot keeps serving."""

    send_seconds: float = SEND_SECONDS

    async def _deliver(
        self, what: str, call: Awaitable[T], seconds: float | None = None
    ) -> T | None:
        """A Discord call with a deadline; None (logged once) on any failure, so one
        failing channel never holds the next question for discord.py's ~25 s of retries."""
        ok, value = await self._guarded(what, call, seconds)
        return value if ok else None

    async def _try(self, what: str, call: Awaitable[Any], seconds: float | None = None) -> bool:
        """``_deliver`` for calls whose result is not needed: did it get through?"""
        return (await self._guarded(what, call, seconds))[0]

    async def _guarded(
        self, what: str, call: Awaitable[T], seconds: float | None
    ) -> tuple[bool, T | None]:
        seconds = seconds or self.send_seconds
        try:
            return True, await asyncio.wait_for(call, seconds)
        except TimeoutError:
            log.warning("sending %s failed: no answer from Discord within %g s", what, seconds)
        except discord.HTTPException as exc:
            log.warning("sending %s failed: HTTP %s %s", what, exc.status, exc.text[:200])
        except (aiohttp.ClientError, OSError) as exc:
            log.warning("sending %s failed: %s", what, str(exc) or type(exc).__name__)
        except Exception:
            log.exception("sending %s failed", what)
        return False, None
