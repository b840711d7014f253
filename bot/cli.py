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

from bot import feeds_cli
from bot.answer import Answer
from bot.core import Core, build_core
from bot.pages import Hints
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
from index.dates import iso_date
from index.documents import ARTICLE_SUFFIXES, MANIFEST_NAME, CorpusError, load_article
from index.manifest import set_manifest_entry
from index.paragraphs import split_paragraphs
from index.store import ArticleInfo, CorpusBuildError, IndexUnavailable, report_dict

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


def _article_json(article: ArticleInfo) -> dict[str, object]:
    return {
        "article": article.id,
        "file": article.path,
        "title": article.title,
        "source": article.source,
        "date": article.date,
        "url": article.url,
    }


def cmd_source(core: Core, args: argparse.Namespace) -> int:
    result = core.answerer.source(args.reference)
    if args.json:
        if result is None:
            print(f"citebot: no article matches {args.reference!r}", file=sys.stderr)
            return 1
        payload = _article_json(result.article)
        payload["paragraphs"] = [
            {"paragraph": p.number, "heading": p.heading, "text": p.text} for p in result.passages
        ]
        print(json.dumps(payload, ensure_ascii=False), flush=True)
    else:
        print(render.render_source(result, args.reference))
    return 0 if result is not None and result.passages else 1


def _print_problems(core: Core) -> None:
    problems = core.store.problems()
    if problems:
        print(f"{len(problems)} file(s) could not be indexed:")
        for problem in problems:
            print(f"  {problem['file']}: {problem['problem']}")


def _print_sources(core: Core) -> None:
    index = core.store.current()
    for article in index.articles.values():
        details = " \u00b7 ".join(x for x in (article.source, article.date) if x)
        print(f"{article.id}  ({article.paragraph_count} paragraphs)")
        print(f"    {article.display_title}" + (f"\n    {details}" if details else ""))
        if article.url:
            print(f"    {article.url}")
    _print_problems(core)


def cmd_sources(core: Core, args: argparse.Namespace) -> int:
    if not args.json:
        _print_sources(core)
        return 0
    for article in core.store.current().articles.values():
        payload = _article_json(article)
        payload["paragraphs"] = article.paragraph_count
        print(json.dumps(payload, ensure_ascii=False), flush=True)
    for problem in core.store.problems():
        print(json.dumps({"file": problem["file"], "problem": problem["problem"]}), flush=True)
    return 0


def cmd_index(core: Core, args: argparse.Namespace) -> int:
    # --rebuild builds from the corpus alone; otherwise every index file is checked.
    report = core.store.refresh(force=args.rebuild, verify_all=not args.rebuild)
    if report is not None:
        data = report_dict(report)
        print(
            f"built {data['articles']} articles, {data['paragraphs']} paragraphs, "
            f"{data['terms']} terms in {report.seconds:.2f} s"
        )
    for key, value in core.store.stats().items():
        print(f"{key}: {value}")
    _print_problems(core)
    return 0


def _add_problem(path: Path, corpus: Path, force: bool) -> str | None:
    """Why ``path`` cannot be added, in one line; None when it can."""
    if not path.exists():
        return f"{path}: no such file"
    if path.is_dir():
        return f"{path}: is a folder, not an article file"
    if path.suffix.lower() not in ARTICLE_SUFFIXES:
        return f"{path}: not an article file ({', '.join(ARTICLE_SUFFIXES)})"
    target = corpus / path.name
    if target.exists() and not force:
        return f"{target} exists already (use --force to replace it)"
    try:
        article = load_article(path.parent, path)  # refuse unreadable files before copying
    except CorpusError as exc:
        return str(exc)
    if not split_paragraphs(article):
        return f"{path}: no article text found in it (0 paragraphs)"
    return None


def cmd_add(core: Core, args: argparse.Namespace) -> int:
    corpus = core.settings.corpus
    metadata = {k: getattr(args, k) for k in ("title", "source", "date", "url") if getattr(args, k)}
    if "date" in metadata:
        iso = iso_date(metadata["date"])
        if not iso:
            print(
                f"citebot: --date: {metadata['date']!r} is not a date "
                "(write it like 2025-12-22 or December 22, 2025)",
                file=sys.stderr,
            )
            return 2
        metadata["date"] = iso
    if corpus.exists() and not corpus.is_dir():
        print(f"citebot: {corpus}: the corpus is not a folder", file=sys.stderr)
        return 2
    urls = [p for p in args.paths if feeds_cli.is_url(p)]
    paths = [Path(p) for p in args.paths if not feeds_cli.is_url(p)]
    for path in paths:  # every file is checked before any is copied
        problem = _add_problem(path, corpus, args.force)
        if problem:
            print(f"citebot: {problem}", file=sys.stderr)
            return 2
    corpus.mkdir(parents=True, exist_ok=True)
    status = 0
    if urls:  # a page's own metadata wins; the options fill what it does not say
        hints = Hints(
            title=args.title, date=metadata.get("date", ""), source=args.source
        )
        status = feeds_cli.add_urls(core, urls, force=args.force, hints=hints)
    added = []
    for path in paths:
        target = corpus / path.name
        shutil.copyfile(path, target)
        if args.force or metadata:
            set_manifest_entry(corpus / MANIFEST_NAME, path.name, metadata)
        added.append(target)
    if added:
        core.store.refresh()
    for target in added:
        print(f"added {target}")
    return status


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
