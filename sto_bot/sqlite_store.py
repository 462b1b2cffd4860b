"""The store in one SQLite file: each method one read or one write transaction (sqlite_db.py
runs them); the schema is there too."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sto_bot.codec import (
    parsed,
    reply_from_dict,
    reply_to_dict,
    result_from_json,
    result_to_json,
    state_from_json,
    state_to_json,
)
from sto_bot.models import (
    ActiveHandover,
    Changes,
    CheckResult,
    ConversationKey,
    ConversationState,
    Delivery,
    Event,
    Forgotten,
    Handover,
    HandoverChange,
    HandoverStatus,
    NewHandover,
    Recipient,
    ThreadMessage,
)
from sto_bot.sqlite_db import Database
from sto_bot.store import deletable_since


class SqliteStore:
    """Conversations in one SQLite file (WAL), shared by every channel of the process.

    Reads run at once on a reading connection; every write is one plain function run on the
    store's writer thread: a whole transaction costs one hop from the event loop instead of one
    per statement (aiosqlite's model), and writes never interleave because the thread runs them
    one after another.
    """

    def __init__(self, database: Database) -> None:
        self._database = database

    @classmethod
    async def open(cls, path: Path) -> SqliteStore:
        """Open (and create or migrate) the database at `path`."""
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(await Database.open(path))

    async def load(self, key: ConversationKey) -> ConversationState:
        """The state of a conversation (a fresh one if it is new)."""
        state, number, status, consultant, replies = self._database.one(
            "SELECT (SELECT state FROM conversations WHERE key = ?1), h.id, h.status, "
            "h.picked_up_by, (SELECT COUNT(*) FROM handover_thread AS t WHERE t.handover = h.id "
            "AND t.author LIKE 'consultant:%') FROM (SELECT 1) LEFT JOIN handovers AS h "
            "ON h.key = ?1 AND h.status IN ('open', 'picked_up') ORDER BY h.id DESC LIMIT 1",
            (str(key),),
        )
        loaded = state_from_json(state) if state else ConversationState()
        if number is None:
            return replace(loaded, aside=None)  # nothing left to step back to
        active = ActiveHandover(number, HandoverStatus(status), consultant, replies)
        return replace(loaded, handover=active)

    async def commit(
        self, key: ConversationKey, changes: Changes, at: datetime
    ) -> list[Delivery] | None:
        """Write the new state, events and result of one message in one transaction; returns
        the replies it queued, or None (and nothing written) when its update was handled
        before."""
        stamp = at.isoformat()
        name = str(key)
        state = state_to_json(changes.state) if changes.write_state else None
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
                    (name, stamp, result.outcome, result_to_json(result)),
                )
            if changes.handover is not None:
                _open_handover(db, name, changes.handover, stamp)
            for change in changes.handover_changes:
                _change_handover(db, change, stamp)
            if thread:
                db.executemany(
                    "INSERT INTO handover_thread (handover, key, at, author, text) "
                    "SELECT id, key, ?, ?, ? FROM handovers WHERE id = ?",
                    thread,
                )
            queued = []
            for reply in changes.outbox:
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

    async def reserve_handover(self) -> int:
        """A new handover's number, never given before (AUTOINCREMENT: not even after the
        handover is deleted); the table stays empty, only its counter counts."""

        def reserve(db: sqlite3.Connection) -> int:
            number = db.execute("INSERT INTO handover_numbers DEFAULT VALUES").lastrowid
            db.execute("DELETE FROM handover_numbers")
            assert number is not None
            return number

        return await self._database.transaction(reserve)

    async def last_result(self, key: ConversationKey) -> CheckResult | None:
        """The most recent finished check of a conversation."""
        row = self._database.one(
            "SELECT data FROM check_results WHERE key = ? ORDER BY id DESC LIMIT 1", (str(key),)
        )
        return result_from_json(row[0]) if row else None

    async def events(self, key: ConversationKey) -> list[tuple[datetime, Event]]:
        """A conversation's events, oldest first."""
        rows = self._database.all(
            "SELECT at, kind, data FROM events WHERE key = ? ORDER BY id", (str(key),)
        )
        return [
            (datetime.fromisoformat(at), Event(kind, json.loads(data))) for at, kind, data in rows
        ]

    async def events_between(
        self, since: datetime, until: datetime
    ) -> list[tuple[ConversationKey, datetime, Event]]:
        """Every conversation's events in [since, until), oldest first."""
        rows = self._database.all(
            "SELECT key, at, kind, data FROM events WHERE at >= ? AND at < ? ORDER BY at, id",
            (since.isoformat(), until.isoformat()),
        )
        return [
            (ConversationKey.parse(key), datetime.fromisoformat(at), Event(kind, json.loads(data)))
            for key, at, kind, data in rows
        ]

    async def traces(self, key: ConversationKey) -> Forgotten:
        """What others have seen of a conversation: its handovers, and our messages about
        them in the consultants' chat sent recently enough to be deleted there."""
        name = str(key)
        recent = deletable_since(datetime.now(UTC)).isoformat()
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
MAX_ROW_ID = 2**63 - 1  # SQLite's largest integer


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


HANDOVER_COLUMNS = (
    "SELECT id, key, status, created_at, data, summary, remind_at, reminded_at, "
    "picked_up_at, picked_up_by, closed_at, closed_by FROM handovers"
)


def _open_handover(db: sqlite3.Connection, key: str, handover: NewHandover, stamp: str) -> None:
    """Insert a handover under its reserved number."""
    db.execute(
        "INSERT INTO handovers (id, key, status, created_at, data, summary, remind_at) "
        "VALUES (?, ?, 'open', ?, ?, ?, ?)",
        (
            handover.number,
            key,
            stamp,
            json.dumps(handover.data, ensure_ascii=False),
            handover.summary,
            handover.remind_at.isoformat(),
        ),
    )


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
        {column: parsed(value) for column, value in zip(columns, row, strict=True)}
        for row in cursor.fetchall()
    ]


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
