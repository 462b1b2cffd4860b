"""Dated facts are told relative to today: before, during and after."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import pytest

from sto_bot.assistant import Assistant
from sto_bot.knowledge import KnowledgeBase
from sto_bot.models import Band


@pytest.mark.parametrize(
    ("today", "english", "dutch"),
    [
        (date(2024, 8, 20), "opens on 1 September 2024", "opent op 1 september 2024"),
        (
            date(2024, 9, 15),
            "is open until 1 October 2024, 16:00",
            "is open tot 1 oktober 2024, 16:00",
        ),
        (date(2026, 11, 28), "closed on 1 October 2024", "is gesloten op 1 oktober 2024"),
    ],
)
def test_the_application_window_is_told_relative_to_today(
    make_assistant: Callable[..., Assistant], today: date, english: str, dutch: str
) -> None:
    assistant = make_assistant(today)
    in_english = assistant.ask("When is the application window?", "en")
    in_dutch = assistant.ask("Wanneer is de aanvraagperiode?", "nl")
    assert in_english.status is Band.ANSWER and in_english.entry == "aanvraagperiode"
    assert english in in_english.text
    assert dutch in in_dutch.text


def test_after_the_window_the_answer_says_what_matters_now(
    make_assistant: Callable[..., Assistant],
) -> None:
    text = make_assistant(date(2026, 11, 28)).ask("application window", "en").text
    assert "no new application round" in text
    assert "1 October 2026" in text and "has passed" in text  # the 2027-2028 plan was due


def test_the_2027_2028_plan_is_upcoming_in_september_2026(
    make_assistant: Callable[..., Assistant],
) -> None:
    text = make_assistant(date(2026, 9, 1)).ask("Wanneer is de aanvraagperiode?", "nl").text
    assert "moet uiterlijk 1 oktober 2026 bij DUS-I binnen zijn" in text


def test_a_date_only_deadline_still_holds_on_its_own_day(knowledge: KnowledgeBase) -> None:
    plan = knowledge.dates["plan-2027-2028"]
    assert plan.state(datetime(2026, 10, 1, 18, 0)) == "before"
    assert plan.state(datetime(2026, 10, 2, 0, 0)) == "after"


def test_a_window_with_times_opens_and_closes_on_the_minute(knowledge: KnowledgeBase) -> None:
    window = knowledge.dates["aanvraagperiode"]
    assert window.state(datetime(2024, 9, 1, 8, 59)) == "before"
    assert window.state(datetime(2024, 9, 1, 9, 0)) == "during"
    assert window.state(datetime(2024, 10, 1, 16, 0)) == "during"
    assert window.state(datetime(2024, 10, 1, 16, 1)) == "after"
