"""The real slack-bolt app, served over HTTP and Socket Mode, against a loopback fake Slack."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import SEED_CORPUS
from tests.fakes.slack import BOT_USER, FakeSlack
from tests.fakes.web import WebServer, article_html
from tests.slack_harness import Harness, all_text, assert_valid_blocks, make_harness


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(SEED_CORPUS, target)
    (target / "ping.md").write_text(
        "---\ntitle: <!channel> Zebra <@U999> alert\nsource: Prank & Co\n"
        "url: https://zoo.example/zebras\n---\n"
        "<!channel> <!here> Zebras escaped from the city zoo <https://evil.example|click> "
        "on Friday, keepers said, and @everyone should stay calm.\n"
    )
    return target


@pytest.fixture
def slack(
    fake: FakeSlack, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Harness]:
    harness = make_harness(fake, corpus, tmp_path, monkeypatch)
    yield harness
    harness.close()


def test_mention_is_answered_in_a_thread_with_cited_blocks(slack: Harness) -> None:
    slack.bot.react_after = 0.0  # as if answering were slow: :eyes: while it works
    status, _, seconds = slack.event(
        {
            "type": "app_mention",
            "user": "U1",
            "text": f"<@{BOT_USER}> Who leads TBD Lab?",
            "ts": "100.1",
            "channel": "C1",
            "event_ts": "100.1",
        }
    )
    assert status == 200 and seconds < 3
    post = slack.fake.wait_for("chat.postMessage")[0]
    assert post.data["channel"] == "C1" and post.data["thread_ts"] == "100.1"
    assert_valid_blocks(post)
    text = all_text(post)
    assert "Alexandr Wang" in text and "paragraph" in text
    assert "feedback_helpful" in text and "more_passages" in text
    added = slack.fake.calls_to("reactions.add")
    assert added and added[0].data["name"] == "eyes"
    slack.fake.wait_for("reactions.remove")
    assert post.headers["Authorization"] == "Bearer xoxb-test-token"


def test_a_quick_answer_gets_no_eyes_reaction(slack: Harness) -> None:
    slack.event(
        {
            "type": "app_mention",
            "user": "U1",
            "text": f"<@{BOT_USER}> Who leads TBD Lab?",
            "ts": "100.2",
            "channel": "C1",
        },
        event_id="EvQuick",
    )
    slack.fake.wait_for("chat.postMessage")
    assert not slack.fake.calls_to("reactions.add")  # answered well within a second


def test_a_retried_event_is_answered_once(slack: Harness) -> None:
    event = {
        "type": "app_mention",
        "user": "U1",
        "text": f"<@{BOT_USER}> Who is Nat Friedman?",
        "ts": "101.1",
        "channel": "C1",
    }
    slack.event(event, event_id="EvRetry")
    slack.fake.wait_for("chat.postMessage")
    status, _, _ = slack.event(
        event,
        event_id="EvRetry",
        headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    assert status == 200
    time.sleep(0.5)
    assert len(slack.fake.calls_to("chat.postMessage")) == 1


def test_badly_signed_or_stale_requests_are_refused(slack: Harness) -> None:
    event = {"type": "app_mention", "user": "U1", "text": "hi", "ts": "1.1", "channel": "C1"}
    assert slack.event(event, secret="wrong-secret")[0] == 401
    assert slack.event(event, event_id="Ev2", timestamp=int(time.time()) - 600)[0] == 401
    time.sleep(0.3)
    assert not slack.fake.calls_to("chat.postMessage")


def test_thread_follow_up_uses_the_earlier_question(slack: Harness) -> None:
    slack.event(
        {
            "type": "app_mention",
            "user": "U1",
            "text": f"<@{BOT_USER}> What is Avocado?",
            "ts": "200.1",
            "channel": "C1",
        },
        event_id="EvA",
    )
    slack.fake.wait_for("chat.postMessage")
    slack.event(
        {
            "type": "message",
            "channel_type": "channel",
            "user": "U1",
            "text": "when will it launch?",
            "ts": "200.5",
            "thread_ts": "200.1",
            "channel": "C1",
        },
        event_id="EvB",
    )
    posts = slack.fake.wait_for("chat.postMessage", count=2)
    follow = posts[1]
    assert follow.data["thread_ts"] == "200.1"
    assert "next spring" in all_text(follow)


def test_direct_message_is_answered_in_the_dm(slack: Harness) -> None:
    slack.event(
        {
            "type": "message",
            "channel_type": "im",
            "user": "U1",
            "channel": "D1",
            "text": "Which exchange lists Alibaba?",
            "ts": "300.1",
        },
        event_id="EvDM",
    )
    post = slack.fake.wait_for("chat.postMessage")[0]
    assert post.data["channel"] == "D1" and not post.data.get("thread_ts")
    assert "NYSE" in all_text(post)


def test_channels_stay_quiet_unless_asked(slack: Harness) -> None:
    slack.event(
        {
            "type": "message",
            "channel_type": "channel",
            "user": "U1",
            "channel": "C1",
            "text": "Who leads TBD Lab?",
            "ts": "400.1",
        },
        event_id="EvQuiet",
    )
    slack.event(
        {
            "type": "message",
            "channel_type": "im",
            "user": BOT_USER,
            "channel": "D1",
            "text": "Who leads TBD Lab?",
            "ts": "400.2",
            "bot_id": "BBOT",
        },
        event_id="EvSelf",
    )
    slack.event(
        {
            "type": "message",
            "channel_type": "im",
            "user": "U3",
            "channel": "D1",
            "subtype": "bot_message",
            "text": "Who leads TBD Lab?",
            "ts": "400.3",
            "bot_id": "BOTHER",
        },
        event_id="EvOtherBot",
    )
    time.sleep(0.5)
    assert not slack.fake.calls_to("chat.postMessage")


def test_opted_in_channel_answers_questions_without_a_mention(
    fake: FakeSlack, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = make_harness(fake, corpus, tmp_path, monkeypatch, CITEBOT_ANSWER_CHANNELS="C9")
    harness.event(
        {
            "type": "message",
            "channel_type": "channel",
            "user": "U1",
            "channel": "C9",
            "text": "Who is Shengjia Zhao?",
            "ts": "450.1",
        },
        event_id="EvOpt",
    )
    harness.event(
        {
            "type": "message",
            "channel_type": "channel",
            "user": "U1",
            "channel": "C9",
            "text": "good morning all",
            "ts": "450.2",
        },
        event_id="EvChat",
    )
    post = fake.wait_for("chat.postMessage")[0]
    assert post.data["thread_ts"] == "450.1" and "ChatGPT co-creator" in all_text(post)
    time.sleep(0.3)
    assert len(fake.calls_to("chat.postMessage")) == 1
    harness.close()


def test_corpus_text_cannot_ping_or_inject_links(slack: Harness) -> None:
    slack.event(
        {
            "type": "app_mention",
            "user": "U1",
            "channel": "C1",
            "ts": "500.1",
            "text": f"<@{BOT_USER}> Where did the zebras escape from?",
        },
        event_id="EvZ",
    )
    post = slack.fake.wait_for("chat.postMessage")[0]
    assert_valid_blocks(post)
    text = all_text(post)
    assert "Zebras escaped" in text
    for dangerous in ("<!channel>", "<!here>", "<@U999>", "<https://evil.example"):
        assert dangerous not in text
    assert "&lt;!channel&gt;" in text and "Prank &amp; Co" in text


def test_ask_command_acks_at_once_and_answers_privately_with_share(slack: Harness) -> None:
    status, body, seconds = slack.command("/ask", "Who is Yann LeCun?")
    assert status == 200 and seconds < 3 and body == ""
    reply = slack.fake.wait_for("response_url")[0]
    assert reply.data["response_type"] == "ephemeral"
    assert_valid_blocks(reply)
    assert "godfathers of AI" in all_text(reply) and "share_answer" in all_text(reply)


def test_commands_with_no_arguments_get_a_usage_line(slack: Harness) -> None:
    for name in ("/ask", "/search", "/source"):
        status, body, _ = slack.command(name, "   ")
        assert status == 200 and body.startswith("Usage: `" + name)


def test_search_source_and_digest_commands(slack: Harness) -> None:
    slack.command("/search", "Qwen distillation", key="s")
    slack.command("/source", "003_995cb40eb3369109#16", key="src")
    slack.command("/source", "nonexistent", key="none")
    slack.command("/digest", "", key="d")
    replies = {c.data.get("text", ""): c for c in slack.fake.wait_for("response_url", count=4)}
    texts = " ".join(all_text(c) for c in replies.values())
    assert "distilling" in texts and "godfathers of AI" in texts
    assert "No article matches" in texts and "Digest: 2 new stories" in texts
    for call in replies.values():
        assert call.data["response_type"] == "ephemeral"
        assert_valid_blocks(call)


def test_buttons_record_feedback_share_and_show_more(slack: Harness) -> None:
    slack.command("/ask", "Meta open source strategy")
    reply = slack.fake.wait_for("response_url")[0]
    actions = next(b for b in reply.data["blocks"] if b["type"] == "actions")
    value = actions["elements"][0]["value"]

    slack.click("feedback_unhelpful", value, ephemeral=True)
    slack.fake.wait_for("response_url", lambda c: "noted" in c.data.get("text", ""))
    votes = slack.state.feedback()
    assert votes and votes[0]["helpful"] == 0 and votes[0]["user_id"] == "U2"
    assert votes[0]["question"] == "Meta open source strategy"

    slack.click("more_passages", value, ephemeral=True)
    more = slack.fake.wait_for("response_url", lambda c: "[4]" in all_text(c))[0]
    assert_valid_blocks(more)

    slack.click("share_answer", value, ephemeral=True)
    shared = slack.fake.wait_for("chat.postMessage")[0]
    assert shared.data["channel"] == "C1" and "<@U1> asked" in all_text(shared)
    slack.fake.wait_for("response_url", lambda c: c.data.get("delete_original") is True)


def test_rate_limited_web_api_is_retried_after_retry_after(slack: Harness) -> None:
    slack.fake.rate_limit_next["chat.postMessage"] = 1
    slack.event(
        {
            "type": "app_mention",
            "user": "U1",
            "channel": "C1",
            "ts": "600.1",
            "text": f"<@{BOT_USER}> Who is Nat Friedman?",
        },
        event_id="Ev429",
    )
    post = slack.fake.wait_for("chat.postMessage", timeout=15)[0]
    assert "Friedman" in all_text(post)
    assert slack.fake.calls_to("chat.postMessage:429")


def test_per_user_rate_limit_gets_a_private_note(
    fake: FakeSlack, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = make_harness(fake, corpus, tmp_path, monkeypatch, CITEBOT_RATE_LIMIT="1")
    for n in range(2):
        harness.event(
            {
                "type": "app_mention",
                "user": "U1",
                "channel": "C1",
                "ts": f"70{n}.1",
                "text": f"<@{BOT_USER}> Who is Nat Friedman?",
            },
            event_id=f"EvR{n}",
        )
    note = fake.wait_for("chat.postEphemeral")[0]
    assert note.data["user"] == "U1" and "faster" in note.data["text"]
    assert len(fake.wait_for("chat.postMessage")) == 1
    harness.close()


def test_a_failure_while_answering_posts_an_apology(
    slack: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("index exploded")

    monkeypatch.setattr(slack.bot.core, "follow_up", explode)
    slack.event(
        {
            "type": "app_mention",
            "user": "U1",
            "channel": "C1",
            "ts": "800.1",
            "text": f"<@{BOT_USER}> anything?",
        },
        event_id="EvFail",
    )
    post = slack.fake.wait_for("chat.postMessage")[0]
    assert post.data["thread_ts"] == "800.1" and "Sorry" in post.data["text"]
    assert "index exploded" in caplog.text and "xoxb-test-token" not in caplog.text


def test_socket_mode_delivers_an_envelope_and_acks(slack: Harness) -> None:
    handler = slack.run(slack.service.connect_socket_mode("xapp-test-token"))
    try:
        slack.fake.send_envelope(
            {
                "envelope_id": "env-1",
                "type": "events_api",
                "accepts_response_payload": False,
                "retry_attempt": 0,
                "retry_reason": "",
                "payload": {
                    "token": "legacy",
                    "team_id": "T1",
                    "api_app_id": "A1",
                    "type": "event_callback",
                    "event_id": "EvSocket",
                    "event_time": 1,
                    "event": {
                        "type": "app_mention",
                        "user": "U1",
                        "channel": "C1",
                        "ts": "900.1",
                        "text": f"<@{BOT_USER}> Who is Shengjia Zhao?",
                    },
                },
            }
        )
        post = slack.fake.wait_for("chat.postMessage")[0]
        assert "ChatGPT co-creator" in all_text(post)
        deadline = time.monotonic() + 5
        while not any(a.get("envelope_id") == "env-1" for a in slack.fake.acks):
            assert time.monotonic() < deadline, "no ack for the envelope"
            time.sleep(0.02)
        opened = slack.fake.calls_to("apps.connections.open")[0]
        assert opened.headers["Authorization"] == "Bearer xapp-test-token"
    finally:
        slack.run(handler.close_async())


def test_digest_subscription_posts_once_to_the_channel(
    fake: FakeSlack, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1_795_422_000.0]  # 2026-11-23 08:20 UTC

    harness = make_harness(fake, corpus, tmp_path, monkeypatch, clock=lambda: now[0])
    try:
        harness.command("/digest", "subscribe 09:00 Europe/London", key="sub")
        reply = fake.wait_for("response_url")[0]
        assert "every day at 09:00 (Europe/London)" in reply.data["text"]
        assert harness.run(harness.bot.post_due_digests()) == 0  # not yet 09:00
        now[0] += 45 * 60
        assert harness.run(harness.bot.post_due_digests()) == 1
        post = fake.wait_for("chat.postMessage")[0]
        assert post.data["channel"] == "C1"
        assert_valid_blocks(post)
        text = all_text(post)
        assert "Digest: 2 new stories" in text and "Zebras escaped" in text
        assert "<!channel>" not in text
        assert harness.run(harness.bot.post_due_digests()) == 0  # once a day
    finally:
        harness.close()


def test_add_command_fetches_a_page_for_an_admin_and_refuses_anyone_else(
    fake: FakeSlack, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with WebServer() as web:
        url = web.page(
            "/ferry",
            article_html(
                "Valdoria ferry",
                [
                    "The harbour authority in Valdoria approved the new ferry terminal on Friday.",
                    "Construction of the Valdoria terminal starts in March and costs 40 million.",
                ],
            ),
        )
        slack = make_harness(
            fake,
            corpus,
            tmp_path,
            monkeypatch,
            CITEBOT_ADMINS="U_ADMIN",
            CITEBOT_ALLOW_PRIVATE_URLS="true",
        )
        try:
            slack.command("/add", f"<{url}>", key="stranger", user="U_STRANGER")
            refused = slack.fake.wait_for("response_url")[0]
            assert "Only citebot admins" in all_text(refused)
            assert refused.data["response_type"] == "ephemeral"
            slack.command("/add", f"<{url}>", key="admin", user="U_ADMIN")
            added = slack.fake.wait_for("response_url", count=2)[1]
            assert "Valdoria ferry" in all_text(added) and "ephemeral" in json.dumps(added.data)
            slack.service.core.store.refresh()
            slack.command("/ask", "When does construction of the Valdoria terminal start?", "q")
            answer = slack.fake.wait_for("response_url", count=3)[2]
            assert "March" in all_text(answer) and url in all_text(answer)
            slack.command("/sources", "", key="src")
            listed = slack.fake.wait_for("response_url", count=4)[3]
            assert "Valdoria ferry" in all_text(listed)
        finally:
            slack.close()
