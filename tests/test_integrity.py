"""A damaged or partial index is found on load and rebuilt from the corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from index import integrity
from index.store import IndexStore, SearchIndex

INDEX_FILES = [
    "offsets.npy",
    "paragraphs.zst",
    "words.npy",
    "blk_last.npy",
    "idf.npy",
    "doc_len.npy",
    "vocab.json",
    "articles.json",
    "meta.json",
    "checksums.json",
]


def _answers(index: SearchIndex) -> list[tuple[int, float]]:
    return index.search(["tbd", "lab", "lead"], 5)


@pytest.mark.parametrize("name", INDEX_FILES)
@pytest.mark.parametrize("damage", ["emptied", "truncated"])
def test_a_damaged_index_is_rebuilt_on_the_next_load(
    corpus: Path, tmp_path: Path, name: str, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    first = IndexStore(corpus, tmp_path / "index").current()
    expected = _answers(first)
    path = first.directory / name
    data = path.read_bytes()
    path.write_bytes(b"" if damage == "emptied" else data[: len(data) // 2])
    first.close()
    store = IndexStore(corpus, tmp_path / "index")  # the next command
    index = store.current()
    assert index.directory != first.directory and _answers(index) == expected
    assert store.last_build is not None  # rebuilt, from the corpus
    if name != "checksums.json":
        assert f"{name} has" in caplog.text and "rebuilding it from the corpus" in caplog.text


def test_changed_bytes_of_the_same_length_are_found_by_their_checksum(
    corpus: Path, tmp_path: Path
) -> None:
    index = IndexStore(corpus, tmp_path / "index").current()
    path = index.directory / "paragraphs.zst"
    data = bytearray(path.read_bytes())
    data[10:14] = b"XXXX"
    path.write_bytes(bytes(data))
    with pytest.raises(integrity.DamagedIndex, match="paragraphs.zst does not match"):
        integrity.verify(index.directory)
    assert IndexStore(corpus, tmp_path / "index").refresh() is not None


def test_rebuild_never_reads_the_previous_index(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = IndexStore(corpus, tmp_path / "index")
    old = store.current()
    (old.directory / "paragraphs.zst").write_bytes(b'{"n": 1, "h": "", "t": "trunc')
    old.close()

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the previous index was read")

    fresh = IndexStore(corpus, tmp_path / "index")
    monkeypatch.setattr(fresh, "_load_pointer", refuse)
    report = fresh.refresh(force=True)
    assert report is not None and report.paragraphs == old.size
    text = "\n".join(fresh.current().passage(i).text for i in range(fresh.current().size))
    assert "trunc" not in text and "Alexandr Wang" in text


@pytest.mark.parametrize(
    "command", [["index", "--rebuild"], ["index"], ["ask", "Who leads TBD Lab?"]]
)
def test_every_command_heals_a_zero_byte_offsets_file(
    corpus: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--corpus", str(corpus), "index"]) == 0
    capsys.readouterr()
    [build] = list((Path.cwd() / "home" / "index").glob("*/build-*"))
    (build / "offsets.npy").write_bytes(b"")
    assert main(["--corpus", str(corpus), *command]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert "paragraphs: " in captured.out or "Alexandr Wang" in captured.out
