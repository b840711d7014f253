"""What the index should look for in a question: its subject words, spelled as the articles
spell them.

Chat questions come wrapped in framing ("hey, quick question: ...", "... thanks!") that is
not part of what is asked and must not count against an answer; names come misspelt
("Zuckerburg", "Avacado") and should find what the reader meant instead of being treated
as something the articles never mention.
"""

from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from index.analyzer import STOP_WORDS, tokenize_question
from index.store import SearchIndex

# Framing around the question itself, removed from the start and end until none is left.
_LEADING = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"^(?:hey|hi|hello|yo|ok(?:ay)?|so|um+|uh+|hm+|sorry|excuse me|morning|afternoon)\b"
        r"(?:\s+(?:there|bot|all|team|folks|everyone|everybody|guys|y'all|again))?[\s,!.:;-]*",
        r"^@[\w.-]+[\s,:;-]*",  # a mention typed as plain text ("@bot")
        r"^(?:a\s+|one\s+|another\s+)?(?:quick|random|dumb|silly|small|short|simple)?\s*"
        r"(?:q|qq|question|query)(?:\s+for\s+(?:you|the\s+bot))?\s*(?:[:,.!-]+|\s-\s)\s*",
        r"^(?:could|can|would|will)\s+(?:you|someone|anyone)\s+(?:please\s+)?"
        r"(?:check|tell\s+me|find(?:\s+out)?|look\s+up|let\s+me\s+know|confirm|remind\s+me|"
        r"help\s+me\s+understand)\b\s*[,:-]?\s*",
        r"^(?:please|pls|plz|kindly)\b[\s,:]*",
        r"^(?:do|does)\s+(?:you|anyone|anybody|somebody)\s+(?:happen\s+to\s+)?know\b\s*"
        r"(?:if|whether)?[\s,:]*",
        r"^(?:i\s+(?:was\s+|am\s+|'m\s+)?(?:wondering|wonder|curious)|i\s+(?:want|wanted|need|"
        r"would\s+like|'d\s+like)\s+to\s+know)\b\s*(?:if|whether|about)?[\s,:]*",
        r"^(?:any\s+idea|anyone\s+know|does\s+anyone\s+know)\b\s*(?:if|whether)?[\s,:]*",
        r"^(?:tell|show)\s+me\s+(?:about\s+)?",
    )
]
_TRAILING = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"[\s,.;:!-]*\b(?:thanks|thank\s+you|thx|thnx|ty|tia|cheers|please|pls|plz)"
        r"(?:\s+(?:so\s+much|a\s+lot|in\s+advance|again|all|folks|team|bot))?[\s!.:)(]*$",
        r"[\s,.;:!-]*\b(?:anyone|any\s+idea|lol|haha|cc)\b[\s?!.]*$",
        r"[\s,;:!-]*\b(?:if\s+you\s+(?:know|can)|when\s+you\s+(?:can|get\s+a\s+chance))[\s?!.]*$",
    )
]


def strip_framing(question: str) -> str:
    """The question without greetings, "quick question:", "could you check:", "thanks!"."""
    text = question.strip()
    for _ in range(4):
        before = text
        for pattern in _LEADING:
            text = pattern.sub("", text, count=1).lstrip()
        for pattern in _TRAILING:
            text = pattern.sub("", text, count=1).rstrip()
        if text == before:
            break
    return text or question.strip()


@dataclass(frozen=True)
class Query:
    """A question as the index sees it."""

    terms: tuple[str, ...]  # what BM25 is asked for, repeats kept (it counts them)
    weights: dict[str, float]  # each distinct term's IDF, for local evidence
    missing: float  # share of the question's IDF mass that no paragraph holds at all
    total: float  # the question's whole IDF mass, missing terms included
    corrected: dict[str, str] = field(default_factory=dict)  # misspelt -> corpus spelling
    kind: str = ""  # what kind of answer it wants: "time", "number", "name" or ""
    words: frozenset[str] = frozenset()  # its content words as typed, lower-cased
    pairs: frozenset[str] = frozenset()  # its adjacent content-word pairs, as typed
    missing_name: float = 0.0  # share of its IDF mass in names no article holds
    missing_word: float = 0.0  # the share of one word no article holds, if any
    phrasing: tuple[str, ...] = ()  # its words as typed, stop words kept, wh-words left out


def evidence_idf(index: SearchIndex, term: str) -> float:
    """How telling a term is, always above 0 (Lucene's IDF).

    rank_bm25's IDF is 0 for a term in exactly half the paragraphs and floored near 0
    above that: fine for ranking, useless for measuring how much of a question a passage
    holds in a corpus of a handful of articles.
    """
    df = index.doc_freq(term)
    return math.log(1.0 + (index.size - df + 0.5) / (df + 0.5))


_KINDS = (
    (
        "time",
        re.compile(
            r"^(?:when|(?:in\s+)?(?:what|which)\s+(?:year|years|date|day|month|time|century|"
            r"decade|era|period))\b"
        ),
    ),
    (
        "number",
        re.compile(
            r"^(?:how\s+(?:many|much|long|old|far|large|big|tall|high|often|fast|heavy|deep)|"
            r"(?:what|which)\s+(?:percentage|percent|proportion|number|amount|size|price))\b"
        ),
    ),
    ("name", re.compile(r"^(?:who|whom|whose|where|(?:what|which)\s+(?:person|country|city))\b")),
)


def answer_kind(question: str) -> str:
    """The kind of answer a question's wh-phrase asks for, "" when it does not say."""
    text = question.casefold().lstrip(" \"'(")
    for kind, pattern in _KINDS:
        if pattern.search(text):
            return kind
    return ""


_CONTENT_WORD = re.compile(r"[^\W\d_]{2,}|\d+")


def content_words(text: str) -> frozenset[str]:
    """Lower-cased words as written (no stemming), stop words left out."""
    return frozenset(w for w in _CONTENT_WORD.findall(text.casefold()) if w not in STOP_WORDS)


_WH_WORDS = frozenset("what which who whom whose when where why how".split())
_RAW_WORD = re.compile(r"\w+")


def phrasing(text: str) -> tuple[str, ...]:
    """A question's words as typed, stop words kept: its phrasing, which SQuAD-style and
    everyday questions often borrow from the sentence that answers them."""
    return tuple(w for w in _RAW_WORD.findall(text.casefold()) if w not in _WH_WORDS)


@lru_cache(maxsize=1024)
def raw_pairs(text: str) -> frozenset[str]:
    """Adjacent words of a text as typed, stop words kept ("protects against")."""
    words = _RAW_WORD.findall(text.casefold())
    return frozenset(f"{a} {b}" for a, b in zip(words, words[1:], strict=False))


@lru_cache(maxsize=1024)
def word_pairs(text: str) -> frozenset[str]:
    """Adjacent content words ("nobel prize"), stop words skipped, as typed."""
    words = [w for w in _CONTENT_WORD.findall(text.casefold()) if w not in STOP_WORDS]
    return frozenset(f"{a} {b}" for a, b in zip(words, words[1:], strict=False))


def analyze(question: str, index: SearchIndex) -> Query:
    """Terms of the question, hyphen joins the corpus never uses dropped, misspellings fixed.

    A term no paragraph holds either is a near miss of a corpus word (edit distance 1, or
    2 for long words) and is read as that word, or stays missing and counts against
    answering at all.
    """
    text = strip_framing(question)
    terms = tokenize_question(text)
    unjoined = set(tokenize_question(text.replace("-", " ")))
    unseen_idf = math.log(1.0 + (index.size + 0.5) / 0.5)
    kept: list[str] = []
    corrected: dict[str, str] = {}
    missing_mass = 0.0
    seen: set[str] = set()
    for term in terms:
        if index.doc_freq(term) == 0 and term not in unjoined:
            continue  # "africanamerican" from "African-Americans": its parts are searched
        first = term not in seen
        seen.add(term)
        if index.doc_freq(term) > 0:
            kept.append(term)
            continue
        fix = corrected.get(term) or _near_miss(term, index)
        if fix:
            corrected[term] = fix
            kept.append(fix)
        elif first:
            missing_mass += unseen_idf
    weights = {t: evidence_idf(index, t) for t in kept}
    total = sum(weights.values()) + missing_mass
    missing = missing_mass / total if total > 0 else 0.0
    unknown_names = {t for t in _name_terms(text) if t in seen and t not in corrected}
    named = sum(unseen_idf for t in unknown_names if index.doc_freq(t) == 0)
    return Query(
        tuple(kept),
        weights,
        missing,
        total,
        corrected,
        answer_kind(text),
        content_words(text),
        word_pairs(text),
        missing_name=named / total if total > 0 else 0.0,
        missing_word=unseen_idf / total if missing_mass and total > 0 else 0.0,
        phrasing=phrasing(text),
    )


_NAME = re.compile(r"(?<=[\w,;:] )[A-Z][\w'\u2019-]*")


def _name_terms(text: str) -> set[str]:
    """Terms of the capitalised words past the first: the names a question asks about."""
    return {t for name in _NAME.findall(text) for t in tokenize_question(name)}


def _near_miss(term: str, index: SearchIndex) -> str:
    """The corpus term one or two edits away, else one that extends it by a suffix
    Snowball keeps ("react" -> "reaction"); the most common on a tie; or ""."""
    if len(term) < 5 or not term.isalpha():
        return ""
    limit = 2 if len(term) >= 8 else 1
    vocabulary = _vocabulary(index)
    found = process.extractOne(
        term, vocabulary.by_frequency, scorer=Levenshtein.distance, score_cutoff=limit
    )
    if found:
        return str(found[0])
    start = bisect.bisect_left(vocabulary.alphabetical, term)
    longer = []
    for word in vocabulary.alphabetical[start : start + 50]:
        if not word.startswith(term):
            break
        if len(word) - len(term) <= 4:
            longer.append(word)
    return min(longer, key=vocabulary.rank.__getitem__) if longer else ""


@dataclass(frozen=True)
class _Vocabulary:
    by_frequency: list[str]  # alphabetic corpus terms, most common first
    alphabetical: list[str]
    rank: dict[str, int]  # position in by_frequency


_VOCABULARIES: dict[int, tuple[SearchIndex, _Vocabulary]] = {}


def _vocabulary(index: SearchIndex) -> _Vocabulary:
    """The corpus vocabulary for spelling look-ups, built once per loaded index."""
    cached = _VOCABULARIES.get(id(index))
    if cached and cached[0] is index:
        return cached[1]
    df = np.diff(index.bm25.indptr)
    order = np.argsort(-df, kind="stable")
    words = [index.terms[i] for i in order.tolist() if df[i] > 0 and index.terms[i].isalpha()]
    vocabulary = _Vocabulary(words, sorted(words), {w: i for i, w in enumerate(words)})
    if len(_VOCABULARIES) > 4:
        _VOCABULARIES.clear()
    _VOCABULARIES[id(index)] = (index, vocabulary)
    return vocabulary


_SURFACE_WORD = re.compile(r"[^\W_][\w'\u2019-]*")


def unknown_words(question: str, index: SearchIndex) -> list[str]:
    """Words of the question that no article holds, nor anything one or two edits away."""
    unknown = []
    for word in _SURFACE_WORD.findall(strip_framing(question)):
        terms = tokenize_question(word)
        if terms and all(index.doc_freq(t) == 0 and not _near_miss(t, index) for t in terms):
            unknown.append(word)
    return unknown
