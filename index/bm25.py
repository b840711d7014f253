"""BM25 scoring with exactly the scores of ``rank_bm25.BM25Okapi``, at any corpus size.

``rank_bm25`` defines the scores (its k1, b, epsilon and IDF floor) but walks every
paragraph in Python for every query term.  Here the per-(term, paragraph) part of the
formula is fixed once the index is built, so it is stored twice:

* a *forward* index (paragraph -> its terms and their counts), from which the exact
  score of any given paragraph is computed in float64, as rank_bm25 computes it; and
* *impact-ordered postings* (term -> paragraphs, highest weight first, float32), which
  let a query read only the top of each term's list: once the k-th best score found so
  far beats what the unread parts of all lists could still add, no unseen paragraph can
  enter the top k, and the candidates left are scored exactly from the forward index.

So a query costs what the top of its terms' postings cost, not what the corpus costs, and
the ranking is rank_bm25's (the tests compare them).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

# rank_bm25.BM25Okapi's defaults.
K1 = 1.5
B = 0.75
EPSILON = 0.25

FIRST_CHUNK = 2048  # postings read from each list before the first stopping check
SLACK = 1e-5  # relative margin for float32 weights when deciding what can be skipped
MAX_RESCORE = 2000  # paragraphs scored exactly at the end; with more in doubt, read on


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

    def doc_len(self) -> npt.NDArray[np.int64]:
        """Tokens per paragraph (the sum of its term counts)."""
        sums = (
            np.add.reduceat(self.tfs.astype(np.int64), self.indptr[:-1])
            if len(self.terms)
            else np.zeros(self.n_docs, np.int64)
        )
        return np.where(np.diff(self.indptr) > 0, sums, 0)


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
class _Cursor:
    """How far a query has read one term's impact-ordered postings."""

    weight: float  # the term's query weight (IDF times repeats)
    end: int
    read: int


@dataclass
class BM25Index:
    forward: Forward
    doc_len: npt.NDArray[np.int32]
    avgdl: float
    idf: npt.NDArray[np.float64]
    indptr: npt.NDArray[np.int64]  # n_terms + 1, into the impact-ordered postings
    impact_ids: npt.NDArray[np.int32]
    impact_weights: npt.NDArray[np.float32]
    k1: float = K1
    b: float = B

    def __post_init__(self) -> None:
        self._local = threading.local()

    @property
    def n_docs(self) -> int:
        return len(self.doc_len)

    # -- exact scoring -------------------------------------------------------------------

    def _query_weights(self, term_ids: Sequence[int]) -> dict[int, float]:
        """Each distinct term's weight: its IDF times how often the query repeats it."""
        return {t: c * float(self.idf[t]) for t, c in Counter(term_ids).items()}

    def exact_scores(
        self, docs: npt.NDArray[np.int64], weights: dict[int, float]
    ) -> npt.NDArray[np.float64]:
        """rank_bm25's score of each paragraph in ``docs``, from the forward index."""
        if not len(docs) or not weights:
            return np.zeros(len(docs))
        starts = self.forward.indptr[docs]
        lengths = self.forward.indptr[docs + 1] - starts
        owner = np.repeat(np.arange(len(docs)), lengths)
        positions = (
            np.arange(int(lengths.sum()))
            - np.repeat(np.cumsum(lengths) - lengths, lengths)
            + np.repeat(starts, lengths)
        )
        terms = self.forward.terms[positions]
        query_terms = np.fromiter(weights, np.int64, len(weights))
        hit = np.isin(terms, query_terms)
        if not hit.any():
            return np.zeros(len(docs))
        terms, owner = terms[hit], owner[hit]
        tf = self.forward.tfs[positions[hit]].astype(np.float64)
        dl = self.doc_len[docs[owner]].astype(np.float64)
        order = np.argsort(query_terms)
        sorted_terms = query_terms[order]
        sorted_weights = np.fromiter(weights.values(), np.float64, len(weights))[order]
        slot = np.searchsorted(sorted_terms, terms)
        qw = sorted_weights[slot]
        part = qw * (tf * (self.k1 + 1) / (tf + self.k1 * (1 - self.b + self.b * dl / self.avgdl)))
        # Add each paragraph's parts in query-term order, so two paragraphs with the same
        # counts and length get bit-identical scores and tie exactly, as in rank_bm25.
        by_query_order = np.argsort(order[slot], kind="stable")
        return np.bincount(
            owner[by_query_order], weights=part[by_query_order], minlength=len(docs)
        ).astype(np.float64)

    def all_scores(self, term_ids: Sequence[int]) -> npt.NDArray[np.float64]:
        """Every paragraph's score (a full scan; for tests and tiny corpora)."""
        weights = self._query_weights(term_ids)
        scores = np.zeros(self.n_docs)
        lists = [self.impact_ids[int(self.indptr[t]) : int(self.indptr[t + 1])] for t in weights]
        if lists:
            touched = np.unique(np.concatenate(lists)).astype(np.int64)
            scores[touched] = self.exact_scores(touched, weights)
        return scores

    # -- top k with early termination -------------------------------------------------------

    def _accumulator(self) -> npt.NDArray[np.float64]:
        acc = getattr(self._local, "acc", None)
        if acc is None or len(acc) != self.n_docs:
            acc = np.zeros(self.n_docs)
            self._local.acc = acc
        return acc

    def top_k(self, term_ids: Sequence[int], k: int) -> list[tuple[int, float]]:
        """The k best paragraphs with a score above 0, best first, ties by paragraph."""
        weights = {t: w for t, w in self._query_weights(term_ids).items() if w > 0}
        if not weights or k <= 0:
            return []
        lists: list[_Cursor] = []
        for term, weight in weights.items():
            start, end = int(self.indptr[term]), int(self.indptr[term + 1])
            if end > start:
                lists.append(_Cursor(weight, end, start))
        acc = self._accumulator()
        seen: list[npt.NDArray[Any]] = []
        read_total = 0
        chunk = FIRST_CHUNK
        keep: npt.NDArray[Any] = np.zeros(0, np.int64)
        try:
            while True:
                for cursor in lists:
                    if cursor.read >= cursor.end:
                        continue
                    stop = min(cursor.end, cursor.read + chunk)
                    ids = self.impact_ids[cursor.read : stop]
                    acc[ids] += cursor.weight * self.impact_weights[cursor.read : stop]
                    seen.append(ids)
                    read_total += stop - cursor.read
                    cursor.read = stop
                # What an unread posting could still add, summed over the lists.
                remaining = sum(
                    c.weight * float(self.impact_weights[c.read]) for c in lists if c.read < c.end
                ) * (1 + SLACK)
                if read_total > self.n_docs // 16:  # cheaper to sweep the accumulator
                    candidates = np.flatnonzero(acc)
                else:
                    candidates = np.unique(np.concatenate(seen))
                seen = [candidates]
                partial = acc[candidates]
                threshold = 0.0
                if len(candidates) >= k:
                    threshold = float(np.partition(partial, len(partial) - k)[len(partial) - k])
                floor = threshold * (1 - SLACK)
                if remaining == 0:
                    keep = candidates[partial >= floor]
                    break
                if len(candidates) >= k and remaining < floor:
                    # Nothing unseen can reach the top k; rescore the seen paragraphs that
                    # still might, unless too many are in doubt: then read on.
                    doubtful = partial + remaining >= floor
                    if int(doubtful.sum()) <= MAX_RESCORE:
                        keep = candidates[doubtful]
                        break
                chunk *= 4
        finally:
            for ids in seen:
                acc[ids] = 0.0
        exact = self.exact_scores(keep.astype(np.int64), weights)
        order = np.lexsort((keep, -exact))
        return [(int(keep[i]), float(exact[i])) for i in order[:k] if exact[i] > 0]


def build(
    forward: Forward,
    k1: float = K1,
    b: float = B,
    epsilon: float = EPSILON,
    n_terms: int | None = None,
) -> BM25Index:
    """Weights, IDF and impact-ordered postings from a forward index."""
    n_docs = forward.n_docs
    n_terms = (
        int(forward.terms.max()) + 1 if n_terms is None and len(forward.terms) else (n_terms or 0)
    )
    doc_len = forward.doc_len().astype(np.int32)
    avgdl = float(doc_len.sum()) / n_docs if n_docs else 0.0
    df = np.bincount(forward.terms, minlength=n_terms).astype(np.int64)
    idf = okapi_idf(df, n_docs, epsilon)
    owner = np.repeat(np.arange(n_docs, dtype=np.int32), np.diff(forward.indptr))
    tf = forward.tfs.astype(np.float32)
    norm = (k1 * (1 - b + b * doc_len.astype(np.float64) / max(avgdl, 1e-9))).astype(np.float32)
    weights = tf * np.float32(k1 + 1) / (tf + norm[owner])
    del tf
    # One sort: by term, then by weight descending (float bits order like the floats).
    key = (forward.terms.astype(np.uint64) << np.uint64(32)) | (~weights.view(np.uint32)).astype(
        np.uint64
    )
    order = np.argsort(key)
    del key
    indptr = np.zeros(n_terms + 1, np.int64)
    np.cumsum(df, out=indptr[1:])
    return BM25Index(
        forward=forward,
        doc_len=doc_len,
        avgdl=avgdl,
        idf=idf,
        indptr=indptr,
        impact_ids=owner[order],
        impact_weights=weights[order],
        k1=k1,
        b=b,
    )
