"""BM25 scoring from postings, with exactly the scores of ``rank_bm25.BM25Okapi``.

``rank_bm25`` defines the scores (its k1, b, epsilon and its IDF floor) but walks every
paragraph in Python for every query term.  Here the per-(term, paragraph) part of the
formula is computed once at build time and stored as postings (term -> paragraphs,
weights), so a query costs what its terms' postings cost, not what the corpus costs.
The tests hold this equal to ``rank_bm25`` on the same tokens.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# rank_bm25.BM25Okapi's defaults.
K1 = 1.5
B = 0.75
EPSILON = 0.25


def okapi_idf(
    doc_freqs: npt.NDArray[np.int64], n_docs: int, epsilon: float = EPSILON
) -> npt.NDArray[np.float64]:
    """IDF as rank_bm25 computes it.

    ``log((N - df + 0.5) / (df + 0.5))``; a term in more than half the paragraphs
    would go negative and is floored at ``epsilon`` times the mean IDF instead, while
    a term in exactly half keeps its IDF of 0 (a quirk of rank_bm25 kept on purpose).
    """
    df = doc_freqs.astype(np.float64)
    idf = np.log(n_docs - df + 0.5) - np.log(df + 0.5)
    if idf.size:
        idf[idf < 0] = epsilon * float(idf.mean())
    return idf


@dataclass
class Postings:
    """Postings in CSR form: term ``t`` owns ``doc_ids[indptr[t]:indptr[t+1]]``."""

    indptr: npt.NDArray[np.int64]
    doc_ids: npt.NDArray[np.int32]
    weights: npt.NDArray[np.float32]  # tf*(k1+1) / (tf + k1*(1-b+b*dl/avgdl))
    idf: npt.NDArray[np.float64]
    doc_len: npt.NDArray[np.int32]
    avgdl: float


def build_postings(
    docs: Sequence[Sequence[str]] | Iterable[Sequence[str]],
    vocab: dict[str, int],
    k1: float = K1,
    b: float = B,
    epsilon: float = EPSILON,
) -> Postings:
    """Postings for tokenised paragraphs; ``vocab`` is filled in first-seen order."""
    term_ids: list[np.ndarray] = []
    tfs: list[np.ndarray] = []
    lengths: list[int] = []
    for tokens in docs:
        counts = Counter(tokens)
        for term in counts:
            if term not in vocab:
                vocab[term] = len(vocab)
        term_ids.append(np.fromiter((vocab[t] for t in counts), np.int64, len(counts)))
        tfs.append(np.fromiter(counts.values(), np.float64, len(counts)))
        lengths.append(len(tokens))
    return postings_from_counts(term_ids, tfs, lengths, len(vocab), k1, b, epsilon)


def postings_from_counts(
    term_ids: list[np.ndarray],
    tfs: list[np.ndarray],
    lengths: list[int],
    n_terms: int,
    k1: float = K1,
    b: float = B,
    epsilon: float = EPSILON,
) -> Postings:
    n_docs = len(lengths)
    doc_len = np.asarray(lengths, dtype=np.int32)
    avgdl = float(doc_len.sum()) / n_docs if n_docs else 0.0
    if n_docs == 0:
        empty_f = np.zeros(0, np.float32)
        return Postings(
            np.zeros(n_terms + 1, np.int64),
            np.zeros(0, np.int32),
            empty_f,
            np.zeros(n_terms, np.float64),
            doc_len,
            avgdl,
        )
    sizes = np.fromiter((len(t) for t in term_ids), np.int64, n_docs)
    all_terms = np.concatenate(term_ids) if term_ids else np.zeros(0, np.int64)
    all_tf = np.concatenate(tfs) if tfs else np.zeros(0, np.float64)
    all_docs = np.repeat(np.arange(n_docs, dtype=np.int32), sizes)
    norm = k1 * (1 - b + b * doc_len.astype(np.float64) / avgdl)
    weights = all_tf * (k1 + 1) / (all_tf + norm[all_docs])
    # Group by term (stable, so each term's postings stay in paragraph order).
    order = np.argsort(all_terms, kind="stable")
    df = np.bincount(all_terms, minlength=n_terms).astype(np.int64)
    indptr = np.zeros(n_terms + 1, np.int64)
    np.cumsum(df, out=indptr[1:])
    return Postings(
        indptr=indptr,
        doc_ids=all_docs[order],
        weights=weights[order].astype(np.float32),
        idf=okapi_idf(df, n_docs, epsilon),
        doc_len=doc_len,
        avgdl=avgdl,
    )


def score_terms(
    postings: Postings, term_ids: Sequence[int], n_docs: int
) -> npt.NDArray[np.float64]:
    """Dense scores of every paragraph; a term repeated in the query counts again."""
    scores = np.zeros(n_docs, np.float64)
    for term, count in Counter(term_ids).items():
        start, end = int(postings.indptr[term]), int(postings.indptr[term + 1])
        ids = postings.doc_ids[start:end]
        scores[ids] += (count * postings.idf[term]) * postings.weights[start:end].astype(np.float64)
    return scores


def top_k(scores: npt.NDArray[np.float64], k: int) -> list[tuple[int, float]]:
    """The k best (paragraph, score) pairs with a score above 0, best first, ties by id."""
    candidates = np.flatnonzero(scores > 0)
    if candidates.size > k:
        part = np.argpartition(-scores[candidates], k - 1)[:k]
        threshold = scores[candidates[part]].min()
        candidates = candidates[scores[candidates] >= threshold]
    ranked = sorted(candidates.tolist(), key=lambda i: (-scores[i], i))[:k]
    return [(i, float(scores[i])) for i in ranked]
