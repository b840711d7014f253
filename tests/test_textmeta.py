"""Plain text and Markdown: the headline, Source/By/Date lines, ISO dates never guessed."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.dates import date_from_url, iso_date
from index.documents import iter_articles, load_article
from index.paragraphs import split_paragraphs
from tests.conftest import SEED_CORPUS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("November 19, 2019", "2019-11-19"),  # never cut to "November 1"
        ("Tuesday, 19 November 2019 14:05 GMT", "2019-11-19"),
        ("2019-11-19T23:30:00Z", "2019-11-19"),  # the day as written, in any time zone
        ("2019-11-19T23:30:00-05:00", "2019-11-19"),
        ("19.11.2019", "2019-11-19"),
        ("19 ноября 2019", "2019-11-19"),
        ("Tue Nov 19", ""),  # no year: not guessed
        ("next tuesday", ""),
        ("yesterday", ""),
        ("3 days ago", ""),
        ("Nov 2019", ""),  # no day
        ("2019-02-30", ""),
        ("soon", ""),
    ],
)
def test_dates_are_iso_or_nothing(text: str, expected: str) -> None:
    assert iso_date(text) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.nytimes.com/2019/11/18/business/trade.html", "2019-11-18"),
        ("https://example.com/news/2019-11-19-harbour", "2019-11-19"),
        ("https://example.com/2019/11/harbour", "2019-11"),
        ("https://example.com/article/123456", ""),
    ],
)
def test_dates_in_addresses(url: str, expected: str) -> None:
    assert date_from_url(url) == expected


def test_headline_source_byline_and_date_lines(tmp_path: Path) -> None:
    path = tmp_path / "wine.txt"
    path.write_text(
        "Wine harvest in Bordeaux hits a fifty-year low\n"
        "By Jane Doe\n"
        "Source: Example Wire\n"
        "Date: Tue Nov 19\n"
        "Published: November 19, 2019\n\n"
        "Bordeaux winemakers reported the smallest grape harvest in fifty years.\n"
    )
    article = load_article(tmp_path, path)
    assert (article.title, article.source, article.date) == (
        "Wine harvest in Bordeaux hits a fifty-year low",
        "Example Wire",
        "2019-11-19",  # the first line naming a whole day; "Tue Nov 19" is no date
    )
    assert article.extra["author"] == "Jane Doe"
    [para] = split_paragraphs(article)
    assert para.text == "Bordeaux winemakers reported the smallest grape harvest in fifty years."
    assert para.heading == "" and para.headline == article.title  # searchable, not shown


def test_markdown_heading_title_and_written_out_front_matter_date(tmp_path: Path) -> None:
    path = tmp_path / "rates.md"
    path.write_text(
        "---\ndate: December 22, 2025\n---\n# Rates held\n\nThe central bank kept rates on "
        "hold at 4.5%, citing sticky inflation.\n"
    )
    article = load_article(tmp_path, path)
    assert (article.title, article.date) == ("Rates held", "2025-12-22")


def test_a_first_line_that_is_a_sentence_or_a_section_is_not_the_title(tmp_path: Path) -> None:
    articles = {a.id: a for a in iter_articles(SEED_CORPUS)}
    assert articles["000_22283747d3d5ce8a"].title == ""  # "Key Moments": a section name
    assert articles["001_fac266b8b9879510"].title == ""  # a full sentence
    assert articles["000_22283747d3d5ce8a"].display_title.startswith(
        "Meta Platforms (NASDAQ:META) stock declined 1.2%"
    )
    assert len(articles["001_fac266b8b9879510"].display_title) <= 80


def test_a_bad_date_in_the_manifest_or_front_matter_is_no_date(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("---\ndate: next tuesday\n---\nSomething happened in the markets today.\n")
    assert load_article(tmp_path, path).date == ""


def test_a_one_line_article_keeps_its_line_as_text(tmp_path: Path) -> None:
    path = tmp_path / "one.txt"
    path.write_text("Zebras invaded the trading floor on Tuesday morning\n")
    article = load_article(tmp_path, path)
    assert article.title == ""
    assert [p.text for p in split_paragraphs(article)] == [
        "Zebras invaded the trading floor on Tuesday morning"
    ]
