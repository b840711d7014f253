"""Reading article files (plain text, Markdown, HTML) into raw blocks plus metadata.

An article is one file in the corpus folder.  Metadata comes, strongest first, from the
file's own front matter (``---`` / ``key: value`` / ``---``), from the corpus manifest
``metadata.toml`` (for files one would rather not edit), and from what the file itself
says (an HTML ``<title>``, a ``Date: 2025-12-22`` line).  Nothing is invented: an
unknown field stays empty.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bs4 import BeautifulSoup, Tag

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


@dataclass(frozen=True)
class Block:
    """A run of text as the file laid it out.

    ``kind`` is what the markup said it is ("heading", "item", "row", "para") or "line"
    when plain text leaves that to the paragraph splitter to work out.
    """

    kind: str
    text: str


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
        return self.title or f"Untitled article {self.id}"


def article_files(corpus_dir: Path) -> list[Path]:
    """The article files of a corpus, in a stable order; hidden files are skipped."""
    if not corpus_dir.is_dir():
        raise CorpusError(corpus_dir, "corpus folder not found")
    files = [
        p
        for p in corpus_dir.rglob("*")
        if p.suffix.lower() in ARTICLE_SUFFIXES
        and not any(part.startswith((".", "_")) for part in p.relative_to(corpus_dir).parts)
    ]
    return sorted(files, key=lambda p: p.relative_to(corpus_dir).as_posix())


def article_id(corpus_dir: Path, path: Path) -> str:
    return path.relative_to(corpus_dir).with_suffix("").as_posix()


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
    return text.replace("\r\n", "\n").replace("\r", "\n"), hashlib.sha256(raw).hexdigest()


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


_DATE_LINE_RE = re.compile(
    r"^(?:date|time|published|updated|posted)\s*:\s*(\d{4}-\d{2}-\d{2})\b", re.IGNORECASE
)


def _date_from_text(lines: list[str]) -> str:
    for line in lines[:12]:
        m = _DATE_LINE_RE.match(line.strip())
        if m:
            return m.group(1)
    return ""


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


_HTML_DROP = (
    "script style noscript nav header footer aside form iframe svg figure figcaption "
    "button template select"
).split()
_HTML_BLOCKS = {"p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "tr"}
_BOILERPLATE_CLASS_RE = re.compile(
    r"(^|[-_ ])(nav|menu|breadcrumb|footer|header|sidebar|share|social|related|newsletter|"
    r"subscribe|promo|advert|ad|cookie|comments?|byline-share)([-_ ]|$)",
    re.IGNORECASE,
)


def _meta_content(soup: BeautifulSoup, *names: str) -> str:
    for name in names:
        tag = soup.find("meta", attrs={"property": name}) or soup.find("meta", attrs={"name": name})
        if isinstance(tag, Tag) and tag.get("content"):
            return str(tag["content"]).strip()
    return ""


def _main_element(soup: BeautifulSoup) -> Tag:
    """The element holding the article: <article>, <main>, else the densest text container."""
    for tag_name in ("article", "main"):
        candidates = [t for t in soup.find_all(tag_name) if isinstance(t, Tag)]
        if candidates:
            return max(candidates, key=lambda t: len(t.get_text(" ", strip=True)))
    best: Tag | None = None
    best_length = 0
    for p in soup.find_all("p"):
        parent = p.parent
        if not isinstance(parent, Tag):
            continue
        paragraphs = parent.find_all("p", recursive=False)
        length = sum(len(c.get_text(" ", strip=True)) for c in paragraphs)
        if length > best_length:
            best, best_length = parent, length
    body = soup.body
    return best or (body if isinstance(body, Tag) else soup)


def _html_article(text: str) -> tuple[dict[str, str], list[Block]]:
    soup = BeautifulSoup(text, "html.parser")
    meta = {
        "title": _meta_content(soup, "og:title", "twitter:title")
        or (soup.title.get_text(strip=True) if soup.title else ""),
        "source": _meta_content(soup, "og:site_name", "application-name"),
        "date": _meta_content(soup, "article:published_time", "date", "pubdate")[:10],
        "url": _meta_content(soup, "og:url"),
    }
    canonical = soup.find("link", rel="canonical")
    if not meta["url"] and isinstance(canonical, Tag) and canonical.get("href"):
        meta["url"] = str(canonical["href"])
    main = _main_element(soup)
    if not meta["date"]:
        time_tag = main.find("time") or soup.find("time")
        if isinstance(time_tag, Tag) and time_tag.get("datetime"):
            meta["date"] = str(time_tag["datetime"])[:10]
    for tag in main.find_all(_HTML_DROP):
        tag.decompose()
    for tag in main.find_all(True):
        if tag.decomposed or not isinstance(tag, Tag) or tag.attrs is None:
            continue
        classes = " ".join(tag.get("class") or []) + " " + str(tag.get("id") or "")
        if tag.name not in ("html", "body", "article", "main") and _BOILERPLATE_CLASS_RE.search(
            classes
        ):
            tag.decompose()
    blocks: list[Block] = []
    for tag in main.find_all(_HTML_BLOCKS):
        if tag.find_parent(_HTML_BLOCKS - {"tr"}) is not None and tag.name != "tr":
            continue  # nested: its text is read with the outer block
        content = " ".join(tag.get_text(" ", strip=True).split())
        if not content:
            continue
        if tag.name in ("h1", "h2", "h3", "h4", "h5", "h6"):
            blocks.append(Block("heading", content))
        elif tag.name == "li":
            blocks.append(Block("item", content))
        elif tag.name == "tr":
            cells = [
                " ".join(c.get_text(" ", strip=True).split()) for c in tag.find_all(["th", "td"])
            ]
            blocks.append(Block("row", "| " + " | ".join(cells) + " |"))
        else:
            blocks.append(Block("para", content))
        blocks.append(Block("line", ""))
    return {k: v for k, v in meta.items() if v}, blocks


def load_article(
    corpus_dir: Path, path: Path, manifest: dict[str, dict[str, str]] | None = None
) -> Article:
    text, digest = read_text(path)
    suffix = path.suffix.lower()
    front: dict[str, str] = {}
    if suffix in (".html", ".htm"):
        meta, blocks = _html_article(text)
    else:
        front, body = split_front_matter(text)
        blocks = _markdown_blocks(body) if suffix in (".md", ".markdown") else _plain_blocks(body)
        date = _date_from_text([b.text for b in blocks])
        meta = {"date": date} if date else {}
    rel = path.relative_to(corpus_dir).as_posix()
    for stronger in ((manifest or {}).get(rel, {}), front):
        meta.update({k: v for k, v in stronger.items() if v})
    return Article(
        id=article_id(corpus_dir, path),
        path=path,
        title=meta.get("title", ""),
        source=meta.get("source", ""),
        date=meta.get("date", ""),
        url=meta.get("url", ""),
        blocks=blocks,
        sha256=digest,
        extra={k: v for k, v in meta.items() if k not in META_FIELDS},
    )


def iter_articles(corpus_dir: Path) -> Iterator[Article]:
    """Every article of the corpus; the first unreadable file raises ``CorpusError``."""
    manifest = load_manifest(corpus_dir)
    for path in article_files(corpus_dir):
        yield load_article(corpus_dir, path, manifest)
