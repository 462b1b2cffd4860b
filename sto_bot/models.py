"""Frozen value types that flow between the adapters and the core."""

from __future__ import annotations

from dataclasses import dataclass, field
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
    # Read from the handovers, not stored with the state: a consultant changes it from another
    # conversation.
    handover: ActiveHandover | None = None


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


def reply_to_dict(reply: Reply) -> dict[str, Any]:
    """A reply as plain data, for the outbox."""
    return {
        "text": reply.text,
        "options": [{"id": option.id, "label": option.label} for option in reply.options],
        "recipient": reply.recipient.value,
        "thread": reply.thread,
        "about": reply.about,
        "deletes": list(reply.deletes),
        "document": None
        if reply.document is None
        else {"name": reply.document.name, "content": reply.document.content},
    }


def reply_from_dict(data: dict[str, Any]) -> Reply:
    """The reply stored by `reply_to_dict`."""
    options = tuple(Option(item["id"], item["label"]) for item in data["options"])
    return Reply(
        data["text"],
        options,
        Recipient(data["recipient"]),
        thread=data.get("thread"),
        about=data.get("about"),
        deletes=tuple(data.get("deletes", ())),
        document=Document(**data["document"]) if data.get("document") else None,
    )


def message_to_dict(message: IncomingMessage) -> dict[str, Any]:
    """An incoming message as plain data, for the inbox."""
    return {
        "key": str(message.key),
        "text": message.text,
        "choice": message.choice,
        "user_name": message.user_name,
        "unsupported": message.unsupported,
        "update_id": message.update_id,
        "user_id": message.user_id,
        "reply_to": message.reply_to,
    }


def message_from_dict(data: dict[str, Any]) -> IncomingMessage:
    """The message stored by `message_to_dict`."""
    return IncomingMessage(
        ConversationKey.parse(data["key"]),
        text=data["text"],
        choice=data["choice"],
        user_name=data["user_name"],
        unsupported=data["unsupported"],
        update_id=data["update_id"],
        user_id=data["user_id"],
        reply_to=data["reply_to"],
    )
