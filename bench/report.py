"""Markdown tables of a ``bench/run.py`` run, as the README shows them."""

from __future__ import annotations

from typing import Any

SHAPES = ("main", "2-word", "10-word", "20-word", "common")


def _ms(p: dict[str, float]) -> str:
    return f"{p['p50_ms']:.2f} | {p['p95_ms']:.2f} | {p['p99_ms']:.2f}"


def _row(size: int, name: str, c: dict[str, Any], same: str) -> str:
    return (
        f"| {size:,} | {name} | {c['build_s']:.1f} | {c.get('add_one_s', 0):.1f} | "
        f"{c['index_mb']:.0f} | {c['load_s']:.2f} | {c['build_peak_mb']:.0f} | "
        f"{c.get('build_peak_all_mb', 0):.0f} | "
        f"{c['serve_peak_mb']:.0f} | {_ms(c['search'])} | {c['answer']['p50_ms']:.2f} | {same} |"
    )


def main_table(results: list[dict[str, Any]]) -> str:
    rows = [
        "| paragraphs | engine | build s | add one s | index MB | load s | peak MB build "
        "| peak MB build, all processes | peak MB serve | query p50 ms | p95 ms | p99 ms "
        "| answer p50 ms | same top-10 |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        size, ref = r["paragraphs"], r["rank_bm25"]
        if "baseline" in r:
            rows.append(_row(size, "citebot before (main)", r["baseline"], "-"))
        same = "yes" if r["identical_top10"] else "NO"
        rows.append(_row(size, "citebot", r["citebot"], f"{same} ({ref['search']['n']} queries)"))
        rows.append(
            f"| {size:,} | rank_bm25 | {ref['build_s']:.1f} | - | - | - | "
            f"{ref['peak_mb']:.0f} | - | - | {ref['search']['p50_ms']:.1f} | "
            f"{ref['search']['p95_ms']:.1f} | {ref['search']['p99_ms']:.1f} | - | - |"
        )
        rows.append(f"| | speed-up (p50) | | | | | | | | **{r['speedup_p50']:.0f}x** | | | | |")
    return "\n".join(rows)


def shapes_table(results: list[dict[str, Any]]) -> str:
    """Latency by query shape: every engine in one process, questions interleaved."""
    rows = [
        "| paragraphs | queries | citebot p50 / p95 / p99 ms | tantivy | bm25s "
        "| citebot ÷ tantivy (p50 / p95 / p99) |",
        "|---:|---|---|---|---|---|",
    ]
    for r in results:
        if "compare" not in r:
            continue
        for shape in SHAPES:
            e = r["compare"]["shapes"][shape]
            ratios = " / ".join(
                f"{e['citebot'][q] / e['tantivy'][q]:.2f}" for q in ("p50_ms", "p95_ms", "p99_ms")
            )
            cells = " | ".join(
                _ms(e[name]).replace(" | ", " / ") for name in ("citebot", "tantivy", "bm25s")
            )
            rows.append(f"| {r['paragraphs']:,} | {shape} | {cells} | {ratios} |")
    return "\n".join(rows)


def peers_table(results: list[dict[str, Any]]) -> str:
    rows = [
        "| paragraphs | engine | build s | index MB | peak MB build | RSS MB added when loaded |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for r in results:
        if "peers" not in r:
            continue
        added = r["compare"]["rss_added_mb"]
        c = r["citebot"]
        rows.append(
            f"| {r['paragraphs']:,} | citebot | {c['build_s']:.1f} | {c['index_mb']:.0f} | "
            f"{c['build_peak_mb']:.0f} | {added['citebot']:.0f} |"
        )
        for name, p in r["peers"].items():
            rows.append(
                f"| {r['paragraphs']:,} | {name} | {p['build_s']:.1f} | {p['index_mb']:.0f} | "
                f"{p['build_peak_mb']:.0f} | {added[name]:.0f} |"
            )
    return "\n".join(rows)


def baseline_table(results: list[dict[str, Any]]) -> str:
    """The earlier code and this one by query shape (each in its own process)."""
    rows = [
        "| paragraphs | queries | before p50 / p95 / p99 ms | now p50 / p95 / p99 ms |",
        "|---:|---|---|---|",
    ]
    for r in results:
        if "baseline" not in r or "shapes" not in r["baseline"]:
            continue
        for shape in SHAPES:
            before = _ms(r["baseline"]["shapes"][shape]).replace(" | ", " / ")
            now = _ms(r["citebot"]["shapes"][shape]).replace(" | ", " / ")
            rows.append(f"| {r['paragraphs']:,} | {shape} | {before} | {now} |")
    return "\n".join(rows)


def tables(results: list[dict[str, Any]]) -> str:
    parts = [main_table(results)]
    for caption, extra in (
        (
            "Query latency by shape, the code before and now, each in its own process:",
            baseline_table(results),
        ),
        (
            "citebot, tantivy and bm25s in one process, every question asked of each in turn "
            "(ratios below 1: citebot is faster):",
            shapes_table(results),
        ),
        (
            "Sizes (RSS added: resident memory grown by loading each engine into the shared "
            "process; citebot's serving peak, with the compiled query loop, is in the first "
            "table):",
            peers_table(results),
        ),
    ):
        if extra.count("\n") > 1:
            parts.append(f"{caption}\n\n{extra}")
    return "\n\n".join(parts)
