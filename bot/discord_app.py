"""The Discord adapter: discord.py events and application commands in, embeds out.

The only module that imports discord.  It translates messages, slash commands and
button clicks into calls of the core, and sends what ``bot.render.discord`` renders,
always with mentions disabled.  Answering runs in a worker thread so the gateway's
heartbeat is never held up by a search.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from typing import Any

import discord
from discord import app_commands

from bot.answer import Answer
from bot.core import Core
from bot.digest import DigestDesk
from bot.render import discord as render
from bot.settings import MissingSecret, SettingsError, secret
from bot.state import AnswerRecord, RateLimiter, State

log = logging.getLogger(__name__)

PLATFORM = "discord"
DM_CONTEXT_SECONDS = 15 * 60
APOLOGY = "Sorry, something went wrong while answering. It has been logged; please try again."
RATE_NOTE = "You're asking faster than I can keep up ({n} a minute). Please wait a moment."
NO_MENTIONS = discord.AllowedMentions.none()
PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    embed_links=True,
    read_message_history=True,
)


def _embeds(embeds: list[dict[str, Any]]) -> list[discord.Embed]:
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
        client = interaction.client
        if isinstance(client, CitebotClient):
            await client.on_button(interaction, self.action, self.answer_id)


def answer_view(answer_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for action in ("helpful", "unhelpful", "more"):
        view.add_item(AnswerButton(action, answer_id))
    return view


class CitebotClient(discord.Client):
    def __init__(
        self,
        core: Core,
        state: State,
        *,
        guild_ids: list[int] | None = None,
        sync_commands: bool = True,
        digest: DigestDesk | None = None,
        digest_interval: float = 30.0,
        clock: Callable[[], float] = time.time,
        **options: Any,
    ) -> None:
        intents = discord.Intents.default()
        intents.message_content = True
        super().__init__(intents=intents, allowed_mentions=NO_MENTIONS, **options)
        self.core = core
        self.state = state
        self.guild_ids = guild_ids or []
        self.sync_commands = sync_commands
        self.digest = digest
        self.digest_interval = digest_interval
        self.clock = clock
        self.limiter = RateLimiter(core.settings.rate_limit)
        self.tree = app_commands.CommandTree(self)
        self._register_commands()

    async def setup_hook(self) -> None:
        self.add_dynamic_items(AnswerButton)
        if self.digest is not None and self.digest_interval > 0:
            self.loop.create_task(self._digest_loop())
        if not self.sync_commands:
            return
        if self.guild_ids:  # test servers: commands show up at once
            for guild_id in self.guild_ids:
                guild = discord.Object(id=guild_id)
                self.tree.copy_global_to(guild=guild)
                await self.tree.sync(guild=guild)
        else:
            await self.tree.sync()

    async def on_ready(self) -> None:
        if self.user is not None and self.application_id:
            log.info("logged in as %s; invite: %s", self.user, invite_url(self.application_id))

    # -- messages ---------------------------------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot:
            return  # other bots, and itself
        previous = self._trigger(message)
        if previous is None:
            return
        user = str(message.author.id)
        if not self.limiter.allow(user):
            await message.reply(
                RATE_NOTE.format(n=self.limiter.per_minute), mention_author=False, delete_after=20
            )
            return
        try:
            async with message.channel.typing():
                answer = await asyncio.to_thread(self.core.follow_up, message.content, previous)
                answer_id = self._record(answer, str(message.channel.id), "", user)
                content, embeds = render.render_answer(answer)
                sent = await message.reply(
                    content=content or None,
                    embeds=_embeds(embeds),
                    view=answer_view(answer_id) if answer.answered else discord.utils.MISSING,
                    mention_author=False,
                    allowed_mentions=NO_MENTIONS,
                )
                self.state.set_thread(answer_id, str(sent.id))
        except Exception:
            log.exception("answering a message in %s failed", message.channel.id)
            try:
                await message.reply(APOLOGY, mention_author=False)
            except discord.HTTPException:
                log.exception("could not even post the apology")

    def _trigger(self, message: discord.Message) -> str | None:
        """The earlier question to read this message with ("" for none), or None to stay
        quiet: answer DMs, mentions, replies to our answers and opted-in channels only."""
        channel = str(message.channel.id)
        reference = message.reference
        if reference is not None and reference.message_id is not None:
            record = self.state.thread_question(PLATFORM, channel, str(reference.message_id))
            if record is not None:
                return record.question
        if message.guild is None:
            record = self.state.thread_question(PLATFORM, channel, "")
            recent = record is not None and self.clock() - record.created_at < DM_CONTEXT_SECONDS
            return record.question if recent and record else ""
        if self.user is not None and self.user in message.mentions:
            return ""
        if channel in self.core.settings.answer_channels and message.content.rstrip().endswith("?"):
            return ""
        return None

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
            await interaction.response.send_message(
                RATE_NOTE.format(n=self.limiter.per_minute), ephemeral=True
            )
            return
        await interaction.response.defer(thinking=True)
        try:
            answer = await asyncio.to_thread(self.core.ask, question)
            answer_id = self._record(
                answer, str(interaction.channel_id), "", str(interaction.user.id)
            )
            content, embeds = render.render_answer(answer)
            sent = await interaction.followup.send(
                content=content or discord.utils.MISSING,
                embeds=_embeds(embeds),
                view=answer_view(answer_id) if answer.answered else discord.utils.MISSING,
                allowed_mentions=NO_MENTIONS,
                wait=True,
            )
            self.state.set_thread(answer_id, str(sent.id))
        except Exception:
            log.exception("/ask failed")
            await interaction.followup.send(APOLOGY, ephemeral=True)

    async def _private(
        self,
        interaction: discord.Interaction[Any],
        build: Callable[[], tuple[str, list[dict[str, Any]]]],
    ) -> None:
        """Defer privately, build the reply in a worker thread, send it only to the asker."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            content, embeds = await asyncio.to_thread(build)
            await interaction.followup.send(
                content=content or discord.utils.MISSING,
                embeds=_embeds(embeds),
                ephemeral=True,
                allowed_mentions=NO_MENTIONS,
            )
        except Exception:
            log.exception("a command failed")
            await interaction.followup.send(APOLOGY, ephemeral=True)

    async def command_digest(self, interaction: discord.Interaction[Any], settings: str) -> None:
        channel = str(interaction.channel_id)
        desk = self.digest
        if desk is None:
            await interaction.response.send_message(
                "The digest is not set up on this bot.", ephemeral=True
            )
            return
        if not settings.strip():
            await self._private(interaction, lambda: render.render_digest(desk.preview(channel)))
            return
        permissions = getattr(interaction.user, "guild_permissions", None)
        if interaction.guild is not None and not (permissions and permissions.manage_guild):
            await interaction.response.send_message(
                "Only members who can manage this server can change its digest.", ephemeral=True
            )
            return
        note = desk.command(channel, settings, str(interaction.user.id))
        await interaction.response.send_message(note, ephemeral=True, allowed_mentions=NO_MENTIONS)

    async def post_due_digests(self) -> int:
        """Post every digest that is due; failures are retried later, never raised."""
        if self.digest is None:
            return 0
        posted = 0
        for sub, slot, digest in await asyncio.to_thread(self.digest.pending):
            content, embeds = render.render_digest(digest)
            try:
                channel = self.get_channel(int(sub.channel)) or await self.fetch_channel(
                    int(sub.channel)
                )
                if not isinstance(channel, discord.abc.Messageable):
                    raise TypeError(f"channel {sub.channel} cannot take messages")
                await channel.send(
                    content=content or None, embeds=_embeds(embeds), allowed_mentions=NO_MENTIONS
                )
            except (discord.DiscordException, ValueError, TypeError) as exc:
                self.digest.failed(sub, slot, exc)
                continue
            self.digest.posted(sub, slot, digest)
            posted += 1
        return posted

    async def _digest_loop(self) -> None:
        await self.wait_until_ready()
        while not self.is_closed():
            try:
                await self.post_due_digests()
            except Exception:
                log.exception("the digest check failed")
            await asyncio.sleep(self.digest_interval)

    # -- buttons --------------------------------------------------------------------------

    async def on_button(
        self, interaction: discord.Interaction[Any], action: str, answer_id: int
    ) -> None:
        record: AnswerRecord | None = self.state.answer(answer_id)
        if record is None:
            await interaction.response.send_message(
                "That answer is no longer available.", ephemeral=True
            )
            return
        if action in ("helpful", "unhelpful"):
            helpful = action == "helpful"
            self.state.record_feedback(record.id, str(interaction.user.id), helpful)
            note = "Thanks, glad it helped." if helpful else "Thanks, noted for review."
            await interaction.response.send_message(note, ephemeral=True)
            return
        await interaction.response.defer(thinking=True)
        try:
            answer = await asyncio.to_thread(
                self.core.ask, record.question, context=record.context, offset=record.shown
            )
            self.state.set_shown(record.id, record.shown + len(answer.citations))
            content, embeds = render.render_answer(answer)
            await interaction.followup.send(
                content=content or discord.utils.MISSING,
                embeds=_embeds(embeds),
                view=answer_view(record.id) if answer.answered else discord.utils.MISSING,
                allowed_mentions=NO_MENTIONS,
            )
        except Exception:
            log.exception("more passages failed")
            await interaction.followup.send(APOLOGY, ephemeral=True)


def guild_ids_from_env(value: str) -> list[int]:
    try:
        return [int(x) for x in value.replace(" ", "").split(",") if x]
    except ValueError:
        raise SettingsError(
            f"DISCORD_GUILD_IDS: expected comma-separated server ids, got {value!r}"
        ) from None


def run(core: Core, state: State, *, guild_ids: list[int]) -> None:
    """Run until interrupted; reconnecting is discord.py's job."""
    token = secret("DISCORD_TOKEN")
    digest = DigestDesk(core, state, PLATFORM)
    client = CitebotClient(core, state, guild_ids=guild_ids, digest=digest)
    try:
        client.run(token, log_handler=None)
    except discord.LoginFailure:
        raise MissingSecret("DISCORD_TOKEN was refused by Discord (invalid token)") from None
    except discord.PrivilegedIntentsRequired:
        raise SettingsError(
            "Discord refused the Message Content intent: enable it under Bot -> Privileged "
            "Gateway Intents in the developer portal"
        ) from None
