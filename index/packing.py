"""The compiled packing and unpacking of postings blocks (``index.postings`` says the
layout).  Kept apart so that a process that never searches or builds (a chat front end)
never loads numba."""

from __future__ import annotations

import numpy as np
from numba import int64, njit, uint64

# Part of the index format (bump reader.INDEX_FORMAT if it changes) and compiled into
# index.kernels' cached code (clear index/__pycache__/*.nb* too).
BLOCK = 128


@njit(cache=True, nogil=True)
def _bits(value: int) -> int:
    n = 0
    while value > 0:
        n += 1
        value >>= 1
    return n


@njit(cache=True, nogil=True)
def _put(words: np.ndarray, bitpos: int, width: int, value: int) -> None:
    if width == 0:
        return
    word = bitpos >> 6
    shift = bitpos & 63
    v = np.uint64(value)
    words[word] |= v << np.uint64(shift)
    if shift + width > 64:
        words[word + 1] |= v >> np.uint64(64 - shift)


@njit(cache=True, nogil=True, inline="always")
def get(words: np.ndarray, bitpos: int, width: int) -> int:
    """The ``width``-bit value at bit ``bitpos`` (0 when ``width`` is 0)."""
    if width == 0:
        return 0
    shift = uint64(bitpos & 63)
    v = words[bitpos >> 6] >> shift
    if shift + uint64(width) > uint64(64):
        v |= words[(bitpos >> 6) + 1] << (uint64(64) - shift)
    return int64(v & ((uint64(1) << uint64(width)) - uint64(1)))


@njit(cache=True, nogil=True, inline="always")
def unpack(
    words: np.ndarray,
    bit: int,
    width: int,
    n: int,
    out: np.ndarray,
    row: int,
    prev: int,
    running: bool,
) -> None:
    """``n`` values of ``width`` bits from bit ``bit`` (word-aligned), each stored minus
    one, into ``out[row, :n]``: added up from ``prev`` when ``running`` (paragraph ids
    from their gaps), else as they are (counts).  One word read per 64 bits."""
    if width == 0:
        for j in range(n):
            prev += 1
            out[row, j] = prev if running else 1
        return
    w = uint64(width)
    mask = (uint64(1) << w) - uint64(1)
    at = bit >> 6
    acc = words[at]
    at += 1
    avail = uint64(64)
    for j in range(n):
        if avail >= w:
            v = acc & mask
            acc >>= w
            avail -= w
        else:  # the value straddles two words
            nxt = words[at]
            at += 1
            v = (acc | (nxt << avail)) & mask
            acc = nxt >> (w - avail)
            avail = uint64(64) - (w - avail)
        if running:
            prev += int64(v) + 1
            out[row, j] = prev
        else:
            out[row, j] = int64(v) + 1


@njit(cache=True, nogil=True)
def encode(
    doc_ids: np.ndarray, tfs: np.ndarray, indptr: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n_terms = len(indptr) - 1
    term_blocks = np.zeros(n_terms + 1, np.int64)
    for t in range(n_terms):
        df = indptr[t + 1] - indptr[t]
        term_blocks[t + 1] = term_blocks[t] + (df + BLOCK - 1) // BLOCK
    n_blocks = term_blocks[n_terms]
    blk_last = np.zeros(n_blocks, np.int32)
    blk_width = np.zeros((n_blocks, 2), np.uint8)
    blk_off = np.zeros(n_blocks + 1, np.int64)
    for t in range(n_terms):
        start = indptr[t]
        end = indptr[t + 1]
        prev = -1
        for b in range(term_blocks[t], term_blocks[t + 1]):
            lo = start + (b - term_blocks[t]) * BLOCK
            hi = min(lo + BLOCK, end)
            gap = 0
            count = 0
            for p in range(lo, hi):
                gap = max(gap, int(doc_ids[p]) - prev - 1)
                count = max(count, int(tfs[p]) - 1)
                prev = int(doc_ids[p])
            blk_last[b] = prev
            wd = _bits(gap)
            wt = _bits(count)
            blk_width[b, 0] = wd
            blk_width[b, 1] = wt
            n = hi - lo
            blk_off[b + 1] = blk_off[b] + (n * wd + 63) // 64 + (n * wt + 63) // 64
    words = np.zeros(blk_off[n_blocks], np.uint64)
    for t in range(n_terms):
        start = indptr[t]
        end = indptr[t + 1]
        prev = -1
        for b in range(term_blocks[t], term_blocks[t + 1]):
            lo = start + (b - term_blocks[t]) * BLOCK
            hi = min(lo + BLOCK, end)
            n = hi - lo
            wd = int(blk_width[b, 0])
            wt = int(blk_width[b, 1])
            bit = blk_off[b] * 64
            tf_bit = bit + ((n * wd + 63) // 64) * 64
            for j in range(n):
                d = int(doc_ids[lo + j])
                _put(words, bit + j * wd, wd, d - prev - 1)
                _put(words, tf_bit + j * wt, wt, int(tfs[lo + j]) - 1)
                prev = d
    return term_blocks, blk_last, blk_off, blk_width, words


@njit(cache=True, nogil=True)
def tf_bit(blk_off: np.ndarray, blk_width: np.ndarray, b: int, n: int) -> int:
    """Where block ``b``'s counts start, in bits (it holds ``n`` postings)."""
    return int64(blk_off[b] * 64 + ((n * int64(blk_width[b, 0]) + 63) // 64) * 64)


@njit(cache=True, nogil=True)
def decode_docs(
    words: np.ndarray,
    blk_off: np.ndarray,
    blk_width: np.ndarray,
    blk_last: np.ndarray,
    b: int,
    first: int,
    n: int,
    docs: np.ndarray,
    row: int,
) -> None:
    """Unpack block ``b``'s ``n`` paragraph ids (``first``: its term's first block) into
    ``docs[row, :n]``; its counts are read one by one, where needed (``get``)."""
    prev = -1 if b == first else int64(blk_last[b - 1])
    unpack(words, blk_off[b] * 64, int64(blk_width[b, 0]), n, docs, row, prev, True)


@njit(cache=True, nogil=True)
def decode_block(
    words: np.ndarray,
    blk_off: np.ndarray,
    blk_width: np.ndarray,
    blk_last: np.ndarray,
    b: int,
    first: int,
    n: int,
    docs: np.ndarray,
    tfs: np.ndarray,
    row: int,
) -> None:
    """Unpack block ``b`` into ``docs[row, :n]`` and ``tfs[row, :n]``."""
    decode_docs(words, blk_off, blk_width, blk_last, b, first, n, docs, row)
    unpack(words, tf_bit(blk_off, blk_width, b, n), int64(blk_width[b, 1]), n, tfs, row, 0, False)


@njit(cache=True, nogil=True)
def decode_range(
    words: np.ndarray,
    blk_off: np.ndarray,
    blk_width: np.ndarray,
    blk_last: np.ndarray,
    term_blocks: np.ndarray,
    indptr: np.ndarray,
    t0: int,
    t1: int,
) -> tuple[np.ndarray, np.ndarray]:
    total = indptr[t1] - indptr[t0]
    out_docs = np.empty(total, np.int32)
    out_tfs = np.empty(total, np.uint16)
    docs = np.empty((1, BLOCK), np.int64)
    tfs = np.empty((1, BLOCK), np.int64)
    at = 0
    for t in range(t0, t1):
        df = indptr[t + 1] - indptr[t]
        first = term_blocks[t]
        for b in range(first, term_blocks[t + 1]):
            n = min(BLOCK, df - (b - first) * BLOCK)
            decode_block(words, blk_off, blk_width, blk_last, b, first, n, docs, tfs, 0)
            for j in range(n):
                out_docs[at] = docs[0, j]
                out_tfs[at] = tfs[0, j]
                at += 1
    return out_docs, out_tfs


@njit(cache=True, nogil=True)
def block_maxima(
    doc_ids: np.ndarray,
    doc_tfs: np.ndarray,
    indptr: np.ndarray,
    doc_len: np.ndarray,
    avgdl: float,
    k1: float,
    b: float,
) -> np.ndarray:
    """Each block's largest tf part, ``tf (k1 + 1) / (tf + norm)`` (blocks in
    ``encode``'s order), in one pass: as arrays of every posting's part these were three
    float copies of the postings at build."""
    n_blocks = 0
    for t in range(len(indptr) - 1):
        n_blocks += (indptr[t + 1] - indptr[t] + BLOCK - 1) // BLOCK
    out = np.zeros(n_blocks, np.float64)
    scale = b / max(avgdl, 1e-9)
    at = 0
    for t in range(len(indptr) - 1):
        for lo in range(indptr[t], indptr[t + 1], BLOCK):
            best = 0.0
            for p in range(lo, min(lo + BLOCK, indptr[t + 1])):
                tf = float(doc_tfs[p])
                part = tf * (k1 + 1) / (tf + k1 * (1 - b + scale * float(doc_len[doc_ids[p]])))
                if part > best:
                    best = part
            out[at] = best
            at += 1
    return out
