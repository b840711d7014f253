"""``citebot slack``, ``discord`` and ``digest``: running the chat bots from a terminal, and
printing the digest they post.

Kept apart from ``bot.cli``, which parses the arguments and dispatches to these.  The
adapters are imported only when their command runs, so the other commands never load a
platform library.
"""

from __future__ import annotations

import argparse
import logging
import os
from datetime import UTC, datetime

from bot.core import Core
from bot.render import text as render
from bot.schedule import load_config_subscriptions
from bot.settings import Settings, SettingsError, read_config_tables, redact_in_logs, secret
from bot.state import State


def _serve_logging(settings: Settings, *secrets: str) -> None:
    logging.getLogger().setLevel(settings.log_level)
    redact_in_logs(*secrets)
    logging.getLogger("slack_bolt").setLevel(max(logging.WARNING, logging.getLogger().level))


def _bot_state(core: Core, args: argparse.Namespace, platform: str) -> State:
    """The SQLite state, with the config file's digest subscriptions for ``platform``."""
    state = State(core.settings.database)
    load_config_subscriptions(read_config_tables(args.config), state, platform)
    return state


def cmd_slack(core: Core, args: argparse.Namespace) -> int:
    from bot import slack_server

    slack_server.slack_tokens(args.http)  # a missing token is reported before anything starts
    _serve_logging(core.settings, "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET")
    state = _bot_state(core, args, "slack")
    slack_server.run(
        core,
        state,
        http=args.http,
        host=args.host,
        port=args.port,
        api_url=core.settings.slack_api_url,
    )
    return 0


def _parse_since(text: str) -> float:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise SettingsError(
            f"--since: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM, got {text!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def cmd_digest(core: Core, args: argparse.Namespace) -> int:
    from bot.digest import DigestDesk

    desk = DigestDesk(core, State(core.settings.database), "cli")
    since = _parse_since(args.since) if args.since else None
    print(render.render_digest(desk.build(since=since)))
    return 0


def cmd_discord(core: Core, args: argparse.Namespace) -> int:
    from bot import discord_app

    secret("DISCORD_TOKEN")  # a missing token is reported before anything starts
    guild_ids = discord_app.guild_ids_from_env(os.environ.get("DISCORD_GUILD_IDS", ""))
    _serve_logging(core.settings, "DISCORD_TOKEN")
    discord_app.run(core, _bot_state(core, args, "discord"), guild_ids=guild_ids)
    return 0
