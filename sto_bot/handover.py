"""Handing a conversation to a consultant and back: what its three sides share.

A conversation goes bot -> (consent and intake) -> waiting -> with a person -> bot. The intake
(intake.py) lives in the conversation's own state; waiting and with-a-person are read from the
handovers table, because a consultant changes them from another conversation, the consultants'
chat (desk.py). What the consultants read first is the summary (summary.py). Everything meant for
the consultants is queued in the outbox in the same transaction as the change it reports, so it
is delivered once even if the process dies in between.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sto_bot.buttons import CLOSE, PICK
from sto_bot.knowledge import Texts
from sto_bot.models import (
    Changes,
    ConversationKey,
    Handover,
    HandoverStatus,
    Language,
    Option,
    Reply,
)

CONSENT_YES = "ho:yes"
CONSENT_NO = "ho:no"
SKIP = "ho:skip"
ROLE = "ho:role:"
CONTACT = "ho:contact:"
CANCEL = "ho:cancel"  # withdraw a question nobody picked up yet
LEAVE = "ho:back"  # leave the consultant, back to the assistant
# The consultants' commands, by their id in knowledge/commands.yaml.
CONSULTANT_COMMANDS = frozenset({"handovers", "handover", "pick-up", "close", "reply"})

DEFAULT_REMINDER_HOURS = 2  # office hours before the consultants are reminded
CONSULTANTS_LANGUAGE: Language = "nl"


@dataclass(frozen=True, slots=True)
class Consultants:
    """Who the consultants are and where they work: ids allowed consultant commands, and the
    conversation that is the consultants' chat (None: not configured yet)."""

    ids: frozenset[str] = frozenset()
    chat: ConversationKey | None = None
    reminder_hours: float = DEFAULT_REMINDER_HOURS


class HandoverWording:
    """What every side of a handover says the same way: the consultants' texts (always
    Dutch), a user's name, the buttons under a handover in the consultants' chat."""

    def __init__(self, texts: Texts, consultants: Consultants) -> None:
        self.texts = texts
        self.consultants = consultants

    def _first_name(self, name: str | None) -> str:
        """How a consultant is introduced to a user: by first name."""
        if name and name.strip():
            return name.split(maxsplit=1)[0]
        return self._nl("handover_consultant_unnamed")

    def _desk_channel(self) -> str:
        """The channel of the consultants' chat, whose texts say how to answer a user."""
        chat = self.consultants.chat
        return chat.wording if chat is not None else "telegram"

    def _nl(self, key: str, **fields: object) -> str:
        """A text for the consultants' chat (always Dutch)."""
        return self.texts.get(key, CONSULTANTS_LANGUAGE, **fields)

    def rejoin(self, changes: Changes, language: Language) -> list[Reply] | None:
        """/adviseur after /terug: what the user types goes to the consultants again; None
        when the user has not stepped aside."""
        active = changes.state.handover
        if active is None or changes.state.with_consultants:
            return None
        changes.state = replace(changes.state, aside=None)
        if active.status is HandoverStatus.OPEN:
            return [Reply(self.texts.get("handover_rejoined", language, number=active.number))]
        consultant = active.consultant_name(self.texts.get("a_consultant", language))
        return [Reply(self.texts.get("handover_rejoined_live", language, consultant=consultant))]

    def _name(self, handover: Handover | None) -> str:
        name = handover.data.get("name") if handover is not None else None
        return str(name) if name else self._nl("handover_not_given")

    @staticmethod
    def _user_language(handover: Handover) -> Language:
        return "en" if handover.data.get("language") == "en" else "nl"

    def _buttons(self, number: int, status: HandoverStatus) -> tuple[Option, ...]:
        close = Option(f"{CLOSE}{number}", self._nl("handover_close"))
        if status is HandoverStatus.OPEN:
            return (Option(f"{PICK}{number}", self._nl("handover_pick")), close)
        return (close,) if status is HandoverStatus.PICKED_UP else ()
