"""Writing a build with a delta segment (``index.segments`` says why and what it holds).

The main segment's files are hard-linked from the last build (their checksums copied,
not recomputed); what is written is small: the delta's postings and texts, the deletion
marks, and the global statistics (document frequencies, IDF, vocabulary, metadata).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index import bm25, postings
from index.analyzer import ANALYZER_VERSION
from index.documents import CorpusError
from index.integrity import checksums_of, write_checksums
from index.reader import INDEX_FORMAT, TEXTS, ArticleInfo, SearchIndex
from index.segments import BACKSTOP, MAX_CHANGED_FILES, SegmentedBM25, delta_limit
from index.texts import DICTIONARY
from index.tokenising import _tokenised_stream
from index.writer import BuildReport, problem_of

# The main segment's files, linked as they are into every build with a delta.
MAIN_FILES = (
    *(f"{name}.npy" for name in (*postings.ARRAYS, "indptr", "max_weight", "blk_max", "doc_len")),
    "offsets.npy",
    "article_of.npy",
    "articles.json",
    TEXTS,
    DICTIONARY,
)


@dataclass
class Corpus:
    """What the writer learnt of the corpus before choosing how to build."""

    manifest: dict[str, dict[str, str]]
    entries: dict[str, str]
    manifest_hash: str
    fingerprint: str
    errors: list[CorpusError]


def fits(previous: SearchIndex, plan: list[tuple[Path, ArticleInfo | None]]) -> bool:
    """Whether this change can be a delta over ``previous``'s main segment.

    A delta past its limit is still written, so the change is searchable at once, and
    merged right after (``past_limit``); only one far past it (merges failing again and
    again) or a change to many files is a full build at once."""
    base = previous.main_size
    changed = sum(1 for _, old in plan if old is None)
    if base == 0 or changed > MAX_CHANGED_FILES:
        return False
    kept_main = sum(
        old.paragraph_count for _, old in plan if old is not None and old.first_paragraph < base
    )
    in_delta = previous.bm25.n_docs - base
    most = BACKSTOP * delta_limit(base)
    return base - kept_main <= most and in_delta <= most


def past_limit(index: SearchIndex) -> bool:
    """Whether ``index``'s delta, or the paragraphs it deletes from the main segment,
    has grown past the limit: time to merge everything into one segment."""
    delta = index.meta.get("delta")
    if not delta:
        return False
    base = index.main_size
    removed = set(delta.get("removed") or [])
    deleted = sum(a.paragraph_count for n, a in enumerate(index.main_articles) if n in removed)
    limit = delta_limit(base)
    return index.bm25.n_docs - base > limit or deleted > limit


def build_delta(
    corpus_dir: Path,
    index_dir: Path,
    previous: SearchIndex,
    plan: list[tuple[Path, ArticleInfo | None]],
    corpus: Corpus,
    workers: int,
    started: float,
) -> BuildReport:
    """A build linking ``previous``'s main segment, with every other article in a delta."""
    base = previous.main_size
    main_infos = previous.main_articles
    main_place = {info.path: n for n, info in enumerate(main_infos)}
    prev_delta = previous.delta_articles
    delta_place = {info.path: n for n, info in enumerate(prev_delta)}
    vocab = dict(previous.vocab)
    to_read = [path for path, old in plan if old is None]
    stream = _tokenised_stream(
        corpus_dir, to_read, corpus.manifest, workers, vocab, previous.text_dictionary
    )
    segmented = previous.bm25 if isinstance(previous.bm25, SegmentedBM25) else None
    old_forward = segmented.delta.forward() if segmented and prev_delta else None
    target = Path(tempfile.mkdtemp(prefix=".build-", dir=index_dir))
    try:
        kept_main: set[int] = set()
        rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # terms, tfs, sizes
        infos: list[dict[str, Any]] = []
        offsets, texts = [0], bytearray()
        content_hash = hashlib.sha256(
            f"analyzer={ANALYZER_VERSION}\n{corpus.manifest_hash}\n".encode()
        )
        errors = list(corpus.errors)
        first = 0
        for _path, old in plan:
            if old is not None and old.first_paragraph < base:
                kept_main.add(main_place[old.path])
                content_hash.update(f"{old.id}\0{old.sha256}\n".encode())
                continue
            if old is not None and old_forward is not None:  # in the last delta: reuse
                start = old.first_paragraph - base
                lo, hi = old_forward.indptr[start], old_forward.indptr[start + old.paragraph_count]
                sizes = np.diff(old_forward.indptr[start : start + old.paragraph_count + 1])
                rows.append((old_forward.terms[lo:hi], old_forward.tfs[lo:hi], sizes))
                data, block_sizes = previous.delta_text(delta_place[old.path])
                info = asdict(old)
                count = old.paragraph_count
            else:
                result = next(stream)
                if isinstance(result, CorpusError):
                    errors.append(result)
                    continue
                rows.append((result.terms, result.tfs, result.sizes))
                data, block_sizes, info = result.text, result.block_sizes, result.info
                count = result.paragraphs
            texts += data
            for size in block_sizes:
                offsets.append(offsets[-1] + size)
            info["first_paragraph"], info["paragraph_count"] = base + first, count
            first += count
            content_hash.update(f"{info['id']}\0{info['sha256']}\n".encode())
            infos.append(info)
        _write_delta(target, rows, infos, offsets, bytes(texts), len(vocab))
        removed = [n for n in range(len(main_infos)) if n not in kept_main]
        stats = _global_stats(target, previous, removed, len(vocab))
        for name in MAIN_FILES:
            os.link(previous.directory / name, target / name)
        (target / "vocab.json").write_text(json.dumps(list(vocab), ensure_ascii=False), "utf-8")
        main_avgdl = (previous.meta.get("delta") or {}).get("main_avgdl", previous.meta["avgdl"])
        meta = {
            "format": INDEX_FORMAT,
            "analyzer_version": ANALYZER_VERSION,
            "corpus_dir": str(corpus_dir.resolve()),
            "corpus_hash": content_hash.hexdigest(),
            "manifest_hash": corpus.manifest_hash,
            "manifest_entries": corpus.entries,
            "fingerprint": corpus.fingerprint,
            "articles": len(kept_main) + len(infos),
            "paragraphs": stats["paragraphs"],
            "avgdl": stats["avgdl"],
            "params": {"k1": bm25.K1, "b": bm25.B, "epsilon": bm25.EPSILON},
            "built_at": time.time(),
            "skipped": [problem_of(corpus_dir, e) for e in errors],
            "delta": {
                "base": base,
                "removed": removed,
                "main_avgdl": main_avgdl,
                "delta_avgdl": stats["delta_avgdl"],
            },
        }
        (target / "meta.json").write_text(json.dumps(meta, indent=1), "utf-8")
        linked = checksums_of(previous.directory)
        write_checksums(target, {name: linked[name] for name in MAIN_FILES})
    except BaseException:
        stream.close()
        shutil.rmtree(target, ignore_errors=True)
        raise
    return BuildReport(
        directory=target,
        articles=len(kept_main) + len(infos),
        paragraphs=int(stats["paragraphs"]),
        terms=len(vocab),
        seconds=time.perf_counter() - started,
        skipped=errors,
        tokenised=len(to_read),
    )


def _write_delta(
    target: Path,
    rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    infos: list[dict[str, Any]],
    offsets: list[int],
    texts: bytes,
    n_terms: int,
) -> None:
    sizes = np.concatenate([r[2] for r in rows]) if rows else np.zeros(0, np.int64)
    forward = bm25.Forward(
        indptr=np.concatenate(([0], np.cumsum(sizes))).astype(np.int64),
        terms=np.concatenate([r[0] for r in rows]) if rows else np.zeros(0, np.int32),
        tfs=np.concatenate([r[1] for r in rows]) if rows else np.zeros(0, np.uint16),
    )
    index = bm25.build(forward, k1=bm25.K1, b=bm25.B, n_terms=n_terms)
    arrays: dict[str, np.ndarray] = {
        "doc_len": index.doc_len,
        "indptr": index.indptr,
        "max_weight": index.max_weight,
        "blk_max": index.blk_max,
        **index.postings.arrays(),
        "offsets": np.asarray(offsets, np.int64),
        "article_of": np.repeat(
            np.arange(len(infos), dtype=np.int32), [i["paragraph_count"] for i in infos]
        ),
    }
    for name, array in arrays.items():
        np.save(target / f"d.{name}.npy", array)
    (target / f"d.{TEXTS}").write_bytes(texts)
    (target / "d.articles.json").write_text(json.dumps(infos, ensure_ascii=False), "utf-8")


def _global_stats(
    target: Path, previous: SearchIndex, removed: list[int], n_terms: int
) -> dict[str, float]:
    """Deletion marks, then N, the average length, document frequencies and IDF over the
    live paragraphs of both segments (written to ``target``)."""
    main = previous.main_bm25
    deleted = np.zeros(main.n_docs, bool)
    for n in removed:
        info = previous.main_articles[n]
        deleted[info.first_paragraph : info.first_paragraph + info.paragraph_count] = True
    np.save(target / "deleted.npy", deleted)
    before = previous.meta.get("delta") or {}
    if before.get("removed", []) == removed and (previous.directory / "alive_df.npy").exists():
        alive_df = np.load(previous.directory / "alive_df.npy")
    elif not removed:
        alive_df = np.diff(main.indptr)
    else:  # which terms the deleted paragraphs held: one pass over the main postings
        ids, _ = main.postings.decode(main.indptr)
        dead = np.concatenate(([0], np.cumsum(deleted[ids], dtype=np.int64)))
        del ids
        alive_df = np.diff(main.indptr) - (dead[main.indptr[1:]] - dead[main.indptr[:-1]])
    np.save(target / "alive_df.npy", alive_df)
    delta_len = np.load(target / "d.doc_len.npy")
    df = np.zeros(n_terms, np.int64)
    df[: len(alive_df)] = alive_df
    delta_df = np.diff(np.load(target / "d.indptr.npy"))
    df[: len(delta_df)] += delta_df
    np.save(target / "df.npy", df)
    n_docs = int((~deleted).sum()) + len(delta_len)
    total = int(np.asarray(main.doc_len)[~deleted].sum(dtype=np.int64)) + int(delta_len.sum())
    avgdl = total / n_docs if n_docs else 0.0
    np.save(target / "idf.npy", bm25.okapi_idf(df, n_docs))
    delta_avgdl = float(delta_len.sum()) / len(delta_len) if len(delta_len) else 0.0
    return {"paragraphs": n_docs, "avgdl": avgdl, "delta_avgdl": delta_avgdl}
