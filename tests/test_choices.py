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
