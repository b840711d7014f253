"""Reading a web page into the article it holds: trafilatura finds the text and metadata.

trafilatura is the field's maintained extractor (text outside ``<p>``, ``<br>`` runs,
teaser cards and comment boxes are its daily work); ``favor_precision`` measured best on
the html-bench pages (``bench/extraction.py``).  What it returns is turned into citebot's
blocks (heading, paragraph, list item, table row) for the paragraph splitter, which then
drops what is still page furniture.  ``load_html`` is the one entry point: corpus files
and fetched pages go through exactly the same code.
"""

from __future__ import annotations

import copy
import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import lxml.html
from lxml import etree

from index.dates import date_from_url, iso_date

if TYPE_CHECKING:
    from trafilatura.settings import Document

log = logging.getLogger(__name__)

# trafilatura logs every page it finds too short or unparsable at WARNING/ERROR level;
# citebot reports those pages itself (an article without paragraphs is a problem).
logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
logging.getLogger("htmldate").setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class HtmlBlock:
    """A run of text as the page laid it out: "heading", "para", "item" or "row"."""

    kind: str
    text: str


@dataclass
class HtmlPage:
    """What a page says about itself, and its text as blocks."""

    blocks: list[HtmlBlock]
    meta: dict[str, str] = field(default_factory=dict)  # title, source, date, url, author


def _text(element: etree._Element) -> str:
    """An element's text with ``<lb/>`` kept as a line break, spaces folded."""
    parts: list[str] = []

    def walk(el: etree._Element) -> None:
        if el.tag == "lb":
            parts.append("\n")
        elif el.text:
            parts.append(el.text)
        for child in el:
            walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(element)
    lines = (" ".join(line.split()) for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line)


def _is_layout_table(rows: list[list[str]]) -> bool:
    """A table used to lay out text (one column, or cells holding whole paragraphs),
    which must be read as paragraphs, not as "Header: cell" rows."""
    widths = {len(row) for row in rows}
    if max(widths, default=0) <= 1 or len(rows) < 2:
        return True
    return any(len(cell.split()) > 25 for row in rows for cell in row)


def _table_blocks(table: etree._Element) -> list[HtmlBlock]:
    rows = [
        [t for t in (_text(cell).replace("\n", " ") for cell in row.iter("cell")) if t]
        for row in table.iter("row")
    ]
    rows = [row for row in rows if row]
    if _is_layout_table(rows):
        return [HtmlBlock("para", cell) for row in rows for cell in row]
    return [HtmlBlock("row", "| " + " | ".join(row) + " |") for row in rows]


def _loose(text: str | None) -> list[HtmlBlock]:
    """Text between the blocks (a ``<br>`` run in a ``<div>`` keeps no element of its own)."""
    lines = (" ".join(line.split()) for line in (text or "").split("\n"))
    return [HtmlBlock("para", line) for line in lines if line]


def _body_blocks(body: etree._Element) -> list[HtmlBlock]:
    blocks: list[HtmlBlock] = _loose(body.text)
    for element in body:
        blocks.extend(_element_blocks(element))
        blocks.extend(_loose(element.tail))
    return blocks


def _element_blocks(element: etree._Element) -> list[HtmlBlock]:
    tag = element.tag
    if tag == "head":
        text = _text(element).replace("\n", " ")
        return [HtmlBlock("heading", text)] if text else []
    if tag == "list":
        items = (_text(item).replace("\n", " ") for item in element.iter("item"))
        return [HtmlBlock("item", text) for text in items if text]
    if tag == "table":
        return _table_blocks(element)
    if tag in ("div", "body"):
        return _body_blocks(element)
    # p, quote, code and the like: each line of a <br> run is a paragraph
    return [HtmlBlock("para", line) for line in _text(element).split("\n") if line]


def _page_url(tree: lxml.html.HtmlElement) -> str:
    """The page's own address: its canonical link, else ``og:url``."""
    for xpath in (
        '//link[@rel="canonical"]/@href',
        '//meta[@property="og:url"]/@content',
        '//meta[@name="twitter:url"]/@content',
    ):
        for value in tree.xpath(xpath):
            value = str(value).strip()
            if re.match(r"https?://", value):
                return value
    return ""


SHORT_WORDS = 150  # below this, precision mode may have missed the article

_DATE_PARAMS = {"extensive_search": True, "original_date": True, "outputformat": "%Y-%m-%d"}


def _extract(
    tree: lxml.html.HtmlElement, url: str, *, favor_precision: bool = False
) -> Document | None:
    import trafilatura  # a tenth of a second to import: only when a page is read
    from trafilatura.settings import Document

    result = trafilatura.bare_extraction(
        copy.deepcopy(tree),  # trafilatura prunes the tree it is given
        url=url or None,
        favor_precision=favor_precision,
        include_comments=False,
        include_tables=True,
        with_metadata=True,
        date_extraction_params=_DATE_PARAMS,
    )
    return result if isinstance(result, Document) else None


def _words(document: Document | None) -> int:
    return len(str(document.text or "").split()) if document is not None else 0


def load_html(text: str, url: str = "") -> HtmlPage:
    """The article in an HTML page: its blocks and metadata (title, source, date, url,
    author).  ``url`` is where the page was fetched from, when known; it helps find the
    date and is the article's URL when the page names none.  Never raises on bad markup:
    a page with no article text gives no blocks."""
    try:
        try:
            tree = lxml.html.fromstring(text)
        except ValueError:  # an XML declaration naming an encoding: parse the bytes
            tree = lxml.html.fromstring(text.encode("utf-8"))
    except (etree.ParserError, ValueError):  # empty, or not markup at all
        return HtmlPage([])
    page_url = _page_url(tree)
    document = _extract(tree, url or page_url, favor_precision=True)
    if _words(document) < SHORT_WORDS:
        # Precision mode sometimes keeps only a paywall note or a teaser of a page whose
        # article is plainly there: then the balanced mode's much longer text is the one.
        balanced = _extract(tree, url or page_url)
        if _words(balanced) >= 3 * max(_words(document), 1):
            document = balanced
    if document is None:
        return HtmlPage([], {"url": url or page_url} if url or page_url else {})
    address = url or page_url or str(document.url or "")
    date = iso_date(str(document.date or ""))
    from_url = date_from_url(address)
    if from_url and not date.startswith(from_url):
        date = from_url if len(from_url) == 10 else ""  # the address is the stronger word
    meta = {
        "title": str(document.title or "").strip(),
        "source": str(document.sitename or "").strip(),
        "date": date,
        "url": address,
        "author": str(document.author or "").strip(),
    }
    body = document.body
    blocks = _body_blocks(body) if body is not None else []
    return HtmlPage(blocks, {k: v for k, v in meta.items() if v})
