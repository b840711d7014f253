"""From a question to an ``Answer``: cited passages, the answering sentence, or a plain "no".

This is the one place that decides what the bot says; every platform renders the same
``Answer``.  The decision to answer at all rests on how much of the question the best
passage covers (weighted by how telling each word is), so a question the articles do not
address is declined instead of being answered with whatever scored highest.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from bot.question import MAX_QUESTION_CHARS, clean_question
from index.analyzer import tokenize, tokenize_question
from index.paragraphs import split_sentences
from index.store import ArticleInfo, Passage, SearchIndex


class Status(str, Enum):
    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    EMPTY = "empty"
    TOO_LONG = "too_long"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class SeeAlso:
    """Another article reporting the same fact in nearly the same words."""

    article: str
    title: str
    source: str
    paragraph: int
    url: str

    @classmethod
    def of(cls, article: ArticleInfo, passage: Passage) -> SeeAlso:
        return cls(article.id, article.display_title, article.source, passage.number, article.url)


@dataclass(frozen=True)
class Citation:
    rank: int
    article: str
    title: str
    source: str
    url: str
    date: str
    paragraph: int
    text: str
    score: float
    heading: str = ""
    highlight: str = ""  # the sentence of this passage that best answers, if any
    also_reported_by: tuple[SeeAlso, ...] = ()

    @classmethod
    def of(
        cls, article: ArticleInfo, passage: Passage, *, rank: int, score: float, highlight: str
    ) -> Citation:
        return cls(
            rank=rank,
            article=article.id,
            title=article.display_title,
            source=article.source,
            url=article.url,
            date=article.date,
            paragraph=passage.number,
            text=passage.text,
            heading=passage.heading,
            score=score,
            highlight=highlight,
        )

    @property
    def ref(self) -> str:
        """How ``/source`` finds this passage again."""
        return f"{self.article}#{self.paragraph}"

    @property
    def link(self) -> str:
        """The article URL, pointing at the cited sentence where the browser supports it."""
        return text_fragment_url(self.url, self.highlight or first_sentence(self.text))

    def as_json(self) -> dict[str, object]:
        return {
            "rank": self.rank,
            "article": self.article,
            "title": self.title,
            "source": self.source,
            "url": self.url,
            "date": self.date,
            "paragraph": self.paragraph,
            "text": self.text,
            "score": round(self.score, 4),
        }


@dataclass(frozen=True)
class Answer:
    question: str
    status: Status
    citations: tuple[Citation, ...] = ()
    detail: str = ""  # why there is no answer, for the renderers to phrase
    offset: int = 0  # how many passages earlier pages already showed ("More passages")
    context: str = ""  # the earlier question this one was read with, if any

    @property
    def answered(self) -> bool:
        return self.status is Status.ANSWERED

    @property
    def highlight(self) -> str:
        return self.citations[0].highlight if self.citations else ""


@dataclass(frozen=True)
class SourceResult:
    article: ArticleInfo
    passages: tuple[Passage, ...]
    paragraph: int | None  # the one asked for, or None for the whole article


def first_sentence(text: str) -> str:
    sentences = split_sentences(text)
    return sentences[0] if sentences else text


def text_fragment_url(url: str, sentence: str) -> str:
    """``url#:~:text=...`` so a browser scrolls to and highlights the cited sentence."""
    if not url or not sentence:
        return url
    words = sentence.split()
    quote = lambda s: urllib.parse.quote(s, safe="")  # noqa: E731  (also escapes , - &)
    if len(words) <= 8:
        directive = quote(" ".join(words))
    else:  # a start and an end are sturdier than the whole sentence
        directive = f"{quote(' '.join(words[:4]))},{quote(' '.join(words[-4:]))}"
    base = url.split("#", 1)[0]
    return f"{base}#:~:text={directive}"


def _content_terms(text: str) -> set[str]:
    return set(tokenize(text))


@dataclass
class AnswerPolicy:
    """Knobs of the answer decision, calibrated on the dev set (``citebot eval``)."""

    top_k: int = 3
    candidates: int = 30
    min_coverage: float = 0.5  # share of the question's IDF weight the best passage holds
    min_score: float = 0.5  # BM25 score of the best passage
    duplicate_overlap: float = 0.6  # word overlap at which two passages report one fact
    context_weight: float = 0.5  # how much an earlier question in the thread counts


@dataclass
class Answerer:
    """Answers questions from whatever index ``index`` returns when asked (it may rebuild)."""

    index: Callable[[], SearchIndex]
    policy: AnswerPolicy = field(default_factory=AnswerPolicy)

    def _validate(self, raw: str) -> tuple[str, Answer | None]:
        if len(raw) > MAX_QUESTION_CHARS * 4:
            return "", Answer("", Status.TOO_LONG, detail=str(len(raw)))
        question = clean_question(raw)
        if not question or not tokenize(question):
            return question, Answer(question, Status.EMPTY)
        if len(question) > MAX_QUESTION_CHARS:
            return question, Answer(question[:200], Status.TOO_LONG, detail=str(len(question)))
        return question, None

    def answer(self, raw_question: str, *, context: str = "", offset: int = 0) -> Answer:
        question, refusal = self._validate(raw_question)
        if refusal:
            return refusal
        index = self.index()
        terms = tokenize_question(question)
        context_terms = (
            [t for t in tokenize_question(clean_question(context)) if t not in terms]
            if context
            else []
        )
        weights = {t: index.idf(t) for t in terms}
        weights.update({t: index.idf(t) * self.policy.context_weight for t in context_terms})
        hits = index.search(terms + context_terms, self.policy.candidates)
        if not hits:
            return Answer(question, Status.NO_ANSWER, detail="no passage matched", context=context)
        hits, coverage = _rerank_by_coverage(index, hits, weights)
        unknown = unknown_names(question, index)
        if unknown:
            detail = f"the articles never mention {', '.join(unknown)}"
        elif hits[0][1] < self.policy.min_score or coverage < self.policy.min_coverage:
            detail = f"the best passage covers {coverage:.0%} of the question"
        else:
            detail = ""
        if detail:
            return Answer(question, Status.NO_ANSWER, detail=detail, context=context)
        citations = self._citations(index, hits, weights)
        window = citations[offset : offset + self.policy.top_k]
        page = tuple(_renumber(c, offset + n) for n, c in enumerate(window, start=1))
        if not page:
            return Answer(question, Status.NO_ANSWER, detail="no more passages", offset=offset)
        return Answer(question, Status.ANSWERED, page, offset=offset, context=context)

    def search(self, raw_terms: str, k: int = 5) -> Answer:
        """Ranked passages for key words, with no answer decision (``/search``)."""
        question, refusal = self._validate(raw_terms)
        if refusal:
            return refusal
        index = self.index()
        terms = tokenize(question)
        hits = index.search(terms, k * 3)
        weights = {t: index.idf(t) for t in terms}
        citations = tuple(self._citations(index, hits, weights)[:k])
        status = Status.ANSWERED if citations else Status.NO_ANSWER
        return Answer(question, status, citations)

    def source(self, reference: str) -> SourceResult | None:
        """An article, or one paragraph of it, from ``ARTICLE`` or ``ARTICLE#N``."""
        index = self.index()
        ref, _, number = reference.strip().partition("#")
        article = index.find_article(ref)
        if article is None:
            return None
        passages = tuple(index.passages_of(article.id))
        if not number:
            return SourceResult(article, passages, None)
        if not number.isdigit() or not 1 <= int(number) <= len(passages):
            return SourceResult(article, (), int(number) if number.isdigit() else -1)
        return SourceResult(article, (passages[int(number) - 1],), int(number))

    def _citations(
        self, index: SearchIndex, hits: list[tuple[int, float]], weights: dict[str, float]
    ) -> list[Citation]:
        """Citations best first, near-duplicates folded into "also reported by"."""
        cited = CitationList(self.policy.duplicate_overlap)
        for position, score in hits:
            passage = index.passage(position)
            article = index.article_of(position)
            terms = _content_terms(passage.text)
            if cited.repeats(article, passage, terms):
                continue
            cited.add(
                Citation.of(
                    article,
                    passage,
                    rank=len(cited) + 1,
                    score=score,
                    highlight=best_sentence(passage.text, weights),
                ),
                terms,
            )
        return cited.citations


class CitationList:
    """Citations in order; a passage repeating an earlier one in nearly the same words
    is noted on it as "also reported by" instead of being cited again."""

    def __init__(self, overlap: float) -> None:
        self.overlap = overlap
        self._kept: list[tuple[Citation, set[str]]] = []

    def __len__(self) -> int:
        return len(self._kept)

    @property
    def citations(self) -> list[Citation]:
        return [c for c, _ in self._kept]

    def repeats(self, article: ArticleInfo, passage: Passage, terms: set[str]) -> bool:
        """True if an earlier citation says the same (then noted on it, once per article)."""
        for i, (earlier, seen) in enumerate(self._kept):
            if _overlap(terms, seen) < self.overlap:
                continue
            if earlier.article != article.id and all(
                s.article != article.id for s in earlier.also_reported_by
            ):
                also = SeeAlso.of(article, passage)
                self._kept[i] = (
                    _with(earlier, also_reported_by=(*earlier.also_reported_by, also)),
                    seen,
                )
            return True
        return False

    def add(self, citation: Citation, terms: set[str]) -> None:
        self._kept.append((citation, terms))


_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w'-]*[a-z][\w'-]*\b")


def unknown_names(question: str, index: SearchIndex) -> list[str]:
    """Capitalised names in the question (not its first word) that no article mentions.

    A question about someone or somewhere the corpus never names cannot be answered
    from it, however well its other words match.
    """
    names = []
    for match in _NAME.finditer(question.strip()):
        terms = tokenize(match.group())
        if terms and all(index.doc_freq(t) == 0 for t in terms):
            names.append(match.group())
    return names


def _with(citation: Citation, **changes: object) -> Citation:
    from dataclasses import replace

    return replace(citation, **changes)  # type: ignore[arg-type]


def _renumber(citation: Citation, rank: int) -> Citation:
    return _with(citation, rank=rank)


def _rerank_by_coverage(
    index: SearchIndex, hits: list[tuple[int, float]], weights: dict[str, float]
) -> tuple[list[tuple[int, float]], float]:
    """Order candidates by BM25 tempered by how much of the question each one holds.

    BM25 alone lets one rare word outweigh the rest of the question; a passage that
    holds more of it reads as the better answer.  A one-line passage ("All eyes are on
    Avocado.") matches short questions well but rarely answers them, so passages under
    about twenty words are slightly discounted.  Returns the best one's coverage too.
    """
    rated = []
    for position, score in hits:
        passage = index.passage(position)
        terms = tokenize(f"{passage.heading}\n{passage.text}")
        coverage = _coverage(weights, set(terms))
        brevity = min(1.0, (len(terms) / 20) ** 0.5)
        rated.append((score * (0.5 + 0.5 * coverage) * brevity, coverage, position, score))
    rated.sort(key=lambda r: (-r[0], r[2]))
    return [(position, score) for _, _, position, score in rated], rated[0][1]


def _coverage(weights: dict[str, float], present: set[str]) -> float:
    total = sum(weights.values())
    if total <= 0:
        return 1.0 if any(t in present for t in weights) else 0.0
    return sum(w for t, w in weights.items() if t in present) / total


def _overlap(a: set[str], b: set[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


_LIST_MARKER = re.compile(r"^-\s+")


def best_sentence(text: str, weights: dict[str, float]) -> str:
    """The sentence holding most of the question's weight; "" when none holds any.

    Ties go to a real sentence over a list fragment, then to the shorter (more specific).
    """
    best, best_key = "", (0.0, False, 0)
    for sentence in split_sentences(text):
        present = set(tokenize(sentence))
        weight = round(sum(w for t, w in weights.items() if t in present), 9)
        if weight <= 0:
            continue
        whole = not _LIST_MARKER.match(sentence) and len(sentence.split()) >= 6
        key = (weight, whole, -len(sentence))
        if key > best_key:
            best, best_key = sentence, key
    return _LIST_MARKER.sub("", best)
