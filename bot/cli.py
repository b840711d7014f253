"""The ``citebot`` command: parses the arguments and dispatches to the commands, which
live in ``ask_cli`` (asking), ``corpus_cli`` (the articles), ``feeds_cli`` (following news
sources) and ``bots_cli`` (the chat bots and the digest)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from bot import ask_cli, bots_cli, corpus_cli, feeds_cli
from bot.core import Core, build_core
from bot.settings import MissingSecret, Settings, SettingsError, load_settings
from index.documents import CorpusError
from index.store import CorpusBuildError, IndexUnavailable

log = logging.getLogger("citebot")

EPILOG = """\
examples:
  citebot ask "Is Avocado going to be open source?"
  citebot ask --json "Who leads TBD Lab?" "Who is Nat Friedman?"
  citebot search Qwen distillation
  citebot source 003_995cb40eb3369109#16
  citebot add ~/Downloads/article.html --source Reuters
  citebot add https://example.com/news/meta-delays-avocado
  citebot feeds add https://example.com/rss.xml && citebot feeds poll
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="citebot",
        description="Answers questions about a folder of news articles, citing the passages.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _global_options(parser, None)
    # The same options after the command (``citebot ask -v ...``); SUPPRESS keeps an
    # option given before the command from being reset by the subcommand's default.
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    ask = sub.add_parser(
        "ask", parents=[common], help="answer questions (each argument is one question)"
    )
    ask.add_argument("questions", nargs="+", metavar="QUESTION")
    ask.add_argument("--json", action="store_true", help="one JSON object per question")
    ask.add_argument("--context", default="", help="an earlier question to read this one with")

    sub.add_parser("chat", parents=[common], help="ask questions interactively (the default)")

    search = sub.add_parser("search", parents=[common], help="ranked passages for key words")
    search.add_argument("terms", nargs="+")
    search.add_argument("-n", type=int, default=5, help="how many passages (default 5)")

    source = sub.add_parser(
        "source", parents=[common], help="show an article, or one paragraph: ARTICLE[#N]"
    )
    source.add_argument("reference")
    source.add_argument("--json", action="store_true", help="one JSON object: what can be cited")

    sources = sub.add_parser(
        "sources", parents=[common], help="list the articles with their metadata"
    )
    sources.add_argument("--json", action="store_true", help="one JSON object per line")

    build = sub.add_parser(
        "index", parents=[common], help="build the index if needed and print its stats"
    )
    build.add_argument("--rebuild", action="store_true", help="rebuild even if up to date")

    add = sub.add_parser(
        "add",
        parents=[common],
        help="copy article files, or fetch web pages (URLs), into the corpus and index them",
    )
    add.add_argument("paths", nargs="+", metavar="PATH|URL")
    for name in ("title", "source", "date", "url"):
        add.add_argument(f"--{name}", default="", help=f"the article's {name}")
    add.add_argument(
        "--force",
        action="store_true",
        help="replace a file of the same name (and its metadata in metadata.toml); refetch a URL",
    )
    feeds_cli.add_parser(sub)

    slack = sub.add_parser(
        "slack", parents=[common], help="run the Slack bot (Socket Mode; --http for HTTP events)"
    )
    slack.add_argument("--http", action="store_true", help="serve HTTP events, not Socket Mode")
    slack.add_argument("--host", default="0.0.0.0", help="HTTP address (default 0.0.0.0)")
    slack.add_argument("--port", type=int, default=3000, help="HTTP port (default 3000)")

    sub.add_parser("discord", parents=[common], help="run the Discord bot (DISCORD_TOKEN)")

    digest = sub.add_parser(
        "digest", parents=[common], help="print the digest of what is new in the corpus"
    )
    digest.add_argument(
        "--since", help="YYYY-MM-DD or YYYY-MM-DDTHH:MM in UTC (default: the look-back, 24 h)"
    )

    evaluate = sub.add_parser(
        "eval", parents=[common], help="score answers on a question set (JSONL)"
    )
    evaluate.add_argument("file", type=Path)
    evaluate.add_argument("--verbose-cases", action="store_true", help="list every question")
    return parser


def _global_options(parser: argparse.ArgumentParser, default: object) -> None:
    """``--corpus``, ``--index-dir``, ``--config`` and ``-v``, before or after the command."""
    parser.add_argument(
        "--corpus", type=Path, default=default, help="article folder (default: bundled corpus)"
    )
    parser.add_argument("--index-dir", type=Path, default=default, help="where the index is kept")
    parser.add_argument("--config", type=Path, default=default, help="TOML config file")
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default if default is not None else False,
        help="log what happens",
    )


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(
        args.config, overrides={"corpus": args.corpus, "index_dir": args.index_dir}
    )


COMMANDS: dict[str, Callable[[Core, argparse.Namespace], int]] = {
    "ask": ask_cli.cmd_ask,
    "chat": ask_cli.cmd_chat,
    "search": ask_cli.cmd_search,
    "source": corpus_cli.cmd_source,
    "sources": corpus_cli.cmd_sources,
    "index": corpus_cli.cmd_index,
    "add": corpus_cli.cmd_add,
    "eval": ask_cli.cmd_eval,
    "slack": bots_cli.cmd_slack,
    "discord": bots_cli.cmd_discord,
    "digest": bots_cli.cmd_digest,
    "feeds": feeds_cli.cmd_feeds,
}


def _quiet_stdout() -> None:
    """After the reader of our output went away (``citebot ask ... | head -1``): send
    what is left to /dev/null, so the interpreter's final flush cannot complain."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass  # stdout is not a real file (tests): nothing to flush at exit
    finally:
        os.close(devnull)


def _home_problem(settings: Settings) -> str | None:
    home = settings.home
    if home.exists() and not home.is_dir():
        return f"CITEBOT_HOME: {home} is not a folder (point it at a folder citebot may write)"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "chat"
    try:
        settings = _settings(args)
    except SettingsError as exc:
        print(f"citebot: {exc}", file=sys.stderr)
        return 2
    problem = _home_problem(settings)
    if problem:
        print(f"citebot: {problem}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # `index` and `sources` list the files that could not be indexed themselves: not twice
    quiet = command in ("index", "sources") and not args.verbose
    logging.getLogger("index.store").setLevel(logging.ERROR if quiet else logging.NOTSET)
    core = build_core(settings, progress=sys.stderr.isatty())
    try:
        if command not in ("add", "index", "feeds"):
            core.store.current()  # build or load now, so problems are reported up front
        return COMMANDS[command](core, args)
    except BrokenPipeError:  # `citebot ask ... | head -1`: the reader has all it wanted
        _quiet_stdout()
        return 0
    except IndexUnavailable as exc:
        print(f"citebot: no index to answer from: {exc}", file=sys.stderr)
        return 1
    except (MissingSecret, SettingsError) as exc:
        print(f"citebot: {exc}", file=sys.stderr)
        return 2
    except (CorpusBuildError, CorpusError, ValueError, ConnectionError) as exc:
        print(f"citebot: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # an index folder that cannot be written, a full disk...
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"citebot: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
