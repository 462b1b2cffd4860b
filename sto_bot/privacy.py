"""What users are told of their data and given of it: /privacy and /mijngegevens."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sto_bot.knowledge import Texts
from sto_bot.models import ConversationKey, Document, Language, Reply

# Columns that tell the user nothing about themselves (the conversation's own id is named once).
_NOISE = frozenset({"key", "id", "rowid"})


def privacy_text(texts: Texts, key: ConversationKey, language: Language, days: int) -> str:
    """/privacy: what is stored, why, how long (the retention setting), who sees it."""
    return texts.get(
        "privacy",
        language,
        days=days,
        chat_id=texts.get(f"privacy_chat_id_{key.wording}", language),
        consultants=texts.get(f"privacy_consultants_{key.wording}", language),
    )


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
    parts = [texts.get("my_data_intro", language, conversation=key)]
    for table, rows in stored.items():
        if not rows:
            continue
        lines = [f"{headings.get(table, table)} ({len(rows)}):"]
        lines += [f"- {_row_text(row)}" for row in rows]
        parts.append("\n".join(lines))
    name = f"sto-gegevens-{key.channel}-{key.chat_id}.json"
    content = json.dumps({"conversation": str(key), **stored}, ensure_ascii=False, indent=2)
    if key.wording == "telegram":
        parts.append(texts.get("my_data_file", language, name=name))
    return Reply("\n\n".join(parts), document=Document(name, content))


def _row_text(row: Mapping[str, Any]) -> str:
    """One stored row on one line: its values, without our own bookkeeping columns."""
    shown = []
    for column, value in row.items():
        if column in _NOISE or value in (None, "", [], {}):
            continue
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        shown.append(f"{column}: {text}")
    return "; ".join(shown)
