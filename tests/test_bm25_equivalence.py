"""Our postings scorer must rank exactly as rank_bm25.BM25Okapi does on the same tokens."""

from __future__ import annotations

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from index import bm25
from index.analyzer import tokenize
from index.documents import iter_articles
from index.paragraphs import split_paragraphs
from tests.conftest import SEED_CORPUS


def _compare(docs: list[list[str]], queries: list[list[str]], k: int = 10) -> None:
    reference = BM25Okapi(docs)
    vocab: dict[str, int] = {}
    postings = bm25.build_postings(docs, vocab)
    for query in queries:
        expected = reference.get_scores(query)
        ours = bm25.score_terms(postings, [vocab[t] for t in query if t in vocab], len(docs))
        np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-9)
        top = bm25.top_k(ours, k)
        ref_top = sorted(
            (i for i in range(len(docs)) if expected[i] > 0), key=lambda i: (-expected[i], i)
        )[:k]
        assert [i for i, _ in top] == ref_top
        for (_, score), j in zip(top, ref_top, strict=True):
            assert abs(score - expected[j]) <= 1e-6 * abs(expected[j])


def test_equal_to_rank_bm25_on_the_seed_corpus() -> None:
    docs = [
        tokenize(f"{p.heading}\n{p.text}" if p.heading else p.text)
        for a in iter_articles(SEED_CORPUS)
        for p in split_paragraphs(a)
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


def test_equal_to_rank_bm25_on_a_generated_corpus_of_10000_paragraphs() -> None:
    rng = np.random.default_rng(7)
    vocabulary = np.array([f"w{i}" for i in range(5000)])
    weights = 1.0 / np.arange(1, 5001) ** 1.1
    weights /= weights.sum()
    docs = [
        list(rng.choice(vocabulary, size=int(rng.integers(40, 121)), p=weights))
        for _ in range(10_000)
    ]
    queries = [list(rng.choice(vocabulary[:2000], size=int(rng.integers(3, 9)))) for _ in range(25)]
    queries.append(["w0", "w0", "w1"])  # a repeated term counts twice, as in rank_bm25
    _compare(docs, queries)


def test_idf_floor_and_the_exactly_half_quirk() -> None:
    docs = [["a", "b"], ["a", "c"], ["a", "d"], ["e", "f"]]
    reference = BM25Okapi(docs)
    vocab: dict[str, int] = {}
    postings = bm25.build_postings(docs, vocab)
    for term, term_id in vocab.items():
        assert postings.idf[term_id] == pytest.approx(reference.idf[term], rel=1e-12)
    # "a" is in 3 of 4 paragraphs: floored to epsilon * mean IDF, above zero.
    assert postings.idf[vocab["a"]] > 0
    half = bm25.build_postings([["x"], ["x"], ["y"], ["z"]], {})
    assert half.idf[0] == 0.0  # exactly half: log(1) = 0, not floored
