"""How well citebot reads real news pages: the html-bench pages against their ground truth.

html-bench is the data of the Zyte article-extraction benchmark (181 news and blog pages
with the article text written out by hand; see its README).  This scores what citebot
would index from each page (the paragraphs, headings included, after its boilerplate
filter) with the benchmark's own metric: 4-word shingles of ``\\w+`` tokens, precision,
recall and F1 per page.  In the same run it scores trafilatura alone (``bare_extraction``
with its defaults, its text) so the two can be compared.

Also measured: the share of indexed paragraphs that are boilerplate (under half of their
shingles in the page's ground truth), and the dates: found on how many pages, all ISO,
and none contradicting the date in the page's URL.

    .venv/bin/python bench/extraction.py [--bench ../shared/eval/html-bench] [--json FILE]

Not part of CI: it takes a minute or two.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import trafilatura  # noqa: E402

from index.dates import date_from_url  # noqa: E402
from index.documents import html_article  # noqa: E402
from index.paragraphs import split_paragraphs  # noqa: E402

_TOKEN_RE = re.compile(r"\w+", re.UNICODE)
_ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _tokens(text: str) -> list[str]:
    return _TOKEN_RE.findall(text or "")


def shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    """The benchmark's shingles: every run of ``n`` tokens (one shorter run for a short text)."""
    tokens = _tokens(text)
    return Counter(tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens)


def prf(truth: str, predicted: str) -> tuple[float, float, float]:
    """Precision, recall and F1 of ``predicted`` against ``truth``, by shingle counts."""
    t, p = shingles(truth), shingles(predicted)
    tp = sum((t & p).values())
    fp = sum((p - t).values())
    fn = sum((t - p).values())
    if not p and not t:
        return 1.0, 1.0, 1.0
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def is_boilerplate(paragraph: str, truth_tokens: str, truth_shingles: set[tuple[str, ...]]) -> bool:
    """Under half of the paragraph's shingles are in the ground truth.  A paragraph of
    under four words is judged by whether its words appear in that order in the truth."""
    tokens = _tokens(paragraph)
    if not tokens:
        return True
    if len(tokens) < 4:
        return f" {' '.join(tokens)} " not in truth_tokens
    own = [tuple(tokens[i : i + 4]) for i in range(len(tokens) - 3)]
    return sum(s in truth_shingles for s in own) * 2 < len(own)


def date_agrees(date: str, url: str) -> bool:
    """False when the page's URL carries a date (day or month) the found date contradicts."""
    from_url = date_from_url(url)
    return not from_url or not date or date.startswith(from_url)


@dataclass
class Score:
    f1s: list[float]
    precisions: list[float]
    recalls: list[float]
    empty: int = 0
    paragraphs: int = 0
    boilerplate: int = 0
    dates: int = 0
    iso: int = 0
    contradictions: int = 0
    seconds: float = 0.0

    def row(self, name: str, pages: int) -> str:
        mean = statistics.fmean(self.f1s)
        median = statistics.median(self.f1s)
        under = sum(f < 0.5 for f in self.f1s)
        share = f"{100 * self.boilerplate / self.paragraphs:.1f} %" if self.paragraphs else "-"
        return (
            f"| {name} | {mean:.3f} | {median:.3f} | {statistics.fmean(self.precisions):.3f} | "
            f"{statistics.fmean(self.recalls):.3f} | {under} | {self.empty} | {share} | "
            f"{self.dates}/{pages} ({100 * self.dates / pages:.0f} %) | {self.iso}/{self.dates} | "
            f"{self.contradictions} | {self.seconds:.0f} |"
        )


HEADER = (
    "| extractor | F1 mean | F1 median | precision | recall | pages F1 < 0.5 | empty | "
    "boilerplate paragraphs | date found | ISO | contradicts URL | seconds |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--bench", type=Path, default=REPO.parent / "shared" / "eval" / "html-bench"
    )
    parser.add_argument("--json", type=Path, help="write per-page scores here")
    parser.add_argument("--worst", type=int, default=10, help="list the N worst pages")
    parser.add_argument("--limit", type=int, default=0, help="only the first N pages")
    args = parser.parse_args(argv)
    truth_file = args.bench / "ground-truth.json.gz"
    if not truth_file.exists():
        print(f"extraction: {truth_file} not found (--bench DIR)", file=sys.stderr)
        return 2
    truth: dict[str, dict[str, str]] = json.loads(gzip.decompress(truth_file.read_bytes()))
    ids = sorted(truth)[: args.limit or None]
    ours = Score([], [], [])
    alone = Score([], [], [])
    pages: list[dict[str, object]] = []
    for page_id in ids:
        raw = (args.bench / "html" / f"{page_id}.html.gz").read_bytes()
        html = gzip.decompress(raw).decode("utf-8")
        body, url = truth[page_id]["articleBody"], truth[page_id]["url"]
        truth_tokens = f" {' '.join(_tokens(body))} "
        truth_shingles = set(shingles(body))

        started = time.perf_counter()
        article = html_article(html, article_id=page_id, path=Path(f"{page_id}.html"))
        paragraphs = split_paragraphs(article)
        ours.seconds += time.perf_counter() - started
        texts = [f"{p.heading}\n{p.text}" if p.heading else p.text for p in paragraphs]
        precision, recall, f1 = prf(body, "\n".join(texts))
        ours.f1s.append(f1)
        ours.precisions.append(precision)
        ours.recalls.append(recall)
        ours.empty += not paragraphs
        ours.paragraphs += len(texts)
        junk = [t for t in texts if is_boilerplate(t, truth_tokens, truth_shingles)]
        ours.boilerplate += len(junk)
        if article.date:
            ours.dates += 1
            ours.iso += bool(_ISO_RE.match(article.date))
            ours.contradictions += not date_agrees(article.date, url)

        started = time.perf_counter()
        document = trafilatura.bare_extraction(html, with_metadata=True)
        alone.seconds += time.perf_counter() - started
        text = "" if document is None or isinstance(document, dict) else document.text or ""
        date = "" if document is None or isinstance(document, dict) else document.date or ""
        t_precision, t_recall, t_f1 = prf(body, text)
        alone.f1s.append(t_f1)
        alone.precisions.append(t_precision)
        alone.recalls.append(t_recall)
        alone.empty += not text.strip()
        if date:
            alone.dates += 1
            alone.iso += bool(_ISO_RE.match(date))
            alone.contradictions += not date_agrees(date, url)
        pages.append(
            {
                "id": page_id,
                "url": url,
                "f1": round(f1, 4),
                "precision": round(precision, 4),
                "recall": round(recall, 4),
                "trafilatura_f1": round(t_f1, 4),
                "paragraphs": len(texts),
                "boilerplate": junk,
                "date": article.date,
                "title": article.title,
            }
        )
    print(f"{len(ids)} pages of {args.bench}\n")
    print(HEADER)
    print(ours.row("citebot (trafilatura + citebot's splitter and filter)", len(ids)))
    print(alone.row("trafilatura alone (`bare_extraction`, defaults)", len(ids)))
    worst = sorted(pages, key=lambda p: float(p["f1"]))[: args.worst]  # type: ignore[arg-type]
    if worst:
        print("\nworst pages (citebot F1, trafilatura F1, url):")
        for page in worst:
            print(f"  {page['f1']:.3f} {page['trafilatura_f1']:.3f} {page['url']}")
    if args.json:
        args.json.write_text(json.dumps(pages, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
