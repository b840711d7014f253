"""The Discord adapter: discord.py events and application commands in, embeds out.

With ``bot.discord_ui`` the only modules that import discord.  It translates messages,
slash commands and button clicks into calls of the core, and sends what
``bot.render.discord`` renders, always with mentions disabled.  Answering runs in a
worker thread so the gateway's heartbeat is never held up by a search; every send has a
deadline (``GuardedSends``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import discord
from discord import app_commands

from bot.admin_commands import ChatAdmin
from bot.answer import Answer
from bot.core import Core
from bot.digest import DigestDesk
from bot.discord_ui import (
    APOLOGY_SECONDS,
    NO_MENTIONS,
    SEND_SECONDS,
    AnswerButton,
    GuardedSends,
    answer_view,
    invite_url,
    to_embeds,
)
from bot.feeds import feed_task
from bot.render import discord as render
from bot.settings import MissingSecret, SettingsError, secret
from bot.state import AnswerRecord, RateLimiter, State

log = logging.getLogger(__name__)

PLATFORM = "discord"
DM_CONTEXT_SECONDS = 15 * 60
APOLOGY = "Sorry, something went wrong while answering. It has been logged; please try again."
RATE_NOTE = "You're asking faster than I can keep up ({n} a minute). Please wait a moment."


class CitebotClient(GuardedSends, discord.Client):
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
        send_seconds: float = SEND_SECONDS,
        admin: ChatAdmin | None = None,
        feed_tick: float = 60.0,
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
        self.send_seconds = send_seconds
        self.apology_seconds = min(APOLOGY_SECONDS, send_seconds)
        self.limiter = RateLimiter(core.settings.rate_limit)
        self.admin = admin
        self.feed_tick = feed_tick
        self.tree = app_commands.CommandTree(self)
        self._register_commands()

    async def setup_hook(self) -> None:
        self.add_dynamic_items(AnswerButton)
        if self.digest is not None and self.digest_interval > 0:
            self.loop.create_task(self._digest_loop())
        if self.admin is not None and self.feed_tick > 0:
            self.loop.create_task(feed_task(self.admin.feeds, self.feed_tick))
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
        if not self.state.first_time(PLATFORM, f"message:{message.id}"):
            log.info("dropping a replayed message %s", message.id)  # after a RESUME
            return
        user = str(message.author.id)
        if not self.limiter.allow(user):
            await self._deliver(
                "the rate note",
                message.reply(
                    RATE_NOTE.format(n=self.limiter.per_minute),
                    mention_author=False,
                    delete_after=20,
                ),
            )
            return
        typing = asyncio.ensure_future(self._typing(message.channel))
        try:
            answer = await asyncio.to_thread(self.core.follow_up, message.content, previous)
            answer_id = self._record(answer, str(message.channel.id), "", user)
            content, embeds = render.render_answer(answer)
            sent = await self._deliver(
                "an answer",
                message.reply(
                    content=content or None,
                    embeds=to_embeds(embeds),
                    view=answer_view(answer_id) if answer.answered else discord.utils.MISSING,
                    mention_author=False,
                    allowed_mentions=NO_MENTIONS,
                ),
            )
            if sent is not None:
                self.state.set_thread(answer_id, str(sent.id))
        except Exception:
            log.exception("answering a message in %s failed", message.channel.id)
            sent = None
        finally:
            typing.cancel()
        if sent is None:
            await self._deliver(
                "an apology",
                message.reply(APOLOGY, mention_author=False, allowed_mentions=NO_MENTIONS),
                self.apology_seconds,
            )

    async def _typing(self, channel: discord.abc.Messageable) -> None:
        """Shows "typing..." while answering; best effort: a failure costs only that."""
        with contextlib.suppress(Exception):
            async with channel.typing():
                await asyncio.Event().wait()

    def _trigger(self, message: discord.Message) -> str | None:
        """The earlier question to read this message with ("" for none), or None to stay
        quiet: answer DMs, mentions, replies to our answers and opted-in channels only."""
        channel = str(message.channel.id)
        reference = message.reference
        if reference is not None and reference.message_id is not None:
            record = self.state.thread_question(PLATFORM, channel, str(reference.message_id))
            if record is not None:
                return record.question
        if message.guild is None:  # a DM: the conversation's latest question, if recent
            record = self.state.channel_question(PLATFORM, channel)
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
            content, embeds = render.render_answer(answer)
            sent = await self._deliver(
                "an answer",
                interaction.followup.send(
                    content=content or discord.utils.MISSING,
                    embeds=to_embeds(embeds),
                    view=answer_view(answer_id) if answer.answered else discord.utils.MISSING,
                    allowed_mentions=NO_MENTIONS,
                    wait=True,
                ),
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
                await asyncio.wait_for(
                    channel.send(
                        content=content or None,
                        embeds=to_embeds(embeds),
                        allowed_mentions=NO_MENTIONS,
                    ),
                    self.send_seconds,
                )
            except (
                discord.DiscordException,
                aiohttp.ClientError,
                OSError,
                TimeoutError,
                ValueError,
                TypeError,
            ) as exc:
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
            content, embeds = render.render_answer(answer)
            sent = await self._try(
                "more passages",
                interaction.followup.send(
                    content=content or discord.utils.MISSING,
                    embeds=to_embeds(embeds),
                    view=answer_view(record.id) if answer.answered else discord.utils.MISSING,
                    allowed_mentions=NO_MENTIONS,
                ),
            )
        except Exception:
            log.exception("more passages failed")
        if not sent:
            await self._apologise(interaction)


def guild_ids_from_env(value: str) -> list[int]:
    try:
        return [int(x) for x in value.replace(" ", "").split(",") if x]
    except ValueError:
        raise SettingsError(
            f"DISCORD_GUILD_IDS: expected comma-separated server ids, got {value!r}"
        ) from None


def run(core: Core, state: State, *, guild_ids: list[int]) -> None:
    """Run until interrupted; reconnecting is discord.py's job.  Failures to start are one
    line each (a refused token, a refused intent, Discord out of reach)."""
    token = secret("DISCORD_TOKEN")
    digest = DigestDesk(core, state, PLATFORM)
    admin = ChatAdmin(core, state, platform=PLATFORM)
    client = CitebotClient(core, state, guild_ids=guild_ids, digest=digest, admin=admin)
    try:
        client.run(token, log_handler=None)
    except discord.LoginFailure:
        raise MissingSecret("DISCORD_TOKEN was refused by Discord (invalid token)") from None
    except discord.PrivilegedIntentsRequired:
        raise SettingsError(
            "Discord refused the Message Content intent: enable it under Bot -> Privileged "
            "Gateway Intents in the developer portal"
        ) from None
    except (aiohttp.ClientError, OSError, discord.GatewayNotFound) as exc:
        raise ConnectionError(f"cannot reach Discord: {exc or type(exc).__name__}") from None
    except discord.HTTPException as exc:
        raise ConnectionError(f"Discord refused to start the bot: HTTP {exc.status}") from None
