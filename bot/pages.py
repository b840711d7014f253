"""Adding a web page to the corpus by its URL, as an ``.html`` file like any other.

The corpus folder stays the single source of truth: the page is fetched (``bot.fetch``),
read by the very loader that reads HTML files in the corpus (so it is extracted exactly
as a dropped-in file would be), and stored as ``<host>-<slug>-<hash>.html`` with its
canonical URL, when it was fetched and from which feed in ``metadata.toml``.  The index,
``/source`` and the digest then treat it like any other article.  A page already in the
corpus (same canonical URL, or the same text) is not added twice unless forced.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from charset_normalizer import from_bytes

from bot.fetch import Fetcher, FetchError, check_scheme
from index.documents import MANIFEST_NAME, Article, CorpusError, load_article

HTML_TYPES = ("text/html", "application/xhtml+xml")
ACCEPT_HTML = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"
_TRACKING = re.compile(r"^(utm_\w+|fbclid|gclid|dclid|mc_cid|mc_eid|_ga|igshid)$", re.IGNORECASE)
_LOCK = threading.Lock()  # one writer at a time in this process; flock between processes


@dataclass(frozen=True)
class Hints:
    """What a feed entry says about its page, used only where the page itself is silent."""

    title: str = ""
    date: str = ""
    source: str = ""
    feed: str = ""  # the feed's URL, recorded with the article


@dataclass(frozen=True)
class Added:
    status: str  # "added", "refreshed" or "duplicate"
    url: str  # canonical
    file: str  # the file's name in the corpus
    title: str

    @property
    def message(self) -> str:
        title = self.title or self.url
        if self.status == "duplicate":
            return f"already in the corpus: {title} ({self.file}); --force refreshes it"
        return f"{self.status} {title} ({self.file})"


def canonical_url(url: str) -> str:
    """The form two links to one article share: lower-case scheme and host, no default
    port, no fragment, no tracking parameters (``utm_*``, ``fbclid``...)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port and port != {"http": 80, "https": 443}.get(scheme):
        host += f":{port}"
    query = urlencode(
        [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not _TRACKING.match(k)
        ]
    )
    return urlunsplit((scheme, host, parts.path or "/", query, ""))


def text_fingerprint(article: Article) -> str:
    """A hash of the extracted text, whitespace-insensitive: the same story at two URLs."""
    words = " ".join(" ".join(b.text.split()) for b in article.blocks if b.text.strip())
    return hashlib.sha256(words.casefold().encode()).hexdigest()


def file_name(url: str) -> str:
    """``example.com-meta-delays-avocado-1a2b3c4d.html``: readable, stable for the URL."""
    parts = urlsplit(url)
    host = re.sub(r"[^a-z0-9.-]", "", (parts.hostname or "page").lower().removeprefix("www."))
    segments = [s for s in parts.path.split("/") if s]
    slug = re.sub(r"\.[a-z0-9]{2,5}$", "", segments[-1].lower()) if segments else ""
    slug = re.sub(r"[^a-z0-9]+", "-", slug).strip("-")[:60].strip("-")
    digest = hashlib.sha256(url.encode()).hexdigest()[:8]
    return "-".join(x for x in (host.strip(".-") or "page", slug, digest) if x) + ".html"


_META_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_-]+)""", re.IGNORECASE)


def decode_page(body: bytes, charset: str) -> str | None:
    """The page's text: the header's charset, else the page's own ``<meta charset>``, else
    charset_normalizer's guess; None for bytes that are no text at all."""
    if b"\x00" in body[:8192]:
        return None
    declared = _META_CHARSET.search(body[:4096])
    for name in (charset, declared.group(1).decode("ascii") if declared else ""):
        if name:
            try:
                return body.decode(name)
            except (LookupError, UnicodeDecodeError):
                continue
    best = from_bytes(body).best()
    return str(best) if best is not None else None


def extract(html: str) -> Article:
    """The article as the corpus loader reads an HTML file (whatever extractor it uses)."""
    with tempfile.TemporaryDirectory(prefix="citebot-page-") as tmp:
        path = Path(tmp) / "page.html"
        path.write_text(html, encoding="utf-8")
        return load_article(Path(tmp), path)


class PageAdder:
    """Adds pages to one corpus folder; safe to share between threads and processes."""

    def __init__(
        self,
        corpus: Path,
        fetcher: Fetcher,
        *,
        clock: Callable[[], float] = time.time,
        indexed: Callable[[], dict[str, tuple[str, str]]] | None = None,
    ) -> None:
        self.corpus = corpus
        self.fetcher = fetcher
        self.clock = clock
        self.indexed = indexed  # article id -> (URL, title) of every indexed article
        self._cache: tuple[tuple[int, int, int], dict[str, dict[str, str]]] | None = None
        self._cache_lock = threading.Lock()

    def add(self, url: str, *, force: bool = False, hints: Hints | None = None) -> Added:
        """Fetch ``url`` and store it; raises ``FetchError`` with a one-line reason."""
        url = url.strip().strip("<>")
        check_scheme(url)
        hints = hints or Hints()
        requested = canonical_url(url)
        if not force:
            known = self._known(requested)
            if known is not None:
                return known
        response = self.fetcher.get(url, accept=ACCEPT_HTML)
        self._check_type(url, response.content_type, response.body)
        html = decode_page(response.body, response.charset)
        if html is None:
            raise FetchError(url, "looks like a binary file, not text")
        try:
            article = extract(html)
        except CorpusError as exc:  # e.g. binary content behind a text/html header
            raise FetchError(url, exc.reason) from None
        if not any(b.text.strip() for b in article.blocks):
            raise FetchError(url, "no article text found on the page")
        canonical = canonical_url(response.url)
        if article.url:
            declared = urljoin(response.url, article.url)
            if urlsplit(declared).scheme in ("http", "https"):
                canonical = canonical_url(declared)
        fingerprint = text_fingerprint(article)
        try:
            return self._store(url, canonical, html, article, fingerprint, hints, force)
        except OSError as exc:
            raise FetchError(
                url, f"cannot store it in {self.corpus} ({exc.strerror or exc})"
            ) from None

    def _check_type(self, url: str, content_type: str, body: bytes) -> None:
        if content_type in HTML_TYPES:
            return
        if not content_type and body.lstrip()[:1] == b"<":
            return  # no Content-Type: markup is taken for a page
        kind = {
            "application/pdf": "a PDF",
            "application/json": "JSON",
            "text/plain": "plain text",
        }.get(content_type, "")
        if not kind and content_type.startswith(("image/", "video/", "audio/")):
            kind = (
                f"an {content_type.partition('/')[0]}"
                if content_type[0] in "aeiou"
                else (f"a {content_type.partition('/')[0]}")
            )
        if content_type in ("application/rss+xml", "application/atom+xml"):
            kind = "a feed (use `feeds add` to follow it)"
        what = f"{kind} ({content_type})" if kind else (content_type or "of no stated type")
        raise FetchError(url, f"is {what}, not a web page")

    def _known(self, *urls: str) -> Added | None:
        """The article already in the corpus at one of ``urls`` (canonical), if any."""
        indexed = self.indexed() if self.indexed is not None else {}
        for name, entry in self._manifest().items():
            known = {canonical_url(entry[k]) for k in ("url", "fetched_url") if entry.get(k)}
            if known & set(urls) and (self.corpus / name).exists():  # not if deleted
                title = entry.get("title") or self._title(name)
                return Added("duplicate", entry.get("url", urls[0]), name, title)
        for article_id, (url, title) in indexed.items():
            if url and canonical_url(url) in urls:
                return Added("duplicate", url, article_id, title)
        return None

    def _title(self, name: str) -> str:
        """The title of an article already stored, as the corpus loader reads it."""
        try:
            return load_article(self.corpus, self.corpus / name).title
        except CorpusError:
            return ""

    def _manifest(self) -> dict[str, dict[str, str]]:
        """The manifest's tables, parsed again only when the file changed (a feed poll
        looks it up several times for each of its pages)."""
        path = self.corpus / MANIFEST_NAME
        try:
            st = path.stat()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise CorpusError(path, f"cannot read the metadata manifest ({exc})") from None
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
        with self._cache_lock:
            if self._cache is not None and self._cache[0] == key:
                return self._cache[1]
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise CorpusError(path, f"cannot read the metadata manifest ({exc})") from None
        tables = {
            k: {a: str(b) for a, b in v.items()} for k, v in data.items() if isinstance(v, dict)
        }
        with self._cache_lock:
            self._cache = (key, tables)
        return tables

    def _remember(self, path: Path, tables: dict[str, dict[str, str]]) -> None:
        """The manifest just written, so the next look-up need not parse it again."""
        st = path.stat()
        with self._cache_lock:
            self._cache = ((st.st_ino, st.st_size, st.st_mtime_ns), tables)

    def _store(
        self,
        url: str,
        canonical: str,
        html: str,
        article: Article,
        fingerprint: str,
        hints: Hints,
        force: bool,
    ) -> Added:
        with _corpus_lock(self.corpus):
            manifest = self._manifest()
            same_url = self._known(canonical, canonical_url(url))
            if same_url is not None and not force:
                return same_url
            for name, entry in manifest.items():
                if (
                    entry.get("text_sha256") == fingerprint
                    and not force
                    and (self.corpus / name).exists()
                ):
                    return Added("duplicate", entry.get("url", canonical), name, article.title)
            existing = same_url.file if same_url is not None and same_url.file in manifest else ""
            name = existing or file_name(canonical)
            title = article.title or hints.title
            entry = {"url": canonical}
            if not article.title and hints.title:
                entry["title"] = hints.title
            if not article.date and hints.date:
                entry["date"] = hints.date
            if not article.source:
                entry["source"] = hints.source or (urlsplit(canonical).hostname or "").removeprefix(
                    "www."
                )
            if canonical_url(url) != canonical:
                entry["fetched_url"] = url
            entry["fetched_at"] = datetime.fromtimestamp(self.clock(), UTC).isoformat(
                timespec="seconds"
            )
            if hints.feed:
                entry["feed"] = hints.feed
            entry["text_sha256"] = fingerprint
            self.corpus.mkdir(parents=True, exist_ok=True)
            path = self.corpus / MANIFEST_NAME
            _write_manifest_entry(path, name, entry, known=name in manifest)
            self._remember(path, {**manifest, name: entry})
            _write_atomically(self.corpus / name, html)
        return Added("refreshed" if existing else "added", canonical, name, title)


@contextlib.contextmanager
def _corpus_lock(corpus: Path) -> Iterator[None]:
    corpus.mkdir(parents=True, exist_ok=True)
    with _LOCK, open(corpus / ".citebot.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _write_manifest_entry(path: Path, name: str, entry: dict[str, str], *, known: bool) -> None:
    """Replace (or add) ``name``'s table in the manifest, keeping everything else as it is
    (comments too).  Only tables written the way citebot writes them are replaced."""
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    header = f"[{json.dumps(name, ensure_ascii=False)}]"
    kept: list[str] = []
    skipping = found = False
    for line in old.split("\n"):
        if line.strip() == header:
            skipping = found = True
            continue
        if skipping and (not line.strip() or line.lstrip().startswith(("[", "#"))):
            skipping = False  # our tables are written without blank lines or comments
        if not skipping:
            kept.append(line)
    body = "\n".join(f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in entry.items())
    if known and not found:
        raise OSError(f"{path}: the table for {name} is not written as {header}; edit it by hand")
    fragment = f"{header}\n{body}\n"
    try:
        tomllib.loads(fragment)
    except tomllib.TOMLDecodeError as exc:  # pragma: no cover - JSON strings are TOML strings
        raise OSError(f"{path}: cannot write the table for {name} ({exc})") from None
    new = "\n".join(kept).rstrip("\n") + f"\n\n{fragment}"
    _write_atomically(path, new.lstrip("\n"))
