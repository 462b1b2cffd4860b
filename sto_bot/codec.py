"""The JSON codec: how conversation states, check results, replies and messages are kept as
text (in SQLite, and in the memory twin's exports)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sto_bot.models import (
    CheckResult,
    CheckState,
    ConversationKey,
    ConversationState,
    Document,
    GivenAnswer,
    HandoverStatus,
    IncomingMessage,
    Intake,
    Option,
    Rateable,
    Recipient,
    Reply,
)


def answers_to_list(answers: tuple[GivenAnswer, ...]) -> list[dict[str, str]]:
    return [
        {
            "question": a.question,
            "option": a.option,
            "question_text": a.question_text,
            "option_label": a.option_label,
        }
        for a in answers
    ]


def answers_from_list(items: list[dict[str, str]]) -> tuple[GivenAnswer, ...]:
    return tuple(GivenAnswer(**item) for item in items)


def state_to_json(state: ConversationState) -> str:
    check = state.check
    return json.dumps(
        {
            "language": state.language,
            "last_language": state.last_language,
            "pending": state.pending,
            "fallbacks": state.fallbacks,
            "shown": [{"id": o.id, "label": o.label} for o in state.shown],
            "last_entry": state.last_entry,
            "answers_given": state.answers_given,
            "rateable": [[r.number, r.entry, r.question] for r in state.rateable],
            "aside": None if state.aside is None else list(state.aside),
            "intake": None
            if state.intake is None
            else {"step": state.intake.step, "answers": state.intake.answers},
            "check": None
            if check is None
            else {
                "version": check.version,
                "node": check.node,
                "answers": answers_to_list(check.answers),
                "finished": check.finished,
            },
        },
        ensure_ascii=False,
    )


def _aside(value: Any) -> tuple[int, HandoverStatus, int] | None:
    """The handover a user stepped away from, as it stood then (number, status, replies)."""
    if not isinstance(value, list) or len(value) != 3:
        return None
    number, status, replies = value
    return (int(number), HandoverStatus(status), int(replies))


def state_from_json(text: str) -> ConversationState:
    data = json.loads(text)
    check = data.get("check")
    intake = data.get("intake")
    return ConversationState(
        language=data.get("language"),
        last_language=data.get("last_language"),
        pending=data.get("pending"),
        fallbacks=data.get("fallbacks", 0),
        shown=tuple(Option(o["id"], o["label"]) for o in data.get("shown", ())),
        last_entry=data.get("last_entry"),
        answers_given=data.get("answers_given", 0),
        rateable=tuple(Rateable(n, e, q) for n, e, q in data.get("rateable", ())),
        aside=_aside(data.get("aside")),
        intake=None if intake is None else Intake(intake["step"], intake["answers"]),
        check=None
        if check is None
        else CheckState(
            version=check["version"],
            node=check["node"],
            answers=answers_from_list(check["answers"]),
            finished=check["finished"],
        ),
    )


def result_to_json(result: CheckResult) -> str:
    return json.dumps(
        {
            "at": result.at.isoformat(),
            "outcome": result.outcome,
            "language": result.language,
            "answers": answers_to_list(result.answers),
            "criteria": result.criteria,
            "text": result.text,
        },
        ensure_ascii=False,
    )


def result_from_json(text: str) -> CheckResult:
    data = json.loads(text)
    return CheckResult(
        at=datetime.fromisoformat(data["at"]),
        outcome=data["outcome"],
        language=data["language"],
        answers=answers_from_list(data["answers"]),
        criteria=data["criteria"],
        text=data["text"],
    )


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


def parsed(value: Any) -> Any:
    """A stored value, with JSON objects and lists read as such."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
