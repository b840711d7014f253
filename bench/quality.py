"""Answer quality on public question sets, against plain BM25 measured in the same run.

    .venv/bin/python bench/quality.py                  # everything (about 10 minutes)
    .venv/bin/python bench/quality.py --quick 2000     # the first 2,000 questions of each

Every question goes through the same ``Answerer`` the bot uses, on a corpus written as the
bot would read it (one Markdown article per SQuAD title, its contexts as paragraphs):

* SQuAD v1.1 dev, all questions: hit@1 / hit@3 (a cited passage is the question's own
  context, matched by text) and the share declined; plain ``rank_bm25.BM25Okapi`` over
  the same contexts (lower-cased words, stop words removed) for comparison;
* leave-articles-out: only the even-numbered articles indexed, every question asked;
  declined when the question's article is absent, and when it is present;
* SQuAD v2.0 (the half in ../shared/eval/squad): declined among unanswerable and among
  answerable questions;
* ../shared/eval/dev.jsonl on the bundled corpus, and the same questions wrapped in chat
  framing ("hey, quick question: ...", "... thanks!"), which must get the same answer.

The answer model was fitted on SQuAD v1.1 by bench/fit_answer_model.py, which prints the
cross-validated figures (each article's questions scored by a model that never saw it);
the figures here use the shipped model, fitted on all 48 articles.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import squad  # noqa: E402

from bot.answer import Answer, Answerer  # noqa: E402
from bot.evaluate import evaluate, load_cases  # noqa: E402
from index.analyzer import STOP_WORDS  # noqa: E402
from index.store import IndexStore  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEV = REPO.parent / "shared" / "eval" / "dev.jsonl"
FRAMINGS = (
    "hey, quick question: {q}",
    "{q} thanks!",
    "Could you check: {q}",
    "hi bot, {lower} :thinking_face:",
    "Quick q - {q} Thank you",
)


def answerer_for(corpus: Path, work: Path) -> Answerer:
    store = IndexStore(corpus, work / "index", check_interval=3600)
    store.current()
    return Answerer(store.current)


def cited_contexts(answer: Answer, matcher: squad.ContextMatcher) -> list[int]:
    return [matcher.context_of(c.text, c.article) for c in answer.citations]


def run_squad(data: squad.Squad, limit: int | None, titles: set[str] | None) -> dict[str, float]:
    """hit@1, hit@3 and declines of the bot on the corpus of ``titles`` (default: all)."""
    matcher = squad.ContextMatcher(data)
    questions = data.questions[:limit] if limit else data.questions
    counts = {"present": 0, "absent": 0, "declined_present": 0, "declined_absent": 0}
    counts.update({"hit1": 0, "hit3": 0, "unanswerable": 0, "declined_unanswerable": 0})
    with tempfile.TemporaryDirectory() as tmp:
        squad.write_corpus(data, Path(tmp) / "corpus", titles)
        answerer = answerer_for(Path(tmp) / "corpus", Path(tmp))
        started = time.perf_counter()
        for question in questions:
            answer = answerer.answer(question.text)
            if not question.answerable:
                counts["unanswerable"] += 1
                counts["declined_unanswerable"] += not answer.answered
                continue
            where = "present" if titles is None or question.title in titles else "absent"
            counts[where] += 1
            counts[f"declined_{where}"] += not answer.answered
            cited = cited_contexts(answer, matcher)
            counts["hit1"] += cited[:1] == [question.context]
            counts["hit3"] += question.context in cited[:3]
        took = time.perf_counter() - started
    present = max(counts["present"], 1)
    return {
        "questions": len(questions),
        "hit@1": counts["hit1"] / present,
        "hit@3": counts["hit3"] / present,
        "declined_present": counts["declined_present"] / present,
        "declined_absent": counts["declined_absent"] / max(counts["absent"], 1),
        "declined_unanswerable": counts["declined_unanswerable"] / max(counts["unanswerable"], 1),
        "ms_per_question": 1000 * took / max(len(questions), 1),
    }


_WORD = re.compile(r"\w+")


def plain_bm25(data: squad.Squad, limit: int | None) -> dict[str, float]:
    """rank_bm25.BM25Okapi with its defaults over the contexts: the baseline to beat."""
    from rank_bm25 import BM25Okapi

    def words(text: str) -> list[str]:
        return [w for w in _WORD.findall(text.casefold()) if w not in STOP_WORDS]

    bm25 = BM25Okapi([words(c) for c in data.contexts])
    questions = [q for q in (data.questions[:limit] if limit else data.questions) if q.answerable]
    hit1 = hit3 = 0
    for question in questions:
        scores = bm25.get_scores(words(question.text))
        top = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:3]
        hit1 += top[:1] == [question.context]
        hit3 += question.context in top
    return {"hit@1": hit1 / len(questions), "hit@3": hit3 / len(questions)}


def run_dev(corpus: Path) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        answerer = answerer_for(corpus, Path(tmp))
        report = evaluate(answerer, DEV)
        same = total = 0
        different: list[str] = []
        for case in load_cases(DEV):
            plain = answerer.answer(str(case["q"]))
            for framing in FRAMINGS:
                q = str(case["q"])
                wrapped = framing.format(q=q, lower=q[0].lower() + q[1:])
                answer = answerer.answer(wrapped)
                total += 1
                if _key(answer) == _key(plain):
                    same += 1
                else:
                    different.append(wrapped)
    return {
        "top1": report.top1,
        "top3": report.top3,
        "wrongly_declined": report.false_declines,
        "unanswerable_declined": report.decline_rate,
        "framed_same": same,
        "framed_total": total,
        "framed_different": different,
    }


def _key(answer: Answer) -> tuple[bool, list[str]]:
    return answer.answered, [c.ref for c in answer.citations]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", type=int, default=None, help="questions per set")
    parser.add_argument("--corpus", type=Path, default=REPO / "corpus")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "quality.json")
    args = parser.parse_args()
    v11 = squad.load(squad.V11)
    v20 = squad.load(squad.V20)
    half = {t for i, t in enumerate(v11.titles) if i % 2 == 0}
    results = {
        "squad_v1.1": run_squad(v11, args.quick, None),
        "squad_v1.1_plain_bm25": plain_bm25(v11, args.quick),
        "leave_articles_out": run_squad(v11, args.quick, half),
        "squad_v2.0": run_squad(v20, args.quick, None),
        "dev": run_dev(args.corpus),
    }
    args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    s, p, lo, v2, dev = (results[k] for k in results)
    print("| set | citebot | plain rank_bm25 |")
    print("|---|---|---|")
    print(
        f"| SQuAD v1.1 dev, {s['questions']:,} questions: hit@1 | {s['hit@1']:.1%} | "
        f"{p['hit@1']:.1%} |"
    )
    print(f"| SQuAD v1.1 dev: hit@3 | {s['hit@3']:.1%} | {p['hit@3']:.1%} |")
    print(f"| SQuAD v1.1 dev: declined | {s['declined_present']:.1%} | never declines |")
    print(f"| leave-articles-out: declined, article absent | {lo['declined_absent']:.1%} | - |")
    print(f"| leave-articles-out: declined, article present | {lo['declined_present']:.1%} | - |")
    print(f"| SQuAD v2.0 (half): declined, unanswerable | {v2['declined_unanswerable']:.1%} | - |")
    print(f"| SQuAD v2.0 (half): declined, answerable | {v2['declined_present']:.1%} | - |")
    print(f"| dev.jsonl: top-1 / top-3 | {dev['top1']:.0%} / {dev['top3']:.0%} | - |")
    print(f"| dev.jsonl: unanswerable declined | {dev['unanswerable_declined']:.0%} | - |")
    print(
        f"| dev.jsonl in chat framing: same answer | {dev['framed_same']} of "
        f"{dev['framed_total']} | - |"
    )
    for wrapped in dev["framed_different"]:  # type: ignore[attr-defined]
        print(f"  differs: {wrapped}")


if __name__ == "__main__":
    main()
