"""Per window of paragraphs, each list's bound from its blocks' maxima, and the choice of
the lists that need not be walked there (``index.kernels`` runs the window)."""

from __future__ import annotations

import numpy as np
from numba import njit

SCAN = 64  # a list's local bound reads at most this many block maxima (then: the
# term's bound over the whole corpus, a bound too)
EXACT = 8  # the costliest lists among which the non-essential set is chosen exactly


@njit(cache=True, nogil=True, error_model="numpy")
def local_bounds(
    blk_last: np.ndarray,
    blk_max: np.ndarray,
    end: np.ndarray,
    bcur: np.ndarray,
    bound_w: np.ndarray,
    top: np.ndarray,
    lo: int,
    hi: int,
    local: np.ndarray,
    cost: np.ndarray,
) -> None:
    """Each list's bound on ``[lo, hi)`` (its blocks there, from ``bcur``, the first
    block ending at ``lo`` or later) and their count, the cost of walking it."""
    for i in range(len(end)):
        b = bcur[i]
        while b < end[i] and blk_last[b] < lo:
            b += 1
        bcur[i] = b
        best = 0.0
        n = 0
        while b < end[i]:
            n += 1
            if blk_max[b] > best:
                best = blk_max[b]
            if blk_last[b] >= hi - 1:
                break
            b += 1
            if n == SCAN:
                best = top[i]
                n = end[i] - bcur[i]
                break
        local[i] = bound_w[i] * best
        cost[i] = n


@njit(cache=True, nogil=True, error_model="numpy")
def partition(
    local: np.ndarray,
    cost: np.ndarray,
    cut: float,
    low_bit: np.ndarray,
    subset_sum: np.ndarray,
    subset_cost: np.ndarray,
    lists: np.ndarray,
    essential: np.ndarray,
    lookups: np.ndarray,
    rest: np.ndarray,
) -> int:
    """Choose the non-essential lists: their local bounds sum below ``cut``, sparing the
    most blocks (every subset of the ``EXACT`` costliest lists is tried: Lucene's greedy
    order by bound over cost missed the best set for a very common repeated word, and
    walked three times the postings).  Marks ``essential``; fills ``lookups`` (most bound
    per block first: a sparse list, where a paragraph is seldom found, cuts what it
    could still gain the most) and ``rest`` (the bounds still to come from each look-up
    on).  The number of look-ups."""
    m = len(local)
    for a in range(m):  # the lists by cost, costliest first (insertion sort: a few)
        c = a
        while c > 0 and cost[lists[c - 1]] < cost[a]:
            lists[c] = lists[c - 1]
            c -= 1
        lists[c] = a
    n = min(m, EXACT)
    subset_sum[0] = 0.0
    subset_cost[0] = 0
    best = 0
    for mask in range(1, 1 << n):
        j = low_bit[mask]
        rest_of = mask & (mask - 1)
        subset_sum[mask] = subset_sum[rest_of] + local[lists[j]]
        subset_cost[mask] = subset_cost[rest_of] + cost[lists[j]]
        if subset_sum[mask] < cut * 0.9 and subset_cost[mask] > subset_cost[best]:
            best = mask
    for i in range(m):
        essential[i] = True
    n_lookups = 0
    for j in range(n):
        if best & (1 << j):
            essential[lists[j]] = False
            lookups[n_lookups] = lists[j]
            n_lookups += 1
    for a in range(1, n_lookups):  # most bound per block first (insertion sort)
        x = lookups[a]
        c = a
        while c > 0 and local[lookups[c - 1]] * cost[x] < local[x] * cost[lookups[c - 1]]:
            lookups[c] = lookups[c - 1]
            c -= 1
        lookups[c] = x
    total = 0.0
    rest[n_lookups] = 0.0
    for j in range(n_lookups - 1, -1, -1):
        total += local[lookups[j]]
        rest[j] = total
    return n_lookups
