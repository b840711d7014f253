"""Local evidence that a passage answers a question, beyond its BM25 score.

BM25 sees a paragraph as a bag of words: a passage that mentions the question's words
in three unrelated sentences scores like one that says them together.  The answer is
usually one sentence holding most of the question, its words close together and in the
question's order, so those are measured here, as shares of the question's IDF mass
(comparable across questions and corpora of any size).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import lru_cache

from bot.query import Query, content_words, raw_pairs, word_pairs
from index.analyzer import tokenize
from index.paragraphs import split_sentences
from index.store import SearchIndex

WINDOW = 12  # tokens: about a clause, the span an answer's words usually sit in
TIGHT = 6  # tokens: a phrase
NEAR = 2  # positions apart at which two question words count as a phrase

# The order of ``Evidence.vector``: the fitted weights in answer_model.json follow it.
CANDIDATE_FEATURES = (
    "log_score",
    "score_vs_top",
    "score_vs_attainable",
    "coverage",
    "sentence",
    "window",
    "phrases",
    "inverse_rank",
    "log_length",
    "answer_kind",
    "verbatim",
    "title",
    "article_support",
    "sentence_pair",
    "log_sentence_length",
    "rarest",
    "tight_window",
    "article_coverage",
    "in_order",
    "verbatim_pairs",
    "local_coverage",
    "local_sentence",
    "score_vs_article_best",
    "log_article_candidates",
    "phrasing_pairs",
    "beyond_title",
    "beyond_title_sentence",
    "within_article",
    "within_article_sentence",
)


@dataclass(frozen=True)
class Evidence:
    """What one candidate passage holds of one question."""

    score: float  # its BM25 score
    top_score: float  # the best BM25 score among the candidates
    attainable: float  # the highest BM25 score any paragraph could reach for the question
    coverage: float  # share of the question's IDF mass in the passage
    sentence: float  # ... in its best sentence
    window: float  # ... in its best WINDOW-token span
    phrases: float  # share of the question's adjacent word pairs found near each other
    rank: int  # 1-based, by BM25
    length: int  # tokens
    best_sentence: str  # the sentence holding most of the question
    kind_found: float  # 1: its best sentence holds what the question asks for (a year,
    # a number, a name the question lacks); 0: it does not; 0.5: the question does not say
    verbatim: float  # share of the question's words its best sentence has as typed
    title: float  # share of the question's IDF mass in its article's title
    article_support: float  # share of all candidates' BM25 mass from its article
    sentence_pair: float  # share of the question in its best two adjacent sentences
    sentence_length: int  # tokens of its best sentence
    rarest: float  # 1 if it holds the question's most telling term
    tight_window: float  # share of the question in its best TIGHT-token span
    article_coverage: float  # share of the question in all its article's candidates
    local_coverage: float  # share of the question's terms that few other candidates hold
    local_sentence: float  # ... in its best sentence
    article_best: float  # the best BM25 score among its article's candidates
    article_candidates: int  # how many candidates its article has
    in_order: float  # longest run of the question's terms its best sentence has in order
    verbatim_pairs: float  # share of the question's adjacent word pairs its text has as typed
    phrasing_pairs: float  # share of the question's word pairs, stop words kept, in its text
    beyond_title: float  # coverage of what the question asks beyond its article's title
    beyond_title_sentence: float  # ... in one sentence
    within_article: float  # coverage weighting each word by how few of the candidates from
    # its article hold it: what sets the passage apart from its article's other passages
    within_article_sentence: float  # ... in one sentence

    def vector(self) -> list[float]:
        return [
            math.log1p(self.score),
            self.score / self.top_score if self.top_score > 0 else 0.0,
            # BM25's IDF is 0 for a term in half of a tiny corpus: coverage says the same.
            self.score / self.attainable if self.attainable > 0 else self.coverage,
            self.coverage,
            self.sentence,
            self.window,
            self.phrases,
            1.0 / self.rank,
            math.log1p(self.length),
            self.kind_found,
            self.verbatim,
            self.title,
            self.article_support,
            self.sentence_pair,
            math.log1p(self.sentence_length),
            self.rarest,
            self.tight_window,
            self.article_coverage,
            self.in_order,
            self.verbatim_pairs,
            self.local_coverage,
            self.local_sentence,
            self.score / self.article_best if self.article_best > 0 else 0.0,
            math.log(self.article_candidates),
            self.phrasing_pairs,
            self.beyond_title,
            self.beyond_title_sentence,
            self.within_article,
            self.within_article_sentence,
        ]


def attainable_score(query: Query, idf: Callable[[str], float], k1: float) -> float:
    """BM25's ceiling for the query: every term at saturation in a short paragraph."""
    return sum(idf(t) for t in query.terms) * (k1 + 1)


@dataclass(frozen=True)
class Candidate:
    """A BM25 hit as evidence needs it."""

    text: str
    heading: str
    article: str
    title: str
    score: float


def candidates(index: SearchIndex, hits: list[tuple[int, float]]) -> list[Candidate]:
    """The passages behind BM25 hits, read once."""
    found = []
    for position, score in hits:
        passage = index.passage(position)
        article = index.article_of(position)
        found.append(
            Candidate(passage.text, passage.heading, article.id, article.display_title, score)
        )
    return found


@dataclass(frozen=True)
class _Among:
    """What a candidate is measured against: the other candidates."""

    top_score: float
    attainable: float
    article_support: dict[str, float]  # article -> share of the candidates' BM25 mass
    article_coverage: dict[str, float]  # article -> share of the question its candidates hold
    local: dict[str, float]  # question term -> how few candidates hold it (an IDF among them)
    article_best: dict[str, float]  # article -> its best candidate's BM25 score
    article_candidates: dict[str, int]  # article -> how many candidates it has
    within_article: dict[str, dict[str, float]]  # article -> question term -> its weight
    # times how few of the article's candidates hold it


def gather_all(query: Query, candidates: list[Candidate], attainable: float) -> list[Evidence]:
    """Evidence for each candidate (best BM25 first), each seen among the others."""
    if not candidates:
        return []
    by_article: dict[str, float] = {}
    terms_of: dict[str, set[str]] = {}
    holding: dict[str, int] = dict.fromkeys(query.weights, 0)
    in_article: dict[str, dict[str, int]] = {}
    for c in candidates:
        by_article[c.article] = by_article.get(c.article, 0.0) + c.score
        tokens = set(_analysed(c.heading, c.text)[0])
        terms_of.setdefault(c.article, set()).update(tokens)
        held = in_article.setdefault(c.article, dict.fromkeys(query.weights, 0))
        for term in holding:
            holding[term] += term in tokens
            held[term] += term in tokens
    counts = {a: sum(c.article == a for c in candidates) for a in by_article}
    mass = sum(by_article.values()) or 1.0
    total = query.total or 1.0
    among = _Among(
        top_score=candidates[0].score,
        attainable=attainable,
        article_support={a: score / mass for a, score in by_article.items()},
        article_coverage={
            article: _held(query.weights, terms, total) for article, terms in terms_of.items()
        },
        local={t: math.log(1.0 + len(candidates) / (n + 0.5)) for t, n in holding.items()},
        article_best={a: max(c.score for c in candidates if c.article == a) for a in by_article},
        article_candidates=counts,
        within_article={
            a: {
                t: query.weights[t] * math.log(1.0 + (counts[a] + 1) / (n + 0.5))
                for t, n in held.items()
            }
            for a, held in in_article.items()
        },
    )
    return [_gather(query, c, rank, among) for rank, c in enumerate(candidates, start=1)]


def _gather(query: Query, candidate: Candidate, rank: int, among: _Among) -> Evidence:
    weights = query.weights
    total = query.total or 1.0
    tokens, sentences = _analysed(candidate.heading, candidate.text)
    present = set(tokens)
    coverage = _held(weights, present, total)
    # Every paragraph of an article is about its title: what tells them apart is the rest.
    title = _title_terms(candidate.title)
    rest = {t: w for t, w in weights.items() if t not in title}
    rest_total = sum(rest.values()) or 1.0
    within = among.within_article[candidate.article]
    within_total = sum(within.values()) or 1.0
    best, best_share, best_terms = "", 0.0, frozenset[str]()
    pair_share = within_sentence = beyond_title_sentence = 0.0
    previous: frozenset[str] = frozenset()
    for sentence, terms in sentences:
        share = _held(weights, terms, total)
        if share > best_share + 1e-9:
            best, best_share, best_terms = sentence, share, terms
        pair_share = max(pair_share, _held(weights, terms | previous, total))
        within_sentence = max(within_sentence, _held(within, terms, within_total))
        beyond_title_sentence = max(beyond_title_sentence, _held(rest, terms, rest_total))
        previous = terms
    phrasing_pairs = _phrasing(query.phrasing, candidate.text)
    within_article = _held(within, present, within_total)
    beyond_title = _held(rest, present, rest_total)
    rarest = max(weights, key=lambda t: (weights[t], t)) if weights else ""
    local_total = sum(among.local.values()) or 1.0
    return Evidence(
        score=candidate.score,
        top_score=among.top_score,
        attainable=among.attainable,
        coverage=coverage,
        sentence=best_share,
        window=_best_window(tokens, weights) / total,
        phrases=_phrases(query.terms, tokens),
        rank=rank,
        length=len(tokens),
        best_sentence=best,
        kind_found=_kind_found(query, best) if query.kind else 0.5,
        verbatim=(
            len(query.words & content_words(best)) / len(query.words) if query.words else 0.0
        ),
        title=_held(weights, title, total),
        article_support=among.article_support[candidate.article],
        sentence_pair=pair_share,
        sentence_length=len(best_terms),
        rarest=1.0 if rarest in present else 0.0,
        tight_window=_best_window(tokens, weights, TIGHT) / total,
        article_coverage=among.article_coverage[candidate.article],
        local_coverage=_held(among.local, present, local_total),
        local_sentence=_held(among.local, best_terms, local_total),
        article_best=among.article_best[candidate.article],
        article_candidates=among.article_candidates[candidate.article],
        in_order=_in_order(query.terms, _sentence_tokens(best)) if best else 0.0,
        verbatim_pairs=_verbatim_pairs(query.pairs, candidate.text),
        phrasing_pairs=phrasing_pairs,
        beyond_title=beyond_title,
        beyond_title_sentence=beyond_title_sentence,
        within_article=within_article,
        within_article_sentence=within_sentence,
    )


def _held(weights: dict[str, float], terms: Collection[str], total: float) -> float:
    """The share of ``total`` that the weighted terms found in ``terms`` make up."""
    return sum(w for t, w in weights.items() if t in terms) / total


@lru_cache(maxsize=1024)
def _title_terms(title: str) -> frozenset[str]:
    return frozenset(tokenize(title))


_YEAR_OR_DATE = re.compile(
    r"\b(?:1\d{3}|20\d{2}|\d{1,2}(?:st|nd|rd|th)|january|february|march|april|may|june|july|"
    r"august|september|october|november|december|monday|tuesday|wednesday|thursday|friday|"
    r"saturday|sunday|century|decade|year|years|ago|today|yesterday|tomorrow|season|spring|"
    r"summer|autumn|winter|quarter|month|months|week|weeks|weekend|soon|recently)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
    r"forty|fifty|hundred|thousand|million|billion|trillion|dozen|half|several)\b",
    re.IGNORECASE,
)
_NAME = re.compile(r"(?<=\w[ ,])[A-Z][\w'-]+")


def _kind_found(query: Query, sentence: str) -> float:
    """Whether the sentence holds an answer of the kind asked for, beyond the question."""
    if query.kind == "time":
        return 1.0 if _YEAR_OR_DATE.search(sentence) else 0.0
    if query.kind == "number":
        return 1.0 if _NUMBER.search(sentence) else 0.0
    names = {n.casefold() for n in _NAME.findall(sentence)}
    return 1.0 if names - query.words else 0.0


@lru_cache(maxsize=1024)
def _analysed(heading: str, text: str) -> tuple[list[str], list[tuple[str, frozenset[str]]]]:
    """A passage's tokens and its sentences' terms (cached: the same passages come back)."""
    tokens = tokenize(f"{heading}\n{text}" if heading else text)
    return tokens, [(s, frozenset(_sentence_tokens(s))) for s in split_sentences(text)]


@lru_cache(maxsize=1024)
def _sentence_tokens(sentence: str) -> list[str]:
    return tokenize(sentence)


def _best_window(tokens: list[str], weights: dict[str, float], width: int = WINDOW) -> float:
    """The most IDF mass of distinct question terms inside any ``width`` consecutive tokens."""
    hits = [(i, t) for i, t in enumerate(tokens) if t in weights]
    best = 0.0
    counts: dict[str, int] = {}
    mass = 0.0
    start = 0
    for position, term in hits:
        counts[term] = counts.get(term, 0) + 1
        if counts[term] == 1:
            mass += weights[term]
        while position - hits[start][0] >= width:
            old = hits[start][1]
            counts[old] -= 1
            if counts[old] == 0:
                mass -= weights[old]
            start += 1
        best = max(best, mass)
    return best


def _in_order(terms: tuple[str, ...], tokens: list[str]) -> float:
    """Longest common subsequence of the question's terms and the sentence's, as a share
    of the question's distinct terms: a paraphrase keeps the order of what it restates."""
    wanted = list(dict.fromkeys(terms))
    if not wanted:
        return 0.0
    sequence = [t for t in tokens if t in set(wanted)]
    previous = [0] * (len(sequence) + 1)
    for term in wanted:
        current = [0]
        for j, token in enumerate(sequence):
            current.append(previous[j] + 1 if term == token else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1] / len(wanted)


def _verbatim_pairs(pairs: frozenset[str], text: str) -> float:
    """Share of the question's adjacent content-word pairs found as typed in the text."""
    if not pairs:
        return 0.0
    return len(pairs & word_pairs(text)) / len(pairs)


def _phrasing(words: tuple[str, ...], text: str) -> float:
    """Share of the question's word pairs (stop words kept) the text has as typed."""
    if len(words) < 2:
        return 0.0
    found = raw_pairs(text)
    pairs = list(zip(words, words[1:], strict=False))
    return sum(f"{a} {b}" in found for a, b in pairs) / len(pairs)


def _phrases(terms: tuple[str, ...], tokens: list[str]) -> float:
    """Share of the question's adjacent term pairs that stand within NEAR of each other."""
    pairs = {(a, b) for a, b in zip(terms, terms[1:], strict=False) if a != b}
    if not pairs:
        return 0.0
    wanted = {t for pair in pairs for t in pair}
    positions: dict[str, list[int]] = {}
    for i, t in enumerate(tokens):
        if t in wanted:
            positions.setdefault(t, []).append(i)
    found = 0
    for a, b in pairs:
        pa, pb = positions.get(a), positions.get(b)
        if pa and pb and any(abs(i - j) <= NEAR for i in pa for j in pb):
            found += 1
    return found / len(pairs)
