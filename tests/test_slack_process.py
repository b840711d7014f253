"""The real ``citebot slack --http`` process against the fake Slack, as a new user runs it:
configured by ``CITEBOT_SLACK_API_URL``, checked by ``/healthz``, stopped by SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.fakes.slack import FakeSlack
from tests.slack_harness import SECRET, Harness, all_text, mention

REPO = Path(__file__).resolve().parent.parent


def _start(
    fake: FakeSlack, tmp_path: Path, **extra: str
) -> tuple[subprocess.Popen[str], int, Path]:
    env = {
        **os.environ,
        **extra,
        "SLACK_BOT_TOKEN": "xoxb-process-token",
        "SLACK_SIGNING_SECRET": SECRET,
        "CITEBOT_SLACK_API_URL": fake.api_url,
        "CITEBOT_LOG_LEVEL": "INFO",
    }
    log = tmp_path / "stderr.txt"
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "slack", "--http", "--host", "127.0.0.1", "--port", "0"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
        text=True,
        start_new_session=True,  # its own process group, as under a service manager
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = re.search(r"serving Slack events on http://127\.0\.0\.1:(\d+)", log.read_text())
        if found:
            return process, int(found.group(1)), log
        assert process.poll() is None, log.read_text()
        time.sleep(0.05)
    process.kill()
    raise AssertionError("citebot slack did not start: " + log.read_text())


def test_the_process_serves_reports_health_and_drains_on_sigterm(
    fake: FakeSlack, tmp_path: Path
) -> None:
    process, port, log = _start(fake, tmp_path)
    try:
        deadline = time.monotonic() + 30  # two worker processes start and load the index first
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "healthz never answered 200"
                time.sleep(0.05)
        client = Harness.__new__(Harness)
        client.fake, client.port = fake, port
        status, _, _ = client.event(mention("Who is Nat Friedman?", "10.1"), "EvProc1")
        assert status == 200
        assert "Friedman" in all_text(fake.wait_for("chat.postMessage")[0])
        # An answer still waiting out a 429 when SIGTERM comes is finished, not lost.
        fake.stall_until["chat.postMessage"] = time.monotonic() + 1.5
        client.event(mention("Who leads TBD Lab?", "10.2"), "EvProc2")
        fake.wait_for("chat.postMessage:429")
        os.killpg(process.pid, signal.SIGTERM)  # as systemd does: the workers get it too
        assert process.wait(20) == 0
        posts = fake.wait_for("chat.postMessage", count=2)
        assert posts[1].data["thread_ts"] == "10.2" and "Alexandr Wang" in all_text(posts[1])
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
    err = log.read_text()
    assert "will be unused" not in err  # case 7: no warning at every start
    assert "xoxb-process-token" not in err and "Traceback" not in err
    assert fake.calls_to("auth.test")[0].headers["Authorization"] == "Bearer xoxb-process-token"


def test_answer_workers_follow_the_index_the_bot_rebuilds(
    fake: FakeSlack, tmp_path: Path, corpus: Path
) -> None:
    """The worker process answers from the index the serving process rebuilds when an
    article is added, without building one itself."""
    process, port, log = _start(
        fake, tmp_path, CITEBOT_CORPUS=str(corpus), CITEBOT_CHECK_INTERVAL="0.2"
    )
    try:
        client = Harness.__new__(Harness)
        client.fake, client.port = fake, port
        (corpus / "zebra.md").write_text(
            "---\ntitle: Zebra escape\n---\nZebras escaped from the city zoo on Friday.\n"
        )
        deadline = time.monotonic() + 30
        for n in range(1000):
            client.event(mention("Where did the zebras escape from?", f"20.{n}"), f"EvZ{n}")
            post = fake.wait_for("chat.postMessage", count=n + 1, timeout=30)[n]
            if "Zebras escaped" in all_text(post):
                break
            assert time.monotonic() < deadline, "the new article was never cited"
            time.sleep(0.2)  # the corpus is looked at every 0.2 s
    finally:
        process.terminate()
        process.wait(20)
    assert "Traceback" not in log.read_text()


def test_the_manifest_gives_every_command_a_request_url_in_http_mode() -> None:
    """Case 6: following the README (uncomment every `url`/`request_url`) leaves no command
    without one."""
    manifest = (REPO / "slack-manifest.yml").read_text()
    commands = re.findall(r"- command: (/\w+)((?:\n {6}.*)*)", manifest)
    assert {c for c, _ in commands} == {
        "/ask",
        "/search",
        "/source",
        "/digest",
        "/add",
        "/feeds",
        "/sources",
    }
    for name, body in commands:
        assert re.search(r"# url: https://\S+/slack/events", body), f"{name} has no url"
    assert len(re.findall(r"# request_url: https://\S+/slack/events", manifest)) == 2


def test_a_refused_app_token_in_socket_mode_is_one_line(
    fake: FakeSlack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-socket-token")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-refused-token")
    monkeypatch.setenv("CITEBOT_SLACK_API_URL", fake.api_url)
    monkeypatch.setenv("CITEBOT_ANSWER_WORKERS", "0")
    fake.fail.add("apps.connections.open")
    assert main(["slack"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "citebot: SLACK_APP_TOKEN was refused by Slack (fatal_error)"
