"""Where conversation state lives between messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sto_bot.models import ConversationKey, Language


@dataclass(frozen=True, slots=True)
class ConversationState:
    """What the assistant remembers about one conversation."""

    language: Language | None = None  # chosen with /taal; None: follow each question
    last_language: Language | None = None  # the language of the last reply


class Store(Protocol):
    """Keeps conversation state; the SQLite store and the in-memory twin both fulfil it."""

    async def load(self, key: ConversationKey) -> ConversationState:
        """The state of a conversation (a fresh one if it is new)."""
        ...

    async def save(self, key: ConversationKey, state: ConversationState) -> None:
        """Remember the state of a conversation."""
        ...


class MemoryStore:
    """A store that lives in memory only: for one-off runs and tests."""

    def __init__(self) -> None:
        self._states: dict[ConversationKey, ConversationState] = {}

    async def load(self, key: ConversationKey) -> ConversationState:
        """The state of a conversation (a fresh one if it is new)."""
        return self._states.get(key, ConversationState())

    async def save(self, key: ConversationKey, state: ConversationState) -> None:
        """Remember the state of a conversation."""
        self._states[key] = state
