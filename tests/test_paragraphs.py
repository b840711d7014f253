from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from index.documents import Article, Block, iter_articles
from index.paragraphs import is_boilerplate, split_paragraphs, split_sentences
from tests.conftest import SEED_CORPUS


def _article(lines: list[str], title: str = "") -> Article:
    return Article("a", Path("a.txt"), title, "", "", "", [Block("line", x) for x in lines], "0")


@pytest.fixture(scope="module")
def seed_paragraphs() -> dict[str, list]:
    return {a.id: split_paragraphs(a) for a in iter_articles(SEED_CORPUS)}


def test_no_boilerplate_is_ever_a_paragraph(seed_paragraphs: dict[str, list]) -> None:
    everything = "\n".join(
        f"{p.heading}\n{p.text}" for paras in seed_paragraphs.values() for p in paras
    )
    for forbidden in (
        "18117862238",
        "yumiao@",
        "Email",
        "Address:",
        "Copyright",
        "\u00a9",
        "All Rights Reserved",
        "Read Next",
        "Also Read",
        "Shutterstock",
        ".jpg",
        "Subscribe",
        "Home > MarketWatch",
        "TEL",
        "LINKS",
        "Stay in Rhythm",
        "Time:2025",
    ):
        assert forbidden not in everything, forbidden


def test_reporting_is_kept(seed_paragraphs: dict[str, list]) -> None:
    texts = [p.text for paras in seed_paragraphs.values() for p in paras]
    assert any("Former GitHub CEO Nat Friedman" in t for t in texts)
    assert any('Yann LeCun, once known as one of the "godfathers of AI"' in t for t in texts)
    assert sum(len(v) for v in seed_paragraphs.values()) > 40


def test_title_repeated_at_the_top_is_dropped(seed_paragraphs: dict[str, list]) -> None:
    first = seed_paragraphs["002_f2332b2d0f3892e9"][0]
    assert first.text.startswith("Meta's once-confident bet on open-source AI")
    assert "Meta's AI Pivot" not in first.heading + first.text
    assert first.headline.startswith("Meta's AI Pivot")  # searchable, never shown
    assert all(not p.headline for p in seed_paragraphs["002_f2332b2d0f3892e9"][1:])


def test_table_reads_a_row_per_line_with_its_header(seed_paragraphs: dict[str, list]) -> None:
    table = next(p for p in seed_paragraphs["000_22283747d3d5ce8a"] if "Ticker" in p.text)
    rows = table.text.split("\n")
    assert rows[1].startswith("Company: Alibaba; Exchange / Ticker: NYSE:BABA")
    assert "|" not in table.text and "---" not in table.text


def test_list_stays_with_its_introduction(seed_paragraphs: dict[str, list]) -> None:
    para = next(p for p in seed_paragraphs["003_995cb40eb3369109"] if "Gemma" in p.text)
    assert para.text.startswith("According to reports, Zuckerberg has formed")
    assert "- Google's Gemma\n- OpenAI's GPT-oss" in para.text


def test_short_heading_attaches_to_the_paragraph_below(seed_paragraphs: dict[str, list]) -> None:
    para = next(p for p in seed_paragraphs["001_fac266b8b9879510"] if "TBD Lab, staffed" in p.text)
    assert para.heading == "Inside Meta's New TBD Lab"


def test_paragraph_ids_are_stable_and_numbered_from_one(seed_paragraphs: dict[str, list]) -> None:
    paras = seed_paragraphs["003_995cb40eb3369109"]
    assert [p.number for p in paras] == list(range(1, len(paras) + 1))
    assert paras[0].id == "003_995cb40eb3369109#1"
    again = split_paragraphs(
        next(a for a in iter_articles(SEED_CORPUS) if a.id == paras[0].article_id)
    )
    assert again == paras


@pytest.mark.parametrize(
    "line",
    [
        "Email: someone@example.com",
        "TEL:",
        "+1 (555) 123-4567",
        "Copyright \u00a9 2021 example.com All Rights Reserved",
        "\u00a9 2025 Benzinga.com. Benzinga does not provide investment advice.",
        "Read Next:",
        "Also Read: Some Other Story About Meta",
        "26390384-Jzvfcd.jpg?auth_key=1766937599-",
        "Image by Tada Images via Shutterstock",
        "Subscribe to our newsletter for weekly insights.",
        "Home > MarketWatch > Industry News",
        "Address:20th floor, Taihe international financial center, Chengdu",
        "02",
        "Keith Bradsher contributed reporting from Hong Kong.",
        "(Reporting by Greg Roumeliotis and Joshua Franklin; Editing by Megan Davies)",
        "Follow The New York Times Opinion section on Facebook, Twitter and Instagram.",
        "Reach the reporters on Twitter at http://twitter.com/MegKinnardAP",
        "This copy is for your personal, non-commercial use only.",
        "Like this story? Share it with a friend!",
    ],
)
def test_boilerplate_lines(line: str) -> None:
    assert is_boilerplate(line)


@pytest.mark.parametrize(
    "line",
    [
        "Meta stock gained over 11% year-to-date as it navigated its AI and metaverse ambitions.",
        "The company's address to shareholders stressed AI.",
        "Meta recently acquired AI data company Scale AI for about $14.3 billion.",
        "Reporters contributed to the fund, the union said.",
        "Millions follow the company on Instagram, where it posts daily.",
    ],
)
def test_reporting_lines_are_not_boilerplate(line: str) -> None:
    assert not is_boilerplate(line)


def _boilerplate_by_every_pattern(text: str) -> bool:
    """``is_boilerplate`` as it was before its searches were skipped on texts missing
    the words they need: every pattern searched."""
    from index import paragraphs as p

    stripped = text.strip()
    if not any(c.isalpha() for c in stripped):
        return True
    words = len(stripped.split(maxsplit=40))
    if words > 40:
        return False
    return bool(
        p._CONTACT.search(stripped)
        or p._COPYRIGHT.search(stripped)
        or p._TEASER.search(stripped)
        or (p._IMAGE.search(stripped) and words <= 25)
        or (p._EMAIL.search(stripped) and words <= 25)
        or p._SUBSCRIBE.search(stripped)
        or (p._CRUMBS.match(stripped) and words <= 15)
        or p._CREDITS.search(stripped)
        or (p._CHROME.search(stripped) and words <= 15)
    )


def test_skipping_searches_never_changes_what_is_boilerplate() -> None:
    """Random short texts built from the patterns' own words, in any case, with the
    characters case-insensitive matching folds to ASCII letters ("\u017f" for "s"):
    ``is_boilerplate`` must answer as searching with every pattern does."""
    rng = np.random.default_rng(7)
    pieces = [
        "\u00a9", "(c) 2024", "(C)2024", "Copyright", "all rights reserved", "ICP \u5907",
        "licensed under", "Creative Commons", "does not provide investment advice",
        "reproduction in whole is prohibited", "photo.jpg", "img.PNG?w=3", "Image by",
        "Photos credit:", "Pictures courtesy", "via Shutterstock", "via getty images",
        "Source: Reuters", "Credits: AFP", "a@b.co", "x.y+z@mail.example.org", "Subscribe",
        "subscription", "newsletter", "sign up", "signup", "unsubscribe", ">", "\u00bb", "/",
        "|", "\u203a", "Home", "Reporting by", "(Additional reporting by", "contributed reporting",
        "contributed to this story", "Reach the writers", "Follow us on", "follow Jane Doe on X",
        "personal non-commercial use", "Like this article?", "Tell us what you think",
        "An error has occurred", "Tel:", "E-mail:", "Read more", "Trending now", "Updated:",
        "Advertisement", "Meta", "said", "the", "model", "2025", ".", "!", "?", ",", ":",
        "\u017f", "\u0131", "\u0130", "\u212a", "\u017fign up", "\u0131mage by",
        "SUB\u017fCRIBE", "\u212aeep", "phot\u00f6", "Caf\u00e9", "\u201cquoted\u201d",
    ]  # fmt: skip
    separators = [" ", "  ", "", " - ", ": ", "\n", " > "]
    for _ in range(20_000):
        count = int(rng.integers(1, 9))
        text = "".join(str(rng.choice(pieces)) + str(rng.choice(separators)) for _ in range(count))
        if rng.random() < 0.3:
            text = text.upper() if rng.random() < 0.5 else text.lower()
        assert is_boilerplate(text) == _boilerplate_by_every_pattern(text), repr(text)


def test_hard_wrapped_text_is_joined_into_paragraphs() -> None:
    lines = [
        "Meta is building a closed model called Avocado, according to people familiar",
        "with the matter, and expects to release it in the spring of next year after a",
        "series of delays that pushed it out of this quarter entirely.",
        "",
        "Alibaba shares rose two percent after the report was published on Wednesday",
        "morning, while Meta's stock fell by a little more than one percent overall.",
    ]
    paras = split_paragraphs(_article(lines))
    assert len(paras) == 2
    assert paras[0].text.startswith("Meta is building") and paras[0].text.endswith("entirely.")


def test_sentences_respect_abbreviations_and_numbers() -> None:
    text = (
        'Alphabet Inc.\u2019s Google paid $14.3 billion. Then "Avocado." It ships. U.S. firms rose.'
    )
    assert split_sentences(text) == [
        "Alphabet Inc.\u2019s Google paid $14.3 billion.",
        'Then "Avocado."',
        "It ships.",
        "U.S. firms rose.",
    ]


def test_no_paragraph_is_only_punctuation_or_numbers(seed_paragraphs: dict[str, list]) -> None:
    for paras in seed_paragraphs.values():
        for p in paras:
            assert re.search(r"[A-Za-z]{3}", p.text), p


def test_a_run_of_short_lines_is_text_not_one_long_heading() -> None:
    article = Article(
        "tour",
        Path("tour.html"),
        "",
        "",
        "",
        "",
        [
            Block("para", "The band announced a 30-date tour for next summer, its first in years."),
            Block("para", "Tour Dates"),
            Block("para", "June 9 \u2013 West Palm Beach, FL @ Coral Sky Amphitheatre"),
            Block("para", "June 17 \u2013 Nashville, TN @ Bridgestone Arena"),
            Block("para", "Additional reporting by Joseph Hudak"),
        ],
        "0",
    )
    paras = split_paragraphs(article)
    assert [(p.heading, p.text) for p in paras[1:]] == [
        ("", "Tour Dates"),
        ("", "June 9 \u2013 West Palm Beach, FL @ Coral Sky Amphitheatre"),
        ("", "June 17 \u2013 Nashville, TN @ Bridgestone Arena"),
    ]  # and the credit line is not a paragraph
