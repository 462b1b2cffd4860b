"""The knowledge we ship: complete, short, sourced, honest about inferences, and well matched."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

import pytest
from conftest import REPOSITORY

from sto_bot.assistant import Assistant
from sto_bot.evaluation import evaluate
from sto_bot.knowledge import Confidence, KnowledgeBase
from sto_bot.loader import load_eval
from sto_bot.text import fold

MAX_ANSWER_CHARS = 700
CHECK_DATES = [date(2024, 8, 20), date(2024, 9, 15), date(2026, 9, 1), date(2026, 11, 28)]


def test_every_topic_entry_is_bilingual_sourced_and_has_eight_phrasings_per_language(
    knowledge: KnowledgeBase,
) -> None:
    for entry in knowledge.entries.values():
        if not entry.topical:
            continue
        assert entry.sources, entry.id
        for language in ("nl", "en"):
            assert len(entry.questions[language]) >= 8, (entry.id, language)


@pytest.mark.parametrize("today", CHECK_DATES)
def test_answers_stay_short_on_every_date(
    make_assistant: Callable[..., Assistant], knowledge: KnowledgeBase, today: date
) -> None:
    assistant = make_assistant(today)
    for entry in knowledge.entries.values():
        for language in ("nl", "en"):
            body = assistant.answer_text(entry, language).split("\n\n")[0]
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


# What the sets reach today, kept from falling back. The targets: 85 % right at once,
# <= 3 % wrong of which <= 1 % sure, <= 3 % out of scope answered.
FLOORS = {
    # eval/ holds dev2.yaml (300 harder questions, 43 % English), dev3.yaml (219 questions the
    # phrasings never saw) and since session 8 dev4.yaml (233, a quarter other subsidies).
    "eval": (0.85, 0.97, 0.02, 0.005, 0.02),
    # Three of these 86 questions are answered by a neighbouring entry ("What's our region's
    # maximum in bijlage 3?" gets the techniekregio amounts, "What makes a region techniekluwe?"
    # which regions are): above the 3 %, kept here so that it gets no worse. A tap away:
    # 94.2 % since session 8 (one question fewer than before), the price of a refitted decision.
    "holdout/questions.yaml": (0.84, 0.94, 0.036, 0.01, 0.03),
    "holdout/blind.yaml": (0.86, 0.98, 0.02, 0.01, 0.03),  # out of scope: none of 30 answered
    # Written blind in session 8; long messages are their weak spot (blind2: 68 % right).
    "holdout/blind2.yaml": (0.81, 0.97, 0.025, 0.01, 0.03),
    "holdout/blind3.yaml": (0.85, 0.97, 0.025, 0.01, 0.031),  # out of scope: 1 of 33 answered
    # Session 9, 45 % long messages: below the targets (80.7 % right, 3.7 % wrong, none
    # sure), kept here so that it gets no worse. A tap away 95.2-96.3 % over session 12's
    # refits (a suggestion threshold of 0.28, then phrasings on unspent money: one question each).
    "holdout/blind4.yaml": (0.80, 0.95, 0.038, 0.01, 0.03),
    # Session 10, a third long messages: 84.5 % right, 1.6 % wrong, when first judged; a tap
    # away 95.7-96.8 % over three refits that session.
    "holdout/blind5.yaml": (0.84, 0.95, 0.02, 0.01, 0.03),
}


@pytest.mark.parametrize("name", list(FLOORS))
def test_every_labelled_set_keeps_its_figures(
    assistant: Assistant, knowledge: KnowledgeBase, name: str
) -> None:
    """Right at once, within one tap, wrong answers (and sure wrong ones), out of scope."""
    report = evaluate(assistant.matcher, load_eval(knowledge.root / name, knowledge.coverage))
    misses = [(g.labelled.question, g.top, g.band_name) for g in report.misses()]
    right, one_tap, wrong, wrong_sure, out_of_scope = FLOORS[name]
    assert report.right_at_once >= right, misses
    assert report.within_one_tap >= one_tap, misses
    assert report.wrong <= wrong, misses
    assert report.wrong_sure <= wrong_sure, misses
    assert report.out_of_scope_answered <= out_of_scope, misses


FACT_SHEET = REPOSITORY.parent / "shared" / "knowledge-sources" / "sto-facts.md"
# How our research, not the answer, speaks: notes a director does not want to read.
RESEARCH_NOTES = re.compile(
    r"\b(wij|we hebben|onze bronnen|kunnen inzien|een enkele bron"
    r"|our sources|we could not|we have not|we did not)\b",
    re.IGNORECASE,
)
MAX_WORDS = 85  # "at most about 80 words before the source line"


def test_every_numbered_fact_of_the_fact_sheet_is_in_coverage(knowledge: KnowledgeBase) -> None:
    """Issue 9, acceptance 2: each numbered fact is told by an entry or says why not."""
    if not FACT_SHEET.exists():
        pytest.skip("the fact sheet is not beside this checkout")
    numbered = set(re.findall(r"^\| (\d+\.\d+) \|", FACT_SHEET.read_text(), re.MULTILINE))
    assert len(numbered) > 80
    assert numbered - set(knowledge.coverage) == set()


def test_the_do_not_invent_list_is_never_answered_as_known(knowledge: KnowledgeBase) -> None:
    """§18: each item has an honest entry, and none of them is stated as confirmed."""
    for number in range(1, 21):
        told = knowledge.coverage[f"18.{number}"]
        assert told, number
        for entry_id in told:
            assert knowledge.entries[entry_id].confidence is not Confidence.CONFIRMED, entry_id


@pytest.mark.parametrize("today", CHECK_DATES)
def test_answers_come_first_short_and_without_research_notes(
    make_assistant: Callable[..., Assistant], knowledge: KnowledgeBase, today: date
) -> None:
    assistant = make_assistant(today)
    for entry in knowledge.entries.values():
        if not entry.topical:
            continue
        for language in ("nl", "en"):
            text = assistant.answer_text(entry, language)
            before_source = text.rsplit("\n\n", 1)[0]
            assert len(before_source.split()) <= MAX_WORDS, (entry.id, language)
            assert not RESEARCH_NOTES.search(entry.answer[language]), (entry.id, language)
            if "sto.dus-i@minvws.nl" in text:  # the 2020-2023 mailbox, never as current
                assert "2020-2023" in text, (entry.id, language)
