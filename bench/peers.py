"""The engines a user might pick instead of citebot, built from the very same tokens.

tantivy (tantivy-py) and bm25s come from the ``bench`` extra (``pip install -e
'.[bench]'``).  Each is built in a process of its own (build time, peak memory, size on
disk), then all three are loaded into one process and asked the same questions,
interleaved (citebot, tantivy, bm25s, citebot, ...), so that machine noise falls on all
of them alike.  Their scores are their own BM25 variants (tantivy's k1 and b are fixed
at 1.2 and 0.75): only latency and size are compared, never rankings.
"""

from __future__ import annotations

import gc
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TANTIVY_THREADS = 2  # indexing threads: the machine's cores


def paragraph_tokens(directory: str) -> Iterator[list[str]]:
    """Each paragraph's tokens as citebot indexed them (BM25 ignores their order)."""
    import numpy as np

    from index.store import SearchIndex

    index = SearchIndex(Path(directory))
    forward = index.bm25.forward()
    terms = index.terms
    indptr = np.asarray(forward.indptr)
    term_ids = np.asarray(forward.terms)
    tfs = np.asarray(forward.tfs)
    for d in index.paragraph_ids():  # live ones: with a delta segment, ids have gaps
        lo, hi = indptr[d], indptr[d + 1]
        yield [
            terms[t]
            for t, n in zip(term_ids[lo:hi].tolist(), tfs[lo:hi].tolist(), strict=True)
            for _ in range(n)
        ]


def rss_mb() -> float:
    """This process's resident memory now (not its peak)."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class TreePeak:
    """The largest resident memory of this process and all its descendants together
    (a build's tokenising workers included), sampled every ``interval`` seconds."""

    def __init__(self, interval: float = 0.05) -> None:
        import threading

        self.peak_mb = 0.0
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreePeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self.peak_mb = max(self.peak_mb, tree_rss_mb())
            if self._stop.wait(self._interval):
                return


def tree_rss_mb(root: int | None = None) -> float:
    """Resident memory of ``root`` (default: this process) and its descendants, now."""
    parent_of: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parent_of[int(entry)] = int(fields[1])
    tree, grown = {root or os.getpid()}, True
    while grown:
        more = {pid for pid, parent in parent_of.items() if parent in tree} - tree
        tree |= more
        grown = bool(more)
    pages = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/statm") as handle:
                pages += int(handle.read().split()[1])
        except OSError:
            continue
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def _tantivy_schema() -> Any:
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("body", stored=False, tokenizer_name="whitespace")
    return builder.build()


def build_tantivy(directory: str, target: Path) -> dict[str, float]:
    import tantivy

    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    docs = [" ".join(tokens) for tokens in paragraph_tokens(directory)]
    started = time.perf_counter()
    index = tantivy.Index(_tantivy_schema(), path=str(target))
    writer = index.writer(heap_size=512_000_000, num_threads=TANTIVY_THREADS)
    for text in docs:
        writer.add_document(tantivy.Document(body=text))
    writer.commit()
    writer.wait_merging_threads()
    return {"build_s": time.perf_counter() - started, "index_mb": _size_mb(target)}


def build_bm25s(directory: str, target: Path, k1: float, b: float) -> dict[str, float]:
    import bm25s

    shutil.rmtree(target, ignore_errors=True)
    docs = list(paragraph_tokens(directory))
    started = time.perf_counter()
    retriever = bm25s.BM25(k1=k1, b=b)
    retriever.index(docs, show_progress=False)
    seconds = time.perf_counter() - started
    del docs
    retriever.save(str(target))
    return {"build_s": seconds, "index_mb": _size_mb(target)}


class Peers:
    """tantivy and bm25s loaded from disk, asked as citebot is asked: tokens in, top k out."""

    def __init__(self, tantivy_dir: Path, bm25s_dir: Path) -> None:
        import bm25s
        import tantivy

        self._tantivy = tantivy
        before = rss_mb()
        self.tantivy_index = tantivy.Index.open(str(tantivy_dir))
        self.tantivy_index.reload()
        self.searcher = self.tantivy_index.searcher()
        self.schema = self.tantivy_index.schema
        self.rss_added = {"tantivy": rss_mb() - before}
        before = rss_mb()
        self.bm25s = bm25s.BM25.load(str(bm25s_dir))
        self.vocab = self.bm25s.vocab_dict
        gc.collect()
        self.rss_added["bm25s"] = rss_mb() - before

    def tantivy(self, tokens: list[str], k: int) -> list[tuple[int, float]]:
        tv = self._tantivy
        clauses = [(tv.Occur.Should, tv.Query.term_query(self.schema, "body", t)) for t in tokens]
        if not clauses:
            return []
        hits = self.searcher.search(tv.Query.boolean_query(clauses), k).hits
        return [(address.doc, score) for score, address in hits]

    def bm25s_search(self, tokens: list[str], k: int) -> list[tuple[int, float]]:
        known = [t for t in tokens if t in self.vocab]
        if not known:
            return []
        docs, scores = self.bm25s.retrieve([known], k=k, show_progress=False)
        return [(int(d), float(s)) for d, s in zip(docs[0], scores[0], strict=True)]
