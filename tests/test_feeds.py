"""Following feeds: new entries' pages are added, conditional polls, back-off, failures."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.feeds import MAX_BACKOFF, Feeds, feed_task, run_feed_loop
from bot.fetch import Fetcher
from bot.pages import PageAdder
from bot.state import State
from tests.fakes.web import Route, WebServer, article_html, atom_feed, rss_feed

RSS = "application/rss+xml"


class Clock:
    def __init__(self) -> None:
        self.now = 1_795_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def web() -> Iterator[WebServer]:
    with WebServer() as server:
        yield server


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def feeds(tmp_path: Path, corpus: Path, clock: Clock) -> Feeds:
    fetcher = Fetcher(allow_private=True)
    state = State(tmp_path / "state.sqlite3", clock=clock)
    return Feeds(state, PageAdder(corpus, fetcher, clock=clock), fetcher, clock=clock)


def story(n: int) -> list[str]:
    return [
        f"Story {n}: the regulator in city number {n} approved the merger on Monday.",
        f"Officials said review {n} found no competition problems in the market.",
    ]


def publish(web: WebServer, count: int, *, path: str = "/feed.xml", etag: str = '"v1"') -> str:
    items = []
    for n in range(count):
        link = web.page(f"/news/{n}", article_html(f"Merger approved {n}", story(n)))
        items.append((f"Merger approved {n}", link, f"SUMMARY ONLY {n}"))
    web.routes[path] = Route(
        body=rss_feed("Example Wire", items).encode(), content_type=RSS, etag=etag
    )
    return web.url(path)


def test_rss_feed_adds_each_entry_page_then_polls_conditionally(
    web: WebServer, feeds: Feeds, corpus: Path
) -> None:
    url = publish(web, 3)
    assert feeds.follow(url).startswith("following example-wire (Example Wire): 3 entries")
    [report] = feeds.poll_all()
    assert report.message == "example-wire: 3 added"
    assert sorted(a.title for a in report.added) == [f"Merger approved {n}" for n in range(3)]
    html = "".join(p.read_text(encoding="utf-8") for p in corpus.glob("*.html"))
    assert (
        "Officials said review 2" in html and "SUMMARY ONLY" not in html
    )  # the page, not the summary
    [second] = feeds.poll_all()
    assert second.not_modified and second.message == "example-wire: not modified"
    assert web.hits("/feed.xml")[-1].headers["if-none-match"] == '"v1"'
    assert all(len(web.hits(f"/news/{n}")) == 1 for n in range(3))  # no page fetched twice
    [line] = feeds.describe()
    assert "articles added: 3" in line and "last success: 2026-11-18 11:06 UTC" in line


def test_atom_feed_with_relative_links_and_last_modified(
    web: WebServer, feeds: Feeds, corpus: Path
) -> None:
    web.page("/a/one", article_html("One", story(1)))
    web.page("/a/two", article_html("Two", story(2)))
    feed = atom_feed("Atom Wire", [("One", "/a/one", "s"), ("Two", "a/two", "s")])
    web.routes["/atom"] = Route(
        body=feed.encode(),
        content_type="application/atom+xml",
        last_modified="Fri, 20 Nov 2026 08:00:00 GMT",
    )
    feeds.follow(web.url("/atom"), "atom")
    [report] = feeds.poll_all()
    assert sorted(a.title for a in report.added) == ["One", "Two"]
    [again] = feeds.poll_all()
    assert again.not_modified
    assert web.hits("/atom")[-1].headers["if-modified-since"] == "Fri, 20 Nov 2026 08:00:00 GMT"


def test_an_entry_whose_page_fails_is_reported_and_retried(
    web: WebServer, feeds: Feeds, clock: Clock
) -> None:
    url = publish(web, 3)
    del web.routes["/news/1"]
    feeds.follow(url, "wire")
    [report] = feeds.poll_all()
    assert len(report.added) == 2 and report.message == "wire: 2 added, 1 failed"
    assert report.failed[0].endswith("/news/1: HTTP 404 Not Found")
    [line] = feeds.describe()
    assert "1 of 3 pages failed, e.g." in line and "HTTP 404" in line
    web.page("/news/1", article_html("Merger approved 1", story(1)))
    clock.now += 31 * 60
    [retry] = feeds.poll_due()
    assert retry.not_modified and [a.title for a in retry.added] == ["Merger approved 1"]
    assert "last error" not in feeds.describe()[0]


def test_a_failing_feed_backs_off(web: WebServer, feeds: Feeds, clock: Clock) -> None:
    url = publish(web, 1)
    feeds.follow(url, "wire")
    web.routes["/feed.xml"] = Route(status=500)
    delays = []
    for _ in range(8):
        [report] = feeds.poll_due()
        assert report.error == "HTTP 500 Internal Server Error"
        feed = feeds.state.feed("wire")
        assert feed is not None
        delays.append(feed["next_poll"] - clock.now)
        assert feeds.poll_due() == []  # not before its time
        clock.now = feed["next_poll"]
    assert delays[:4] == [1800, 3600, 7200, 14400] and delays[-1] == MAX_BACKOFF
    assert "last error (" in feeds.describe()[0] and "HTTP 500" in feeds.describe()[0]
    web.routes["/feed.xml"] = Route(status=503, headers={"Retry-After": "86400"})
    feeds.poll_due()
    feed = feeds.state.feed("wire")
    assert feed is not None and feed["next_poll"] - clock.now == MAX_BACKOFF
    publish(web, 1)
    clock.now = feed["next_poll"]
    [report] = feeds.poll_due()
    assert len(report.added) == 1 and feeds.state.feed("wire")["failures"] == 0  # type: ignore[index]


def test_following_checks_the_feed(web: WebServer, feeds: Feeds, tmp_path: Path) -> None:
    page = web.page("/page", article_html("Not a feed", story(1)))
    with pytest.raises(ValueError, match="not an RSS or Atom feed"):
        feeds.follow(page)
    with pytest.raises(ValueError, match="HTTP 404"):
        feeds.follow(web.url("/nothing.xml"))
    with pytest.raises(ValueError, match="only http:// and https://"):
        feeds.follow("file:///etc/passwd")
    url = publish(web, 1)
    feeds.follow(url, "wire")
    with pytest.raises(ValueError, match="followed already"):
        feeds.follow(url, "other")
    with pytest.raises(ValueError, match="'wire' is followed already"):
        feeds.follow(publish(web, 1, path="/other.xml"), "wire")
    strict = Feeds(feeds.state, feeds.adder, Fetcher(), clock=feeds.clock)
    with pytest.raises(ValueError, match="127.0.0.1 is a loopback address.*ALLOW_PRIVATE"):
        strict.follow(publish(web, 1, path="/third.xml"))


def test_remove_by_name_or_url(web: WebServer, feeds: Feeds) -> None:
    url = publish(web, 1)
    feeds.follow(url, "wire")
    with pytest.raises(ValueError, match=r"no feed named 'nope' \(followed: wire\)"):
        feeds.unfollow("nope")
    assert feeds.unfollow(url).startswith("stopped following wire")
    assert feeds.describe() == []


def test_an_entry_already_in_the_corpus_is_not_added_again(web: WebServer, feeds: Feeds) -> None:
    url = publish(web, 2)
    feeds.adder.add(web.url("/news/0"))
    feeds.follow(url, "wire")
    [report] = feeds.poll_all()
    assert report.message == "wire: 1 added, 1 already in the corpus"


def test_the_background_loop_polls_due_feeds_and_stops(web: WebServer, feeds: Feeds) -> None:
    feeds.follow(publish(web, 2), "wire")
    stop = threading.Event()
    real = feeds.poll_due

    def once() -> list:  # type: ignore[type-arg]
        stop.set()
        return real()

    feeds.poll_due = once  # type: ignore[method-assign]
    run_feed_loop(feeds, stop, tick=3600)  # returns at once: no sleeping
    assert feeds.state.feed("wire")["articles_added"] == 2  # type: ignore[index]


def test_cli_follow_poll_and_ask_cites_the_pages(
    web: WebServer,
    corpus: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = publish(web, 3)
    c = ["--corpus", str(corpus)]
    assert main([*c, "feeds", "add", url]) == 2
    err = capsys.readouterr().err
    assert "127.0.0.1 is a loopback address" in err and "CITEBOT_ALLOW_PRIVATE_URLS" in err
    monkeypatch.setenv("CITEBOT_ALLOW_PRIVATE_URLS", "true")
    assert main([*c, "feeds", "add", url]) == 0
    assert capsys.readouterr().out.startswith("following example-wire")
    assert main([*c, "feeds", "poll"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("example-wire: 3 added\n  + Merger approved")
    assert main([*c, "ask", "--json", "What did review 2 find?"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["answered"] and answer["citations"][0]["url"] == web.url("/news/2")
    assert answer["citations"][0]["source"] == "Example Wire"
    assert main([*c, "feeds", "poll"]) == 0
    assert capsys.readouterr().out == "example-wire: not modified\n"
    assert web.hits("/feed.xml")[-1].headers["if-none-match"] == '"v1"'
    assert main([*c, "add", web.url("/news/1")]) == 0
    assert capsys.readouterr().out.startswith("already in the corpus: Merger approved 1")
    assert main([*c, "feeds", "list"]) == 0
    assert "articles added: 3" in capsys.readouterr().out
    assert main([*c, "feeds", "remove", "example-wire"]) == 0
    assert main([*c, "feeds"]) == 0
    assert "No feeds yet" in capsys.readouterr().out


async def test_the_asyncio_loop_polls_in_a_worker_thread(web: WebServer, feeds: Feeds) -> None:
    feeds.follow(publish(web, 1), "wire")
    loop = asyncio.get_running_loop()
    polled = asyncio.Event()
    real = feeds.poll_due

    def once() -> list:  # type: ignore[type-arg]
        assert threading.current_thread() is not threading.main_thread()
        reports = real()
        loop.call_soon_threadsafe(polled.set)
        return reports

    feeds.poll_due = once  # type: ignore[method-assign]
    task = asyncio.create_task(feed_task(feeds, tick=3600))
    await asyncio.wait_for(polled.wait(), 10)
    task.cancel()
    assert feeds.state.feed("wire")["articles_added"] == 1  # type: ignore[index]
