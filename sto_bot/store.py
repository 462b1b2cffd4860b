"""Where conversations live between messages: SQLite on disk, or an in-memory twin for tests.

A message's effects (the new conversation state, what was asked and answered, a finished check's
result) are written in one transaction before the reply goes out, so a restart loses nothing.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import queue
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sto_bot.models import (
    ACTIVE_HANDOVER,
    ActiveHandover,
    CheckResult,
    CheckState,
    ConversationKey,
    ConversationState,
    Delivery,
    Event,
    Forgotten,
    GivenAnswer,
    Handover,
    HandoverStatus,
    Intake,
    Option,
    Recipient,
    Reply,
    ThreadMessage,
    reply_from_dict,
    reply_to_dict,
)

log = logging.getLogger(__name__)


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
    """A handover to store: its number is known only once it is stored, so its summary and
    first messages are made from the number inside the transaction."""

    data: dict[str, Any]
    remind_at: datetime
    render: Callable[[int], tuple[str, list[Reply]]]  # number -> (summary, messages to queue)


@dataclass(frozen=True, slots=True)
class HandoverChange:
    """A handover moving on: picked up, closed, cancelled, or reminded about."""

    number: int
    status: HandoverStatus | None = None  # None: only the reminder was sent
    by: str | None = None


class Store(Protocol):
    """Keeps conversations; the SQLite store and the in-memory twin both fulfil it."""

    async def load(self, key: ConversationKey) -> ConversationState:
        """The state of a conversation (a fresh one if it is new)."""
        ...

    async def commit(
        self, key: ConversationKey, changes: Changes, at: datetime
    ) -> list[Delivery] | None:
        """Write the new state, events and result of one message in one go; returns the
        replies it queued, or None (and nothing written) when its update was handled before."""
        ...

    async def last_result(self, key: ConversationKey) -> CheckResult | None:
        """The most recent finished check of a conversation."""
        ...

    async def events(self, key: ConversationKey) -> list[tuple[datetime, Event]]:
        """A conversation's events, oldest first."""
        ...

    async def traces(self, key: ConversationKey) -> Forgotten:
        """What others have seen of a conversation: its handovers, and our messages about them
        in the consultants' chat that can still be deleted there. (Forgetting itself is a
        commit with `Changes.forget`, in one transaction with the confirmation.)"""
        ...

    async def prune(self, before: datetime) -> dict[str, int]:
        """Delete personal data last touched before `before`; returns how many rows went,
        per table."""
        ...

    async def export(self, key: ConversationKey) -> dict[str, list[dict[str, Any]]]:
        """Everything stored about a conversation, per table: what /vergeet would delete."""
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

    async def undelivered(
        self,
        limit: int = 100,
        key: ConversationKey | None = None,
        recipient: Recipient | None = None,
    ) -> list[Delivery]:
        """Replies waiting in the outbox (of one conversation and for one recipient, if
        given), oldest first."""
        ...

    async def delivered(
        self, delivery_id: int, status: str = "sent", error: str = "", sent: Sequence[str] = ()
    ) -> None:
        """Take a reply out of the outbox: sent (as the channel's messages `sent`, which join
        the reply's handover thread), or given up (e.g. "blocked")."""
        ...

    async def handover(self, number: int) -> Handover | None:
        """One handover with its thread."""
        ...

    async def handovers(self, status: HandoverStatus | None = None) -> list[Handover]:
        """Handovers (with one status, if given), oldest first, without their threads."""
        ...

    async def thread_of(self, message_id: str) -> int | None:
        """The handover a message in the consultants' chat belongs to."""
        ...

    async def thread_start(self, number: int) -> str | None:
        """The first message a handover sent to the consultants' chat (its summary)."""
        ...

    async def due_reminders(self, now: datetime) -> list[Handover]:
        """Open handovers past their reminder time that have not been reminded about."""
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
        # When each conversation, update and reply was last touched: for retention.
        self._touched: dict[ConversationKey, datetime] = {}
        self._received: dict[int, datetime] = {}
        self._created: dict[int, datetime] = {}
        self._sent_at: dict[str, datetime] = {}  # channel message id -> when it was sent
        self._numbers = itertools.count(1)
        self._handover_numbers = itertools.count(1)  # never reused, as AUTOINCREMENT
        self._handovers: dict[int, Handover] = {}
        self._threads: dict[str, int] = {}  # channel message id -> handover

    async def load(self, key: ConversationKey) -> ConversationState:
        """The state of a conversation (a fresh one if it is new)."""
        state = self._states.get(key, ConversationState())
        active = [
            h for h in self._handovers.values() if h.key == key and h.status in ACTIVE_HANDOVER
        ]
        if not active:
            return state
        last = active[-1]
        return replace(state, handover=ActiveHandover(last.number, last.status, last.picked_up_by))

    async def commit(
        self, key: ConversationKey, changes: Changes, at: datetime
    ) -> list[Delivery] | None:
        """Write the new state, events and result of one message in one go; returns the
        replies it queued, or None (and nothing written) when its update was handled before."""
        if changes.update_id is not None:
            inbox_key, _, done = self._inbox.get(changes.update_id, (key, "", False))
            if done:
                return None
            # Handled: only its id is kept (against redelivery), not what it said.
            self._inbox[changes.update_id] = (inbox_key, "", True)
            self._received.setdefault(changes.update_id, at)
        if changes.forget:
            self._delete(key, keep_update=changes.update_id)
        if changes.write_state:
            self._states[key] = replace(changes.state, handover=None)
            self._touched[key] = at
        self._events[key].extend((at, event) for event in changes.events)
        if changes.result is not None:
            self._results[key].append(changes.result)
        outbox = list(changes.outbox)
        if changes.handover is not None:
            number = next(self._handover_numbers)
            summary, messages = changes.handover.render(number)
            self._handovers[number] = Handover(
                number,
                key,
                HandoverStatus.OPEN,
                at,
                changes.handover.data,
                summary,
                remind_at=changes.handover.remind_at,
            )
            outbox += messages
        for change in changes.handover_changes:
            self._handovers[change.number] = _changed(self._handovers[change.number], change, at)
        for number, message in changes.thread:
            handover = self._handovers[number]
            self._handovers[number] = replace(handover, thread=(*handover.thread, message))
        queued = [Delivery(next(self._numbers), reply.to or key, reply) for reply in outbox]
        self._outbox.update((delivery.id, delivery) for delivery in queued)
        self._created.update((delivery.id, at) for delivery in queued)
        return queued

    async def last_result(self, key: ConversationKey) -> CheckResult | None:
        """The most recent finished check of a conversation."""
        results = self._results.get(key)
        return results[-1] if results else None

    async def events(self, key: ConversationKey) -> list[tuple[datetime, Event]]:
        """A conversation's events, oldest first."""
        return list(self._events.get(key, []))

    async def traces(self, key: ConversationKey) -> Forgotten:
        """What others have seen of a conversation: its handovers and our recent messages."""
        mine = {n for n, h in self._handovers.items() if h.key == key}
        recent = _recent(datetime.now(UTC))
        seen = tuple(
            m
            for m, n in self._threads.items()
            if n in mine and self._sent_at.get(m, recent) >= recent
        )
        return Forgotten(tuple(sorted(mine)), seen)

    def _delete(self, key: ConversationKey, keep_update: int | None) -> None:
        """Delete everything stored about a conversation, wherever it is kept."""
        self._states.pop(key, None)
        self._touched.pop(key, None)
        self._events.pop(key, None)
        self._results.pop(key, None)
        for update_id in [
            u for u, (k, _, _) in self._inbox.items() if k == key and u != keep_update
        ]:
            del self._inbox[update_id]
        gone = {n for n, h in self._handovers.items() if h.key == key}
        for number in [
            n
            for n, d in self._outbox.items()
            if d.key == key or {d.reply.thread, d.reply.about} & gone
        ]:
            del self._outbox[number]
        for number in gone:
            del self._handovers[number]
        for message_id in [m for m, n in self._threads.items() if n in gone]:
            del self._threads[message_id]

    async def prune(self, before: datetime) -> dict[str, int]:
        """Delete personal data last touched before `before`; how many went, per table."""
        removed = dict.fromkeys(PRUNED, 0)
        for key, events in self._events.items():
            kept = [(at, event) for at, event in events if at >= before]
            removed["events"] += len(events) - len(kept)
            self._events[key] = kept
        busy = {h.key for h in self._handovers.values() if h.status in ACTIVE_HANDOVER}
        for key in [k for k, at in self._touched.items() if at < before and k not in busy]:
            self._states.pop(key, None)
            del self._touched[key]
            removed["conversations"] += 1
            removed["check_results"] += len(self._results.pop(key, []))
        for update_id in [
            u for u, (_, _, done) in self._inbox.items() if done and self._received[u] < before
        ]:
            del self._inbox[update_id]
            removed["inbox"] += 1
        for number in [n for n in self._outbox if n in self._sent and self._created[n] < before]:
            del self._outbox[number]
            removed["outbox"] += 1
        for number, handover in list(self._handovers.items()):
            closed = handover.closed_at
            if handover.status not in ACTIVE_HANDOVER and closed is not None and closed < before:
                del self._handovers[number]
                removed["handovers"] += 1
                # Its messages in the consultants' chat go with it, as ON DELETE CASCADE does.
                for message_id in [m for m, n in self._threads.items() if n == number]:
                    del self._threads[message_id]
        return removed

    async def export(self, key: ConversationKey) -> dict[str, list[dict[str, Any]]]:
        """Everything stored about a conversation, per table, as the SQLite store gives it."""
        state = self._states.get(key)
        mine = {n for n, h in self._handovers.items() if h.key == key}
        handovers = [self._handovers[n] for n in sorted(mine)]
        return {
            "conversations": []
            if state is None
            else [{"state": json.loads(_state_to_json(state))}],
            "events": [
                {"at": at.isoformat(), "kind": e.kind, "data": e.data}
                for at, e in self._events.get(key, [])
            ],
            "check_results": [
                json.loads(_result_to_json(result)) for result in self._results.get(key, [])
            ],
            "inbox": [
                {"update_id": u, "payload": _parsed(p)}
                for u, (k, p, _) in sorted(self._inbox.items())
                if k == key
            ],
            "outbox": [
                {"id": d.id, "payload": reply_to_dict(d.reply)}
                for d in self._outbox.values()
                if d.id not in self._sent
                and (d.key == key or {d.reply.thread, d.reply.about} & mine)
            ],
            "handovers": [
                {
                    "id": h.number,
                    "status": h.status.value,
                    "created_at": h.created_at.isoformat(),
                    "data": h.data,
                    "summary": h.summary,
                }
                for h in handovers
            ],
            "handover_thread": [
                {"handover": h.number, "at": m.at.isoformat(), "author": m.author, "text": m.text}
                for h in handovers
                for m in h.thread
            ],
            "handover_messages": [
                {"message_id": m, "handover": n} for m, n in self._threads.items() if n in mine
            ],
        }

    async def receive(
        self, updates: Sequence[tuple[int, ConversationKey, str]], at: datetime
    ) -> set[int]:
        """Keep incoming updates before they are confirmed; returns the ids that were new."""
        new = {update_id for update_id, _, _ in updates if update_id not in self._inbox}
        for update_id, key, payload in updates:
            self._inbox.setdefault(update_id, (key, payload, False))
            self._received.setdefault(update_id, at)
        return new

    async def unhandled(self) -> list[tuple[int, ConversationKey, str]]:
        """Received updates not handled yet, oldest first."""
        return [(u, k, p) for u, (k, p, done) in sorted(self._inbox.items()) if not done]

    async def undelivered(
        self,
        limit: int = 100,
        key: ConversationKey | None = None,
        recipient: Recipient | None = None,
    ) -> list[Delivery]:
        """Replies waiting in the outbox, oldest first."""
        waiting = [
            d
            for d in self._outbox.values()
            if d.id not in self._sent
            and (key is None or d.key == key)
            and (recipient is None or d.reply.recipient is recipient)
        ]
        return waiting[:limit]

    async def delivered(
        self, delivery_id: int, status: str = "sent", error: str = "", sent: Sequence[str] = ()
    ) -> None:
        """Take a reply out of the outbox."""
        self._sent[delivery_id] = status
        delivery = self._outbox.get(delivery_id)  # gone if the conversation was forgotten
        thread = (delivery.reply.thread or delivery.reply.about) if delivery else None
        if thread is not None:
            self._threads.update(dict.fromkeys(sent, thread))
            self._sent_at.update(dict.fromkeys(sent, datetime.now(UTC)))
        if delivery is not None:  # sent: what it said is no longer kept
            self._outbox[delivery_id] = replace(delivery, reply=Reply(""))

    async def handover(self, number: int) -> Handover | None:
        """One handover with its thread."""
        return self._handovers.get(number)

    async def handovers(self, status: HandoverStatus | None = None) -> list[Handover]:
        """Handovers (with one status, if given), oldest first, without their threads."""
        return [
            replace(h, thread=())
            for h in self._handovers.values()
            if status is None or h.status is status
        ]

    async def thread_of(self, message_id: str) -> int | None:
        """The handover a message in the consultants' chat belongs to."""
        return self._threads.get(message_id)

    async def thread_start(self, number: int) -> str | None:
        """The first message a handover sent to the consultants' chat (its summary)."""
        return next((m for m, n in self._threads.items() if n == number), None)

    async def due_reminders(self, now: datetime) -> list[Handover]:
        """Open handovers past their reminder time that have not been reminded about."""
        return [
            h
            for h in self._handovers.values()
            if h.status is HandoverStatus.OPEN
            and h.reminded_at is None
            and h.remind_at is not None
            and h.remind_at <= now
        ]

    async def close(self) -> None:
        """Nothing to release."""


def _changed(handover: Handover, change: HandoverChange, at: datetime) -> Handover:
    """The handover after `change` (the in-memory twin of the SQL updates)."""
    if change.status is None:
        return replace(handover, reminded_at=at)
    if change.status is HandoverStatus.PICKED_UP:
        return replace(handover, status=change.status, picked_up_at=at, picked_up_by=change.by)
    return replace(handover, status=change.status, closed_at=at, closed_by=change.by)


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
    """
    ALTER TABLE outbox ADD COLUMN recipient TEXT NOT NULL DEFAULT 'user';
    CREATE TABLE handovers (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at TEXT NOT NULL,
        data TEXT NOT NULL,
        summary TEXT NOT NULL,
        remind_at TEXT,
        reminded_at TEXT,
        picked_up_at TEXT,
        picked_up_by TEXT,
        closed_at TEXT,
        closed_by TEXT
    );
    CREATE INDEX handovers_by_key ON handovers (key, status);
    CREATE INDEX handovers_by_status ON handovers (status, id);
    CREATE TABLE handover_thread (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        handover INTEGER NOT NULL REFERENCES handovers (id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        at TEXT NOT NULL,
        author TEXT NOT NULL,
        text TEXT NOT NULL
    );
    CREATE INDEX handover_thread_by_handover ON handover_thread (handover, id);
    CREATE TABLE handover_messages (
        message_id TEXT PRIMARY KEY,
        handover INTEGER NOT NULL REFERENCES handovers (id) ON DELETE CASCADE,
        key TEXT NOT NULL
    );
    """,
    # Privacy (issue 11): what a handled update or a sent reply said is not kept; a reply to
    # the consultants names the handover it tells of, so /vergeet finds it; retention by time.
    """
    ALTER TABLE outbox ADD COLUMN about INTEGER;
    CREATE INDEX outbox_about ON outbox (about);
    ALTER TABLE handover_messages ADD COLUMN sent_at TEXT;
    CREATE INDEX conversations_by_time ON conversations (updated_at);
    CREATE INDEX inbox_by_time ON inbox (received_at);
    CREATE INDEX outbox_by_time ON outbox (created_at);
    CREATE INDEX handovers_by_closing ON handovers (closed_at);
    UPDATE outbox SET about = json_extract(payload, '$.thread') WHERE status = 'pending';
    UPDATE inbox SET payload = '' WHERE handled = 1;
    UPDATE outbox SET payload = '' WHERE status != 'pending';
    """,
)


class SqliteStore:
    """Conversations in one SQLite file (WAL), shared by every channel of the process.

    Reads run at once on a reading connection; every write is one plain function run on the
    store's writer thread: a whole transaction costs one hop from the event loop instead of one
    per statement (aiosqlite's model), and writes never interleave because the thread runs them
    one after another.
    """

    def __init__(self, database: _Database) -> None:
        self._database = database

    @classmethod
    async def open(cls, path: Path) -> SqliteStore:
        """Open (and create or migrate) the database at `path`."""
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(await _Database.open(path))

    async def load(self, key: ConversationKey) -> ConversationState:
        """The state of a conversation (a fresh one if it is new)."""
        state, number, status, consultant = self._database.one(
            "SELECT (SELECT state FROM conversations WHERE key = ?1), h.id, h.status, "
            "h.picked_up_by FROM (SELECT 1) LEFT JOIN handovers AS h "
            "ON h.key = ?1 AND h.status IN ('open', 'picked_up') ORDER BY h.id DESC LIMIT 1",
            (str(key),),
        )
        loaded = _state_from_json(state) if state else ConversationState()
        if number is None:
            return loaded
        return replace(loaded, handover=ActiveHandover(number, HandoverStatus(status), consultant))

    async def commit(
        self, key: ConversationKey, changes: Changes, at: datetime
    ) -> list[Delivery] | None:
        """Write the new state, events and result of one message in one transaction; returns
        the replies it queued, or None (and nothing written) when its update was handled
        before."""
        stamp = at.isoformat()
        name = str(key)
        state = _state_to_json(changes.state) if changes.write_state else None
        events = [
            (name, stamp, event.kind, json.dumps(event.data, ensure_ascii=False))
            for event in changes.events
        ]
        result = changes.result
        thread = [
            (stamp, message.author, message.text, number) for number, message in changes.thread
        ]

        def write(db: sqlite3.Connection) -> list[Delivery] | None:
            if changes.update_id is not None:
                # Marking the update handled is the idempotency check itself: a second
                # handling of the same update changes no row and writes nothing. Handled:
                # only its id is kept (against redelivery), not what it said.
                marked = db.execute(
                    "INSERT INTO inbox (update_id, key, payload, received_at, handled) "
                    "VALUES (?, ?, '', ?, 1) "
                    "ON CONFLICT (update_id) DO UPDATE SET handled = 1, payload = '' "
                    "WHERE handled = 0",
                    (changes.update_id, name, stamp),
                )
                if marked.rowcount != 1:
                    return None
            if changes.forget:
                _delete_conversation(db, name, keep_update=changes.update_id)
            if state is not None:
                db.execute(
                    "INSERT INTO conversations (key, state, updated_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET state = excluded.state, "
                    "updated_at = excluded.updated_at",
                    (name, state, stamp),
                )
            db.executemany("INSERT INTO events (key, at, kind, data) VALUES (?, ?, ?, ?)", events)
            if result is not None:
                db.execute(
                    "INSERT INTO check_results (key, at, outcome, data) VALUES (?, ?, ?, ?)",
                    (name, stamp, result.outcome, _result_to_json(result)),
                )
            outbox = list(changes.outbox)
            if changes.handover is not None:
                outbox += _open_handover(db, name, changes.handover, stamp)
            for change in changes.handover_changes:
                _change_handover(db, change, stamp)
            if thread:
                db.executemany(
                    "INSERT INTO handover_thread (handover, key, at, author, text) "
                    "SELECT id, key, ?, ?, ? FROM handovers WHERE id = ?",
                    thread,
                )
            queued = []
            for reply in outbox:
                target = reply.to or key
                number = db.execute(
                    "INSERT INTO outbox (key, payload, created_at, recipient, about) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (
                        str(target),
                        json.dumps(reply_to_dict(reply), ensure_ascii=False),
                        stamp,
                        reply.recipient.value,
                        reply.thread or reply.about,
                    ),
                ).lastrowid
                assert number is not None
                queued.append(Delivery(number, target, reply))
            return queued

        queued = await self._database.transaction(write)
        if changes.forget and queued is not None:
            # No old page may survive in the log: emptied before the confirmation goes out.
            await self._database.truncate_log()
        return queued

    async def last_result(self, key: ConversationKey) -> CheckResult | None:
        """The most recent finished check of a conversation."""
        row = self._database.one(
            "SELECT data FROM check_results WHERE key = ? ORDER BY id DESC LIMIT 1", (str(key),)
        )
        return _result_from_json(row[0]) if row else None

    async def events(self, key: ConversationKey) -> list[tuple[datetime, Event]]:
        """A conversation's events, oldest first."""
        rows = self._database.all(
            "SELECT at, kind, data FROM events WHERE key = ? ORDER BY id", (str(key),)
        )
        return [
            (datetime.fromisoformat(at), Event(kind, json.loads(data))) for at, kind, data in rows
        ]

    async def traces(self, key: ConversationKey) -> Forgotten:
        """What others have seen of a conversation: its handovers, and our messages about
        them in the consultants' chat sent recently enough to be deleted there."""
        name = str(key)
        recent = _recent(datetime.now(UTC)).isoformat()
        numbers = self._database.all("SELECT id FROM handovers WHERE key = ? ORDER BY id", (name,))
        messages = self._database.all(
            "SELECT message_id FROM handover_messages WHERE key = ? "
            "AND (sent_at IS NULL OR sent_at >= ?) ORDER BY message_id",
            (name, recent),
        )
        return Forgotten(tuple(n for (n,) in numbers), tuple(m for (m,) in messages))

    async def prune(self, before: datetime) -> dict[str, int]:
        """Delete personal data last touched before `before`: handled updates, sent replies,
        idle conversations with their check results, events, and handovers closed that long
        ago with their threads; returns how many rows went, per table."""
        stamp = before.isoformat()

        def delete(db: sqlite3.Connection) -> dict[str, int]:
            return {table: db.execute(sql, (stamp,)).rowcount for table, sql in PRUNING}

        removed = await self._database.transaction(delete)
        if any(removed.values()):
            await self._database.truncate_log()
        return removed

    async def export(self, key: ConversationKey) -> dict[str, list[dict[str, Any]]]:
        """Everything stored about a conversation, per table, every column: what /vergeet
        deletes, read in one snapshot."""
        name = str(key)

        def read(db: sqlite3.Connection) -> dict[str, list[dict[str, Any]]]:
            db.execute("BEGIN")
            try:
                found = {table: _rows(db, table, name) for table in FORGETTABLE}
                # And replies about the user's handovers queued under another conversation.
                found["outbox"] += _rows(
                    db,
                    "outbox",
                    name,
                    "about IN (SELECT id FROM handovers WHERE key = ?1) AND key != ?1",
                )
            finally:
                db.execute("COMMIT")
            return found

        return self._database.read(read)

    async def receive(
        self, updates: Sequence[tuple[int, ConversationKey, str]], at: datetime
    ) -> set[int]:
        """Keep incoming updates (id, key, payload) in one transaction before they are
        confirmed to the channel; returns the ids that were new."""
        stamp = at.isoformat()

        def insert(db: sqlite3.Connection) -> set[int]:
            new: set[int] = set()
            for update_id, key, payload in updates:
                cursor = db.execute(
                    "INSERT OR IGNORE INTO inbox (update_id, key, payload, received_at) "
                    "VALUES (?, ?, ?, ?)",
                    (update_id, str(key), payload, stamp),
                )
                if cursor.rowcount == 1:
                    new.add(update_id)
            return new

        return await self._database.transaction(insert)

    async def unhandled(self) -> list[tuple[int, ConversationKey, str]]:
        """Received updates not handled yet, oldest first: (update id, key, payload)."""
        rows = self._database.all(
            "SELECT update_id, key, payload FROM inbox WHERE handled = 0 ORDER BY update_id", ()
        )
        return [
            (int(update_id), ConversationKey.parse(key), payload)
            for update_id, key, payload in rows
        ]

    async def undelivered(
        self,
        limit: int = 100,
        key: ConversationKey | None = None,
        recipient: Recipient | None = None,
    ) -> list[Delivery]:
        """Replies waiting in the outbox (of one conversation and for one recipient, if
        given), oldest first."""
        rows = self._database.all(
            "SELECT id, key, payload FROM outbox WHERE status = 'pending' "
            "AND (?1 IS NULL OR key = ?1) AND (?2 IS NULL OR recipient = ?2) ORDER BY id LIMIT ?3",
            (
                None if key is None else str(key),
                None if recipient is None else recipient.value,
                limit,
            ),
        )
        return [
            Delivery(int(number), ConversationKey.parse(key), reply_from_dict(json.loads(payload)))
            for number, key, payload in rows
        ]

    async def delivered(
        self, delivery_id: int, status: str = "sent", error: str = "", sent: Sequence[str] = ()
    ) -> None:
        """Take a reply out of the outbox: sent (as the channel's messages `sent`, which join
        the reply's handover thread), or given up (e.g. "blocked")."""

        # Sent (or given up): what it said is no longer kept.
        update = (
            "UPDATE outbox SET status = ?, error = ?, payload = '' WHERE id = ?",
            (status, error[:500], delivery_id),
        )
        if not sent:  # one statement is a transaction of its own: no BEGIN and COMMIT
            await self._database.run(lambda db: db.execute(*update).rowcount)
            return

        stamp = datetime.now(UTC).isoformat()

        def write(db: sqlite3.Connection) -> None:
            # Before the payload is cleared: it names the thread.
            db.executemany(
                "INSERT OR IGNORE INTO handover_messages (message_id, handover, key, sent_at) "
                "SELECT ?, h.id, h.key, ? FROM outbox AS o "
                "JOIN handovers AS h ON h.id = o.about "
                "WHERE o.id = ?",
                [(message_id, stamp, delivery_id) for message_id in sent],
            )
            db.execute(*update)

        await self._database.transaction(write)

    async def handover(self, number: int) -> Handover | None:
        """One handover with its thread (None for a number no row can have)."""
        if not 0 < number <= MAX_ROW_ID:  # "/overdracht 99999999999999999999" is no handover
            return None

        def read(db: sqlite3.Connection) -> Handover | None:
            rows = db.execute(f"{HANDOVER_COLUMNS} WHERE id = ?", (number,)).fetchall()
            if not rows:
                return None
            thread = db.execute(
                "SELECT at, author, text FROM handover_thread WHERE handover = ? ORDER BY id",
                (number,),
            ).fetchall()
            return replace(
                _handover(rows[0]),
                thread=tuple(
                    ThreadMessage(datetime.fromisoformat(at), author, text)
                    for at, author, text in thread
                ),
            )

        return self._database.read(read)

    async def handovers(self, status: HandoverStatus | None = None) -> list[Handover]:
        """Handovers (with one status, if given), oldest first, without their threads."""
        rows = self._database.all(
            f"{HANDOVER_COLUMNS} WHERE ?1 IS NULL OR status = ?1 ORDER BY id",
            (None if status is None else status.value,),
        )
        return [_handover(row) for row in rows]

    async def thread_of(self, message_id: str) -> int | None:
        """The handover a message in the consultants' chat belongs to."""
        row = self._database.one(
            "SELECT handover FROM handover_messages WHERE message_id = ?", (message_id,)
        )
        return int(row[0]) if row else None

    async def thread_start(self, number: int) -> str | None:
        """The first message a handover sent to the consultants' chat (its summary)."""
        row = self._database.one(
            "SELECT message_id FROM handover_messages WHERE handover = ? ORDER BY rowid LIMIT 1",
            (number,),
        )
        return str(row[0]) if row else None

    async def due_reminders(self, now: datetime) -> list[Handover]:
        """Open handovers past their reminder time that have not been reminded about."""
        rows = self._database.all(
            f"{HANDOVER_COLUMNS} WHERE status = 'open' AND reminded_at IS NULL "
            "AND remind_at <= ? ORDER BY id",
            (now.isoformat(),),
        )
        return [_handover(row) for row in rows]

    async def backup(self, target: Path) -> None:
        """A consistent copy of the database in `target`, while others go on writing
        (SQLite's online backup API)."""
        await asyncio.to_thread(self._database.backup, target)

    async def close(self) -> None:
        """Close the database."""
        await self._database.close()


# Everything kept about a conversation lives in these tables, each with a `key` column.
FORGETTABLE = (
    "conversations",
    "events",
    "check_results",
    "inbox",
    "outbox",
    "handover_messages",
    "handover_thread",
    "handovers",
)
# Retention: each statement deletes what was last touched before its one parameter. Events and
# check results of a conversation go with it; a conversation waiting for or talking with a
# consultant is not idle. Handovers take their threads with them (ON DELETE CASCADE).
PRUNING = (
    ("inbox", "DELETE FROM inbox WHERE handled = 1 AND received_at < ?1"),
    ("outbox", "DELETE FROM outbox WHERE status != 'pending' AND created_at < ?1"),
    ("events", "DELETE FROM events WHERE at < ?1"),
    (
        "check_results",
        "DELETE FROM check_results WHERE at < ?1 AND key NOT IN (SELECT key FROM conversations "
        "WHERE updated_at >= ?1 OR key IN (SELECT key FROM handovers "
        "WHERE status IN ('open', 'picked_up')))",
    ),
    (
        "conversations",
        "DELETE FROM conversations WHERE updated_at < ?1 AND key NOT IN "
        "(SELECT key FROM handovers WHERE status IN ('open', 'picked_up'))",
    ),
    (
        "handovers",
        "DELETE FROM handovers WHERE status IN ('closed', 'cancelled') AND closed_at < ?1",
    ),
)
PRUNED = tuple(table for table, _ in PRUNING)
TRUNCATE_LOG = "PRAGMA wal_checkpoint(TRUNCATE)"
MAX_ROW_ID = 2**63 - 1  # SQLite's largest integer
BUSY_TIMEOUT_MS = 5000  # how long a write waits for another process's lock before retrying
# Telegram lets a bot delete its own messages in a group for 48 hours.
DELETABLE_FOR = timedelta(hours=48)


def _delete_conversation(db: sqlite3.Connection, name: str, keep_update: int | None) -> None:
    """Delete every row about a conversation (`keep_update`: the update being handled stays,
    handled and empty), and the unsent replies to the consultants about its handovers."""
    db.execute(
        "DELETE FROM outbox WHERE about IN (SELECT id FROM handovers WHERE key = ?)", (name,)
    )
    db.execute("DELETE FROM inbox WHERE key = ? AND update_id IS NOT ?", (name, keep_update))
    for table in FORGETTABLE:
        if table != "inbox":
            # The table names are our own constants; the key is a placeholder as always.
            db.execute(f"DELETE FROM {table} WHERE key = ?", (name,))  # noqa: S608


def integrity(path: Path) -> list[str]:
    """SQLite's integrity check of a database file, opened read-only (nothing is created,
    migrated or repaired): ["ok"], or the problems found."""
    if not path.is_file():
        return [f"there is no database file at {path}"]
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return [str(row[0]) for row in connection.execute("PRAGMA integrity_check")]
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        return [f"{path}: {error}"]


def _try_truncate(db: sqlite3.Connection) -> tuple[int, int, int]:
    """One try to empty the log, without waiting for readers (the busy time-out would hold up
    every other write for 5 s a try); (busy, log pages, pages checkpointed)."""
    db.execute("PRAGMA busy_timeout=0")
    try:
        # The result row is read: an unread statement would stay open on the writing
        # connection and make the next commit fail.
        busy, pages, done = db.execute(TRUNCATE_LOG).fetchall()[0]
    finally:
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return int(busy), int(pages), int(done)


def _recent(now: datetime) -> datetime:
    """The oldest moment a message may have been sent and still be deleted."""
    return now - DELETABLE_FOR


HANDOVER_COLUMNS = (
    "SELECT id, key, status, created_at, data, summary, remind_at, reminded_at, "
    "picked_up_at, picked_up_by, closed_at, closed_by FROM handovers"
)


def _open_handover(
    db: sqlite3.Connection, key: str, handover: NewHandover, stamp: str
) -> list[Reply]:
    """Insert a handover; its summary and messages need its number, so they come after."""
    number = db.execute(
        "INSERT INTO handovers (key, status, created_at, data, summary, remind_at) "
        "VALUES (?, 'open', ?, ?, '', ?)",
        (key, stamp, json.dumps(handover.data, ensure_ascii=False), handover.remind_at.isoformat()),
    ).lastrowid
    assert number is not None
    summary, messages = handover.render(number)
    db.execute("UPDATE handovers SET summary = ? WHERE id = ?", (summary, number))
    return messages


def _change_handover(db: sqlite3.Connection, change: HandoverChange, stamp: str) -> None:
    if change.status is None:
        db.execute("UPDATE handovers SET reminded_at = ? WHERE id = ?", (stamp, change.number))
    elif change.status is HandoverStatus.PICKED_UP:
        db.execute(
            "UPDATE handovers SET status = ?, picked_up_at = ?, picked_up_by = ? WHERE id = ?",
            (change.status.value, stamp, change.by, change.number),
        )
    else:
        db.execute(
            "UPDATE handovers SET status = ?, closed_at = ?, closed_by = ? WHERE id = ?",
            (change.status.value, stamp, change.by, change.number),
        )


def _moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _rows(
    db: sqlite3.Connection, table: str, key: str, where: str = "key = ?"
) -> list[dict[str, Any]]:
    """The rows of one of our tables that match, as column -> value, JSON text parsed."""
    # The table names and conditions are our own constants; the key is a placeholder.
    cursor = db.execute(f"SELECT * FROM {table} WHERE {where} ORDER BY rowid", (key,))  # noqa: S608
    columns = [column[0] for column in cursor.description]
    return [
        {column: _parsed(value) for column, value in zip(columns, row, strict=True)}
        for row in cursor.fetchall()
    ]


def _parsed(value: Any) -> Any:
    """A stored value, with JSON objects and lists read as such."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _handover(row: tuple[Any, ...]) -> Handover:
    number, key, status, created, data, summary, remind, reminded, picked, by, closed, closer = row
    return Handover(
        number=int(number),
        key=ConversationKey.parse(key),
        status=HandoverStatus(status),
        created_at=datetime.fromisoformat(created),
        data=json.loads(data),
        summary=summary,
        picked_up_at=_moment(picked),
        picked_up_by=by,
        closed_at=_moment(closed),
        closed_by=closer,
        remind_at=_moment(remind),
        reminded_at=_moment(reminded),
    )


_T = TypeVar("_T")


class _Database:
    """Two connections to one file: reads run at once in the caller's thread (in WAL mode a
    reader never waits for a writer, and a read takes microseconds), writes run one at a time
    on the database's own thread, so a write waiting for another process's lock never blocks
    the event loop."""

    def __init__(self, writer: _Writer, reader: sqlite3.Connection, path: Path) -> None:
        self._writer = writer
        self._reader = reader
        self._path = path

    @classmethod
    async def open(cls, path: Path) -> _Database:
        """Connect (creating or migrating the file first) for writing and for reading."""
        writer = _Writer(path)
        try:
            await writer.start(lambda: _connect(path))
            reader = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            reader.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            reader.execute("PRAGMA query_only=ON")
        except BaseException:
            await writer.stop()
            raise
        return cls(writer, reader, path)

    async def run(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run `work` with the writing connection on the database thread."""
        return await self._writer.submit(work)

    async def transaction(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run `work` in one write transaction: all of it is stored, or none."""
        return await self._writer.submit(lambda db: _in_transaction(db, work))

    def read(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run `work` with the reading connection (it must read every row it asks for, so that
        no statement stays open and holds a snapshot)."""
        try:
            return work(self._reader)
        except sqlite3.DatabaseError as error:
            raise _classified(error, self._path) from error

    def one(self, sql: str, parameters: tuple[str | int | None, ...]) -> Any:
        """The first row of a query, or None."""
        rows = self.all(sql, parameters)
        return rows[0] if rows else None

    def all(self, sql: str, parameters: tuple[str | int | None, ...]) -> list[Any]:
        """Every row of a query."""
        return self.read(lambda db: db.execute(sql, parameters).fetchall())

    def backup(self, target: Path) -> None:
        """Copy the database into `target` (a new file) in one consistent snapshot."""
        source = sqlite3.connect(self._path)
        try:
            copy = sqlite3.connect(target)
            try:
                source.backup(copy)
            finally:
                copy.close()
        finally:
            source.close()

    async def truncate_log(self) -> None:
        """Copy the write-ahead log into the (zeroed) database file and empty it, so that no
        deleted row survives in it; waits, retrying, while a reader still holds old pages."""
        delay = 0.05
        waited = 0.0
        while True:
            busy, _, _ = await self.run(_try_truncate)
            if not busy:
                return
            if not waited:
                log.warning("a reader holds the database; retrying to empty its log")
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, 1.0)

    async def close(self) -> None:
        """Close both connections and end the thread."""
        self._reader.close()
        await self._writer.submit(lambda db: db.close())
        await self._writer.stop()


class _Writer:
    """A thread that owns the writing connection and runs submitted work in order. Lighter
    than an executor: one queue put and one loop wake-up per call."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path  # named in the errors that say what to do
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._connection: sqlite3.Connection | None = None
        self._thread = threading.Thread(target=self._serve, name="sto-bot-sqlite", daemon=True)

    async def start(self, connect: Callable[[], sqlite3.Connection]) -> None:
        """Start the thread and open the connection on it."""
        self._thread.start()

        def opened(_: sqlite3.Connection | None) -> None:
            self._connection = connect()

        await self._call(opened)

    async def submit(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run `work` with the connection on the thread; its result or exception."""
        return await self._call(lambda _: work(self._connection))  # type: ignore[arg-type]

    async def stop(self) -> None:
        """End the thread once the work before this call is done."""
        if self._thread.is_alive():
            self._jobs.put(None)
            await asyncio.to_thread(self._thread.join)

    def _call(self, work: Callable[[sqlite3.Connection | None], _T]) -> asyncio.Future[_T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_T] = loop.create_future()
        self._jobs.put((loop, future, work))
        return future

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            loop, future, work = job
            try:
                outcome = _patiently(work, self._connection)
            except sqlite3.DatabaseError as error:
                loop.call_soon_threadsafe(_settle, future, None, _classified(error, self.path))
            except BaseException as error:  # handed to the waiting coroutine
                loop.call_soon_threadsafe(_settle, future, None, error)
            else:
                loop.call_soon_threadsafe(_settle, future, outcome, None)


_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[[Any], Any]]
LOCK_RETRY_MAX = 2.0  # seconds between tries while another process holds the write lock


def _patiently(work: Callable[[Any], _T], connection: sqlite3.Connection | None) -> _T:
    """Run `work`; while another process holds the write lock beyond busy_timeout, wait and
    try again (said once in the log), however long it takes: a lock is no reason to stop."""
    delay = 0.1
    told = False
    while True:
        try:
            return work(connection)
        except sqlite3.OperationalError as error:
            if not _locked(error):
                raise
            if not told:
                log.warning("the database is locked by another process; waiting for it")
                told = True
            time.sleep(delay)  # the database thread's own time: the event loop goes on
            delay = min(delay * 2, LOCK_RETRY_MAX)


# SQLite's result codes for a file that cannot be used as it is.
_BROKEN = {
    11: "is damaged (malformed)",
    26: "is not a database",
    8: "is read-only",
    10: "cannot be read or written",
}


def _classified(error: sqlite3.DatabaseError, path: Path | None) -> Exception:
    """A database error as what it means for the bot: the disk is full (try again later),
    the file is broken or read-only (stop, with the fix), or any other error as it is."""
    code = getattr(error, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary == 13 or "disk is full" in str(error):
        return StoreFull(f"the disk of {path} is full")
    if primary in _BROKEN:
        return StoreBroken(
            f"the database {path} {_BROKEN[primary]} ({error}): check it with `sto-bot db check`, "
            "restore a backup or point STO_BOT_DB at a writable file"
        )
    return error


def _locked(error: sqlite3.OperationalError) -> bool:
    """Whether an error means the database was busy (locked by another connection)."""
    code = getattr(error, "sqlite_errorcode", None)
    busy = (sqlite3.SQLITE_BUSY, getattr(sqlite3, "SQLITE_LOCKED", 6))
    return code in busy or "database is locked" in str(error)


def _settle(future: asyncio.Future[Any], outcome: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return  # the caller stopped waiting; the work itself was done (or failed) anyway
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(outcome)


def _in_transaction(db: sqlite3.Connection, work: Callable[[sqlite3.Connection], _T]) -> _T:
    # IMMEDIATE takes the write lock up front: another process writing at the same time
    # (the console consultant, `sto-bot handovers`) makes us wait, never fail half-way.
    db.execute("BEGIN IMMEDIATE")
    try:
        outcome = work(db)
    except BaseException:
        db.rollback()
        raise
    db.commit()
    return outcome


def _connect(path: Path) -> sqlite3.Connection:
    # Autocommit mode: transactions are begun explicitly by _in_transaction.
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        connection.execute("PRAGMA foreign_keys=ON")
        # Deleted rows are overwritten with zeros, so /vergeet leaves no readable trace.
        connection.execute("PRAGMA secure_delete=ON")
        _migrate(connection)
    except BaseException:
        connection.close()
        raise
    return connection


def _migrate(connection: sqlite3.Connection) -> None:
    version = int(connection.execute("PRAGMA user_version").fetchone()[0])
    if version > len(MIGRATIONS):
        raise RuntimeError(
            f"the database is at schema version {version}, newer than this program "
            f"({len(MIGRATIONS)}): upgrade sto-bot or point STO_BOT_DB at another file"
        )
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        log.info("migrating the database to schema version %d", number)
        connection.executescript(f"BEGIN; {script} PRAGMA user_version = {number}; COMMIT;")


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
            "fallbacks": state.fallbacks,
            "shown": [{"id": o.id, "label": o.label} for o in state.shown],
            "last_entry": state.last_entry,
            "intake": None
            if state.intake is None
            else {"step": state.intake.step, "answers": state.intake.answers},
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
    intake = data.get("intake")
    return ConversationState(
        language=data.get("language"),
        last_language=data.get("last_language"),
        pending=data.get("pending"),
        fallbacks=data.get("fallbacks", 0),
        shown=tuple(Option(o["id"], o["label"]) for o in data.get("shown", ())),
        last_entry=data.get("last_entry"),
        intake=None if intake is None else Intake(intake["step"], intake["answers"]),
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
