from __future__ import annotations

import pytest

from index.analyzer import tokenize, tokenize_question


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$14.3 billion", {"14.3", "$14.3", "billion"}),
        ("stock declined 1.2%", {"1.2", "1.2%"}),
        ("shares rose 1.2 %", {"1.2%"}),
        ("Alibaba (NYSE:BABA)", {"nyse:baba", "nyse", "baba"}),
        ("OpenAI's GPT-5 updates", {"gpt5", "gpt", "5"}),
        ("Llama 4, released", {"llama4", "llama", "4"}),
        ("1,000 jobs", {"1000"}),
        ("a 70-72 range", {"70", "72", "70-72"}),
    ],
)
def test_numbers_money_tickers_and_model_names_stay_findable(text: str, expected: set[str]) -> None:
    assert expected <= set(tokenize(text))


def test_model_names_match_however_they_are_written() -> None:
    for spelling in ("GPT-5", "GPT 5", "gpt5", "GPT\u20115"):
        assert "gpt5" in tokenize(spelling)


def test_folding_of_case_quotes_and_dashes() -> None:
    assert tokenize("Meta\u2019s \u201cAvocado\u201d \u2014 Open\u2011Source") == tokenize(
        'meta\'s "avocado" - open-source'
    )


def test_stop_words_dropped_and_words_stemmed() -> None:
    assert tokenize("The models were distilling") == ["model", "distil"]
    assert tokenize("distillation") == ["distil"]


def test_question_framing_words_are_not_search_terms() -> None:
    assert tokenize_question("What does distillation mean here?") == ["distil"]
    assert "happen" not in tokenize_question("What happened with Llama 4?")
    # ...but a question made only of them still searches for something.
    assert tokenize_question("What happened?") == ["happen"]
