"""Finding and numbering the words of plain paragraphs in compiled code, for the build.

Tokenising in Python cost about 100 ns a word in look-ups alone (a new string, its hash,
a probe of a 60,000-word dict), most of a build's time.  Most paragraphs are *plain*:
ASCII with no digit and no colon, so no numbers, money or tickers, only words.  For
those this module finds the words (exactly as ``analyzer.tokenize``'s plain path does)
and numbers them in a hash table of its own, compiled; Python sees each distinct word
once, to get its terms from the analyzer.  Other paragraphs go through
``analyzer.tokenize`` as before, and the two give the same terms (a test checks).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from numba import njit

from index.analyzer import terms_of_word

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
SEPARATOR = "\x00"  # between paragraphs in the bytes given to ``scan``


@njit(cache=True, nogil=True, inline="always")
def _letter(c: int) -> bool:
    return 97 <= c <= 122


@njit(cache=True, nogil=True, inline="always")
def _word_char(c: int) -> bool:
    return 97 <= c <= 122 or c == 95  # a-z, _


@njit(cache=True, nogil=True, inline="always")
def _find(
    buf: np.ndarray,
    start: int,
    end: int,
    table: np.ndarray,
    arena: np.ndarray,
    word_at: np.ndarray,
    state: np.ndarray,
) -> int:
    """The number of the word ``buf[start:end]``, numbering it when new."""
    h = _FNV_OFFSET
    for p in range(start, end):
        h = (h ^ np.uint64(buf[p])) * _FNV_PRIME
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
                if arena[a + p] != buf[start + p]:
                    same = False
                    break
            if same:
                return w
        slot = (slot + 1) & mask
    w = state[0]  # a new word: copy it into the arena
    a = word_at[w]
    for p in range(length):
        arena[a + p] = buf[start + p]
    word_at[w + 1] = a + length
    table[slot] = w + 1
    state[0] = w + 1
    return w


@njit(cache=True, nogil=True)
def _scan(
    buf: np.ndarray,
    table: np.ndarray,
    arena: np.ndarray,
    word_at: np.ndarray,
    state: np.ndarray,
    out_words: np.ndarray,
    out_paragraph: np.ndarray,
    plain: np.ndarray,
) -> int:
    """Words of each plain paragraph of ``buf`` (lower-case ASCII, paragraphs separated
    by a 0 byte), numbered, with the paragraph of each; ``plain`` says which paragraphs
    were (no digit, no colon).  Words are ``analyzer._ASCII_WORD_RE``'s:
    ``[a-z](?:[a-z_']*[a-z_])?(?:-[a-z_]+)*``."""
    n = len(buf)
    found = 0
    paragraph = 0
    start = 0
    while start <= n:
        end = start
        is_plain = True
        while end < n and buf[end] != 0:
            c = buf[end]
            if 48 <= c <= 58:  # a digit or a colon: numbers, money, tickers
                is_plain = False
            end += 1
        plain[paragraph] = is_plain
        if is_plain:
            i = start
            while i < end:
                if not _letter(buf[i]):
                    i += 1
                    continue
                j = i + 1
                stop = i + 1  # after the last a-z or _
                while j < end and (_word_char(buf[j]) or buf[j] == 39):
                    if buf[j] != 39:
                        stop = j + 1
                    j += 1
                while stop + 1 < end and buf[stop] == 45 and _word_char(buf[stop + 1]):
                    stop += 2
                    while stop < end and _word_char(buf[stop]):
                        stop += 1
                out_words[found] = _find(buf, i, stop, table, arena, word_at, state)
                out_paragraph[found] = paragraph
                found += 1
                i = stop
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
def _keys(
    out_words: np.ndarray,
    out_paragraph: np.ndarray,
    found: int,
    term_at: np.ndarray,
    term_ids: np.ndarray,
) -> np.ndarray:
    """(paragraph << 32 | term) for every term of every word found, in order."""
    total = 0
    for f in range(found):
        w = out_words[f]
        total += term_at[w + 1] - term_at[w]
    keys = np.empty(total, np.int64)
    k = 0
    for f in range(found):
        w = out_words[f]
        high = np.int64(out_paragraph[f]) << 32
        for t in range(term_at[w], term_at[w + 1]):
            keys[k] = high | term_ids[t]
            k += 1
    return keys


def _grown(array: npt.NDArray, size: int) -> npt.NDArray:
    if size <= len(array):
        return array
    bigger = np.zeros(max(size, 2 * len(array)), array.dtype)
    bigger[: len(array)] = array
    return bigger


class PlainWords:
    """The words met so far (in one chunk of files) and their term numbers.

    ``term_number`` gives a term its number in the chunk's vocabulary (numbering it when
    new), as the slow path's terms are numbered, so both paths share one vocabulary.
    """

    def __init__(self, term_number: Callable[[str], int]) -> None:
        self._term_number = term_number
        self._table = np.zeros(1 << 16, np.int32)
        self._arena = np.zeros(1 << 18, np.uint8)
        self._word_at = np.zeros(1 << 14, np.int64)  # word w is arena[at[w]:at[w + 1]]
        self._state = np.zeros(1, np.int64)  # words numbered so far
        self._term_at = np.zeros(1 << 14, np.int64)  # word w's terms: ids[at[w]:at[w + 1]]
        self._term_ids = np.zeros(1 << 15, np.int64)
        self._described = 0  # words whose terms are known

    def keys(self, texts: list[str]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        """Keys ``paragraph << 32 | term`` of every term of the plain ones of ``texts``
        (ASCII, as written), and which of them were plain."""
        if not texts:
            return np.zeros(0, np.int64), np.zeros(0, np.bool_)
        # As analyzer.tokenize prepares a text (ASCII: casefold is lower); the separator
        # is no space, so the possessives are those of each paragraph alone.
        text = SEPARATOR.join(texts).lower().replace("'s ", " ").replace("s' ", "s ")
        if text.count(SEPARATOR) != len(texts) - 1:  # the scan writes one flag a text
            raise ValueError("a text holds the paragraph separator")
        buf = np.frombuffer(text.encode("ascii"), np.uint8)
        words = int(self._state[0])
        most = words + len(buf) // 2 + 1  # a word is a letter and a separator at least
        if 2 * most > len(self._table):
            size = len(self._table)
            while 2 * most > size:
                size *= 2
            self._table = np.zeros(size, np.int32)
            _rehash(self._table, self._arena, self._word_at, words)
        self._arena = _grown(self._arena, int(self._word_at[words]) + len(buf))
        self._word_at = _grown(self._word_at, most + 1)
        out_words = np.empty(len(buf) // 2 + 1, np.int32)
        out_paragraph = np.empty(len(out_words), np.int32)
        plain = np.zeros(len(texts), np.bool_)
        found = _scan(
            buf, self._table, self._arena, self._word_at, self._state,
            out_words, out_paragraph, plain,
        )  # fmt: skip
        self._describe_new_words()
        keys = _keys(out_words, out_paragraph, found, self._term_at, self._term_ids)
        return keys, plain

    def _describe_new_words(self) -> None:
        """Each new word's terms, from the analyzer (its stems, cached there)."""
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
            new_ids.extend(map(self._term_number, terms_of_word(word)))
            self._term_at[w + 1] = at + len(new_ids)
        self._term_ids = _grown(self._term_ids, at + len(new_ids))
        self._term_ids[at : at + len(new_ids)] = new_ids
        self._described = words
