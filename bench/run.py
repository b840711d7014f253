"""Benchmark citebot's index against rank_bm25 on generated news-like corpora.

    .venv/bin/python bench/run.py                       # 10k, 100k and 1M paragraphs
    .venv/bin/python bench/run.py --sizes 10000 --queries 100

For each size it generates a corpus folder (articles of 100 paragraphs, 40-120 words
each, vocabulary drawn from a Zipf distribution), then measures, each in a fresh
process so the figures do not leak into one another:

* citebot: build from the folder (reading, splitting, tokenising and indexing), index
  size on disk, load time, peak memory while building and while serving, and query
  latency (top 10) over a few hundred 3-8 word questions, plus a whole answer (clean,
  search, pick the sentence, render) for each;
* rank_bm25.BM25Okapi on the very same tokens: build time, peak memory, and query
  latency (all queries at 10k, fewer at larger sizes: it scans every paragraph);

and checks that both return the same top 10 (ids, and scores within 1e-6).  It prints
a table and writes everything to ``bench/results.json``.  A script, not a test: timings
on shared machines are noisy, so report ratios measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import report

REPO = Path(__file__).resolve().parent.parent
# --baseline runs the same jobs with an earlier checkout's code (its index/ and bot/).
sys.path.insert(0, os.environ.get("CITEBOT_BENCH_CODE") or str(REPO))

SEED = 20261123
VOCABULARY = 60_000
ZIPF = 1.07
PARAGRAPHS_PER_ARTICLE = 100


def _words() -> list[str]:
    import numpy as np

    rng = np.random.default_rng(SEED)
    syllables = [a + b for a in "bcdfghjklmnprstvz" for b in "aeiou"]
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < VOCABULARY:
        word = "".join(rng.choice(syllables, size=int(rng.integers(2, 5))))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def _zipf_weights(n: int) -> Any:
    import numpy as np

    weights = 1.0 / np.arange(1, n + 1) ** ZIPF
    return weights / weights.sum()


def generate(folder: Path, paragraphs: int) -> None:
    """Articles of news-like paragraphs; kept between runs (a marker file says done)."""
    import numpy as np

    marker = folder / ".complete"
    if marker.exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    words = np.array(_words())
    weights = _zipf_weights(len(words))
    rng = np.random.default_rng(SEED + paragraphs)
    for start in range(0, paragraphs, PARAGRAPHS_PER_ARTICLE):
        count = min(PARAGRAPHS_PER_ARTICLE, paragraphs - start)
        lengths = rng.integers(40, 121, size=count)
        drawn = words[rng.choice(len(words), size=int(lengths.sum()), p=weights)]
        lines, at = [], 0
        for length in lengths:
            chunk = drawn[at : at + length]
            at += length
            lines.append(chunk[0].capitalize() + " " + " ".join(chunk[1:]) + ".")
        article = folder / f"article-{start // PARAGRAPHS_PER_ARTICLE:06d}.txt"
        article.write_text("\n\n".join(lines) + "\n", encoding="utf-8")
    marker.write_text("ok")


def questions(count: int) -> list[str]:
    """3-8 word questions with words drawn like the corpus's (common and rare alike)."""
    import numpy as np

    words = np.array(_words())
    weights = _zipf_weights(len(words))
    rng = np.random.default_rng(SEED - 1)
    return [
        " ".join(words[rng.choice(len(words), size=int(rng.integers(3, 9)), p=weights)])
        for _ in range(count)
    ]


COMMON = 50  # "common words": the 50 most frequent words of the vocabulary


def query_sets(count: int) -> dict[str, list[str]]:
    """The main questions, then questions of other shapes: 2, 10 and 20 words drawn like
    the corpus's, and 3-8 words from the commonest words only (long lists, low IDF)."""
    import numpy as np

    words = np.array(_words())
    weights = _zipf_weights(len(words))
    sets = {"main": questions(count)}
    for n, name in ((2, "2-word"), (10, "10-word"), (20, "20-word")):
        rng = np.random.default_rng(SEED + n)
        sets[name] = [
            " ".join(words[rng.choice(len(words), size=n, p=weights)]) for _ in range(count)
        ]
    rng = np.random.default_rng(SEED + COMMON)
    sets["common"] = [
        " ".join(words[rng.choice(COMMON, size=int(rng.integers(3, 9)))]) for _ in range(count)
    ]
    return sets


def _peak_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024  # Linux reports KiB


def _percentiles(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)

    def pick(q: float) -> float:
        return ms[min(len(ms) - 1, int(round(q * (len(ms) - 1))))]

    return {"p50_ms": pick(0.5), "p95_ms": pick(0.95), "p99_ms": pick(0.99), "n": len(ms)}


# -- the measurements, each run in its own process ------------------------------------------


def job_build(corpus: str, index_dir: str) -> dict[str, Any]:
    import shutil

    from peers import TreePeak

    from index.store import IndexStore

    shutil.rmtree(index_dir, ignore_errors=True)  # a cold build, not an incremental one
    store = IndexStore(Path(corpus), Path(index_dir))
    with TreePeak() as tree:  # the main process and its tokenising workers, summed
        started = time.perf_counter()
        report = store.refresh(force=True)
        seconds = time.perf_counter() - started
    assert report is not None
    size = sum(p.stat().st_size for p in report.directory.iterdir())
    peak = _peak_mb()
    # Then one article more (100 paragraphs, like the others): only it is read and
    # tokenised, the rest is reused.
    extra = Path(corpus) / "zz-one-more.txt"
    extra.write_text(
        "\n\n".join(f"Breaking: update {n} on the story arrived this morning." for n in range(100))
    )
    try:
        started = time.perf_counter()
        grown = store.refresh()
        incremental = time.perf_counter() - started
    finally:
        extra.unlink()
    assert grown is not None and grown.tokenised == 1
    return {
        "build_s": seconds,
        "add_one_s": incremental,
        "index_mb": size / 2**20,
        "build_peak_mb": peak,
        "build_peak_all_mb": tree.peak_mb,
        "paragraphs": grown.paragraphs,
        "terms": grown.terms,
        "directory": str(grown.directory),
    }


def job_serve(directory: str, corpus: str, count: int) -> dict[str, Any]:
    from bot.answer import Answerer
    from bot.render.text import render_answer
    from index.analyzer import tokenize_question
    from index.store import SearchIndex

    started = time.perf_counter()
    index = SearchIndex(Path(directory))
    load = time.perf_counter() - started
    sets = {name: [tokenize_question(q) for q in qs] for name, qs in query_sets(count).items()}
    for terms in sets["main"][:5]:
        index.search(terms, 10)  # first touch of the mapped files (and compiled code)
    shapes = {}
    for name, queries in sets.items():
        times = []
        for terms in queries:
            t = time.perf_counter()
            index.search(terms, 10)
            times.append(time.perf_counter() - t)
        shapes[name] = _percentiles(times)
    answerer = Answerer(lambda: index)
    answer_times = []
    for question in questions(count):
        t = time.perf_counter()
        render_answer(answerer.answer(question))
        answer_times.append(time.perf_counter() - t)
    return {
        "load_s": load,
        "search": shapes["main"],
        "shapes": shapes,
        "answer": _percentiles(answer_times),
        "serve_peak_mb": _peak_mb(),
    }


def job_rank_bm25(directory: str, count: int) -> dict[str, Any]:
    import numpy as np
    from peers import paragraph_tokens
    from rank_bm25 import BM25Okapi

    from index import bm25
    from index.analyzer import tokenize_question

    docs = list(paragraph_tokens(directory))  # the very tokens citebot indexed
    started = time.perf_counter()
    reference = BM25Okapi(docs, k1=bm25.K1, b=bm25.B)
    build = time.perf_counter() - started
    del docs
    asked = questions(count)
    times, tops = [], []
    for question in asked:
        query = tokenize_question(question)
        t = time.perf_counter()
        scores = reference.get_scores(query)
        top = np.argsort(-scores, kind="stable")[:10]
        times.append(time.perf_counter() - t)
        tops.append([(int(i), float(scores[i])) for i in top if scores[i] > 0])
    return {"build_s": build, "search": _percentiles(times), "peak_mb": _peak_mb(), "tops": tops}


def job_peer_build(engine: str, directory: str, target: str) -> dict[str, Any]:
    from peers import build_bm25s, build_tantivy

    from index import bm25

    if engine == "tantivy":
        result = build_tantivy(directory, Path(target))
    else:
        result = build_bm25s(directory, Path(target), bm25.K1, bm25.B)
    return {**result, "build_peak_mb": _peak_mb()}


def job_compare(directory: str, tantivy_dir: str, bm25s_dir: str, count: int) -> dict[str, Any]:
    """citebot, tantivy and bm25s in one process, each question asked of all three in turn."""
    from peers import Peers, rss_mb

    from index.analyzer import tokenize_question
    from index.store import SearchIndex

    before = rss_mb()
    index = SearchIndex(Path(directory))
    rss = {"citebot": rss_mb() - before}
    peers = Peers(Path(tantivy_dir), Path(bm25s_dir))
    rss.update(peers.rss_added)
    engines = {"citebot": index.search, "tantivy": peers.tantivy, "bm25s": peers.bm25s_search}
    sets = {name: [tokenize_question(q) for q in qs] for name, qs in query_sets(count).items()}
    for terms in sets["main"][:5]:  # warm up: first touch of files, compiled code
        for search in engines.values():
            search(terms, 10)
    shapes: dict[str, dict[str, Any]] = {}
    for shape, queries in sets.items():
        times: dict[str, list[float]] = {name: [] for name in engines}
        for terms in queries:
            for name, search in engines.items():
                t = time.perf_counter()
                search(terms, 10)
                times[name].append(time.perf_counter() - t)
        shapes[shape] = {name: _percentiles(ts) for name, ts in times.items()}
    return {"shapes": shapes, "rss_added_mb": rss, "rss_end_mb": rss_mb()}


def job_tops(directory: str, count: int) -> list[list[tuple[int, float]]]:
    from index.analyzer import tokenize_question
    from index.store import SearchIndex

    index = SearchIndex(Path(directory))
    # rank_bm25 numbers the live paragraphs in index order (ids have gaps with deletions)
    place = {pid: n for n, pid in enumerate(index.paragraph_ids())}
    tops = [index.search(tokenize_question(q), 10) for q in questions(count)]
    return [[(place[i], s) for i, s in top] for top in tops]


def _run_job(name: str, *args: Any, code: str | None = None) -> Any:
    env = {**os.environ, "CITEBOT_BENCH_CODE": code} if code else None
    done = subprocess.run(
        [sys.executable, __file__, "--job", name, json.dumps(args)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _same_top10(ours: list[list[Any]], theirs: list[list[Any]]) -> bool:
    for a, b in zip(ours, theirs, strict=False):
        # rank_bm25 breaks ties by position in its argsort; compare by (-score, id).
        b_sorted = sorted(b, key=lambda x: (-x[1], x[0]))
        if [i for i, _ in a] != [i for i, _ in b_sorted]:
            return False
        if any(abs(x[1] - y[1]) > 1e-6 * abs(y[1]) for x, y in zip(a, b_sorted, strict=True)):
            return False
    return True


def bench(size: int, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    corpus = workdir / f"corpus-{size}"
    started = time.perf_counter()
    generate(corpus, size)
    print(f"[{size}] corpus ready ({time.perf_counter() - started:.0f} s)", flush=True)
    result: dict[str, Any] = {"paragraphs": size}
    if args.baseline:  # the earlier code first, on the same corpus and questions
        built = _run_job("build", str(corpus), str(workdir / f"base-{size}"), code=args.baseline)
        served = _run_job(
            "serve", built["directory"], str(corpus), args.queries, code=args.baseline
        )
        result["baseline"] = {**built, **served}
        print(f"[{size}] baseline p50 {served['search']['p50_ms']:.2f} ms", flush=True)
    built = _run_job("build", str(corpus), str(workdir / f"index-{size}"))
    print(f"[{size}] built in {built['build_s']:.1f} s", flush=True)
    served = _run_job("serve", built["directory"], str(corpus), args.queries)
    print(f"[{size}] search p50 {served['search']['p50_ms']:.2f} ms", flush=True)
    result["citebot"] = {**built, **served}
    if args.peers:
        peers = {}
        for engine in ("tantivy", "bm25s"):
            target = str(workdir / f"{engine}-{size}")
            peers[engine] = _run_job("peer_build", engine, built["directory"], target)
            print(f"[{size}] {engine} built in {peers[engine]['build_s']:.1f} s", flush=True)
        result["peers"] = peers
        result["compare"] = _run_job(
            "compare",
            built["directory"],
            str(workdir / f"tantivy-{size}"),
            str(workdir / f"bm25s-{size}"),
            args.queries,
        )
    reference_queries = args.queries if size <= 10_000 else 50
    reference = _run_job("rank_bm25", built["directory"], reference_queries)
    ours = _run_job("tops", built["directory"], reference_queries)
    same = _same_top10(ours, reference.pop("tops"))
    print(
        f"[{size}] rank_bm25 p50 {reference['search']['p50_ms']:.1f} ms; same top 10: {same}",
        flush=True,
    )
    result.update(
        rank_bm25=reference,
        identical_top10=same,
        speedup_p50=reference["search"]["p50_ms"] / served["search"]["p50_ms"],
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/citebot-bench"))
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results.json")
    parser.add_argument("--peers", action="store_true", help="also tantivy and bm25s")
    parser.add_argument("--baseline", help="also an earlier checkout of citebot (a folder)")
    parser.add_argument("--job", help=argparse.SUPPRESS)
    parser.add_argument("args", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.job:
        jobs = {
            "build": job_build,
            "serve": job_serve,
            "rank_bm25": job_rank_bm25,
            "tops": job_tops,
            "peer_build": job_peer_build,
            "compare": job_compare,
        }
        print(json.dumps(jobs[args.job](*json.loads(args.args))))
        return
    results = [bench(int(s), args.workdir, args) for s in args.sizes.split(",")]
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
        f"Python {platform.python_version()}"
    )
    out = {"machine": machine, "date": time.strftime("%Y-%m-%d"), "results": results}
    args.out.write_text(json.dumps(out, indent=1))
    print(f"\n{machine}\n\n{report.tables(results)}")


if __name__ == "__main__":
    main()
