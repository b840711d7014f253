"""/add, /feeds and /sources as both chat bots run them: admins only, private replies."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.admin_commands import ChatAdmin
from bot.core import build_core
from bot.settings import Settings, SettingsError, load_settings
from bot.state import State
from tests.fakes.web import Route, WebServer, article_html, rss_feed

STORY = [
    "The harbour authority in Valdoria approved the new ferry terminal on Friday.",
    "Construction of the Valdoria terminal starts in March and costs 40 million euros.",
]


@pytest.fixture
def web() -> Iterator[WebServer]:
    with WebServer() as server:
        yield server


def chat(
    corpus: Path, home: Path, platform: str = "slack", *, allow_private: bool = True
) -> ChatAdmin:
    settings = Settings(
        home=home, corpus=corpus, admins=["U_ADMIN"], allow_private_urls=allow_private
    )
    core = build_core(settings)
    return ChatAdmin(core, State(settings.database), platform=platform)


def test_add_works_for_an_admin_and_the_page_is_cited(
    web: WebServer, corpus: Path, citebot_home: Path
) -> None:
    url = web.page(
        "/ferry", article_html("Valdoria approves ferry terminal", STORY, date="2026-11-20")
    )
    admin = chat(corpus, citebot_home)
    reply = admin.handle_add("U_ADMIN", f"<{url}|ferry story>")  # as Slack sends a link
    assert reply.ok and reply.text.startswith("Added: Valdoria approves ferry terminal - " + url)
    admin.core.store.refresh()
    answer = admin.core.ask("When does construction of the Valdoria terminal start?")
    assert answer.answered and answer.citations[0].url == url
    again = admin.handle_add("U_ADMIN", url)
    assert again.text.startswith("Already in the corpus: Valdoria approves ferry terminal")
    assert len(web.hits("/ferry")) == 1


def test_add_is_refused_for_anyone_else_before_fetching(
    web: WebServer, corpus: Path, citebot_home: Path
) -> None:
    url = web.page("/ferry", article_html("Ferry", STORY))
    for platform in ("slack", "discord"):
        reply = chat(corpus, citebot_home, platform).handle_add("U_SOMEONE", url)
        assert not reply.ok and reply.text.startswith("Only citebot admins can add articles")
        assert ("manage the server" in reply.text) == (platform == "discord")
    assert web.requests == [] and not list(corpus.glob("*.html"))


def test_discord_members_who_manage_the_server_may_add(
    web: WebServer, corpus: Path, citebot_home: Path
) -> None:
    url = web.page("/ferry", article_html("Ferry", STORY))
    reply = chat(corpus, citebot_home, "discord").handle_add("123", url, manages_server=True)
    assert reply.ok and reply.text.startswith("Added: Ferry")


def test_add_explains_every_refusal_in_one_line(
    web: WebServer, corpus: Path, citebot_home: Path
) -> None:
    web.routes["/report.pdf"] = Route(body=b"%PDF-1.7", content_type="application/pdf")
    admin = chat(corpus, citebot_home)
    assert admin.handle_add("U_ADMIN", "").text.startswith("Usage: /add URL")
    assert admin.handle_add("U_ADMIN", "not a link").text.startswith(
        "No link there. Usage: /add URL"
    )
    assert "At most 5 URLs" in admin.handle_add("U_ADMIN", " ".join(["http://a.example/"] * 6)).text
    reply = admin.handle_add("U_ADMIN", f"{web.url('/report.pdf')} {web.url('/gone')}")
    assert not reply.ok
    assert reply.text.split("\n") == [
        f"Not added: {web.url('/report.pdf')}: is a PDF (application/pdf), not a web page",
        f"Not added: {web.url('/gone')}: HTTP 404 Not Found",
    ]
    strict = chat(corpus, citebot_home, allow_private=False)
    refused = strict.handle_add("U_ADMIN", web.url("/x")).text
    assert "127.0.0.1 is a loopback address" in refused and "allow_private_urls" in refused
    assert "\n" not in refused


def test_feeds_add_list_remove_for_admins_only(
    web: WebServer, corpus: Path, citebot_home: Path
) -> None:
    link = web.page("/ferry", article_html("Ferry", STORY))
    web.routes["/rss"] = Route(
        body=rss_feed("Harbour News", [("Ferry", link, "s")]).encode(),
        content_type="application/rss+xml",
    )
    admin = chat(corpus, citebot_home)
    assert admin.handle_feeds("U_SOMEONE", "").text.startswith(
        "Only citebot admins can manage feeds"
    )
    assert admin.handle_feeds("U_ADMIN", "").text.startswith("No feeds yet")
    added = admin.handle_feeds("U_ADMIN", f"add {web.url('/rss')} harbour")
    assert added.text == (
        "Following harbour (Harbour News): 1 entries, added at the next poll"
        " (polled every 30 minutes)."
    )
    assert admin.handle_feeds("U_ADMIN", f"add {web.url('/rss')}").text.startswith(
        "Nothing changed: "
    )
    [report] = admin.feeds.poll_due()
    assert report.message == "harbour: 1 added"
    listing = admin.handle_feeds("U_ADMIN", "list").text
    assert listing.startswith(f"harbour  {web.url('/rss')}") and "articles added: 1" in listing
    assert admin.handle_feeds("U_ADMIN", "remove harbour").text.startswith("Stopped following")
    assert admin.handle_feeds("U_ADMIN", "frobnicate").text.startswith("Usage: /feeds")


def test_sources_lists_the_most_recent_articles_with_dates_and_links(
    web: WebServer, corpus: Path, citebot_home: Path
) -> None:
    admin = chat(corpus, citebot_home)
    # Dated in the past year: trafilatura (rightly) ignores publication dates in the future.
    url = web.page("/ferry", article_html("Valdoria ferry", STORY, date="2026-01-02"))
    admin.handle_add("U_ADMIN", url)
    admin.core.store.refresh()
    text = admin.handle_sources("").text
    lines = text.split("\n")
    assert lines[0] == "The 5 most recent of 5 articles:"
    ferry = lines.index("\u2022 Valdoria ferry (Example Wire \u00b7 2026-01-02)")
    assert lines[ferry + 1] == f"  {url}"
    assert (
        lines.index(
            '\u2022 Meta is going to "close source"? (JamThame Capital '
            "(jt-capital.com.cn) \u00b7 2025-12-22)"
        )
        > ferry
    )  # older, so later
    assert admin.handle_sources("1").text.count("\u2022") == 1  # anyone may list
    assert admin.handle_sources("lots").text.startswith("Usage: /sources [N]")


def test_the_new_settings_from_the_environment() -> None:
    env = {
        "CITEBOT_ADMINS": "U_ADMIN, 1234567890",
        "CITEBOT_ALLOW_PRIVATE_URLS": "true",
        "CITEBOT_FEED_INTERVAL_MINUTES": "15",
    }
    settings = load_settings(env=env)
    assert settings.admins == ["U_ADMIN", "1234567890"]
    assert settings.allow_private_urls and settings.feed_interval_minutes == 15
    defaults = load_settings(env={})
    assert (defaults.admins, defaults.allow_private_urls, defaults.feed_interval_minutes) == (
        [],
        False,
        30,
    )
    with pytest.raises(SettingsError, match="CITEBOT_FEED_INTERVAL_MINUTES: expected 1 to"):
        load_settings(env={"CITEBOT_FEED_INTERVAL_MINUTES": "0"})
    with pytest.raises(SettingsError, match="CITEBOT_ALLOW_PRIVATE_URLS: expected true or false"):
        load_settings(env={"CITEBOT_ALLOW_PRIVATE_URLS": "maybe"})


def test_long_replies_fit_a_discord_message() -> None:
    from bot.admin_commands import _fit

    lines = [f"\u2022 Article {n} " + "x" * 80 for n in range(60)]
    text = _fit(lines)
    assert len(text) <= 1900 and text.endswith(" more") and text.startswith("\u2022 Article 0 ")
    kept = text.split("\n")
    assert kept[-1] == f"... and {60 - len(kept) + 1} more"
    assert _fit(["short", "lines"]) == "short\nlines"


def test_articles_from_a_feed_reach_the_next_digest_by_themselves(
    web: WebServer, corpus: Path, citebot_home: Path
) -> None:
    from bot.digest import DigestDesk

    now = [1_795_000_000.0]
    settings = Settings(home=citebot_home, corpus=corpus, allow_private_urls=True)
    core = build_core(settings)
    state = State(settings.database, clock=lambda: now[0])
    admin = ChatAdmin(core, state, platform="slack", clock=lambda: now[0])
    desk = DigestDesk(core, state, "slack", clock=lambda: now[0])
    desk.build()  # yesterday's digest: the bundled articles are old news now
    link = web.page("/ferry", article_html("Valdoria approves ferry terminal", STORY))
    web.routes["/rss"] = Route(
        body=rss_feed("Harbour News", [("Ferry", link, "s")]).encode(),
        content_type="application/rss+xml",
    )
    admin.feeds.follow(web.url("/rss"), "harbour")
    now[0] += 3600
    [report] = admin.feeds.poll_due()  # what the running bot's poller does
    assert report.message == "harbour: 1 added"
    core.store.refresh()
    digest = desk.build(since=now[0] - 1800)
    [story] = digest.stories
    assert [a.url for a in story.articles] == [link]
    assert story.articles[0].title == "Valdoria approves ferry terminal"


def test_one_entry_point_for_an_adapter(web: WebServer, corpus: Path, citebot_home: Path) -> None:
    admin = chat(corpus, citebot_home, "discord")
    url = web.page("/ferry", article_html("Ferry", STORY))
    assert admin.handle("/add", "U_SOMEONE", url).text.startswith("Only citebot admins")
    assert admin.handle("add", "42", url, manages_server=True).text.startswith("Added: Ferry")
    assert admin.handle("/feeds", "U_ADMIN", "").text.startswith("No feeds yet")
    assert admin.handle("/sources", "anyone", "2").text.startswith("The 2 most recent of")
    with pytest.raises(ValueError):
        admin.handle("/ask", "U_ADMIN", "")
