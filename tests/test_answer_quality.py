"""What issue 9 asked of answers, each on a small corpus of its own.

Chat framing does not change an answer; possessives, accents, hyphens and near-miss
spellings find what the reader meant; a question the articles do not answer is declined;
a citation after the first must stand on its own; a follow-up's earlier question steers
the paragraph, not the highlighted sentence; Markdown paragraphs end at blank lines.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.answer import Answerer
from bot.core import Core
from bot.query import answer_kind, strip_framing
from bot.render.text import NOT_SURE, render_answer
from bot.settings import Settings
from index.documents import load_article
from index.paragraphs import split_paragraphs
from index.store import IndexStore
from tests.conftest import SEED_CORPUS

FILLER = [
    "Lenders said mortgage rates were steady through the autumn, with little change expected.",
    "The city council approved a new budget for parks and libraries after a long debate.",
    "Rainfall in the region was close to the seasonal average, forecasters reported.",
    "Shares of the retailer fell after it cut its outlook for the holiday quarter.",
    "The museum will reopen its east wing next spring after renovation work.",
    "A local football club signed two young players on three-year contracts.",
]


def _answerer(tmp_path: Path, articles: dict[str, str]) -> Answerer:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in articles.items():
        (corpus / name).write_text(text, encoding="utf-8")
    (corpus / "filler.md").write_text("\n\n".join(FILLER) + "\n", encoding="utf-8")
    return Answerer(IndexStore(corpus, tmp_path / "index").current)


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Answerer:
    return Answerer(IndexStore(SEED_CORPUS, tmp_path_factory.mktemp("index")).current)


@pytest.mark.parametrize(
    "framed",
    [
        "hey, quick question: Who leads TBD Lab?",
        "Who leads TBD Lab? thanks!",
        "Could you check: who leads TBD Lab?",
        "hi bot, who leads TBD Lab? :thinking_face:",
        "Quick q - who leads TBD Lab? Thank you",
        "hey @bot quick q - who leads TBD Lab? :eyes:",
    ],
)
def test_chat_framing_gets_the_same_answer_as_the_plain_question(
    seed: Answerer, framed: str
) -> None:
    plain = seed.answer("Who leads TBD Lab?")
    answer = seed.answer(framed)
    assert answer.answered and plain.answered
    assert [c.ref for c in answer.citations] == [c.ref for c in plain.citations]
    assert "Alexandr Wang" in answer.citations[0].text


def test_framing_is_stripped_but_a_question_of_only_framing_is_kept() -> None:
    assert strip_framing("hey there, quick question: what is Avocado? thanks!") == (
        "what is Avocado?"
    )
    assert strip_framing("Do you know if Avocado is open source?") == "Avocado is open source?"
    assert strip_framing("thanks") == "thanks"


def test_possessives_accents_and_hyphens_find_the_paragraph(tmp_path: Path) -> None:
    answerer = _answerer(
        tmp_path,
        {
            "walden.md": "Henry David Thoreau built a small cabin at Walden Pond in 1845.\n",
            "gospic.md": "Nikola Tesla was born in Smiljan near Gospić in 1856.\n",
            "census.md": "The census counted more African Americans in the southern states.\n",
        },
    )
    for question, expected in (
        ("Where was Thoreau's cabin built?", "Walden Pond"),
        ("Which town near Gospic was Tesla born in?", "Smiljan"),
        ("Where did the census count more African-Americans?", "southern states"),
    ):
        answer = answerer.answer(question)
        assert answer.answered, question
        assert expected in answer.citations[0].text, question


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What did Zuckerburg say about Avacado?", "Zuckerberg"),
        ("Who is Alexander Wang?", "Alexandr Wang"),
        ("How did Alibaba stock react?", "Alibaba (NYSE:BABA)"),  # "Market Reaction"
    ],
)
def test_near_miss_spellings_are_matched_not_declined(
    seed: Answerer, question: str, expected: str
) -> None:
    answer = seed.answer(question)
    assert answer.answered
    assert any(expected in c.text for c in answer.citations)


@pytest.mark.parametrize(
    "question",
    [
        "What is the capital of Australia?",
        "How many goals did Messi score last season?",
        "Who won the 1998 Tour de France?",
    ],
)
def test_questions_the_articles_do_not_answer_are_declined(seed: Answerer, question: str) -> None:
    answer = seed.answer(question)
    assert not answer.answered and not answer.citations
    assert "couldn\u2019t find an answer" in render_answer(answer)


def test_a_later_citation_must_stand_on_its_own(tmp_path: Path) -> None:
    answerer = _answerer(
        tmp_path,
        {
            "glacier.md": (
                "GLAMOS is led by glaciologist Matthias Huss, who has measured Swiss "
                "glaciers for twenty years.\n"
            ),
        },
    )
    answer = answerer.answer("Who leads GLAMOS?")
    assert answer.answered
    assert [c.article for c in answer.citations] == ["glacier"]


def test_a_follow_up_highlights_what_it_asks_not_what_the_thread_asked(tmp_path: Path) -> None:
    answerer = _answerer(
        tmp_path,
        {
            "zephyr.md": (
                "Northwind Energy unveiled Zephyr, a compact wind turbine for rooftops. "
                "The company said Zephyr will launch in March 2027 at a price of $4,000.\n"
            ),
        },
    )
    core = Core(Settings(), IndexStore(tmp_path / "corpus", tmp_path / "index2"), answerer)
    answer = core.follow_up("When will it launch?", "What is Zephyr?")
    assert answer.answered
    assert "March 2027" in answer.highlight


def test_a_paragraph_that_leaves_its_article_s_subject_unsaid_is_still_found(
    tmp_path: Path,
) -> None:
    # Paragraphs after the first say "the turbine", not its name: the title says it.
    answerer = _answerer(
        tmp_path,
        {
            "zephyr.md": (
                "# Zephyr\n\n"
                "Zephyr is a compact wind turbine for rooftops made by Northwind Energy.\n\n"
                "Zephyr sales began in Norway, where Northwind expects strong demand.\n\n"
                "The turbine was designed in Bergen by a team of twelve engineers.\n"
            ),
        },
    )
    answer = answerer.answer("Where was Zephyr designed?")
    assert answer.answered
    assert "Bergen" in answer.citations[0].text


def test_a_passage_holding_the_whole_question_beats_a_digression_under_a_matching_title(
    tmp_path: Path,
) -> None:
    answerer = _answerer(
        tmp_path,
        {
            "zephyr.md": (
                "# Zephyr turbine reviewed\n\n"
                "The reviewers liked the rooftop turbine's quiet blades.\n\n"
                "Other product launches have struggled this year, the reviewers added.\n"
            ),
            "northwind.md": (
                "# Northwind Energy plans\n\n"
                "Northwind Energy said the Zephyr will launch in March 2027.\n"
            ),
        },
    )
    answer = answerer.answer("When will Zephyr launch?")
    assert answer.answered
    assert "March 2027" in answer.citations[0].text


def test_markdown_paragraphs_end_at_blank_lines_only(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text(
        "Oxygen is a chemical element with symbol\nO and atomic number 8. In 1774\n"
        "2. Priestley isolated it.\n\nA second paragraph.\n\n- one item\n- two items\n",
        encoding="utf-8",
    )
    texts = [p.text for p in split_paragraphs(load_article(tmp_path, path))]
    assert texts[0] == (
        "Oxygen is a chemical element with symbol O and atomic number 8. In 1774 "
        "2. Priestley isolated it."
    )
    assert "A second paragraph." in texts[1]
    assert "one item" in texts[-1] and "two items" in texts[-1]


def test_answer_kinds_are_read_from_the_wh_phrase() -> None:
    assert answer_kind("When did Avocado slip?") == "time"
    assert answer_kind("In what year was it founded?") == "time"
    assert answer_kind("How much did Meta spend?") == "number"
    assert answer_kind("Who leads TBD Lab?") == "name"
    assert answer_kind("What is Avocado?") == ""


def test_an_unsure_answer_says_so_before_the_passage(seed: Answerer) -> None:
    from dataclasses import replace

    answer = seed.answer("Who leads TBD Lab?")
    text = render_answer(replace(answer, sure=False))
    assert text.startswith(NOT_SURE)
    assert "Alexandr Wang" in text


def test_an_unsure_answer_says_so_on_slack_and_discord(seed: Answerer) -> None:
    from dataclasses import replace

    from bot.render import discord as discord_render
    from bot.render import slack as slack_render

    answer = replace(seed.answer("Who leads TBD Lab?"), sure=False)
    _, blocks = slack_render.render_answer(answer)
    assert NOT_SURE in str(blocks[0])
    content, embeds = discord_render.render_answer(answer)
    assert NOT_SURE in content and "Alexandr Wang" in str(embeds)
    sure_content, _ = discord_render.render_answer(replace(answer, sure=True))
    assert NOT_SURE not in sure_content
