"""``citebot source``, ``sources``, ``index`` and ``add``: looking at and managing the corpus
from a terminal.

Kept apart from ``bot.cli``, which parses the arguments and dispatches to these; URLs given
to ``add`` go to ``bot.feeds_cli.add_urls``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from bot import feeds_cli
from bot.core import Core
from bot.pages import Hints
from bot.render import text as render
from index.dates import iso_date
from index.documents import ARTICLE_SUFFIXES, MANIFEST_NAME, CorpusError, load_article
from index.manifest import set_manifest_entry
from index.paragraphs import split_paragraphs
from index.store import ArticleInfo, report_dict


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


def print_sources(core: Core) -> None:
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
        print_sources(core)
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
        hints = Hints(title=args.title, date=metadata.get("date", ""), source=args.source)
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
