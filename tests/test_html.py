"""Web pages through trafilatura: the article's text, and only it, with its metadata."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.documents import html_article, load_article
from index.html import load_html
from index.paragraphs import split_paragraphs

HARBOUR = Path(__file__).parent / "data" / "harbour.html"


@pytest.fixture(scope="module")
def harbour() -> tuple[dict[str, str], list[str]]:
    article = html_article(HARBOUR.read_text(), article_id="harbour", path=HARBOUR)
    meta = {
        "title": article.title,
        "source": article.source,
        "date": article.date,
        "url": article.url,
        "author": article.extra.get("author", ""),
    }
    return meta, [p.indexed_text for p in split_paragraphs(article)]


def test_text_outside_paragraph_tags_is_kept(harbour: tuple[dict[str, str], list[str]]) -> None:
    _, texts = harbour
    assert texts[0].startswith("The harbour at Porto Seguro reopened on Tuesday")  # a <div>
    assert "Fishing crews were the first back in, unloading sardines before dawn." in texts
    assert any(t.startswith("The port authority said the repairs cost 14 million") for t in texts)


def test_a_sidebar_class_on_the_wrapper_does_not_remove_the_article(
    harbour: tuple[dict[str, str], list[str]],
) -> None:
    _, texts = harbour
    assert any("Ferry services to the islands restart next week" in t for t in texts)
    assert len(texts) >= 6


def test_teasers_comments_and_furniture_are_not_the_article(
    harbour: tuple[dict[str, str], list[str]],
) -> None:
    joined = "\n".join(harbour[1])
    for furniture in ("Ten beaches", "Most read", "Great news", "civil", "Home", "\u00a9"):
        assert furniture not in joined, furniture


def test_layout_tables_are_paragraphs_and_data_tables_keep_their_headers(
    harbour: tuple[dict[str, str], list[str]],
) -> None:
    _, texts = harbour
    assert any(t.startswith("Harbour master Rui Costa said the new breakwater") for t in texts)
    assert not any(":" in t.split(" said")[0] for t in texts if "Rui Costa" in t)
    table = next(t for t in texts if "Ilha Verde" in t)
    assert "Route: Porto Seguro to Ilha Verde; Crossings a day: 2" in table


def test_metadata_from_the_page(harbour: tuple[dict[str, str], list[str]]) -> None:
    meta, texts = harbour
    assert meta == {
        "title": "Harbour reopens after storm repairs",
        "source": "Coast News",
        "date": "2019-11-19",  # 23:30 in New York: still the 19th, never the 20th
        "url": "https://coast.example/2019/11/19/harbour-reopens",
        "author": "Ana Lima",
    }
    assert not any(t == meta["title"] for t in texts)  # the title is not a paragraph


def test_a_fetched_page_goes_through_the_same_extractor() -> None:
    page = load_html(
        HARBOUR.read_text().replace(
            '<meta property="og:url" content="https://coast.example/2019/11/19/harbour-reopens">',
            "",
        ),
        url="https://coast.example/2019/11/19/harbour-reopens",
    )
    assert page.meta["url"] == "https://coast.example/2019/11/19/harbour-reopens"
    assert page.blocks[1].text.startswith("The harbour at Porto Seguro")


@pytest.mark.parametrize(
    ("published", "url", "expected"),
    [
        ("2019-11-20T01:30:00Z", "https://n.example/2019/11/19/story", "2019-11-19"),
        ("", "https://n.example/2019/11/19/story", "2019-11-19"),
        ("2019-11-19T10:00:00+09:00", "https://n.example/story", "2019-11-19"),
    ],
)
def test_the_date_never_contradicts_the_address(published: str, url: str, expected: str) -> None:
    meta = f'<meta property="article:published_time" content="{published}">' if published else ""
    html = (
        f"<html><head><title>Story</title>{meta}</head><body><article>"
        + "".join(
            f"<p>Paragraph {n} of the story about the council budget vote and its results.</p>"
            for n in range(8)
        )
        + "</article></body></html>"
    )
    assert load_html(html, url=url).meta["date"] == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "<html></html>",
        "<?xml version='1.0' encoding='utf-8'?>",
    ],
)
def test_pages_without_an_article_give_nothing_and_never_raise(text: str) -> None:
    assert load_html(text).blocks == []


def test_an_xml_declared_page_is_read(tmp_path: Path) -> None:
    path = tmp_path / "x.html"
    path.write_text(
        "<?xml version='1.0' encoding='utf-8'?>\n<html><head><title>Budget vote</title></head>"
        "<body><article><h1>Budget vote</h1>"
        + "".join(
            f"<p>The council approved budget line {n} after a long debate.</p>" for n in range(6)
        )
        + "</article></body></html>"
    )
    paragraphs = split_paragraphs(load_article(tmp_path, path))
    assert paragraphs[0].text == "The council approved budget line 0 after a long debate."
