"""The daily digest: what is new in the corpus, grouped by story, with cited key passages,
plus what people asked the bot and what it could not answer.  Platform-neutral: the
adapters render a ``Digest`` and post it; ``bot.schedule`` decides when."""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bot.answer import Citation, CitationList, best_sentence
from bot.core import Core
from bot.schedule import DigestSchedule, Subscription, handle_command
from bot.state import State
from index.analyzer import tokenize
from index.paragraphs import split_sentences
from index.store import ArticleInfo, SearchIndex

STORY_SIMILARITY = 0.2  # cosine of TF-IDF vectors at which two articles tell one story
MAX_STORIES = 8
KEY_PASSAGES = 3


@dataclass(frozen=True)
class Story:
    headline: str
    articles: tuple[ArticleInfo, ...]
    passages: tuple[Citation, ...]


@dataclass(frozen=True)
class Digest:
    since: float
    until: float
    stories: tuple[Story, ...] = ()
    top_questions: tuple[tuple[str, int], ...] = ()
    unanswered: tuple[str, ...] = ()
    more_stories: int = 0  # stories left out to keep the post readable

    @property
    def empty(self) -> bool:
        return not self.stories and not self.top_questions and not self.unanswered


def _article_vectors(index: SearchIndex, articles: list[ArticleInfo]) -> np.ndarray:
    """Unit-length TF-IDF vectors of whole articles, over the terms they use."""
    counts = [
        Counter(t for p in index.passages_of(a.id) for t in tokenize(f"{p.heading}\n{p.text}"))
        for a in articles
    ]
    vocabulary = sorted({t for c in counts for t in c})
    position = {t: i for i, t in enumerate(vocabulary)}
    n = max(index.size, 1)
    vectors = np.zeros((len(articles), len(vocabulary)))
    for row, count in enumerate(counts):
        for term, tf in count.items():
            idf = math.log((n + 1) / (index.doc_freq(term) + 1)) + 1
            vectors[row, position[term]] = (1 + math.log(tf)) * idf
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


def group_stories(index: SearchIndex, articles: list[ArticleInfo]) -> list[list[int]]:
    """Articles grouped by story: linked when their texts are similar enough (single link),
    so four reports of one event are one story however their titles differ."""
    if not articles:
        return []
    vectors = _article_vectors(index, articles)
    similarity = vectors @ vectors.T
    parent = list(range(len(articles)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(articles)):
        for j in range(i + 1, len(articles)):
            if similarity[i, j] >= STORY_SIMILARITY:
                parent[root(j)] = root(i)
    groups: dict[int, list[int]] = {}
    for i in range(len(articles)):
        groups.setdefault(root(i), []).append(i)
    return sorted(groups.values(), key=lambda g: (-len(g), g[0]))


def _key_passages(index: SearchIndex, members: list[ArticleInfo]) -> list[Citation]:
    """The paragraphs most central to the story: closest to the story's overall vocabulary,
    preferring different articles, with near-repeats noted as "also reported by"."""
    candidates = [p for a in members for p in index.passages_of(a.id)]
    if not candidates:
        return []
    terms = [Counter(tokenize(f"{p.heading}\n{p.text}")) for p in candidates]
    story = Counter[str]()
    for count in terms:
        story.update(set(count))  # in how many of the story's paragraphs a term appears
    weights = {t: index.idf(t) * df for t, df in story.items() if df > 1}
    scored = []
    for passage, count in zip(candidates, terms, strict=True):
        length = sum(count.values())
        centrality = sum(weights.get(t, 0.0) for t in count) / math.sqrt(max(length, 1))
        # One-liners rarely sum a story up: they come last, but still count when alone.
        scored.append((length >= 12, centrality, passage))
    scored.sort(key=lambda x: (not x[0], -x[1]))
    chosen = CitationList(0.6)
    used_articles: set[str] = set()
    for _, centrality, passage in scored:
        article = index.articles[passage.article_id]
        content = set(tokenize(passage.text))
        if chosen.repeats(article, passage, content):
            continue
        if article.id in used_articles and len(used_articles) < len(members):
            continue  # first one passage from each article, if the story has several
        used_articles.add(article.id)
        chosen.add(
            Citation.of(
                article,
                passage,
                rank=len(chosen) + 1,
                score=centrality,
                highlight=best_sentence(passage.text, weights),
            ),
            content,
        )
        if len(chosen) == KEY_PASSAGES:
            break
    return chosen.citations


def _headline(members: list[ArticleInfo], passages: list[Citation]) -> str:
    titled = [a for a in members if a.title]
    if titled:
        return titled[0].title
    if passages:
        sentences = split_sentences(passages[0].text)
        return sentences[0] if sentences else passages[0].text
    return members[0].display_title


def _normalise_question(question: str) -> str:
    return re.sub(r"[^\w\s]", "", question.casefold()).strip()


def build_digest(
    index: SearchIndex,
    state: State,
    *,
    since: float,
    until: float,
    max_stories: int = MAX_STORIES,
) -> Digest:
    """The digest of what arrived in ``[since, until]``, by when the bot first saw each
    article (a changed article counts as new again)."""
    first_seen = state.note_articles({a.id: a.sha256 for a in index.articles.values()})
    new = [a for a in index.articles.values() if since <= first_seen[a.id] <= until]
    groups = group_stories(index, new)
    stories = []
    for group in groups[:max_stories]:
        members = [new[i] for i in group]
        passages = _key_passages(index, members)
        stories.append(Story(_headline(members, passages), tuple(members), tuple(passages)))
    asked = [r for r in state.questions_since(since) if r.created_at < until and r.question]
    counts: Counter[str] = Counter()
    wording: dict[str, str] = {}
    for record in asked:
        key = _normalise_question(record.question)
        counts[key] += 1
        wording.setdefault(key, record.question)
    top = tuple((wording[k], n) for k, n in counts.most_common(5) if n > 1)
    unanswered: list[str] = []
    for record in asked:
        if not record.answered and record.question not in unanswered:
            unanswered.append(record.question)
    return Digest(
        since=since,
        until=until,
        stories=tuple(stories),
        top_questions=top,
        unanswered=tuple(unanswered[:10]),
        more_stories=max(0, len(groups) - max_stories),
    )


class DigestDesk:
    """Everything the adapters need for digests on one platform: previews, the admin
    command, and the digests due now (empty days skipped unless configured otherwise)."""

    def __init__(
        self, core: Core, state: State, platform: str, clock: Callable[[], float] = time.time
    ) -> None:
        self.core = core
        self.state = state
        self.platform = platform
        self.clock = clock
        self.schedule = DigestSchedule(state, platform, clock, core.settings.digest_lookback_hours)

    def build(self, since: float | None = None, until: float | None = None) -> Digest:
        index = self.core.store.current()
        self.state.note_articles({a.id: a.sha256 for a in index.articles.values()})
        now = self.clock() if until is None else until
        if since is None:
            since = now - self.core.settings.digest_lookback_hours * 3600
        return build_digest(index, self.state, since=since, until=now)

    def preview(self, channel: str) -> Digest:
        """What the channel's next digest would hold if it were posted now."""
        last = self.state.last_digest(self.platform, channel)
        return self.build(since=last[1] if last else None)

    def command(self, channel: str, text: str, user: str = "") -> str:
        return handle_command(self.state, self.platform, channel, text)

    def pending(self) -> list[tuple[Subscription, str, Digest]]:
        due = []
        for sub, slot, since in self.schedule.due():
            digest = self.build(since=since)
            if digest.empty and not self.core.settings.digest_post_empty:
                self.schedule.posted(sub, slot, 0)  # nothing new: this day is done
                continue
            due.append((sub, slot, digest))
        return due

    def posted(self, sub: Subscription, slot: str, digest: Digest) -> None:
        self.schedule.posted(sub, slot, sum(len(s.articles) for s in digest.stories))

    def failed(self, sub: Subscription, slot: str, error: BaseException) -> None:
        self.schedule.failed(sub, slot, error)
