"""A loopback web server for fetching tests: pages, feeds, redirects, errors, slow and
huge answers, with every request recorded (path and headers)."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    etag: str = ""  # answered 304 to a request with a matching If-None-Match
    last_modified: str = ""  # answered 304 to a matching If-Modified-Since
    wait: threading.Event | None = None  # hold the answer until this is set (a slow server)
    stream_bytes: int = 0  # send this many bytes with no Content-Length (a huge page)


@dataclass
class Seen:
    path: str
    headers: dict[str, str]


class WebServer:
    """``routes`` maps a path (with query) to its ``Route``; anything else is a 404."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Seen] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                server.requests.append(
                    Seen(self.path, {k.lower(): v for k, v in self.headers.items()})
                )
                route = server.routes.get(self.path)
                if route is None:
                    self._send(404, b"not found", "text/plain", {})
                    return
                if route.wait is not None:
                    route.wait.wait(10)
                if (route.etag and self.headers.get("If-None-Match") == route.etag) or (
                    route.last_modified
                    and self.headers.get("If-Modified-Since") == route.last_modified
                ):
                    self._send(304, b"", "", {})
                    return
                headers = dict(route.headers)
                if route.etag:
                    headers["ETag"] = route.etag
                if route.last_modified:
                    headers["Last-Modified"] = route.last_modified
                if route.stream_bytes:
                    self._stream(route)
                    return
                self._send(route.status, route.body, route.content_type, headers)

            def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str]) -> None:
                try:
                    self.send_response(status)
                    if ctype:
                        self.send_header("Content-Type", ctype)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _stream(self, route: Route) -> None:
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", route.content_type)
                    self.send_header("Connection", "close")
                    self.end_headers()
                    chunk = b"<p>" + b"x" * 65530 + b"</p>\n"
                    for _ in range(route.stream_bytes // len(chunk) + 1):
                        self.wfile.write(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def page(self, path: str, html: str, **kwargs: Any) -> str:
        self.routes[path] = Route(body=html.encode("utf-8"), **kwargs)
        return self.url(path)

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        self.routes[path] = Route(status=status, headers={"Location": location})
        return self.url(path)

    def hits(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path]

    def __enter__(self) -> WebServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for route in self.routes.values():
            if route.wait is not None:
                route.wait.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def serve() -> Iterator[WebServer]:
    with WebServer() as server:
        yield server


def article_html(title: str, paragraphs: list[str], *, url: str = "", date: str = "") -> str:
    """A news page the way sites write them: metadata in the head, the story in <article>."""
    head = [
        f"<title>{title} | Example Wire</title>",
        f'<meta property="og:title" content="{title}">',
    ]
    head.append('<meta property="og:site_name" content="Example Wire">')
    if url:
        head.append(f'<link rel="canonical" href="{url}">')
    if date:
        head.append(f'<meta property="article:published_time" content="{date}T08:00:00Z">')
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<!doctype html><html><head>{''.join(head)}</head><body><nav>Home | World</nav>"
        f"<article><h1>{title}</h1>{body}</article>"
        f"<script>document.write('tracking')</script><footer>(c) Example</footer></body></html>"
    )


def rss_feed(title: str, items: list[tuple[str, str, str]]) -> str:
    """An RSS 2.0 feed of (title, link, summary) items, newest first, a day apart."""
    entries = "".join(
        f"<item><title>{t}</title><link>{link}</link><guid>{link}</guid>"
        f"<pubDate>{20 - i:02d} Nov 2026 08:00:00 GMT</pubDate>"
        f"<description>{summary}</description></item>"
        for i, (t, link, summary) in enumerate(items)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title><link>http://wire.example/</link>"
        f"<description>News</description>{entries}</channel></rss>"
    )


def atom_feed(title: str, items: list[tuple[str, str, str]]) -> str:
    """An Atom 1.0 feed of (title, link, summary) entries; links may be relative."""
    entries = "".join(
        f"<entry><title>{t}</title><link rel='alternate' href='{link}'/>"
        f"<id>urn:x:{i}</id><updated>2026-11-{20 - i:02d}T08:00:00Z</updated>"
        f"<summary>{summary}</summary></entry>"
        for i, (t, link, summary) in enumerate(items)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{title}</title><id>urn:x</id><updated>2026-11-20T08:00:00Z</updated>"
        f"{entries}</feed>"
    )
