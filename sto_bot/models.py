"""Frozen value types that flow between the adapters and the core."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

Language = Literal["nl", "en"]
LANGUAGES: tuple[Language, ...] = ("nl", "en")


@dataclass(frozen=True, slots=True)
class ConversationKey:
    """Identifies one conversation: a channel plus the chat within it."""

    channel: str
    chat_id: str

    def __str__(self) -> str:
        return f"{self.channel}:{self.chat_id}"


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """What a user sent: typed text, or the id of an option they picked."""

    key: ConversationKey
    text: str | None = None
    choice: str | None = None
    user_name: str | None = None


class Recipient(StrEnum):
    """Who a reply is meant for."""

    USER = "user"
    CONSULTANTS = "consultants"


@dataclass(frozen=True, slots=True)
class Option:
    """A button: the id comes back as `IncomingMessage.choice` when it is picked."""

    id: str
    label: str


@dataclass(frozen=True, slots=True)
class Reply:
    """A message the assistant sends; adapters decide how to render it."""

    text: str
    options: tuple[Option, ...] = ()
    recipient: Recipient = Recipient.USER


class Band(StrEnum):
    """How sure the matcher is: answer outright, offer choices, or admit it does not know."""

    ANSWER = "answer"
    SUGGEST = "suggest"
    FALLBACK = "fallback"


@dataclass(frozen=True, slots=True)
class Match:
    """One knowledge entry with its score (0-100) for a question."""

    entry_id: str
    score: float


@dataclass(frozen=True, slots=True)
class Ranking:
    """The matcher's verdict: ranked matches and the band they fall in."""

    band: Band
    matches: tuple[Match, ...] = field(default=())

    @property
    def best(self) -> Match | None:
        """The top match, if any."""
        return self.matches[0] if self.matches else None
