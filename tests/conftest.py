"""Shared fixtures: every test runs with its own state folder and no way off this machine."""

from __future__ import annotations

import ipaddress
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from index import watch
from tests.fakes.slack import FakeSlack

REPO = Path(__file__).resolve().parent.parent
SEED_CORPUS = REPO / "corpus"
# The project's own questions about the bundled corpus (the format of shared/eval/dev.jsonl,
# plus "cite": the paragraph that answers); shared/ need not sit beside a clone.
SEED_QUESTIONS = REPO / "tests" / "data" / "seed_questions.jsonl"


def _is_loopback(host: object) -> bool:
    if not isinstance(host, str):
        return True  # AF_UNIX paths and the like
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse any connection or DNS look-up that would leave 127.0.0.1."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def guard(address: object) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if not _is_loopback(host):
            raise ConnectionRefusedError(f"test tried to reach {address!r}")

    def connect(self: socket.socket, address: object) -> None:
        guard(address)
        return real_connect(self, address)  # type: ignore[arg-type]

    def connect_ex(self: socket.socket, address: object) -> int:
        guard(address)
        return real_connect_ex(self, address)  # type: ignore[arg-type]

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        if host is not None and not _is_loopback(
            host if not isinstance(host, bytes) else host.decode()
        ):
            raise socket.gaierror(f"test tried to look up {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture(autouse=True)
def citebot_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("CITEBOT_HOME", str(home))
    for name in (
        "CITEBOT_CONFIG",
        "CITEBOT_CORPUS",
        "CITEBOT_INDEX_DIR",
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "https_proxy",
        "http_proxy",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return home


@pytest.fixture(autouse=True)
def no_lingering_watchers() -> Iterator[None]:
    """An index store's watcher thread must not look at (and log about) a test's corpus
    after that test has ended."""
    yield
    watch.stop_all(timeout=30)


@pytest.fixture
def corpus(tmp_path: Path) -> Iterator[Path]:
    """A private copy of the bundled corpus that a test may change."""
    target = tmp_path / "corpus"
    shutil.copytree(SEED_CORPUS, target)
    yield target


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    """A loopback fake of Slack's Web API, one per test (the Slack test modules)."""
    server = FakeSlack().start()
    yield server
    server.stop()
