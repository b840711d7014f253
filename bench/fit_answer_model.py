"""Fit the answer model (bot/answer_model.json) on SQuAD v1.1 with article-wise cross-validation.

    .venv/bin/python bench/fit_answer_model.py               # fit, report, write the model
    .venv/bin/python bench/fit_answer_model.py --sweep-k1    # first-stage hit rates by k1

Every figure printed is cross-validated: the 48 articles are split into 6 folds, and each
fold's questions are scored by models fitted on the other 5 folds' articles only.  The
model written at the end is fitted on all of them.  The project's dev questions are never
used here.

Three corpora are indexed: all 48 articles (every question's article present), and each
half (even / odd articles), where half the questions have their article absent.  The
ranker learns from the full corpus which of the BM25 candidates is the question's own
paragraph; the decision learns from the halves whether the best candidate answers at all.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import squad  # noqa: E402

from bot.evidence import CANDIDATE_FEATURES, attainable_score, candidates, gather_all  # noqa: E402
from bot.query import analyze  # noqa: E402
from bot.ranker import (  # noqa: E402
    DECISION_FEATURES,
    MODEL_PATH,
    AnswerModel,
    Linear,
    decision_vector,
)
from index import bm25  # noqa: E402
from index.store import SearchIndex, build_index  # noqa: E402

CANDIDATES = 30
FOLDS = 6
L2 = 1e-3
SHARE = DECISION_FEATURES.index("share")  # filled in once the ranker has scored

# The signs the weights may take.  Left free, collinear features trade opposite signs
# (sentence coverage up, coverage x sentence down), which fits SQuAD and breaks on corpora
# unlike it: with a two-word question every share is 0 or 1 and the trade decides.  So
# more of the question in a passage may only count for it, and a word no article has
# only against answering; lengths and counts go either way.
FREE = frozenset(
    {
        "log_length",
        "log_sentence_length",
        "score_vs_article_best",
        "log_article_candidates",
        "log_terms",
    }
)
AGAINST = frozenset(
    {"missing", "missing_name", "missing_squared", "missing_over_terms", "outweighed"}
)


def sign_bounds(names: tuple[str, ...]) -> list[tuple[float | None, float | None]]:
    return [
        (None, None) if n in FREE else (None, 0.0) if n in AGAINST else (0.0, None) for n in names
    ]


@dataclass
class Asked:
    """One question against one corpus: its candidates' features and which is right."""

    fold: int
    present: bool
    features: np.ndarray  # candidates x CANDIDATE_FEATURES
    decision: np.ndarray  # candidates x DECISION_FEATURES (share column filled later)
    right: np.ndarray  # bool per candidate: the question's own paragraph


def build(data: squad.Squad, folder: Path, titles: set[str] | None) -> SearchIndex:
    corpus = folder / "corpus"
    squad.write_corpus(data, corpus, titles)
    report = build_index(corpus, folder / "index", workers=2)
    return SearchIndex(report.directory)


def ask_all(data: squad.Squad, index: SearchIndex, folds: dict[str, int]) -> list[Asked]:
    matcher = squad.ContextMatcher(data)
    context_of = [
        matcher.context_of(index.passage(i).text, index.article_of(i).id) for i in range(index.size)
    ]
    present_titles = {data.context_title[c] for c in context_of if c >= 0}
    k1 = index.bm25.k1
    asked = []
    for question in data.questions:
        if not question.answerable:
            continue
        query = analyze(question.text, index)
        hits = index.search(list(query.terms), CANDIDATES) if query.terms else []
        if not hits:
            features = np.zeros((0, len(CANDIDATE_FEATURES)))
            decision = np.zeros((0, len(DECISION_FEATURES)))
            right = np.zeros(0, bool)
        else:
            attainable = attainable_score(query, index.idf, k1)
            evidence = gather_all(query, candidates(index, hits), attainable)
            features = np.asarray([e.vector() for e in evidence])
            decision = np.asarray([decision_vector(e, 0.0, query) for e in evidence])
            right = np.asarray([context_of[p] == question.context for p, _ in hits])
        asked.append(
            Asked(
                folds[question.title], question.title in present_titles, features, decision, right
            )
        )
    return asked


def fit_standardiser(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = rows.mean(axis=0)
    scale = rows.std(axis=0)
    return mean, np.where(scale > 1e-9, scale, 1.0)


def fit_ranker(asked: list[Asked]) -> Linear:
    """Conditional logit: the softmax over each question's candidates picks its paragraph."""
    usable = [a for a in asked if a.right.any()]
    mean, scale = fit_standardiser(np.vstack([a.features for a in usable]))
    width = len(CANDIDATE_FEATURES)
    padded = np.zeros((len(usable), CANDIDATES, width))
    mask = np.zeros((len(usable), CANDIDATES), bool)
    positive = np.zeros(len(usable), int)
    for i, a in enumerate(usable):
        n = len(a.features)
        padded[i, :n] = (a.features - mean) / scale
        mask[i, :n] = True
        positive[i] = int(np.argmax(a.right))
    rows = np.arange(len(usable))

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        s = np.where(mask, padded @ w, -np.inf)
        top = s.max(axis=1, keepdims=True)
        e = np.exp(s - top)
        z = e.sum(axis=1, keepdims=True)
        p = e / z
        value = float(np.sum(np.log(z[:, 0]) + top[:, 0] - s[rows, positive]))
        grad = np.einsum("qc,qcf->f", p, padded) - padded[rows, positive].sum(axis=0)
        return value / len(usable) + L2 * float(w @ w), grad / len(usable) + 2 * L2 * w

    result = minimize(
        loss, np.zeros(width), jac=True, method="L-BFGS-B", bounds=sign_bounds(CANDIDATE_FEATURES)
    )
    return Linear(mean, scale, result.x)


def fit_logistic(rows: np.ndarray, labels: np.ndarray) -> Linear:
    mean, scale = fit_standardiser(rows)
    x = (rows - mean) / scale
    y = labels.astype(np.float64)

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = params[:-1], params[-1]
        z = x @ w + b
        value = float(np.sum(np.logaddexp(0.0, z) - y * z)) / len(y) + L2 * float(w @ w)
        p = 1.0 / (1.0 + np.exp(-z))
        g = np.concatenate([x.T @ (p - y) / len(y) + 2 * L2 * w, [np.mean(p - y)]])
        return value, g

    result = minimize(
        loss,
        np.zeros(x.shape[1] + 1),
        jac=True,
        method="L-BFGS-B",
        bounds=[*sign_bounds(DECISION_FEATURES), (None, None)],
    )
    return Linear(mean, scale, result.x[:-1], float(result.x[-1]))


def ranked(asked: Asked, ranker: Linear) -> tuple[np.ndarray, np.ndarray]:
    """Candidate order by the ranker, and the decision rows with their softmax shares."""
    if not len(asked.features):
        return np.zeros(0, int), asked.decision
    scores = ranker(asked.features)
    shares = np.exp(scores - scores.max())
    shares /= shares.sum()
    order = np.lexsort((np.arange(len(scores)), -scores))
    decision = asked.decision.copy()
    decision[:, SHARE] = shares
    return order, decision


def hit_at(asked: list[Asked], orders: list[np.ndarray], k: int) -> float:
    hits = sum(bool(a.right[o[:k]].any()) for a, o in zip(asked, orders, strict=True))
    return hits / len(asked)


def cross_validate(
    full: list[Asked], halves: list[Asked]
) -> tuple[list[np.ndarray], list[np.ndarray], list[float], list[float], list[list[float]]]:
    """Out-of-fold orders, and out-of-fold decision probabilities (top, and every
    candidate of the full corpus, for the citation threshold)."""
    full_orders: list[np.ndarray] = [np.zeros(0, int)] * len(full)
    full_conf: list[float] = [0.0] * len(full)
    half_conf: list[float] = [0.0] * len(halves)
    full_each: list[list[float]] = [[] for _ in full]
    half_orders: list[np.ndarray] = [np.zeros(0, int)] * len(halves)
    for fold in range(FOLDS):
        ranker = fit_ranker([a for a in full if a.fold != fold])
        rows, labels = [], []
        for a in halves:
            if a.fold != fold and len(a.features):
                order, decision = ranked(a, ranker)
                rows.append(decision[order[0]])
                labels.append(a.present)
        decide = fit_logistic(np.asarray(rows), np.asarray(labels))
        for i, a in enumerate(full):
            if a.fold == fold:
                order, decision = ranked(a, ranker)
                full_orders[i] = order
                probs = _prob(decide(decision)) if len(order) else np.zeros(0)
                full_conf[i] = float(probs[order[0]]) if len(order) else 0.0
                full_each[i] = [float(probs[j]) for j in order]
        for i, a in enumerate(halves):
            if a.fold == fold:
                order, decision = ranked(a, ranker)
                half_orders[i] = order
                half_conf[i] = float(_prob(decide(decision[order[:1]]))[0]) if len(order) else 0.0
    return full_orders, half_orders, full_conf, half_conf, full_each


def _prob(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def sweep_k1(data: squad.Squad, folds: dict[str, int]) -> None:
    for k1, b in (
        (0.5, 0.75),
        (0.7, 0.75),
        (0.9, 0.75),
        (1.2, 0.75),
        (1.5, 0.75),
        (0.7, 0.5),
        (0.7, 0.9),
        (0.9, 0.9),
    ):
        bm25.K1, bm25.B = k1, b
        with tempfile.TemporaryDirectory() as tmp:
            asked = ask_all(data, build(data, Path(tmp), None), folds)
        orders = [np.arange(len(a.right)) for a in asked]
        print(
            f"k1 {k1} b {b}: BM25 hit@1 {hit_at(asked, orders, 1):.1%} "
            f"hit@3 {hit_at(asked, orders, 3):.1%} hit@30 {hit_at(asked, orders, 30):.1%}"
        )


def gather(data: squad.Squad, folds: dict[str, int]) -> tuple[list[Asked], list[Asked]]:
    """Every question's candidates: against all articles, and against each half."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        full = ask_all(data, build(data, Path(tmp) / "full", None), folds)
        halves: list[Asked] = []
        for parity in (0, 1):
            titles = {t for i, t in enumerate(data.titles) if i % 2 == parity}
            halves += ask_all(data, build(data, Path(tmp) / f"half{parity}", titles), folds)
    took = time.perf_counter() - started
    print(f"features for {len(full)} + {len(halves)} questions in {took:.0f} s")
    return full, halves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, default=squad.V11)
    parser.add_argument("--sweep-k1", action="store_true")
    # The share of present-article questions declined in the halves.  Each point lower
    # answers more of them and declines fewer absent-article ones: 1.75 % keeps both of
    # issue 9's limits (>= 75 % absent declined, <= 3 % present) with room, cross-validated.
    parser.add_argument("--max-declined", type=float, default=0.0175)
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    parser.add_argument(
        "--cache", type=Path, help="keep the gathered features in this file and reuse them"
    )
    args = parser.parse_args()
    data = squad.load(args.squad)
    folds = {title: i % FOLDS for i, title in enumerate(data.titles)}
    if args.sweep_k1:
        sweep_k1(data, folds)
        return
    if args.cache and args.cache.exists():
        full, halves = pickle.loads(args.cache.read_bytes())
    else:
        full, halves = gather(data, folds)
        if args.cache:
            args.cache.write_bytes(pickle.dumps((full, halves)))

    bm25_orders = [np.arange(len(a.right)) for a in full]
    orders, _, full_conf, half_conf, full_each = cross_validate(full, halves)
    print(
        f"first stage (BM25 k1={bm25.K1}): hit@1 {hit_at(full, bm25_orders, 1):.1%} "
        f"hit@3 {hit_at(full, bm25_orders, 3):.1%} hit@30 {hit_at(full, bm25_orders, 30):.1%}"
    )
    print(
        f"reranked, cross-validated: hit@1 {hit_at(full, orders, 1):.1%} "
        f"hit@3 {hit_at(full, orders, 3):.1%}"
    )

    present = np.asarray([c for c, a in zip(half_conf, halves, strict=True) if a.present])
    absent = np.asarray([c for c, a in zip(half_conf, halves, strict=True) if not a.present])
    full_c = np.asarray(full_conf)
    print("threshold | full corpus declined | half: present declined | absent declined")
    for t in np.quantile(present, [0.01, 0.015, 0.02, 0.025, 0.03, 0.05, 0.1]):
        print(
            f"{t:.4f} | {np.mean(full_c < t):.1%} | {np.mean(present < t):.1%} | "
            f"{np.mean(absent < t):.1%}"
        )
    # The leave-articles-out rate is the one promised: at most max_declined of questions
    # whose article is present are declined.
    answer_threshold = float(np.quantile(present, args.max_declined))
    sure_threshold = float(np.quantile(present, 0.05))  # the least sure 5 % get a caveat
    t = answer_threshold
    print(
        f"chosen: decline below {t:.4f} -> full corpus {np.mean(full_c < t):.1%}, "
        f"present {np.mean(present < t):.1%}, absent {np.mean(absent < t):.1%}; "
        f"caveat below {sure_threshold:.4f}"
    )

    print("citation threshold | hit@3 with later citations filtered | citations per answer")
    best_cite = 0.0
    for t in (0.0, 0.02, 0.04, 0.06, 0.08, answer_threshold, 0.3, 0.5):
        kept_hits, counts = 0, []
        for a, o, each in zip(full, orders, full_each, strict=True):
            keep = [j for n, j in enumerate(o[:3]) if n == 0 or each[n] >= t]
            kept_hits += bool(a.right[keep].any()) if keep else 0
            counts.append(len(keep))
        print(f"{t:.3f} | {kept_hits / len(full):.1%} | {np.mean(counts):.2f}")
        if kept_hits / len(full) >= hit_at(full, orders, 3) - 0.003:
            best_cite = max(best_cite, t)
    answered = [c >= answer_threshold for c in full_conf]
    end_to_end = [
        (
            bool(a.right[o[:1]].any()),
            bool(a.right[[j for n, j in enumerate(o[:3]) if n == 0 or each[n] >= best_cite]].any()),
        )
        if ok and len(o)
        else (False, False)
        for a, o, each, ok in zip(full, orders, full_each, answered, strict=True)
    ]
    print(
        "end to end, cross-validated (declined questions count as misses): "
        f"hit@1 {np.mean([h1 for h1, _ in end_to_end]):.1%}, "
        f"hit@3 {np.mean([h3 for _, h3 in end_to_end]):.1%}, "
        f"declined {1 - np.mean(answered):.1%}"
    )

    ranker = fit_ranker(full)
    rows, labels = [], []
    for a in halves:
        if len(a.features):
            order, decision = ranked(a, ranker)
            rows.append(decision[order[0]])
            labels.append(a.present)
    decide = fit_logistic(np.asarray(rows), np.asarray(labels))
    model = AnswerModel(ranker, decide, answer_threshold, sure_threshold, best_cite)
    args.out.write_text(json.dumps(model.as_json(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out} (citation threshold {best_cite:.3f})")
    for name, w in zip(CANDIDATE_FEATURES, ranker.weights, strict=True):
        print(f"  ranker {name}: {w:+.3f}")
    for name, w in zip(DECISION_FEATURES, decide.weights, strict=True):
        print(f"  decision {name}: {w:+.3f}")


if __name__ == "__main__":
    main()
