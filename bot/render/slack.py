"""Block Kit rendering of answers, search results, sources and digests for Slack.

Every piece of article or user text passes through ``escape`` so nothing can ping
(``<!channel>``, ``<@U...>``) or inject a link, and every block stays inside Slack's
limits (3,000 characters a section, 50 blocks a message).
"""

from __future__ import annotations

import json
from typing import Any

from bot.answer import Answer, Citation, SourceResult
from bot.digest import Digest
from bot.render.text import NOT_SURE, digest_title, no_answer_message, safe_url, shorten

SECTION_LIMIT = 3000
MAX_BLOCKS = 50
PASSAGE_CHARS = 1200
FALLBACK_CHARS = 3000
HIGHLIGHT_CHARS = 1000  # so the bold around it always closes inside a section
LINK_CHARS = 1500

Block = dict[str, Any]


def escape(text: str) -> str:
    """Slack's three control characters; mentions and links in the text become inert."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link(url: str, label: str) -> str:
    """``<url|label>`` for an http(s) URL; anything else is the label as plain text."""
    target = safe_url(url)
    if target is None or len(target) > LINK_CHARS:  # a link cut by a length limit breaks
        return escape(label)
    safe_label = escape(label).replace("|", "\u2758")  # "|" would end the label early
    return f"<{escape(target)}|{safe_label}>"


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": shorten(text, SECTION_LIMIT)}}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": shorten(text, 3000)}]}


def _quote(text: str) -> str:
    return "\n".join(f">{line}" if line else ">" for line in escape(text).split("\n"))


def citation_blocks(citation: Citation) -> list[Block]:
    fragment = safe_url(citation.link)  # the page scrolled to the sentence, if not too long
    title = _link(
        citation.link if fragment and len(fragment) <= LINK_CHARS else citation.url, citation.title
    )
    details = [x for x in (citation.source, citation.date) if x]
    head = f"*[{citation.rank}]* {title}"
    if details:
        head += " \u00b7 " + escape(" \u00b7 ".join(details))
    head += f" \u00b7 paragraph {citation.paragraph}"
    body = shorten(citation.text, PASSAGE_CHARS)
    if citation.heading:
        body = f"{citation.heading}\n{body}"
    blocks = [_section(f"{head}\n{_quote(body)}")]
    if citation.also_reported_by:
        others = ", ".join(
            _link(o.url, o.source or o.title) + f" (paragraph {o.paragraph})"
            for o in citation.also_reported_by
        )
        blocks.append(_context(f"Also reported by {others}"))
    return blocks


def _sources_line(citations: tuple[Citation, ...]) -> str:
    seen: list[str] = []
    for c in citations:
        name = c.source or c.title
        if name not in seen:
            seen.append(name)
    return "Sources: " + escape("; ".join(seen)) + " \u00b7 `/source ARTICLE#N` shows a passage"


def answer_buttons(answer_id: int, *, share: bool = False) -> Block:
    value = json.dumps({"answer": answer_id})
    elements: list[dict[str, Any]] = [
        {
            "type": "button",
            "action_id": "feedback_helpful",
            "value": value,
            "text": {"type": "plain_text", "text": ":thumbsup: Helpful", "emoji": True},
        },
        {
            "type": "button",
            "action_id": "feedback_unhelpful",
            "value": value,
            "text": {"type": "plain_text", "text": ":thumbsdown: Not helpful", "emoji": True},
        },
        {
            "type": "button",
            "action_id": "more_passages",
            "value": value,
            "text": {"type": "plain_text", "text": "More passages"},
        },
    ]
    if share:
        elements.insert(
            0,
            {
                "type": "button",
                "action_id": "share_answer",
                "value": value,
                "style": "primary",
                "text": {"type": "plain_text", "text": "Share in channel"},
            },
        )
    return {"type": "actions", "block_id": f"answer-{answer_id}", "elements": elements}


def render_answer(
    answer: Answer,
    *,
    answer_id: int | None = None,
    share: bool = False,
    asked_by: str | None = None,
) -> tuple[str, list[Block]]:
    """(fallback text, blocks) for an answer; buttons when it was recorded as ``answer_id``."""
    if not answer.answered:
        message = no_answer_message(answer, "`/search`")
        return escape(message), [_section(escape(message))]
    blocks: list[Block] = []
    if asked_by:
        blocks.append(_context(f"<@{asked_by}> asked: {escape(shorten(answer.question, 500))}"))
    if not answer.sure and not answer.offset:
        blocks.append(_context(escape(NOT_SURE)))
    if answer.highlight and not answer.offset:
        blocks.append(_section(f":mag: *{escape(shorten(answer.highlight, HIGHLIGHT_CHARS))}*"))
    for citation in answer.citations:
        blocks.extend(citation_blocks(citation))
    blocks.append(_context(_sources_line(answer.citations)))
    if answer_id is not None:
        blocks.append(answer_buttons(answer_id, share=share))
    fallback = answer.highlight or answer.citations[0].text
    return escape(shorten(fallback, FALLBACK_CHARS)), blocks[:MAX_BLOCKS]


def render_search(answer: Answer) -> tuple[str, list[Block]]:
    if not answer.citations:
        message = (
            no_answer_message(answer, "other words")
            if answer.status.value not in ("answered", "no_answer")
            else f"No passage mentions \u201c{answer.question}\u201d."
        )
        return escape(message), [_section(escape(message))]
    blocks: list[Block] = [_context(f"Passages for \u201c{escape(answer.question)}\u201d")]
    for citation in answer.citations:
        blocks.extend(citation_blocks(citation))
    summary = f"{len(answer.citations)} passages for \u201c{answer.question}\u201d"
    return escape(summary), blocks[:MAX_BLOCKS]


def render_source(result: SourceResult | None, reference: str) -> tuple[str, list[Block]]:
    if result is None:
        message = f"No article matches \u201c{reference}\u201d."
        return escape(message), [_section(escape(message))]
    article = result.article
    title = _link(article.url, article.display_title)
    details = " \u00b7 ".join(x for x in (article.source, article.date) if x)
    head = f"*{title}*" + (f"\n{escape(details)}" if details else "")
    head += f"\n`{escape(article.id)}` \u00b7 {article.paragraph_count} paragraphs"
    blocks = [_section(head)]
    if result.paragraph is not None and not result.passages:
        message = (
            f"It has no paragraph {reference.partition('#')[2]}: choose 1 to "
            f"{article.paragraph_count}."
        )
        blocks.append(_section(escape(message)))
        return escape(message), blocks
    for passage in result.passages[: MAX_BLOCKS - 2]:
        text = f"{passage.heading}\n{passage.text}" if passage.heading else passage.text
        blocks.append(_section(f"*\u00b6{passage.number}*\n{_quote(shorten(text, 2800))}"))
    if len(result.passages) > MAX_BLOCKS - 2:
        blocks.append(_context("The rest is cut; ask for one paragraph with `ARTICLE#N`."))
    return escape(article.display_title), blocks[:MAX_BLOCKS]


def plain(text: str) -> tuple[str, list[Block]]:
    """A short note (usage, rate limit, apology) as text plus one section."""
    return escape(text), [_section(escape(text))]


def render_digest(digest: Digest) -> tuple[str, list[Block]]:
    title = digest_title(digest)
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": shorten(title, 150)}}
    ]
    for story in digest.stories:
        if len(blocks) > MAX_BLOCKS - 8:
            break
        sources = "; ".join(
            _link(a.url, a.source or a.display_title) + (f" ({escape(a.date)})" if a.date else "")
            for a in story.articles
        )
        blocks.append({"type": "divider"})
        blocks.append(_section(f"*{escape(story.headline)}*\n{sources}"))
        for citation in story.passages:
            blocks.extend(citation_blocks(citation))
    if digest.top_questions:
        lines = "\n".join(f"\u2022 {escape(q)} ({n}\u00d7)" for q, n in digest.top_questions)
        blocks.append(_section(f"*Most asked*\n{lines}"))
    if digest.unanswered:
        lines = "\n".join(f"\u2022 {escape(q)}" for q in digest.unanswered)
        blocks.append(_section(f"*Could not answer* (worth an article?)\n{lines}"))
    return escape(title), blocks[:MAX_BLOCKS]
