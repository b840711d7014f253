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

from bot.evidence import attainable_score, candidates, gather_all
from bot.query import analyze, unknown_words
from bot.question import MAX_QUESTION_CHARS, clean_question
from bot.ranker import AnswerModel, load_model
from index.analyzer import tokenize
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
    sure: bool = True  # False: the best passage may not answer; shown with a caveat

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
    """Knobs of the answer: how much to show.  When to answer is the fitted model's."""

    top_k: int = 3
    candidates: int = 30  # BM25 candidates the ranker reorders (as it was fitted)
    duplicate_overlap: float = 0.6  # word overlap at which two passages report one fact


@dataclass
class Answerer:
    """Answers questions from whatever index ``index`` returns when asked (it may rebuild)."""

    index: Callable[[], SearchIndex]
    policy: AnswerPolicy = field(default_factory=AnswerPolicy)
    model: AnswerModel = field(default_factory=load_model)

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
        """BM25 candidates, reordered by the fitted ranker, answered only when the fitted
        decision says the best of them answers; later passages only if each stands alone.

        An earlier question (``context``) adds its words to the search, so it helps find
        the paragraph, but the sentence highlighted is chosen by this question's words.
        """
        question, refusal = self._validate(raw_question)
        if refusal:
            return refusal
        index = self.index()
        query = analyze(question, index)
        extra: list[str] = []
        if context:
            extra = [
                t for t in analyze(clean_question(context), index).terms if t not in query.weights
            ]
        hits = (
            index.search(list(query.terms) + extra, self.policy.candidates) if query.terms else []
        )
        if not hits:
            return self._decline(question, index, context)
        attainable = attainable_score(query, index.idf, index.bm25.k1)
        evidence = gather_all(query, candidates(index, hits), attainable)
        scores, shares = self.model.rank(evidence)
        order = sorted(range(len(hits)), key=lambda i: (-scores[i], i))
        every = self.model.confidences(evidence, shares, query)
        confidence = [float(every[i]) for i in order]
        best = evidence[order[0]]
        # Beyond the fitted decision, one guard: when a single word no article has at all
        # weighs more than all the best sentence holds of the question, the passage is
        # about something else ("phone number" is not "number one priority").
        if confidence[0] < self.model.answer_threshold or query.missing_word > best.sentence:
            return self._decline(question, index, context, best.coverage)
        context_weights = {t: index.idf(t) for t in extra}
        picked = [
            (i, c)
            for n, (i, c) in enumerate(zip(order, confidence, strict=True))
            if n == 0 or c >= self.model.cite_threshold
        ]
        citations = self._cite(
            index,
            [(hits[i][0], hits[i][1]) for i, _ in picked],
            query.weights,
            context_weights,
            enough=offset + self.policy.top_k,
        )
        window = citations[offset : offset + self.policy.top_k]
        page = tuple(_renumber(c, offset + n) for n, c in enumerate(window, start=1))
        if not page:
            return Answer(question, Status.NO_ANSWER, detail="no more passages", offset=offset)
        return Answer(
            question,
            Status.ANSWERED,
            page,
            offset=offset,
            context=context,
            sure=confidence[0] >= self.model.sure_threshold,
        )

    def _decline(
        self, question: str, index: SearchIndex, context: str, coverage: float | None = None
    ) -> Answer:
        unknown = unknown_words(question, index)
        if unknown:
            detail = f"the articles never mention {', '.join(unknown)}"
        elif coverage is None:
            detail = "no passage matched"
        else:
            detail = f"the closest passage covers {coverage:.0%} of the question"
        return Answer(question, Status.NO_ANSWER, detail=detail, context=context)

    def search(self, raw_terms: str, k: int = 5) -> Answer:
        """Ranked passages for key words, with no answer decision (``/search``)."""
        question, refusal = self._validate(raw_terms)
        if refusal:
            return refusal
        index = self.index()
        terms = tokenize(question)
        hits = index.search(terms, k * 3)
        weights = {t: index.idf(t) for t in terms}
        citations = tuple(self._cite(index, hits, weights, {})[:k])
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

    def _cite(
        self,
        index: SearchIndex,
        hits: list[tuple[int, float]],
        weights: dict[str, float],
        context_weights: dict[str, float],
        enough: int | None = None,
    ) -> list[Citation]:
        """Citations best first, near-duplicates folded into "also reported by"; the
        passages after the first ``enough`` citations are only read to fold a repeat of
        them (a few more), not to cite."""
        cited = CitationList(self.policy.duplicate_overlap)
        after_enough = 0
        for position, score in hits:
            if enough is not None and len(cited) >= enough:
                after_enough += 1
                if after_enough > FOLD_LOOKAHEAD:
                    break
            passage = index.passage(position)
            article = index.article_of(position)
            terms = _content_terms(passage.text)
            if cited.repeats(article, passage, terms) or after_enough:
                continue
            cited.add(
                Citation.of(
                    article,
                    passage,
                    rank=len(cited) + 1,
                    score=score,
                    highlight=best_sentence(passage.text, weights, context_weights),
                ),
                terms,
            )
        return cited.citations


FOLD_LOOKAHEAD = 3  # passages read past the last citation shown, for "also reported by"


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


def _with(citation: Citation, **changes: object) -> Citation:
    from dataclasses import replace

    return replace(citation, **changes)  # type: ignore[arg-type]


def _renumber(citation: Citation, rank: int) -> Citation:
    return _with(citation, rank=rank)


def _overlap(a: set[str], b: set[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


_LIST_MARKER = re.compile(r"^-\s+")


def best_sentence(
    text: str, weights: dict[str, float], context_weights: dict[str, float] | None = None
) -> str:
    """The sentence holding most of the question's weight; "" when none holds any.

    The earlier question of a thread (``context_weights``) only breaks ties: it must not
    pull the highlight away from what this question asks.  Then a real sentence beats a
    list fragment, then the shorter (more specific) wins.
    """
    context_weights = context_weights or {}
    best, best_key = "", (0.0, 0.0, False, 0)
    for sentence in split_sentences(text):
        present = set(tokenize(sentence))
        weight = round(sum(w for t, w in weights.items() if t in present), 9)
        if weight <= 0:
            continue
        steer = round(sum(w for t, w in context_weights.items() if t in present), 9)
        whole = not _LIST_MARKER.match(sentence) and len(sentence.split()) >= 6
        key = (weight, steer, whole, -len(sentence))
        if key > best_key:
            best, best_key = sentence, key
    return _LIST_MARKER.sub("", best)
