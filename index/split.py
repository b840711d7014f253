"""A costly query scored on two cores: its paragraphs in two ranges, one per thread.

At 3M paragraphs a question of only common words, or of 20 words, walks ten million
postings or more (40-50 ms on one core); block-max bounds prune little there, as nearly
every block holds some paragraph that could score high.  The compiled loop
(``index.kernels``) releases the GIL, so the caller's thread scores the paragraphs below
a split and a helper thread those above, each keeping its own k best and publishing its
k-th best score for the other to prune with (a lower bound of the k-th best of all, so
pruning stays exact); the two lists of k are merged by (-score, id).

Only a query whose lists hold ``SPLIT_POSTINGS`` postings or more is split: below that
waking a thread costs more than it saves.  And only a query that starts while no other
search runs in the process, and no other query is split on the machine (the Slack bot
answers in several processes): with two users asking at once both cores are taken, and
a third thread only made both wait (measured at 3M: p99 +5 ms, wall time +9%).  So one
helper serves the process, and concurrent users never queue behind each other.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt

try:
    import fcntl
except ImportError:  # (not on Windows)
    fcntl = None  # type: ignore[assignment]

SPLIT_POSTINGS = 1_000_000  # a query with fewer postings in its lists runs on one thread

Hits = tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]


class _MachineSlot:
    """The right to split a query, one process of this user's at a time: a lock on a
    file (``flock``, per open file, so each process opens its own; a process's searches
    take it one at a time already).  Where there is no ``flock``, every process may."""

    def __init__(self) -> None:
        self._fd = -1
        if fcntl is None:
            return
        uid = os.getuid() if hasattr(os, "getuid") else 0
        name = os.path.join(tempfile.gettempdir(), f"citebot-split-{uid}.lock")
        with contextlib.suppress(OSError):  # unwritable: split as a single process would
            self._fd = os.open(name, os.O_RDWR | os.O_CREAT, 0o600)

    def take(self) -> bool:
        if self._fd < 0:
            return True
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # another process is splitting a query
        return True

    def give_back(self) -> None:
        if self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)


class _Helper:
    """This process's helper thread, how many searches run in the process now, and its
    right to split a query."""

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="citebot-split")
        self.lock = threading.Lock()
        self.running = 0
        self.slot = _MachineSlot()


_helpers: dict[int, _Helper] = {}  # by process id
_making = threading.Lock()


def _unlock_in_child() -> None:
    global _making
    _making = threading.Lock()  # a thread of the parent may have held it at the fork


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_unlock_in_child)


def _helper() -> _Helper:
    """This process's helper: made again in a forked child, where the parent's thread
    does not run (its queue would never drain) and the parent's searches are not; made
    once however many threads ask for it first."""
    pid = os.getpid()
    helper = _helpers.get(pid)
    if helper is None:
        with _making:
            helper = _helpers.get(pid)
            if helper is None:
                helper = _helpers[pid] = _Helper()
    return helper


def split_point(
    blk_last: npt.NDArray[Any],
    first: npt.NDArray[np.int64],
    end: npt.NDArray[np.int64],
    dfs: npt.NDArray[np.int64],
) -> int:
    """A paragraph id halving the longest list's postings: that list costs the most,
    and the others follow the corpus's order as it does."""
    longest = int(np.argmax(dfs))
    middle = (int(first[longest]) + int(end[longest])) // 2
    return int(blk_last[middle - 1]) + 1 if middle > first[longest] else 0


def top_k(
    kernel: Callable[..., Hits],
    args: tuple[Any, ...],
    k: int,
    n_docs: int,
    postings: int,
    blk_last: npt.NDArray[Any],
    first: npt.NDArray[np.int64],
    end: npt.NDArray[np.int64],
    dfs: npt.NDArray[np.int64],
) -> Hits:
    """``kernel(*args, k, lo, hi, shared, me)`` over all ``n_docs`` paragraphs: on two
    threads when the query is costly and no other search runs in the process (its
    thread has a core already), else on this one.  The k best, unordered."""
    at = split_point(blk_last, first, end, dfs) if postings >= SPLIT_POSTINGS else 0
    helper = _helper()
    with helper.lock:
        alone = helper.running == 0
        helper.running += 1
    try:
        slot = helper.slot
        if not alone or not 0 < at < n_docs or not slot.take():
            return kernel(*args, k, 0, n_docs, np.zeros(2), 0)
        try:
            shared = np.zeros(2)
            upper = helper.pool.submit(lambda: kernel(*args, k, at, n_docs, shared, 1))
            try:
                low_docs, low_scores = kernel(*args, k, 0, at, shared, 0)
            finally:
                high_docs, high_scores = upper.result()
        finally:
            slot.give_back()
    finally:
        with helper.lock:
            helper.running -= 1
    docs = np.concatenate((low_docs, high_docs))
    scores = np.concatenate((low_scores, high_scores))
    best = np.lexsort((docs, -scores))[:k]
    return docs[best], scores[best]
