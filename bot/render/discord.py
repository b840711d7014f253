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
from bot.render.text import NOT_SURE, digest_title, no_answer_message, safe_url, shorten

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


LINK_CHARS = 600  # a longer link (a huge metadata URL) falls back to the page, then none
LABEL_CHARS = 120  # titles and source names in a citation's heading
ALSO_REPORTED = 3  # "also reported by" names at most this many others
# Shrinking order when an answer does not fit: the highlight, then the passages, then
# citations from the end (never the first).
HIGHLIGHT_STEPS = (1500, 600, 250)
PASSAGE_STEPS = (PASSAGE_CHARS, 400, 200, 100)


def _link_fit(url: str, fragment_url: str, label: str) -> str:
    """A citation link no longer than LINK_CHARS: with the text fragment, else the bare
    page, else the label alone."""
    label = shorten(label, LABEL_CHARS)
    for candidate in (fragment_url, url):
        link = _link(candidate, label)
        if len(link) <= LINK_CHARS + len(escape(label)):
            return link
    return escape(label)


def _citation_text(citation: Citation, passage_chars: int) -> str:
    details = [escape(shorten(x, LABEL_CHARS)) for x in (citation.source, citation.date) if x]
    link = _link_fit(citation.url, citation.link, citation.title)
    head = f"**[{citation.rank}]** {link}"
    head += "".join(f" \u00b7 {d}" for d in details) + f" \u00b7 paragraph {citation.paragraph}"
    body = shorten(citation.text, passage_chars)
    if citation.heading:
        body = f"{shorten(citation.heading, LABEL_CHARS)}\n{body}"
    quoted = "\n".join(f"> {line}" if line else ">" for line in escape(body).split("\n"))
    text = f"{head}\n{quoted}"
    if citation.also_reported_by:
        shown = citation.also_reported_by[:ALSO_REPORTED]
        others = ", ".join(
            _link_fit(o.url, o.url, o.source or o.title) + f" (paragraph {o.paragraph})"
            for o in shown
        )
        more = len(citation.also_reported_by) - len(shown)
        text += f"\n*Also reported by {others}{f' and {more} more' if more else ''}*"
    return text


def _footer(citations: tuple[Citation, ...]) -> str:
    names: list[str] = []
    for c in citations:
        name = shorten(c.source or c.title, LABEL_CHARS)
        if name not in names:
            names.append(name)
    return shorten("Sources: " + "; ".join(names) + " \u00b7 /source ARTICLE#N", 500)


def _description(parts: list[str]) -> str:
    description = "\n\n".join(parts)
    return shorten(description, DESCRIPTION_LIMIT)


def _fits(embed: Embed) -> bool:
    return (
        len(embed.get("description", "")) <= DESCRIPTION_LIMIT
        and embed_length(embed) <= MESSAGE_TOTAL_LIMIT
    )


def _attempts(count: int, highlight: bool) -> list[tuple[int, int, int]]:
    """(highlight chars, passage chars, citations) to try, gentlest first."""
    steps = HIGHLIGHT_STEPS if highlight else HIGHLIGHT_STEPS[-1:]
    tries = [(h, PASSAGE_STEPS[0], count) for h in steps]
    tries += [(steps[-1], p, count) for p in PASSAGE_STEPS[1:]]
    tries += [(steps[-1], PASSAGE_STEPS[-1], n) for n in range(count - 1, 0, -1)]
    return tries


def _fitted(title: str, highlight: str, citations: tuple[Citation, ...], footer: bool) -> Embed:
    """The fullest embed within every limit: shorten the highlight, then the passages,
    then drop citations from the end; the first citation always stays."""
    embed: Embed = {}
    for highlight_chars, passage_chars, count in _attempts(len(citations), bool(highlight)):
        kept = citations[:count]
        parts = [f"**\u00bb {escape(shorten(highlight, highlight_chars))}**"] if highlight else []
        parts += [_citation_text(c, passage_chars) for c in kept]
        embed = {"title": title, "description": "\n\n".join(parts), "color": COLOUR}
        if footer:
            embed["footer"] = {"text": _footer(kept)}
        if count < len(citations):
            embed["description"] += f"\n\n*{len(citations) - count} more: More passages*"
        if _fits(embed):
            return embed
    embed["description"] = shorten(embed["description"], DESCRIPTION_LIMIT)  # cannot happen
    return embed


def render_answer(answer: Answer, *, asked_by: str | None = None) -> tuple[str, list[Embed]]:
    """(content, embeds) for an answer; a refusal is plain content with no embed."""
    if not answer.answered:
        return shorten(escape(no_answer_message(answer, "/search")), CONTENT_LIMIT), []
    title = shorten(f"\u201c{escape(answer.question)}\u201d", TITLE_LIMIT)
    highlight = answer.highlight if not answer.offset else ""
    embed = _fitted(title, highlight, answer.citations, footer=True)
    lines = [f"Asked by {escape(asked_by)}"] if asked_by else []
    if not answer.sure and not answer.offset:
        lines.append(escape(NOT_SURE))
    return shorten("\n".join(lines), CONTENT_LIMIT), [embed]


def render_search(answer: Answer) -> tuple[str, list[Embed]]:
    if not answer.citations:
        if answer.status.value in ("answered", "no_answer"):
            message = f"No passage mentions \u201c{answer.question}\u201d."
            return shorten(escape(message), CONTENT_LIMIT), []
        return shorten(escape(no_answer_message(answer, "other words")), CONTENT_LIMIT), []
    title = shorten(f"Passages for \u201c{escape(answer.question)}\u201d", TITLE_LIMIT)
    return "", [_fitted(title, "", answer.citations, footer=False)]


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
