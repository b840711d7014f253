"""Small changes as a delta segment beside the main one, as Lucene and tantivy do.

Rewriting a whole index for one new article cost seconds at 1M paragraphs (every
posting re-merged, re-packed, re-hashed).  Instead, a change to a few files makes a new
build that *links* the main segment's files from the last build unchanged, marks the
paragraphs of removed or changed main articles as deleted, and writes a small delta
segment holding every article not in the main one (the new and changed ones, and those
of the last delta, whose term counts and texts are reused).  Delta paragraph ids follow
the main segment's.  The collection statistics stay global: N, the average length and
each term's document frequency count the live paragraphs of both segments, so every
score is still exactly rank_bm25's over the whole corpus (in index order).  When the
delta or the deletions grow past a share of the main segment, the delta is still
written and served, and a full build that merges everything follows at once, on the
same (watcher's) thread, while questions are answered from the delta (``index.store``).

Left out: more than one delta segment (a change that lands during a merge waits for
it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from index import bm25

MAX_CHANGED_FILES = 64  # more changed files at once: a full build
DELTA_SHARE = 0.05  # delta paragraphs (or deleted ones) past this share of the main: merge
DELTA_FLOOR = 5000  # ... but a small index keeps a delta of this many
BACKSTOP = 4  # a delta this many times past the limit: a full build at once


def delta_limit(main_size: int) -> int:
    return max(DELTA_FLOOR, int(main_size * DELTA_SHARE))


class SegmentedBM25:
    """The main segment (some paragraphs deleted) and a delta segment, scored together
    with global statistics; paragraph ids of the delta start at ``base``."""

    def __init__(
        self,
        main: bm25.BM25Index,
        delta: bm25.BM25Index,
        base: int,
        df: npt.NDArray[np.int64],
    ) -> None:
        self.main, self.delta, self.base = main, delta, base
        self.idf, self.avgdl, self.k1, self.b = main.idf, main.avgdl, main.k1, main.b
        self.indptr = np.concatenate(([0], np.cumsum(df)))  # document frequencies

    @property
    def doc_len(self) -> npt.NDArray[np.int32]:
        return np.concatenate((self.main.doc_len, self.delta.doc_len))

    @property
    def norm(self) -> npt.NDArray[np.float64]:
        """Each paragraph's length part (infinite: deleted); built when asked, as only
        checks and the fallback ranking ask."""
        return np.concatenate((self.main.norm, self.delta.norm))

    @property
    def n_docs(self) -> int:
        return self.base + self.delta.n_docs

    def term_postings(self, term: int) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.uint16]]:
        parts = [
            (ids + base, tfs)
            for segment, base in ((self.main, 0), (self.delta, self.base))
            if term < len(segment.indptr) - 1
            for ids, tfs in [segment.term_postings(term)]
        ]
        if not parts:
            return np.zeros(0, np.int32), np.zeros(0, np.uint16)
        ids = np.concatenate([p[0] for p in parts]).astype(np.int32)
        return ids, np.concatenate([p[1] for p in parts])

    def exact_scores(
        self, docs: npt.NDArray[np.integer[Any]], weights: dict[int, float]
    ) -> npt.NDArray[np.float64]:
        docs = np.asarray(docs)
        scores = np.zeros(len(docs))
        low = docs < self.base
        scores[low] = self.main.exact_scores(docs[low], weights)
        scores[~low] = self.delta.exact_scores(docs[~low] - self.base, weights)
        return scores

    def all_scores(self, term_ids: Sequence[int]) -> npt.NDArray[np.float64]:
        return np.concatenate((self.main.all_scores(term_ids), self.delta.all_scores(term_ids)))

    def top_k(self, term_ids: Sequence[int], k: int) -> list[tuple[int, float]]:
        """Each segment's k best, merged: the k best of all, ties by paragraph id."""
        found = self.main.top_k(term_ids, k) + [
            (doc + self.base, score) for doc, score in self.delta.top_k(term_ids, k)
        ]
        return sorted(found, key=lambda hit: (-hit[1], hit[0]))[:k]

    def forward(self) -> bm25.Forward:
        """Paragraph -> terms and counts over the whole id space (a deleted paragraph's
        row empty): for checks and the benchmark's peers."""
        main, delta = self.main.forward(), self.delta.forward()
        if self.main.deleted is not None and self.main.deleted.any():
            sizes = np.diff(main.indptr) * ~np.asarray(self.main.deleted)
            keep = np.repeat(~np.asarray(self.main.deleted), np.diff(main.indptr))
            indptr = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
            main = bm25.Forward(indptr, main.terms[keep], main.tfs[keep])
        return bm25.Forward(
            np.concatenate((main.indptr, delta.indptr[1:] + main.indptr[-1])),
            np.concatenate((main.terms, delta.terms)),
            np.concatenate((main.tfs, delta.tfs)),
        )


def load(
    directory: Path,
    meta: dict[str, Any],
    main: bm25.BM25Index,
    load_bm25: Callable[[Path, str, dict[str, Any]], bm25.BM25Index],
) -> SegmentedBM25:
    """The two segments of a build with a delta, each scored with global statistics."""
    delta_meta = meta["delta"]
    avgdl = float(meta["avgdl"])
    deleted = np.asarray(np.load(directory / "deleted.npy", mmap_mode="r"))
    main = dataclasses.replace(
        main, deleted=deleted, bound_scale=_scale(avgdl, float(delta_meta["main_avgdl"]))
    )
    delta = load_bm25(directory, "d.", meta)
    delta = dataclasses.replace(delta, bound_scale=_scale(avgdl, float(delta_meta["delta_avgdl"])))
    df = np.asarray(np.load(directory / "df.npy", mmap_mode="r"))
    return SegmentedBM25(main, delta, int(delta_meta["base"]), df)


def _scale(avgdl: float, built_at: float) -> float:
    """How far a segment's stored bounds must grow to stay bounds at ``avgdl``.

    A bound is a largest ``tf (k1 + 1) / (tf + norm)`` with ``norm`` from the average
    length the segment was built at.  A larger average now shrinks every ``norm`` by at
    most ``built_at / avgdl``, which grows each part by at most the inverse; a smaller
    one only lowers the parts."""
    return max(1.0, avgdl / built_at) if built_at > 0 else 1.0
