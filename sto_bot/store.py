"""Where conversations live between messages: SQLite on disk, or an in-memory twin for tests.

A message's effects (the new conversation state, what was asked and answered, a finished check's
result) are written in one transaction before the reply goes out, so a restart loses nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

import aiosqlite

from sto_bot.models import (
    CheckResult,
    CheckState,
    ConversationKey,
    ConversationState,
    Delivery,
    Event,
    GivenAnswer,
    Reply,
    reply_from_dict,
    reply_to_dict,
)

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Changes:
    """What handling one message changed, to be written at once."""

    key: ConversationKey
    state: ConversationState
    events: list[Event] = field(default_factory=list)
    result: CheckResult | None = None
    forget: bool = False  # delete everything about the conversation instead
    update_id: int | None = None  # the channel's message id: marked handled in the same go
    outbox: list[Reply] = field(default_factory=list)  # replies to queue for delivery


class Store(Protocol):
    """Keeps conversations; the SQLite store and the in-memory twin both fulfil it."""

    async def load(self, key: ConversationKey) -> ConversationState:
        """The state of a conversation (a fresh one if it is new)."""
        ...

    async def commit(self, key: ConversationKey, changes: Changes, at: datetime) -> None:
        """Write the new state, events and result of one message in one go."""
        ...

    async def last_result(self, key: ConversationKey) -> CheckResult | None:
        """The most recent finished check of a conversation."""
        ...

    async def events(self, key: ConversationKey) -> list[tuple[datetime, Event]]:
        """A conversation's events, oldest first."""
        ...

    async def forget(self, key: ConversationKey) -> None:
        """Delete everything stored about a conversation, beyond recovery."""
        ...

    async def prune(self, before: datetime) -> int:
        """Delete events older than `before`; returns how many went."""
        ...

    async def receive(
        self, updates: Sequence[tuple[int, ConversationKey, str]], at: datetime
    ) -> set[int]:
        """Keep incoming updates (id, key, payload) before they are confirmed to the channel;
        returns the ids that were new."""
        ...

    async def unhandled(self) -> list[tuple[int, ConversationKey, str]]:
        """Received updates not handled yet, oldest first: (update id, key, payload)."""
        ...

    async def handled(self, update_id: int) -> bool:
        """Whether an update was handled already (a redelivery is then ignored)."""
        ...

    async def undelivered(
        self, limit: int = 100, key: ConversationKey | None = None
    ) -> list[Delivery]:
        """Replies waiting in the outbox (of one conversation, if given), oldest first."""
        ...

    async def delivered(self, delivery_id: int, status: str = "sent", error: str = "") -> None:
        """Take a reply out of the outbox: sent, or given up (e.g. "blocked")."""
        ...

    async def close(self) -> None:
        """Release the store's resources."""
        ...


class MemoryStore:
    """The in-memory twin of the SQLite store: for one-off runs and tests."""

    def __init__(self) -> None:
        self._states: dict[ConversationKey, ConversationState] = {}
        self._events: dict[ConversationKey, list[tuple[datetime, Event]]] = defaultdict(list)
        self._results: dict[ConversationKey, list[CheckResult]] = defaultdict(list)
        self._inbox: dict[int, tuple[ConversationKey, str, bool]] = {}
        self._outbox: dict[int, Delivery] = {}
        self._sent: dict[int, str] = {}

    async def load(self, key: ConversationKey) -> ConversationState:
        """The state of a conversation (a fresh one if it is new)."""
        return self._states.get(key, ConversationState())

    async def commit(self, key: ConversationKey, changes: Changes, at: datetime) -> None:
        """Write the new state, events and result of one message in one go."""
        self._states[key] = changes.state
        self._events[key].extend((at, event) for event in changes.events)
        if changes.result is not None:
            self._results[key].append(changes.result)
        if changes.update_id is not None and changes.update_id in self._inbox:
            inbox_key, payload, _ = self._inbox[changes.update_id]
            self._inbox[changes.update_id] = (inbox_key, payload, True)
        for reply in changes.outbox:
            number = len(self._outbox) + 1
            self._outbox[number] = Delivery(number, key, reply)

    async def last_result(self, key: ConversationKey) -> CheckResult | None:
        """The most recent finished check of a conversation."""
        results = self._results.get(key)
        return results[-1] if results else None

    async def events(self, key: ConversationKey) -> list[tuple[datetime, Event]]:
        """A conversation's events, oldest first."""
        return list(self._events.get(key, []))

    async def forget(self, key: ConversationKey) -> None:
        """Delete everything stored about a conversation."""
        self._states.pop(key, None)
        self._events.pop(key, None)
        self._results.pop(key, None)
        for update_id in [u for u, (k, _, _) in self._inbox.items() if k == key]:
            del self._inbox[update_id]
        for number in [n for n, d in self._outbox.items() if d.key == key]:
            del self._outbox[number]

    async def prune(self, before: datetime) -> int:
        """Delete events older than `before`; returns how many went."""
        removed = 0
        for key, events in self._events.items():
            kept = [(at, event) for at, event in events if at >= before]
            removed += len(events) - len(kept)
            self._events[key] = kept
        return removed

    async def receive(
        self, updates: Sequence[tuple[int, ConversationKey, str]], at: datetime
    ) -> set[int]:
        """Keep incoming updates before they are confirmed; returns the ids that were new."""
        new = {update_id for update_id, _, _ in updates if update_id not in self._inbox}
        for update_id, key, payload in updates:
            self._inbox.setdefault(update_id, (key, payload, False))
        return new

    async def unhandled(self) -> list[tuple[int, ConversationKey, str]]:
        """Received updates not handled yet, oldest first."""
        return [(u, k, p) for u, (k, p, done) in sorted(self._inbox.items()) if not done]

    async def handled(self, update_id: int) -> bool:
        """Whether an update was handled already."""
        return update_id in self._inbox and self._inbox[update_id][2]

    async def undelivered(
        self, limit: int = 100, key: ConversationKey | None = None
    ) -> list[Delivery]:
        """Replies waiting in the outbox (of one conversation, if given), oldest first."""
        waiting = [d for d in self._outbox.values() if d.id not in self._sent]
        return [d for d in waiting if key is None or d.key == key][:limit]

    async def delivered(self, delivery_id: int, status: str = "sent", error: str = "") -> None:
        """Take a reply out of the outbox."""
        self._sent[delivery_id] = status

    async def close(self) -> None:
        """Nothing to release."""


# One entry per schema version; a database at version N runs the scripts after N in order.
MIGRATIONS: Sequence[str] = (
    """
    CREATE TABLE conversations (
        key TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX events_by_key ON events (key, id);
    CREATE INDEX events_by_time ON events (at);
    CREATE TABLE check_results (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL,
        at TEXT NOT NULL,
        outcome TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX check_results_by_key ON check_results (key, id);
    """,
    """
    CREATE TABLE inbox (
        update_id INTEGER PRIMARY KEY,
        key TEXT NOT NULL,
        payload TEXT NOT NULL,
        received_at TEXT NOT NULL,
        handled INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX inbox_unhandled ON inbox (handled, update_id);
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        error TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX outbox_pending ON outbox (status, id);
    """,
)


class SqliteStore:
    """Conversations in one SQLite file (WAL), shared by every channel of the process."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._db = connection
        # One connection serves every conversation: a transaction must not interleave with
        # another coroutine's statements, so each operation holds the connection alone.
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path) -> SqliteStore:
        """Open (and create or migrate) the database at `path`."""
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = await aiosqlite.connect(path)
        try:
            await connection.execute("PRAGMA journal_mode=WAL")
            await connection.execute("PRAGMA synchronous=NORMAL")
            await connection.execute("PRAGMA busy_timeout=5000")
            await connection.execute("PRAGMA foreign_keys=ON")
            # Deleted rows are overwritten with zeros, so /vergeet leaves no readable trace.
            await connection.execute("PRAGMA secure_delete=ON")
            await _migrate(connection)
        except BaseException:
            await connection.close()
            raise
        return cls(connection)

    async def load(self, key: ConversationKey) -> ConversationState:
        """The state of a conversation (a fresh one if it is new)."""
        row = await self._one("SELECT state FROM conversations WHERE key = ?", (str(key),))
        return _state_from_json(row[0]) if row else ConversationState()

    async def commit(self, key: ConversationKey, changes: Changes, at: datetime) -> None:
        """Write the new state, events and result of one message in one transaction."""
        stamp = at.isoformat()
        async with self._lock:
            try:
                await self._db.execute(
                    "INSERT INTO conversations (key, state, updated_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET state = excluded.state, "
                    "updated_at = excluded.updated_at",
                    (str(key), _state_to_json(changes.state), stamp),
                )
                for event in changes.events:
                    await self._db.execute(
                        "INSERT INTO events (key, at, kind, data) VALUES (?, ?, ?, ?)",
                        (str(key), stamp, event.kind, json.dumps(event.data, ensure_ascii=False)),
                    )
                if changes.result is not None:
                    await self._db.execute(
                        "INSERT INTO check_results (key, at, outcome, data) VALUES (?, ?, ?, ?)",
                        (str(key), stamp, changes.result.outcome, _result_to_json(changes.result)),
                    )
                if changes.update_id is not None:
                    await self._db.execute(
                        "UPDATE inbox SET handled = 1 WHERE update_id = ?", (changes.update_id,)
                    )
                for reply in changes.outbox:
                    await self._db.execute(
                        "INSERT INTO outbox (key, payload, created_at) VALUES (?, ?, ?)",
                        (str(key), json.dumps(reply_to_dict(reply), ensure_ascii=False), stamp),
                    )
                await self._db.commit()
            except BaseException:
                await self._db.rollback()
                raise

    async def last_result(self, key: ConversationKey) -> CheckResult | None:
        """The most recent finished check of a conversation."""
        row = await self._one(
            "SELECT data FROM check_results WHERE key = ? ORDER BY id DESC LIMIT 1", (str(key),)
        )
        return _result_from_json(row[0]) if row else None

    async def events(self, key: ConversationKey) -> list[tuple[datetime, Event]]:
        """A conversation's events, oldest first."""
        async with (
            self._lock,
            self._db.execute(
                "SELECT at, kind, data FROM events WHERE key = ? ORDER BY id", (str(key),)
            ) as cursor,
        ):
            rows = await cursor.fetchall()
        return [
            (datetime.fromisoformat(at), Event(kind, json.loads(data))) for at, kind, data in rows
        ]

    async def forget(self, key: ConversationKey) -> None:
        """Delete everything stored about a conversation, also from the write-ahead log."""
        async with self._lock:
            for table in ("conversations", "events", "check_results", "inbox", "outbox"):
                # The table names are our own constants; the key is a placeholder as always.
                await self._db.execute(f"DELETE FROM {table} WHERE key = ?", (str(key),))  # noqa: S608
            await self._db.commit()
            # Copy the log into the (zeroed) database file and empty it: no old page survives.
            await self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    async def prune(self, before: datetime) -> int:
        """Delete events older than `before`; returns how many went."""
        async with self._lock:
            cursor = await self._db.execute(
                "DELETE FROM events WHERE at < ?", (before.isoformat(),)
            )
            await self._db.commit()
        return cursor.rowcount

    async def receive(
        self, updates: Sequence[tuple[int, ConversationKey, str]], at: datetime
    ) -> set[int]:
        """Keep incoming updates (id, key, payload) in one transaction before they are
        confirmed to the channel; returns the ids that were new."""
        new: set[int] = set()
        async with self._lock:
            for update_id, key, payload in updates:
                cursor = await self._db.execute(
                    "INSERT OR IGNORE INTO inbox (update_id, key, payload, received_at) "
                    "VALUES (?, ?, ?, ?)",
                    (update_id, str(key), payload, at.isoformat()),
                )
                if cursor.rowcount == 1:
                    new.add(update_id)
            await self._db.commit()
        return new

    async def unhandled(self) -> list[tuple[int, ConversationKey, str]]:
        """Received updates not handled yet, oldest first: (update id, key, payload)."""
        async with (
            self._lock,
            self._db.execute(
                "SELECT update_id, key, payload FROM inbox WHERE handled = 0 ORDER BY update_id"
            ) as cursor,
        ):
            rows = await cursor.fetchall()
        return [(int(update_id), _key(key), payload) for update_id, key, payload in rows]

    async def handled(self, update_id: int) -> bool:
        """Whether an update was handled already (a redelivery is then ignored)."""
        row = await self._one("SELECT handled FROM inbox WHERE update_id = ?", (update_id,))
        return bool(row and row[0])

    async def undelivered(
        self, limit: int = 100, key: ConversationKey | None = None
    ) -> list[Delivery]:
        """Replies waiting in the outbox (of one conversation, if given), oldest first."""
        sql = "SELECT id, key, payload FROM outbox WHERE status = 'pending' "
        parameters: tuple[str | int, ...] = (limit,)
        if key is not None:
            sql += "AND key = ? "
            parameters = (str(key), limit)
        async with self._lock, self._db.execute(sql + "ORDER BY id LIMIT ?", parameters) as cursor:
            rows = await cursor.fetchall()
        return [
            Delivery(int(number), _key(key), reply_from_dict(json.loads(payload)))
            for number, key, payload in rows
        ]

    async def delivered(self, delivery_id: int, status: str = "sent", error: str = "") -> None:
        """Take a reply out of the outbox: sent, or given up (e.g. "blocked")."""
        async with self._lock:
            await self._db.execute(
                "UPDATE outbox SET status = ?, error = ? WHERE id = ?",
                (status, error[:500], delivery_id),
            )
            await self._db.commit()

    async def _one(self, sql: str, parameters: tuple[str | int, ...]) -> sqlite3.Row | None:
        async with self._lock, self._db.execute(sql, parameters) as cursor:
            return await cursor.fetchone()

    async def close(self) -> None:
        """Close the database."""
        await self._db.close()


async def _migrate(connection: aiosqlite.Connection) -> None:
    async with connection.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    version = int(row[0]) if row else 0
    if version > len(MIGRATIONS):
        raise RuntimeError(
            f"the database is at schema version {version}, newer than this program "
            f"({len(MIGRATIONS)}): upgrade sto-bot or point STO_BOT_DB at another file"
        )
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        log.info("migrating the database to schema version %d", number)
        await connection.executescript(f"BEGIN; {script} PRAGMA user_version = {number}; COMMIT;")


def _key(text: str) -> ConversationKey:
    channel, _, chat_id = text.partition(":")
    return ConversationKey(channel, chat_id)


def _answers_to_list(answers: tuple[GivenAnswer, ...]) -> list[dict[str, str]]:
    return [
        {
            "question": a.question,
            "option": a.option,
            "question_text": a.question_text,
            "option_label": a.option_label,
        }
        for a in answers
    ]


def _answers_from_list(items: list[dict[str, str]]) -> tuple[GivenAnswer, ...]:
    return tuple(GivenAnswer(**item) for item in items)


def _state_to_json(state: ConversationState) -> str:
    check = state.check
    return json.dumps(
        {
            "language": state.language,
            "last_language": state.last_language,
            "pending": state.pending,
            "check": None
            if check is None
            else {
                "version": check.version,
                "node": check.node,
                "answers": _answers_to_list(check.answers),
                "finished": check.finished,
            },
        },
        ensure_ascii=False,
    )


def _state_from_json(text: str) -> ConversationState:
    data = json.loads(text)
    check = data.get("check")
    return ConversationState(
        language=data.get("language"),
        last_language=data.get("last_language"),
        pending=data.get("pending"),
        check=None
        if check is None
        else CheckState(
            version=check["version"],
            node=check["node"],
            answers=_answers_from_list(check["answers"]),
            finished=check["finished"],
        ),
    )


def _result_to_json(result: CheckResult) -> str:
    return json.dumps(
        {
            "at": result.at.isoformat(),
            "outcome": result.outcome,
            "language": result.language,
            "answers": _answers_to_list(result.answers),
            "criteria": result.criteria,
            "text": result.text,
        },
        ensure_ascii=False,
    )


def _result_from_json(text: str) -> CheckResult:
    data = json.loads(text)
    return CheckResult(
        at=datetime.fromisoformat(data["at"]),
        outcome=data["outcome"],
        language=data["language"],
        answers=_answers_from_list(data["answers"]),
        criteria=data["criteria"],
        text=data["text"],
    )
