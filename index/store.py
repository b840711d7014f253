"""Building, saving and loading the paragraph index, and keeping it in step with the corpus.

An index is a folder of arrays (memory-mapped on load, never a pickle) plus the
paragraph texts, which stay on disk until cited.  Builds are written to a temporary
folder and switched in by an atomic rename of the ``CURRENT`` pointer, so a failed or
interrupted build never leaves a half-written index, and the last good one keeps serving
when a corpus file turns out to be unreadable.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import Progress, TaskID

from index import bm25
from index.analyzer import ANALYZER_VERSION, tokenize
from index.documents import (
    MANIFEST_NAME,
    CorpusError,
    article_files,
    lead_title,
    load_article,
    load_manifest,
)
from index.integrity import DamagedIndex, verify, write_checksums
from index.paragraphs import split_paragraphs

log = logging.getLogger(__name__)

INDEX_FORMAT = 5
_POINTER = "CURRENT"
_ARRAYS = (
    "dense_terms",
    "dense_rows",
    "doc_ids",
    "doc_tfs",
    "doc_len",
    "idf",
    "indptr",
    "impact_ids",
    "impact_weights",
    "offsets",
    "article_of",
)


class IndexUnavailable(Exception):
    """No index can be served: the corpus never built and there is no earlier index."""


class CorpusBuildError(Exception):
    """Some corpus files cannot be read; the message names each file and why."""

    def __init__(self, errors: list[CorpusError]) -> None:
        self.errors = errors
        super().__init__(_unreadable_message([str(e) for e in errors]))


def _problem_line(problem: dict[str, str]) -> str:
    return f"{problem['file']}: {problem['problem']}"


def _unreadable_message(problems: list[str]) -> str:
    lines = "\n".join(f"  {p}" for p in problems)
    return f"{len(problems)} corpus file(s) could not be indexed:\n{lines}"


@dataclass(frozen=True)
class ArticleInfo:
    id: str
    title: str
    source: str
    date: str
    url: str
    path: str
    sha256: str
    first_paragraph: int  # index of its first paragraph in the whole index
    paragraph_count: int
    size: int = 0  # the file's size and modification time when it was read: an
    mtime_ns: int = 0  # unchanged file is not read (or tokenised) again
    lead: str = ""  # the lead sentence, shortened: what shows an article without a title

    @property
    def display_title(self) -> str:
        return self.title or self.lead or Path(self.path).name


@dataclass(frozen=True)
class Passage:
    """A stored paragraph: ``number`` counts from 1 within the article."""

    index: int
    article_id: str
    number: int
    heading: str
    text: str

    @property
    def id(self) -> str:
        return f"{self.article_id}#{self.number}"


def corpus_fingerprint(corpus_dir: Path) -> str:
    """A cheap fingerprint (names, sizes, modification times) to notice a changed corpus."""
    digest = hashlib.sha256()
    try:
        paths = article_files(corpus_dir)
    except CorpusError:
        return "missing"
    manifest = corpus_dir / MANIFEST_NAME
    for path in [*paths, manifest] if manifest.exists() else paths:
        try:
            st = path.stat()
        except OSError:
            continue
        rel = path.relative_to(corpus_dir).as_posix()
        digest.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


class SearchIndex:
    """A loaded index: term lookups, BM25 search, and paragraphs read from disk on demand."""

    def __init__(self, directory: Path, *, verify_all: bool = False) -> None:
        verify(directory, full=verify_all)  # DamagedIndex before anything is misread
        self.directory = directory
        self.meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
        if self.meta.get("format") != INDEX_FORMAT:
            raise ValueError(f"{directory}: index format {self.meta.get('format')} is not ours")
        terms: list[str] = json.loads((directory / "vocab.json").read_text(encoding="utf-8"))
        self.terms = terms
        self.vocab = {term: i for i, term in enumerate(terms)}
        # Memory-mapped, then viewed as plain arrays (slicing a np.memmap is slow).
        arrays = {
            name: np.asarray(np.load(directory / f"{name}.npy", mmap_mode="r")) for name in _ARRAYS
        }
        params = self.meta["params"]
        self.bm25 = bm25.BM25Index(
            doc_len=arrays["doc_len"],
            avgdl=float(self.meta["avgdl"]),
            idf=arrays["idf"],
            indptr=arrays["indptr"],
            impact_ids=arrays["impact_ids"],
            impact_weights=arrays["impact_weights"],
            doc_ids=arrays["doc_ids"],
            doc_tfs=arrays["doc_tfs"],
            dense_terms=arrays["dense_terms"],
            dense_rows=arrays["dense_rows"],
            k1=float(params["k1"]),
            b=float(params["b"]),
        )
        self._offsets = arrays["offsets"]
        self._article_of = arrays["article_of"]
        articles = json.loads((directory / "articles.json").read_text(encoding="utf-8"))
        self.articles: dict[str, ArticleInfo] = {a["id"]: ArticleInfo(**a) for a in articles}
        self._article_order = list(self.articles)
        self._texts = open(directory / "paragraphs.jsonl", "rb")  # noqa: SIM115 (kept open)

    def close(self) -> None:
        self._texts.close()

    @property
    def corpus_hash(self) -> str:
        return str(self.meta["corpus_hash"])

    @property
    def size(self) -> int:
        return int(self.meta["paragraphs"])

    def idf(self, term: str) -> float:
        """The term's IDF; an unseen term gets the IDF of a term in no paragraph at all."""
        term_id = self.vocab.get(term)
        if term_id is None or self.doc_freq(term) == 0:
            return float(np.log((self.size + 0.5) / 0.5))
        return float(self.bm25.idf[term_id])

    def doc_freq(self, term: str) -> int:
        term_id = self.vocab.get(term)
        if term_id is None:
            return 0
        return int(self.bm25.indptr[term_id + 1] - self.bm25.indptr[term_id])

    def _term_ids(self, terms: list[str]) -> list[int]:
        return [self.vocab[t] for t in terms if t in self.vocab]

    def scores(self, terms: list[str]) -> np.ndarray:
        """Every paragraph's BM25 score (a full scan: for tests and checks)."""
        return self.bm25.all_scores(self._term_ids(terms))

    def search(self, terms: list[str], k: int = 10) -> list[tuple[int, float]]:
        """The k best paragraphs for the query terms as (paragraph index, score)."""
        if not terms or self.size == 0:
            return []
        return self.bm25.top_k(self._term_ids(terms), k) or self.matching(terms, k)

    def matching(self, terms: list[str], k: int = 10) -> list[tuple[int, float]]:
        """Paragraphs by how many distinct query terms they hold.

        The fallback when every BM25 score is 0: in a corpus of a handful of paragraphs
        rank_bm25's IDF is 0 for a term in exactly half of them and tiny above that.
        """
        counts = np.zeros(self.size, np.float64)
        for term in set(self._term_ids(terms)):
            start, end = int(self.bm25.indptr[term]), int(self.bm25.indptr[term + 1])
            counts[self.bm25.impact_ids[start:end]] += 1.0
        candidates = np.flatnonzero(counts)
        order = np.lexsort((candidates, -counts[candidates]))[:k]
        return [(int(candidates[i]), float(counts[candidates[i]])) for i in order]

    def passage(self, index: int) -> Passage:
        start, end = int(self._offsets[index]), int(self._offsets[index + 1])
        # pread: no shared file position, so answering threads cannot race.
        record = json.loads(os.pread(self._texts.fileno(), end - start, start))
        article = self._article_order[int(self._article_of[index])]
        return Passage(index, article, record["n"], record["h"], record["t"])

    def article_of(self, index: int) -> ArticleInfo:
        return self.articles[self._article_order[int(self._article_of[index])]]

    def passages_of(self, article_id: str) -> Iterator[Passage]:
        info = self.articles[article_id]
        for i in range(info.first_paragraph, info.first_paragraph + info.paragraph_count):
            yield self.passage(i)

    def find_article(self, reference: str) -> ArticleInfo | None:
        """An article by id, unique id prefix, or unique title fragment (case-insensitive)."""
        ref = reference.strip()
        if ref in self.articles:
            return self.articles[ref]
        folded = ref.casefold()
        for key in (
            lambda a: a.id.casefold().startswith(folded),
            lambda a: folded in a.title.casefold(),
        ):
            found = [a for a in self.articles.values() if key(a)]
            if len(found) == 1:
                return found[0]
        return None


@dataclass
class BuildReport:
    directory: Path
    articles: int
    paragraphs: int
    terms: int
    seconds: float
    skipped: list[CorpusError]
    tokenised: int = 0  # articles read and tokenised; the others were reused


@dataclass
class _Tokenised:
    """One article, read, split and tokenised (in a worker process when there are many).

    ``terms`` index into the vocabulary of the chunk of files it was read with, until the
    main process maps them to the index's vocabulary.
    """

    info: dict[str, Any]
    lines: bytes  # its paragraphs, encoded as lines of paragraphs.jsonl
    line_lengths: list[int]
    terms: np.ndarray
    tfs: np.ndarray
    sizes: np.ndarray  # distinct terms per paragraph


def _tokenise(
    corpus_dir: Path, path: Path, manifest: dict[str, dict[str, str]], local: dict[str, int]
) -> _Tokenised:
    article = load_article(corpus_dir, path, manifest)
    st = path.stat()
    paragraphs = split_paragraphs(article)
    if not paragraphs:
        raise CorpusError(path, "no article text found in it (0 paragraphs)")
    terms: list[int] = []
    tfs: list[int] = []
    sizes: list[int] = []
    lines: list[bytes] = []
    for paragraph in paragraphs:
        heading, text = paragraph.heading, paragraph.text
        counts = Counter(tokenize(paragraph.indexed_text))
        terms.extend(map(local.__getitem__, counts))  # new terms numbered by the default
        tfs.extend(counts.values())
        sizes.append(len(counts))
        record = {"n": paragraph.number, "h": heading, "t": text}
        lines.append((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
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
    return _Tokenised(
        info,
        b"".join(lines),
        [len(line) for line in lines],
        np.asarray(terms, np.int32),
        np.minimum(np.asarray(tfs, np.int64), 65535).astype(np.uint16),
        np.asarray(sizes, np.int64),
    )


def _tokenise_many(
    corpus_dir: Path, paths: list[Path], manifest: dict[str, dict[str, str]]
) -> tuple[list[str], list[_Tokenised | CorpusError]]:
    """A chunk of files, with one vocabulary for the chunk (far fewer strings to send
    back and map than one per article)."""
    local: defaultdict[str, int] = defaultdict()
    local.default_factory = local.__len__  # a new term gets the next number
    results: list[_Tokenised | CorpusError] = []
    for path in paths:
        try:
            results.append(_tokenise(corpus_dir, path, manifest, local))
        except CorpusError as exc:
            results.append(exc)
        except FileNotFoundError:
            results.append(CorpusError(path, "the file vanished while it was being read"))
        except OSError as exc:
            results.append(CorpusError(path, f"cannot be read ({exc.strerror or exc})"))
    return list(local), results


PARALLEL_FROM = 64  # articles to tokenise before it pays to start worker processes
CHUNK_FILES = 32


def _tokenised_stream(
    corpus_dir: Path,
    paths: list[Path],
    manifest: dict[str, dict[str, str]],
    workers: int,
    vocab: dict[str, int],
) -> Generator[_Tokenised | CorpusError, None, None]:
    """Tokenised articles in ``paths`` order, their terms mapped into ``vocab``; on
    ``workers`` processes when it pays."""

    def mapped(
        chunk: tuple[list[str], list[_Tokenised | CorpusError]],
    ) -> Iterator[_Tokenised | CorpusError]:
        chunk_vocab, results = chunk
        remap = np.fromiter(
            (vocab.setdefault(t, len(vocab)) for t in chunk_vocab), np.int32, len(chunk_vocab)
        )
        for result in results:
            if isinstance(result, _Tokenised) and len(result.terms):
                result.terms = remap[result.terms]
            yield result

    chunks = [paths[i : i + CHUNK_FILES] for i in range(0, len(paths), CHUNK_FILES)]
    if workers <= 1 or len(paths) < PARALLEL_FROM:
        for chunk in chunks:
            yield from mapped(_tokenise_many(corpus_dir, chunk, manifest))
        return
    # "spawn", not "fork": the bots rebuild from a thread, and forking a threaded
    # process can leave a lock held forever in the child.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending = [
            pool.submit(_tokenise_many, corpus_dir, chunk, manifest)
            for chunk in chunks[: workers * 4]
        ]
        next_chunk = len(pending)
        while pending:
            done = pending.pop(0).result()
            if next_chunk < len(chunks):  # keep a bounded number of chunks in flight
                pending.append(
                    pool.submit(_tokenise_many, corpus_dir, chunks[next_chunk], manifest)
                )
                next_chunk += 1
            yield from mapped(done)


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
) -> BuildReport:
    """Build into a fresh folder under ``index_dir``; the caller decides whether to switch.

    Articles whose file is unchanged since ``previous`` was built (same size and
    modification time) are not read again: their paragraphs and term counts are copied.
    The rest are tokenised on ``workers`` processes (default: every core) and streamed
    to disk, so memory holds term ids and counts, not texts.
    """
    started = time.perf_counter()
    index_dir.mkdir(parents=True, exist_ok=True)
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
        rel = path.relative_to(corpus_dir).as_posix()
        old = reusable.get(rel)
        try:
            st = path.stat()
        except OSError:
            old = None
        else:
            if old is not None and (old.size, old.mtime_ns) != (st.st_size, st.st_mtime_ns):
                old = None
        plan.append((path, old))
    to_read = [path for path, old in plan if old is None]
    bar = _progress_bar(len(files)) if progress and len(to_read) >= 200 else None
    vocab: dict[str, int] = dict(previous.vocab) if reusable and previous else {}
    stream = _tokenised_stream(corpus_dir, to_read, manifest, workers or os.cpu_count() or 1, vocab)
    target = Path(tempfile.mkdtemp(prefix=".build-", dir=index_dir))
    # Unchanged articles keep their term counts: the index is turned back into
    # paragraph -> terms once, instead of every article being tokenised again.
    old_forward = previous.bm25.forward() if reusable and previous else None
    infos: list[dict[str, Any]] = []
    term_chunks: list[np.ndarray] = []
    tf_chunks: list[np.ndarray] = []
    size_chunks: list[np.ndarray] = []
    offsets = [0]
    article_of: list[int] = []
    content_hash = hashlib.sha256(f"analyzer={ANALYZER_VERSION}\n{manifest_hash}\n".encode())
    try:
        with open(target / "paragraphs.jsonl", "wb") as out:
            for _path, old in plan:
                if old is not None and previous is not None and old_forward is not None:
                    first, count = old.first_paragraph, old.paragraph_count
                    lo, hi = int(old_forward.indptr[first]), int(old_forward.indptr[first + count])
                    term_chunks.append(np.asarray(old_forward.terms[lo:hi]))
                    tf_chunks.append(np.asarray(old_forward.tfs[lo:hi]))
                    size_chunks.append(
                        np.diff(np.asarray(old_forward.indptr[first : first + count + 1]))
                    )
                    start, end = (
                        int(previous._offsets[first]),
                        int(previous._offsets[first + count]),
                    )
                    data = os.pread(previous._texts.fileno(), end - start, start)
                    out.write(data)
                    base = offsets[-1] - start
                    offsets.extend(
                        int(o) + base for o in previous._offsets[first + 1 : first + count + 1]
                    )
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
                    out.write(result.lines)
                    for length in result.line_lengths:
                        offsets.append(offsets[-1] + length)
                    info = result.info
                    paragraphs = len(result.line_lengths)
                info["first_paragraph"] = len(article_of)
                info["paragraph_count"] = paragraphs
                article_of.extend([len(infos)] * paragraphs)
                content_hash.update(f"{info['id']}\0{info['sha256']}\n".encode())
                infos.append(info)
        if bar:
            bar[0].stop()
        read_done = time.perf_counter()
        sizes = np.concatenate(size_chunks) if size_chunks else np.zeros(0, np.int64)
        forward = bm25.Forward(
            indptr=np.concatenate(([0], np.cumsum(sizes))).astype(np.int64),
            terms=np.concatenate(term_chunks) if term_chunks else np.zeros(0, np.int32),
            tfs=np.concatenate(tf_chunks) if tf_chunks else np.zeros(0, np.uint16),
        )
        del term_chunks, tf_chunks, size_chunks
        index = bm25.build(forward, k1=bm25.K1, b=bm25.B, n_terms=len(vocab))
        built = time.perf_counter()
        arrays: dict[str, np.ndarray] = {
            "doc_len": index.doc_len,
            "idf": index.idf,
            "indptr": index.indptr,
            "impact_ids": index.impact_ids,
            "impact_weights": index.impact_weights,
            "doc_ids": index.doc_ids,
            "doc_tfs": index.doc_tfs,
            "dense_terms": index.dense_terms,
            "dense_rows": index.dense_rows,
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


class IndexStore:
    """The serving index for one corpus folder, rebuilt when the corpus changes.

    ``current()`` is cheap to call per question: it looks at the corpus at most every
    ``check_interval`` seconds (by names, sizes and times) and rebuilds only on a change.
    A file that cannot be read is left out and named in ``problems()``; every other
    article, new ones included, is indexed.  A damaged index is rebuilt from the corpus.
    """

    def __init__(
        self,
        corpus_dir: Path,
        index_dir: Path,
        *,
        check_interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        progress: bool = False,
    ) -> None:
        self.corpus_dir = corpus_dir
        self.index_dir = index_dir
        self.check_interval = check_interval
        self.clock = clock
        self.progress = progress
        self.last_error: str | None = None
        self.last_build: BuildReport | None = None
        self._index: SearchIndex | None = None
        self._checked_at: float | None = None
        self._lock = threading.Lock()

    def _load_pointer(self, *, verify_all: bool = False) -> SearchIndex | None:
        pointer = self.index_dir / _POINTER
        try:
            name = pointer.read_text(encoding="utf-8").strip()
            index = SearchIndex(self.index_dir / name, verify_all=verify_all)
        except FileNotFoundError:
            return None  # no index yet
        except DamagedIndex as exc:
            logging.getLogger("index.integrity").warning(
                "the index is damaged (%s); rebuilding it from the corpus", exc
            )
            return None
        except (OSError, ValueError, KeyError, TypeError, EOFError) as exc:
            # an older format after an upgrade, or damage the checksums cannot see
            log.info("rebuilding the index: %s", exc)
            return None
        if index.meta.get("analyzer_version") != ANALYZER_VERSION:
            index.close()
            return None  # written by another analyzer: rebuild, never misread
        return index

    def _switch_to(self, report: BuildReport) -> SearchIndex:
        final = self.index_dir / f"build-{report.directory.name.removeprefix('.build-')}"
        report.directory.rename(final)
        report.directory = final
        pointer_tmp = self.index_dir / f".{_POINTER}.tmp"
        pointer_tmp.write_text(final.name, encoding="utf-8")
        os.replace(pointer_tmp, self.index_dir / _POINTER)
        old = self._index
        self._index = SearchIndex(final)
        if old is not None:
            old.close()
        for stale in self.index_dir.glob("build-*"):
            if stale != final:
                shutil.rmtree(stale, ignore_errors=True)
        return self._index

    def problems(self) -> list[dict[str, str]]:
        """The corpus files the serving index had to leave out: ``file`` and ``problem``."""
        index = self._index
        if index is None:
            return []
        return [p for p in index.meta.get("skipped") or [] if isinstance(p, dict)]

    def refresh(self, *, force: bool = False, verify_all: bool = False) -> BuildReport | None:
        """Rebuild if the corpus changed (or ``force``); None when nothing needed doing.

        Files that cannot be read are left out of the new index and logged once, when it
        is built; ``force`` builds from the corpus alone, never reading the old index.
        Raises ``CorpusBuildError`` only when the corpus folder itself is gone (the
        earlier index keeps serving).
        """
        if not force and (self._index is None or verify_all):
            if self._index is not None:
                self._index.close()
            self._index = self._load_pointer(verify_all=verify_all)
        fingerprint = corpus_fingerprint(self.corpus_dir)
        current = self._index
        unchanged = (
            current is not None
            and current.meta.get("fingerprint") == fingerprint
            and current.meta.get("corpus_dir") == str(self.corpus_dir.resolve())
        )
        if not force and unchanged and current is not None:
            self.last_error = None
            return None
        if fingerprint == "missing" and current is not None:
            self.last_error = f"{self.corpus_dir}: corpus folder not found"
            raise CorpusBuildError([CorpusError(self.corpus_dir, "corpus folder not found")])
        report = build_index(
            self.corpus_dir,
            self.index_dir,
            progress=self.progress,
            previous=None if force else current,
        )
        self.last_error = None
        if report.skipped:
            log.warning(
                "%s",
                _unreadable_message(
                    [_problem_line(problem_of(self.corpus_dir, e)) for e in report.skipped]
                ),
            )
        self._switch_to(report)
        self.last_build = report
        return report

    def current(self) -> SearchIndex:
        """The index to answer from, rebuilt first if the corpus changed since the last look.

        Safe from many threads: one looks at the corpus and rebuilds while the others
        keep answering from the index they have (or wait, when there is none yet).
        """
        if self._index is None:
            with self._lock:
                self._check()
        elif self._due() and self._lock.acquire(blocking=False):
            try:
                self._check()
            finally:
                self._lock.release()
        if self._index is None:
            raise IndexUnavailable(self.last_error or f"no index for {self.corpus_dir}")
        return self._index

    def _due(self) -> bool:
        return self._checked_at is None or self.clock() - self._checked_at >= self.check_interval

    def _check(self) -> None:
        if not self._due() and self._index is not None:
            return  # another thread just looked
        self._checked_at = self.clock()
        try:
            self.refresh()
        except CorpusBuildError as exc:
            log.error("%s", exc)
        except CorpusError as exc:
            self.last_error = str(exc)
            # With no index, whoever asks gets this in IndexUnavailable: log it quietly.
            log.log(logging.ERROR if self._index is not None else logging.INFO, "%s", exc)

    def stats(self) -> dict[str, object]:
        index = self.current()
        return {
            "corpus": str(self.corpus_dir),
            "index": str(index.directory),
            "articles": len(index.articles),
            "paragraphs": index.size,
            "terms": len(index.vocab),
            "corpus_hash": index.corpus_hash[:16],
            "analyzer_version": index.meta["analyzer_version"],
        }


def report_dict(report: BuildReport) -> dict[str, object]:
    data = asdict(report)
    data["directory"] = str(report.directory)
    data["skipped"] = [str(e) for e in report.skipped]
    return data
