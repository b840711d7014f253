"""Tokenising ASCII paragraphs in compiled code, for the build.

Tokenising in Python cost about 100 ns a word in look-ups alone (a new string, its hash,
a probe of a 60,000-word dict) and a Python step per token for any paragraph holding a
number, most of a build's time.  Once folded (``analyzer.fold``: curly quotes, dashes,
accents) most paragraphs are ASCII.  For those this module finds the tokens exactly as
``analyzer.tokenize`` does (its regular expression ``_TOKEN_RE``: tickers, money,
numbers, words, and a word's version number, "llama 4") and numbers each distinct
token string in a hash table of its own, compiled; Python sees each distinct token once,
to get its terms from the analyzer.  Other paragraphs go through ``analyzer.tokenize``,
and the two give the same terms (a test compares them on random text).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from numba import njit

from index.analyzer import terms_of_token

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
SEPARATOR = "\x00"  # between paragraphs in the bytes given to ``_scan``
PAIR = 1  # first byte of a (word, version number) entry: "\x01llama 4"
FULL = -1  # ``_scan``'s answer when the table must grow first


@njit(cache=True, nogil=True, inline="always")
def _letter(c: int) -> bool:
    return 97 <= c <= 122


@njit(cache=True, nogil=True, inline="always")
def _digit(c: int) -> bool:
    return 48 <= c <= 57


@njit(cache=True, nogil=True, inline="always")
def _word_char(c: int) -> bool:
    return 97 <= c <= 122 or 48 <= c <= 57 or c == 95  # \w in lower-case ASCII


@njit(cache=True, nogil=True, inline="always")
def _space(c: int) -> bool:
    return c == 32 or 9 <= c <= 13 or 28 <= c <= 31  # \s in ASCII (str.isspace)


@njit(cache=True, nogil=True, inline="always")
def _find(
    data: np.ndarray,
    start: int,
    end: int,
    table: np.ndarray,
    arena: np.ndarray,
    word_at: np.ndarray,
    state: np.ndarray,
) -> int:
    """The number of the token ``data[start:end]``, numbering it when new; ``FULL``
    when the table is half full and must grow first."""
    h = _FNV_OFFSET
    for p in range(start, end):
        h = (h ^ np.uint64(data[p])) * _FNV_PRIME
    mask = len(table) - 1
    slot = np.int64(h & np.uint64(mask))
    length = end - start
    while True:
        w = table[slot] - 1
        if w < 0:
            break
        a = word_at[w]
        if word_at[w + 1] - a == length:
            same = True
            for p in range(length):
                if arena[a + p] != data[start + p]:
                    same = False
                    break
            if same:
                return w
        slot = (slot + 1) & mask
    w = state[0]
    if 2 * (w + 1) > len(table):
        return FULL
    a = word_at[w]  # a new token: copy it into the arena
    for p in range(length):
        arena[a + p] = data[start + p]
    word_at[w + 1] = a + length
    table[slot] = w + 1
    state[0] = w + 1
    return w


@njit(cache=True, nogil=True, inline="always")
def _digits(buf: np.ndarray, q: int, end: int) -> int:
    while q < end and _digit(buf[q]):
        q += 1
    return q


@njit(cache=True, nogil=True, inline="always")
def _amount(buf: np.ndarray, q: int, end: int) -> int:
    """The end of ``\\d+(?:,\\d{3})*(?:\\.\\d+)?`` from ``q`` (a digit)."""
    q = _digits(buf, q, end)
    while q + 3 < end and buf[q] == 44 and _digit(buf[q + 1]) and _digit(buf[q + 2]):
        if not _digit(buf[q + 3]):
            break
        q += 4
    if q + 1 < end and buf[q] == 46 and _digit(buf[q + 1]):
        q = _digits(buf, q + 1, end)
    return q


@njit(cache=True, nogil=True, inline="always")
def _token(buf: np.ndarray, p: int, start: int, end: int) -> tuple[int, int]:
    """The kind (0 none, 1 ticker, 2 money, 3 number, 4 word) and end of the token
    ``_TOKEN_RE`` matches at ``p``, its alternatives tried in order."""
    c = buf[p]
    if _letter(c):
        q = p  # the run of letters, scanned once for both a ticker and a word
        while q < end and _letter(buf[q]):
            q += 1
        if (
            q < end
            and buf[q] == 58
            and 2 <= q - p <= 8
            and (p == start or not _word_char(buf[p - 1]))
        ):
            r = q + 1  # \b[a-z]{2,8}:[a-z]{1,6}\b
            while r < end and _letter(buf[r]):
                r += 1
            if 1 <= r - q - 1 <= 6 and (r == end or not _word_char(buf[r])):
                return 1, r
        # [^\W\d_](?:[\w']*\w)?(?:-\w+)*
        j = q
        stop = q  # after the last \w
        while j < end and (_word_char(buf[j]) or buf[j] == 39):
            if buf[j] != 39:
                stop = j + 1
            j += 1
        while stop + 1 < end and buf[stop] == 45 and _word_char(buf[stop + 1]):
            stop += 2
            while stop < end and _word_char(buf[stop]):
                stop += 1
        return 4, stop
    if c == 36:  # [$]\s?\d+(?:,\d{3})*(?:\.\d+)?
        q = p + 1
        if q + 1 < end and _space(buf[q]) and _digit(buf[q + 1]):
            q += 1
        if q < end and _digit(buf[q]):
            return 2, _amount(buf, q, end)
        return 0, p + 1
    if _digit(c):  # amount, (-amount)?, (\s?%)?
        q = _amount(buf, p, end)
        if q + 1 < end and buf[q] == 45 and _digit(buf[q + 1]):
            q = _amount(buf, q + 1, end)
        if q < end and buf[q] == 37:
            q += 1
        elif q + 1 < end and _space(buf[q]) and buf[q + 1] == 37:
            q += 2
        return 3, q
    return 0, p + 1


@njit(cache=True, nogil=True)
def _scan(
    buf: np.ndarray,
    table: np.ndarray,
    arena: np.ndarray,
    word_at: np.ndarray,
    state: np.ndarray,
    out_words: np.ndarray,
    out_paragraph: np.ndarray,
    scratch: np.ndarray,
) -> int:
    """Tokens of each paragraph of ``buf`` (folded lower-case ASCII, paragraphs separated
    by a 0 byte), numbered, with the paragraph of each; ``FULL`` if the table filled up.

    As ``analyzer.tokenize``: after a word, a number of one or two digits at most one
    character on ("llama 4") also makes a (word, number) entry, ``PAIR`` then the word,
    a space and the number."""
    n = len(buf)
    found = 0
    paragraph = 0
    start = 0
    while start <= n:
        end = start
        while end < n and buf[end] != 0:
            end += 1
        p = start
        word_start = -1  # the last token, when a word
        word_end = -1
        while p < end:
            kind, stop = _token(buf, p, start, end)
            if kind == 0:
                p = stop
                continue
            w = _find(buf, p, stop, table, arena, word_at, state)
            if w == FULL:
                return FULL
            out_words[found] = w
            out_paragraph[found] = paragraph
            found += 1
            if kind == 3 and word_start >= 0 and p - word_end <= 1 and stop - p <= 2:
                plain = True
                for q in range(p, stop):
                    if not _digit(buf[q]):
                        plain = False
                if plain:
                    scratch[0] = PAIR
                    length = word_end - word_start
                    scratch[1 : 1 + length] = buf[word_start:word_end]
                    scratch[1 + length] = 32
                    scratch[2 + length : 2 + length + stop - p] = buf[p:stop]
                    w = _find(scratch, 0, 2 + length + stop - p, table, arena, word_at, state)
                    if w == FULL:
                        return FULL
                    out_words[found] = w
                    out_paragraph[found] = paragraph
                    found += 1
            if kind == 4:
                word_start, word_end = p, stop
            else:
                word_start = -1
            p = stop
        paragraph += 1
        start = end + 1
    return found


@njit(cache=True, nogil=True)
def _rehash(table: np.ndarray, arena: np.ndarray, word_at: np.ndarray, words: int) -> None:
    mask = len(table) - 1
    for w in range(words):
        h = _FNV_OFFSET
        for p in range(word_at[w], word_at[w + 1]):
            h = (h ^ np.uint64(arena[p])) * _FNV_PRIME
        slot = np.int64(h & np.uint64(mask))
        while table[slot] != 0:
            slot = (slot + 1) & mask
        table[slot] = w + 1


@njit(cache=True, nogil=True)
def _counts(
    out_words: np.ndarray,
    out_paragraph: np.ndarray,
    found: int,
    paragraphs: int,
    term_at: np.ndarray,
    term_ids: np.ndarray,
    seen: np.ndarray,
    stamp: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each paragraph's distinct terms (in the order first met) and their counts, and
    how many there are a paragraph: what sorting (paragraph, term) pairs and counting
    them gives, without the sort.  ``seen[t]`` holds ``stamp + paragraph`` when term ``t`` was last
    met, and where its count is, so it needs no clearing between calls."""
    total = 0
    for f in range(found):
        w = out_words[f]
        total += term_at[w + 1] - term_at[w]
    terms = np.empty(total, np.int32)
    tfs = np.empty(total, np.int64)
    sizes = np.zeros(paragraphs, np.int64)
    distinct = 0
    for f in range(found):
        w = out_words[f]
        paragraph = out_paragraph[f]
        mark = stamp + paragraph
        for t in range(term_at[w], term_at[w + 1]):
            term = term_ids[t]
            if seen[term, 0] == mark:
                tfs[seen[term, 1]] += 1
            else:
                seen[term, 0] = mark
                seen[term, 1] = distinct
                terms[distinct] = term
                tfs[distinct] = 1
                sizes[paragraph] += 1
                distinct += 1
    return terms[:distinct], tfs[:distinct], sizes


def _grown(array: npt.NDArray, size: int) -> npt.NDArray:
    if size <= len(array):
        return array
    bigger = np.zeros(max(size, 2 * len(array)), array.dtype)
    bigger[: len(array)] = array
    return bigger


class AsciiTokens:
    """The tokens met so far (in one build, on one process) and their term numbers.

    ``term_number`` gives a term its number in the process's vocabulary (numbering it
    when new), as ``analyzer.tokenize``'s terms are numbered, so both share one.
    """

    def __init__(self, term_number: Callable[[str], int]) -> None:
        self._term_number = term_number
        self._table = np.zeros(1 << 16, np.int32)
        self._arena = np.zeros(1 << 18, np.uint8)
        self._word_at = np.zeros(1 << 14, np.int64)  # token w is arena[at[w]:at[w + 1]]
        self._state = np.zeros(1, np.int64)  # tokens numbered so far
        self._term_at = np.zeros(1 << 14, np.int64)  # token w's terms: ids[at[w]:at[w + 1]]
        self._term_ids = np.zeros(1 << 15, np.int64)
        self._described = 0  # tokens whose terms are known
        self._seen = np.full((1 << 14, 2), -1, np.int32)  # per term, for ``_counts``
        self._stamp = 0  # paragraphs counted so far
        self._terms = 0  # one more than the largest term number met

    def counts(
        self, texts: list[str]
    ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Each text's distinct terms and their counts, one text after another, and the
        number of distinct terms of each text (``texts`` ASCII, folded)."""
        if not texts:
            return np.zeros(0, np.int32), np.zeros(0, np.int64), np.zeros(0, np.int64)
        found, out_words, out_paragraph = self._scanned(texts)
        if self._terms > len(self._seen):
            seen = np.full((max(self._terms, 2 * len(self._seen)), 2), -1, np.int32)
            seen[: len(self._seen)] = self._seen
            self._seen = seen
        counted = _counts(
            out_words, out_paragraph, found, len(texts),
            self._term_at, self._term_ids, self._seen, self._stamp,
        )  # fmt: skip
        self._stamp += len(texts)
        return counted

    def _scanned(
        self, texts: list[str]
    ) -> tuple[int, npt.NDArray[np.int32], npt.NDArray[np.int32]]:
        """The tokens found in ``texts``, each as its number and its text's, and how many."""
        # As analyzer.tokenize prepares a text (ASCII: casefold is lower); the separator
        # is no space, so the possessives are those of each paragraph alone.
        text = SEPARATOR.join(texts).lower()
        if "'" in text:  # (a search for one character: far cheaper than two replaces)
            text = text.replace("'s ", " ").replace("s' ", "s ")
        if text.count(SEPARATOR) != len(texts) - 1:  # it would shift every paragraph
            raise ValueError("a text holds the paragraph separator")
        buf = np.frombuffer(text.encode("ascii"), np.uint8)
        n = len(buf)
        known = int(self._state[0])
        # Tokens, and (word, number) pairs, are fewer than two a byte; their bytes, with
        # the pairs' copies of their words, fewer than four.
        self._arena = _grown(self._arena, int(self._word_at[known]) + 4 * n + 4)
        self._word_at = _grown(self._word_at, known + 2 * n + 3)
        out_words = np.empty(2 * n + 2, np.int32)
        out_paragraph = np.empty(len(out_words), np.int32)
        scratch = np.empty(n + 4, np.uint8)
        while True:
            found = _scan(
                buf, self._table, self._arena, self._word_at, self._state,
                out_words, out_paragraph, scratch,
            )  # fmt: skip
            if found != FULL:
                break
            # Half full: twice the slots, then the text again (its tokens so far are
            # found, not added twice); at most half full, probes stay short.
            self._table = np.zeros(2 * len(self._table), np.int32)
            _rehash(self._table, self._arena, self._word_at, int(self._state[0]))
        self._describe_new_tokens()
        return found, out_words, out_paragraph

    def _describe_new_tokens(self) -> None:
        """Each new token's terms, from the analyzer (stems cached there)."""
        words = int(self._state[0])
        if words == self._described:
            return
        self._term_at = _grown(self._term_at, words + 1)
        at = int(self._term_at[self._described])
        arena = self._arena
        word_at = self._word_at
        new_ids: list[int] = []
        for w in range(self._described, words):
            word = arena[word_at[w] : word_at[w + 1]].tobytes().decode("ascii")
            new_ids.extend(map(self._term_number, terms_of_token(word)))
            self._term_at[w + 1] = at + len(new_ids)
        self._term_ids = _grown(self._term_ids, at + len(new_ids))
        self._term_ids[at : at + len(new_ids)] = new_ids
        self._terms = max(self._terms, max(new_ids, default=-1) + 1)
        self._described = words
