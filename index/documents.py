"""Reading article files (plain text, Markdown, HTML) into raw blocks plus metadata.

An article is one file in the corpus folder.  Metadata comes, strongest first, from the
file's own front matter (``---`` / ``key: value`` / ``---``), from the corpus manifest
``metadata.toml`` (for files one would rather not edit), and from what the file itself
says (a web page's metadata as trafilatura reads it, see ``index.html``; a text file's
headline and ``Source:`` / ``Date:`` lines, see ``index.textmeta``).  Nothing is
invented: an unknown field stays empty, and a date is an ISO date or nothing.
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from index.dates import iso_date
from index.html import HtmlBlock, load_html
from index.textmeta import header_metadata

ARTICLE_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")
MANIFEST_NAME = "metadata.toml"
META_FIELDS = ("title", "source", "date", "url")
MAX_ARTICLE_BYTES = 20 * 1024 * 1024


class CorpusError(Exception):
    """A corpus file that cannot be read; the message names the file and the reason."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason

    def __reduce__(self) -> tuple[type[CorpusError], tuple[str, str]]:
        # Sent back from worker processes: rebuilt from both fields, not the message.
        return (CorpusError, (self.path, self.reason))


@dataclass(frozen=True)
class Block:
    """A run of text as the file laid it out.

    ``kind`` is what the markup said it is ("heading", "item", "row", "para"), "title"
    for a text file's headline (searchable, never a paragraph of its own), or "line"
    when plain text leaves that to the paragraph splitter to work out.
    """

    kind: str
    text: str


LEAD_CHARS = 80


def shorten(text: str, limit: int = LEAD_CHARS) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:-\u2013\u2014")
    return f"{cut}\u2026"


def lead_title(text: str) -> str:
    """What shows an article that has no title: its lead sentence, shortened."""
    text = re.sub(r"^\s*(?:[-*\u2022]|\d{1,2}[.)])\s+", "", text)  # a list's first item
    first = re.split(r"(?<=[.!?])\s+(?=[A-Z\"\u201c])", " ".join(text.split()), maxsplit=1)[0]
    return shorten(first)


@dataclass
class Article:
    id: str
    path: Path
    title: str
    source: str
    date: str
    url: str
    blocks: list[Block]
    sha256: str
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def display_title(self) -> str:
        if self.title:
            return self.title
        lead = next((b.text for b in self.blocks if len(b.text.split()) >= 4), "")
        return lead_title(lead) if lead else self.path.name


def article_files(corpus_dir: Path) -> list[Path]:
    """The article files of a corpus, in a stable order (by relative path); hidden files
    and folders (".x", "_x") are skipped."""
    return [Path(full) for _, full in article_listing(corpus_dir)]


def article_listing(corpus_dir: Path) -> list[tuple[str, str]]:
    """(relative POSIX path, full path) of every article file, in ``article_files``'
    order.  Listed with ``os.walk`` and plain strings: at 10,000 files ``rglob`` and a
    ``relative_to`` per file took a second of every build and scan."""
    if not corpus_dir.is_dir():
        raise CorpusError(corpus_dir, "corpus folder not found")

    def unlistable(exc: OSError) -> None:
        raise CorpusError(corpus_dir, f"cannot be listed ({exc.strerror or exc})") from exc

    found: list[tuple[str, str]] = []
    top = os.fspath(corpus_dir)
    for root, folders, names in os.walk(top, onerror=unlistable):
        folders[:] = [f for f in folders if not f.startswith((".", "_"))]
        prefix = os.path.relpath(root, top).replace(os.sep, "/") + "/"
        prefix = "" if prefix == "./" else prefix
        found.extend(
            (prefix + name, os.path.join(root, name))
            for name in names
            if not name.startswith((".", "_"))
            and os.path.splitext(name)[1].lower() in ARTICLE_SUFFIXES
        )
    found.sort()
    return found


def relative_name(corpus_dir: Path, path: Path) -> str:
    """``path`` relative to the corpus, as POSIX text (what manifests and indexes key on)."""
    top, full = os.fspath(corpus_dir).rstrip(os.sep) + os.sep, os.fspath(path)
    if full.startswith(top):  # the common case, without pathlib's parsing
        return full[len(top) :].replace(os.sep, "/")
    return path.relative_to(corpus_dir).as_posix()


def article_id(corpus_dir: Path, path: Path) -> str:
    name = relative_name(corpus_dir, path)
    return name[: -len(path.suffix)] if path.suffix else name


def load_manifest(corpus_dir: Path) -> dict[str, dict[str, str]]:
    path = corpus_dir / MANIFEST_NAME
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CorpusError(path, f"cannot read the metadata manifest ({exc})") from exc
    manifest: dict[str, dict[str, str]] = {}
    for name, entry in data.items():
        if isinstance(entry, dict):
            manifest[name] = {k: str(v) for k, v in entry.items() if isinstance(v, str | int)}
    return manifest


def read_text(path: Path) -> tuple[str, str]:
    """The file's text and content hash; binary or badly encoded files are refused."""
    try:
        if path.stat().st_size > MAX_ARTICLE_BYTES:
            raise CorpusError(path, f"larger than {MAX_ARTICLE_BYTES // 2**20} MiB")
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise CorpusError(path, "the file vanished while it was being read") from exc
    except IsADirectoryError as exc:
        raise CorpusError(path, "is a folder, not a file") from exc
    except PermissionError as exc:
        raise CorpusError(path, "permission denied") from exc
    except OSError as exc:
        raise CorpusError(path, f"cannot be read ({exc.strerror or exc})") from exc
    if b"\x00" in raw[:8192]:
        raise CorpusError(path, "looks like a binary file, not text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorpusError(
            path, f"is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        ) from exc
    if "\r" in text:  # (a search for one character: far cheaper than two replaces)
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text, hashlib.sha256(raw).hexdigest()


_FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*\n", re.DOTALL)
_META_LINE_RE = re.compile(r"^(?P<key>[A-Za-z_][\w-]*)\s*:\s*(?P<value>.*)$")


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """``key: value`` front matter between ``---`` lines (a YAML subset: flat strings)."""
    match = _FRONT_MATTER_RE.match(text)
    if not match:
        return {}, text
    meta: dict[str, str] = {}
    for line in match.group(1).splitlines():
        m = _META_LINE_RE.match(line.strip())
        if m:
            meta[m.group("key").lower()] = m.group("value").strip().strip("\"'")
    return meta, text[match.end() :]


def _plain_blocks(text: str) -> list[Block]:
    return [Block("line", line) for line in text.split("\n")]


_MD_HEADING_RE = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
_MD_IMAGE_RE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK_RE = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_MD_EMPHASIS_RE = re.compile(r"(\*\*|__|\*|_|`)(?=\S)(.+?)(?<=\S)\1")


_MD_ITEM_RE = re.compile(r"^(?:[-*+]|\d{1,3}[.)])\s+\S")


def _markdown_blocks(text: str) -> list[Block]:
    """Markdown's own paragraphs: blank lines separate them, single newlines do not.

    A line reading like a list item ("2. ...") starts one only at the start of a block
    or inside a list; in the middle of a paragraph it is just text that wrapped there.
    """
    blocks: list[Block] = []
    lines: list[str] = []  # the paragraph or list item being gathered
    kind = "para"

    def flush() -> None:
        if lines:
            blocks.append(Block(kind, " ".join(lines)))
            lines.clear()

    for raw in text.split("\n"):
        line = _MD_IMAGE_RE.sub("", raw)
        line = _MD_LINK_RE.sub(r"\1", line)
        line = _MD_EMPHASIS_RE.sub(r"\2", line).strip()
        if line.startswith(">"):
            line = line.lstrip("> ").strip()
        heading = _MD_HEADING_RE.match(line)
        if not line or heading or line.startswith("|"):
            flush()
            kind = "para"
            if heading:
                blocks.append(Block("heading", heading.group(1)))
            elif line:
                blocks.append(Block("line", line))  # a table row, regrouped later
            else:
                blocks.append(Block("line", ""))
            continue
        if _MD_ITEM_RE.match(line) and (not lines or kind == "item"):
            flush()
            kind = "item"
        lines.append(line)
    flush()
    return blocks


def _text_article(text: str, markdown: bool) -> tuple[dict[str, str], list[Block]]:
    """Blocks of a text or Markdown body, with what its top lines say as metadata."""
    lines = text.split("\n")
    meta, used, headline = header_metadata(lines, markdown=markdown)
    blocks = _markdown_blocks(text) if markdown else _plain_blocks(text)
    for i in sorted(used):
        blocks[i] = Block("line", "")
    body = [i for i, b in enumerate(blocks) if b.text.strip() and i != headline and i not in used]
    if headline >= 0 and not body:
        del meta["title"]  # a one-line article: that line is its text, not its title
    elif headline >= 0:
        blocks[headline] = Block("title", meta["title"])
    return meta, blocks


def html_article(
    text: str, *, article_id: str, path: Path, url: str = "", sha256: str = ""
) -> Article:
    """An ``Article`` from an HTML page's text (a corpus file or a fetched page); ``url``
    is where it was fetched from, when known.  See ``index.html.load_html``."""
    page = load_html(text, url=url)
    return _article(article_id, path, page.meta, _html_blocks(page.blocks), sha256)


def _html_blocks(blocks: list[HtmlBlock]) -> list[Block]:
    out: list[Block] = []
    for block in blocks:
        out.append(Block(block.kind, block.text))
        out.append(Block("line", ""))
    return out


def _article(
    article_id: str, path: Path, meta: dict[str, str], blocks: list[Block], sha256: str
) -> Article:
    return Article(
        id=article_id,
        path=path,
        title=meta.get("title", ""),
        source=meta.get("source", ""),
        date=meta.get("date", ""),
        url=meta.get("url", ""),
        blocks=blocks,
        sha256=sha256,
        extra={k: v for k, v in meta.items() if k not in META_FIELDS},
    )


def load_article(
    corpus_dir: Path, path: Path, manifest: dict[str, dict[str, str]] | None = None
) -> Article:
    """One corpus file as an article; ``CorpusError`` names the file when it cannot be read."""
    text, digest = read_text(path)
    suffix = path.suffix.lower()
    front: dict[str, str] = {}
    if suffix in (".html", ".htm"):
        page = load_html(text)
        meta, blocks = page.meta, _html_blocks(page.blocks)
    else:
        front, body = split_front_matter(text)
        meta, blocks = _text_article(body, markdown=suffix in (".md", ".markdown"))
    rel = relative_name(corpus_dir, path)
    for stronger in ((manifest or {}).get(rel, {}), front):
        meta.update({k: v for k, v in stronger.items() if v})
    if meta.get("date"):
        meta["date"] = iso_date(meta["date"])  # a date that names no day is no date
    return _article(article_id(corpus_dir, path), path, meta, blocks, digest)


def iter_articles(corpus_dir: Path) -> Iterator[Article]:
    """Every article of the corpus; the first unreadable file raises ``CorpusError``."""
    manifest = load_manifest(corpus_dir)
    for path in article_files(corpus_dir):
        yield load_article(corpus_dir, path, manifest)
