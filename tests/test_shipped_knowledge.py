"""The knowledge we ship: complete, short, sourced, honest about inferences, and well matched."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from sto_bot.assistant import Assistant
from sto_bot.evaluation import evaluate
from sto_bot.knowledge import Confidence, KnowledgeBase, load_eval
from sto_bot.text import fold

MAX_ANSWER_CHARS = 700
CHECK_DATES = [date(2024, 8, 20), date(2024, 9, 15), date(2026, 9, 1), date(2026, 11, 28)]


def test_every_topic_entry_is_bilingual_sourced_and_has_varied_phrasings(
    knowledge: KnowledgeBase,
) -> None:
    for entry in knowledge.entries.values():
        if entry.smalltalk:
            continue
        assert entry.sources, entry.id
        for language in ("nl", "en"):
            assert len(entry.questions[language]) >= 4, (entry.id, language)  # type: ignore[index]


@pytest.mark.parametrize("today", CHECK_DATES)
def test_answers_stay_short_on_every_date(
    make_assistant: Callable[..., Assistant], knowledge: KnowledgeBase, today: date
) -> None:
    assistant = make_assistant(today)
    for entry in knowledge.entries.values():
        for language in ("nl", "en"):
            body = assistant.answer_text(entry, language).split("\n\n")[0]  # type: ignore[arg-type]
            assert len(body) <= MAX_ANSWER_CHARS, (entry.id, language, len(body))


def test_inferred_and_unknown_entries_are_marked_in_the_reply(
    assistant: Assistant, knowledge: KnowledgeBase
) -> None:
    notes = {
        Confidence.INFERRED: knowledge.texts.get("inferred_note", "nl"),
        Confidence.UNKNOWN: knowledge.texts.get("unknown_note", "nl"),
    }
    for entry in knowledge.entries.values():
        if entry.confidence in notes:
            assert notes[entry.confidence] in assistant.answer_text(entry, "nl"), entry.id


def test_the_eval_set_is_large_and_varied(knowledge: KnowledgeBase) -> None:
    labelled = load_eval(knowledge.root / "eval", knowledge.coverage)
    assert len(labelled) >= 200
    assert sum(not item.in_scope for item in labelled) >= 30
    own_phrasings = {
        fold(question)
        for entry in knowledge.entries.values()
        for questions in entry.questions.values()
        for question in questions
    }
    copied = [item.question for item in labelled if fold(item.question) in own_phrasings]
    assert copied == []


@pytest.mark.parametrize("name", ["eval", "holdout/questions.yaml", "holdout/blind.yaml"])
def test_every_labelled_set_meets_the_targets(
    assistant: Assistant, knowledge: KnowledgeBase, name: str
) -> None:
    """Issue 9, acceptance 1: right at once, wrong answers, sure wrong ones, out of scope."""
    report = evaluate(assistant.matcher, load_eval(knowledge.root / name, knowledge.coverage))
    misses = [(g.labelled.question, g.top, g.band_name) for g in report.misses()]
    assert report.right_at_once >= 0.85, misses
    assert report.wrong <= 0.03, misses
    assert report.wrong_sure <= 0.01, misses
    assert report.out_of_scope_answered <= 0.03, misses
