"""What users are told of their data, given of it and asked before it goes: /privacy,
/mijngegevens and the confirmation of /vergeet."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from sto_bot.codec import parsed
from sto_bot.knowledge import Texts
from sto_bot.models import Changes, ConversationKey, Document, Language, Option, Reply

# Columns that tell the user nothing about themselves (the conversation's own id is named once).
_NOISE = frozenset({"key", "id", "rowid"})
_INLINE = 60  # characters up to which an object stays on its item's line
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?([+-]\d\d:\d\d)?")


def privacy_text(texts: Texts, key: ConversationKey, language: Language, days: int) -> str:
    """/privacy: what is stored, why, how long (the retention setting), who sees it."""
    return texts.get(
        "privacy",
        language,
        days=days,
        chat_id=texts.get(f"privacy_chat_id_{key.wording}", language),
        consultants=texts.get(f"privacy_consultants_{key.wording}", language),
    )


FORGET = "forget"  # the pending confirmation
FORGET_YES = "forget:yes"
FORGET_NO = "forget:no"
FORGET_CHOICES = frozenset({FORGET_YES, FORGET_NO})


def forget_question(texts: Texts, changes: Changes, language: Language) -> list[Reply]:
    """/vergeet: asked first, since deleting cannot be undone."""
    changes.state = replace(changes.state, pending=FORGET)
    options = (
        Option(FORGET_YES, texts.get("forget_yes", language)),
        Option(FORGET_NO, texts.get("forget_no", language)),
    )
    return [Reply(texts.get("forget_confirm", language), options)]


def let_go(changes: Changes, choice: str | None) -> bool:
    """Whether this message leaves "Weet u het zeker?" unanswered; the question is then let
    go (a "ja" later deletes nothing), and the message is not an answer to anything else."""
    if changes.state.pending != FORGET or choice in FORGET_CHOICES:
        return False
    changes.state = replace(changes.state, pending=None)
    return True


def forget_reply(
    texts: Texts, confirmed: bool, changes: Changes, language: Language
) -> list[Reply]:
    """The answer to "Alles wissen?": kept, or deleted (by the assistant, which also tells the
    consultants)."""
    changes.state = replace(changes.state, pending=None)
    if not confirmed:
        return [Reply(texts.get("forget_cancelled", language))]
    changes.forget = True
    return [Reply(texts.get("forgotten", language))]


def my_data_reply(
    texts: Texts,
    key: ConversationKey,
    language: Language,
    stored: Mapping[str, list[dict[str, Any]]],
) -> Reply:
    """/mijngegevens: everything stored about the user as text, and (where the channel can
    send files) the same as a JSON file."""
    if not any(stored.values()):
        return Reply(texts.get("my_data_empty", language))
    headings = texts.table("my_data_tables", language)
    names = texts.table("my_data_fields", language)
    parts = [texts.get("my_data_intro", language, conversation=key)]
    for table, rows in stored.items():
        if not rows:
            continue
        lines = [f"{headings.get(table, table)} ({len(rows)}):"]
        lines += _collapsed([_row_text(row, names) for row in rows])
        parts.append("\n".join(lines))
    name = f"sto-gegevens-{key.channel}-{key.chat_id}.json"
    content = json.dumps({"conversation": str(key), **stored}, ensure_ascii=False, indent=2)
    if key.wording == "telegram":
        parts.append(texts.get("my_data_file", language, name=name))
    return Reply("\n\n".join(parts), document=Document(name, content))


def _row_text(row: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """One stored row as a list item: its plain values on its first line, what a column holds
    as JSON (the conversation's state, a handover's answers) indented beneath it; each under
    its name in `names` where it has one."""
    plain, nested = [], []
    for column, value in row.items():
        if column in _NOISE or _empty(value):
            continue
        if column == "kind":  # what happened, in words ("kind:question" names a question)
            value = names.get(f"kind:{value}", value)
        held = parsed(value)
        name = names.get(column, column)
        if isinstance(held, dict) and len(_readable(held, names)) > _INLINE:
            nested.append(f"  {name}:")
            nested += [
                f"    {names.get(k, k)}: {_readable(v, names)}"
                for k, v in held.items()
                if not _empty(v)
            ]
        else:
            plain.append(f"{name}: {_readable(value, names)}")
    # A text of several lines (a handover's summary) stays indented under its item.
    lines = [f"- {'; '.join(plain)}", *nested]
    return "\n".join(line.replace("\n", "\n      ") for line in lines)


def _collapsed(items: list[str]) -> list[str]:
    """Items in order, a run of identical ones as one with its count ("… (8×)")."""
    runs: list[tuple[str, int]] = []
    for item in items:
        if runs and runs[-1][0] == item:
            runs[-1] = (item, runs[-1][1] + 1)
        else:
            runs.append((item, 1))
    return [item if count == 1 else f"{item} ({count}×)" for item, count in runs]


def _readable(value: Any, names: Mapping[str, str]) -> str:
    """A value on one line: a time without its seconds' T, a list or an object as its parts."""
    value = parsed(value)
    if isinstance(value, str):
        return value.replace("T", " ", 1)[:16] if _TIME.fullmatch(value) else value
    if isinstance(value, dict):
        return ", ".join(
            f"{names.get(k, k)}: {_readable(v, names)}" for k, v in value.items() if not _empty(v)
        )
    if isinstance(value, list):
        return " | ".join(_readable(item, names) for item in value)
    return str(value)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}
