"""Where conversations live between messages: the store's contract, and its in-memory twin
for tests and one-off runs (the SQLite backend is in sqlite_store.py).

A message's effects (the new conversation state, what was asked and answered, a finished check's
result) are written in one transaction before the reply goes out, so a restart loses nothing.
"""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sto_bot.codec import parsed, reply_to_dict, result_to_json, state_to_json
from sto_bot.models import (
    ACTIVE_HANDOVER,
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
    Recipient,
    Reply,
)

# The tables retention prunes, in the order `prune` reports them.
PRUNED = ("inbox", "outbox", "events", "check_results", "conversations", "handovers")
# Telegram lets a bot delete its own messages in a group for 48 hours.
DELETABLE_FOR = timedelta(hours=48)


def deletable_since(now: datetime) -> datetime:
    """The oldest moment a message may have been sent and still be deleted."""
    return now - DELETABLE_FOR


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

    async def reserve_handover(self) -> int:
        """A new handover's number, never given before (a handover not stored with it
        leaves a gap)."""
        ...

    async def last_result(self, key: ConversationKey) -> CheckResult | None:
        """The most recent finished check of a conversation."""
        ...

    async def events(self, key: ConversationKey) -> list[tuple[datetime, Event]]:
        """A conversation's events, oldest first."""
        ...

    async def events_between(
        self, since: datetime, until: datetime
    ) -> list[tuple[ConversationKey, datetime, Event]]:
        """Every conversation's events from `since` up to (not including) `until`, oldest
        first: what the editors' report counts."""
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
            return replace(state, aside=None)  # nothing left to step back to
        last = active[-1]
        replies = sum(m.author.startswith("consultant:") for m in last.thread)
        return replace(
            state, handover=ActiveHandover(last.number, last.status, last.picked_up_by, replies)
        )

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
        new = changes.handover
        if new is not None:
            self._handovers[new.number] = Handover(
                new.number,
                key,
                HandoverStatus.OPEN,
                at,
                new.data,
                new.summary,
                remind_at=new.remind_at,
            )
        for change in changes.handover_changes:
            self._handovers[change.number] = _changed(self._handovers[change.number], change, at)
        for number, message in changes.thread:
            handover = self._handovers[number]
            self._handovers[number] = replace(handover, thread=(*handover.thread, message))
        queued = [Delivery(next(self._numbers), r.to or key, r) for r in changes.outbox]
        self._outbox.update((delivery.id, delivery) for delivery in queued)
        self._created.update((delivery.id, at) for delivery in queued)
        return queued

    async def reserve_handover(self) -> int:
        """A new handover's number, never given before."""
        return next(self._handover_numbers)

    async def last_result(self, key: ConversationKey) -> CheckResult | None:
        """The most recent finished check of a conversation."""
        results = self._results.get(key)
        return results[-1] if results else None

    async def events(self, key: ConversationKey) -> list[tuple[datetime, Event]]:
        """A conversation's events, oldest first."""
        return list(self._events.get(key, []))

    async def events_between(
        self, since: datetime, until: datetime
    ) -> list[tuple[ConversationKey, datetime, Event]]:
        """Every conversation's events in [since, until), oldest first."""
        found = [
            (key, at, event)
            for key, events in self._events.items()
            for at, event in events
            if since <= at < until
        ]
        return sorted(found, key=lambda item: item[1])

    async def traces(self, key: ConversationKey) -> Forgotten:
        """What others have seen of a conversation: its handovers and our recent messages."""
        mine = {n for n, h in self._handovers.items() if h.key == key}
        recent = deletable_since(datetime.now(UTC))
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
            "conversations": [] if state is None else [{"state": json.loads(state_to_json(state))}],
            "events": [
                {"at": at.isoformat(), "kind": e.kind, "data": e.data}
                for at, e in self._events.get(key, [])
            ],
            "check_results": [
                json.loads(result_to_json(result)) for result in self._results.get(key, [])
            ],
            "inbox": [
                {"update_id": u, "payload": parsed(p)}
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
