"""The query's inner loop, compiled: block-max MaxScore over paragraph-ordered postings.

Written in NumPy, every query made passes over all N paragraphs (scratch arrays, dense
rows, ``bincount(minlength=N)``).  Compiled with numba, a query walks only the postings
it needs, window by window, as Lucene's ``MaxScoreBulkScorer`` does:

* each postings block stores the largest tf part among its postings, so within a window
  of paragraphs each list has a *local* bound (its weight times the largest of its
  blocks there), often well below the term's bound over the whole corpus;
* per window, the lists whose local bounds together cannot reach the k-th best score so
  far are *non-essential* (the set that spares the most blocks, chosen exactly among the
  costliest lists): a paragraph is only looked up in them when the essential lists bring
  it up, and dropped as soon as what it could still gain (each list's bound tightened to
  the block the paragraph falls in) cannot lift it into the top k; a window where every
  list is non-essential is skipped without unpacking anything;
* every paragraph that is scored gets rank_bm25's float64 formula exactly, its terms
  added in query order, so two paragraphs with the same counts and length tie exactly.

Cost follows the blocks that can still matter, never N.  ``cache=True`` keeps the
compiled code on disk, so only the first start after an install compiles (a few s).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from index.bounds import EXACT, local_bounds, partition
from index.cursors import count_in_window, first_block_reaching, load, lowest_bit, part, push
from index.packing import BLOCK, get

# Relative margin on the pruning test: upper bounds come from float32 maxima, and a
# partial sum is added in another order than the final score.
MARGIN = 1e-6
WINDOW = 8192  # paragraphs scored together: the window's arrays stay in the L2 cache
SPAN = 8192  # a window of bounds covers at least this many paragraphs
DENSE = 8  # a look-up list is walked when its postings in the window are under this
# many times the candidates


@njit(cache=True, nogil=True, error_model="numpy")
def maxscore_top_k(
    words: np.ndarray,
    blk_off: np.ndarray,
    blk_width: np.ndarray,
    blk_last: np.ndarray,
    blk_max: np.ndarray,
    norm: np.ndarray,
    once: np.ndarray,
    first: np.ndarray,
    end: np.ndarray,
    dfs: np.ndarray,
    weights: np.ndarray,
    bound_w: np.ndarray,
    top: np.ndarray,
    k1: float,
    k: int,
    lo_doc: int,
    hi_doc: int,
    shared: np.ndarray,
    me: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The k best (paragraph, score) among paragraphs ``lo_doc`` to ``hi_doc`` (excluded)
    with a score above 0, unordered.

    List ``i`` is the blocks ``first[i]`` to ``end[i]`` of a term with ``dfs[i]``
    postings (``index.postings``); ``bound_w[i]`` times a block's ``blk_max`` bounds its
    postings' weighted parts, and ``top[i]`` is the largest ``blk_max`` of the term.
    The lists come in query order, the order a paragraph's parts are added in for its
    final score.  ``norm`` is each paragraph's length part, ``k1 * (1 - b + b * dl /
    avgdl)`` (infinite for a deleted paragraph: it scores 0), and ``once`` its tf part for
    a count of 1, ``(k1 + 1) / (1 + norm)``: most postings, then scored without a
    division.  Ties keep the lower paragraph id, as rank_bm25's ranking does once sorted
    by (-score, id).

    A window's candidates (the paragraphs its essential lists hold, with their partial
    sums) are then looked up one non-essential list at a time, as Lucene 10 does: each
    pass a tight merge of sorted ids, dropping the candidates that can no longer reach
    the top k; the few left are scored afresh.

    ``shared[me]`` is set to this call's k-th best score as it rises, and the other entry
    is read as a bar too: another thread scoring another range of the same query
    (``index.split``) publishes its own k-th best there, a lower bound of the k-th best
    of all, so each prunes with the higher of the two and the k best of both ranges hold
    the k best overall.  A paragraph only equal to that bar is kept (it may win on id).
    """
    m = len(first)
    k1p1 = k1 + 1.0
    block = np.empty(m, np.int64)  # each list's cursor: its unpacked block ...
    count = np.zeros(m, np.int64)
    idx = np.zeros(m, np.int64)  # ... and the place in it
    full = np.zeros(m, np.bool_)  # ... whose counts and parts are unpacked too
    start = np.empty(m, np.int64)  # each list's first block reaching lo_doc
    for i in range(m):
        start[i] = first_block_reaching(blk_last, first[i], end[i], lo_doc)
    seek = start.copy()  # a block a look-up found (unpacked only if needed)
    docs = np.empty((m, BLOCK), np.int64)
    tfs = np.empty((m, BLOCK), np.int64)
    parts = np.empty((m, BLOCK))  # a walked block's weighted tf parts
    tf_at = np.zeros((m, 2), np.int64)  # where the block's counts start, and their width
    for i in range(m):
        load(words, blk_off, blk_width, blk_last, i, start[i], first, end, dfs,
             block, count, idx, docs, tf_at, tfs, parts, weights[i], norm, k1p1, True)  # fmt: skip
        full[i] = True
    bcur = start.copy()  # each list's first block ending at the window's start or later
    local = np.empty(m)
    cost = np.zeros(m, np.int64)
    essential = np.ones(m, np.bool_)
    lookups = np.zeros(m, np.int64)
    rest = np.zeros(m + 1)
    n_sub = 1 << min(m, EXACT)
    subset_sum = np.empty(n_sub)
    subset_cost = np.empty(n_sub, np.int64)
    low_bit = np.zeros(n_sub, np.int64)  # a subset's lowest list
    for mask in range(1, n_sub):
        while not mask & (1 << low_bit[mask]):
            low_bit[mask] += 1
    lists = np.empty(m, np.int64)
    heap_docs = np.empty(k, np.int64)  # a min-heap on (score, -doc): the worst on top
    heap_scores = np.empty(k)
    size = 0
    theta = 0.0  # the k-th best score once k are found; below it nothing can enter
    other = 1 - me
    outside = 0.0  # the other range's k-th best (0: none yet)
    cut = 0.0  # the bar of the pruning tests: the higher of the two, less the margin
    sums = np.zeros(WINDOW)
    met = np.zeros(WINDOW // 64, np.uint64)
    # The window's candidates by slot (``WINDOW``: a slot for paragraphs that are not),
    # with their sums so far and the counts the look-ups found; ``alive``: the slots
    # still in the running, in paragraph order; ``slot_of``: a paragraph's slot.
    cand_doc = np.empty(WINDOW, np.int64)
    cand_score = np.zeros(2 * WINDOW)
    cand_tf = np.zeros((m, WINDOW), np.int64)
    alive = np.empty(WINDOW, np.int64)
    slot_of = np.arange(WINDOW, 2 * WINDOW)
    n_docs = len(norm)
    window_block = np.zeros(m, np.int64)  # each walked list's block at the window start
    swept = np.zeros(m, np.bool_)  # the look-up lists walked in this window
    scratch = np.empty((1, BLOCK), np.int64)
    lo = lo_doc
    while lo < hi_doc:
        if shared[other] > outside:
            outside = shared[other]
            cut = max(theta, outside) * (1 - MARGIN)
        # The window: to the end of the essential lists' blocks at lo, SPAN at least.
        hi = -1
        for i in range(m):
            b = bcur[i]
            while b < end[i] and blk_last[b] < lo:
                b += 1
            bcur[i] = b
            if b < end[i] and essential[i] and (hi < 0 or blk_last[b] + 1 < hi):
                hi = blk_last[b] + 1
        if hi < 0:  # no essential list left: the others' blocks decide
            for i in range(m):
                if bcur[i] < end[i] and (hi < 0 or blk_last[bcur[i]] + 1 < hi):
                    hi = blk_last[bcur[i]] + 1
            if hi < 0:
                break  # every list is past its end
        hi = min(max(hi, lo + SPAN), hi_doc)
        local_bounds(blk_last, blk_max, end, bcur, bound_w, top, lo, hi, local, cost)
        n_lookups = 0
        if cut > 0:
            n_lookups = partition(local, cost, cut, low_bit, subset_sum, subset_cost,
                                   lists, essential, lookups, rest)  # fmt: skip
        else:
            essential[:] = True
        walked = False
        for i in range(m):  # the essential lists, moved to lo and fully unpacked
            if not essential[i] or block[i] >= end[i]:
                continue
            walked = True
            if blk_last[block[i]] < lo:
                load(words, blk_off, blk_width, blk_last, i,
                     first_block_reaching(blk_last, block[i] + 1, end[i], lo), first, end,
                     dfs, block, count, idx, docs, tf_at, tfs, parts, weights[i], norm,
                     k1p1, True)  # fmt: skip
            elif not full[i]:
                at = idx[i]
                load(words, blk_off, blk_width, blk_last, i, block[i], first, end, dfs,
                     block, count, idx, docs, tf_at, tfs, parts, weights[i], norm, k1p1,
                     True)  # fmt: skip
                idx[i] = at
            full[i] = True
            if block[i] < end[i]:
                while docs[i, idx[i]] < lo:  # the block's last id is lo or more
                    idx[i] += 1
        if not walked:  # every list non-essential: the window cannot hold a top-k entry
            lo = hi
            continue
        at_cut = cut
        while True:
            wlo = -1
            for i in range(m):
                if essential[i] and block[i] < end[i]:
                    d = docs[i, idx[i]]
                    if wlo < 0 or d < wlo:
                        wlo = d
            if wlo < 0 or wlo >= hi:
                break
            whi = min(wlo + WINDOW, hi)
            for i in range(m):
                if not essential[i]:
                    continue
                window_block[i] = block[i]
                weight = weights[i]
                while block[i] < end[i]:
                    j = idx[i]
                    n = count[i]
                    while j < n:  # locals only: the compiler keeps them in registers
                        d = docs[i, j]
                        if d >= whi:
                            break
                        r = d - wlo
                        sums[r] += parts[i, j]
                        met[r >> 6] |= np.uint64(1) << np.uint64(r & 63)
                        j += 1
                    if j < n:  # stopped at the window's end, within the block
                        idx[i] = j
                        break
                    load(words, blk_off, blk_width, blk_last, i, block[i] + 1, first, end,
                         dfs, block, count, idx, docs, tf_at, tfs, parts, weight, norm,
                         k1p1, True)  # fmt: skip
            # The candidates that the non-essential lists could still lift to the cut.
            bar = cut - rest[0] if cut > 0 else -1.0
            n_cand = 0
            for w in range(WINDOW // 64):
                word = met[w]
                if word == 0:
                    continue
                met[w] = np.uint64(0)
                while word != 0:
                    r = w * 64 + lowest_bit(word)
                    word &= word - np.uint64(1)
                    partial = sums[r]
                    sums[r] = 0.0
                    if partial >= bar:
                        cand_doc[n_cand] = wlo + r
                        cand_score[n_cand] = partial
                        alive[n_cand] = n_cand
                        slot_of[r] = n_cand
                        n_cand += 1
            n_gathered = n_cand
            swept[:] = False
            for q in range(n_lookups):  # one list at a time, dropping as they fall short
                if n_cand == 0:
                    break
                i = lookups[q]
                weight = weights[i]
                bar = cut - rest[q + 1]
                if n_cand * DENSE > dfs[i] * (whi - wlo) // n_docs:
                    # Many candidates: walk the list's postings in the window instead,
                    # each adding to its paragraph's slot (a spare one of its own if it is
                    # no candidate: no chain of additions to one place); counts are found
                    # again for the few that are scored.
                    b = max(block[i], seek[i])
                    if b < end[i] and blk_last[b] < wlo:
                        b = first_block_reaching(blk_last, b + 1, end[i], wlo)
                    if b != block[i] or not full[i]:
                        at = idx[i] if b == block[i] else 0
                        load(words, blk_off, blk_width, blk_last, i, b, first, end, dfs,
                             block, count, idx, docs, tf_at, tfs, parts, weight, norm,
                             k1p1, True)  # fmt: skip
                        idx[i] = at
                        full[i] = True
                    window_block[i] = block[i]
                    swept[i] = True
                    while block[i] < end[i]:
                        j = idx[i]
                        n = count[i]
                        while j < n and docs[i, j] < wlo:
                            j += 1
                        while j < n:
                            d = docs[i, j]
                            if d >= whi:
                                break
                            slot = slot_of[d - wlo]
                            cand_score[slot] += parts[i, j]
                            j += 1
                        if j < n:
                            idx[i] = j
                            break
                        load(words, blk_off, blk_width, blk_last, i, block[i] + 1, first,
                             end, dfs, block, count, idx, docs, tf_at, tfs, parts, weight,
                             norm, k1p1, True)  # fmt: skip
                        full[i] = True
                    kept = 0
                    for c in range(n_cand):
                        slot = alive[c]
                        if cand_score[slot] >= bar:
                            alive[kept] = slot
                            kept += 1
                    n_cand = kept
                    continue
                bw = bound_w[i]
                need = cut - rest[q] + local[i]  # from this list's block, at the least
                kept = 0
                for c in range(n_cand):
                    slot = alive[c]
                    doc = cand_doc[slot]
                    score = cand_score[slot]
                    tf = 0
                    b = max(block[i], seek[i])
                    if b < end[i] and blk_last[b] < doc:
                        b = first_block_reaching(blk_last, b + 1, end[i], doc)
                        seek[i] = b
                    if b < end[i]:
                        if score + bw * blk_max[b] < need:
                            continue
                        if b != block[i]:
                            load(words, blk_off, blk_width, blk_last, i, b, first, end,
                                 dfs, block, count, idx, docs, tf_at, tfs, parts, 0.0,
                                 norm, k1p1, False)  # fmt: skip
                            full[i] = False
                        j = idx[i]
                        while docs[i, j] < doc:  # the block's last id is doc or more
                            j += 1
                        idx[i] = j
                        if docs[i, j] == doc:
                            tf = get(words, tf_at[i, 0] + j * tf_at[i, 1], tf_at[i, 1]) + 1
                            score += weight * part(tf, doc, norm, once, k1p1)
                    if score < bar:
                        continue
                    cand_tf[q, slot] = tf
                    cand_score[slot] = score
                    alive[kept] = slot
                    kept += 1
                n_cand = kept
            for c in range(n_gathered):  # each paragraph's spare slot again
                slot_of[cand_doc[c] - wlo] = WINDOW + cand_doc[c] - wlo
            for c in range(n_cand):  # the survivors, scored afresh in query order
                slot = alive[c]
                if cut > 0 and cand_score[slot] < cut:
                    continue
                doc = cand_doc[slot]
                score = 0.0
                for i in range(m):
                    if essential[i] or swept[i]:  # walked: find its count again
                        tf = count_in_window(words, blk_off, blk_width, blk_last, i, doc,
                                             window_block[i], first, end, dfs, block,
                                             count, docs, tf_at, scratch)  # fmt: skip
                    else:
                        q = 0
                        while lookups[q] != i:
                            q += 1
                        tf = cand_tf[q, slot]
                    if tf > 0:
                        score += weights[i] * part(tf, doc, norm, once, k1p1)
                if score <= 0 or (size == k and score <= theta) or score < outside:
                    continue
                size = push(heap_docs, heap_scores, size, doc, score)
                if size == k:
                    theta = heap_scores[0]
                    shared[me] = theta
                    cut = max(theta, outside) * (1 - MARGIN)
            if shared[other] > outside:
                outside = shared[other]
                cut = max(theta, outside) * (1 - MARGIN)
            if cut != at_cut and whi < hi:  # a higher bar: choose the lists again
                hi = whi
                break
        lo = hi
    return heap_docs[:size].copy(), heap_scores[:size].copy()
