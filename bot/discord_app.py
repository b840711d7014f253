"""The Discord adapter: discord.py events and application commands in, embeds out.


With ``bot.discord_commands`` (slash commands and buttons) and ``bot.discord_ui`` the only
modules that import discord.  It translates messages, slash commands and button clicks
into calls of the core, and sends what ``bot.render.discord`` renders, always with
mentions disabled.  Answering runs in a worker thread so the gateway's heartbeat is never
held up by a search; every send has a deadline (``GuardedSends``).
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
from bot.core import Core
from bot.digest import DigestDesk
from bot.discord_commands import APOLOGY, PLATFORM, RATE_NOTE, DiscordCommands
from bot.discord_ui import (
    APOLOGY_SECONDS,
    NO_MENTIONS,
    SEND_SECONDS,
    AnswerButton,
    answer_message,
    invite_url,
    to_embeds,
)
from bot.feeds import feed_task
from bot.rate_limit import RateLimiter
from bot.render import discord as render
from bot.settings import MissingSecret, SettingsError, secret
from bot.state import State

log = logging.getLogger(__name__)

DM_CONTEXT_SECONDS = 15 * 60


class CitebotClient(DiscordCommands, discord.Client):
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
            sent = await self._deliver(
                "an answer",
                message.reply(**answer_message(answer, answer_id), mention_author=False),
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

    # -- digests ----------------------------------------------------------------------------

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
