"""Dates as articles write them, stored as ISO dates (``YYYY-MM-DD``) or not at all.

A date is never guessed nor cut to a fixed length: "Tue Nov 19" (no year) or "next
tuesday" (relative) is no date, and a timestamp keeps the day it was written with
("2019-11-19T23:30:00Z" is the 19th, whatever the machine's time zone).  Written-out
dates in any language go to ``dateparser``, imported only when one is met (it takes a
second or two to load).
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from typing import Any

_ISO_RE = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:$|[T\s_]|[+-]\d\d:?\d\d$|Z$)")
_URL_DATE_RE = re.compile(r"/((?:19|20)\d\d)[/-]([01]?\d)(?:[/-]([0-3]?\d))?(?=[/-]|$)")
_URL_COMPACT_RE = re.compile(r"/((?:19|20)\d\d)([01]\d)([0-3]\d)(?=/)")
_SETTINGS: dict[str, Any] = {
    "REQUIRE_PARTS": ["day", "month", "year"],
    "PARSERS": ["custom-formats", "absolute-time"],  # no "relative-time": no "yesterday"
    "RETURN_AS_TIMEZONE_AWARE": False,
    "STRICT_PARSING": True,
}


def _valid(year: int, month: int, day: int) -> str:
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return ""


@lru_cache(maxsize=4096)
def iso_date(text: str) -> str:
    """``text`` as ``YYYY-MM-DD`` when it names one whole day, else ""."""
    text = " ".join(text.split())
    if not text or len(text) > 80 or not re.search(r"\d", text):
        return ""
    match = _ISO_RE.match(text)
    if match:
        return _valid(*(int(g) for g in match.groups()))
    import dateparser  # slow to import: only for dates written out

    try:
        parsed = dateparser.parse(text, settings=_SETTINGS)
    except (ValueError, OverflowError, TypeError):
        return ""
    if parsed is None or not 1900 <= parsed.year <= 2100:
        return ""
    return parsed.date().isoformat()


def date_from_url(url: str) -> str:
    """The date an address carries (``/2019/11/19/``): ``YYYY-MM-DD``, ``YYYY-MM`` or ""."""
    path = re.sub(r"^[a-z]+://[^/]+", "", url or "", flags=re.IGNORECASE).split("?")[0]
    match = _URL_DATE_RE.search(path) or _URL_COMPACT_RE.search(path)
    if not match:
        return ""
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        return ""
    if match.group(3):
        return _valid(year, month, int(match.group(3)))
    return f"{year:04d}-{month:02d}"
