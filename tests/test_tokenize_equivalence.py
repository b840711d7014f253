"""The tokenizer's fast path must give exactly what the regular expressions gave."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain

import numpy as np

from index.analyzer import (
    _ASCII_SPECIALS,
    _ASCII_WORD_RE,
    _SPECIALS,
    _TOKEN_RE,
    _WORD_RE,
    _number_terms,
    _word,
    fold,
    tokenize,
)


def _old_tokenize(text: str) -> list[str]:
    """``analyzer.tokenize`` before its split fast path (commit 262afe7), verbatim."""
    text = (text if text.isascii() else fold(text)).casefold()
    # Possessives: "meta's" and "metas'" index as "meta".
    text = text.replace("'s ", " ").replace("s' ", "s ")
    ascii_only = text.isascii()
    plain = (
        not any(c in text for c in _ASCII_SPECIALS)  # 11 memchr scans beat one regex
        if ascii_only
        else not _SPECIALS.search(text)
    )
    if plain:
        # No digits and no colons: no numbers, money or tickers, only words, so the
        # words' cached terms can be strung together without a Python-level loop.
        words = (_ASCII_WORD_RE if ascii_only else _WORD_RE).findall(text)
        return list(chain.from_iterable(map(lambda w: _word(w)[0], words)))
    terms: list[str] = []
    extend = terms.extend
    previous_word: str | None = None
    previous_end = -1
    for match in _TOKEN_RE.finditer(text):
        kind = match.lastgroup
        if kind == "word":  # by far the most common: one cached look-up
            word_terms, previous_word = _word(match.group())
            extend(word_terms)
            previous_end = match.end()
            continue
        raw = match.group()
        if kind == "ticker":
            exchange, _, symbol = raw.partition(":")
            extend((raw, exchange, symbol))
        elif kind == "money":
            amount = raw[1:].strip().replace(",", "")
            extend((amount, raw[0] + amount))
        else:
            extend(_number_terms(raw))
            # "Llama 4", "Gemini 3", "Q1 2026": the name and its version as one term too.
            number = raw.strip()
            if (
                previous_word
                and match.start() - previous_end <= 1
                and number.isdigit()
                and (len(number) <= 2)
            ):
                terms.append(previous_word + number)
        previous_word = None
        previous_end = match.end()
    return terms


PIECES = [
    "Meta",
    "meta's",
    "Metas'",
    "GPT-5",
    "GPT 5",
    "gpt5",
    "Llama 4",
    "e-mail",
    "rock'n'roll",
    "snake_case",
    "_x",
    "x_",
    "it's",
    "don't",
    "the",
    "and",
    "NYSE:BABA",
    "$14.3 billion",
    "1.2%",
    "12-15",
    "3,000",
    "Gospić",
    "Pokémon",
    "café",
    "naïve",
    "\u201cquoted\u201d",
    "\u2014",
    "--",
    "-",
    "'",
    "''",
    "a",
    "I",
    "x-ray",
    "co-op",
    "re-elect",
    "AT&T",
    "U.S.",
    "Q1 2026",
    "\n",
    "\t",
    "(paren)",
    "[b]",
    "dash-",
    "-lead",
    "over-the-counter",
    "ÆSIR",
    "straße",
    "İstanbul",
    "ﬁne",
    "e\u0301",
    "東京",
    "Ελλάδα",
    "half\u00a0space",
    "zero\u200bwidth",
]


def _texts(
    rng: np.random.Generator, words: list[str], separators: list[str], count: int
) -> Iterator[str]:
    """``count`` random runs of 1-24 of ``words``, each followed by one of ``separators``."""
    for _ in range(count):
        n = int(rng.integers(1, 25))
        picks = [words[int(i)] for i in rng.integers(0, len(words), size=n)]
        seps = [str(s) for s in rng.choice(separators, size=n)]
        yield "".join(chain.from_iterable(zip(picks, seps, strict=True)))


def test_the_tokenizer_gives_what_it_gave_before_on_varied_text() -> None:
    rng = np.random.default_rng(13)
    for text in _texts(rng, PIECES, [" ", " ", " ", ", ", ". ", "\n", "-", "'"], 3000):
        assert tokenize(text) == _old_tokenize(text), text
    # Plain ASCII words and punctuation only: the split fast path.
    simple = ["Meta", "the", "and", "a", "I", "AT&T", "U.S.", "(paren)", "[b]", "Who?", "x"]
    for text in _texts(rng, simple, [" ", ", ", ". ", "\n", "\t", "!", '"', "/"], 2000):
        assert tokenize(text) == _old_tokenize(text), text
    plain = "The quick brown fox jumps over the lazy dog while Metas analysts watch"
    for text in (plain, plain.upper(), plain + "'s end", plain.replace(" ", "\n")):
        assert tokenize(text) == _old_tokenize(text)


def test_the_build_counts_the_terms_the_tokenizer_finds() -> None:
    """The build tokenises ASCII paragraphs in compiled code and the rest with
    ``tokenize``: every paragraph's term counts must be what ``tokenize`` gives."""
    from collections import Counter

    from index.tokenising import _term_counts, _vocabulary, named_counts

    state = _vocabulary("test", b"", compiled=True)
    tokens, local = state.tokens, state.local
    assert tokens is not None

    def counted(texts: list[str]) -> list[Counter[str]]:
        """Each text's term counts as the build finds them."""
        terms, tfs, sizes = _term_counts(texts, state)
        counts = named_counts(terms, tfs, sizes, local)
        assert [len(c) for c in counts] == sizes.tolist()  # each term once a text
        assert int(sizes.sum()) == len(terms)
        return counts

    rng = np.random.default_rng(29)
    simple = ["Meta", "the", "a", "x", "it's", "snake_case", "_x", "x_", "co-op", "dash-"]
    simple += ["-lead", "rock'n'roll", "Metas'", "''", "over-the-counter", "AI-", "Who?", "\x00"]
    # Numbers, money, tickers and versions at their edges (the compiled scanner's).
    simple += ["$ 5", "$\x1c5", "5 %", "5\t%", "1,2345", "1.2.3", "a1", "1a", "x:y", "ab:cd1"]
    simple += ["abcdefghi:x", "ab:abcdefg", "NYSE:BABA_", "Q1", "Llama 4", "GPT-4o", "the 4"]
    simple += ["12,345.67-89,012.5%", "3-", "-3", "$-5", "1_000", "v2 3", "x 12", "x 123", ":", "$"]
    for _ in range(600):  # articles of mixed paragraphs, one vocabulary for them all
        texts = [
            *_texts(rng, PIECES, [" ", ", ", ". ", "\n", "-", "'"], int(rng.integers(0, 4))),
            *_texts(rng, simple, [" ", ", ", ". ", "\n", "-", "'", "_"], int(rng.integers(0, 6))),
        ]
        rng.shuffle(texts)
        assert counted(texts) == [Counter(tokenize(text)) for text in texts], texts
    # Tens of thousands of distinct words: the word table grows and is rehashed.
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz-'_"))
    for _ in range(3):
        texts = [
            " ".join("".join(rng.choice(letters, int(rng.integers(1, 15)))) for _ in range(800))
            for _ in range(40)
        ]
        assert counted(texts) == [Counter(tokenize(text)) for text in texts]
    assert len(tokens._table) > 1 << 16  # it did grow
