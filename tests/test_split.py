"""A query scored on two threads (``index.split``) must rank exactly as on one: the same
ids and scores, ties kept by the lower paragraph id even when they straddle the split
and whichever thread publishes its k-th best score first."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import threading

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from index import bm25, kernels, split

WORDS = [f"{a}{b}{c}" for a in "bdgkmpst" for b in "aeiou" for c in "lnrx"]  # 160 words
TWIN = ["bal", "bal", "ben", "dal"]  # a paragraph said over and over: exact ties


def _docs(n: int, seed: int) -> list[list[str]]:
    """Random paragraphs, common words in most, and the same short paragraph at places
    on both sides of the middle (the split of every query of its words)."""
    rng = np.random.default_rng(seed)
    docs = [
        list(rng.choice(WORDS[:12], size=int(rng.integers(1, 6))))
        + list(rng.choice(WORDS, size=int(rng.integers(5, 40))))
        for _ in range(n)
    ]
    for at in np.linspace(n // 2 - 3000, n // 2 + 3000, 24).astype(int):
        docs[at] = list(TWIN)
    return docs


def _queries(seed: int) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    queries = [list(rng.choice(WORDS[:12], size=int(rng.integers(2, 9)))) for _ in range(10)]
    queries += [list(rng.choice(WORDS, size=20)) for _ in range(4)]
    return queries + [TWIN, TWIN[1:], ["bal"], [TWIN[0], WORDS[-1]]]


@pytest.fixture(scope="module")
def corpus() -> tuple[list[list[str]], dict[str, int], bm25.BM25Index]:
    docs = _docs(5 * kernels.WINDOW, seed=7)
    vocab: dict[str, int] = {}
    return docs, vocab, bm25.build(bm25.forward_from_tokens(docs, vocab), n_terms=len(vocab))


def _top(index: bm25.BM25Index, ids: list[int], k: int, threshold: int) -> list[tuple[int, float]]:
    saved = split.SPLIT_POSTINGS
    split.SPLIT_POSTINGS = threshold
    try:
        return index.top_k(ids, k)
    finally:
        split.SPLIT_POSTINGS = saved


@pytest.mark.parametrize("k", [1, 10, 30])
def test_two_threads_rank_as_one_and_as_rank_bm25(
    corpus: tuple[list[list[str]], dict[str, int], bm25.BM25Index], k: int
) -> None:
    docs, vocab, index = corpus
    reference = BM25Okapi(docs, k1=bm25.K1, b=bm25.B)
    for query in _queries(8):
        ids = [vocab[t] for t in query]
        serial = _top(index, ids, k, 1 << 62)
        assert _top(index, ids, k, 0) == serial  # split, whatever the query costs
        scores = reference.get_scores(query)
        ranked = sorted(np.flatnonzero(scores > 0), key=lambda j: (-scores[j], j))[:k]
        assert [i for i, _ in serial] == [int(j) for j in ranked]
        for (_, score), j in zip(serial, ranked, strict=True):
            assert abs(score - scores[j]) <= 1e-9 * scores[j]


def _kernel_args(index: bm25.BM25Index, ids: list[int]) -> tuple[object, ...]:
    """The compiled loop's arguments for a query, as ``BM25Index.top_k`` passes them."""
    terms = np.array(sorted(set(ids)), np.int64)
    weight = index.idf[terms].astype(np.float64)
    p = index.postings
    return (
        p.words, p.blk_off, p.blk_width, p.blk_last, index.blk_max, index.norm, index.once,
        np.asarray(p.term_blocks[terms], np.int64), np.asarray(p.term_blocks[terms + 1], np.int64),
        np.asarray(index.indptr[terms + 1] - index.indptr[terms], np.int64),
        weight, weight * (1 + bm25.BOUND_SLACK), index.max_weight[terms].astype(np.float64),
        index.k1,
    )  # fmt: skip


def test_a_bar_from_the_other_range_keeps_the_ties_that_win_on_id(
    corpus: tuple[list[list[str]], dict[str, int], bm25.BM25Index],
) -> None:
    # Either range finished first, with the twins' score as its k-th best: the other must
    # still return its own k best, keeping the twins equal to that bar.
    _, vocab, index = corpus
    args = _kernel_args(index, [vocab[t] for t in TWIN])
    n = index.n_docs
    whole = kernels.maxscore_top_k(*args, 10, 0, n, np.zeros(2), 0)
    twin = float(whole[1].min())
    at = n // 2
    for me, lo, hi in ((0, 0, at), (1, at, n)):
        published = np.zeros(2)
        alone = kernels.maxscore_top_k(*args, 10, lo, hi, published, me)
        assert published[me] == alone[1].min() and published[1 - me] == 0
        assert ((lo <= alone[0]) & (alone[0] < hi)).all()
        shared = np.zeros(2)
        shared[1 - me] = twin
        barred = kernels.maxscore_top_k(*args, 10, lo, hi, shared, me)
        kept = sorted((int(d), s) for d, s in zip(*alone, strict=True) if s >= twin)
        assert sorted((int(d), s) for d, s in zip(*barred, strict=True)) == kept
        assert sum(s == twin for _, s in kept) >= 2  # ties with the bar, kept


def test_queries_at_once_from_many_threads_rank_as_one(
    corpus: tuple[list[list[str]], dict[str, int], bm25.BM25Index],
) -> None:
    # A query is split only while no other search runs in the process; the others run
    # alone, whichever thread asks.
    _, vocab, index = corpus
    queries = [[vocab[t] for t in q] for q in _queries(9)]
    expected = [_top(index, q, 10, 1 << 62) for q in queries]
    found: dict[int, list[list[tuple[int, float]]]] = {}
    saved = split.SPLIT_POSTINGS
    split.SPLIT_POSTINGS = 0

    def ask(worker: int) -> None:
        found[worker] = [index.top_k(q, 10) for q in queries * 3]

    try:
        threads = [threading.Thread(target=ask, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        split.SPLIT_POSTINGS = saved
    for worker in range(4):
        assert found[worker] == expected * 3


def test_a_forked_process_gets_a_helper_of_its_own(
    corpus: tuple[list[list[str]], dict[str, int], bm25.BM25Index],
) -> None:
    # The parent's helper thread is not copied by fork: a child using the parent's
    # executor would wait for it forever.
    _, vocab, index = corpus
    ids = [vocab[t] for t in _queries(8)[0]]
    expected = _top(index, ids, 10, 0)  # the parent's helper thread now runs
    context = multiprocessing.get_context("fork")
    queue = context.SimpleQueue()

    def child() -> None:
        queue.put(_top(index, ids, 10, 0))

    process = context.Process(target=child)
    process.start()
    process.join(timeout=60)
    if process.is_alive():
        process.kill()
    assert process.exitcode == 0
    assert queue.get() == expected


def test_a_query_is_not_split_while_another_process_splits_one(
    corpus: tuple[list[list[str]], dict[str, int], bm25.BM25Index],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The Slack bot answers in several processes: a second costly query at once would
    # put a third thread on two cores.  Another process holding the machine's split
    # lock (as a splitting search does) leaves this one's query on one thread.
    _, vocab, index = corpus
    ids = [vocab[t] for t in _queries(8)[0]]
    ranges: list[tuple[int, int]] = []
    real = kernels.maxscore_top_k

    def recorded(*args: object) -> tuple[np.ndarray, np.ndarray]:
        ranges.append((int(args[-4]), int(args[-3])))  # type: ignore[call-overload]
        return real(*args)

    monkeypatch.setattr(kernels, "maxscore_top_k", recorded)
    expected = _top(index, ids, 10, 1 << 62)
    assert ranges == [(0, index.n_docs)]
    ranges.clear()
    assert _top(index, ids, 10, 0) == expected
    assert len(ranges) == 2  # split
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_THE_SPLIT_LOCK],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        ranges.clear()
        assert _top(index, ids, 10, 0) == expected
        assert ranges == [(0, index.n_docs)]  # one thread
    finally:
        holder.communicate(timeout=60)  # its stdin closed: it lets go and ends
    ranges.clear()
    assert _top(index, ids, 10, 0) == expected
    assert len(ranges) == 2  # split again once the other process let go


_HOLD_THE_SPLIT_LOCK = """
import fcntl, os, sys, tempfile
name = os.path.join(tempfile.gettempdir(), f"citebot-split-{os.getuid()}.lock")
fd = os.open(name, os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.read()
"""
