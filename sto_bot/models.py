"""Frozen value types that flow between the adapters and the core."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

Language = Literal["nl", "en"]
LANGUAGES: tuple[Language, ...] = ("nl", "en")


@dataclass(frozen=True, slots=True)
class ConversationKey:
    """Identifies one conversation: a channel plus the chat within it."""

    channel: str
    chat_id: str

    def __str__(self) -> str:
        return f"{self.channel}:{self.chat_id}"

    @classmethod
    def parse(cls, text: str) -> ConversationKey:
        """The key that `str(key)` wrote ("telegram:4343")."""
        channel, _, chat_id = text.partition(":")
        return cls(channel, chat_id)

    @property
    def wording(self) -> str:
        """The channel whose wording a text takes: the console's own, else Telegram's (the
        texts of any other channel would be added next to these)."""
        return "console" if self.channel == "console" else "telegram"


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """What a user sent: typed text, or the id of an option they picked."""

    key: ConversationKey
    text: str | None = None
    choice: str | None = None
    user_name: str | None = None
    unsupported: bool = False  # a sticker, photo, voice message or file: not something to read
    # A channel that delivers through the outbox gives each message an id (Telegram's
    # update_id): the message is then handled once, and its replies are queued in the same
    # transaction as the state they follow from.
    update_id: int | None = None
    user_id: str | None = None  # who sent it, in the channel's terms (consultants are known by it)
    reply_to: str | None = None  # the channel's id of the message this one replies to

    def storable(self) -> IncomingMessage:
        """The message with every text valid Unicode: a lone surrogate ("\ud800", which JSON
        can carry) cannot be stored, and one such message must not stop its conversation."""

        def valid(value: str | None) -> str | None:
            if value is None or value.isascii():
                return value
            return value.encode("utf-8", "replace").decode("utf-8")

        return replace(
            self,
            text=valid(self.text),
            user_name=valid(self.user_name),
            choice=valid(self.choice),
        )


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
class Document:
    """A file attached to a reply: its name and its (text) content."""

    name: str
    content: str


@dataclass(frozen=True, slots=True)
class Reply:
    """A message the assistant sends; adapters decide how to render it."""

    text: str
    options: tuple[Option, ...] = ()
    recipient: Recipient = Recipient.USER
    to: ConversationKey | None = None  # another conversation than the one being handled
    thread: int | None = None  # the handover this message belongs to (replies to it relay)
    about: int | None = None  # the handover it tells of, without being its thread (/vergeet)
    deletes: tuple[str, ...] = ()  # the channel's messages to delete before this one is sent
    document: Document | None = None  # a file sent with it, where the channel can


class Band(StrEnum):
    """How sure the matcher is: answer outright, offer choices, or admit it does not know."""

    ANSWER = "answer"
    SUGGEST = "suggest"
    FALLBACK = "fallback"


class Certainty(StrEnum):
    """How sure an answer is: sure, or likely (the reply then names the question it answered)."""

    SURE = "sure"
    LIKELY = "likely"


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
    certainty: Certainty | None = None  # with Band.ANSWER
    probability: float = 0.0  # how likely the best match is right, by the fitted decision
    also: Match | None = None  # a second question in the same message, with its own answer

    @property
    def best(self) -> Match | None:
        """The top match, if any."""
        return self.matches[0] if self.matches else None


@dataclass(frozen=True, slots=True)
class GivenAnswer:
    """One answered check question, kept as the user saw it (labels, not only ids)."""

    question: str
    option: str
    question_text: str
    option_label: str


@dataclass(frozen=True, slots=True)
class CheckState:
    """Where a user is in the eligibility check."""

    version: str  # the tree's version: buttons of another version have expired
    node: str  # the current question, or the outcome once finished
    answers: tuple[GivenAnswer, ...] = ()
    finished: bool = False


class HandoverStatus(StrEnum):
    """Where a handover stands: waiting for a consultant, with one, or over."""

    OPEN = "open"
    PICKED_UP = "picked_up"
    CLOSED = "closed"
    CANCELLED = "cancelled"


ACTIVE_HANDOVER = (HandoverStatus.OPEN, HandoverStatus.PICKED_UP)


@dataclass(frozen=True, slots=True)
class Intake:
    """The handover questions a user is answering: the current step and the answers so far."""

    step: str
    answers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ActiveHandover:
    """A conversation's open handover: waiting for a consultant, or with one."""

    number: int
    status: HandoverStatus
    consultant: str | None = None  # the first name of whoever picked it up
    replies: int = 0  # messages from consultants so far

    @property
    def moment(self) -> tuple[int, HandoverStatus, int]:
        """Where the handover stands: it moves on when picked up or written in."""
        return (self.number, self.status, self.replies)

    def consultant_name(self, unnamed: str) -> str:
        """Who picked it up, or `unnamed` ("een adviseur") before anyone has."""
        return self.consultant or unnamed


@dataclass(frozen=True, slots=True)
class Rateable:
    """An answer shown that the user may still rate: its number, entry and the question."""

    number: int
    entry: str
    question: str


@dataclass(frozen=True, slots=True)
class ConversationState:
    """What the assistant remembers about one conversation."""

    language: Language | None = None  # chosen with /taal; None: follow each question
    last_language: Language | None = None  # the language of the last reply
    check: CheckState | None = None
    pending: str | None = None  # a question awaiting yes/no: "forget" or "check-restart"
    intake: Intake | None = None  # the handover questions, while they are being answered
    fallbacks: int = 0  # questions in a row without an answer: the second offers a consultant
    # The options of the last reply: a typed number or option word picks from these.
    shown: tuple[Option, ...] = ()
    last_entry: str | None = None  # the last entry answered: a follow-up may lean on it
    answers_given: int = 0  # answers shown so far: each is numbered, for its 👍 / 👎
    rateable: tuple[Rateable, ...] = ()  # the latest answers not rated yet
    # The handover the user stepped away from (/terug) to ask the assistant meanwhile, as it
    # stood then: once it moves on (a consultant picks it up or writes), they talk again.
    aside: tuple[int, HandoverStatus, int] | None = None
    # Read from the handovers, not stored with the state: a consultant changes it from another
    # conversation.
    handover: ActiveHandover | None = None

    @property
    def waiting(self) -> bool:
        """Whether the user's question waits for a consultant to pick it up."""
        return self.handover is not None and self.handover.status is HandoverStatus.OPEN

    @property
    def with_consultants(self) -> bool:
        """Whether what the user types goes to the consultants: a handover is open, and the
        user has not stepped aside from it since it last moved on."""
        active = self.handover
        return active is not None and self.aside != active.moment


@dataclass(frozen=True, slots=True)
class ThreadMessage:
    """One message in a handover's thread: from the user, a consultant or the assistant."""

    at: datetime
    author: str  # "user", "consultant:<first name>" or "bot"
    text: str


@dataclass(frozen=True, slots=True)
class Handover:
    """A conversation handed to the consultants, with its summary and thread."""

    number: int
    key: ConversationKey
    status: HandoverStatus
    created_at: datetime
    data: dict[str, Any]  # the intake: name, organisation, role, region, contact, question
    summary: str
    picked_up_at: datetime | None = None
    picked_up_by: str | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    remind_at: datetime | None = None
    reminded_at: datetime | None = None
    thread: tuple[ThreadMessage, ...] = ()


@dataclass(frozen=True, slots=True)
class Event:
    """Something worth remembering for a consultant: a question, a match, a choice."""

    kind: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """A finished eligibility check, as the user saw it."""

    at: datetime
    outcome: str
    language: Language
    answers: tuple[GivenAnswer, ...]
    criteria: dict[str, str]  # criterion id -> met / not_met / unknown
    text: str  # the verdict as it was shown


@dataclass(frozen=True, slots=True)
class Forgotten:
    """What /vergeet deleted that others had seen: the user's handovers, and our messages
    about them in the consultants' chat that the channel still lets us delete."""

    handovers: tuple[int, ...] = ()
    recent_messages: tuple[str, ...] = ()  # the channel's message ids, sent within 48 hours


@dataclass(frozen=True, slots=True)
class Delivery:
    """A reply waiting in the outbox for its channel to send it."""

    id: int
    key: ConversationKey
    reply: Reply
    attempts: int = 0


class StoreFull(Exception):
    """The disk is full: nothing was written; the same work can be tried again later."""


class StoreBroken(Exception):
    """The database file cannot be used (corrupt, read-only): the message names the file and
    the fix; going on would only fail again."""


@dataclass(slots=True)
class Changes:
    """What handling one message changed, to be written at once."""

    key: ConversationKey
    state: ConversationState
    events: list[Event] = field(default_factory=list)
    result: CheckResult | None = None
    # Delete everything stored about the conversation, wherever it is kept, beyond recovery
    # (the update itself stays, handled); the outbox is then written afresh.
    forget: bool = False
    update_id: int | None = None  # the channel's message id: marked handled in the same go
    outbox: list[Reply] = field(default_factory=list)  # replies to queue for delivery
    handover: NewHandover | None = None  # a handover to open
    handover_changes: list[HandoverChange] = field(default_factory=list)
    thread: list[tuple[int, ThreadMessage]] = field(default_factory=list)  # (handover, message)
    # False for changes made on a conversation's behalf (a reminder) while it may be busy.
    write_state: bool = True


@dataclass(frozen=True, slots=True)
class NewHandover:
    """A handover to store under the number reserved for it (`Store.reserve_handover`), so
    that its summary is made before the transaction, never inside it."""

    number: int
    data: dict[str, Any]
    summary: str
    remind_at: datetime


@dataclass(frozen=True, slots=True)
class HandoverChange:
    """A handover moving on: picked up, closed, cancelled, or reminded about."""

    number: int
    status: HandoverStatus | None = None  # None: only the reminder was sent
    by: str | None = None


@dataclass(frozen=True, slots=True)
class Source:
    """A document an answer cites."""

    id: str
    title: str
    url: str


def _html(text: str) -> str:
    return html.escape(text, quote=False)


@dataclass(frozen=True, slots=True)
class ChannelLimits:
    """What a channel allows one message, handed to the core as a value (the core knows no
    channel's own rules): its length as the channel counts it, after escaping the text for its
    markup, and the bytes a button's data may take."""

    message_chars: int
    button_bytes: int
    markup: Callable[[str], str] = _html  # the text as the channel counts it

    def fits(self, text: str) -> bool:
        """Whether `text` fits one message."""
        return len(self.markup(text)) <= self.message_chars


# The tightest of the channels we serve (Telegram's today: 4,096 characters of HTML, 64 bytes
# of button data): what the knowledge is checked against, and what a message for the
# consultants must fit when their channel does not say.
STRICTEST_LIMITS = ChannelLimits(message_chars=4096, button_bytes=64)
