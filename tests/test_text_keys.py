"""The texts the code asks for, collected from the code (no list kept by hand), against the
shipped texts.yaml: every one defined in both languages, none defined that nothing asks for."""

from __future__ import annotations

from sto_bot.knowledge import KnowledgeBase
from sto_bot.text_keys import missing_texts, text_keys


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


def test_every_text_defined_is_asked_for_by_the_code(knowledge: KnowledgeBase) -> None:
    keys, prefixes = text_keys()
    unused = [
        key
        for key in knowledge.texts.values
        if key not in keys and not any(key.startswith(prefix) for prefix in prefixes)
    ]
    assert unused == []


def test_a_text_the_code_asks_for_that_is_missing_is_named() -> None:
    keys, _ = text_keys()
    defined = set(keys) - {"help"}
    assert "help" in missing_texts(defined)
    assert "handover_ask_…" in missing_texts({k for k in defined if not k.startswith("handover_")})
