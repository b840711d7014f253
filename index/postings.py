"""Compressed postings: per term, blocks of 128 (paragraph id, count) pairs, bit-packed.

Stored plainly, a posting was 5 bytes (an int32 paragraph id and a one-byte count), and
at 1M paragraphs the postings were 290 MB of the index and most of the serving memory.
Here, as in Lucene and tantivy, each term's postings are cut into blocks of ``BLOCK``;
a block stores the gaps between its paragraph ids (minus one) and its counts (minus
one), each at the fewest bits its largest value needs, so a word found in nearly every
paragraph costs about a bit a posting and a count of 1 costs nothing.  Each block's last
paragraph id is kept apart, so a look-up skips whole blocks without unpacking them.

The arrays (all memory-mapped when served):

* ``term_blocks`` (n_terms + 1): each term's range of blocks;
* ``blk_last`` (int32): each block's last paragraph id;
* ``blk_off`` (int64, n_blocks + 1): where each block starts in ``words``, in 64-bit
  words (ids first, then counts, each stream starting on a word);
* ``blk_width`` (uint8, n_blocks x 2): bits per id gap and per count;
* ``words`` (uint64): the packed bits.

A term's document frequency stays in the index's ``indptr`` (it sizes the last block).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

BLOCK = 128  # the same as index.packing.BLOCK (see there before changing it)
ARRAYS = ("term_blocks", "blk_last", "blk_off", "blk_width", "words")


@dataclass
class Postings:
    """Bit-packed postings of every term (see the module's description)."""

    term_blocks: npt.NDArray[np.int64]
    blk_last: npt.NDArray[np.int32]
    blk_off: npt.NDArray[np.int64]
    blk_width: npt.NDArray[np.uint8]
    words: npt.NDArray[np.uint64]

    @classmethod
    def encode(
        cls,
        doc_ids: npt.NDArray[np.int32],
        tfs: npt.NDArray[np.unsignedinteger],
        indptr: npt.NDArray[np.int64],
    ) -> Postings:
        """Pack postings grouped by term, in paragraph order within each term."""
        if len(doc_ids) and int(np.asarray(tfs).max()) > 65535:
            raise ValueError("a term count above 65535")
        from index import packing

        return cls(*packing.encode(np.asarray(doc_ids), np.asarray(tfs), np.asarray(indptr)))

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in ARRAYS}

    def decode(
        self, indptr: npt.NDArray[np.int64], t0: int = 0, t1: int | None = None
    ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.uint16]]:
        """Paragraph ids and counts of terms ``t0`` to ``t1`` (default: all), in order."""
        end = len(indptr) - 1 if t1 is None else t1
        from index import packing

        return packing.decode_range(
            self.words,
            self.blk_off,
            self.blk_width,
            self.blk_last,
            self.term_blocks,
            np.asarray(indptr),
            t0,
            end,
        )
