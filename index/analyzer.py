"""Text analysis shared by indexing and querying: the two must agree token for token.

News text is full of things a plain word tokenizer loses: money (`$14.3 billion`),
percentages (`1.2%`), tickers (`NYSE:BABA`) and model names written three ways
(`GPT-5`, `GPT 5`, `GPT5`).  The analyzer keeps each of those findable by emitting a
canonical form besides the parts, so a question matches however it spells them.

Bump ``ANALYZER_VERSION`` whenever the output for any input changes: stored indexes
record it and are rebuilt rather than misread.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from itertools import chain

import snowballstemmer

ANALYZER_VERSION = 4

_FOLD = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u00a0": " ",
        "\u2009": " ",
        "\u202f": " ",
        "\u200b": "",
        "\u00ad": "",
    }
)

# The usual English function words (close to the Snowball and NLTK lists).
STOP_WORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if
    in into is it its itself just let me more most my myself no nor not now of off on
    once only or other our ours ourselves out over own same shall she should so some
    such than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom
    whose why will with would you your yours yourself yourselves also may might must us
    ll re ve isnt arent wasnt werent hasnt havent hadnt doesnt dont didnt wont wouldnt
    shant shouldnt cant cannot couldnt mustnt lets thats whats whos hows wheres whens
    whys
    """.split()
)

# Words that frame a question rather than name its subject ("what does X mean",
# "tell me about X").  Dropped from questions only, never from articles.
QUESTION_FRAME_WORDS = frozenset(
    """
    mean means meaning meant happen happens happened happening tell explain know
    please thing things anything something kind sort exactly actually really much many
    going
    """.split()
)

_TOKEN_RE = re.compile(
    r"""
    (?P<ticker>\b[a-z]{2,8}:[a-z]{1,6}\b)
  | (?P<money>[$\u20ac\u00a3\u00a5]\s?\d+(?:,\d{3})*(?:\.\d+)?)
  | (?P<number>\d+(?:,\d{3})*(?:\.\d+)?(?:-\d+(?:,\d{3})*(?:\.\d+)?)?(?:\s?%)?)
  | (?P<word>[^\W\d_](?:[\w']*\w)?(?:-\w+)*)
    """,
    re.VERBOSE,
)

_STEMMER = snowballstemmer.stemmer("english")

# Irregular past forms Snowball cannot reach: "Who leads X?" must find "X is led by".
# Forms that are also common other words ("left", "rose", "born", "lay") are left alone.
_IRREGULAR = {
    form: base
    for base, forms in (
        ("begin", "began begun"),
        ("become", "became"),
        ("buy", "bought"),
        ("bring", "brought"),
        ("build", "built"),
        ("choose", "chose chosen"),
        ("come", "came"),
        ("draw", "drew drawn"),
        ("drive", "drove driven"),
        ("eat", "ate eaten"),
        ("fall", "fell fallen"),
        ("feel", "felt"),
        ("fight", "fought"),
        ("find", "found"),
        ("flee", "fled"),
        ("fly", "flew flown"),
        ("forget", "forgot forgotten"),
        ("give", "gave given"),
        ("go", "went gone"),
        ("grow", "grew grown"),
        ("hold", "held"),
        ("hide", "hid hidden"),
        ("keep", "kept"),
        ("know", "knew known"),
        ("lead", "led"),
        ("lend", "lent"),
        ("lose", "lost"),
        ("make", "made"),
        ("meet", "met"),
        ("pay", "paid"),
        ("run", "ran"),
        ("rise", "risen"),
        ("say", "said"),
        ("see", "saw seen"),
        ("seek", "sought"),
        ("sell", "sold"),
        ("send", "sent"),
        ("shake", "shook shaken"),
        ("shoot", "shot"),
        ("show", "shown"),
        ("sing", "sang sung"),
        ("sink", "sank sunk"),
        ("sit", "sat"),
        ("sleep", "slept"),
        ("speak", "spoke spoken"),
        ("spend", "spent"),
        ("stand", "stood"),
        ("steal", "stole stolen"),
        ("strike", "struck"),
        ("swear", "swore sworn"),
        ("take", "took taken"),
        ("teach", "taught"),
        ("tear", "tore torn"),
        ("tell", "told"),
        ("think", "thought"),
        ("throw", "threw thrown"),
        ("understand", "understood"),
        ("wake", "woke woken"),
        ("wear", "wore worn"),
        ("win", "won"),
        ("write", "wrote written"),
    )
    for form in forms.split()
}


@lru_cache(maxsize=500_000)
def stem(word: str) -> str:
    return str(_STEMMER.stemWord(_IRREGULAR.get(word, word)))


_FRAME_TERMS = frozenset(QUESTION_FRAME_WORDS | {stem(w) for w in QUESTION_FRAME_WORDS})


# Accents on Latin letters: "Gospić" and "Gospic", "Pokémon" and "Pokemon" are one word
# to a reader typing on an English keyboard.
_LATIN_ACCENT = re.compile(r"(?<=[A-Za-z\u00c0-\u024f])[\u0300-\u036f]+")


def fold(text: str) -> str:
    """Unicode-compatibility fold, Latin accents dropped, then straight quotes, ASCII
    dashes and plain spaces."""
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize("NFC", _LATIN_ACCENT.sub("", decomposed)).translate(_FOLD)


@lru_cache(maxsize=1_000_000)
def _word(raw: str) -> tuple[tuple[str, ...], str | None]:
    """A word's terms, and the word itself when a version number may follow it."""
    bare = raw.replace("'", "")
    return tuple(_word_terms(raw)), (bare if bare.isalnum() and bare not in STOP_WORDS else None)


def _word_terms(word: str) -> list[str]:
    # Possessives: "Thoreau's" is "Thoreau" wherever it stands, sentence end included.
    if word.endswith("'s"):
        word = word[:-2]
    word = word.replace("'", "")
    parts = [p for p in word.split("-") if p]
    terms: list[str] = []
    for part in parts:
        if part.isdigit():
            terms.append(part)
        elif len(part) > 1 and part not in STOP_WORDS:
            terms.append(stem(part))
    if len(parts) > 1:
        joined = "".join(parts)
        terms.append(joined if any(c.isdigit() for c in joined) else stem(joined))
    return terms


def _number_terms(raw: str) -> list[str]:
    text = raw.replace(",", "").replace(" ", "")
    percent = text.endswith("%")
    text = text.rstrip("%")
    terms: list[str] = []
    if "-" in text:
        low, _, high = text.partition("-")
        terms.extend([low, high, text])
    else:
        terms.append(text)
    if percent:
        terms.append(text + "%")
    return terms


class _TermsOf(dict[str, tuple[str, ...]]):
    """A word's terms, cached in a plain dict: a hit is one C-level look-up (cheaper than
    ``lru_cache``'s bookkeeping), a miss fills it; cleared when it grows past a million."""

    def __missing__(self, word: str) -> tuple[str, ...]:
        if len(self) >= 1_000_000:
            self.clear()
        terms = self[word] = _word(word)[0]
        return terms


_TERMS = _TermsOf()


def terms_of_token(token: str) -> tuple[str, ...]:
    """The terms ``tokenize`` gives one token of a folded lower-case ASCII text, as
    ``index.wordscan`` finds them: a word, a ticker, money, a number, or after "\x01" a
    word and the version number that follows it ("\x01llama 4": "llama4")."""
    first = token[0]
    if first == "\x01":
        word, _, number = token[1:].partition(" ")
        bare = _word(word)[1]
        return (bare + number,) if bare else ()
    if first == "$":
        return _money_terms(token)
    if first.isdigit():
        return tuple(_number_terms(token))
    if ":" in token:
        return _ticker_terms(token)
    return _TERMS[token]


def _ticker_terms(raw: str) -> tuple[str, str, str]:
    exchange, _, symbol = raw.partition(":")
    return raw, exchange, symbol


def _money_terms(raw: str) -> tuple[str, str]:
    amount = raw[1:].strip().replace(",", "")
    return amount, raw[0] + amount


_NOT_LOWER = str.maketrans({i: " " for i in range(128) if not 97 <= i <= 122})
_WORD_RE = re.compile(r"[^\W\d_](?:[\w']*\w)?(?:-\w+)*")
_ASCII_WORD_RE = re.compile(r"[a-z](?:[a-z_']*[a-z_])?(?:-[a-z_]+)*")  # the same, faster
_ASCII_SPECIALS = tuple("0123456789:")  # digits and colons: numbers, money, tickers
_SPECIALS = re.compile(r"[\d:]")  # the same, with every script's digits


def _has_ascii_special(text: str) -> bool:
    """Any digit or colon: 11 memchr scans, spelt out (a generator over
    ``_ASCII_SPECIALS`` cost 30 times as much, a regular expression 25 times)."""
    return (
        "0" in text or "1" in text or "2" in text or "3" in text or "4" in text
        or "5" in text or "6" in text or "7" in text or "8" in text or "9" in text
        or ":" in text
    )  # fmt: skip


def tokenize(text: str) -> list[str]:
    """Index terms of ``text``, in order, repeats kept (BM25 counts them)."""
    return tokenize_folded(text if text.isascii() else fold(text))


def tokenize_folded(text: str) -> list[str]:
    """``tokenize`` of a text that is ASCII or already ``fold``-ed."""
    text = text.casefold()
    # Possessives: "meta's" and "metas'" index as "meta".
    text = text.replace("'s ", " ").replace("s' ", "s ")
    ascii_only = text.isascii()
    plain = not _has_ascii_special(text) if ascii_only else not _SPECIALS.search(text)
    if plain:
        # No digits and no colons: no numbers, money or tickers, only words, so the
        # words' cached terms can be strung together without a Python-level loop.
        if ascii_only and "'" not in text and "-" not in text and "_" not in text:
            # Letters are then the only word characters: the words are the runs of a-z,
            # split in C (a quarter of the regular expression's time).
            words = text.translate(_NOT_LOWER).split()
        else:
            words = (_ASCII_WORD_RE if ascii_only else _WORD_RE).findall(text)
        return list(chain.from_iterable(map(_TERMS.__getitem__, words)))
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
            extend(_ticker_terms(raw))
        elif kind == "money":
            extend(_money_terms(raw))
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


def tokenize_question(text: str) -> list[str]:
    """Terms of a question: like ``tokenize`` but without the words that only frame it."""
    terms = tokenize(text)
    subject = [t for t in terms if t not in _FRAME_TERMS]
    return subject or terms
