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
from collections import Counter, defaultdict
from collections.abc import Generator, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import chain, islice
from pathlib import Path
from typing import Any

import numpy as np

from index.analyzer import fold, tokenize_folded
from index.documents import CorpusError, lead_title, load_article, relative_name
from index.paragraphs import Paragraph, split_paragraphs
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


def _read(
    corpus_dir: Path, path: Path, manifest: dict[str, dict[str, str]]
) -> tuple[dict[str, Any], list[Paragraph]]:
    """One file's record in the index (all but where its paragraphs go) and paragraphs."""
    article = load_article(corpus_dir, path, manifest)
    st = path.stat()
    paragraphs = split_paragraphs(article)
    if not paragraphs:
        raise CorpusError(path, "no article text found in it (0 paragraphs)")
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
    return info, paragraphs


def _tokenised(
    read: list[tuple[dict[str, Any], list[Paragraph]]], state: _WorkerVocabulary
) -> list[_Tokenised]:
    """Articles read, tokenised together (one pass of the compiled scanner over them
    all keeps its tables in cache, a tenth faster than an article at a time), their
    texts packed."""
    terms, tfs, sizes = _term_counts([p.indexed_text for _, ps in read for p in ps], state)
    tfs = np.minimum(tfs, 65535).astype(np.uint16)
    done: list[_Tokenised] = []
    first = 0  # the article's first paragraph, and its first term
    at = 0
    for info, paragraphs in read:
        mine = sizes[first : first + len(paragraphs)]
        first += len(paragraphs)
        end = at + int(mine.sum())
        lines = lines_of((p.number, p.heading, p.text) for p in paragraphs)
        blocks = [state.pack.compress(block) for block in blocks_of(lines)]
        done.append(
            _Tokenised(
                info,
                b"".join(blocks),
                [len(block) for block in blocks],
                len(lines),
                terms[at:end],
                tfs[at:end],
                mine,
            )
        )
        at = end
    return done


def _term_counts(
    texts: list[str], state: _WorkerVocabulary
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each text's distinct terms (numbered in ``state``'s vocabulary) and their counts,
    text after text, and how many distinct terms each text has.

    Each text is folded first, as ``analyzer.tokenize`` does (curly quotes, dashes,
    accents: most news paragraphs are then ASCII).  With compiled tokens, ASCII ones are
    tokenised and counted in compiled code (``index.wordscan``); the others (all of them
    without) by ``analyzer.tokenize_folded``, their terms numbered in the same vocabulary.
    """
    tokens, local = state.tokens, state.local
    folded = [t if t.isascii() else fold(t) for t in texts]
    # (A 0 byte in a text would read as the scanner's paragraph separator.)
    ascii_at = (
        [i for i, t in enumerate(folded) if t.isascii() and SEPARATOR not in t]
        if tokens is not None
        else []
    )
    if tokens is not None and len(ascii_at) == len(texts):
        return tokens.counts(folded)
    rest = sorted(set(range(len(texts))).difference(ascii_at))
    counted = [Counter(map(local.__getitem__, tokenize_folded(folded[i]))) for i in rest]
    rest_sizes = np.fromiter(map(len, counted), np.int64, len(counted))
    rest_terms = np.fromiter(chain.from_iterable(counted), np.int32, int(rest_sizes.sum()))
    rest_tfs = np.fromiter(
        chain.from_iterable(c.values() for c in counted), np.int64, len(rest_terms)
    )
    if tokens is None or not ascii_at:
        return rest_terms, rest_tfs, rest_sizes
    ascii_terms, ascii_tfs, ascii_sizes = tokens.counts([folded[i] for i in ascii_at])
    # The two sets of texts' counts, interleaved back into the texts' order.
    sizes = np.zeros(len(texts), np.int64)
    sizes[ascii_at] = ascii_sizes
    sizes[rest] = rest_sizes
    source_start = np.zeros(len(texts), np.int64)  # each text's counts in the two joined
    source_start[ascii_at] = np.cumsum(ascii_sizes) - ascii_sizes
    source_start[rest] = len(ascii_terms) + np.cumsum(rest_sizes) - rest_sizes
    out_start = np.cumsum(sizes) - sizes
    gather = np.repeat(source_start - out_start, sizes) + np.arange(int(sizes.sum()))
    return (
        np.concatenate((ascii_terms, rest_terms))[gather],
        np.concatenate((ascii_tfs, rest_tfs))[gather],
        sizes,
    )


def named_counts(
    terms: np.ndarray, tfs: np.ndarray, sizes: np.ndarray, vocab: dict[str, int]
) -> list[Counter[str]]:
    """``_term_counts``' answer as each text's counts by term name: what the checks of
    the build's tokenising compare with ``analyzer.tokenize`` (the test, and
    ``bench/tokenising.py`` on real news)."""
    names = {number: term for term, number in vocab.items()}
    counts: list[Counter[str]] = []
    at = 0
    for size in sizes.tolist():
        pairs = zip(terms[at : at + size].tolist(), tfs[at : at + size].tolist(), strict=True)
        counts.append(Counter({names[term]: tf for term, tf in pairs}))
        at += size
    return counts


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
    read: list[tuple[dict[str, Any], list[Paragraph]] | CorpusError] = []
    for path in paths:
        try:
            read.append(_read(corpus_dir, path, manifest))
        except CorpusError as exc:
            read.append(exc)
        except FileNotFoundError:
            read.append(CorpusError(path, "the file vanished while it was being read"))
        except OSError as exc:
            read.append(CorpusError(path, f"cannot be read ({exc.strerror or exc})"))
    tokenised = iter(_tokenised([r for r in read if not isinstance(r, CorpusError)], state))
    results = [r if isinstance(r, CorpusError) else next(tokenised) for r in read]
    new = list(islice(state.local, state.sent, None))
    state.sent += len(new)
    return os.getpid(), new, results


PARALLEL_FROM = 64  # articles to tokenise before it pays to start worker processes
CHUNK_FILES = 96  # files a task: fewer round trips to the workers, still many tasks each


def _warm_up() -> None:
    """Load the compiled tokenising (from numba's cache) before the first chunk comes."""
    AsciiTokens(lambda term: 0).counts(["warm up"])


def start_workers(workers: int, files: int) -> ProcessPoolExecutor | None:
    """The processes a build of ``files`` files will tokenise on (None: this one),
    started at once so that they start Python, import and load the compiled code while
    the caller prepares (a second at least) rather than after."""
    if workers <= 1 or files < PARALLEL_FROM:
        return None
    # "spawn", not "fork": the bots rebuild from a thread, and forking a threaded
    # process can leave a lock held forever in the child.
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    for _ in range(workers):
        pool.submit(_warm_up)
    return pool


def _tokenised_stream(
    corpus_dir: Path,
    paths: list[Path],
    manifest: dict[str, dict[str, str]],
    workers: int,
    vocab: dict[str, int],
    dictionary: bytes = b"",
    pool: ProcessPoolExecutor | None = None,
) -> Generator[_Tokenised | CorpusError, None, None]:
    """Tokenised articles in ``paths`` order, their terms mapped into ``vocab``; on
    ``workers`` processes when it pays (``pool``'s, from ``start_workers``, when given:
    the stream shuts it down)."""

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
    if pool is None:
        pool = start_workers(workers, len(paths))
    if pool is None:
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
