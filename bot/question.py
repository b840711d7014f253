"""Turning what a person typed in chat into the question the index should see.

Chat text arrives wrapped in platform syntax: Slack's ``<@U123>`` and ``<url|label>``,
Discord's ``<@!123>`` and ``<:emoji:123>``, Markdown, emoji codes.  None of it is part of
the question, and some of it (``@everyone``) must never be echoed back.
"""

from __future__ import annotations

import html
import re

MAX_QUESTION_CHARS = 2000

_SLACK_LINK = re.compile(r"<(?:https?|mailto):[^>|]*\|([^>]*)>")
_ANGLE_REFS = re.compile(
    r"<(?:@[!&]?[\w]+(?:\|[^>]*)?|#[\w]+(?:\|([^>]*))?|![\w^-]+(?:\|[^>]*)?|"
    r"a?:\w+:\d+|t:\d+(?::\w)?|(?:https?|mailto):[^>]*|/[\w ]+:\d+)>"
)
_URL = re.compile(r"\bhttps?://\S+|\bwww\.\S+")
_EMOJI_CODE = re.compile(r":[a-z0-9_+-]+:(?::skin-tone-\d:)?")
_EVERYONE = re.compile(r"(?<!\w)@(everyone|here|channel)\b", re.IGNORECASE)
_CODE_FENCE = re.compile(r"```(?:\w+\n)?(.*?)```", re.DOTALL)
_MARKUP = re.compile(r"(\*\*|__|\|\||~~|[*_~`])(?=\S)(.+?)(?<=\S)\1")
_QUOTE_PREFIX = re.compile(r"^\s*>+\s?", re.MULTILINE)
_HTML_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_SPACES = re.compile(r"\s+")


def clean_question(raw: str) -> str:
    """The question's words alone: mentions, links, emoji codes and markup removed."""
    text = _SLACK_LINK.sub(r"\1", raw)
    text = _ANGLE_REFS.sub(lambda m: f" {m.group(1) or ''} ", text)
    text = html.unescape(text)
    text = _URL.sub(" ", text)
    text = _EMOJI_CODE.sub(" ", text)
    text = _EVERYONE.sub(" ", text)
    text = _CODE_FENCE.sub(r"\1", text)
    text = _QUOTE_PREFIX.sub("", text)
    for _ in range(3):  # nested markup such as *_this_*
        text = _MARKUP.sub(r"\2", text)
    text = _HTML_TAG.sub(" ", text)
    return _SPACES.sub(" ", text).strip()
