"""Small changes go into a delta segment; scores stay exactly rank_bm25's over the corpus."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from index import bm25, segments
from index import store as store_module
from index.analyzer import tokenize
from index.documents import iter_articles
from index.paragraphs import split_paragraphs
from index.store import IndexStore, SearchIndex

WORDS = [f"{a}{b}{c}" for a in "bdgkmpst" for b in "aeiou" for c in "lnrx"]  # 160 words


def _write(corpus: Path, name: str, seed: int, paragraphs: int = 6) -> None:
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, len(WORDS) + 1) ** 1.1
    weights /= weights.sum()
    text = "\n\n".join(
        " ".join(rng.choice(WORDS, size=int(rng.integers(5, 30)), p=weights)).capitalize() + "."
        for _ in range(paragraphs)
    )
    (corpus / name).write_text(text + "\n", encoding="utf-8")


def _queries() -> list[list[str]]:
    rng = np.random.default_rng(5)
    queries = [list(rng.choice(WORDS, size=int(rng.integers(1, 6)))) for _ in range(30)]
    return queries + [WORDS[:4], [WORDS[0], WORDS[0], WORDS[1]], [WORDS[-1], WORDS[0]]]


def _assert_exact(index: SearchIndex, corpus: Path) -> None:
    """Top 10 (ids and scores) equal BM25Okapi over the live paragraphs in index order."""
    tokens = {
        p.id: tokenize(p.indexed_text) for a in iter_articles(corpus) for p in split_paragraphs(a)
    }
    ids = list(index.paragraph_ids())
    assert sorted(index.passage(i).id for i in ids) == sorted(tokens)  # nothing stale
    docs = [tokens[index.passage(i).id] for i in ids]
    reference = BM25Okapi(docs, k1=bm25.K1, b=bm25.B)
    assert index.size == len(docs)
    forward = index.bm25.forward()  # live rows hold their counts, deleted rows none
    lengths = np.diff(forward.indptr)
    assert int(lengths.sum()) == sum(len(set(d)) for d in docs)
    assert all(lengths[i] == len(set(doc)) for i, doc in zip(ids, docs, strict=True))
    for query in _queries():
        terms = [tokenize(t)[0] for t in query]
        expected = reference.get_scores(terms)
        ranked = sorted(
            (j for j in range(len(docs)) if expected[j] > 0), key=lambda j: (-expected[j], j)
        )
        found = index.bm25.top_k(index._term_ids(terms), 10)
        assert [i for i, _ in found] == [ids[j] for j in ranked[:10]], query
        for (_, score), j in zip(found, ranked, strict=False):
            assert abs(score - expected[j]) <= 1e-9 * expected[j]
        full = index.scores(terms)
        np.testing.assert_allclose(full[ids], expected, rtol=1e-9, atol=1e-12)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "c"
    folder.mkdir()
    for n in range(40):
        _write(folder, f"a{n:03d}.txt", n)
    return folder


def test_adding_changing_and_removing_articles_go_to_a_delta_with_exact_scores(
    corpus: Path, tmp_path: Path
) -> None:
    store = IndexStore(corpus, tmp_path / "i", watch=False)
    first = store.current()
    assert "delta" not in first.meta
    main_file = (first.directory / "words.npy").stat().st_ino
    _write(corpus, "a010b.txt", 100)  # added in the middle of the path order
    _write(corpus, "zz.txt", 101)  # added at the end
    (corpus / "a004.txt").unlink()  # removed
    _write(corpus, "a020.txt", 102, paragraphs=3)  # changed
    report = store.refresh()
    assert report is not None and report.tokenised == 3
    grown = store.current()
    assert grown.meta["delta"]["removed"] and grown.main_size == first.size
    main_now = (grown.directory / "words.npy").stat().st_ino
    assert main_now == main_file  # the main segment is linked, not rewritten
    _assert_exact(grown, corpus)
    # A change on top of a delta: the delta's articles are reused, not read again.
    _write(corpus, "zz.txt", 103)
    _write(corpus, "new.txt", 104)
    (corpus / "a030.txt").unlink()
    report = store.refresh()
    assert report is not None and report.tokenised == 2
    again = store.current()
    assert "a010b" in again.articles and "a030" not in again.articles
    _assert_exact(again, corpus)
    fresh = IndexStore(corpus, tmp_path / "fresh", watch=False).current()
    for query in _queries():
        terms = [tokenize(t)[0] for t in query]
        ours = sorted((-s, again.passage(i).id) for i, s in again.search(terms, 1000))
        theirs = sorted((-s, fresh.passage(i).id) for i, s in fresh.search(terms, 1000))
        assert ours == theirs  # the very same scores as a fresh build's


def test_a_delta_past_its_limit_is_merged_into_a_full_build(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(segments, "DELTA_FLOOR", 10)
    monkeypatch.setattr(segments, "DELTA_SHARE", 0.0)
    store = IndexStore(corpus, tmp_path / "i", watch=False)
    store.current()
    _write(corpus, "b1.txt", 200)  # 6 paragraphs: a delta
    store.refresh()
    assert "delta" in store.current().meta
    _write(corpus, "b2.txt", 201)  # 12, past the limit: served as a delta, then merged
    report = store.refresh()
    merged = store.current()
    assert "delta" not in merged.meta and report is not None
    assert report.tokenised == 2  # the delta's articles are read again into the merge
    assert list(merged.paragraph_ids()) == list(range(merged.size))
    _assert_exact(merged, corpus)


def test_questions_see_a_new_article_while_the_segments_merge(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The merge runs on the watcher's thread after the delta is served: an article
    added past the limit is found at once, not after the whole index is rewritten."""
    monkeypatch.setattr(segments, "DELTA_FLOOR", 10)
    monkeypatch.setattr(segments, "DELTA_SHARE", 0.0)
    store = IndexStore(corpus, tmp_path / "i", watch=False)
    store.current()
    _write(corpus, "b1.txt", 200)
    store.refresh()
    merging, release = threading.Event(), threading.Event()
    real_build = store_module.build_index

    def held_merge(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("merge"):
            merging.set()
            assert release.wait(30)
        return real_build(*args, **kwargs)

    monkeypatch.setattr(store_module, "build_index", held_merge)
    (corpus / "news.txt").write_text(
        "\n\n".join(f"Zebras crossed the trading floor on day {n}." for n in range(12))
    )
    worker = threading.Thread(target=store.refresh)
    worker.start()
    try:
        assert merging.wait(30)
        served = store.current()  # while the merge is held
        assert "delta" in served.meta
        top = served.search(tokenize("zebras trading floor"), 3)
        assert top and served.passage(top[0][0]).article_id == "news"
    finally:
        release.set()
        worker.join(30)
    assert "delta" not in store.current().meta
    _assert_exact(store.current(), corpus)


def test_a_damaged_delta_file_is_found_and_the_index_rebuilt(corpus: Path, tmp_path: Path) -> None:
    store = IndexStore(corpus, tmp_path / "i", watch=False)
    store.current()
    _write(corpus, "new.txt", 300)
    store.refresh()
    index = store.current()
    path = index.directory / "d.words.npy"
    path.write_bytes(path.read_bytes()[:-8])
    again = IndexStore(corpus, tmp_path / "i", watch=False)
    rebuilt = again.current()
    assert again.last_build is not None and rebuilt.directory != index.directory
    _assert_exact(rebuilt, corpus)
