"""Reading, splitting and tokenising articles, on worker processes when there are many.

Workers send back term ids in a vocabulary of their own chunk of files (far fewer strings
to ship and map than one per article); the stream maps them into the index's vocabulary.
"""

from __future__ import annotations

import multiprocessing
from collections import defaultdict
from collections.abc import Generator, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from index.analyzer import tokenize
from index.documents import CorpusError, lead_title, load_article
from index.paragraphs import split_paragraphs
from index.texts import blocks_of, compressor, lines_of


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
    local: dict[str, int],
    pack: Any,
) -> _Tokenised:
    article = load_article(corpus_dir, path, manifest)
    st = path.stat()
    paragraphs = split_paragraphs(article)
    if not paragraphs:
        raise CorpusError(path, "no article text found in it (0 paragraphs)")
    tokens = [tokenize(p.indexed_text) for p in paragraphs]
    lengths = np.fromiter(map(len, tokens), np.int64, len(tokens))
    # Every token's term id (new terms numbered by the default, in order of first use),
    # then the (paragraph, term) pairs counted in one sort: no Counter per paragraph.
    ids = np.fromiter(map(local.__getitem__, chain.from_iterable(tokens)), np.int64)
    keys = np.repeat(np.arange(len(tokens), dtype=np.int64) << 32, lengths) | ids
    pairs, tfs = np.unique(keys, return_counts=True)
    terms = (pairs & 0xFFFFFFFF).astype(np.int32)
    sizes = np.bincount(pairs >> 32, minlength=len(tokens))
    lines = lines_of((p.number, p.heading, p.text) for p in paragraphs)
    info = {
        "id": article.id,
        "title": article.title,
        "source": article.source,
        "date": article.date,
        "url": article.url,
        "path": path.relative_to(corpus_dir).as_posix(),
        "sha256": article.sha256,
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "lead": "" if article.title else lead_title(paragraphs[0].text),
    }
    blocks = [pack.compress(block) for block in blocks_of(lines)]
    return _Tokenised(
        info,
        b"".join(blocks),
        [len(block) for block in blocks],
        len(lines),
        terms,
        np.minimum(tfs, 65535).astype(np.uint16),
        sizes.astype(np.int64),
    )


def _tokenise_many(
    corpus_dir: Path, paths: list[Path], manifest: dict[str, dict[str, str]], dictionary: bytes
) -> tuple[list[str], list[_Tokenised | CorpusError]]:
    """A chunk of files, with one vocabulary for the chunk (far fewer strings to send
    back and map than one per article)."""
    local: defaultdict[str, int] = defaultdict()
    local.default_factory = local.__len__  # a new term gets the next number
    results: list[_Tokenised | CorpusError] = []
    pack = compressor(dictionary)
    for path in paths:
        try:
            results.append(_tokenise(corpus_dir, path, manifest, local, pack))
        except CorpusError as exc:
            results.append(exc)
        except FileNotFoundError:
            results.append(CorpusError(path, "the file vanished while it was being read"))
        except OSError as exc:
            results.append(CorpusError(path, f"cannot be read ({exc.strerror or exc})"))
    return list(local), results


PARALLEL_FROM = 64  # articles to tokenise before it pays to start worker processes
CHUNK_FILES = 96  # larger chunks: fewer repeats of common terms to ship back and map


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

    def mapped(
        chunk: tuple[list[str], list[_Tokenised | CorpusError]],
    ) -> Iterator[_Tokenised | CorpusError]:
        chunk_vocab, results = chunk
        # C-level passes (no Python frame per term): this runs in the main process while
        # the workers tokenise, once per distinct term of each chunk.
        new = [t for t in chunk_vocab if t not in vocab]
        vocab.update(zip(new, range(len(vocab), len(vocab) + len(new)), strict=True))
        remap = np.fromiter(map(vocab.__getitem__, chunk_vocab), np.int32, len(chunk_vocab))
        for result in results:
            if isinstance(result, _Tokenised) and len(result.terms):
                result.terms = remap[result.terms]
            yield result

    # Chunks as large as keeps every worker busy to the end (eight chunks each at least).
    size = max(8, min(CHUNK_FILES, len(paths) // (max(workers, 1) * 8)))
    chunks = [paths[i : i + size] for i in range(0, len(paths), size)]
    if workers <= 1 or len(paths) < PARALLEL_FROM:
        for chunk in chunks:
            yield from mapped(_tokenise_many(corpus_dir, chunk, manifest, dictionary))
        return
    # "spawn", not "fork": the bots rebuild from a thread, and forking a threaded
    # process can leave a lock held forever in the child.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending = [
            pool.submit(_tokenise_many, corpus_dir, chunk, manifest, dictionary)
            for chunk in chunks[: workers * 4]
        ]
        next_chunk = len(pending)
        while pending:
            done = pending.pop(0).result()
            if next_chunk < len(chunks):  # keep a bounded number of chunks in flight
                pending.append(
                    pool.submit(
                        _tokenise_many, corpus_dir, chunks[next_chunk], manifest, dictionary
                    )
                )
                next_chunk += 1
            yield from mapped(done)
