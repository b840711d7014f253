"""Fetching web pages and feeds that chat users name, safely.

The bot fetches whatever URL someone pastes, so this client refuses to be pointed at the
machine it runs on or its network (server-side request forgery): only ``http``/``https``;
every address a host name resolves to must be public (not private, loopback, link-local,
multicast, reserved or unspecified), checked again for every redirect, which is followed
by hand; and the connection is made to the very address that was checked (the ``Host``
header, TLS SNI and certificate check still use the name), so a DNS answer that changes
between the check and the connection (DNS rebinding) cannot slip through.  Sizes and
times are capped; nothing fetched is ever executed.  Proxies from the environment are
not used: they would connect on our behalf to addresses we could not check.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit, urlunsplit

import urllib3
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import NewConnectionError, ProtocolError, SSLError
from urllib3.exceptions import TimeoutError as Urllib3Timeout

USER_AGENT = "citebot/0.1 (news citation bot; +https://github.com/citebot/citebot)"
REDIRECT_CODES = (301, 302, 303, 307, 308)
PRIVATE_SETTING = "allow_private_urls = true, or CITEBOT_ALLOW_PRIVATE_URLS=true"

Resolver = Callable[[str, int], list[str]]
_RESOLVERS = ThreadPoolExecutor(8, thread_name_prefix="citebot-dns")


class FetchError(Exception):
    """A URL that could not be fetched; the message is one line a user can act on."""

    def __init__(self, url: str, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limits:
    connect_timeout: float = 5.0
    read_timeout: float = 10.0  # longest silence while reading
    total_timeout: float = 30.0  # a whole fetch, redirects included
    max_bytes: int = 5 * 2**20
    max_redirects: int = 5


@dataclass
class Response:
    url: str  # after redirects
    status: int  # 200, or 304 for a conditional request whose resource did not change
    body: bytes
    content_type: str  # "text/html", without parameters
    charset: str  # from the Content-Type header, "" when it says none
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def check_scheme(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL; anything else is refused."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise FetchError(url, f"not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        what = f"a {scheme}: URL" if scheme else "not a URL"
        raise FetchError(url, f"{what}; only http:// and https:// links can be added")
    if not parts.hostname:
        raise FetchError(url, "the URL has no host name")
    try:  # an international name (bücher.example) as DNS and the Host header spell it
        host = parts.hostname.encode("idna").decode("ascii")
    except UnicodeError:
        raise FetchError(url, f"{parts.hostname!r} is not a valid host name") from None
    return scheme, host, port or (443 if scheme == "https" else 80)


def address_problem(address: str) -> str | None:
    """Why an address may not be fetched from (a private, loopback... one), or None."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind, flag in (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("unspecified", ip.is_unspecified),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
        ("non-public", not ip.is_global),
    ):
        if flag:
            return f"{address} is a {kind} address"
    return None


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (an IP literal resolves to itself)."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class Fetcher:
    """GETs one URL at a time under ``limits``, following redirects by hand."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        limits: Limits | None = None,
        resolver: Resolver = system_resolver,
        clock: Callable[[], float] = time.monotonic,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.allow_private = allow_private
        self.ssl_context = ssl_context  # default: the system's trusted certificates
        self.limits = limits or Limits()
        self.resolver = resolver
        self.clock = clock

    def get(
        self, url: str, *, accept: str = "*/*", headers: dict[str, str] | None = None
    ) -> Response:
        """The response to GET ``url`` (200, or 304 when ``headers`` made it conditional).

        Raises ``FetchError`` for a refused address, a timeout, a page over the size cap,
        too many redirects, or any status other than 200 and 304.
        """
        deadline = self.clock() + self.limits.total_timeout
        current = url.strip()
        for _ in range(self.limits.max_redirects + 1):
            response = self._request(current, accept, headers or {}, deadline)
            if response.status in REDIRECT_CODES:
                location = response.headers.get("location", "")
                if not location:
                    raise FetchError(url, f"HTTP {response.status} redirect without a Location")
                current = urljoin(current, location)
                continue
            return response
        raise FetchError(url, f"more than {self.limits.max_redirects} redirects")

    def _address(self, url: str, host: str, port: int) -> str:
        # getaddrinfo has no timeout of its own: wait for it at most the connect timeout
        # (a hung look-up is left to finish in its thread; the fetch fails now).
        lookup = _RESOLVERS.submit(self.resolver, host, port)
        try:
            addresses = lookup.result(timeout=self.limits.connect_timeout)
        except FutureTimeout:
            raise FetchError(url, f"looking up {host} took too long") from None
        except (OSError, UnicodeError) as exc:
            raise FetchError(url, f"cannot resolve {host} ({exc})") from None
        if not addresses:
            raise FetchError(url, f"cannot resolve {host}")
        if not self.allow_private:
            for address in addresses:
                problem = address_problem(address)
                if problem:
                    raise FetchError(
                        url, f"refused: {problem} (to allow it, set {PRIVATE_SETTING})"
                    )
        return addresses[0]

    def _request(self, url: str, accept: str, extra: dict[str, str], deadline: float) -> Response:
        scheme, host, port = check_scheme(url)
        address = self._address(url, host, port)
        parts = urlsplit(url)
        target = urlunsplit(("", "", parts.path or "/", parts.query, "")) or "/"
        default_port = 443 if scheme == "https" else 80
        host_header = (f"[{host}]" if ":" in host else host) + (
            f":{port}" if port != default_port else ""
        )
        remaining = deadline - self.clock()
        if remaining <= 0:
            raise FetchError(url, f"took longer than {self.limits.total_timeout:g} s")
        timeout = urllib3.Timeout(
            connect=min(self.limits.connect_timeout, remaining),
            read=min(self.limits.read_timeout, remaining),
        )
        pool: urllib3.HTTPConnectionPool
        if scheme == "https":  # connect to the checked address, verify the certificate by name
            pool = urllib3.HTTPSConnectionPool(
                address,
                port,
                timeout=timeout,
                retries=False,
                cert_reqs="CERT_REQUIRED",
                assert_hostname=host,
                server_hostname=host,
                ssl_context=self.ssl_context,
            )
        else:
            pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False)
        headers = {
            "Host": host_header,
            "User-Agent": USER_AGENT,
            "Accept": accept,
            "Accept-Encoding": "gzip, deflate",
            **extra,
        }
        try:
            raw = pool.urlopen(
                "GET",
                target,
                headers=headers,
                redirect=False,
                retries=False,
                preload_content=False,
                assert_same_host=False,
            )
            try:
                return self._read(url, raw, deadline)
            finally:
                raw.release_conn()
        except FetchError:
            raise
        except (NewConnectionError, ConnectionError) as exc:  # before timeouts: a subclass
            raise FetchError(url, f"cannot connect to {host_header} ({_reason(exc)})") from None
        except (TimeoutError, Urllib3Timeout):
            raise FetchError(url, "the server took too long to answer") from None
        except SSLError as exc:
            raise FetchError(url, f"TLS error ({_short(exc)})") from None
        except (ProtocolError, Urllib3Error, OSError, ValueError) as exc:
            raise FetchError(url, f"the connection failed ({_short(exc)})") from None
        finally:
            pool.close()

    def _read(self, url: str, raw: urllib3.BaseHTTPResponse, deadline: float) -> Response:
        headers = {k.lower(): v for k, v in raw.headers.items()}
        status = raw.status
        if status in REDIRECT_CODES or status == 304:
            return Response(url, status, b"", "", "", headers)
        if status != 200:
            reason = f"HTTP {status} {raw.reason or ''}".strip()
            raise FetchError(url, reason, retry_after=_retry_after(headers))
        cap = self.limits.max_bytes
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise FetchError(url, f"larger than the {_mib(cap)} limit ({_mib(int(declared))})")
        chunks: list[bytes] = []
        size = 0
        while chunk := raw.read1(64 * 1024, decode_content=True):  # returns what has come
            size += len(chunk)
            if size > cap:
                raise FetchError(url, f"larger than the {_mib(cap)} limit")
            if self.clock() > deadline:
                raise FetchError(url, f"took longer than {self.limits.total_timeout:g} s")
            chunks.append(chunk)
        media, _, params = headers.get("content-type", "").partition(";")
        charset = ""
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.lower() == "charset":
                charset = value.strip().strip("\"'")
        return Response(url, status, b"".join(chunks), media.strip().lower(), charset, headers)


def _retry_after(headers: dict[str, str]) -> float | None:
    value = headers.get("retry-after", "").strip()
    return float(value) if value.isdigit() else None


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size // 1024} KiB"


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:160]


def _reason(exc: BaseException) -> str:
    """The reason ("Connection refused") without urllib3's wrapper text around it."""
    text = str(exc)
    return _short(exc).rpartition("] ")[2] if "] " in text else _short(exc)
