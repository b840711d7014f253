"""Writing one file's entry of the corpus manifest (``metadata.toml``) in place.

The manifest is edited by hand too, so it is not regenerated: the file's table (if any)
is cut out, with its keys but not the comments that lead into the next table, and the
new one appended.  A name is never written twice: a duplicate table would make the whole
manifest unreadable.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path


def _toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string


def _table_name(line: str) -> str | None:
    """The table a ``[header]`` line opens, or None for any other line."""
    stripped = line.strip()
    if not stripped.startswith("[") or stripped.startswith("[["):
        return None
    try:
        data = tomllib.loads(stripped)
    except tomllib.TOMLDecodeError:
        return None
    return next(iter(data), None)


def without_entry(text: str, name: str) -> str:
    """``text`` with the table for ``name`` removed (keys and the comments inside it)."""
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    i = 0
    while i < len(lines):
        if _table_name(lines[i]) != name:
            out.append(lines[i])
            i += 1
            continue
        j = i + 1
        while j < len(lines) and _table_name(lines[j]) is None:
            j += 1
        # keep the blank and comment lines just above the next table: they belong to it
        k = j
        while k > i + 1 and (not lines[k - 1].strip() or lines[k - 1].lstrip().startswith("#")):
            k -= 1
        out.extend(lines[k:j])
        i = j
    return "".join(out)


def set_manifest_entry(path: Path, name: str, fields: dict[str, str]) -> None:
    """Make ``fields`` the manifest entry of the file ``name`` (none: drop its entry)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    text = without_entry(text, name)
    if fields:
        entry = "\n".join(f"{k} = {_toml_string(v)}" for k, v in fields.items())
        text = f"{text.rstrip()}\n\n[{_toml_string(name)}]\n{entry}\n".lstrip("\n")
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
