"""Stored paragraph texts: zstd blocks of ``TEXT_BLOCK`` paragraphs, with a dictionary.

The texts were the largest part of the index (zlib: 236 MB of 518 at 1M paragraphs).
A block of 16 paragraphs is too small for a compressor to learn much from, so each index
trains a zstd dictionary on a sample of its first articles and compresses every block
with it: a tenth smaller than zlib's blocks and several times faster to write, while a
citation still unpacks one small block.  Level 1, not zstd's default 3: half the time,
a build's largest cost after tokenising, for texts 5 % larger.  Blocks reused from an
earlier index were compressed with its dictionary, so a rebuild that reuses articles
keeps it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from json.encoder import encode_basestring as _quoted

import zstandard

TEXT_BLOCK = 16  # paragraphs compressed together: small enough to unpack for one citation
LEVEL = 1
DICT_SIZE = 256 * 1024
DICTIONARY = "texts.dict"  # the index's dictionary file (empty: none, as for tiny corpora)
SAMPLE_ARTICLES = 40


def lines_of(records: Iterable[tuple[int, str, str]]) -> list[bytes]:
    """Paragraphs (number, heading, text) as the JSON lines that are stored: what
    ``json.dumps({"n": n, "h": h, "t": t}, ensure_ascii=False)`` writes, without its
    encoder made afresh for every paragraph (half the time)."""
    return [
        f'{{"n": {int(n)}, "h": {_quoted(h)}, "t": {_quoted(t)}}}\n'.encode() for n, h, t in records
    ]


def blocks_of(lines: list[bytes]) -> list[bytes]:
    """The uncompressed blocks of one article's lines."""
    return [b"".join(lines[i : i + TEXT_BLOCK]) for i in range(0, len(lines), TEXT_BLOCK)]


def train(samples: list[bytes]) -> bytes:
    """A dictionary for blocks like ``samples``; empty when there are too few to learn
    from (zstd refuses, and a small corpus gains nothing)."""
    if sum(map(len, samples)) < 8 * DICT_SIZE:
        return b""
    try:
        data: list[bytes | bytearray | memoryview] = list(samples)
        return zstandard.train_dictionary(DICT_SIZE, data, level=LEVEL).as_bytes()
    except zstandard.ZstdError:
        return b""


def compressor(dictionary: bytes) -> zstandard.ZstdCompressor:
    if not dictionary:
        return zstandard.ZstdCompressor(level=LEVEL)
    data = zstandard.ZstdCompressionDict(dictionary)
    return zstandard.ZstdCompressor(level=LEVEL, dict_data=data)


class Unpacker:
    """Decompresses blocks with one index's dictionary, from any thread."""

    def __init__(self, dictionary: bytes) -> None:
        self._dict = zstandard.ZstdCompressionDict(dictionary) if dictionary else None
        self._local = threading.local()  # a zstd context is not shared between threads

    def __call__(self, block: bytes) -> bytes:
        unpack = getattr(self._local, "unpack", None)
        if unpack is None:
            if self._dict is None:
                unpack = zstandard.ZstdDecompressor()
            else:
                unpack = zstandard.ZstdDecompressor(dict_data=self._dict)
            self._local.unpack = unpack
        return bytes(unpack.decompress(block))
