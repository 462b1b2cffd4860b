"""The language of the replies, chosen with /taal (or its buttons) instead of followed per
question."""

from __future__ import annotations

from dataclasses import replace

from sto_bot.knowledge import Texts
from sto_bot.models import LANGUAGES, Changes, Language, Option, Reply


def choose_language(texts: Texts, value: str, changes: Changes, language: Language) -> list[Reply]:
    """/taal en, /taal nl, or the choice between them."""
    if value in LANGUAGES:
        return set_language(texts, value, changes)
    names = texts.table("language_names", language)  # each in its own language
    options = tuple(Option(f"lang:{code}", names[code]) for code in LANGUAGES)
    return [Reply(texts.get("language_usage", language), options)]


def set_language(texts: Texts, value: str, changes: Changes) -> list[Reply]:
    """From now on every reply in this language (anything but "en" is Dutch)."""
    language: Language = "en" if value == "en" else "nl"
    changes.state = replace(changes.state, language=language, last_language=language)
    return [Reply(texts.get("language_set", language))]
