"""A query's posting-list cursors, compiled (``index.kernels`` drives them): moving a
list to a block and unpacking it, finding a paragraph's count, and the top-k heap.
Kept apart from the MaxScore loop so each file reads as one job."""

from __future__ import annotations

import numpy as np
from numba import njit

from index.packing import BLOCK, decode_block, decode_docs, get, tf_bit


@njit(cache=True, nogil=True, error_model="numpy")
def first_block_reaching(blk_last: np.ndarray, lo: int, hi: int, doc: int) -> int:
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


@njit(cache=True, nogil=True, error_model="numpy")
def lowest_bit(word: np.uint64) -> int:
    """The position of the lowest set bit of a non-zero word (de Bruijn multiplication)."""
    low = word & (~word + np.uint64(1))
    return int(_DEBRUIJN_POS[int((low * _DEBRUIJN) >> np.uint64(58))])


@njit(cache=True, nogil=True, error_model="numpy")
def load(
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


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def part(tf: int, doc: int, norm: np.ndarray, once: np.ndarray, k1p1: float) -> float:
    """rank_bm25's tf part, ``tf * (k1 + 1) / (tf + norm)``, bit for bit (for a count of
    1 the product and the sum are exact, so the stored quotient is the same number)."""
    if tf == 1:
        return float(once[doc])
    ftf = float(tf)
    return ftf * k1p1 / (ftf + norm[doc])


@njit(cache=True, nogil=True, error_model="numpy")
def count_in_window(
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
    b = first_block_reaching(blk_last, since, min(block[i], end[i]), doc)
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


@njit(cache=True, nogil=True, error_model="numpy")
def _worse(docs: np.ndarray, scores: np.ndarray, a: int, c: int) -> bool:
    """Is entry a ranked below entry c (lower score, or the same score and a later id)?"""
    return scores[a] < scores[c] or (scores[a] == scores[c] and docs[a] > docs[c])


@njit(cache=True, nogil=True, error_model="numpy")
def _swap(docs: np.ndarray, scores: np.ndarray, a: int, c: int) -> None:
    docs[a], docs[c] = docs[c], docs[a]
    scores[a], scores[c] = scores[c], scores[a]


@njit(cache=True, nogil=True, error_model="numpy")
def sift_up(docs: np.ndarray, scores: np.ndarray, at: int) -> None:
    while at > 0:
        parent = (at - 1) // 2
        if _worse(docs, scores, at, parent):
            _swap(docs, scores, at, parent)
            at = parent
        else:
            break


@njit(cache=True, nogil=True, error_model="numpy")
def sift_down(docs: np.ndarray, scores: np.ndarray, at: int, size: int) -> None:
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


@njit(cache=True, nogil=True, error_model="numpy")
def push(docs: np.ndarray, scores: np.ndarray, size: int, doc: int, score: float) -> int:
    """Put (doc, score) in the min-heap of ``size`` entries (the worst dropped first when
    it is full); the new size."""
    k = len(docs)
    if size < k:
        at = size
        size += 1
    else:  # drop the worst, then place the new one
        docs[0] = docs[size - 1]
        scores[0] = scores[size - 1]
        sift_down(docs, scores, 0, size - 1)
        at = size - 1
    docs[at] = doc
    scores[at] = score
    sift_up(docs, scores, at)
    return size
