"""The texts the code asks for, collected from the code (no list kept by hand), against the
shipped texts.yaml: every one defined in both languages, none defined that nothing asks for."""

from __future__ import annotations

from sto_bot.knowledge import KnowledgeBase
from sto_bot.text_keys import BUILT, missing_texts, required_texts, text_keys


def test_the_collector_finds_keys_asked_by_name_and_built_from_a_prefix() -> None:
    keys, prefixes = text_keys()
    assert {"welcome", "help", "handover_summary", "check_resume_note"} <= keys
    assert {"handover_ask_", "name_source_", "handover_thread_forgotten_"} <= prefixes
    assert "key" not in keys  # comments and docstrings do not count


def test_every_text_the_code_asks_for_is_defined_in_both_languages(
    knowledge: KnowledgeBase,
) -> None:
    assert missing_texts(set(knowledge.texts.values)) == []
    for key, text in knowledge.texts.values.items():
        assert set(text) == {"nl", "en"}, key


def test_the_texts_defined_are_exactly_the_texts_the_code_may_ask_for(
    knowledge: KnowledgeBase,
) -> None:
    """None missing (kb check would fail), none that nothing asks for (dead copy)."""
    assert sorted(set(knowledge.texts.values) ^ required_texts()) == []


def test_every_key_the_code_builds_has_its_values_listed() -> None:
    _, prefixes = text_keys()
    assert sorted(p for p in prefixes if p not in BUILT) == []


def test_a_text_the_code_asks_for_that_is_missing_is_named(knowledge: KnowledgeBase) -> None:
    defined = set(knowledge.texts.values)
    assert missing_texts(defined - {"help"}) == ["help"]
    assert missing_texts(defined - {"handover_ask_email", "thread_reply_console"}) == [
        "handover_ask_email",
        "thread_reply_console",
    ]
