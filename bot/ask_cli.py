"""``citebot ask``, ``chat``, ``search`` and ``eval``: asking the articles from a terminal.

Kept apart from ``bot.cli``, which parses the arguments and dispatches to these.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

from bot.answer import Answer
from bot.core import Core
from bot.corpus_cli import print_sources
from bot.render import text as render


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
            print_sources(core)
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
