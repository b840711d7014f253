"""The fitted answer model: how candidates are reordered and when to answer at all.

Both parts are small linear models over ``bot.evidence`` features, fitted by
``bench/fit_answer_model.py`` with article-wise cross-validation on SQuAD v1.1 (never on
the project's dev questions) and stored in ``answer_model.json`` beside this file:

* the *ranker* scores each of the BM25 candidates; its softmax over them is how sure it
  is that a candidate is the answering passage;
* the *decision* turns one candidate's evidence into the probability that the articles
  answer the question there.  Below ``answer_threshold`` the bot declines; between it
  and ``sure_threshold`` it answers with a caveat; a passage after the first is cited
  only above ``cite_threshold``, so no citation fills a quota.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from bot.evidence import CANDIDATE_FEATURES, Evidence
from bot.query import Query

MODEL_PATH = Path(__file__).with_name("answer_model.json")

# Everything the ranker sees of the passage, plus how it stands among the candidates and
# how much of the question no article holds at all.
DECISION_FEATURES = (
    *CANDIDATE_FEATURES,
    "share",
    "missing",
    "missing_name",
    "log_terms",
    "missing_squared",
    "missing_over_terms",
    "outweighed",
)


def decision_vector(evidence: Evidence, share: float, query: Query) -> list[float]:
    """Evidence for "this passage answers the question", whatever its rank."""
    terms = len(set(query.terms)) + (query.missing > 0)
    return [
        *evidence.vector(),
        share,
        query.missing,
        query.missing_name,
        math.log1p(terms),
        # A word the articles lack weighs more in a short question than in a long one.
        query.missing**2,
        query.missing / max(terms, 1),
        # The passage holds less of the question than one word no article has at all.
        1.0 if query.missing_word > evidence.coverage else 0.0,
    ]


@dataclass(frozen=True)
class Linear:
    """``w . (x - mean) / scale + bias``: features standardised as they were in fitting."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float = 0.0

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        return ((rows - self.mean) / self.scale) @ self.weights + self.bias

    def as_json(self) -> dict[str, object]:
        return {
            "mean": self.mean.round(6).tolist(),
            "scale": self.scale.round(6).tolist(),
            "weights": self.weights.round(6).tolist(),
            "bias": round(self.bias, 6),
        }

    @classmethod
    def from_json(cls, data: dict[str, object], width: int) -> Linear:
        mean, scale, weights = (
            np.asarray(data[k], np.float64) for k in ("mean", "scale", "weights")
        )
        if any(a.shape != (width,) for a in (mean, scale, weights)):
            raise ValueError(f"expected {width} weights")
        return cls(mean, scale, weights, float(data.get("bias", 0.0)))  # type: ignore[arg-type]


@dataclass(frozen=True)
class AnswerModel:
    ranker: Linear
    decision: Linear
    answer_threshold: float
    sure_threshold: float
    cite_threshold: float

    def rank(self, evidence: list[Evidence]) -> tuple[np.ndarray, np.ndarray]:
        """Ranker scores and their softmax shares over the candidates."""
        scores = self.ranker(np.asarray([e.vector() for e in evidence], np.float64))
        shares = np.exp(scores - scores.max())
        return scores, shares / shares.sum()

    def confidence(self, evidence: Evidence, share: float, query: Query) -> float:
        """Probability that this passage answers the question."""
        return float(self.confidences([evidence], np.asarray([share]), query)[0])

    def confidences(self, evidence: list[Evidence], shares: np.ndarray, query: Query) -> np.ndarray:
        """``confidence`` of every candidate at once."""
        rows = np.asarray(
            [decision_vector(e, float(s), query) for e, s in zip(evidence, shares, strict=True)]
        )
        return 1.0 / (1.0 + np.exp(-np.clip(self.decision(rows), -30.0, 30.0)))

    def as_json(self) -> dict[str, object]:
        return {
            "candidate_features": list(CANDIDATE_FEATURES),
            "decision_features": list(DECISION_FEATURES),
            "ranker": self.ranker.as_json(),
            "decision": self.decision.as_json(),
            "answer_threshold": round(self.answer_threshold, 6),
            "sure_threshold": round(self.sure_threshold, 6),
            "cite_threshold": round(self.cite_threshold, 6),
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> AnswerModel:
        if data.get("candidate_features") != list(CANDIDATE_FEATURES) or data.get(
            "decision_features"
        ) != list(DECISION_FEATURES):
            raise ValueError("its features are not the ones this version computes")
        return cls(
            ranker=Linear.from_json(data["ranker"], len(CANDIDATE_FEATURES)),  # type: ignore[arg-type]
            decision=Linear.from_json(data["decision"], len(DECISION_FEATURES)),  # type: ignore[arg-type]
            answer_threshold=float(data["answer_threshold"]),  # type: ignore[arg-type]
            sure_threshold=float(data["sure_threshold"]),  # type: ignore[arg-type]
            cite_threshold=float(data["cite_threshold"]),  # type: ignore[arg-type]
        )


@lru_cache(maxsize=4)
def load_model(path: Path = MODEL_PATH) -> AnswerModel:
    return AnswerModel.from_json(json.loads(path.read_text(encoding="utf-8")))
