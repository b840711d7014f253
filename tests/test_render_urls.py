"""One URL rule for every chat message: a link only for http(s), percent-encoded."""

from __future__ import annotations

import pytest

from bot.render import discord, slack
from bot.render.text import safe_url


@pytest.mark.parametrize(
    "url",
    [
        "!channel",
        "@U12345",
        "<!here>",
        "javascript:alert(1)",
        "mailto:a@b.c",
        "http://",
        "//x.y/z",
        "https://exa mple.com",
        "https://example.com/\nx",
        "",
    ],
)
def test_anything_but_an_http_url_is_no_link(url: str) -> None:
    assert safe_url(url) is None
    assert "<" not in slack._link(url, "Title").replace("&lt;", "")
    assert "](" not in discord._link(url, "Title")


def test_an_http_url_is_percent_encoded_inside_links() -> None:
    url = "https://example.com/a|b>c<d e)f(g?q=1&r=2#frag"
    encoded = safe_url(url)
    assert encoded == "https://example.com/a%7Cb%3Ec%3Cd%20e%29f%28g?q=1&r=2#frag"
    assert slack._link(url, "T|<@U1>") == (
        "<https://example.com/a%7Cb%3Ec%3Cd%20e%29f%28g?q=1&amp;r=2#frag|T\u2758&lt;@U1&gt;>"
    )
    link = discord._link(url, "T @everyone")
    assert link.startswith("[T @\u200beveryone](<https://example.com/a%7Cb%3Ec%3Cd%20e%29f%28g")
