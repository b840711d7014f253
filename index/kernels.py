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


WINDOW = 4096  # paragraphs scored together: the window's sums fit in the L1 cache
_DEBRUIJN = np.uint64(0x03F79D71B4CB0A89)
_DEBRUIJN_POS = np.array(
    [
        0, 1, 48, 2, 57, 49, 28, 3, 61, 58, 50, 42, 38, 29, 17, 4,
        62, 55, 59, 36, 53, 51, 43, 22, 45, 39, 33, 30, 24, 18, 12, 5,
        63, 47, 56, 27, 60, 41, 37, 16, 54, 35, 52, 21, 44, 32, 23, 11,
        46, 26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9, 13, 8, 7, 6,
    ],
    np.int64,
)  # fmt: skip


@njit(cache=True, nogil=True)
def _lowest_bit(word: np.uint64) -> int:
    """The position of the lowest set bit of a non-zero word (de Bruijn multiplication)."""
    low = word & (~word + np.uint64(1))
    return int(_DEBRUIJN_POS[int((low * _DEBRUIJN) >> np.uint64(58))])


@njit(cache=True, nogil=True)
def _part(
    doc_ids: np.ndarray,
    doc_tfs: np.ndarray,
    norm: np.ndarray,
    weight: float,
    k1p1: float,
    lo: int,
    hi: int,
    doc: int,
) -> float:
    """The term's part of ``doc``'s score, found in ``doc_ids[lo:hi]``; 0 when absent."""
    p = _lower_bound(doc_ids, lo, hi, doc)
    if p < hi and doc_ids[p] == doc:
        tf = float(doc_tfs[p])
        return weight * (tf * k1p1 / (tf + norm[doc]))
    return 0.0


@njit(cache=True, nogil=True)
def maxscore_top_k(
    doc_ids: np.ndarray,
    doc_tfs: np.ndarray,
    norm: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    weights: np.ndarray,
    bounds: np.ndarray,
    by_query: np.ndarray,
    k1: float,
    k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The k best (paragraph, score) with a score above 0, unordered.

    Lists become non-essential in their order here, as the k-th best score passes the sum
    of their ``bounds``; ``by_query`` lists them in query order, the order a paragraph's
    parts are added in for its final score.  ``norm`` is each paragraph's length part,
    ``k1 * (1 - b + b * dl / avgdl)``.  Ties keep the lower paragraph id, as rank_bm25's
    ranking does once sorted by (-score, id).

    Window by window (as Lucene's MaxScore bulk scorer): the essential lists' postings
    in the window are summed into a small array; each paragraph met is then looked up in
    the non-essential lists while it can still reach the top k, and a survivor is scored
    afresh, its parts added in query order, so equal paragraphs tie exactly.
    """
    m = len(starts)
    pos = starts.copy()
    window_start = np.empty(m, np.int64)
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
    sums = np.zeros(WINDOW)
    met = np.zeros(WINDOW // 64, np.uint64)
    k1p1 = k1 + 1.0
    while True:
        lo = -1
        for i in range(first_essential, m):
            if pos[i] < ends[i]:
                d = doc_ids[pos[i]]
                if lo < 0 or d < lo:
                    lo = d
        if lo < 0:
            break
        hi = lo + WINDOW
        essential = first_essential  # fixed for the window, whatever theta does in it
        for i in range(essential, m):
            p = pos[i]
            window_start[i] = p
            end = ends[i]
            weight = weights[i]
            while p < end:
                d = doc_ids[p]
                if d >= hi:
                    break
                tf = float(doc_tfs[p])
                r = d - lo
                sums[r] += weight * (tf * k1p1 / (tf + norm[d]))
                met[r >> 6] |= np.uint64(1) << np.uint64(r & 63)
                p += 1
            pos[i] = p
        for w in range(WINDOW // 64):
            word = met[w]
            if word == 0:
                continue
            met[w] = np.uint64(0)
            while word != 0:
                r = w * 64 + _lowest_bit(word)
                word &= word - np.uint64(1)
                partial = sums[r]
                sums[r] = 0.0
                doc = lo + r
                alive = True
                i = essential - 1
                while i >= 0:
                    if size == k and partial + prefix[i] < cut:
                        alive = False
                        break
                    p = _lower_bound(doc_ids, pos[i], ends[i], doc)
                    pos[i] = p
                    if p < ends[i] and doc_ids[p] == doc:
                        tf = float(doc_tfs[p])
                        partial += weights[i] * (tf * k1p1 / (tf + norm[doc]))
                    i -= 1
                if not alive or (size == k and partial < cut):
                    continue
                score = 0.0
                for j in range(m):
                    i = by_query[j]
                    if i >= essential:
                        score += _part(
                            doc_ids, doc_tfs, norm, weights[i], k1p1, window_start[i], pos[i], doc
                        )
                    else:
                        score += _part(
                            doc_ids, doc_tfs, norm, weights[i], k1p1, pos[i], ends[i], doc
                        )
                if score <= 0 or (size == k and score <= theta):
                    continue
                if size < k:
                    at = size
                    size += 1
                else:  # drop the worst, then place the new one
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
