"""The query's inner loop, compiled: MaxScore over paragraph-ordered postings.

Written in NumPy, every query made passes over all N paragraphs (scratch arrays, dense
rows, ``bincount(minlength=N)``).  Compiled with numba, a query walks only the postings
it needs, document at a time:

* each list has an upper bound (the term's weight times its largest per-posting part),
  and a prefix of the lists whose bounds together cannot reach the k-th best score so
  far is *non-essential*: a paragraph is only looked up in them (skipping whole
  compressed blocks by their last id, a galloping search) when the essential lists bring
  it up, and dropped as soon as what it could still gain cannot lift it into the top k;
* every paragraph that is scored gets rank_bm25's float64 formula exactly, its terms
  added in query order, so two paragraphs with the same counts and length tie exactly.

Cost follows the postings of the essential lists, never N.  ``cache=True`` keeps the
compiled code on disk, so only the first start after an install compiles (about 2 s).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from index.packing import BLOCK, decode_block, decode_docs, get, tf_bit

# Relative margin on the pruning test: upper bounds come from float32 maxima, and a
# partial sum is added in another order than the final score.
MARGIN = 1e-6


@njit(cache=True, nogil=True)
def _first_block_reaching(blk_last: np.ndarray, lo: int, hi: int, doc: int) -> int:
    """The first block in ``[lo, hi)`` whose last id is ``doc`` or more; galloping."""
    step = 1
    probe = lo
    while probe < hi and blk_last[probe] < doc:
        lo = probe + 1
        probe = lo + step
        step *= 2
    if probe > hi:
        probe = hi
    while lo < probe:  # blk_last[probe] >= doc (or probe == hi): binary search
        mid = (lo + probe) // 2
        if blk_last[mid] < doc:
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
def _load(
    words: np.ndarray,
    blk_off: np.ndarray,
    blk_width: np.ndarray,
    blk_last: np.ndarray,
    i: int,
    b: int,
    first: np.ndarray,
    end: np.ndarray,
    dfs: np.ndarray,
    block: np.ndarray,
    count: np.ndarray,
    idx: np.ndarray,
    docs: np.ndarray,
    tf_at: np.ndarray,
    tfs: np.ndarray,
    parts: np.ndarray,
    weight: float,
    norm: np.ndarray,
    k1p1: float,
    walked: bool,
) -> None:
    """Move list ``i``'s cursor to the start of block ``b``, or past its end.  Its ids
    are unpacked; when the list is ``walked`` its counts too, and every posting's
    weighted part, in a loop of its own: without the branch on a count of 1 (``_part``),
    unpredictable on common words, that cost a third of their walk; with it the loop
    compiles to vector divisions.  Else counts are read one by one where a paragraph is
    found (``get``)."""
    block[i] = b
    idx[i] = 0
    if b < end[i]:
        n = min(BLOCK, dfs[i] - (b - first[i]) * BLOCK)
        count[i] = n
        if walked:
            decode_block(words, blk_off, blk_width, blk_last, b, first[i], n, docs, tfs, i)
            for j in range(n):  # tf (k1 + 1) / (tf + norm): for tf 1, bit for bit ``once``
                ftf = float(tfs[i, j])
                parts[i, j] = weight * (ftf * k1p1 / (ftf + norm[docs[i, j]]))
        else:
            decode_docs(words, blk_off, blk_width, blk_last, b, first[i], n, docs, i)
        tf_at[i, 0] = tf_bit(blk_off, blk_width, b, n)
        tf_at[i, 1] = blk_width[b, 1]


@njit(cache=True, nogil=True, inline="always")
def _part(tf: int, doc: int, norm: np.ndarray, once: np.ndarray, k1p1: float) -> float:
    """rank_bm25's tf part, ``tf * (k1 + 1) / (tf + norm)``, bit for bit (for a count of
    1 the product and the sum are exact, so the stored quotient is the same number)."""
    if tf == 1:
        return float(once[doc])
    ftf = float(tf)
    return ftf * k1p1 / (ftf + norm[doc])


@njit(cache=True, nogil=True)
def _count_in_window(
    words: np.ndarray,
    blk_off: np.ndarray,
    blk_width: np.ndarray,
    blk_last: np.ndarray,
    i: int,
    doc: int,
    since: int,
    first: np.ndarray,
    end: np.ndarray,
    dfs: np.ndarray,
    block: np.ndarray,
    count: np.ndarray,
    docs: np.ndarray,
    tf_at: np.ndarray,
    scratch: np.ndarray,
) -> int:
    """``doc``'s count in list ``i`` (0: absent), found among the blocks the window
    walked (from ``since`` to the current one).  Only for paragraphs that enter the top
    k, so the walk itself keeps no per-paragraph counts."""
    if block[i] < end[i] and docs[i, 0] <= doc:  # in the block unpacked now
        for j in range(count[i]):
            if docs[i, j] >= doc:
                if docs[i, j] == doc:
                    return get(words, tf_at[i, 0] + j * tf_at[i, 1], tf_at[i, 1]) + 1
                return 0
        return 0
    b = _first_block_reaching(blk_last, since, min(block[i], end[i]), doc)
    if b >= end[i]:
        return 0
    n = min(BLOCK, dfs[i] - (b - first[i]) * BLOCK)
    decode_docs(words, blk_off, blk_width, blk_last, b, first[i], n, scratch, 0)
    for j in range(n):
        if scratch[0, j] >= doc:
            if scratch[0, j] == doc:
                width = int(blk_width[b, 1])
                return get(words, tf_bit(blk_off, blk_width, b, n) + j * width, width) + 1
            return 0
    return 0


@njit(cache=True, nogil=True)
def maxscore_top_k(
    words: np.ndarray,
    blk_off: np.ndarray,
    blk_width: np.ndarray,
    blk_last: np.ndarray,
    norm: np.ndarray,
    once: np.ndarray,
    first: np.ndarray,
    end: np.ndarray,
    dfs: np.ndarray,
    weights: np.ndarray,
    bounds: np.ndarray,
    by_query: np.ndarray,
    k1: float,
    k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The k best (paragraph, score) with a score above 0, unordered.

    List ``i`` is the blocks ``first[i]`` to ``end[i]`` of a term with ``dfs[i]``
    postings (``index.postings``).  Lists become non-essential in their order here, as
    the k-th best score passes the sum of their ``bounds``; ``by_query`` lists them in
    query order, the order a paragraph's parts are added in for its final score.
    ``norm`` is each paragraph's length part, ``k1 * (1 - b + b * dl / avgdl)`` (infinite
    for a deleted paragraph: it scores 0), and ``once`` its tf part for a count of 1,
    ``(k1 + 1) / (1 + norm)``: most postings, then scored without a division.  Ties
    keep the lower paragraph id, as rank_bm25's ranking does once sorted by (-score, id).

    Window by window (as Lucene's MaxScore bulk scorer): the essential lists' postings
    in the window are summed into a small array; each paragraph met
    is then looked up in the non-essential lists (skipping whole blocks by their last
    id) while it can still reach the top k, and a survivor is scored afresh, its parts
    added in query order, so equal paragraphs tie exactly.
    """
    m = len(first)
    k1p1 = k1 + 1.0
    block = np.empty(m, np.int64)  # each list's cursor: its unpacked block ...
    count = np.zeros(m, np.int64)
    idx = np.zeros(m, np.int64)  # ... and the place in it
    docs = np.empty((m, BLOCK), np.int64)
    tfs = np.empty((m, BLOCK), np.int64)
    parts = np.empty((m, BLOCK))  # a walked block's weighted tf parts
    tf_at = np.zeros((m, 2), np.int64)  # where the block's counts start, and their width
    for i in range(m):
        _load(words, blk_off, blk_width, blk_last, i, first[i], first, end, dfs,
              block, count, idx, docs, tf_at, tfs, parts, weights[i], norm, k1p1,
              True)  # fmt: skip
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
    found = np.zeros(m, np.int64)  # non-essential lists' counts for the paragraph at hand
    window_block = np.zeros(m, np.int64)  # each essential list's block at the window start
    scratch = np.empty((1, BLOCK), np.int64)
    met = np.zeros(WINDOW // 64, np.uint64)
    while True:
        lo = -1
        for i in range(first_essential, m):
            if block[i] < end[i]:
                d = docs[i, idx[i]]
                if lo < 0 or d < lo:
                    lo = d
        if lo < 0:
            break
        hi = lo + WINDOW
        essential = first_essential  # fixed for the window, whatever theta does in it
        for i in range(essential, m):
            window_block[i] = block[i]
            weight = weights[i]
            while block[i] < end[i]:
                j = idx[i]
                n = count[i]
                while j < n:  # locals only: the compiler keeps them in registers
                    d = docs[i, j]
                    if d >= hi:
                        break
                    r = d - lo
                    sums[r] += parts[i, j]
                    met[r >> 6] |= np.uint64(1) << np.uint64(r & 63)
                    j += 1
                if j < n:  # stopped at the window's end, within the block
                    idx[i] = j
                    break
                _load(words, blk_off, blk_width, blk_last, i, block[i] + 1, first, end,
                      dfs, block, count, idx, docs, tf_at, tfs, parts, weight, norm, k1p1,
                      True)  # fmt: skip
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
                    found[i] = 0
                    if size == k and partial + prefix[i] < cut:
                        alive = False
                        break
                    if block[i] < end[i] and blk_last[block[i]] < doc:
                        _load(words, blk_off, blk_width, blk_last, i,
                              _first_block_reaching(blk_last, block[i] + 1, end[i], doc),
                              first, end, dfs, block, count, idx, docs, tf_at, tfs,
                              parts, 0.0, norm, k1p1, False)  # fmt: skip
                    if block[i] < end[i]:
                        j = idx[i]
                        while docs[i, j] < doc:  # the block's last id is doc or more
                            j += 1
                        idx[i] = j
                        if docs[i, j] == doc:
                            tf = get(words, tf_at[i, 0] + j * tf_at[i, 1], tf_at[i, 1]) + 1
                            found[i] = tf
                            partial += weights[i] * _part(tf, doc, norm, once, k1p1)
                    i -= 1
                if not alive or (size == k and partial < cut):
                    continue
                score = 0.0
                for q in range(m):
                    i = by_query[q]
                    if i >= essential:  # walked in this window: find its count again
                        tf = _count_in_window(words, blk_off, blk_width, blk_last, i, doc,
                                              window_block[i], first, end, dfs, block,
                                              count, docs, tf_at, scratch)  # fmt: skip
                    else:
                        tf = found[i]
                    if tf > 0:
                        score += weights[i] * _part(tf, doc, norm, once, k1p1)
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
