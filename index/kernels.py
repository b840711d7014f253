"""The query's inner loop, compiled: MaxScore over paragraph-ordered postings.

Written in NumPy, every query made passes over all N paragraphs (scratch arrays, dense
rows, ``bincount(minlength=N)``).  Compiled with numba, a query walks only the postings
it needs, document at a time:

* each list has an upper bound (the term's weight times its largest per-posting part),
  and a prefix of the lists whose bounds together cannot reach the k-th best score so
  far is *non-essential*: a paragraph is only looked up in them (by a
  galloping search) when the essential lists bring it up, and dropped as soon as what
  it could still gain cannot lift it into the top k;
* every paragraph that is scored gets rank_bm25's float64 formula exactly, its terms
  added in query order, so two paragraphs with the same counts and length tie exactly.

Cost follows the postings of the essential lists, never N.  ``cache=True`` keeps the
compiled code on disk, so only the first start after an install compiles (about 2 s).
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Relative margin on the pruning test: upper bounds come from float32 maxima, and a
# partial sum is added in another order than the final score.
MARGIN = 1e-6


@njit(cache=True, nogil=True)
def _lower_bound(ids: np.ndarray, lo: int, hi: int, doc: int) -> int:
    """The first position in ``ids[lo:hi]`` (sorted) holding ``doc`` or more; galloping."""
    step = 1
    probe = lo
    while probe < hi and ids[probe] < doc:
        lo = probe + 1
        probe = lo + step
        step *= 2
    if probe > hi:
        probe = hi
    while lo < probe:  # ids[probe] >= doc (or probe == hi): binary search in [lo, probe)
        mid = (lo + probe) // 2
        if ids[mid] < doc:
            lo = mid + 1
        else:
            probe = mid
    return lo


@njit(cache=True, nogil=True)
def maxscore_top_k(
    doc_ids: np.ndarray,
    doc_tfs: np.ndarray,
    doc_len: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    weights: np.ndarray,
    bounds: np.ndarray,
    query_pos: np.ndarray,
    k1: float,
    b: float,
    avgdl: float,
    k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The k best (paragraph, score) with a score above 0, unordered.

    Lists become non-essential in their order here, as the k-th best score passes the sum
    of their ``bounds``; ``query_pos[i]`` is list i's place in the query, the order its
    part is added in.  Ties keep the lower paragraph id, as
    rank_bm25's ranking does once sorted by (-score, id).
    """
    m = len(starts)
    pos = starts.copy()
    prefix = np.empty(m)
    total = 0.0
    for i in range(m):
        total += bounds[i]
        prefix[i] = total
    heap_docs = np.empty(k, np.int64)  # a min-heap on (score, -doc): the worst on top
    heap_scores = np.empty(k)
    size = 0
    theta = 0.0  # the k-th best score once k are found; below it nothing can enter
    cut = 0.0
    first_essential = 0
    part = np.zeros(m)
    k1p1 = k1 + 1.0
    while True:
        doc = -1
        for i in range(first_essential, m):
            if pos[i] < ends[i]:
                d = doc_ids[pos[i]]
                if doc < 0 or d < doc:
                    doc = d
        if doc < 0:
            break
        dl = float(doc_len[doc])
        norm = k1 * (1 - b + b * dl / avgdl)
        partial = 0.0
        for i in range(first_essential, m):
            p = pos[i]
            if p < ends[i] and doc_ids[p] == doc:
                tf = float(doc_tfs[p])
                c = weights[i] * (tf * k1p1 / (tf + norm))
                part[query_pos[i]] = c
                partial += c
                pos[i] = p + 1
        alive = True
        i = first_essential - 1
        while i >= 0:
            if size == k and partial + prefix[i] < cut:
                alive = False
                break
            p = _lower_bound(doc_ids, pos[i], ends[i], doc)
            pos[i] = p
            if p < ends[i] and doc_ids[p] == doc:
                tf = float(doc_tfs[p])
                c = weights[i] * (tf * k1p1 / (tf + norm))
                part[query_pos[i]] = c
                partial += c
            i -= 1
        if alive:
            score = 0.0
            for j in range(m):
                score += part[j]
            if score > 0 and (size < k or score > theta):
                if size < k:
                    at = size
                    size += 1
                else:
                    at = 0  # replace the worst, then sift it down
                    heap_docs[0] = heap_docs[size - 1]
                    heap_scores[0] = heap_scores[size - 1]
                    _sift_down(heap_docs, heap_scores, 0, size - 1)
                    at = size - 1
                heap_docs[at] = doc
                heap_scores[at] = score
                _sift_up(heap_docs, heap_scores, at)
                if size == k:
                    theta = heap_scores[0]
                    cut = theta * (1 - MARGIN)
                    while first_essential < m and prefix[first_essential] < cut:
                        first_essential += 1
        for j in range(m):
            part[j] = 0.0
    return heap_docs[:size].copy(), heap_scores[:size].copy()


@njit(cache=True, nogil=True)
def _worse(docs: np.ndarray, scores: np.ndarray, a: int, c: int) -> bool:
    """Is entry a ranked below entry c (lower score, or the same score and a later id)?"""
    return scores[a] < scores[c] or (scores[a] == scores[c] and docs[a] > docs[c])


@njit(cache=True, nogil=True)
def _swap(docs: np.ndarray, scores: np.ndarray, a: int, c: int) -> None:
    docs[a], docs[c] = docs[c], docs[a]
    scores[a], scores[c] = scores[c], scores[a]


@njit(cache=True, nogil=True)
def _sift_up(docs: np.ndarray, scores: np.ndarray, at: int) -> None:
    while at > 0:
        parent = (at - 1) // 2
        if _worse(docs, scores, at, parent):
            _swap(docs, scores, at, parent)
            at = parent
        else:
            break


@njit(cache=True, nogil=True)
def _sift_down(docs: np.ndarray, scores: np.ndarray, at: int, size: int) -> None:
    while True:
        left = 2 * at + 1
        worst = at
        if left < size and _worse(docs, scores, left, worst):
            worst = left
        if left + 1 < size and _worse(docs, scores, left + 1, worst):
            worst = left + 1
        if worst == at:
            return
        _swap(docs, scores, at, worst)
        at = worst
