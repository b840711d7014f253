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

import numpy as np

from index import bm25, postings
from index.integrity import verify
from index.texts import DICTIONARY, TEXT_BLOCK, Unpacker

INDEX_FORMAT = 9
TEXTS = "paragraphs.zst"  # paragraphs as JSON lines, zstd blocks of TEXT_BLOCK within articles
_ARRAYS = (
    *postings.ARRAYS,
    "doc_len",
    "idf",
    "indptr",
    "max_weight",
    "offsets",
    "article_of",
)


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


class SearchIndex:
    """A loaded index: term lookups, BM25 search, and paragraphs read from disk on demand."""

    def __init__(self, directory: Path, *, verify_all: bool = False) -> None:
        verify(directory, full=verify_all)  # DamagedIndex before anything is misread
        self.directory = directory
        self.meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
        if self.meta.get("format") != INDEX_FORMAT:
            raise ValueError(f"{directory}: index format {self.meta.get('format')} is not ours")
        terms: list[str] = json.loads((directory / "vocab.json").read_text(encoding="utf-8"))
        self.terms = terms
        self.vocab = {term: i for i, term in enumerate(terms)}
        # Memory-mapped, then viewed as plain arrays (slicing a np.memmap is slow).
        arrays = {
            name: np.asarray(np.load(directory / f"{name}.npy", mmap_mode="r")) for name in _ARRAYS
        }
        params = self.meta["params"]
        self.bm25 = bm25.BM25Index(
            doc_len=arrays["doc_len"],
            avgdl=float(self.meta["avgdl"]),
            idf=arrays["idf"],
            indptr=arrays["indptr"],
            postings=postings.Postings(*(arrays[name] for name in postings.ARRAYS)),
            max_weight=arrays["max_weight"],
            k1=float(params["k1"]),
            b=float(params["b"]),
        )
        self._offsets = arrays["offsets"]
        self._article_of = arrays["article_of"]
        articles = json.loads((directory / "articles.json").read_text(encoding="utf-8"))
        self.articles: dict[str, ArticleInfo] = {a["id"]: ArticleInfo(**a) for a in articles}
        self._article_order = list(self.articles)
        self._texts = open(directory / TEXTS, "rb")  # noqa: SIM115 (kept open)
        self.text_dictionary = (directory / DICTIONARY).read_bytes()
        self._unpack = Unpacker(self.text_dictionary)
        self._firsts = [a.first_paragraph for a in self.articles.values()]
        self._first_block = np.cumsum(
            [0] + [-(-a.paragraph_count // TEXT_BLOCK) for a in self.articles.values()]
        ).tolist()
        # An answer reads a few dozen paragraphs: keep their blocks unpacked for a while.
        self._block_lines = lru_cache(maxsize=256)(self._read_block)

    def close(self) -> None:
        self._texts.close()

    @property
    def corpus_hash(self) -> str:
        return str(self.meta["corpus_hash"])

    @property
    def size(self) -> int:
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
        counts = np.zeros(self.size, np.float64)
        for term in set(self._term_ids(terms)):
            counts[self.bm25.term_postings(term)[0]] += 1.0
        candidates = np.flatnonzero(counts)
        order = np.lexsort((candidates, -counts[candidates]))[:k]
        return [(int(candidates[i]), float(counts[candidates[i]])) for i in order]

    def stored_text(self, article: int) -> tuple[bytes, list[int]]:
        """An article's paragraphs as stored (compressed blocks), and the blocks' sizes."""
        first, end = self._first_block[article], self._first_block[article + 1]
        bounds = self._offsets[first : end + 1].tolist()
        return self._pread(bounds[0], bounds[-1]), [b - a for a, b in itertools.pairwise(bounds)]

    def _pread(self, start: int, end: int) -> bytes:
        # pread: no shared file position, so answering threads cannot race.
        return os.pread(self._texts.fileno(), end - start, start)

    def _read_block(self, block: int) -> list[bytes]:
        start, end = int(self._offsets[block]), int(self._offsets[block + 1])
        return self._unpack(self._pread(start, end)).splitlines()

    def passage(self, index: int) -> Passage:
        article = int(self._article_of[index])
        within = index - self._firsts[article]
        lines = self._block_lines(self._first_block[article] + within // TEXT_BLOCK)
        record = json.loads(lines[within % TEXT_BLOCK])
        return Passage(index, self._article_order[article], record["n"], record["h"], record["t"])

    def article_of(self, index: int) -> ArticleInfo:
        return self.articles[self._article_order[int(self._article_of[index])]]

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
