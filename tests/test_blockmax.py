"""Block-max pruning must never change a result: each block's stored maximum is a true
bound (rounded up), and corpora whose blocks differ a lot rank exactly as rank_bm25."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from index import bm25, kernels
from index.analyzer import tokenize
from index.documents import iter_articles
from index.paragraphs import split_paragraphs
from index.store import IndexStore, SearchIndex

WORDS = [f"{a}{b}{c}" for a in "bdgkmpst" for b in "aeiou" for c in "lnrx"]  # 160 words
HOT = WORDS[:6]  # repeated in the short paragraphs of a few stretches: high block maxima


def _paragraph(rng: np.random.Generator, hot: bool) -> list[str]:
    """A hot paragraph is short with the hot words said often (a block of them has a high
    maximum); a cold one is long, with each hot word said once at most."""
    if hot:
        words = list(rng.choice(HOT, size=int(rng.integers(4, 12))))
        return words + list(rng.choice(WORDS, size=int(rng.integers(0, 4))))
    return list(rng.choice(WORDS[6:], size=int(rng.integers(40, 90)))) + list(
        rng.choice(HOT, size=int(rng.integers(0, 3)), replace=False)
    )


def _docs(n: int, hot_spans: list[tuple[int, int]], seed: int) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    hot = np.zeros(n, bool)
    for start, stop in hot_spans:
        hot[start:stop] = True
    return [_paragraph(rng, bool(hot[i])) for i in range(n)]


def _queries(seed: int) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    queries = [list(rng.choice(HOT, size=int(rng.integers(2, 6)))) for _ in range(12)]
    queries += [list(rng.choice(WORDS[:20], size=int(rng.integers(2, 7)))) for _ in range(8)]
    return queries + [[HOT[0], HOT[0], HOT[1]], [HOT[0], WORDS[-1]]]


def _expected(reference: BM25Okapi, query: list[str], k: int) -> list[tuple[int, float]]:
    scores = reference.get_scores(query)
    ranked = sorted((j for j in range(len(scores)) if scores[j] > 0), key=lambda j: (-scores[j], j))
    return [(j, float(scores[j])) for j in ranked[:k]]


def _same(found: list[tuple[int, float]], expected: list[tuple[int, float]]) -> None:
    assert [i for i, _ in found] == [j for j, _ in expected]
    for (_, score), (_, want) in zip(found, expected, strict=True):
        assert abs(score - want) <= 1e-9 * want


def test_each_block_maximum_bounds_its_postings_and_is_rounded_up() -> None:
    docs = _docs(3000, [(500, 700), (2000, 2100)], seed=1)
    vocab: dict[str, int] = {}
    index = bm25.build(bm25.forward_from_tokens(docs, vocab), n_terms=len(vocab))
    blocks = index.postings.term_blocks
    norm = index.norm
    spread = []
    for term in range(len(vocab)):
        ids, tfs = index.term_postings(term)
        tf = tfs.astype(np.float64)
        parts = tf * (index.k1 + 1) / (tf + norm[ids])
        for n, b in enumerate(range(int(blocks[term]), int(blocks[term + 1]))):
            best = parts[n * kernels.BLOCK : (n + 1) * kernels.BLOCK].max()
            stored = index.blk_max[b]
            assert float(stored) >= best  # a bound, even in float32
            assert float(np.nextafter(stored, np.float32(0))) < best * (1 + 1e-12)  # the least
            spread.append(float(stored))
        assert index.max_weight[term] == index.blk_max[blocks[term] : blocks[term + 1]].max()
    assert max(spread) > 1.4 * min(spread)  # the corpus does make blocks differ


@pytest.mark.parametrize("k", [1, 10])
def test_a_corpus_of_very_unequal_blocks_ranks_as_rank_bm25(k: int) -> None:
    # Hot stretches far apart (windows of cold paragraphs between them are skipped once
    # the k-th score is high) and a few hot paragraphs alone among cold ones.
    n = 3 * kernels.SPAN + 2000
    spans = [(300, 420), (kernels.SPAN + 5000, kernels.SPAN + 5300), (n - 900, n - 850)]
    spans += [(i, i + 1) for i in range(2000, n, 2777)]
    docs = _docs(n, spans, seed=2)
    vocab: dict[str, int] = {}
    index = bm25.build(bm25.forward_from_tokens(docs, vocab), n_terms=len(vocab))
    reference = BM25Okapi(docs, k1=bm25.K1, b=bm25.B)
    for query in _queries(3):
        found = index.top_k([vocab[t] for t in query if t in vocab], k)
        _same(found, _expected(reference, query, k))


def _write(folder: Path, name: str, paragraphs: list[list[str]]) -> None:
    text = "\n\n".join(" ".join(p).capitalize() + "." for p in paragraphs)
    (folder / name).write_text(text + "\n", encoding="utf-8")


def _assert_exact(index: SearchIndex, corpus: Path) -> None:
    tokens = {
        p.id: tokenize(p.indexed_text) for a in iter_articles(corpus) for p in split_paragraphs(a)
    }
    ids = list(index.paragraph_ids())
    reference = BM25Okapi([tokens[index.passage(i).id] for i in ids], k1=bm25.K1, b=bm25.B)
    for query in _queries(4):
        terms = [tokenize(t)[0] for t in query]
        found = index.bm25.top_k(index._term_ids(terms), 10)
        expected = [(ids[j], s) for j, s in _expected(reference, terms, 10)]
        _same(found, expected)


def _even(rng: np.random.Generator, hot: bool) -> list[str]:
    """30 words, three hot ones said three times each in a hot paragraph (they all tie at
    their blocks' maxima): lengths alike, so the average length weighs on every part."""
    said = HOT[:3] * 3
    if not hot:
        said = list(rng.choice(HOT, size=int(rng.integers(0, 3)), replace=False))
    return said + list(rng.choice(WORDS[6:], size=30 - len(said)))


def test_a_delta_that_moves_the_average_length_keeps_the_block_bounds_bounds(
    tmp_path: Path,
) -> None:
    # The main segment's bounds were computed at its own average length; a delta of very
    # long paragraphs (none of the query words) raises the global one, which lifts every
    # main paragraph's tf part: unscaled, the stored maxima would be too low.  Deleted
    # paragraphs score 0.
    corpus = tmp_path / "c"
    corpus.mkdir()
    rng = np.random.default_rng(5)
    # More than two windows of paragraphs: the first is walked whole before bounds prune.
    files = 3 * kernels.SPAN // 100 + 10
    for n in range(files):
        hot = n in (files - 40, files - 9)  # late: the first k found are cold ones
        _write(corpus, f"a{n:03d}.txt", [_even(rng, hot and j % 3 == 0) for j in range(100)])
    store = IndexStore(corpus, tmp_path / "i", watch=False)
    first = store.current()
    other = [f"v{a}{b}{c}" for a in "aeiou" for b in "bdgkmpst" for c in "aeiou"]
    for n in range(4):
        _write(corpus, f"z{n}.txt", [list(rng.choice(other, size=1200)) for _ in range(100)])
    _write(corpus, f"a{files - 9:03d}.txt", [_even(rng, False) for _ in range(100)])  # hot
    (corpus / "a005.txt").unlink()
    store.refresh()
    grown = store.current()
    assert "delta" in grown.meta and grown.meta["avgdl"] > first.meta["avgdl"] * 1.5
    _assert_exact(grown, corpus)
