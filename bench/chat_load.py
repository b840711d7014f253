"""Load benchmark of the Slack bot over HTTP, as Slack would drive it (not run in CI).

    .venv/bin/python bench/chat_load.py
    .venv/bin/python bench/chat_load.py --users 50 --questions 4 --stall 4

Starts the real ``citebot slack --http`` process on loopback against the fake Slack Web
API (``tests/fakes/slack.py``, pointed at by ``CITEBOT_SLACK_API_URL``) and measures:

1. **load**: USERS users each sending QUESTIONS distinct mentions at once, every request
   on its own connection (as Slack sends them): ack latency (the HTTP response), reply
   latency (from the request to the fake receiving the threaded ``chat.postMessage``),
   connection errors, lost replies, duplicate replies and apologies;
2. **stall**: 5 mentions whose answers are stalled by ``chat.postMessage`` answering 429
   (``Retry-After: 1``) for STALL seconds, while ``/ask`` commands arrive every 100 ms:
   the ``/ask`` acks and their private answers (``response_url``), and when the stalled
   answers land.

Prints one table.  Timings on a shared machine are noisy: run it on a quiet one.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import hashlib
import hmac
import json
import os
import re
import selectors
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.fakes.slack import BOT_USER, FakeSlack  # noqa: E402

SECRET = "bench-signing-secret"
QUESTIONS = (
    "Who leads TBD Lab?",
    "Who is Nat Friedman?",
    "Which exchange lists Alibaba?",
    "Who is Shengjia Zhao?",
    "When will Avocado launch?",
    "What did Meta pay for Scale AI?",
)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


@dataclass
class Seen:
    method: str
    data: dict[str, Any]
    at: float  # CLOCK_MONOTONIC, the same in every process


def serve_fake() -> None:
    """The fake Slack in its own process (``--fake``), driven by lines on stdin: its work
    answering the bot must not slow the load generator down."""
    fake = FakeSlack().start()
    fake.retry_after = 1
    print(fake.port, flush=True)
    for line in sys.stdin:
        command, *args = line.split()
        if command == "stall":
            fake.stall_until[args[0]] = time.monotonic() + float(args[1])
            print(json.dumps(fake.stall_until[args[0]]), flush=True)
        elif command == "calls":
            calls = [
                {"method": c.method, "data": {k: c.data.get(k) for k in KEEP}, "at": c.at}
                for c in list(fake.calls)
            ]
            print(json.dumps(calls), flush=True)
        else:
            break
    fake.stop()


KEEP = ("thread_ts", "text", "channel")


class FakeProcess:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--fake"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None and self.process.stdin is not None
        self.port = int(self.process.stdout.readline())

    def _ask(self, line: str) -> Any:
        assert self.process.stdout is not None and self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, key: str) -> str:
        return f"http://127.0.0.1:{self.port}/response/{key}"

    def stall(self, method: str, seconds: float) -> float:
        return float(self._ask(f"stall {method} {seconds}"))

    def calls_to(self, method: str) -> list[Seen]:
        return [Seen(**c) for c in self._ask("calls") if c["method"] == method]

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(10)


def start_bot(fake: FakeProcess, home: Path) -> tuple[subprocess.Popen[bytes], int, Path]:
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": "xoxb-bench-token",
        "SLACK_SIGNING_SECRET": SECRET,
        "CITEBOT_SLACK_API_URL": fake.api_url,
        "CITEBOT_HOME": str(home),
        "CITEBOT_RATE_LIMIT": "0",
        "CITEBOT_LOG_LEVEL": "INFO",
    }
    log = home / "bot.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "slack", "--http", "--host", "127.0.0.1", "--port", "0"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(r"serving Slack events on http://127\.0\.0\.1:(\d+)", log.read_text())
        if found:
            return process, int(found.group(1)), log
        if process.poll() is not None:
            raise SystemExit("citebot slack exited:\n" + log.read_text())
        time.sleep(0.05)
    process.kill()
    raise SystemExit("citebot slack did not start:\n" + log.read_text())


def burst(port: int, requests: list[bytes], timeout: float = 30) -> list[tuple[float, float, int]]:
    """Send every request at once, each on its own connection, and time each from opening
    its connection to the first byte of the response: (opened at, seconds, HTTP status,
    -1 for a connection error).  A bare selector loop: an HTTP client library's own
    overhead under a burst of 200 would be counted as the bot's."""
    selector = selectors.DefaultSelector()
    results: list[tuple[float, float, int] | None] = [None] * len(requests)
    opened = [0.0] * len(requests)
    for i in range(len(requests)):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        opened[i] = time.monotonic()
        if sock.connect_ex(("127.0.0.1", port)) not in (0, errno.EINPROGRESS):
            results[i] = (opened[i], 0.0, -1)
            sock.close()
            continue
        selector.register(sock, selectors.EVENT_WRITE, i)
    deadline = time.monotonic() + timeout
    while selector.get_map() and time.monotonic() < deadline:
        for key, mask in selector.select(timeout=1.0):
            sock, i = key.fileobj, key.data
            assert isinstance(sock, socket.socket)
            failed = False
            if mask & selectors.EVENT_WRITE:
                try:
                    failed = bool(sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
                    failed = failed or sock.send(requests[i]) != len(requests[i])
                except OSError:
                    failed = True
                if not failed:
                    selector.modify(sock, selectors.EVENT_READ, i)
                    continue
            now = time.monotonic()
            if not failed:
                try:
                    data = sock.recv(4096)
                except OSError:
                    data = b""
                status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else -1
                results[i] = (opened[i], now - opened[i], status)
            else:
                results[i] = (opened[i], now - opened[i], -1)
            selector.unregister(sock)
            sock.close()
    for key in list(selector.get_map().values()):
        results[key.data] = (opened[key.data], timeout, -1)
        key.fileobj.close()  # type: ignore[union-attr]
    return [r if r is not None else (0.0, 0.0, -1) for r in results]


class Client:
    """Signed requests to the bot, each on a fresh connection, as Slack sends them."""

    def __init__(self, port: int, fake: FakeProcess) -> None:
        self.port = port
        self.fake = fake

    def request(self, body: bytes, content_type: str) -> bytes:
        ts = str(int(time.time()))
        base = f"v0:{ts}:".encode() + body
        signature = "v0=" + hmac.new(SECRET.encode(), base, hashlib.sha256).hexdigest()
        head = (
            f"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            f"X-Slack-Request-Timestamp: {ts}\r\nX-Slack-Signature: {signature}\r\n"
            "Connection: close\r\n\r\n"
        )
        return head.encode() + body

    async def send(self, *requests: bytes) -> list[tuple[float, float, int]]:
        """Send all at once (in a thread: the burst must not wait on this event loop)."""
        return await asyncio.to_thread(burst, self.port, list(requests))

    def mention(self, user: str, channel: str, ts: str, text: str, event_id: str) -> bytes:
        body = {
            "token": "legacy",
            "team_id": "T1",
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": {
                "type": "app_mention",
                "user": user,
                "text": f"<@{BOT_USER}> {text}",
                "ts": ts,
                "channel": channel,
            },
            "authorizations": [{"team_id": "T1", "user_id": BOT_USER, "is_bot": True}],
        }
        return self.request(json.dumps(body).encode(), "application/json")

    def ask(self, user: str, text: str, key: str) -> bytes:
        form = {
            "command": "/ask",
            "text": text,
            "user_id": user,
            "user_name": user,
            "channel_id": "CASK",
            "team_id": "T1",
            "trigger_id": "trig",
            "response_url": self.fake.response_url(key),
            "api_app_id": "A1",
        }
        body = urllib.parse.urlencode(form).encode()
        return self.request(body, "application/x-www-form-urlencoded")


def replies_by_thread(fake: FakeProcess) -> dict[str, list[Seen]]:
    found: dict[str, list[Any]] = {}
    for call in fake.calls_to("chat.postMessage"):
        found.setdefault(str(call.data.get("thread_ts")), []).append(call)
    return found


async def wait_until(check: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not check():
        await asyncio.sleep(0.05)


async def load(client: Client, fake: FakeProcess, users: int, per_user: int) -> dict[str, Any]:
    jobs = []
    for u in range(users):
        for q in range(per_user):
            ts = f"{1000 + u}.{q:06d}"
            question = QUESTIONS[(u + q) % len(QUESTIONS)]
            jobs.append((ts, client.mention(f"U{u:03d}", f"C{u % 10}", ts, question, f"Ev{ts}")))
    results = await client.send(*(request for _, request in jobs))
    sent_at = {ts: r[0] for (ts, _), r in zip(jobs, results, strict=True)}
    acks = [r[1] for r in results if r[2] == 200]
    errors = sum(1 for r in results if r[2] != 200)
    expected = set(sent_at)
    await wait_until(lambda: expected <= set(replies_by_thread(fake)), 60)
    replies = replies_by_thread(fake)
    latencies = [replies[ts][0].at - sent_at[ts] for ts in expected if ts in replies]
    return {
        "requests": len(jobs),
        "errors": errors,
        "ack_p50": pct(acks, 50),
        "ack_p99": pct(acks, 99),
        "reply_p50": pct(latencies, 50),
        "reply_p99": pct(latencies, 99),
        "lost": len(expected - set(replies)),
        "duplicates": sum(len(replies[ts]) - 1 for ts in expected if ts in replies),
        "apologies": sum(
            "Sorry" in (c.data.get("text") or "") for ts in replies for c in replies[ts]
        ),
    }


async def stall(client: Client, fake: FakeProcess, seconds: float, asks: int) -> dict[str, Any]:
    stall_end = fake.stall("chat.postMessage", seconds)
    stalled = [f"5000.{n:06d}" for n in range(5)]
    before_429s = len(fake.calls_to("chat.postMessage:429"))
    mentions = [
        client.mention("USTALL", f"CS{n}", ts, QUESTIONS[n % 4], f"EvS{ts}")
        for n, ts in enumerate(stalled)
    ]
    await client.send(*mentions)
    await wait_until(lambda: len(fake.calls_to("chat.postMessage:429")) >= before_429s + 5, 10)
    results = []
    for n in range(asks):
        results += await client.send(client.ask(f"UA{n}", QUESTIONS[n % 6], f"ask{n}"))
        await asyncio.sleep(0.1)
    await wait_until(lambda: len(fake.calls_to("response_url")) >= asks, 30)
    response_times = sorted(c.at for c in fake.calls_to("response_url"))
    acks = [r[1] for r in results if r[2] == 200]
    reply_seconds = [at - r[0] for r, at in zip(results, response_times, strict=False)]
    await wait_until(lambda: set(stalled) <= set(replies_by_thread(fake)), 30)
    replies = replies_by_thread(fake)
    landed = [replies[ts][0].at - stall_end for ts in stalled if ts in replies]
    return {
        "requests": asks,
        "errors": sum(1 for r in results if r[2] != 200),
        "ack_p50": pct(acks, 50),
        "ack_p99": pct(acks, 99),
        "reply_p50": pct(reply_seconds, 50),
        "reply_p99": pct(reply_seconds, 99),
        "lost": asks - len(response_times) + sum(ts not in replies for ts in stalled),
        "duplicates": max(0, len(response_times) - asks)
        + sum(len(replies[ts]) - 1 for ts in stalled if ts in replies),
        "stalled_after_end": max(landed) if landed else float("nan"),
        "stalled_apologies": sum(
            "Sorry" in (c.data.get("text") or "") for ts in stalled for c in replies.get(ts, [])
        ),
    }


async def main_async(args: argparse.Namespace) -> None:
    load_before = os.getloadavg()[0]
    fake = FakeProcess()
    with tempfile.TemporaryDirectory() as tmp:
        process, port, log = start_bot(fake, Path(tmp))
        client = Client(port, fake)
        try:
            # Warm up as a bot that has been serving: a few questions, then a quiet second.
            warm = [f"1.{n:06d}" for n in range(10)]
            await client.send(
                *(client.mention("UW", "CW", ts, "What is Avocado?", f"EvW{ts}") for ts in warm)
            )
            await wait_until(lambda: set(warm) <= set(replies_by_thread(fake)), 30)
            await asyncio.sleep(1.0)
            first = await load(client, fake, args.users, args.questions)
            second = await stall(client, fake, args.stall, args.asks)
        finally:
            process.terminate()
            process.wait(30)
            fake.stop()
        errors_logged = sum("ERROR" in line for line in log.read_text().splitlines())
    cpus = os.cpu_count()
    workers = os.environ.get("CITEBOT_ANSWER_WORKERS", "2 (default)")
    print(
        f"citebot slack --http, answer workers {workers}, {cpus} cores, Python "
        f"{sys.version.split()[0]}, load average before/after {load_before:.2f}/"
        f"{os.getloadavg()[0]:.2f}"
    )
    print()
    head = "| scenario | requests | conn errors | ack p50 ms | ack p99 ms | reply p50 s"
    print(head + " | reply p99 s | lost | duplicate |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    label1 = f"{args.users} users x {args.questions} mentions at once"
    label2 = f"/ask every 100 ms, 5 answers stalled {args.stall:g} s on 429"
    for label, r in ((label1, first), (label2, second)):
        print(
            f"| {label} | {r['requests']} | {r['errors']} | {r['ack_p50'] * 1000:.1f} | "
            f"{r['ack_p99'] * 1000:.1f} | {r['reply_p50']:.3f} | {r['reply_p99']:.3f} | "
            f"{r['lost']} | {r['duplicates']} |"
        )
    print()
    print(f"load: {first['apologies']} apologies among the replies")
    print(
        f"stall: the 5 stalled answers landed at most {second['stalled_after_end']:.2f} s "
        f"after the stall ended ({second['stalled_apologies']} of them apologies); "
        f"{second['errors']} /ask requests failed"
    )
    print(f"bot log: {errors_logged} ERROR lines")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--questions", type=int, default=4, help="distinct mentions per user")
    parser.add_argument("--stall", type=float, default=4.0, help="seconds of 429 answers")
    parser.add_argument("--asks", type=int, default=20, help="/ask commands during the stall")
    parser.add_argument("--fake", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fake:
        serve_fake()
        return
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
