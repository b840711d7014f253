"""Writing an index folder from the corpus, reusing the unchanged articles of the last one.

Builds go to a fresh temporary folder; ``IndexStore`` switches to it only when complete,
so a failed or interrupted build never leaves a half-written index.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import Progress, TaskID

from index import bm25
from index.analyzer import ANALYZER_VERSION
from index.documents import (
    MANIFEST_NAME,
    CorpusError,
    article_files,
    article_listing,
    load_article,
    load_manifest,
    relative_name,
)
from index.integrity import write_checksums
from index.paragraphs import split_paragraphs
from index.reader import INDEX_FORMAT, TEXTS, ArticleInfo, SearchIndex
from index.texts import DICTIONARY, SAMPLE_ARTICLES, blocks_of, lines_of, train
from index.tokenising import _tokenised_stream, start_workers

log = logging.getLogger("index.store")


def corpus_fingerprint(corpus_dir: Path) -> str:
    """A cheap fingerprint (names, sizes, modification times) to notice a changed corpus."""
    digest = hashlib.sha256()
    try:
        listing = article_listing(corpus_dir)
    except CorpusError:
        return "missing"
    manifest = corpus_dir / MANIFEST_NAME
    if manifest.exists():
        listing.append((MANIFEST_NAME, os.fspath(manifest)))
    for rel, full in listing:
        try:
            st = os.stat(full)
        except OSError:
            continue
        digest.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


@dataclass
class BuildReport:
    directory: Path
    articles: int
    paragraphs: int
    terms: int
    seconds: float
    skipped: list[CorpusError]
    tokenised: int = 0  # articles read and tokenised; the others were reused


def _reusable(
    previous: SearchIndex | None, corpus_dir: Path, entries: dict[str, str]
) -> dict[str, ArticleInfo]:
    """Articles of the previous index that can be reused as they are, by file path: those
    whose manifest entry is unchanged too (adding a page to the manifest, as a feed does,
    must not make every other article be read again)."""
    if previous is None or previous.meta.get("corpus_dir") != str(corpus_dir.resolve()):
        return {}
    before = previous.meta.get("manifest_entries")
    if not isinstance(before, dict):
        return {}  # an index from before entries were recorded: read everything once
    return {
        a.path: a for a in previous.articles.values() if before.get(a.path) == entries.get(a.path)
    }


def manifest_entries(manifest: dict[str, dict[str, str]]) -> dict[str, str]:
    """A hash of each file's manifest entry, to tell which articles' metadata changed."""
    return {
        name: hashlib.sha256(json.dumps(entry, sort_keys=True).encode()).hexdigest()[:16]
        for name, entry in manifest.items()
    }


def build_index(
    corpus_dir: Path,
    index_dir: Path,
    *,
    progress: bool = False,
    previous: SearchIndex | None = None,
    workers: int | None = None,
    fingerprint: str | None = None,
    merge: bool = False,
) -> BuildReport:
    """Build into a fresh folder under ``index_dir``; the caller decides whether to switch.

    Articles whose file is unchanged since ``previous`` was built (same size and
    modification time) are not read again: their paragraphs and term counts are copied.
    The rest are tokenised on ``workers`` processes (default: every core) and streamed
    to disk, so memory holds term ids and counts, not texts.  A small change is a delta
    segment (``index.delta``) unless ``merge`` asks for one segment of everything.
    """
    started = time.perf_counter()
    index_dir.mkdir(parents=True, exist_ok=True)
    if fingerprint is None:  # the caller's, when it just looked (a scan stats every file)
        fingerprint = corpus_fingerprint(corpus_dir)
    files = article_files(corpus_dir)
    errors: list[CorpusError] = []
    try:
        manifest = load_manifest(corpus_dir)
    except CorpusError as exc:  # a broken manifest loses its metadata, not the articles
        errors.append(exc)
        manifest = {}
    manifest_path = corpus_dir / MANIFEST_NAME
    try:
        manifest_bytes = manifest_path.read_bytes()
    except FileNotFoundError:
        manifest_bytes = b""
    manifest_hash = hashlib.sha256(manifest_bytes).hexdigest()
    entries = manifest_entries(manifest)
    reusable = _reusable(previous, corpus_dir, entries)
    plan: list[tuple[Path, ArticleInfo | None]] = []
    for path in files:
        rel = relative_name(corpus_dir, path)
        old = reusable.get(rel)
        try:
            st = path.stat()
        except OSError:
            old = None
        else:
            if old is not None and (old.size, old.mtime_ns) != (st.st_size, st.st_mtime_ns):
                old = None
        plan.append((path, old))
    if previous is not None and reusable:
        from index import delta  # imports this module

        if not merge and delta.fits(previous, plan):
            return delta.build_delta(
                corpus_dir,
                index_dir,
                previous,
                plan,
                delta.Corpus(manifest, entries, manifest_hash, fingerprint, errors),
                workers or os.cpu_count() or 1,
                started,
            )
        # A full build merges the delta's articles in by reading them again.
        plan = [(p, o if o and o.first_paragraph < previous.main_size else None) for p, o in plan]
    to_read = [path for path, old in plan if old is None]
    bar = _progress_bar(len(files)) if progress and len(to_read) >= 200 else None
    vocab: dict[str, int] = dict(previous.vocab) if reusable and previous else {}
    workers = workers or os.cpu_count() or 1
    pool = start_workers(workers, len(to_read))  # they start while the dictionary trains
    try:
        # Reused articles' texts were packed with the earlier index's dictionary: keep it.
        dictionary = (
            previous.text_dictionary
            if reusable and previous
            else _text_dictionary(corpus_dir, to_read, manifest)
        )
        target = Path(tempfile.mkdtemp(prefix=".build-", dir=index_dir))
    except BaseException:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        raise
    stream = _tokenised_stream(corpus_dir, to_read, manifest, workers, vocab, dictionary, pool)
    infos: list[dict[str, Any]] = []
    # Unchanged articles keep their postings: (first paragraph before, count, first now).
    moved: list[tuple[int, int, int]] = []
    term_chunks: list[np.ndarray] = []  # the articles read now, paragraph by paragraph
    tf_chunks: list[np.ndarray] = []
    size_chunks: list[np.ndarray] = []
    fresh_firsts: list[tuple[int, int]] = []  # (first paragraph now, count)
    offsets = [0]  # where each block of compressed paragraphs starts in TEXTS
    article_of: list[int] = []
    content_hash = hashlib.sha256(f"analyzer={ANALYZER_VERSION}\n{manifest_hash}\n".encode())
    try:
        (target / DICTIONARY).write_bytes(dictionary)
        with open(target / TEXTS, "wb") as out:
            for _path, old in plan:
                if old is not None and previous is not None:
                    first, count = old.first_paragraph, old.paragraph_count
                    moved.append((first, count, len(article_of)))
                    data, block_sizes = previous.stored_text(previous.main_article_number(first))
                    out.write(data)
                    for size in block_sizes:
                        offsets.append(offsets[-1] + size)
                    info = {
                        k: v
                        for k, v in asdict(old).items()
                        if k not in ("first_paragraph", "paragraph_count")
                    }
                    paragraphs = count
                else:
                    result = next(stream)
                    if bar:
                        bar[0].advance(bar[1])
                    if isinstance(result, CorpusError):
                        errors.append(result)
                        continue
                    term_chunks.append(result.terms)
                    tf_chunks.append(result.tfs)
                    size_chunks.append(result.sizes)
                    out.write(result.text)
                    for size in result.block_sizes:
                        offsets.append(offsets[-1] + size)
                    info = result.info
                    paragraphs = result.paragraphs
                    fresh_firsts.append((len(article_of), paragraphs))
                info["first_paragraph"] = len(article_of)
                info["paragraph_count"] = paragraphs
                article_of.extend([len(infos)] * paragraphs)
                content_hash.update(f"{info['id']}\0{info['sha256']}\n".encode())
                infos.append(info)
        if bar:
            bar[0].stop()
        stream.close()  # the worker processes end now, not when the build is dropped
        read_done = time.perf_counter()
        sizes = np.concatenate(size_chunks) if size_chunks else np.zeros(0, np.int64)
        forward = bm25.Forward(
            indptr=np.concatenate(([0], np.cumsum(sizes))).astype(np.int64),
            terms=np.concatenate(term_chunks) if term_chunks else np.zeros(0, np.int32),
            tfs=np.concatenate(tf_chunks) if tf_chunks else np.zeros(0, np.uint16),
        )
        del term_chunks, tf_chunks, size_chunks
        if moved and previous is not None:
            remap = np.full(previous.main_size, -1, np.int32)
            for first, count, now in moved:
                remap[first : first + count] = np.arange(now, now + count, dtype=np.int32)
            added_ids = (
                np.concatenate([np.arange(a, a + n, dtype=np.int32) for a, n in fresh_firsts])
                if fresh_firsts
                else np.zeros(0, np.int32)
            )
            index = bm25.merge(
                previous.main_bm25,
                remap,
                forward,
                added_ids,
                len(article_of),
                len(vocab),
                k1=bm25.K1,
                b=bm25.B,
            )
        else:
            index = bm25.build(forward, bm25.K1, bm25.B, n_terms=len(vocab), consume=True)
        built = time.perf_counter()
        arrays: dict[str, np.ndarray] = {
            "doc_len": index.doc_len,
            "idf": index.idf,
            "indptr": index.indptr,
            "max_weight": index.max_weight,
            "blk_max": index.blk_max,
            **index.postings.arrays(),
            "offsets": np.asarray(offsets, np.int64),
            "article_of": np.asarray(article_of, np.int32),
        }
        for name, array in arrays.items():
            np.save(target / f"{name}.npy", array)
        (target / "vocab.json").write_text(json.dumps(list(vocab), ensure_ascii=False), "utf-8")
        (target / "articles.json").write_text(json.dumps(infos, ensure_ascii=False), "utf-8")
        meta = {
            "format": INDEX_FORMAT,
            "analyzer_version": ANALYZER_VERSION,
            "corpus_dir": str(corpus_dir.resolve()),
            "corpus_hash": content_hash.hexdigest(),
            "manifest_hash": manifest_hash,
            "manifest_entries": entries,
            "fingerprint": fingerprint,
            "articles": len(infos),
            "paragraphs": len(article_of),
            "avgdl": index.avgdl,
            "params": {"k1": bm25.K1, "b": bm25.B, "epsilon": bm25.EPSILON},
            "built_at": time.time(),
            "skipped": [problem_of(corpus_dir, e) for e in errors],
        }
        (target / "meta.json").write_text(json.dumps(meta, indent=1), "utf-8")
        write_checksums(target)
        log.info(
            "indexed %d paragraphs: read and tokenised %d of %d articles in %.1f s, "
            "postings in %.1f s, saved in %.1f s",
            len(article_of),
            len(to_read),
            len(files),
            read_done - started,
            built - read_done,
            time.perf_counter() - built,
        )
    except BaseException:
        if bar:
            bar[0].stop()
        stream.close()
        if pool is not None:  # (closing a stream not started yet does not stop its pool)
            pool.shutdown(wait=False, cancel_futures=True)
        shutil.rmtree(target, ignore_errors=True)
        raise
    return BuildReport(
        directory=target,
        articles=len(infos),
        paragraphs=len(article_of),
        terms=len(vocab),
        seconds=time.perf_counter() - started,
        skipped=errors,
        tokenised=len(to_read),
    )


def _text_dictionary(
    corpus_dir: Path, paths: list[Path], manifest: dict[str, dict[str, str]]
) -> bytes:
    """A zstd dictionary trained on the paragraph blocks of the first few articles."""
    samples: list[bytes] = []
    for path in paths[:SAMPLE_ARTICLES]:
        try:
            paragraphs = split_paragraphs(load_article(corpus_dir, path, manifest))
        except (CorpusError, OSError):
            continue
        samples.extend(blocks_of(lines_of((p.number, p.heading, p.text) for p in paragraphs)))
    return train(samples)


def problem_of(corpus_dir: Path, error: CorpusError) -> dict[str, str]:
    """An unreadable file as the index records it: its path in the corpus and why."""
    path = Path(error.path)
    try:
        name = path.relative_to(corpus_dir).as_posix()
    except ValueError:
        name = path.as_posix()
    return {"file": name, "problem": error.reason}


def _progress_bar(total: int) -> tuple[Progress, TaskID]:
    bar = Progress(transient=True)
    task = bar.add_task("Indexing articles", total=total)
    bar.start()
    return bar, task
