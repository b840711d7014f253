"""The safe HTTP client: what it fetches, what it refuses, and the message it gives."""

from __future__ import annotations

import gzip
import ssl
import threading
from collections.abc import Iterator

import pytest
import trustme

from bot import fetch
from bot.fetch import Fetcher, FetchError, Limits
from tests.fakes.web import Route, WebServer, article_html


@pytest.fixture
def web() -> Iterator[WebServer]:
    with WebServer() as server:
        yield server


@pytest.fixture
def loopback_is_public(monkeypatch: pytest.MonkeyPatch) -> None:
    """Treat 127.0.0.1 as if it were a public address, so redirects to truly private
    addresses from a "public" server can be tested on loopback."""
    real = fetch.address_problem
    monkeypatch.setattr(fetch, "address_problem", lambda a: None if a == "127.0.0.1" else real(a))


def test_fetches_a_page_naming_citebot(web: WebServer) -> None:
    url = web.page("/story", article_html("Hello", ["World."]))
    response = Fetcher(allow_private=True).get(url)
    assert response.status == 200 and response.content_type == "text/html"
    assert response.charset == "utf-8" and b"<article>" in response.body
    assert web.hits("/story")[0].headers["user-agent"].startswith("citebot/")


def test_loopback_is_refused_naming_the_address_and_the_setting(web: WebServer) -> None:
    url = web.page("/story", "<p>hi</p>")
    with pytest.raises(FetchError) as caught:
        Fetcher().get(url)
    message = str(caught.value)
    assert "127.0.0.1 is a loopback address" in message
    assert "CITEBOT_ALLOW_PRIVATE_URLS=true" in message and "allow_private_urls" in message
    assert web.requests == []  # refused before connecting


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("10.0.0.5", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("::ffff:127.0.0.1", "loopback"),
        ("100.64.0.1", "non-public"),
    ],
)
def test_every_kind_of_private_address_is_refused_after_resolving(address: str, kind: str) -> None:
    fetcher = Fetcher(resolver=lambda host, port: ["93.184.216.34", address])
    with pytest.raises(FetchError, match=f"{address} is a {kind} address"):
        fetcher.get("https://news.example/story")


def test_only_http_and_https(web: WebServer) -> None:
    for url, words in [
        ("file:///etc/passwd", "a file: URL"),
        ("ftp://example.com/x", "a ftp: URL"),
        ("javascript:alert(1)", "a javascript: URL"),
        ("example.com/story", "not a URL"),
        ("http://", "no host name"),
    ]:
        with pytest.raises(FetchError, match=words):
            Fetcher(allow_private=True).get(url)


def test_redirects_are_followed_to_a_limit(web: WebServer) -> None:
    web.page("/final", "<p>here</p>")
    web.redirect("/a", "/b", 301)
    web.redirect("/b", web.url("/final"), 308)
    response = Fetcher(allow_private=True).get(web.url("/a"))
    assert response.url == web.url("/final") and b"here" in response.body
    web.redirect("/loop", "/loop")
    with pytest.raises(FetchError, match="more than 5 redirects"):
        Fetcher(allow_private=True).get(web.url("/loop"))


def test_a_redirect_to_a_private_address_is_refused(
    web: WebServer, loopback_is_public: None
) -> None:
    web.redirect("/innocent", "http://169.254.169.254/latest/meta-data/")
    with pytest.raises(FetchError, match="169.254.169.254 is a link-local address"):
        Fetcher().get(web.url("/innocent"))
    web.redirect("/sneaky", "http://10.0.0.7:8080/admin")
    with pytest.raises(FetchError, match="10.0.0.7 is a private address"):
        Fetcher().get(web.url("/sneaky"))


def test_not_found_and_server_errors_are_one_line(web: WebServer) -> None:
    with pytest.raises(FetchError, match=r"HTTP 404 Not Found$"):
        Fetcher(allow_private=True).get(web.url("/missing"))
    web.routes["/busy"] = Route(status=503, headers={"Retry-After": "120"})
    with pytest.raises(FetchError) as caught:
        Fetcher(allow_private=True).get(web.url("/busy"))
    assert caught.value.retry_after == 120 and "HTTP 503" in str(caught.value)


def test_conditional_request_gets_304(web: WebServer) -> None:
    web.routes["/feed"] = Route(body=b"<rss/>", etag='"v1"', last_modified="Mon, 23 Nov 2026")
    fetcher = Fetcher(allow_private=True)
    first = fetcher.get(web.url("/feed"))
    assert first.headers["etag"] == '"v1"'
    second = fetcher.get(web.url("/feed"), headers={"If-None-Match": '"v1"'})
    assert second.not_modified and second.body == b""


def test_a_slow_server_times_out(web: WebServer) -> None:
    web.routes["/slow"] = Route(body=b"late", wait=threading.Event())
    fetcher = Fetcher(allow_private=True, limits=Limits(read_timeout=0.2))
    with pytest.raises(FetchError, match="took too long"):
        fetcher.get(web.url("/slow"))


def test_a_huge_page_is_cut_off(web: WebServer) -> None:
    web.routes["/huge"] = Route(stream_bytes=2 * 2**20)  # no Content-Length
    web.routes["/declared"] = Route(body=b"x" * 300_000)
    fetcher = Fetcher(allow_private=True, limits=Limits(max_bytes=256 * 1024))
    with pytest.raises(FetchError, match="larger than the 256 KiB limit"):
        fetcher.get(web.url("/huge"))
    with pytest.raises(FetchError, match=r"larger than the 256 KiB limit \(292 KiB\)"):
        fetcher.get(web.url("/declared"))


def test_gzip_is_decoded_and_counted_decoded(web: WebServer) -> None:
    bomb = gzip.compress(b"a" * 2**20)
    web.routes["/gz"] = Route(body=bomb, headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchError, match="larger than"):
        Fetcher(allow_private=True, limits=Limits(max_bytes=100_000)).get(web.url("/gz"))
    assert len(Fetcher(allow_private=True).get(web.url("/gz")).body) == 2**20


def test_a_closed_port_is_a_clear_message() -> None:
    with WebServer() as server:
        url = server.url("/x")
    with pytest.raises(FetchError, match="cannot connect to 127.0.0.1"):
        Fetcher(allow_private=True).get(url)


def test_https_connects_to_the_checked_address_and_verifies_the_name() -> None:
    """The connection goes to the address that was checked (no second DNS look-up: the
    test guard would refuse one for news.example), while TLS still checks the name."""
    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("news.example").configure_cert(server_tls)
    client_tls = ssl.create_default_context()
    ca.configure_trust(client_tls)
    looked_up: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        looked_up.append(host)
        return ["127.0.0.1"]

    with WebServer(tls=server_tls) as web:
        web.page("/story", "<p>over TLS</p>")
        fetcher = Fetcher(allow_private=True, resolver=resolver, ssl_context=client_tls)
        response = fetcher.get(f"https://news.example:{web.port}/story")
        assert b"over TLS" in response.body and looked_up == ["news.example"]
        assert web.hits("/story")[0].headers["host"] == f"news.example:{web.port}"
        with pytest.raises(FetchError, match="TLS error"):  # a certificate for another name
            fetcher.get(f"https://other.example:{web.port}/story")
        with pytest.raises(FetchError, match="TLS error"):  # not trusted: the system's CAs
            Fetcher(allow_private=True, resolver=resolver).get(
                f"https://news.example:{web.port}/story"
            )


def test_an_international_host_name_is_looked_up_in_its_dns_form() -> None:
    asked: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["10.1.1.1"]

    with pytest.raises(FetchError, match="10.1.1.1 is a private address"):
        Fetcher(resolver=resolver).get("https://bücher.example/x")
    assert asked == ["xn--bcher-kva.example"]


def test_a_dns_look_up_that_hangs_is_given_up() -> None:
    release = threading.Event()

    def hanging(host: str, port: int) -> list[str]:
        release.wait(5)
        return ["93.184.216.34"]

    fetcher = Fetcher(resolver=hanging, limits=Limits(connect_timeout=0.1))
    try:
        with pytest.raises(FetchError, match="looking up slow.example took too long"):
            fetcher.get("https://slow.example/")
    finally:
        release.set()
