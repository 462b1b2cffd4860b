"""The knowledge base as frozen objects: entries with their phrasings and sourced answers,
topics, dated facts, the assistant's texts, and the check, commands and intents beside them.
(loader.py reads and validates the YAML files into these.)"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from enum import StrEnum
from pathlib import Path

from sto_bot.choices import OptionWords
from sto_bot.commands import Commands
from sto_bot.decision import Decision
from sto_bot.dialog import Tree
from sto_bot.intents import Intents
from sto_bot.models import Language, Source
from sto_bot.text import Lexicon


class EntryKind(StrEnum):
    """What an entry is for: a question about STO, small talk, or something other than STO."""

    TOPIC = "topic"
    SMALLTALK = "smalltalk"
    ELSEWHERE = "elsewhere"  # other subsidies, the clock, the weather: answered as out of scope


class Confidence(StrEnum):
    """How firmly the sources back an answer."""

    CONFIRMED = "confirmed"
    INFERRED = "inferred"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Entry:
    """One question the assistant can answer, with its phrasings and sourced answer."""

    id: str
    topic_id: str
    questions: Mapping[Language, tuple[str, ...]]
    answer: Mapping[Language, str]
    keywords: tuple[str, ...] = ()
    sources: tuple[Source, ...] = ()
    confidence: Confidence = Confidence.CONFIRMED
    follow_ups: tuple[str, ...] = ()
    kind: EntryKind = EntryKind.TOPIC
    # Another programme's names (elsewhere.yaml): a message that names one and not STO is
    # about that programme, whatever STO words it uses.
    names: tuple[str, ...] = ()
    # Small talk about the answer just given ("bron?"): told with that answer's sources.
    sources_of_previous: bool = False

    @property
    def smalltalk(self) -> bool:
        """Whether this is small talk ("hallo", "wie ben jij?"), matched word for word."""
        return self.kind is EntryKind.SMALLTALK

    @property
    def topical(self) -> bool:
        """Whether this entry answers a question about STO."""
        return self.kind is EntryKind.TOPIC

    def title(self, language: Language) -> str:
        """The entry's first phrasing: how it is labelled on a button."""
        return self.questions[language][0]


@dataclass(frozen=True, slots=True)
class Topic:
    """A group of entries, browsable with /onderwerpen."""

    id: str
    title: Mapping[Language, str]
    entry_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DatedFact:
    """A date or period whose wording depends on today: before, during or after it."""

    id: str
    start: datetime | None
    end: datetime | None
    start_has_time: bool
    end_has_time: bool
    text: Mapping[str, Mapping[Language, str]]

    def state(self, now: datetime) -> str:
        """Which of before / during / after applies at `now`."""
        closes = None
        if self.end is not None:
            # A date without a time lasts the whole day: a deadline "on 1 October" still holds then.
            closes = self.end if self.end_has_time else _end_of_day(self.end)
        if self.start is not None and now < self.start:
            return "before"
        if closes is None:
            return "after"
        if now > closes:
            return "after"
        return "during" if self.start is not None else "before"


def _end_of_day(moment: datetime) -> datetime:
    return datetime.combine(moment.date(), time(23, 59, 59))


@dataclass(frozen=True, slots=True)
class Texts:
    """The assistant's own texts, per key and language."""

    values: Mapping[str, Mapping[Language, str]]

    def get(self, key: str, language: Language, **fields: object) -> str:
        """The text for `key` in `language`, with `{field}` placeholders filled in."""
        template = self.values[key][language]
        return template.format_map(fields) if fields else template

    def table(self, key: str, language: Language) -> dict[str, str]:
        """A text of "key=label" lines as a mapping."""
        pairs = (line.split("=", 1) for line in self.get(key, language).splitlines())
        return {name.strip(): label.strip() for name, label in pairs}


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    """The whole validated knowledge base."""

    root: Path
    topics: tuple[Topic, ...]
    entries: Mapping[str, Entry]
    sources: Mapping[str, Source]
    dates: Mapping[str, DatedFact]
    lexicon: Lexicon
    texts: Texts
    check: Tree
    commands: Commands
    option_words: OptionWords  # words that pick an option on screen
    intents: Intents  # what people ask for in their own words
    # Fact number of the fact sheet ("7.10") -> the entries that tell it (empty: not told).
    coverage: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    decision: Decision | None = None  # fitted by `sto-bot kb fit`

    def topic(self, topic_id: str) -> Topic | None:
        """The topic with this id, if there is one."""
        return next((topic for topic in self.topics if topic.id == topic_id), None)
