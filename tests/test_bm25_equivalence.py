"""Our postings scorer must rank exactly as rank_bm25.BM25Okapi does on the same tokens."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from index import bm25
from index.analyzer import tokenize
from index.documents import iter_articles
from index.paragraphs import split_paragraphs
from tests.conftest import SEED_CORPUS


def _index(docs: list[list[str]]) -> tuple[bm25.BM25Index, dict[str, int]]:
    vocab: dict[str, int] = {}
    forward = bm25.forward_from_tokens(docs, vocab)
    return bm25.build(forward, n_terms=len(vocab)), vocab


def _compare(docs: list[list[str]], queries: list[list[str]], k: int = 10) -> None:
    reference = BM25Okapi(docs, k1=bm25.K1, b=bm25.B)
    index, vocab = _index(docs)
    for query in queries:
        expected = reference.get_scores(query)
        ids = [vocab[t] for t in query if t in vocab]
        ours = index.all_scores(ids)
        np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-9)
        top = index.top_k(ids, k)  # early-terminating: must still be exactly the same
        ref_top = sorted(
            (i for i in range(len(docs)) if expected[i] > 0), key=lambda i: (-expected[i], i)
        )[:k]
        assert [i for i, _ in top] == ref_top
        for (_, score), j in zip(top, ref_top, strict=True):
            assert abs(score - expected[j]) <= 1e-6 * abs(expected[j])


def test_equal_to_rank_bm25_on_the_seed_corpus() -> None:
    docs = [
        tokenize(p.indexed_text) for a in iter_articles(SEED_CORPUS) for p in split_paragraphs(a)
    ]
    queries = [
        tokenize(q)
        for q in (
            "avocado closed model",
            "Who leads TBD Lab?",
            "Meta meta stock 1.2%",
            "NYSE:BABA Qwen",
            "Llama 4 disappointment",
            "unknownword",
            "ai",
        )
    ]
    _compare(docs, queries)


@pytest.mark.parametrize("k", [1, 10, 50])
def test_equal_to_rank_bm25_on_a_generated_corpus_of_10000_paragraphs(k: int) -> None:
    rng = np.random.default_rng(7)
    vocabulary = np.array([f"w{i}" for i in range(5000)])
    weights = 1.0 / np.arange(1, 5001) ** 1.1
    weights /= weights.sum()
    docs = [
        list(rng.choice(vocabulary, size=int(rng.integers(40, 121)), p=weights))
        for _ in range(10_000)
    ]
    queries = [list(rng.choice(vocabulary[:2000], size=int(rng.integers(3, 9)))) for _ in range(25)]
    queries += [list(rng.choice(vocabulary, size=5, p=weights)) for _ in range(25)]  # common
    queries.append(["w0", "w0", "w1"])  # a repeated term counts twice, as in rank_bm25
    queries.append(["w0", "w1", "w2", "w3"])  # only the longest lists: the hardest case
    queries += [list(rng.choice(vocabulary, size=20, p=weights)) for _ in range(5)]  # long
    queries += [list(rng.choice(vocabulary[:12], size=4)) for _ in range(5)]  # common only
    queries.append(["w4999", "w0"])  # a rare term with the commonest
    _compare(docs, queries, k=k)


def test_paragraphs_that_tie_are_ranked_by_position_as_rank_bm25_does() -> None:
    rng = np.random.default_rng(3)
    base = [f"w{i}" for i in range(30)]
    docs = [list(rng.choice(base, size=8)) for _ in range(300)]
    docs += [["alpha", "beta", "w1"]] * 40  # forty identical paragraphs, all in the top
    docs += [["alpha", "w2", "w3"]] * 5
    _compare(docs, [["alpha", "beta"], ["alpha"], ["beta", "w1", "alpha"]], k=10)


def test_idf_floor_and_the_exactly_half_quirk() -> None:
    docs = [["a", "b"], ["a", "c"], ["a", "d"], ["e", "f"]]
    reference = BM25Okapi(docs, k1=bm25.K1, b=bm25.B)
    index, vocab = _index(docs)
    for term, term_id in vocab.items():
        assert index.idf[term_id] == pytest.approx(reference.idf[term], rel=1e-12)
    # "a" is in 3 of 4 paragraphs: floored to epsilon * mean IDF, above zero.
    assert index.idf[vocab["a"]] > 0
    half, _ = _index([["x"], ["x"], ["y"], ["z"]])
    assert half.idf[0] == 0.0  # exactly half: log(1) = 0, not floored


def test_the_index_on_disk_ranks_as_rank_bm25_does(tmp_path: Path) -> None:
    from index.store import IndexStore

    index = IndexStore(SEED_CORPUS, tmp_path / "i").current()
    docs = [
        tokenize(p.indexed_text) for a in iter_articles(SEED_CORPUS) for p in split_paragraphs(a)
    ]
    reference = BM25Okapi(docs, k1=bm25.K1, b=bm25.B)
    for question in ("Who leads TBD Lab?", "Qwen distillation", "Meta stock 1.2%"):
        terms = tokenize(question)
        expected = reference.get_scores(terms)
        ranked = sorted(
            (i for i in range(len(docs)) if expected[i] > 0), key=lambda i: (-expected[i], i)
        )[:10]
        found = index.search(terms, 10)
        assert [i for i, _ in found] == ranked
        assert all(abs(s - expected[i]) <= 1e-6 * expected[i] for i, s in found)


def test_a_word_repeated_hundreds_of_times_in_one_paragraph_still_counts_exactly() -> None:
    docs = [["spam"] * 300 + ["eggs"], ["spam", "ham"], ["eggs", "ham"], ["toast"]] * 3
    index, vocab = _index(docs)
    assert int(index.term_postings(vocab["spam"])[1].max()) == 300  # packed, not clipped
    _compare(docs, [["spam"], ["spam", "eggs"], ["ham", "spam"]], k=5)


def test_postings_unpack_to_what_was_packed_across_many_blocks() -> None:
    rng = np.random.default_rng(11)
    docs = [
        list(rng.choice(["a", "b", "c", "d"], size=int(rng.integers(1, 6)))) for _ in range(900)
    ]
    docs += [["e"] * 65535]  # the largest count kept: 16 bits
    index, vocab = _index(docs)
    for term, term_id in vocab.items():
        ids, tfs = index.term_postings(term_id)
        expected = [(i, d.count(term)) for i, d in enumerate(docs) if term in d]
        assert list(zip(ids.tolist(), tfs.tolist(), strict=True)) == expected
