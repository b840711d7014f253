"""Configuration: defaults, then a TOML file, then ``CITEBOT_*`` environment variables.

Secrets (chat tokens) never live in the config file: they come from the environment, or
from a file the environment names (``SLACK_BOT_TOKEN_FILE``), and are never logged.
``CITEBOT_HOME`` moves all state (index, SQLite) elsewhere, e.g. a temp dir in tests.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

REPO_CORPUS = Path(__file__).resolve().parent.parent / "corpus"


class SettingsError(Exception):
    """A bad setting; the message names the setting, where it came from, and what is wanted."""


class MissingSecret(SettingsError):
    """A token the chosen command needs is not set."""


def default_home() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "citebot"


@dataclass
class Settings:
    home: Path = field(default_factory=default_home)
    corpus: Path = REPO_CORPUS
    index_dir: Path | None = None  # default: <home>/index/<hash of the corpus path>
    top_k: int = 3
    check_interval: float = 5.0  # seconds between looks at the corpus for changes
    rate_limit: int = 10  # questions a user may ask per minute
    answer_channels: list[str] = field(default_factory=list)  # answer any "...?" here
    log_level: str = "INFO"
    digest_lookback_hours: int = 24
    digest_post_empty: bool = False
    admins: list[str] = field(default_factory=list)  # user ids allowed /add and /feeds
    allow_private_urls: bool = False  # let /add and feeds fetch loopback, private... addresses
    feed_interval_minutes: int = 30  # how often the running bot polls each feed
    slack_api_url: str = "https://slack.com/api/"  # GovSlack, a corporate proxy, a test fake
    answer_workers: int = 2  # the Slack bot answers in this many processes (0: in threads)

    @property
    def resolved_index_dir(self) -> Path:
        if self.index_dir is not None:
            return self.index_dir
        key = hashlib.sha256(str(self.corpus.resolve()).encode()).hexdigest()[:12]
        return self.home / "index" / key

    @property
    def database(self) -> Path:
        return self.home / "citebot.sqlite3"


_LIMITS: dict[str, tuple[float, float]] = {
    "top_k": (1, 10),
    "check_interval": (0.0, 86400.0),
    "rate_limit": (0, 10000),
    "digest_lookback_hours": (1, 24 * 31),
    "feed_interval_minutes": (1, 7 * 24 * 60),
    "answer_workers": (0, 64),
}


def _coerce(name: str, raw: Any, kind: str, origin: str) -> Any:
    where = origin if origin.startswith(("CITEBOT_", "--")) else f"{origin}: {name}"
    try:
        if kind in ("Path", "Path | None"):
            if not isinstance(raw, str) or not raw:
                raise ValueError("expected a path")
            return Path(raw).expanduser()
        if kind == "int":
            if isinstance(raw, bool) or not (isinstance(raw, int) or str(raw).strip().isdigit()):
                raise ValueError("expected a whole number")
            value: Any = int(raw)
        elif kind == "float":
            if isinstance(raw, bool):
                raise ValueError("expected a number")
            value = float(raw)
        elif kind == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise ValueError("expected true or false")
            return text in ("1", "true", "yes", "on")
        elif kind == "list[str]":
            if isinstance(raw, list):
                return [str(x) for x in raw]
            return [x.strip() for x in str(raw).split(",") if x.strip()]
        elif kind == "str":
            value = str(raw)
            if name == "log_level" and value.upper() not in (
                "DEBUG",
                "INFO",
                "WARNING",
                "ERROR",
                "CRITICAL",
            ):
                raise ValueError("expected DEBUG, INFO, WARNING or ERROR")
            if name == "slack_api_url":
                return _api_url(value)
            return value.upper() if name == "log_level" else value
        else:  # pragma: no cover - a new field type needs a branch here
            raise ValueError(f"unsupported setting type {kind}")
    except (TypeError, ValueError) as exc:
        message = str(exc) if "expected" in str(exc) else f"expected a {kind}"
        raise SettingsError(f"{where}: {message}, got {raw!r}") from None
    if name in _LIMITS:
        low, high = _LIMITS[name]
        if not low <= value <= high:
            raise SettingsError(f"{where}: expected {low:g} to {high:g}, got {raw!r}")
    return value


def _api_url(value: str) -> str:
    """An http(s) base URL ending in "/" (the Web API client appends method names)."""
    from urllib.parse import urlsplit

    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("expected an http(s) URL such as https://slack.com/api/")
    return value.strip().rstrip("/") + "/"


def config_path(explicit: Path | None, env: Mapping[str, str]) -> Path | None:
    """The config file: ``--config``, else ``CITEBOT_CONFIG``, else the first that exists
    of ``./citebot.toml`` and ``<home>/config.toml``."""
    if explicit is not None:
        return explicit
    if env.get("CITEBOT_CONFIG"):
        return Path(env["CITEBOT_CONFIG"]).expanduser()
    home = Path(env["CITEBOT_HOME"]).expanduser() if env.get("CITEBOT_HOME") else default_home()
    for candidate in (Path("citebot.toml"), home / "config.toml"):
        if candidate.is_file():
            return candidate
    return None


def load_settings(
    config: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Settings from defaults, the config file, the environment and then ``overrides``
    (command-line options), each later source winning."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    kinds = {f.name: str(f.type) for f in fields(Settings)}
    path = config_path(config, env)
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"config file {path} not found") from None
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"config file {path}: {exc}") from None
        section = data.get("citebot", data)
        for key, raw in section.items():
            if isinstance(raw, dict):
                continue  # a table for another part ([slack], [discord], [digest...])
            if key not in kinds:
                known = ", ".join(sorted(kinds))
                raise SettingsError(f"{path}: unknown setting {key!r} (known: {known})")
            values[key] = _coerce(key, raw, kinds[key], str(path))
    for key, kind in kinds.items():
        name = f"CITEBOT_{key.upper()}"
        if name in env and env[name] != "":
            values[key] = _coerce(key, env[name], kind, name)
    for key, raw in (overrides or {}).items():
        if raw is not None:
            values[key] = _coerce(key, str(raw), kinds[key], f"--{key.replace('_', '-')}")
    return Settings(**values)


def read_config_tables(config: Path | None, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The config file's tables (``[digest]`` and the like), for the parts that own them."""
    path = config_path(config, os.environ if env is None else env)
    if path is None or not path.is_file():
        return {}
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if isinstance(v, dict) and k != "citebot"}


def secret(name: str, env: Mapping[str, str] | None = None) -> str:
    """A token from ``NAME``, or from the file ``NAME_FILE`` names; never echoed back."""
    env = os.environ if env is None else env
    value = env.get(name, "").strip()
    if value:
        return value
    file_name = env.get(f"{name}_FILE", "").strip()
    if file_name:
        try:
            value = Path(file_name).expanduser().read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise MissingSecret(
                f"{name}_FILE names {file_name}, which cannot be read ({exc.strerror})"
            ) from None
        if value:
            return value
        raise MissingSecret(f"{name}_FILE names {file_name}, which is empty")
    raise MissingSecret(f"{name} is not set (export {name}=... or point {name}_FILE at a file)")


class RedactSecrets(logging.Filter):
    """Replaces any token's value in a log record with "(redacted)", whoever logged it."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if len(s) >= 8]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(s in message for s in self.secrets):
            for value in self.secrets:
                message = message.replace(value, "(redacted)")
            record.msg, record.args = message, ()
        return True


def redact_in_logs(*names: str, env: Mapping[str, str] | None = None) -> None:
    """Keep the named secrets out of every log line, on every root handler."""
    values = []
    for name in names:
        try:
            values.append(secret(name, env))
        except MissingSecret:
            continue
    redactor = RedactSecrets(values)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redactor)
