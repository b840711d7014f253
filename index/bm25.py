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
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

# k1 below rank_bm25's default of 1.5: news and encyclopedia paragraphs are short, and a
# word said twice in one is not much more telling than once.  Measured on SQuAD v1.1 by
# bench/fit_answer_model.py --sweep-k1 (0.5-0.9 is a plateau; 1.5 loses 2 points of
# hit@1).  Scores stay exactly BM25Okapi(corpus, k1=K1, b=B)'s.
K1 = 0.7
B = 0.75
EPSILON = 0.25

FIRST_CHUNK = 2048  # postings read from each list before the first stopping check
SLACK = 1e-5  # relative margin for float32 weights when deciding what can be skipped
MAX_RESCORE = 4000  # paragraphs scored exactly at the end; with more in doubt, read on
SAMPLE = 1024  # paragraphs with the best partial sums scored exactly in each round
SWEEP_SHARE = 64  # past reading n/SWEEP_SHARE postings, scan the scratch arrays whole
DENSE_FROM = 100_000  # paragraphs from which the most common terms get dense rows
DENSE_SHARE = 4  # ... those in at least one paragraph in DENSE_SHARE


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
    dense: int = -1  # its row in ``dense_rows``; such lists are not read posting by posting


@dataclass
class BM25Index:
    doc_len: npt.NDArray[np.int32]
    avgdl: float
    idf: npt.NDArray[np.float64]
    indptr: npt.NDArray[np.int64]  # n_terms + 1, into both kinds of postings
    impact_ids: npt.NDArray[np.int32]  # per term, by weight, highest first
    impact_weights: npt.NDArray[np.float32]
    doc_ids: npt.NDArray[np.int32]  # per term, by paragraph: for exact look-ups
    doc_tfs: npt.NDArray[np.uint16]
    # The weights of the most common terms as whole rows over all paragraphs: adding a
    # row is far cheaper than scattering a list that covers a quarter of the corpus.
    dense_terms: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))
    dense_rows: npt.NDArray[np.float32] = field(
        default_factory=lambda: np.zeros((0, 0), np.float32)
    )
    k1: float = K1
    b: float = B

    def __post_init__(self) -> None:
        self._local = threading.local()
        self._dense_row = {int(t): i for i, t in enumerate(self.dense_terms)}

    @property
    def n_docs(self) -> int:
        return len(self.doc_len)

    def forward(self) -> Forward:
        """Paragraph -> terms and counts again (to reuse unchanged articles in a rebuild)."""
        n_terms = len(self.indptr) - 1
        df = np.diff(self.indptr)
        term_of = np.repeat(np.arange(n_terms, dtype=np.int32), df)
        order = np.argsort(self.doc_ids, kind="stable")
        indptr = np.zeros(self.n_docs + 1, np.int64)
        np.cumsum(np.bincount(self.doc_ids, minlength=self.n_docs), out=indptr[1:])
        return Forward(indptr, term_of[order], np.asarray(self.doc_tfs)[order])

    # -- exact scoring -------------------------------------------------------------------

    def _query_weights(self, term_ids: Sequence[int]) -> dict[int, float]:
        """Each distinct term's weight: its IDF times how often the query repeats it."""
        return {t: c * float(self.idf[t]) for t, c in Counter(term_ids).items()}

    def exact_scores(
        self, docs: npt.NDArray[np.integer[Any]], weights: dict[int, float]
    ) -> npt.NDArray[np.float64]:
        """rank_bm25's score of each paragraph in ``docs``, looked up term by term.

        The terms are added in the same order for every paragraph, so two paragraphs with
        the same counts and length get bit-identical scores and tie exactly, as in
        rank_bm25.
        """
        scores = np.zeros(len(docs))
        if not len(docs) or not weights:
            return scores
        dl = self.doc_len[docs].astype(np.float64)
        norm = self.k1 * (1 - self.b + self.b * dl / self.avgdl)
        for term, weight in weights.items():
            start, end = int(self.indptr[term]), int(self.indptr[term + 1])
            if end == start:
                continue
            ids = self.doc_ids[start:end]
            pos = np.minimum(np.searchsorted(ids, docs), end - start - 1)
            hit = ids[pos] == docs
            tf = self.doc_tfs[start + pos[hit]].astype(np.float64)
            scores[hit] += weight * (tf * (self.k1 + 1) / (tf + norm[hit]))
        return scores

    def all_scores(self, term_ids: Sequence[int]) -> npt.NDArray[np.float64]:
        """Every paragraph's score (a full scan; for tests and checks)."""
        weights = self._query_weights(term_ids)
        scores = np.zeros(self.n_docs)
        lists = [self.doc_ids[int(self.indptr[t]) : int(self.indptr[t + 1])] for t in weights]
        if lists:
            touched = np.unique(np.concatenate(lists)).astype(np.int64)
            scores[touched] = self.exact_scores(touched, weights)
        return scores

    # -- top k with early termination -------------------------------------------------------

    def _buffers(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.uint16]]:
        """Per-thread scratch arrays: partial scores, and which lists each paragraph was
        met in (kept zeroed between queries)."""
        acc = getattr(self._local, "acc", None)
        if acc is None or len(acc) != self.n_docs:
            acc = np.zeros(self.n_docs)
            self._local.acc = acc
            self._local.seen_in = np.zeros(self.n_docs, np.uint16)
        return acc, self._local.seen_in

    def _read_rest(self, lists: list[_Cursor], acc: npt.NDArray[np.float64]) -> None:
        for cursor in lists:
            if cursor.dense >= 0 and cursor.read < cursor.end:  # never read in part
                acc += cursor.weight * self.dense_rows[cursor.dense]
                cursor.read = cursor.end
        ids = [self.impact_ids[c.read : c.end] for c in lists if c.read < c.end]
        gains = [c.weight * self.impact_weights[c.read : c.end] for c in lists if c.read < c.end]
        if ids:
            acc += np.bincount(
                np.concatenate(ids), weights=np.concatenate(gains), minlength=self.n_docs
            )
        for cursor in lists:
            cursor.read = cursor.end

    def top_k(self, term_ids: Sequence[int], k: int) -> list[tuple[int, float]]:
        """The k best paragraphs with a score above 0, best first, ties by paragraph.

        Reads each term's postings best-first in growing chunks, scoring exactly the
        paragraphs with the best partial sums so far: the k-th best of those is a lower
        bound of the k-th best overall.  A paragraph can still gain, from each list it has
        not been met in, at most that list's next weight; once that cannot lift any
        unread or half-read paragraph to the bound, the few left in doubt are scored
        exactly and the search stops.
        """
        weights = {t: w for t, w in self._query_weights(term_ids).items() if w > 0}
        if not weights or k <= 0:
            return []
        lists: list[_Cursor] = []
        for term, weight in weights.items():
            start, end = int(self.indptr[term]), int(self.indptr[term + 1])
            if end > start:
                lists.append(_Cursor(weight, end, start, self._dense_row.get(term, -1)))
        tracked = min(len(lists), 16)  # lists marked per paragraph; the rest count as unmet
        combos = np.arange(1 << tracked, dtype=np.int64)
        bits = (combos[:, None] >> np.arange(tracked)) & 1
        acc, seen_in = self._buffers()
        read: list[npt.NDArray[Any]] = []
        read_total = 0
        chunk = FIRST_CHUNK
        scored = np.zeros(0, np.int64)  # paragraphs scored exactly, and their scores
        values = np.zeros(0, np.float64)
        try:
            while True:
                heads = []  # the best new postings of each list this round
                if chunk > self.n_docs // 8:
                    # Deep into long lists: reading the rest in one vectorised pass costs
                    # less than further rounds (every paragraph is then fully scored).
                    self._read_rest(lists, acc)
                    read_total = self.n_docs  # the scratch arrays are cleared in full
                for j, cursor in enumerate(lists):
                    if cursor.read >= cursor.end or cursor.dense >= 0:
                        continue
                    # Short lists are read whole at once: cheaper than coming back.
                    size = chunk if cursor.end - cursor.read > 2 * chunk else cursor.end
                    stop = min(cursor.end, cursor.read + size)
                    ids = self.impact_ids[cursor.read : stop]
                    acc[ids] += cursor.weight * self.impact_weights[cursor.read : stop]
                    if j < tracked:
                        seen_in[ids] |= np.uint16(1 << j)
                    read.append(ids)
                    heads.append(ids[:SAMPLE])
                    read_total += stop - cursor.read
                    cursor.read = stop
                next_gain = np.array(
                    [
                        c.weight * float(self.impact_weights[c.read]) if c.read < c.end else 0.0
                        for c in lists
                    ]
                ) * (1 + SLACK)
                remaining = float(next_gain.sum())
                # Score exactly the most promising paragraphs met this round.
                if heads:
                    fresh = np.unique(np.concatenate(heads))
                    fresh = fresh[~np.isin(fresh, scored, assume_unique=True)]
                    if len(fresh) > SAMPLE:
                        fresh = fresh[np.argpartition(-acc[fresh], SAMPLE)[:SAMPLE]]
                    if len(fresh):
                        fresh = np.sort(fresh).astype(np.int64)
                        scored = np.concatenate([scored, fresh])
                        values = np.concatenate([values, self.exact_scores(fresh, weights)])
                threshold = 0.0
                if len(values) >= k:
                    threshold = float(np.partition(values, len(values) - k)[len(values) - k])
                floor = threshold * (1 - SLACK)
                unread_dense = sum(
                    float(g) for g, c in zip(next_gain, lists, strict=True) if c.dense >= 0
                )
                if unread_dense and unread_dense >= floor and chunk <= self.n_docs // 8:
                    chunk = self.n_docs  # common terms decide it: finish in one dense pass
                    continue
                if remaining == 0 or (len(values) >= k and remaining < floor):
                    # Nothing unread can reach the top k; a paragraph met in some lists
                    # can still gain the next weight of each list it was not met in.
                    least = max(floor - remaining, 1e-300)
                    if read_total > self.n_docs // SWEEP_SHARE:
                        near = np.flatnonzero(acc >= least)
                    else:
                        touched = np.unique(np.concatenate(read))
                        read = [touched]
                        near = touched[acc[touched] >= least]
                    already = bits @ next_gain[:tracked]
                    reachable = acc[near] + remaining - already[seen_in[near]]
                    doubtful = near[reachable * (1 + SLACK) >= floor]
                    doubtful = doubtful[~np.isin(doubtful, scored, assume_unique=True)]
                    if remaining == 0 and len(doubtful) > max(MAX_RESCORE, k):
                        # All read: the partial sums are the scores (to float32 precision),
                        # so only those near the k-th best need scoring exactly.
                        approx = acc[doubtful]
                        kth = float(np.partition(approx, len(approx) - k)[len(approx) - k])
                        doubtful = doubtful[approx >= kth * (1 - SLACK)]
                    if remaining == 0 or len(doubtful) <= MAX_RESCORE:
                        if len(doubtful):
                            doubtful = np.sort(doubtful).astype(np.int64)
                            scored = np.concatenate([scored, doubtful])
                            more = self.exact_scores(doubtful, weights)
                            values = np.concatenate([values, more])
                        break
                chunk *= 4
        finally:
            if read_total > self.n_docs // SWEEP_SHARE:
                acc.fill(0.0)
                seen_in.fill(0)
            else:
                for ids in read:
                    acc[ids] = 0.0
                    seen_in[ids] = 0
        order = np.lexsort((scored, -values))
        return [(int(scored[i]), float(values[i])) for i in order[:k] if values[i] > 0]


def build(
    forward: Forward,
    k1: float = K1,
    b: float = B,
    epsilon: float = EPSILON,
    n_terms: int | None = None,
) -> BM25Index:
    """Weights, IDF and both kinds of postings from a forward index."""
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
    # By term, keeping paragraph order within each term (the forward index is in it).
    by_term = np.argsort(forward.terms, kind="stable")
    doc_ids = owner[by_term]
    doc_tfs = np.asarray(forward.tfs)[by_term]
    doc_weights = weights[by_term]
    del by_term, owner, weights
    # Then each term's postings by weight, highest first: one sort per term is cheaper
    # than one sort of everything on a (term, weight) key.
    indptr = np.zeros(n_terms + 1, np.int64)
    np.cumsum(df, out=indptr[1:])
    by_impact = np.arange(len(doc_ids), dtype=np.int64)
    for term in np.flatnonzero(df > 1).tolist():
        start, end = int(indptr[term]), int(indptr[term + 1])
        by_impact[start:end] = start + np.argsort(-doc_weights[start:end], kind="stable")
    impact_ids = doc_ids[by_impact]
    impact_weights = doc_weights[by_impact]
    del by_impact
    dense_terms = (
        np.flatnonzero(df >= n_docs // DENSE_SHARE).astype(np.int32)
        if n_docs >= DENSE_FROM
        else np.zeros(0, np.int32)
    )
    dense_rows = np.zeros((len(dense_terms), n_docs), np.float32)
    for row, dense_term in enumerate(dense_terms.tolist()):
        start, end = int(indptr[dense_term]), int(indptr[dense_term + 1])
        dense_rows[row, doc_ids[start:end]] = doc_weights[start:end]
    return BM25Index(
        doc_len=doc_len,
        avgdl=avgdl,
        idf=idf,
        indptr=indptr,
        impact_ids=impact_ids,
        impact_weights=impact_weights,
        doc_ids=doc_ids,
        doc_tfs=doc_tfs,
        dense_terms=dense_terms,
        dense_rows=dense_rows,
        k1=k1,
        b=b,
    )
