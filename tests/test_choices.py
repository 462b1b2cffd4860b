"""Typed replies that pick an option on screen, and those that must not."""

from __future__ import annotations

import pytest

from sto_bot.choices import OptionWords, OutOfRange, pick
from sto_bot.models import Option

OPTIONS = [
    Option("role:lead", "Schoolleider of directeur"),
    Option("ask:techniekluwe-regio", "Wat is een techniekluwe regio?"),
    Option("fb:up", "👍 Nuttig"),
    Option("fb:down", "👎 Niet nuttig"),
]


@pytest.mark.parametrize(
    ("typed", "picked"),
    [
        ("directeur?", "role:lead"),  # a hesitant answer still names its option
        ("👍", "fb:up"),
        ("👍🏽", "fb:up"),  # with a skin tone
        ("👎", "fb:down"),
        ("de laatste", "fb:down"),
        ("the last one", "fb:down"),
        # A question of one's own does not pick a question by part of its label.
        ("en een techniekregio?", None),
        ("(", None),
    ],
)
def test_a_typed_reply_picks_the_option_it_names(typed: str, picked: str | None) -> None:
    found = pick(typed, OPTIONS, OptionWords({}))
    assert (found.id if isinstance(found, Option) else None) == picked


@pytest.mark.parametrize("typed", ["-1", "0", "7"])
def test_a_number_beyond_the_options_is_out_of_range_not_a_question(typed: str) -> None:
    found = pick(typed, OPTIONS, OptionWords({}))
    assert isinstance(found, OutOfRange) and found.count == len(OPTIONS)


# A check question's options with their own words, as knowledge/dialogs/eligibility.yaml gives
# them: "ja" and "nee" keep their shared words too.
REGION = [Option("chk:v1:regio:ja", "Ja"), Option("chk:v1:regio:nee", "Nee")]
REGION_WORDS = OptionWords({"ja": ("ja",), "nee": ("nee",)}).with_own_words(
    {
        "chk:v1:regio:ja": ("in een regio", "techniekregio", "techniekluwe regio"),
        "chk:v1:regio:nee": ("niet in een regio", "geen regio"),
    }
)


@pytest.mark.parametrize(
    ("typed", "picked"),
    [
        ("ja", "chk:v1:regio:ja"),  # the shared words still pick
        ("wij zitten in een regio", "chk:v1:regio:ja"),
        ("Ja hoor, we zijn een techniekluwe regio.", "chk:v1:regio:ja"),
        ("helaas zitten we niet in een regio", "chk:v1:regio:nee"),  # the longer words win
        ("wij hebben geen regio", "chk:v1:regio:nee"),
        # Not an answer: a question, a "not" around the words, or words of both options.
        ("zitten wij in een regio?", None),
        ("hoe weet ik of we in een regio zitten", None),
        ("ik weet niet of we in een techniekregio zitten", None),
        ("een techniekregio of geen regio", None),
        # A long text tells more than an answer does.
        (
            "wij zitten in een regio maar de penvoerder heeft ons nog niets verteld over hoe"
            " dat verder gaat",
            None,
        ),
    ],
)
def test_an_answer_in_ones_own_words_picks_the_option_whose_words_it_holds(
    typed: str, picked: str | None
) -> None:
    found = pick(typed, REGION, REGION_WORDS)
    assert (found.id if isinstance(found, Option) else None) == picked
