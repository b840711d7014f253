from __future__ import annotations

from pathlib import Path

import pytest

from index.documents import CorpusError, iter_articles, load_article
from index.paragraphs import split_paragraphs
from tests.conftest import SEED_CORPUS


def test_seed_metadata_comes_from_the_manifest_and_is_never_invented() -> None:
    articles = {a.id: a for a in iter_articles(SEED_CORPUS)}
    assert len(articles) == 4
    jt = articles["003_995cb40eb3369109"]
    assert (jt.title, jt.date) == ('Meta is going to "close source"?', "2025-12-22")
    assert "jt-capital" in jt.source
    assert articles["001_fac266b8b9879510"].source == "Benzinga"
    assert all(a.url == "" for a in articles.values())  # no article states its URL
    assert articles["000_22283747d3d5ce8a"].title == ""


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_windows_and_old_mac_line_endings_read_as_unix_ones(tmp_path: Path, newline: str) -> None:
    text = "---\ntitle: Rates held\n---\nThe bank held rates.\n\nInflation stayed high.\n"
    (tmp_path / "unix.md").write_text(text, encoding="utf-8", newline="\n")
    (tmp_path / "other.md").write_text(text, encoding="utf-8", newline=newline)
    unix = load_article(tmp_path, tmp_path / "unix.md")
    other = load_article(tmp_path, tmp_path / "other.md")
    assert other.title == "Rates held"
    assert [p.text for p in split_paragraphs(other)] == [p.text for p in split_paragraphs(unix)]
    assert [p.text for p in split_paragraphs(other)] == [
        "The bank held rates.",
        "Inflation stayed high.",
    ]


def test_markdown_with_front_matter(tmp_path: Path) -> None:
    path = tmp_path / "story.md"
    path.write_text(
        "---\ntitle: Rates held\nsource: Example Wire\ndate: 2026-01-02\n"
        "url: https://example.com/rates\n---\n"
        "# Rates held\n\n## Why it matters\n\nThe **central bank** kept [rates](https://x.y) "
        "on hold at 4.5%, citing sticky inflation.\n\n![chart](chart.png)\n",
        encoding="utf-8",
    )
    article = load_article(tmp_path, path)
    assert (article.title, article.source, article.date, article.url) == (
        "Rates held",
        "Example Wire",
        "2026-01-02",
        "https://example.com/rates",
    )
    paras = split_paragraphs(article)
    assert len(paras) == 1
    assert paras[0].heading == "Why it matters"
    assert paras[0].text == "The central bank kept rates on hold at 4.5%, citing sticky inflation."


def test_html_main_text_without_page_furniture(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(
        """<html><head><title>Site | Chips story</title>
        <meta property="og:title" content="Chip maker expands">
        <meta property="og:site_name" content="Tech Daily">
        <meta property="article:published_time" content="2026-03-04T10:00:00Z">
        <link rel="canonical" href="https://tech.example/chips"></head>
        <body><nav><a href="/">Home</a> <a href="/tech">Tech</a></nav>
        <header>Tech Daily - all the news</header>
        <article><h1>Chip maker expands</h1>
        <p>The chip maker will build a second plant in Arizona, adding 2,000 jobs.</p>
        <div class="newsletter-signup"><p>Get our newsletter every morning!</p></div>
        <h2>Costs</h2><p>The plant costs $12 billion &amp; opens in 2028.</p>
        <ul><li>First item</li><li>Second item</li></ul>
        <table><tr><th>Year</th><th>Output</th></tr><tr><td>2028</td><td>10k</td></tr></table>
        </article><aside>Related stories</aside><footer>&copy; 2026 Tech Daily</footer>
        <script>var x = 1;</script></body></html>""",
        encoding="utf-8",
    )
    article = load_article(tmp_path, path)
    assert (article.title, article.source, article.date, article.url) == (
        "Chip maker expands",
        "Tech Daily",
        "2026-03-04",
        "https://tech.example/chips",
    )
    texts = [p.text for p in split_paragraphs(article)]
    joined = "\n".join(texts)
    assert texts[0] == "The chip maker will build a second plant in Arizona, adding 2,000 jobs."
    assert "$12 billion & opens in 2028." in joined
    assert "Year: 2028; Output: 10k" in joined
    for furniture in ("Home", "newsletter", "Related", "\u00a9", "var x", "all the news"):
        assert furniture not in joined


def test_plain_text_date_line_is_read(tmp_path: Path) -> None:
    path = tmp_path / "note.txt"
    path.write_text(
        "Date: 2026-05-06\n\nSomething happened in the markets today, a lot.\n", encoding="utf-8"
    )
    assert load_article(tmp_path, path).date == "2026-05-06"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("Caf\u00e9 news".encode("latin-1"), "not UTF-8"),
    ],
)
def test_unreadable_files_are_refused_by_name(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "broken.txt"
    path.write_bytes(content)
    with pytest.raises(CorpusError) as caught:
        load_article(tmp_path, path)
    assert "broken.txt" in str(caught.value) and reason in str(caught.value)


def test_vanished_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="gone.txt: the file vanished"):
        load_article(tmp_path, tmp_path / "gone.txt")


def test_the_corpus_listing_skips_hidden_files_and_folders_and_is_ordered(tmp_path: Path) -> None:
    """What is listed is what gets indexed: drafts in "_" folders, dot files and
    folders named like articles stay out, and the order is the files' relative paths."""
    from index.documents import article_files

    for name in (
        "b.txt", "a.md", "A.HTML", "sub/z.txt", "sub/deeper/y.markdown", "sub-a.txt",
        ".hidden.txt", "_draft.txt", ".git/x.txt", "_drafts/d.md", "sub/_old/o.txt",
        "notes.pdf", "readme",
    ):  # fmt: skip
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("Some text.\n")
    (tmp_path / "folder.md").mkdir()  # a folder, not an article
    listed = [p.relative_to(tmp_path).as_posix() for p in article_files(tmp_path)]
    assert listed == ["A.HTML", "a.md", "b.txt", "sub-a.txt", "sub/deeper/y.markdown", "sub/z.txt"]
