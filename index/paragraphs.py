"""Splitting an article into the paragraphs a reader would cite, without its boilerplate.

What must never be cited (contact lines, copyright, "Read next" teasers, image names,
subscribe blurbs, navigation crumbs) is dropped here, once, so neither search nor the
answer can ever surface it.  Structure that carries meaning is kept: a table becomes a
line per row with its header, a bullet list stays with the sentence introducing it, and
a short heading is attached to the paragraph below it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.documents import Article, Block

_SPACE_RE = re.compile(r"[ \t\u00a0\u2009\u202f\u3000]+")
_ITEM_RE = re.compile(r"^\s*(?:[-*\u2022\u00b7\u2013\u2014\u25aa\u25cf]|\d{1,2}[.)])\s+(?=\S)")


@dataclass(frozen=True)
class Paragraph:
    """One citable passage; ``number`` counts from 1 within its article and is stable."""

    article_id: str
    number: int
    text: str
    heading: str = ""
    headline: str = ""  # a text file's headline: searchable with its first paragraph,
    # never shown (it is the article's title already)

    @property
    def id(self) -> str:
        return f"{self.article_id}#{self.number}"

    @property
    def indexed_text(self) -> str:
        shown = f"{self.heading}\n{self.text}" if self.heading else self.text
        return f"{self.headline}\n{shown}" if self.headline else shown


def _pattern(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(alternatives), re.IGNORECASE)


_CONTACT = _pattern(
    r"^(tel|telephone|phone|fax|mobile|e-?mail|address|contact( us)?|wechat|whatsapp|"
    r"hotline|customer service)\s*[:\uff1a]",
    r"^\+?[\d\s().-]{7,}$",
)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(\.[\w-]+)+\b")
_COPYRIGHT = _pattern(
    r"\u00a9",
    r"\(c\)\s*\d{4}",
    r"\bcopyright\b",
    r"all rights reserved",
    r"ICP\s*\u5907",
    r"\blicensed under\b",
    r"creative commons",
    r"does not provide investment advice",
    r"reproduction .{0,30}(prohibited|forbidden)",
)
_COPYRIGHT_WORDS = (  # one of these is in any text _COPYRIGHT finds (in lower case)
    "\u00a9",
    "(c)",
    "copyright",
    "all rights reserved",
    "icp",
    "licensed under",
    "creative commons",
    "does not provide investment advice",
    "reproduction",
)
_TEASER = _pattern(
    r"^(read next|read more|also read|see also|related( articles| stories| coverage)?|"
    r"recommended( reading| for you)?|more from|trending( now)?|most (popular|read)|"
    r"you may also like|don'?t miss|further reading)\b",
)
_IMAGE = _pattern(
    r"^\S+\.(jpe?g|png|gif|webp|svg|bmp|tiff?|avif)(\?\S*)?$",
    r"^(images?|photos?|pictures?|illustrations?|graphics?)\s*(by|credit|courtesy|source)?\s*"
    r"[:\uff1a]",
    r"^(images?|photos?|pictures?|illustrations?) (by|credit|courtesy)\b",
    r"\bvia (shutterstock|getty images|istock|adobe stock|unsplash)\b",
    r"^(source|credit)s?\s*:\s*(getty|shutterstock|reuters|ap|afp)\b",
)
_IMAGE_STARTS = ("image", "photo", "picture", "illustration", "graphic", "source", "credit")
_SUBSCRIBE = _pattern(r"\b(subscribe|subscription|newsletter|sign up|signup|unsubscribe)\b")
_SUBSCRIBE_WORDS = ("subscri", "newsletter", "sign")
_CRUMBS = re.compile(r"^[^.!?]*(\s[>\u00bb\u203a/|]\s[^.!?]*){2,}$")
_CREDITS = _pattern(  # who reported it, where to follow them: about the page, not the news
    r"^\(?(additional )?reporting by\b",
    r"\bcontributed (reporting|to this (report|story|article))\b",
    r"^reach the (reporters?|writers?|authors?)\b",
    r"^follow (us|[@\w][\w@'\u2019 ]{0,60}) on (facebook|twitter|instagram|youtube|linkedin|x)\b",
    r"personal,? non-?commercial use",
    r"^(like this (story|article)\?|tell us what you think|an error has occurred)",
)
_CREDITS_WORDS = (
    "reporting by",
    "contributed",
    "reach the",
    "follow",
    "commercial use",
    "like this",
    "tell us what you think",
    "an error has occurred",
)
_CHROME = _pattern(
    r"^(time|date|published|updated|posted|by|author|writer|editor|source|tags?|"
    r"filed under|categor(y|ies)|share( this( article)?)?)\s*[:\uff1a]",
    r"^(advertisement|sponsored|skip to (main )?content|share|tweet|print|follow us|"
    r"back to top|links|menu|home)\s*$",
    r"^(follow|like) us on\b",
)


def _words(text: str) -> int:
    return len(text.split())


# Characters ``re.IGNORECASE`` matches to an ASCII letter other than its own lower case
# ("\u017f" long s to "s", the Kelvin sign to "k", dotless and dotted I to "i"): in
# their presence the look-ups below cannot tell a pattern cannot match.
_FOLDS_TO_ASCII = re.compile("[\u0131\u0130\u017f\u212a]")


def _mentions(lower: str, words: tuple[str, ...]) -> bool:
    return any(word in lower for word in words)


def is_boilerplate(text: str) -> bool:
    """True for text that is page furniture, not reporting, so must never be cited.

    Each pattern that searches the whole text (most are anchored) runs only when the
    text holds words it needs: searching every short paragraph with them all took 30 µs
    a paragraph, more than tokenising it (a test checks the result is the same)."""
    stripped = text.strip()
    if not any(c.isalpha() for c in stripped):
        return True  # "01", "18117862238", "***": section numbers, phone numbers, rules
    # Words counted up to 41 only (splitting a long paragraph whole cost every build).
    words = len(stripped.split(maxsplit=40))
    if words > 40:
        return False  # page furniture is short; a long paragraph is reporting (even on
        # copyright or newsletters), and checking it would cost every build dearly
    lower = stripped.lower()
    every = not lower.isascii() and bool(_FOLDS_TO_ASCII.search(stripped))
    if _CONTACT.search(stripped) or _TEASER.search(stripped):
        return True
    if (every or _mentions(lower, _COPYRIGHT_WORDS)) and _COPYRIGHT.search(stripped):
        return True
    if words <= 25:
        image = every or words == 1 or lower.startswith(_IMAGE_STARTS) or "via " in lower
        if image and _IMAGE.search(stripped):
            return True
        if "@" in stripped and _EMAIL.search(stripped):
            return True
    if (every or _mentions(lower, _SUBSCRIBE_WORDS)) and _SUBSCRIBE.search(stripped):
        return True
    crumbs = words <= 15 and not ("." in stripped or "!" in stripped or "?" in stripped)
    if crumbs and _CRUMBS.match(stripped):
        return True
    if (every or _mentions(lower, _CREDITS_WORDS)) and _CREDITS.search(stripped):
        return True
    return bool(_CHROME.search(stripped)) and words <= 15


def _looks_like_heading(text: str) -> bool:
    return (
        len(text) <= 110  # first: it spares splitting every long paragraph into words
        and _words(text) <= 14
        and not text.rstrip().endswith((".", "!", ",", ";"))
        and not _ITEM_RE.match(text)
    )


def _clean(text: str) -> str:
    text = text.strip()
    odd_spaces = (
        "  " in text
        or "\t" in text
        or "\u00a0" in text
        or "\u2009" in text
        or "\u202f" in text
        or "\u3000" in text
    )  # fmt: skip  (six memchr scans: a generator over them cost several times more)
    return _SPACE_RE.sub(" ", text) if odd_spaces else text


def _norm(text: str) -> str:
    """Text compared without case and punctuation (titles, repeated lines: short ones)."""
    if len(text) > 300:
        return text  # a long paragraph is not a repeated title; spare the regex
    return re.sub(r"\W+", " ", text.casefold()).strip()


@dataclass
class _Unit:
    kind: str  # "text", "heading", "item", "row"
    text: str


def _is_hard_wrapped(blocks: list[Block]) -> bool:
    """Plain text wrapped at a fixed width (most lines 40-100 characters, none longer)."""
    lengths = [len(b.text.strip()) for b in blocks if b.kind == "line" and b.text.strip()]
    if len(lengths) < 4 or max(lengths) > 100:
        return False
    return sum(40 <= n <= 100 for n in lengths) >= 0.6 * len(lengths)


def _units(blocks: list[Block]) -> list[_Unit]:
    """Blocks to units: kinds recognised, and hard-wrapped lines joined into paragraphs.

    Text with one paragraph a line (most scraped news) keeps each line a unit; text
    wrapped at a fixed width joins the lines of each blank-line-separated group.
    """
    wrapped = _is_hard_wrapped(blocks)
    units: list[_Unit] = []
    joinable = False  # may the next plain line continue the last unit?
    for block in blocks:
        text = _clean(block.text)
        if not text:
            joinable = False
            continue
        if block.kind != "line":
            kind = {"para": "text"}.get(block.kind, block.kind)
            if kind == "item":
                text = _ITEM_RE.sub("", text)
            units.append(_Unit(kind, text))
            joinable = False
            continue
        if text.startswith("|") and text.count("|") >= 2:
            units.append(_Unit("row", text))
            joinable = False
            continue
        text = text.lstrip("| ") if text.startswith("|") else text
        if _ITEM_RE.match(text):
            units.append(_Unit("item", _ITEM_RE.sub("", text)))
        elif (
            wrapped
            and joinable
            and units[-1].kind in ("text", "item")
            and not (_looks_like_heading(units[-1].text) and len(units[-1].text) < 40)
        ):
            units[-1].text = f"{units[-1].text} {text}"
        else:
            units.append(_Unit("text", text))
        joinable = True
    return units


def _split_cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip().strip("|").split("|")]


def _table_text(rows: list[str]) -> str:
    """A table as one line a row, each cell named by its column header."""
    header = _split_cells(rows[0])
    lines = []
    for row in rows[1:]:
        cells = _split_cells(row)
        if all(re.fullmatch(r":?-{2,}:?", c) for c in cells if c):
            continue
        named = [f"{h}: {c}" if h else c for h, c in zip(header, cells, strict=False) if c]
        lines.append("; ".join(named))
    return "\n".join(lines)


def _short_line(unit: _Unit) -> bool:
    return unit.kind == "text" and _looks_like_heading(unit.text) and not unit.text.endswith(":")


def split_paragraphs(article: Article) -> list[Paragraph]:
    units = _units(article.blocks)
    title = _norm(article.title)
    # Regroup table rows; a lone "|" line is not a table but decoration.
    merged: list[_Unit] = []
    i = 0
    while i < len(units):
        unit = units[i]
        if unit.kind == "row":
            j = i
            while j < len(units) and units[j].kind == "row":
                j += 1
            rows = [u.text for u in units[i:j]]
            if len(rows) >= 2:
                merged.append(_Unit("table", _table_text(rows)))
            else:
                text = _clean(rows[0].strip("|"))
                merged.append(_Unit("heading" if _looks_like_heading(text) else "text", text))
            i = j
            continue
        merged.append(unit)
        i += 1

    heading = ""
    previous_norm = ""
    seen_content = False
    headline = ""
    k = 0
    # (heading, text) of each paragraph, in order
    out: list[tuple[str, str]] = []
    while k < len(merged):
        unit = merged[k]
        k += 1
        norm = _norm(unit.text)
        if unit.kind == "title":
            headline, previous_norm = unit.text, norm
            continue
        if not norm or norm == previous_norm or (not seen_content and title and norm == title):
            continue  # empty, a repeated line, or the title repeated at the top
        previous_norm = norm
        if unit.kind != "table" and is_boilerplate(unit.text):
            heading = ""  # a heading over boilerplate ("Stay in touch") goes with it
            continue
        if unit.kind == "heading" or (
            unit.kind == "text"
            and _looks_like_heading(unit.text)
            and not unit.text.endswith(":")
            and k < len(merged)
            and not _short_line(merged[k])  # a run of short lines (dates, credits) is
            # text, never one long heading ("Tour Dates - June 9 - June 10 - ...")
        ):
            heading = f"{heading} - {unit.text}" if heading else unit.text
            continue
        if unit.kind == "item" or (unit.kind == "text" and unit.text.endswith(":")):
            # A list, with the sentence that introduces it when there is one.
            lines = [unit.text] if unit.kind == "text" else [f"- {unit.text}"]
            while k < len(merged) and merged[k].kind == "item":
                if not is_boilerplate(merged[k].text):
                    lines.append(f"- {merged[k].text}")
                k += 1
            text = "\n".join(lines)
        else:
            text = unit.text
        seen_content = True
        out.append((heading, text))
        heading = ""
    return [
        Paragraph(article.id, n, text, head, headline if n == 1 else "")
        for n, (head, text) in enumerate(out, start=1)
    ]


_ABBREVIATIONS = frozenset(
    """
    mr mrs ms dr prof sr jr st inc ltd co corp plc llc vs etc jan feb mar apr jun jul
    aug sep sept oct nov dec no fig gov sen rep gen col lt sgt approx est dept univ
    """.split()
)
_SENTENCE_BREAK = re.compile(
    r"(?<=[.!?])([\"'\u201d\u2019)\]]*)\s+(?=[\"'\u201c\u2018(\[]?[A-Z0-9$])"
)


def split_sentences(text: str) -> list[str]:
    """Sentences of a paragraph (list items and table rows count as sentences).

    A full stop after an abbreviation ("Inc.", "Dr.") or an initial ("J.") or inside a
    number ("$14.3") does not end a sentence.
    """
    sentences: list[str] = []
    for line in text.split("\n"):
        start = 0
        for match in _SENTENCE_BREAK.finditer(line):
            before = line[start : match.start()]
            last_word = re.split(r"[\s(]", before)[-1].rstrip(".").casefold()
            if last_word in _ABBREVIATIONS or re.fullmatch(r"(?:[a-z]\.)*[a-z]", last_word):
                continue
            sentences.append(line[start : match.start() + len(match.group(1))].strip())
            start = match.end()
        tail = line[start:].strip()
        if tail:
            sentences.append(tail)
    return [s for s in sentences if s]
