"""The ``citebot`` command: ask, chat, search and manage the corpus from a terminal, or
start the Slack and Discord bots."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from bot.answer import Answer
from bot.core import Core, build_core
from bot.render import text as render
from bot.schedule import load_config_subscriptions
from bot.settings import (
    MissingSecret,
    Settings,
    SettingsError,
    load_settings,
    read_config_tables,
    redact_in_logs,
    secret,
)
from bot.state import State
from index.documents import ARTICLE_SUFFIXES, MANIFEST_NAME, CorpusError, load_article
from index.store import CorpusBuildError, IndexUnavailable, report_dict

log = logging.getLogger("citebot")

EPILOG = """\
examples:
  citebot ask "Is Avocado going to be open source?"
  citebot ask --json "Who leads TBD Lab?" "Who is Nat Friedman?"
  citebot search Qwen distillation
  citebot source 003_995cb40eb3369109#16
  citebot add ~/Downloads/article.html --source Reuters
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="citebot",
        description="Answers questions about a folder of news articles, citing the passages.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--corpus", type=Path, help="article folder (default: bundled corpus)")
    parser.add_argument("--index-dir", type=Path, help="where the index is kept")
    parser.add_argument("--config", type=Path, help="TOML config file")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    ask = sub.add_parser("ask", help="answer questions (each argument is one question)")
    ask.add_argument("questions", nargs="+", metavar="QUESTION")
    ask.add_argument("--json", action="store_true", help="one JSON object per question")
    ask.add_argument("--context", default="", help="an earlier question to read this one with")

    sub.add_parser("chat", help="ask questions interactively (the default)")

    search = sub.add_parser("search", help="ranked passages for key words")
    search.add_argument("terms", nargs="+")
    search.add_argument("-n", type=int, default=5, help="how many passages (default 5)")

    source = sub.add_parser("source", help="show an article, or one paragraph: ARTICLE[#N]")
    source.add_argument("reference")

    sub.add_parser("sources", help="list the articles with their metadata")

    build = sub.add_parser("index", help="build the index if needed and print its stats")
    build.add_argument("--rebuild", action="store_true", help="rebuild even if up to date")

    add = sub.add_parser("add", help="copy article files into the corpus and index them")
    add.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    for name in ("title", "source", "date", "url"):
        add.add_argument(f"--{name}", default="", help=f"the article's {name}")
    add.add_argument("--force", action="store_true", help="replace a file of the same name")

    slack = sub.add_parser("slack", help="run the Slack bot (Socket Mode; --http for HTTP events)")
    slack.add_argument("--http", action="store_true", help="serve HTTP events, not Socket Mode")
    slack.add_argument("--host", default="0.0.0.0", help="HTTP address (default 0.0.0.0)")
    slack.add_argument("--port", type=int, default=3000, help="HTTP port (default 3000)")

    sub.add_parser("discord", help="run the Discord bot (DISCORD_TOKEN)")

    digest = sub.add_parser("digest", help="print the digest of what is new in the corpus")
    digest.add_argument(
        "--since", help="YYYY-MM-DD or YYYY-MM-DDTHH:MM in UTC (default: the look-back, 24 h)"
    )

    evaluate = sub.add_parser("eval", help="score answers on a question set (JSONL)")
    evaluate.add_argument("file", type=Path)
    evaluate.add_argument("--verbose-cases", action="store_true", help="list every question")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(
        args.config, overrides={"corpus": args.corpus, "index_dir": args.index_dir}
    )


def _questions(raw: list[str]) -> list[str]:
    # `citebot ask what is avocado` (unquoted) means one question, not three.
    if len(raw) > 1 and all(len(q.split()) == 1 for q in raw):
        return [" ".join(raw)]
    return raw


def answer_json(answer: Answer, text: str) -> dict[str, object]:
    """The ``ask --json`` contract: exactly these keys, other tools depend on them."""
    return {
        "question": answer.question,
        "answered": answer.answered,
        "text": text,
        "citations": [c.as_json() for c in answer.citations],
    }


def cmd_ask(core: Core, args: argparse.Namespace) -> int:
    for question in _questions(args.questions):
        answer = core.ask(question, context=args.context)
        text = render.render_answer(answer)
        if args.json:
            payload = answer_json(answer, text)
            payload["question"] = answer.question or question
            print(json.dumps(payload, ensure_ascii=False), flush=True)
        else:
            print(text, end="\n\n", flush=True)
    return 0


CHAT_HELP = """\
Ask a question about the articles. A question that follows on from the last one
("when will it launch?") is read together with it. Commands:
  /search WORDS   ranked passages      /source ARTICLE[#N]   a cited paragraph
  /sources        the articles         /more                 more passages
  /new            forget the last question                   /quit (or Ctrl-D)"""


def cmd_chat(core: Core, args: argparse.Namespace, read: Callable[[str], str] = input) -> int:
    index = core.store.current()
    print(f"citebot: {len(index.articles)} articles, {index.size} paragraphs. /help for help.")
    last_question, last_context, offset = "", "", 0
    while True:
        try:
            line = read("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if not line:
            continue
        command, _, rest = line.partition(" ")
        if command in ("/quit", "/exit", "/q"):
            return 0
        if command in ("/help", "/?"):
            print(CHAT_HELP)
        elif command == "/search":
            print(render.render_search(core.answerer.search(rest)) if rest else "/search WORDS")
        elif command == "/source":
            print(
                render.render_source(core.answerer.source(rest), rest)
                if rest
                else "/source ARTICLE[#PARAGRAPH]"
            )
        elif command == "/sources":
            _print_sources(core)
        elif command == "/new":
            last_question, last_context, offset = "", "", 0
            print("Starting afresh.")
        elif command == "/more":
            if not last_question:
                print("Ask a question first.")
                continue
            offset += core.settings.top_k
            more = core.ask(last_question, context=last_context, offset=offset)
            print(render.render_answer(more))
        else:
            answer = core.follow_up(line, last_question)
            print(render.render_answer(answer))
            if answer.answered:
                last_question, last_context, offset = answer.question, answer.context, 0
        print()


def cmd_search(core: Core, args: argparse.Namespace) -> int:
    print(render.render_search(core.answerer.search(" ".join(args.terms), k=args.n)))
    return 0


def cmd_source(core: Core, args: argparse.Namespace) -> int:
    result = core.answerer.source(args.reference)
    print(render.render_source(result, args.reference))
    return 0 if result is not None and result.passages else 1


def _print_sources(core: Core) -> None:
    index = core.store.current()
    for article in index.articles.values():
        details = " \u00b7 ".join(x for x in (article.source, article.date) if x)
        print(f"{article.id}  ({article.paragraph_count} paragraphs)")
        print(f"    {article.display_title}" + (f"\n    {details}" if details else ""))
        if article.url:
            print(f"    {article.url}")


def cmd_sources(core: Core, args: argparse.Namespace) -> int:
    _print_sources(core)
    return 0


def cmd_index(core: Core, args: argparse.Namespace) -> int:
    report = core.store.refresh(force=args.rebuild)
    if report is not None:
        data = report_dict(report)
        print(
            f"built {data['articles']} articles, {data['paragraphs']} paragraphs, "
            f"{data['terms']} terms in {report.seconds:.2f} s"
        )
    for key, value in core.store.stats().items():
        print(f"{key}: {value}")
    return 0


def _toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string


def cmd_add(core: Core, args: argparse.Namespace) -> int:
    corpus = core.settings.corpus
    corpus.mkdir(parents=True, exist_ok=True)
    metadata = {k: getattr(args, k) for k in ("title", "source", "date", "url") if getattr(args, k)}
    added = []
    for path in args.paths:
        if path.suffix.lower() not in ARTICLE_SUFFIXES:
            print(
                f"citebot: {path}: not an article file ({', '.join(ARTICLE_SUFFIXES)})",
                file=sys.stderr,
            )
            return 2
        target = corpus / path.name
        if target.exists() and not args.force:
            print(f"citebot: {target} exists already (use --force to replace it)", file=sys.stderr)
            return 2
        try:
            load_article(path.parent, path)  # refuse unreadable files before copying
        except CorpusError as exc:
            print(f"citebot: {exc}", file=sys.stderr)
            return 2
        shutil.copyfile(path, target)
        if metadata:
            entry = "\n".join(f"{k} = {_toml_string(v)}" for k, v in metadata.items())
            with open(corpus / MANIFEST_NAME, "a", encoding="utf-8") as manifest:
                manifest.write(f"\n[{_toml_string(path.name)}]\n{entry}\n")
        added.append(target)
    core.store.refresh()
    for target in added:
        print(f"added {target}")
    return 0


def cmd_eval(core: Core, args: argparse.Namespace) -> int:
    from bot.evaluate import evaluate

    report = evaluate(core.answerer, args.file)
    for case in report.cases:
        if args.verbose_cases or not case.ok:
            mark = "ok " if case.ok else "MISS"
            rank = f"rank {case.hit_rank}" if case.hit_rank else "no hit"
            state = "answered" if case.answered else "declined"
            print(f"{mark} [{case.kind}] {case.question}  ({state}, {rank})")
    print(report.summary())
    return 0


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


COMMANDS: dict[str, Callable[[Core, argparse.Namespace], int]] = {
    "ask": cmd_ask,
    "chat": cmd_chat,
    "search": cmd_search,
    "source": cmd_source,
    "sources": cmd_sources,
    "index": cmd_index,
    "add": cmd_add,
    "eval": cmd_eval,
    "slack": cmd_slack,
    "discord": cmd_discord,
    "digest": cmd_digest,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "chat"
    try:
        settings = _settings(args)
    except SettingsError as exc:
        print(f"citebot: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    core = build_core(settings, progress=sys.stderr.isatty())
    try:
        if command not in ("add",):
            core.store.current()  # build or load now, so problems are reported up front
            if core.store.last_error:
                print(f"citebot: warning: {core.store.last_error}", file=sys.stderr)
        return COMMANDS[command](core, args)
    except IndexUnavailable as exc:
        print(f"citebot: no index to answer from: {exc}", file=sys.stderr)
        return 1
    except (MissingSecret, SettingsError) as exc:
        print(f"citebot: {exc}", file=sys.stderr)
        return 2
    except (CorpusBuildError, CorpusError, ValueError, ConnectionError) as exc:
        print(f"citebot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `citebot search x | head`
        return 0
