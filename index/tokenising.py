"""Reading, splitting and tokenising articles, on worker processes when there are many.

Each worker numbers terms in a vocabulary of its own, kept across the chunks of files it
is given, and sends back only the terms it met first in a chunk (far fewer strings to
ship and map than one per article); the stream maps them into the index's vocabulary.
ASCII paragraphs are tokenised in compiled code (``index.wordscan``).
"""

from __future__ import annotations

import multiprocessing
import os
import uuid
from collections import defaultdict
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from index.analyzer import fold, tokenize_folded
from index.documents import CorpusError, lead_title, load_article, relative_name
from index.paragraphs import split_paragraphs
from index.texts import blocks_of, compressor, lines_of
from index.wordscan import SEPARATOR, AsciiTokens


@dataclass
class _Tokenised:
    """One article, read, split and tokenised (in a worker process when there are many).

    ``terms`` index into the vocabulary of the chunk of files it was read with, until the
    main process maps them to the index's vocabulary.
    """

    info: dict[str, Any]
    text: bytes  # its paragraphs as JSON lines, in zstd blocks (``index.texts``)
    block_sizes: list[int]
    paragraphs: int
    terms: np.ndarray
    tfs: np.ndarray
    sizes: np.ndarray  # distinct terms per paragraph


def _tokenise(
    corpus_dir: Path,
    path: Path,
    manifest: dict[str, dict[str, str]],
    state: _WorkerVocabulary,
) -> _Tokenised:
    article = load_article(corpus_dir, path, manifest)
    st = path.stat()
    paragraphs = split_paragraphs(article)
    if not paragraphs:
        raise CorpusError(path, "no article text found in it (0 paragraphs)")
    keys = _keys([p.indexed_text for p in paragraphs], state.tokens, state.local)
    pairs, tfs = np.unique(keys, return_counts=True)  # (paragraph, term) pairs, counted
    terms = (pairs & 0xFFFFFFFF).astype(np.int32)
    sizes = np.bincount(pairs >> 32, minlength=len(paragraphs))
    lines = lines_of((p.number, p.heading, p.text) for p in paragraphs)
    info = {
        "id": article.id,
        "title": article.title,
        "source": article.source,
        "date": article.date,
        "url": article.url,
        "path": relative_name(corpus_dir, path),
        "sha256": article.sha256,
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "lead": "" if article.title else lead_title(paragraphs[0].text),
    }
    blocks = [state.pack.compress(block) for block in blocks_of(lines)]
    return _Tokenised(
        info,
        b"".join(blocks),
        [len(block) for block in blocks],
        len(lines),
        terms,
        np.minimum(tfs, 65535).astype(np.uint16),
        sizes.astype(np.int64),
    )


def _keys(texts: list[str], tokens: AsciiTokens | None, local: dict[str, int]) -> np.ndarray:
    """``paragraph << 32 | term`` for every term of every paragraph, in any order.

    Each text is folded first, as ``analyzer.tokenize`` does (curly quotes, dashes,
    accents: most news paragraphs are then ASCII).  With ``tokens``, ASCII ones are
    tokenised in compiled code (``index.wordscan``); the others (all of them without)
    by ``analyzer.tokenize_folded``, their terms numbered in the same vocabulary.
    """
    folded = [t if t.isascii() else fold(t) for t in texts]
    keys = np.zeros(0, np.int64)
    rest: Iterable[int] = range(len(texts))
    if tokens is not None:
        # (A 0 byte in a text would read as the scanner's paragraph separator.)
        ascii_at = [i for i, t in enumerate(folded) if t.isascii() and SEPARATOR not in t]
        everyone = len(ascii_at) == len(texts)
        keys = tokens.keys(folded if everyone else [folded[i] for i in ascii_at])
        if not everyone:  # numbered among the ASCII ones: renumber
            at = np.asarray(ascii_at, np.int64)
            keys = (at[keys >> 32] << 32) | (keys & 0xFFFFFFFF)
            rest = sorted(set(rest).difference(ascii_at))
        else:
            rest = ()
    more = [keys]
    for i in rest:
        ids = np.fromiter(map(local.__getitem__, tokenize_folded(folded[i])), np.int64)
        more.append((np.int64(i) << 32) | ids)
    return np.concatenate(more) if len(more) > 1 else keys


@dataclass
class _WorkerVocabulary:
    """A worker's numbering of terms and tokens, kept from chunk to chunk of one build:
    each chunk sends back only the terms first met in it (numbering them afresh for
    every chunk cost a third of the tokenising)."""

    build: str
    local: defaultdict[str, int]
    tokens: AsciiTokens | None  # None: every paragraph through ``analyzer.tokenize``
    pack: Any
    sent: int = 0  # terms the main process has been sent


_VOCABULARY: _WorkerVocabulary | None = None


def _vocabulary(build: str, dictionary: bytes, compiled: bool) -> _WorkerVocabulary:
    global _VOCABULARY
    if _VOCABULARY is None or _VOCABULARY.build != build:
        local: defaultdict[str, int] = defaultdict()
        local.default_factory = local.__len__  # a new term gets the next number
        tokens = AsciiTokens(local.__getitem__) if compiled else None
        _VOCABULARY = _WorkerVocabulary(build, local, tokens, compressor(dictionary))
    return _VOCABULARY


def _tokenise_many(
    corpus_dir: Path,
    paths: list[Path],
    manifest: dict[str, dict[str, str]],
    dictionary: bytes,
    build: str,
    compiled: bool = True,
) -> tuple[int, list[str], list[_Tokenised | CorpusError]]:
    """A chunk of files: this process's id, the terms it numbered first in this chunk,
    and the articles, their terms numbered in this process's vocabulary of the build."""
    state = _vocabulary(build, dictionary, compiled)
    results: list[_Tokenised | CorpusError] = []
    for path in paths:
        try:
            results.append(_tokenise(corpus_dir, path, manifest, state))
        except CorpusError as exc:
            results.append(exc)
        except FileNotFoundError:
            results.append(CorpusError(path, "the file vanished while it was being read"))
        except OSError as exc:
            results.append(CorpusError(path, f"cannot be read ({exc.strerror or exc})"))
    new = list(islice(state.local, state.sent, None))
    state.sent += len(new)
    return os.getpid(), new, results


PARALLEL_FROM = 64  # articles to tokenise before it pays to start worker processes
CHUNK_FILES = 96  # files a task: fewer round trips to the workers, still many tasks each


def _tokenised_stream(
    corpus_dir: Path,
    paths: list[Path],
    manifest: dict[str, dict[str, str]],
    workers: int,
    vocab: dict[str, int],
    dictionary: bytes = b"",
) -> Generator[_Tokenised | CorpusError, None, None]:
    """Tokenised articles in ``paths`` order, their terms mapped into ``vocab``; on
    ``workers`` processes when it pays."""

    remaps: dict[int, np.ndarray] = {}  # per worker: its term numbers to the index's
    build = uuid.uuid4().hex

    def mapped(
        chunk: tuple[int, list[str], list[_Tokenised | CorpusError]],
    ) -> Iterator[_Tokenised | CorpusError]:
        # A worker's chunks come back in the order it tokenised them (the pool hands
        # chunks out in order, and they are taken back in order), so its new terms
        # extend what the main process knows of its numbering.
        worker, first_met, results = chunk
        new = [t for t in first_met if t not in vocab]
        vocab.update(zip(new, range(len(vocab), len(vocab) + len(new)), strict=True))
        added = np.fromiter(map(vocab.__getitem__, first_met), np.int32, len(first_met))
        remap = remaps[worker] = np.concatenate((remaps.get(worker, added[:0]), added))
        for result in results:
            if isinstance(result, _Tokenised) and len(result.terms):
                result.terms = remap[result.terms]
            yield result

    # Chunks as large as keeps every worker busy to the end (eight chunks each at least).
    size = max(8, min(CHUNK_FILES, len(paths) // (max(workers, 1) * 8)))
    chunks = [paths[i : i + size] for i in range(0, len(paths), size)]
    if workers <= 1 or len(paths) < PARALLEL_FROM:
        # A few files (an article added, a small corpus): the compiled word table is
        # not worth loading into this process (half a second, more than it saves).
        compiled = len(paths) >= PARALLEL_FROM
        global _VOCABULARY
        try:
            for chunk in chunks:
                yield from mapped(
                    _tokenise_many(corpus_dir, chunk, manifest, dictionary, build, compiled)
                )
        finally:
            _VOCABULARY = None  # this process builds again later: start afresh
        return
    # "spawn", not "fork": the bots rebuild from a thread, and forking a threaded
    # process can leave a lock held forever in the child.
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    try:
        pending = [
            pool.submit(_tokenise_many, corpus_dir, chunk, manifest, dictionary, build)
            for chunk in chunks[: workers * 4]
        ]
        next_chunk = len(pending)
        while pending:
            done = pending.pop(0).result()
            if next_chunk < len(chunks):  # keep a bounded number of chunks in flight
                pending.append(
                    pool.submit(
                        _tokenise_many, corpus_dir, chunks[next_chunk], manifest, dictionary, build
                    )
                )
                next_chunk += 1
            yield from mapped(done)
    finally:
        # The workers are told to end, not waited for (most of a second at interpreter
        # exit): they end while the postings are built.
        pool.shutdown(wait=False, cancel_futures=True)
