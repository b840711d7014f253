"""A built index, loaded: term look-ups, BM25 search, and paragraphs read on demand.

The arrays are memory-mapped (never a pickle) and the paragraph texts stay on disk until
cited, so loading is quick and serving memory follows what questions touch.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from index import bm25, postings, segments
from index.integrity import verify
from index.texts import DICTIONARY, TEXT_BLOCK, Unpacker

INDEX_FORMAT = 10
TEXTS = "paragraphs.zst"  # paragraphs as JSON lines, zstd blocks of TEXT_BLOCK within articles
_ARRAYS = (*postings.ARRAYS, "doc_len", "indptr", "max_weight", "blk_max")  # a segment's postings


@dataclass(frozen=True)
class ArticleInfo:
    id: str
    title: str
    source: str
    date: str
    url: str
    path: str
    sha256: str
    first_paragraph: int  # index of its first paragraph in the whole index
    paragraph_count: int
    size: int = 0  # the file's size and modification time when it was read: an
    mtime_ns: int = 0  # unchanged file is not read (or tokenised) again
    lead: str = ""  # the lead sentence, shortened: what shows an article without a title

    @property
    def display_title(self) -> str:
        return self.title or self.lead or Path(self.path).name


@dataclass(frozen=True)
class Passage:
    """A stored paragraph: ``number`` counts from 1 within the article."""

    index: int
    article_id: str
    number: int
    heading: str
    text: str

    @property
    def id(self) -> str:
        return f"{self.article_id}#{self.number}"


class _Segment:
    """One segment's stored paragraphs: its articles in file order, which paragraph is
    whose, and where each compressed block is.  ``prefix`` names its files."""

    def __init__(self, directory: Path, prefix: str, base: int, unpack: Unpacker) -> None:
        self.base = base
        infos = json.loads((directory / f"{prefix}articles.json").read_text(encoding="utf-8"))
        self.infos = [ArticleInfo(**a) for a in infos]
        self.offsets = np.asarray(np.load(directory / f"{prefix}offsets.npy", mmap_mode="r"))
        self.article_of = np.asarray(np.load(directory / f"{prefix}article_of.npy", mmap_mode="r"))
        self.firsts = [a.first_paragraph - base for a in self.infos]
        self.first_block = np.cumsum(
            [0] + [-(-a.paragraph_count // TEXT_BLOCK) for a in self.infos]
        ).tolist()
        self.file = open(directory / f"{prefix}{TEXTS}", "rb")  # noqa: SIM115 (kept open)
        self._unpack = unpack
        # An answer reads a few dozen paragraphs: keep their blocks unpacked for a while.
        self.block_lines = lru_cache(maxsize=256)(self._read_block)

    def pread(self, start: int, end: int) -> bytes:
        # pread: no shared file position, so answering threads cannot race.
        return os.pread(self.file.fileno(), end - start, start)

    def _read_block(self, block: int) -> list[bytes]:
        start, end = int(self.offsets[block]), int(self.offsets[block + 1])
        return self._unpack(self.pread(start, end)).splitlines()

    def stored_text(self, article: int) -> tuple[bytes, list[int]]:
        first, end = self.first_block[article], self.first_block[article + 1]
        bounds = self.offsets[first : end + 1].tolist()
        return self.pread(bounds[0], bounds[-1]), [b - a for a, b in itertools.pairwise(bounds)]


class SearchIndex:
    """A loaded index: term lookups, BM25 search, and paragraphs read from disk on demand.

    A build is one segment, or (after a small change, ``index.segments``) that segment
    with some of its paragraphs deleted plus a small delta segment whose paragraph ids
    follow its own: ids are then not contiguous (``paragraph_ids``), ``size`` counts the
    live paragraphs, and the collection statistics are those of the live ones.
    """

    def __init__(self, directory: Path, *, verify_all: bool = False) -> None:
        verify(directory, full=verify_all)  # DamagedIndex before anything is misread
        self.directory = directory
        self.meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
        if self.meta.get("format") != INDEX_FORMAT:
            raise ValueError(f"{directory}: index format {self.meta.get('format')} is not ours")
        terms: list[str] = json.loads((directory / "vocab.json").read_text(encoding="utf-8"))
        self.terms = terms
        self.vocab = {term: i for i, term in enumerate(terms)}
        self.text_dictionary = (directory / DICTIONARY).read_bytes()
        unpack = Unpacker(self.text_dictionary)
        self.main_bm25 = load_bm25(directory, "", self.meta)
        self._segments = [_Segment(directory, "", 0, unpack)]
        delta = self.meta.get("delta")
        self.bm25: bm25.BM25Index | segments.SegmentedBM25 = self.main_bm25
        removed: set[int] = set()
        if delta:
            self.bm25 = segments.load(directory, self.meta, self.main_bm25, load_bm25)
            self._segments.append(_Segment(directory, "d.", int(delta["base"]), unpack))
            removed = set(delta["removed"])
        self.articles: dict[str, ArticleInfo] = {}
        for number, info in enumerate(self._segments[0].infos):
            if number not in removed:
                self.articles[info.id] = info
        for segment in self._segments[1:]:
            for info in segment.infos:
                self.articles[info.id] = info

    def close(self) -> None:
        for segment in self._segments:
            segment.file.close()

    @property
    def main_size(self) -> int:
        """Paragraph ids below this are the main segment's (deleted ones included)."""
        return self.main_bm25.n_docs

    def paragraph_ids(self) -> Iterator[int]:
        """Every live paragraph's id, in order."""
        for info in sorted(self.articles.values(), key=lambda a: a.first_paragraph):
            yield from range(info.first_paragraph, info.first_paragraph + info.paragraph_count)

    @property
    def corpus_hash(self) -> str:
        return str(self.meta["corpus_hash"])

    @property
    def size(self) -> int:
        """The live paragraphs: N in the BM25 formula."""
        return int(self.meta["paragraphs"])

    def idf(self, term: str) -> float:
        """The term's IDF; an unseen term gets the IDF of a term in no paragraph at all."""
        term_id = self.vocab.get(term)
        if term_id is None or self.doc_freq(term) == 0:
            return float(np.log((self.size + 0.5) / 0.5))
        return float(self.bm25.idf[term_id])

    def doc_freq(self, term: str) -> int:
        term_id = self.vocab.get(term)
        if term_id is None:
            return 0
        return int(self.bm25.indptr[term_id + 1] - self.bm25.indptr[term_id])

    def _term_ids(self, terms: list[str]) -> list[int]:
        return [self.vocab[t] for t in terms if t in self.vocab]

    def scores(self, terms: list[str]) -> np.ndarray:
        """Every paragraph's BM25 score (a full scan: for tests and checks)."""
        return self.bm25.all_scores(self._term_ids(terms))

    def search(self, terms: list[str], k: int = 10) -> list[tuple[int, float]]:
        """The k best paragraphs for the query terms as (paragraph index, score)."""
        if not terms or self.size == 0:
            return []
        return self.bm25.top_k(self._term_ids(terms), k) or self.matching(terms, k)

    def matching(self, terms: list[str], k: int = 10) -> list[tuple[int, float]]:
        """Paragraphs by how many distinct query terms they hold.

        The fallback when every BM25 score is 0: in a corpus of a handful of paragraphs
        rank_bm25's IDF is 0 for a term in exactly half of them and tiny above that.
        """
        counts = np.zeros(self.bm25.n_docs, np.float64)
        for term in set(self._term_ids(terms)):
            counts[self.bm25.term_postings(term)[0]] += 1.0
        counts[~np.isfinite(self.bm25.norm)] = 0.0  # deleted paragraphs
        candidates = np.flatnonzero(counts)
        order = np.lexsort((candidates, -counts[candidates]))[:k]
        return [(int(candidates[i]), float(counts[candidates[i]])) for i in order]

    def stored_text(self, article: int) -> tuple[bytes, list[int]]:
        """A main-segment article's paragraphs as stored (compressed blocks), and the
        blocks' sizes (``article``: its place in the main segment)."""
        return self._segments[0].stored_text(article)

    @property
    def main_articles(self) -> list[ArticleInfo]:
        """The main segment's articles in its order, removed ones included."""
        return self._segments[0].infos

    @property
    def delta_articles(self) -> list[ArticleInfo]:
        return self._segments[1].infos if len(self._segments) > 1 else []

    def delta_text(self, article: int) -> tuple[bytes, list[int]]:
        """A delta article's stored paragraphs (``article``: its place in the delta)."""
        return self._segments[1].stored_text(article)

    def main_article_number(self, index: int) -> int:
        """The place in the main segment of the article holding paragraph ``index``."""
        return int(self._segments[0].article_of[index])

    def _locate(self, index: int) -> tuple[_Segment, int, int]:
        segment = self._segments[-1] if index >= self._segments[-1].base else self._segments[0]
        local = index - segment.base
        return segment, local, int(segment.article_of[local])

    def passage(self, index: int) -> Passage:
        segment, local, article = self._locate(index)
        within = local - segment.firsts[article]
        lines = segment.block_lines(segment.first_block[article] + within // TEXT_BLOCK)
        record = json.loads(lines[within % TEXT_BLOCK])
        info = segment.infos[article]
        return Passage(index, info.id, record["n"], record["h"], record["t"])

    def article_of(self, index: int) -> ArticleInfo:
        segment, _, article = self._locate(index)
        return segment.infos[article]

    def passages_of(self, article_id: str) -> Iterator[Passage]:
        info = self.articles[article_id]
        for i in range(info.first_paragraph, info.first_paragraph + info.paragraph_count):
            yield self.passage(i)

    def find_article(self, reference: str) -> ArticleInfo | None:
        """An article by id, unique id prefix, or unique title fragment (case-insensitive)."""
        ref = reference.strip()
        if ref in self.articles:
            return self.articles[ref]
        folded = ref.casefold()
        for key in (
            lambda a: a.id.casefold().startswith(folded),
            lambda a: folded in a.title.casefold(),
        ):
            found = [a for a in self.articles.values() if key(a)]
            if len(found) == 1:
                return found[0]
        return None


def load_bm25(directory: Path, prefix: str, meta: dict[str, Any]) -> bm25.BM25Index:
    """A segment's postings, memory-mapped (``prefix`` names its files), scored with the
    index's collection statistics (a main segment alone: its own)."""
    # Memory-mapped, then viewed as plain arrays (slicing a np.memmap is slow).
    arrays = {
        name: np.asarray(np.load(directory / f"{prefix}{name}.npy", mmap_mode="r"))
        for name in _ARRAYS
    }
    params = meta["params"]
    return bm25.BM25Index(
        doc_len=arrays["doc_len"],
        avgdl=float(meta["avgdl"]),
        idf=np.asarray(np.load(directory / "idf.npy", mmap_mode="r")),
        indptr=arrays["indptr"],
        postings=postings.Postings(*(arrays[name] for name in postings.ARRAYS)),
        max_weight=arrays["max_weight"],
        blk_max=arrays["blk_max"],
        k1=float(params["k1"]),
        b=float(params["b"]),
    )
