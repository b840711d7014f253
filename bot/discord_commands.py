"""The Discord adapter's interactions: the slash commands and the answer buttons' clicks.

Mixed into ``bot.discord_app.CitebotClient``, which owns the connection, the messages and
the digest loop.  With ``bot.discord_app`` and ``bot.discord_ui`` the only modules that
import discord.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import discord
from discord import app_commands

from bot.admin_commands import ChatAdmin
from bot.answer import Answer
from bot.core import Core
from bot.digest import DigestDesk
from bot.discord_ui import NO_MENTIONS, GuardedSends, answer_message, to_embeds
from bot.rate_limit import RateLimiter
from bot.render import discord as render
from bot.state import AnswerRecord, State

log = logging.getLogger("bot.discord_app")

PLATFORM = "discord"
APOLOGY = "Sorry, something went wrong while answering. It has been logged; please try again."
RATE_NOTE = "You're asking faster than I can keep up ({n} a minute). Please wait a moment."


class DiscordCommands(GuardedSends):
    """Slash commands and button clicks; ``CitebotClient`` sets the attributes below."""

    core: Core
    state: State
    limiter: RateLimiter
    admin: ChatAdmin | None
    digest: DigestDesk | None
    apology_seconds: float
    tree: app_commands.CommandTree[Any]

    def _record(self, answer: Answer, channel: str, thread: str, user: str) -> int:
        return self.state.record(
            answer, platform=PLATFORM, channel=channel, thread=thread, user=user
        )

    # -- application commands ------------------------------------------------------------

    def _register_commands(self) -> None:
        tree = self.tree

        @tree.command(name="ask", description="Answer a question from the articles, cited")
        @app_commands.describe(question="What you want to know")
        async def ask(interaction: discord.Interaction[Any], question: str) -> None:
            await self.command_ask(interaction, question)

        @tree.command(name="search", description="Ranked passages for key words (only you)")
        @app_commands.describe(terms="Key words")
        async def search(interaction: discord.Interaction[Any], terms: str) -> None:
            await self._private(
                interaction, lambda: render.render_search(self.core.answerer.search(terms))
            )

        @tree.command(name="source", description="Show a cited paragraph and its article")
        @app_commands.describe(article="Article id or title", paragraph="Paragraph number")
        async def source(
            interaction: discord.Interaction[Any],
            article: str,
            paragraph: app_commands.Range[int, 1, 100000] | None = None,
        ) -> None:
            reference = f"{article}#{paragraph}" if paragraph else article
            await self._private(
                interaction,
                lambda: render.render_source(self.core.answerer.source(reference), reference),
            )

        @source.autocomplete("article")
        async def source_articles(
            interaction: discord.Interaction[Any], current: str
        ) -> list[app_commands.Choice[str]]:
            return self.article_choices(current)

        @tree.command(name="digest", description="Preview the daily digest, or subscribe")
        @app_commands.describe(
            settings="Optional: 'subscribe 09:00 Europe/Berlin [weekdays]' or 'unsubscribe'"
        )
        async def digest(interaction: discord.Interaction[Any], settings: str = "") -> None:
            await self.command_digest(interaction, settings)

        @tree.command(name="add", description="Add a news article by its web address (admins)")
        @app_commands.describe(url="The article's web address")
        async def add(interaction: discord.Interaction[Any], url: str) -> None:
            await self.command_admin(interaction, "add", url)

        @tree.command(name="feeds", description="Feeds followed; add or remove one (admins)")
        @app_commands.describe(action="Optional: 'add URL [NAME]' or 'remove NAME|URL'")
        async def feeds(interaction: discord.Interaction[Any], action: str = "") -> None:
            await self.command_admin(interaction, "feeds", action)

        @tree.command(name="sources", description="The most recent articles, with dates")
        @app_commands.describe(count="How many (default 10)")
        async def sources(
            interaction: discord.Interaction[Any], count: app_commands.Range[int, 1, 25] = 10
        ) -> None:
            await self.command_admin(interaction, "sources", str(count))

    async def command_admin(
        self, interaction: discord.Interaction[Any], name: str, text: str
    ) -> None:
        """``/add``, ``/feeds``, ``/sources``: plain text, privately; the admin check
        (the ``admins`` setting, or Manage Server here) is ChatAdmin's."""
        admin = self.admin
        if admin is None:
            await self._note(interaction, "Adding articles is not set up on this bot.")
            return
        user = str(interaction.user.id)
        permissions = getattr(interaction.user, "guild_permissions", None)
        manages = interaction.guild is not None and bool(permissions and permissions.manage_guild)
        await self._private(
            interaction,
            lambda: (admin.handle(name, user, text, manages_server=manages).text, []),
        )

    def article_choices(self, current: str) -> list[app_commands.Choice[str]]:
        index = self.core.store.current()
        folded = current.casefold()
        choices = []
        for article in index.articles.values():
            label = (
                f"{article.display_title} ({article.source})"
                if article.source
                else (article.display_title)
            )
            if folded in article.id.casefold() or folded in label.casefold():
                choices.append(app_commands.Choice(name=label[:100], value=article.id[:100]))
        return choices[:25]

    async def command_ask(self, interaction: discord.Interaction[Any], question: str) -> None:
        if not self.limiter.allow(str(interaction.user.id)):
            await self._try(
                "the rate note",
                interaction.response.send_message(
                    RATE_NOTE.format(n=self.limiter.per_minute), ephemeral=True
                ),
            )
            return
        if not await self._try("a deferral", interaction.response.defer(thinking=True)):
            return
        sent = None
        try:
            answer = await asyncio.to_thread(self.core.ask, question)
            answer_id = self._record(
                answer, str(interaction.channel_id), "", str(interaction.user.id)
            )
            sent = await self._deliver(
                "an answer",
                interaction.followup.send(**answer_message(answer, answer_id), wait=True),
            )
            if sent is not None:
                self.state.set_thread(answer_id, str(sent.id))
        except Exception:
            log.exception("/ask failed")
        if sent is None:
            await self._apologise(interaction)

    async def _apologise(self, interaction: discord.Interaction[Any]) -> None:
        await self._try(
            "an apology",
            interaction.followup.send(APOLOGY, ephemeral=True),
            self.apology_seconds,
        )

    async def _private(
        self,
        interaction: discord.Interaction[Any],
        build: Callable[[], tuple[str, list[dict[str, Any]]]],
    ) -> None:
        """Defer privately, build the reply in a worker thread, send it only to the asker."""
        if not await self._try(
            "a deferral", interaction.response.defer(ephemeral=True, thinking=True)
        ):
            return
        sent = False
        try:
            content, embeds = await asyncio.to_thread(build)
            sent = await self._try(
                "a private reply",
                interaction.followup.send(
                    content=content or discord.utils.MISSING,
                    embeds=to_embeds(embeds),
                    ephemeral=True,
                    allowed_mentions=NO_MENTIONS,
                ),
            )
        except Exception:
            log.exception("a command failed")
        if not sent:
            await self._apologise(interaction)

    async def _note(self, interaction: discord.Interaction[Any], text: str) -> None:
        await self._try(
            "a note",
            interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS),
        )

    async def command_digest(self, interaction: discord.Interaction[Any], settings: str) -> None:
        channel = str(interaction.channel_id)
        desk = self.digest
        if desk is None:
            await self._note(interaction, "The digest is not set up on this bot.")
            return
        if not settings.strip():
            await self._private(interaction, lambda: render.render_digest(desk.preview(channel)))
            return
        permissions = getattr(interaction.user, "guild_permissions", None)
        if interaction.guild is not None and not (permissions and permissions.manage_guild):
            await self._note(
                interaction, "Only members who can manage this server can change its digest."
            )
            return
        note = desk.command(channel, settings, str(interaction.user.id))
        await self._note(interaction, note)

    # -- buttons --------------------------------------------------------------------------

    async def on_button(
        self, interaction: discord.Interaction[Any], action: str, answer_id: int
    ) -> None:
        record: AnswerRecord | None = self.state.answer(answer_id)
        if record is None:
            await self._note(interaction, "That answer is no longer available.")
            return
        if action in ("helpful", "unhelpful"):
            helpful = action == "helpful"
            self.state.record_feedback(record.id, str(interaction.user.id), helpful)
            note = "Thanks, glad it helped." if helpful else "Thanks, noted for review."
            await self._note(interaction, note)
            return
        if not await self._try("a deferral", interaction.response.defer(thinking=True)):
            return
        sent = False
        try:
            answer = await asyncio.to_thread(
                self.core.ask, record.question, context=record.context, offset=record.shown
            )
            self.state.set_shown(record.id, record.shown + len(answer.citations))
            sent = await self._try(
                "more passages",
                interaction.followup.send(**answer_message(answer, record.id)),
            )
        except Exception:
            log.exception("more passages failed")
        if not sent:
            await self._apologise(interaction)
