"""BM25 scoring with exactly the scores of ``rank_bm25.BM25Okapi``, at any corpus size.

``rank_bm25`` defines the scores (its k1, b, epsilon and IDF floor) but walks every
paragraph in Python for every query term.  Here each term's postings are kept in
paragraph order (paragraph ids and term counts) in blocks of 128, with each block's
largest per-posting weight, and a query is answered by block-max MaxScore
(``index.kernels``, compiled): window by window, the lists whose bounds there together
cannot reach the k-th best score found so far are only looked up for the paragraphs the
other lists bring up, a window no list can lift is skipped, and a paragraph is dropped
as soon as what it could still gain cannot lift it into the top k.  Every paragraph that
is scored gets rank_bm25's formula in float64, so the top k are rank_bm25's (the tests
compare them), and a query costs what its postings cost, never what the corpus costs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from index.postings import Postings

# k1 below rank_bm25's default of 1.5: news and encyclopedia paragraphs are short, and a
# word said twice in one is not much more telling than once.  Measured on SQuAD v1.1 by
# bench/fit_answer_model.py --sweep-k1 (0.5-0.9 is a plateau; 1.5 loses 2 points of
# hit@1).  Scores stay exactly BM25Okapi(corpus, k1=K1, b=B)'s.
K1 = 0.7
B = 0.75
EPSILON = 0.25

BOUND_SLACK = 1e-6  # relative margin on each term's upper bound (stored in float32)


def okapi_idf(
    doc_freqs: npt.NDArray[np.int64], n_docs: int, epsilon: float = EPSILON
) -> npt.NDArray[np.float64]:
    """IDF as rank_bm25 computes it, for the terms present (``df > 0``).

    ``log((N - df + 0.5) / (df + 0.5))``; a term in more than half the paragraphs would
    go negative and is floored at ``epsilon`` times the mean IDF of the present terms,
    while a term in exactly half keeps its IDF of 0 (a quirk of rank_bm25 kept on
    purpose).  Terms no paragraph holds any more get 0 and never score.
    """
    df = doc_freqs.astype(np.float64)
    idf = np.log(n_docs - df + 0.5) - np.log(df + 0.5)
    present = doc_freqs > 0
    if present.any():
        floor = epsilon * float(idf[present].mean())
        idf[present & (idf < 0)] = floor
    idf[~present] = 0.0
    return idf


@dataclass
class Forward:
    """Paragraph -> (term ids, term counts), in CSR form: the index's source of truth."""

    indptr: npt.NDArray[np.int64]  # n_docs + 1
    terms: npt.NDArray[np.int32]
    tfs: npt.NDArray[np.uint16]

    @property
    def n_docs(self) -> int:
        return len(self.indptr) - 1


def forward_from_tokens(docs: Iterable[Sequence[str]], vocab: dict[str, int]) -> Forward:
    """A forward index for tokenised paragraphs; ``vocab`` is filled in first-seen order."""
    terms: list[int] = []
    tfs: list[int] = []
    indptr = [0]
    for tokens in docs:
        counts = Counter(tokens)
        for term, tf in counts.items():
            terms.append(vocab.setdefault(term, len(vocab)))
            tfs.append(min(tf, 65535))
        indptr.append(len(terms))
    return Forward(
        np.asarray(indptr, np.int64), np.asarray(terms, np.int32), np.asarray(tfs, np.uint16)
    )


@dataclass
class BM25Index:
    doc_len: npt.NDArray[np.int32]
    avgdl: float
    idf: npt.NDArray[np.float64]
    indptr: npt.NDArray[np.int64]  # n_terms + 1: each term's postings (df = its length)
    postings: Postings  # per term, by paragraph, bit-packed in blocks
    max_weight: npt.NDArray[np.float32]  # per term: its largest tf part, tf(k1+1)/(tf+norm)
    blk_max: npt.NDArray[np.float32]  # per postings block: its largest tf part (rounded up)
    k1: float = K1
    b: float = B
    # A segment among others (``index.segments``): its bounds were computed at another
    # average length (scaled to stay bounds), and its deleted paragraphs score 0.
    bound_scale: float = 1.0
    deleted: npt.NDArray[np.bool_] | None = None

    @cached_property
    def norm(self) -> npt.NDArray[np.float64]:
        """Each paragraph's length part of the formula, as rank_bm25 computes it (computed
        when first scored: 8 MB at 1M paragraphs that an index only merged from never
        needs)."""
        dl = np.asarray(self.doc_len, np.float64)
        norm = self.k1 * (1 - self.b + self.b * dl / max(self.avgdl, 1e-300))
        if self.deleted is not None:
            norm[self.deleted] = np.inf  # every tf part 0: never scored
        return norm

    @cached_property
    def once(self) -> npt.NDArray[np.float64]:
        """The tf part of a count of 1 for each paragraph."""
        return (1.0 * (self.k1 + 1)) / (1.0 + self.norm)

    def term_postings(self, term: int) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.uint16]]:
        """One term's paragraph ids (ascending) and counts, unpacked."""
        return self.postings.decode(self.indptr, term, term + 1)

    @property
    def n_docs(self) -> int:
        return len(self.doc_len)

    def forward(self) -> Forward:
        """Paragraph -> terms and counts again (to reuse unchanged articles in a rebuild)."""
        n_terms = len(self.indptr) - 1
        df = np.diff(self.indptr)
        doc_ids, doc_tfs = self.postings.decode(self.indptr)
        term_of = np.repeat(np.arange(n_terms, dtype=np.int32), df)
        order = np.argsort(doc_ids, kind="stable")
        indptr = np.zeros(self.n_docs + 1, np.int64)
        np.cumsum(np.bincount(doc_ids, minlength=self.n_docs), out=indptr[1:])
        return Forward(indptr, term_of[order], doc_tfs[order])

    def _query_weights(self, term_ids: Sequence[int]) -> dict[int, float]:
        """Each distinct term's weight: its IDF times how often the query repeats it."""
        return {t: c * float(self.idf[t]) for t, c in Counter(term_ids).items()}

    def exact_scores(
        self, docs: npt.NDArray[np.integer[Any]], weights: dict[int, float]
    ) -> npt.NDArray[np.float64]:
        """rank_bm25's score of each paragraph in ``docs``, looked up term by term (for
        checks: ``top_k`` computes the same values in its compiled loop)."""
        scores = np.zeros(len(docs))
        if not len(docs) or not weights:
            return scores
        norm = self.norm[docs]
        for term, weight in weights.items():
            if term >= len(self.indptr) - 1:
                continue  # a term this segment has never seen
            ids, tfs = self.term_postings(term)
            if not len(ids):
                continue
            pos = np.minimum(np.searchsorted(ids, docs), len(ids) - 1)
            hit = ids[pos] == docs
            tf = tfs[pos[hit]].astype(np.float64)
            scores[hit] += weight * (tf * (self.k1 + 1) / (tf + norm[hit]))
        return scores

    def all_scores(self, term_ids: Sequence[int]) -> npt.NDArray[np.float64]:
        """Every paragraph's score (a full scan; for tests and checks)."""
        weights = self._query_weights(term_ids)
        scores = np.zeros(self.n_docs)
        lists = [self.term_postings(t)[0] for t in weights if t < len(self.indptr) - 1]
        if lists:
            touched = np.unique(np.concatenate(lists)).astype(np.int64)
            scores[touched] = self.exact_scores(touched, weights)
        return scores

    def top_k(self, term_ids: Sequence[int], k: int) -> list[tuple[int, float]]:
        """The k best paragraphs with a score above 0, best first, ties by paragraph."""
        weights = self._query_weights(term_ids)
        n_terms = len(self.indptr) - 1
        chosen = [
            (t, w)
            for t, w in weights.items()
            if w > 0 and t < n_terms and self.indptr[t + 1] > self.indptr[t]
        ]
        if not chosen or k <= 0:
            return []
        from index import kernels, split  # numba (~130 MB) only in processes that search

        terms = np.array([t for t, _ in chosen], np.int64)
        weight = np.array([w for _, w in chosen])
        p = self.postings
        first = np.asarray(p.term_blocks[terms], np.int64)
        end = np.asarray(p.term_blocks[terms + 1], np.int64)
        dfs = np.asarray(self.indptr[terms + 1] - self.indptr[terms], np.int64)
        args = (
            p.words,
            p.blk_off,
            p.blk_width,
            p.blk_last,
            self.blk_max,
            self.norm,
            self.once,
            first,
            end,
            dfs,
            weight,
            # times a block's (or the term's) largest tf part: a bound of its parts
            weight * ((1 + BOUND_SLACK) * self.bound_scale),
            np.asarray(self.max_weight[terms], np.float64),
            float(self.k1),
        )
        docs, scores = split.top_k(
            kernels.maxscore_top_k, args, int(k), self.n_docs, int(dfs.sum()),
            p.blk_last, first, end, dfs,
        )  # fmt: skip
        ranked = np.lexsort((docs, -scores))
        return [(int(docs[i]), float(scores[i])) for i in ranked]


def warm_up() -> None:
    """Load (or compile, after an install) the query loop before the first question."""
    tiny = build(forward_from_tokens([["a", "b"], ["a"], ["c"]], {}), n_terms=3)
    for array in tiny.postings.arrays().values():
        array.flags.writeable = False  # as when mapped
    tiny.top_k([0, 1], 1)


def build(
    forward: Forward,
    k1: float = K1,
    b: float = B,
    epsilon: float = EPSILON,
    n_terms: int | None = None,
    consume: bool = False,
) -> BM25Index:
    """IDF, paragraph-ordered postings and each term's largest weight from a forward index.

    ``consume``: release the forward index's arrays once read (at 1M paragraphs they are
    350 MB the build no longer needs)."""
    n_terms = (
        int(forward.terms.max()) + 1 if n_terms is None and len(forward.terms) else (n_terms or 0)
    )
    from index.inverting import invert  # numba: only where an index is built

    indptr, doc_ids, doc_tfs, doc_len = invert(forward.indptr, forward.terms, forward.tfs, n_terms)
    if consume:
        forward.terms, forward.tfs = np.zeros(0, np.int32), np.zeros(0, np.uint16)
    return from_postings(doc_ids, doc_tfs, indptr, doc_len, k1, b, epsilon)


def round_up(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
    """``values`` in float32, each rounded up: a bound must stay a bound once stored."""
    out = values.astype(np.float32)
    low = out.astype(np.float64) < values
    out[low] = np.nextafter(out[low], np.float32(np.inf))
    return out


def from_postings(
    doc_ids: npt.NDArray[np.int32],
    doc_tfs: npt.NDArray[np.unsignedinteger[Any]],
    indptr: npt.NDArray[np.int64],
    doc_len: npt.NDArray[np.int32],
    k1: float = K1,
    b: float = B,
    epsilon: float = EPSILON,
) -> BM25Index:
    """The index over postings already grouped by term, in paragraph order within each:
    the collection statistics (N, average length, IDF), each term's largest weight, and
    the postings bit-packed (``index.postings``)."""
    n_docs = len(doc_len)
    avgdl = float(doc_len.sum()) / n_docs if n_docs else 0.0
    df = np.diff(indptr)
    idf = okapi_idf(df, n_docs, epsilon)
    from index import packing  # numba: only where an index is built

    postings = Postings.encode(doc_ids, doc_tfs, indptr)
    blk_max = round_up(packing.block_maxima(doc_ids, doc_tfs, indptr, doc_len, avgdl, k1, b))
    starts = postings.term_blocks[:-1]
    max_weight = np.zeros(len(df), np.float32)
    some = df > 0
    if some.any():
        max_weight[some] = np.maximum.reduceat(blk_max, starts[some])
    return BM25Index(
        doc_len=doc_len,
        avgdl=avgdl,
        idf=idf,
        indptr=indptr,
        postings=postings,
        max_weight=max_weight,
        blk_max=blk_max,
        k1=k1,
        b=b,
    )


def merge(
    previous: BM25Index,
    remap: npt.NDArray[np.int32],
    added: Forward,
    added_ids: npt.NDArray[np.int32],
    n_docs: int,
    n_terms: int,
    k1: float = K1,
    b: float = B,
    epsilon: float = EPSILON,
) -> BM25Index:
    """The index after a change, without sorting every posting again.

    ``remap`` gives each previous paragraph its new id (-1: removed); ``added`` holds the
    new paragraphs, whose ids are ``added_ids`` (ascending); together they are all
    ``n_docs`` paragraphs.  Kept postings stay in order
    (ids only move together while articles keep their order); each new posting is put in
    place by a binary search within its term, so a rebuild after adding an article costs
    a few passes over the postings instead of a sort of all of them.
    """
    old_df = np.diff(previous.indptr)
    kept_ids, kept_tfs = previous.postings.decode(previous.indptr)
    if not np.array_equal(remap, np.arange(len(remap))):
        kept_ids = remap[kept_ids]
        if (remap < 0).any():
            keep = kept_ids >= 0
            present = np.flatnonzero(old_df > 0)
            old_df = old_df.copy()
            if len(present):
                old_df[present] = np.add.reduceat(keep, previous.indptr[present], dtype=np.int64)
            kept_ids, kept_tfs = kept_ids[keep], kept_tfs[keep]
            del keep
        alive = remap[remap >= 0]
        if len(alive) and (np.diff(alive) <= 0).any():  # articles changed order: sort again
            terms_of = np.repeat(np.arange(len(old_df), dtype=np.int32), old_df)
            order = np.lexsort((kept_ids, terms_of))
            kept_ids, kept_tfs = kept_ids[order], kept_tfs[order]
            del terms_of, order
    kept_df = np.zeros(n_terms, np.int64)
    kept_df[: len(old_df)] = old_df
    from index.inverting import invert

    new_indptr, new_ids, new_tfs, added_len = invert(
        added.indptr, added.terms, added.tfs, n_terms, added_ids
    )
    new_terms = np.repeat(np.arange(n_terms, dtype=np.int32), np.diff(new_indptr))
    indptr = np.zeros(n_terms + 1, np.int64)
    np.cumsum(kept_df + np.diff(new_indptr), out=indptr[1:])
    kept_indptr = np.concatenate(([0], np.cumsum(kept_df)))
    places = np.empty(len(new_terms), np.int64)
    starts = np.flatnonzero(np.diff(new_terms, prepend=-1)).tolist()  # one run per term
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(new_terms)
        term = int(new_terms[start])
        kept = kept_ids[kept_indptr[term] : kept_indptr[term + 1]]
        before = np.searchsorted(kept, new_ids[start:end])
        places[start:end] = indptr[term] + before + np.arange(end - start)
    doc_ids = np.empty(int(indptr[-1]), np.int32)
    doc_tfs = np.empty(int(indptr[-1]), np.uint16)
    old_slots = np.ones(len(doc_ids), bool)
    old_slots[places] = False
    doc_ids[old_slots] = kept_ids
    doc_tfs[old_slots] = kept_tfs
    del old_slots
    doc_ids[places] = new_ids
    doc_tfs[places] = new_tfs
    doc_len = np.zeros(n_docs, np.int32)
    moved = remap >= 0
    doc_len[remap[moved]] = np.asarray(previous.doc_len)[moved]
    doc_len[added_ids] = added_len
    return from_postings(doc_ids, doc_tfs, indptr, doc_len, k1, b, epsilon)
