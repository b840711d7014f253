"""How long following a 50-entry feed takes, end to end, on loopback.

    .venv/bin/python bench/feeds.py                 # 50 entries
    .venv/bin/python bench/feeds.py --entries 200

Serves an RSS 2.0 feed and its article pages (each a realistic news page of about
25 KB: head metadata, navigation, eight paragraphs, scripts, a footer) from a loopback
HTTP server in another process, then runs exactly what a user runs, each a fresh
``citebot`` process with its own home and a copy of the bundled corpus
(``CITEBOT_ALLOW_PRIVATE_URLS=true``, as the server is on 127.0.0.1):

1. ``citebot feeds add URL``;
2. ``citebot feeds poll``: the feed, every entry's page fetched, extracted and stored,
   and the index rebuilt (the figure the issue asks for: at most 10 s for 50 entries);
3. ``citebot ask`` a question only one entry's page answers, checking that the
   citation carries that page's URL;
4. ``citebot feeds poll`` again: a conditional request answered 304, nothing added.

A script, not a test: timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot.feeds import MAX_ENTRIES  # noqa: E402

CITEBOT = [sys.executable, "-m", "bot"]

SERVER = r"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

entries = int(sys.argv[1])
hits = {"feed": 0, "not_modified": 0, "pages": 0}

def page(n):
    filler = " ".join(f"Analysts at firm {n}-{k} expect steady demand next year." for k in range(6))
    paras = "".join(
        f"<p>Paragraph {p} of report {n}: the port of Harbour{n} handled a record volume of"
        f" containers in the quarter, officials said. {filler}</p>" for p in range(8)
    )
    fact = f"<p>The harbour master of Harbour{n} is named Captain Quill{n}son.</p>"
    nav = "".join(f"<li><a href='/s/{k}'>Section {k}</a></li>" for k in range(40))
    script = "<script>" + "var x=1;" * 800 + "</script>"
    return (
        f"<!doctype html><html><head><title>Harbour{n} record | Bench Wire</title>"
        f"<meta property='og:title' content='Harbour{n} sets a record'>"
        f"<meta property='og:site_name' content='Bench Wire'>"
        f"<meta property='article:published_time' content='2026-11-{1 + n % 28:02d}T08:00:00Z'>"
        f"</head><body><nav><ul>{nav}</ul></nav><article><h1>Harbour{n} sets a record</h1>"
        f"{paras}{fact}</article><footer>(c) Bench Wire</footer>{script}</body></html>"
    ).encode()

PAGES = {f"/news/{n}": page(n) for n in range(entries)}

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
    def do_GET(self):
        port = self.server.server_address[1]
        if self.path == "/feed.xml":
            hits["feed"] += 1
            if self.headers.get("If-None-Match") == '"bench-1"':
                hits["not_modified"] += 1
                return self._send(304, b"", "")
            items = "".join(
                f"<item><title>Harbour{n} sets a record</title>"
                f"<link>http://127.0.0.1:{port}/news/{n}</link><description>summary</description>"
                f"<pubDate>{1 + n % 28:02d} Nov 2026 08:00:00 GMT</pubDate></item>"
                for n in range(entries)
            )
            body = (f"<?xml version='1.0'?><rss version='2.0'><channel><title>Bench Wire</title>"
                    f"<link>http://bench.example/</link><description>d</description>{items}"
                    f"</channel></rss>").encode()
            return self._send(200, body, "application/rss+xml", {"ETag": '"bench-1"'})
        if self.path == "/hits":
            import json
            return self._send(200, json.dumps(hits).encode(), "application/json")
        body = PAGES.get(self.path)
        if body is None:
            return self._send(404, b"", "text/plain")
        hits["pages"] += 1
        self._send(200, body, "text/html; charset=utf-8")
    def _send(self, status, body, ctype, headers=None):
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def _run(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(
        [*CITEBOT, *args], env=env, cwd=REPO, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"citebot {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return seconds, done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=50)
    args = parser.parse_args()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(args.entries)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        feed = f"http://127.0.0.1:{port}/feed.xml"
        with tempfile.TemporaryDirectory(prefix="citebot-bench-") as tmp:
            corpus = Path(tmp) / "corpus"
            shutil.copytree(REPO / "corpus", corpus)
            env = {
                **os.environ,
                "CITEBOT_HOME": str(Path(tmp) / "home"),
                "CITEBOT_CORPUS": str(corpus),
                "CITEBOT_ALLOW_PRIVATE_URLS": "true",
            }
            _run(["index"], env)  # the corpus as it was, indexed, as a running bot has it
            follow, _ = _run(["feeds", "add", feed], env)
            poll, out = _run(["feeds", "poll"], env)
            expected = min(args.entries, MAX_ENTRIES)  # a poll reads a feed's first 100
            n = expected // 2
            question = f"Who is the harbour master of Harbour{n}?"
            ask, answer_out = _run(["ask", "--json", question], env)
            answer = json.loads(answer_out)
            cited = answer["citations"][0]["url"] if answer["citations"] else ""
            again, again_out = _run(["feeds", "poll"], env)
            import urllib.request

            with urllib.request.urlopen(f"http://127.0.0.1:{port}/hits") as response:
                hits = json.loads(response.read())
            articles = len(list(corpus.glob("*.html")))
        print(out.split("\n")[0])
        print(f"feeds add          {follow:6.2f} s")
        print(f"feeds poll         {poll:6.2f} s   ({articles} pages fetched, stored, indexed)")
        print(f"ask                {ask:6.2f} s   cites {cited or 'nothing'}")
        print(f"feeds poll again   {again:6.2f} s   {again_out.strip()}")
        print(f"server saw: {hits}")
        ok = (
            articles == expected
            and cited.endswith(f"/news/{n}")
            and hits["not_modified"] == 1
            and hits["pages"] == expected
        )
        limit = 10.0 * args.entries / 50
        print(
            f"{'PASS' if ok and poll <= limit else 'FAIL'}: poll of {args.entries} entries in "
            f"{poll:.2f} s (limit {limit:.0f} s), whole process included"
        )
        return 0 if ok and poll <= limit else 1
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    raise SystemExit(main())
