"""Plain-text rendering for the terminal (and the ``text`` of ``citebot ask --json``)."""

from __future__ import annotations

import textwrap
import urllib.parse
from datetime import UTC, datetime

from bot.answer import Answer, Citation, SourceResult, Status
from bot.digest import Digest, Story
from bot.question import MAX_QUESTION_CHARS

WIDTH = 88
PASSAGE_CHARS = 700


def shorten(text: str, limit: int) -> str:
    """Cut at a word boundary with an ellipsis, so no passage overruns a message limit."""
    if len(text) <= limit:
        return text
    cut = text[: max(limit - 1, 0)]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:-") + "\u2026"


# Characters a URL may keep as they are inside a chat link: no spaces, quotes, brackets,
# pipes or backslashes, which end or bend a Slack ``<url|label>`` or a Markdown link.
_URL_SAFE = ":/?#[]@!$&*+,;=%~-._"


def safe_url(url: str) -> str | None:
    """An article URL fit to link to, percent-encoded; None unless it is http(s) with a
    host.  Metadata comes from front matter, metadata.toml and HTML pages unchecked:
    ``!channel`` or ``@U123`` must never become a link (on Slack, a ping)."""
    url = url.strip()
    if not url or any(ord(c) < 32 or ord(c) == 127 for c in url):
        return None
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if any(c.isspace() for c in parts.netloc):
        return None
    return urllib.parse.quote(url, safe=_URL_SAFE)


def byline(citation: Citation) -> str:
    parts = [citation.title]
    if citation.source:
        parts.append(citation.source)
    if citation.date:
        parts.append(citation.date)
    parts.append(f"paragraph {citation.paragraph}")
    return " \u00b7 ".join(parts)


NOT_SURE = "Not sure this answers it \u2014 the closest passage I found:"


def no_answer_message(answer: Answer, search_hint: str) -> str:
    """The same refusals everywhere, each saying what to do instead."""
    if answer.status is Status.EMPTY:
        return "Ask me a question about the articles, e.g. \u201cWhat is Avocado?\u201d"
    if answer.status is Status.TOO_LONG:
        return (
            f"That question is too long ({answer.detail} characters); "
            f"please keep it under {MAX_QUESTION_CHARS}."
        )
    if answer.status is Status.UNAVAILABLE:
        return f"The article index is not available right now: {answer.detail}"
    if answer.offset:
        return "There are no more passages for that question."
    return (
        "I couldn\u2019t find an answer to that in the articles I have. "
        f"Try {search_hint} with a few key words, or add an article that covers it."
    )


def _wrap(text: str, indent: str) -> str:
    lines = []
    for line in text.split("\n"):
        lines.append(textwrap.fill(line, WIDTH, initial_indent=indent, subsequent_indent=indent))
    return "\n".join(lines)


def render_citation(citation: Citation) -> str:
    lines = [f"[{citation.rank}] {byline(citation)}"]
    if citation.heading:
        lines.append(_wrap(citation.heading, "    "))
    lines.append(_wrap(shorten(citation.text, PASSAGE_CHARS), "    "))
    if citation.url:
        lines.append(f"    {citation.link}")
    if citation.also_reported_by:
        others = ", ".join(
            f"{o.source or o.title} (paragraph {o.paragraph})" for o in citation.also_reported_by
        )
        lines.append(f"    Also reported by: {others}")
    lines.append(f"    cite: {citation.ref}")
    return "\n".join(lines)


def render_answer(answer: Answer, search_hint: str = "`citebot search`") -> str:
    if not answer.answered:
        return no_answer_message(answer, search_hint)
    parts = []
    if not answer.sure and not answer.offset:
        parts.append(NOT_SURE)
    if answer.highlight and not answer.offset:
        parts.append(_wrap(f"\u00bb {answer.highlight}", ""))
    parts.extend(render_citation(c) for c in answer.citations)
    return "\n\n".join(parts)


def render_search(answer: Answer) -> str:
    if not answer.citations:
        if answer.status is not Status.ANSWERED and answer.status is not Status.NO_ANSWER:
            return no_answer_message(answer, "other words")
        return f"No passage mentions \u201c{answer.question}\u201d."
    return "\n\n".join(render_citation(c) for c in answer.citations)


def render_source(result: SourceResult | None, reference: str) -> str:
    if result is None:
        return f"No article matches \u201c{reference}\u201d. `citebot sources` lists them."
    article = result.article
    head = [article.display_title]
    details = [x for x in (article.source, article.date) if x]
    if details:
        head.append(" \u00b7 ".join(details))
    if article.url:
        head.append(article.url)
    head.append(f"id: {article.id} \u00b7 {article.paragraph_count} paragraphs")
    if result.paragraph is not None and not result.passages:
        head.append(
            f"It has no paragraph {reference.partition('#')[2]}: "
            f"choose 1 to {article.paragraph_count}."
        )
        return "\n".join(head)
    body = []
    for passage in result.passages:
        text = f"{passage.heading}\n{passage.text}" if passage.heading else passage.text
        body.append(f"\u00b6{passage.number}\n{_wrap(text, '    ')}")
    return "\n".join(head) + "\n\n" + "\n\n".join(body)


def when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def digest_title(digest: Digest) -> str:
    articles = sum(len(s.articles) for s in digest.stories)
    stories = len(digest.stories) + digest.more_stories
    if not stories:
        return f"Nothing new in the articles since {when(digest.since)}."
    plural = "story" if stories == 1 else "stories"
    return (
        f"Digest: {stories} new {plural} from {articles} "
        f"article{'s' if articles != 1 else ''} since {when(digest.since)}"
    )


def story_sources(story: Story) -> list[str]:
    """One line per article: source (or title), date, link."""
    lines = []
    for article in story.articles:
        name = article.source or article.display_title
        parts = [name] + [x for x in (article.date, article.url) if x]
        lines.append(" \u00b7 ".join(parts))
    return lines


def render_digest(digest: Digest) -> str:
    parts = [digest_title(digest)]
    for story in digest.stories:
        lines = [f"\u25a0 {story.headline}"]
        lines.extend(f"    {line}" for line in story_sources(story))
        block = "\n".join(lines)
        passages = "\n\n".join(render_citation(c) for c in story.passages)
        parts.append(f"{block}\n\n{passages}" if passages else block)
    if digest.more_stories:
        parts.append(f"...and {digest.more_stories} more stories (`citebot sources`).")
    if digest.top_questions:
        parts.append(
            "Most asked:\n" + "\n".join(f"  - {q} ({n} times)" for q, n in digest.top_questions)
        )
    if digest.unanswered:
        parts.append(
            "Could not answer (worth an article?):\n"
            + "\n".join(f"  - {q}" for q in digest.unanswered)
        )
    return "\n\n".join(parts)
