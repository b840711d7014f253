from __future__ import annotations

import gc
import json
import os
import pickle
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from index import store as store_module
from index import tokenising, writer
from index.documents import CorpusError
from index.store import IndexStore, IndexUnavailable


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _store(corpus: Path, tmp_path: Path, clock: FakeClock | None = None) -> IndexStore:
    """A store that looks at the corpus on the asking thread, when the fake clock says."""
    return IndexStore(
        corpus, tmp_path / "index", check_interval=1.0, clock=clock or FakeClock(), watch=False
    )


def _texts(index: store_module.SearchIndex) -> str:
    return "\n".join(index.passage(i).text for i in index.paragraph_ids())


def _by_passage(index: store_module.SearchIndex) -> dict[str, str]:
    """Every live paragraph's text by its citation id (paragraph ids differ between a
    build with a delta segment and a fresh one; what is cited must not)."""
    return {p.id: p.text for p in map(index.passage, index.paragraph_ids())}


def _ranked(index: store_module.SearchIndex, query: list[str]) -> list[tuple[float, str]]:
    """Every matching paragraph's score and citation id, best first."""
    return sorted((-s, index.passage(i).id) for i, s in index.search(query, 1000))


def test_builds_once_then_loads_from_disk(corpus: Path, tmp_path: Path) -> None:
    first = _store(corpus, tmp_path)
    index = first.current()
    assert len(index.articles) == 4 and index.size > 40
    assert first.last_build is not None
    second = _store(corpus, tmp_path)
    assert second.refresh() is None  # nothing changed: loaded, not rebuilt
    assert second.current().corpus_hash == index.corpus_hash


def test_a_new_article_is_picked_up_without_a_restart(corpus: Path, tmp_path: Path) -> None:
    clock = FakeClock()
    store = _store(corpus, tmp_path, clock)
    before = store.current()
    (corpus / "new.txt").write_text("Zebras invaded the trading floor on Tuesday morning.\n")
    assert store.current() is before  # not looked at again within the interval
    clock.now += 5
    after = store.current()
    assert "new" in after.articles
    assert "Zebras" in _texts(after)


def test_a_changed_or_removed_article_leaves_no_stale_paragraph(
    corpus: Path, tmp_path: Path
) -> None:
    clock = FakeClock()
    store = _store(corpus, tmp_path, clock)
    assert "Nat Friedman" in _texts(store.current())
    path = corpus / "002_f2332b2d0f3892e9.txt"
    path.write_text("A short replacement story about something else entirely.\n")
    clock.now += 5
    assert "Nat Friedman" not in _texts(store.current())
    path.unlink()
    clock.now += 5
    assert "002_f2332b2d0f3892e9" not in store.current().articles


@pytest.mark.parametrize(
    "breakage",
    ["binary", "encoding"],
)
def test_an_unreadable_file_is_left_out_and_new_articles_still_indexed(
    corpus: Path, tmp_path: Path, breakage: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    store = _store(corpus, tmp_path, clock)
    store.current()
    bad = corpus / "bad.txt"
    bad.write_bytes(b"\x00\x01\x02binary" if breakage == "binary" else b"caf\xe9 \xff news")
    (corpus / "wine.txt").write_text("Bordeaux had its smallest grape harvest in fifty years.\n")
    clock.now += 5
    index = store.current()
    assert "wine" in index.articles and len(index.articles) == 5  # the new one is served
    assert "Bordeaux" in _texts(index)
    reason = "looks like a binary file" if breakage == "binary" else "is not UTF-8 text"
    [problem] = store.problems()
    assert problem["file"] == "bad.txt" and problem["problem"].startswith(reason)
    assert caplog.text.count("bad.txt") == 1  # logged once, when the index was built
    clock.now += 5
    assert store.current() is index and caplog.text.count("bad.txt") == 1  # not again
    bad.unlink()
    clock.now += 5
    assert store.current() is not index and store.problems() == []
    assert not list((tmp_path / "index").glob(".build-*"))


def test_without_an_earlier_index_readable_files_still_serve(corpus: Path, tmp_path: Path) -> None:
    (corpus / "bad.txt").write_bytes(b"\xff\xfe\x00\x00")
    store = _store(corpus, tmp_path)
    index = store.current()
    assert len(index.articles) == 4
    assert [p["file"] for p in store.problems()] == ["bad.txt"]


def test_an_article_without_text_is_a_problem_not_an_empty_article(
    corpus: Path, tmp_path: Path
) -> None:
    (corpus / "empty.html").write_text("<html><body><nav>Home</nav></body></html>")
    (corpus / "blank.txt").write_text("\n\n   \n")
    store = _store(corpus, tmp_path)
    index = store.current()
    assert "empty" not in index.articles and "blank" not in index.articles
    problems = {p["file"]: p["problem"] for p in store.problems()}
    assert problems == {
        "blank.txt": "no article text found in it (0 paragraphs)",
        "empty.html": "no article text found in it (0 paragraphs)",
    }


def test_a_broken_manifest_loses_its_metadata_not_the_articles(
    corpus: Path, tmp_path: Path
) -> None:
    manifest = corpus / "metadata.toml"
    manifest.write_text(manifest.read_text() + '\n["001_fac266b8b9879510.txt"]\nsource = "X"\n')
    store = _store(corpus, tmp_path)
    assert len(store.current().articles) == 4
    [problem] = store.problems()
    assert (
        problem["file"] == "metadata.toml"
        and "cannot read the metadata manifest" in (problem["problem"])
    )


def test_a_file_vanishing_mid_build_is_named(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store(corpus, tmp_path)
    store.current()
    victim = corpus / "003_995cb40eb3369109.txt"
    real_load = tokenising.load_article

    def vanish_before_reading(corpus_dir: Path, path: Path, *args: object) -> object:
        if path == victim:
            victim.unlink()  # listed, then gone before it could be read
        return real_load(corpus_dir, path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(tokenising, "load_article", vanish_before_reading)
    victim.write_text(victim.read_text() + "\nAn update.\n")  # changed, so read again
    store.refresh(force=True)
    assert store.problems() == [
        {"file": "003_995cb40eb3369109.txt", "problem": "the file vanished while it was being read"}
    ]
    assert len(store.current().articles) == 3


def test_files_deleted_during_a_parallel_build_are_named_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "many"
    corpus.mkdir()
    for n in range(70):
        (corpus / f"a{n:03d}.txt").write_text(f"Widget maker sold {n} units in week {n}.\n")
    real_files = writer.article_files
    ghosts = [corpus / "ghost1.txt", corpus / "ghost2.md"]  # listed, deleted before reading
    monkeypatch.setattr(writer, "article_files", lambda d: [*real_files(d), *ghosts])
    report = store_module.build_index(corpus, tmp_path / "p", workers=2)
    assert report.articles == 70
    assert sorted(str(e) for e in report.skipped) == [
        f"{g}: the file vanished while it was being read" for g in ghosts
    ]


def test_corpus_errors_survive_the_trip_back_from_a_worker_process() -> None:
    error = CorpusError("/c/a.txt", "the file vanished while it was being read")
    again = pickle.loads(pickle.dumps(error))
    assert (again.path, again.reason, str(again)) == (error.path, error.reason, str(error))


def test_an_index_from_another_analyzer_version_is_rebuilt(corpus: Path, tmp_path: Path) -> None:
    store = _store(corpus, tmp_path)
    directory = store.current().directory
    meta = json.loads((directory / "meta.json").read_text())
    meta["analyzer_version"] = -1
    (directory / "meta.json").write_text(json.dumps(meta))
    fresh = _store(corpus, tmp_path)
    assert fresh.refresh() is not None  # rebuilt, not misread


def test_a_missing_corpus_folder_is_a_clear_error(tmp_path: Path) -> None:
    store = _store(tmp_path / "nowhere", tmp_path)
    with pytest.raises(IndexUnavailable, match="nowhere: corpus folder not found"):
        store.current()


def test_index_arrays_are_memory_mapped_not_pickled(corpus: Path, tmp_path: Path) -> None:
    index = _store(corpus, tmp_path).current()
    assert not list(index.directory.glob("*.pkl")) and not list(index.directory.glob("*.pickle"))
    for array in (index.bm25.postings.words, index.bm25.postings.blk_last):
        assert not array.flags.owndata and type(array.base).__name__ in ("memmap", "mmap")
    assert os.path.getsize(index.directory / "paragraphs.zst") > 0


def test_adding_an_article_tokenises_only_that_article(corpus: Path, tmp_path: Path) -> None:
    clock = FakeClock()
    store = _store(corpus, tmp_path, clock)
    store.current()
    assert store.last_build is not None and store.last_build.tokenised == 4
    (corpus / "new.txt").write_text("Zebras invaded the trading floor on Tuesday morning.\n")
    clock.now += 5
    index = store.current()
    assert store.last_build.tokenised == 1  # the four others were reused, not re-read
    fresh = IndexStore(corpus, tmp_path / "fresh").current()
    for question in (["zebra", "trade"], ["avocado", "close"], ["tbd", "lab", "lead"]):
        assert _ranked(index, question) == _ranked(fresh, question)
    assert _by_passage(index) == _by_passage(fresh) and index.size == fresh.size


def test_many_files_are_tokenised_in_parallel_with_the_same_result(tmp_path: Path) -> None:
    """Each worker numbers terms its own way across the chunks it is given, half of
    them in compiled code; every term must still find exactly the paragraphs it finds
    in a build on one process."""
    corpus = tmp_path / "many"
    corpus.mkdir()
    for n in range(80):
        own = "".join(chr(97 + int(d)) for d in f"{n:02d}")  # a word first met here
        (corpus / f"a{n:03d}.txt").write_text(
            f"Story {n} about widgets number {n % 7} and gadgets.\n\n"
            f"The {['red', 'blue', 'green'][n % 3]} widget maker sold {n} units in week {n}.\n\n"
            f"Plain words only: the {own} widget and the {own}-{own} gadget, {own}'s own.\n"
        )
    serial = store_module.build_index(corpus, tmp_path / "s", workers=1)
    parallel = store_module.build_index(corpus, tmp_path / "p", workers=2)
    assert (serial.articles, serial.paragraphs) == (parallel.articles, parallel.paragraphs)
    assert (serial.articles, serial.paragraphs) == (80, 240)
    a = store_module.SearchIndex(serial.directory)
    b = store_module.SearchIndex(parallel.directory)
    assert sorted(a.vocab) == sorted(b.vocab)
    for term in a.vocab:
        assert a.search([term], 300) == b.search([term], 300), term
    for query in (["red", "widget"], ["gadget"], ["unit", "week", "42"], ["ec", "widget"]):
        assert a.search(query, 10) == b.search(query, 10)
        assert a.search(query, 10)


def _until(condition: Callable[[], bool], seconds: float = 30.0) -> bool:
    """Poll ``condition`` until it holds or the deadline passes (no fixed sleep)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        threading.Event().wait(0.005)
    return True


def test_the_watcher_picks_up_new_articles_and_no_question_scans_the_corpus(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scanned_on: list[str] = []
    real_fingerprint = store_module.corpus_fingerprint

    def fingerprint(directory: Path) -> str:
        scanned_on.append(threading.current_thread().name)
        return real_fingerprint(directory)

    monkeypatch.setattr(store_module, "corpus_fingerprint", fingerprint)
    store = IndexStore(corpus, tmp_path / "index", check_interval=0.01)
    try:
        first = store.current()  # the very first call loads or builds on the asking thread
        asked_on = threading.current_thread().name
        scanned_on.clear()
        assert store.watching
        (corpus / "new.txt").write_text("Zebras invaded the trading floor on Tuesday morning.\n")
        assert _until(lambda: "new" in store.current().articles)
        assert "Zebras" in _texts(store.current()) and "new" not in first.articles
        assert scanned_on and asked_on not in scanned_on  # every look was the watcher's
    finally:
        store.close()
    assert not store.watching


def test_questions_are_answered_from_the_old_index_while_a_rebuild_runs(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = IndexStore(corpus, tmp_path / "index", check_interval=0.01)
    old = store.current()
    started, release = threading.Event(), threading.Event()
    real_build = store_module.build_index

    def slow_build(*args: Any, **kwargs: Any) -> Any:
        started.set()
        release.wait(30)
        return real_build(*args, **kwargs)

    monkeypatch.setattr(store_module, "build_index", slow_build)
    try:
        (corpus / "new.txt").write_text("Zebras invaded the trading floor on Tuesday morning.\n")
        assert started.wait(30)  # the watcher is rebuilding ...
        for _ in range(3):  # ... and every question is answered at once, from the old index
            assert store.current() is old
            assert old.passage(0).text  # its paragraphs stay readable
        release.set()
        assert _until(lambda: "new" in store.current().articles)
        assert old.passage(0).text == store.current().passage(0).text  # still readable
    finally:
        release.set()
        store.close()


def test_a_dropped_store_stops_its_watcher(corpus: Path, tmp_path: Path) -> None:
    store = IndexStore(corpus, tmp_path / "index", check_interval=0.01)
    store.current()
    watcher = store._watcher
    assert watcher is not None and watcher.running
    del store
    gc.collect()
    assert _until(lambda: not watcher.running)


def test_a_rebuild_after_adding_removing_and_changing_articles_equals_a_fresh_build(
    tmp_path: Path,
) -> None:
    corpus = tmp_path / "c"
    corpus.mkdir()
    colours = ["red", "blue", "green", "amber", "violet"]
    for n in range(30):
        (corpus / f"a{n:03d}.txt").write_text(
            f"Story {n} about widgets number {n % 7} and gadgets.\n\n"
            f"The {colours[n % 5]} widget maker sold {n} units in week {n}.\n"
        )
    store = IndexStore(corpus, tmp_path / "i", watch=False)
    store.current()
    (corpus / "a010b.txt").write_text("Zebras and red widgets invaded the gadget fair.\n")  # middle
    (corpus / "zz.txt").write_text("A violet zebra sold gadgets to the widget maker.\n")  # end
    (corpus / "a004.txt").unlink()
    (corpus / "a020.txt").write_text("The amber gadget maker closed for the week.\n")
    report = store.refresh()
    assert report is not None and report.tokenised == 3  # the other 28 were reused
    grown = store.current()
    fresh = IndexStore(corpus, tmp_path / "fresh", watch=False).current()
    assert _by_passage(grown) == _by_passage(fresh)
    for term in fresh.terms:
        assert grown.doc_freq(term) == fresh.doc_freq(term)
        assert grown.idf(term) == fresh.idf(term)
    for query in (["zebra"], ["red", "widget"], ["gadget", "maker", "week"], ["amber", "unit"]):
        assert _ranked(grown, query) == _ranked(fresh, query)
