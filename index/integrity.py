"""Checksums of an index's files, written with the build and checked when it is loaded.

A disk that fills up, a copy cut short or a stray editor can leave an index file empty or
truncated; reading it would fail deep inside NumPy (or, worse, answer from half an
index).  Each build records every file's size and SHA-256 in ``checksums.json``; loading
compares the sizes always, and the checksums too when the index is small enough to hash
in a blink (or when asked to, as ``citebot index`` does), so damage is found before use
and the index is rebuilt from the corpus.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

CHECKSUMS = "checksums.json"
HASH_ALWAYS_BELOW = 64 * 2**20  # bytes: smaller indexes are fully hashed on every load


class DamagedIndex(ValueError):
    """An index file is missing, of the wrong size or with the wrong content."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def checksums_of(directory: Path) -> dict[str, dict[str, object]]:
    """A build's recorded checksums (to copy those of files another build links)."""
    data = json.loads((directory / CHECKSUMS).read_text(encoding="utf-8"))
    return dict(data)


def write_checksums(directory: Path, linked: dict[str, dict[str, object]] | None = None) -> None:
    """Record the size and SHA-256 of every file of a finished build.

    ``linked``: entries of files hard-linked from an earlier build, already checked when
    it loaded, taken as they are rather than hashed again (hundreds of MB at 1M)."""
    linked = linked or {}
    entries = {
        path.name: linked.get(path.name) or {"size": path.stat().st_size, "sha256": _sha256(path)}
        for path in sorted(directory.iterdir())
        if path.is_file() and path.name != CHECKSUMS
    }
    (directory / CHECKSUMS).write_text(json.dumps(entries, indent=1), encoding="utf-8")


def verify(directory: Path, *, full: bool = False) -> None:
    """Raise ``DamagedIndex`` naming the first file that is not as the build wrote it.

    Sizes are always compared; contents when ``full`` or the index is small."""
    try:
        entries = json.loads((directory / CHECKSUMS).read_text(encoding="utf-8"))
        expected = {str(name): (int(e["size"]), str(e["sha256"])) for name, e in entries.items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise DamagedIndex(f"{directory.name}/{CHECKSUMS} is missing or unreadable") from exc
    total = 0
    for name, (size, _) in expected.items():
        try:
            actual = (directory / name).stat().st_size
        except OSError:
            raise DamagedIndex(f"{directory.name}/{name} is missing") from None
        if actual != size:
            raise DamagedIndex(f"{directory.name}/{name} has {actual} bytes, not {size}")
        total += size
    if full or total < HASH_ALWAYS_BELOW:
        for name, (_, sha256) in expected.items():
            if _sha256(directory / name) != sha256:
                raise DamagedIndex(f"{directory.name}/{name} does not match its checksum")
