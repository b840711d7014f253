"""The build's tokenising on real news: the compiled path against ``analyzer.tokenize``.

The scale benchmark's generated text is all plain words, so it says nothing of numbers,
money, tickers or curly quotes.  This takes the article texts of html-bench (181 real
news and blog pages, the ground truth of the extraction benchmark), one paragraph a
line, and (1) checks that the build's term counts for every paragraph are what
``analyzer.tokenize`` gives, (2) times both, in one process, each round after a warm-up
(the analyzer's stems cached, the build's token table filled).

    .venv/bin/python bench/tokenising.py [--bench ../shared/eval/html-bench]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from index.analyzer import tokenize  # noqa: E402
from index.tokenising import _term_counts, _vocabulary, named_counts  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bench", type=Path, default=Path("../shared/eval/html-bench"))
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    truth = json.loads(gzip.decompress((args.bench / "ground-truth.json.gz").read_bytes()))
    articles = [
        [line for line in page["articleBody"].split("\n") if line.strip()]
        for page in truth.values()
        if page.get("articleBody")
    ]
    paragraphs = sum(map(len, articles))
    state = _vocabulary("bench", b"", compiled=True)
    local = state.local
    differ = 0
    for texts in articles:
        counts = named_counts(*_term_counts(texts, state), local)
        differ += sum(c != Counter(tokenize(t)) for c, t in zip(counts, texts, strict=True))
    ours, theirs = [], []
    for _ in range(args.rounds):
        started = time.perf_counter()
        for texts in articles:
            _term_counts(texts, state)
        ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        for texts in articles:
            for text in texts:
                np.fromiter(map(local.__getitem__, tokenize(text)), np.int64)
        theirs.append(time.perf_counter() - started)
    print(
        f"{len(articles)} articles, {paragraphs} paragraphs; term counts differing "
        f"from tokenize's: {differ}"
    )
    print(
        f"build's tokenising {min(ours) / paragraphs * 1e6:.1f} µs a paragraph, "
        f"tokenize {min(theirs) / paragraphs * 1e6:.1f} µs (best of {args.rounds} rounds)"
    )
    if differ:
        sys.exit(1)


if __name__ == "__main__":
    main()
