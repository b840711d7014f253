"""Embed rendering of answers, search results, sources and digests for Discord.

Embeds are produced as Discord's JSON embed objects (plain dicts), so this module needs
no discord import; the adapter turns them into ``discord.Embed``.  Article and user text
is escaped (Markdown and mentions) and everything stays inside Discord's limits.  The
adapter also sends with mentions disabled: escaping is the second line of defence.
"""

from __future__ import annotations

import re
from typing import Any

from bot.answer import Answer, Citation, SourceResult
from bot.digest import Digest
from bot.render.text import digest_title, no_answer_message, safe_url, shorten

CONTENT_LIMIT = 2000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FIELDS_LIMIT = 25
FOOTER_LIMIT = 2048
MESSAGE_TOTAL_LIMIT = 6000
EMBEDS_LIMIT = 10
PASSAGE_CHARS = 700
COLOUR = 0x2C3E50

Embed = dict[str, Any]

_MARKDOWN = re.compile(r"([\\*_~`|>#\[\]()-])")
_ZWSP = "\u200b"


def escape(text: str) -> str:
    """Markdown made literal and mentions made inert (``@everyone``, ``<@123>``, roles)."""
    text = _MARKDOWN.sub(r"\\\1", text)
    text = re.sub(r"@(everyone|here)", f"@{_ZWSP}\\1", text, flags=re.IGNORECASE)
    return re.sub(r"<([@#:!&]|a:|t:)", f"<{_ZWSP}\\1", text)


def _link(url: str, label: str) -> str:
    """``[label](<url>)`` for an http(s) URL; anything else is the label as plain text."""
    target = safe_url(url)
    return f"[{escape(label)}](<{target}>)" if target else escape(label)


def embed_length(embed: Embed) -> int:
    """What Discord counts towards the 6,000 characters of a message's embeds."""
    total = len(embed.get("title", "")) + len(embed.get("description", ""))
    total += len(embed.get("footer", {}).get("text", ""))
    total += len(embed.get("author", {}).get("name", ""))
    for field in embed.get("fields", []):
        total += len(field["name"]) + len(field["value"])
    return total


def _citation_text(citation: Citation, passage_chars: int) -> str:
    details = [escape(x) for x in (citation.source, citation.date) if x]
    head = f"**[{citation.rank}]** {_link(citation.link, citation.title)}"
    head += "".join(f" \u00b7 {d}" for d in details) + f" \u00b7 paragraph {citation.paragraph}"
    body = shorten(citation.text, passage_chars)
    if citation.heading:
        body = f"{citation.heading}\n{body}"
    quoted = "\n".join(f"> {line}" if line else ">" for line in escape(body).split("\n"))
    text = f"{head}\n{quoted}"
    if citation.also_reported_by:
        others = ", ".join(
            _link(o.url, o.source or o.title) + f" (paragraph {o.paragraph})"
            for o in citation.also_reported_by
        )
        text += f"\n*Also reported by {others}*"
    return text


def _footer(citations: tuple[Citation, ...]) -> str:
    names: list[str] = []
    for c in citations:
        if (c.source or c.title) not in names:
            names.append(c.source or c.title)
    return shorten("Sources: " + "; ".join(names) + " \u00b7 /source ARTICLE#N", FOOTER_LIMIT)


def _description(parts: list[str]) -> str:
    description = "\n\n".join(parts)
    return shorten(description, DESCRIPTION_LIMIT)


def render_answer(answer: Answer, *, asked_by: str | None = None) -> tuple[str, list[Embed]]:
    """(content, embeds) for an answer; a refusal is plain content with no embed."""
    if not answer.answered:
        return shorten(escape(no_answer_message(answer, "/search")), CONTENT_LIMIT), []
    passage_chars = PASSAGE_CHARS
    while True:
        parts = []
        if answer.highlight and not answer.offset:
            parts.append(f"**\u00bb {escape(answer.highlight)}**")
        parts.extend(_citation_text(c, passage_chars) for c in answer.citations)
        embed: Embed = {
            "title": shorten(f"\u201c{escape(answer.question)}\u201d", TITLE_LIMIT),
            "description": _description(parts),
            "color": COLOUR,
            "footer": {"text": _footer(answer.citations)},
        }
        if embed_length(embed) <= MESSAGE_TOTAL_LIMIT or passage_chars < 100:
            break
        passage_chars //= 2
    content = f"Asked by {escape(asked_by)}" if asked_by else ""
    return content, [embed]


def render_search(answer: Answer) -> tuple[str, list[Embed]]:
    if not answer.citations:
        if answer.status.value in ("answered", "no_answer"):
            return escape(f"No passage mentions \u201c{answer.question}\u201d."), []
        return escape(no_answer_message(answer, "other words")), []
    parts = [_citation_text(c, PASSAGE_CHARS) for c in answer.citations]
    embed: Embed = {
        "title": shorten(f"Passages for \u201c{escape(answer.question)}\u201d", TITLE_LIMIT),
        "description": _description(parts),
        "color": COLOUR,
    }
    return "", [embed]


def render_source(result: SourceResult | None, reference: str) -> tuple[str, list[Embed]]:
    if result is None:
        return escape(f"No article matches \u201c{reference}\u201d."), []
    article = result.article
    details = " \u00b7 ".join(x for x in (article.source, article.date) if x)
    embed: Embed = {
        "title": shorten(escape(article.display_title), TITLE_LIMIT),
        "color": COLOUR,
        "footer": {
            "text": shorten(
                f"{article.id} \u00b7 {article.paragraph_count} paragraphs", FOOTER_LIMIT
            )
        },
    }
    link = safe_url(article.url)
    if link:
        embed["url"] = link
    if result.paragraph is not None and not result.passages:
        embed["description"] = (
            f"{escape(details)}\nIt has no paragraph {escape(reference.partition('#')[2])}: "
            f"choose 1 to {article.paragraph_count}."
        )
        return "", [embed]
    parts = [escape(details)] if details else []
    for passage in result.passages:
        text = f"{passage.heading}\n{passage.text}" if passage.heading else passage.text
        parts.append(f"**\u00b6{passage.number}** {escape(text)}")
    embed["description"] = _description(parts)
    return "", [embed]


def render_digest(digest: Digest) -> tuple[str, list[Embed]]:
    """An embed per story (within 10 embeds and 6,000 characters), then the questions."""
    title = digest_title(digest)
    embeds: list[Embed] = []
    for story in digest.stories:
        sources = "; ".join(
            _link(a.url, a.source or a.display_title) + (f" ({escape(a.date)})" if a.date else "")
            for a in story.articles
        )
        parts = [sources] + [_citation_text(c, 500) for c in story.passages]
        embeds.append(
            {
                "title": shorten(escape(story.headline), TITLE_LIMIT),
                "description": _description(parts),
                "color": COLOUR,
            }
        )
    questions = []
    if digest.top_questions:
        questions.append(
            "**Most asked**\n"
            + "\n".join(f"\u2022 {escape(q)} ({n}\u00d7)" for q, n in digest.top_questions)
        )
    if digest.unanswered:
        questions.append(
            "**Could not answer** (worth an article?)\n"
            + "\n".join(f"\u2022 {escape(q)}" for q in digest.unanswered)
        )
    if questions:
        embeds.append(
            {"title": "Questions", "description": _description(questions), "color": COLOUR}
        )
    kept: list[Embed] = []
    budget = MESSAGE_TOTAL_LIMIT
    for embed in embeds[:EMBEDS_LIMIT]:
        if embed_length(embed) > budget:
            embed["description"] = shorten(
                embed["description"], max(0, budget - len(embed["title"]) - 10)
            )
            if embed_length(embed) > budget or not embed["description"]:
                break
        kept.append(embed)
        budget -= embed_length(embed)
    return shorten(escape(title), CONTENT_LIMIT), kept
