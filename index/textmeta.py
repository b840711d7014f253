"""What the top of a plain-text or Markdown article says about it: headline, source,
author, date.

Saved articles often start with the headline on the first line and a few ``Source:``,
``By ...`` or ``Published: ...`` lines under it.  The headline becomes the title and
stays searchable (a ``title`` block, which the paragraph splitter puts over the first
paragraph); the other lines become metadata and leave the text.  Dates go through
``index.dates``: stored as ISO dates, never guessed.
"""

from __future__ import annotations

import re

from index.dates import iso_date

HEADER_LINES = 12  # how far down the top of an article reaches
_FIELD_RE = re.compile(
    r"^(?P<key>source|date|published|posted|updated|time|by|author|url|link)\s*[:\uff1a]\s*"
    r"(?P<value>\S.*)$",
    re.IGNORECASE,
)
_BYLINE_RE = re.compile(r"^By\s+(?P<value>[A-Z][^.!?:]{1,80})$")
_KEYS = {
    "source": "source",
    "date": "date",
    "published": "date",
    "posted": "date",
    "updated": "date",
    "time": "date",
    "by": "author",
    "author": "author",
    "url": "url",
    "link": "url",
}
_ITEM_RE = re.compile(r"^\s*(?:[-*+\u2022]|\d{1,2}[.)])\s")
_CRUMBS_RE = re.compile(r"^[^.!?]*(\s[>\u00bb\u203a/|]\s[^.!?]*){2,}$")


def reads_as_headline(line: str) -> bool:
    """A line that is a headline rather than a sentence, a section name or a list item:
    4 to 25 words, under 200 characters, not ending like a sentence or an introduction."""
    text = line.strip()
    words = len(text.split())
    return (
        4 <= words <= 25
        and len(text) <= 200
        and not text.endswith((".", ",", ";", ":"))
        and not _ITEM_RE.match(text)
        and not _FIELD_RE.match(text)
        and not _CRUMBS_RE.match(text)
        and not text.startswith(("|", "!", "[", ">", "http"))
    )


def _field(line: str) -> tuple[str, str] | None:
    match = _FIELD_RE.match(line.strip())
    if match:
        key = _KEYS[match.group("key").lower()]
        value = match.group("value").strip()
        if key == "date":
            value = iso_date(value)
            if not value:
                return None  # "Updated: recently" stays text; no date is guessed
        elif key == "url" and not re.match(r"https?://\S+$", value):
            return None
        return key, value
    byline = _BYLINE_RE.match(line.strip())
    if byline and len(byline.group("value").split()) <= 6:
        return "author", byline.group("value").strip()
    return None


def header_metadata(lines: list[str], *, markdown: bool) -> tuple[dict[str, str], set[int], int]:
    """Metadata from the top lines: (fields, indexes of the lines they came from, index of
    the headline line or -1).  The first field of each kind wins."""
    meta: dict[str, str] = {}
    used: set[int] = set()
    headline = -1
    seen_text = False
    for i, raw in enumerate(lines[:HEADER_LINES]):
        line = raw.strip()
        if not line:
            continue
        found = _field(line)
        if found is not None:
            key, value = found
            if key not in meta:
                meta[key] = value
                used.add(i)
            continue
        if seen_text:
            continue
        seen_text = not _CRUMBS_RE.match(line)  # a crumb trail over the headline is skipped
        if not seen_text:
            continue
        candidate = line
        if markdown:
            heading = re.match(r"^#\s+(.*?)\s*#*$", line)
            if not heading:
                continue
            candidate = heading.group(1)
            if len(candidate.split()) <= 25 and len(candidate) <= 200 and i + 1 < len(lines):
                meta["title"] = re.sub(r"[*_`]", "", candidate)
                headline = i
            continue
        if reads_as_headline(candidate) and i + 1 < len(lines):
            meta["title"] = candidate
            headline = i
    return meta, used, headline
