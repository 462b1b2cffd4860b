"""The store's contract, run against SQLite and its in-memory twin; concurrency and forgetting."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from sto_bot.assistant import Assistant
from sto_bot.dates import fixed_clock
from sto_bot.knowledge import KnowledgeBase
from sto_bot.models import (
    ActiveHandover,
    Changes,
    CheckResult,
    CheckState,
    ConversationKey,
    ConversationState,
    Event,
    GivenAnswer,
    HandoverChange,
    HandoverStatus,
    IncomingMessage,
    NewHandover,
    Option,
    Recipient,
    Reply,
)
from sto_bot.sqlite_db import MIGRATIONS
from sto_bot.sqlite_store import SqliteStore
from sto_bot.store import PRUNED, Store

KEY = ConversationKey("test", "42")
OTHER = ConversationKey("test", "43")
NOW = datetime(2026, 11, 28, 12, 0)


def a_state() -> ConversationState:
    answers = (GivenAnswer("wie", "vmbo", "Namens wie?", "Een vmbo-school"),)
    return ConversationState(
        language="en", last_language="en", check=CheckState("abc12345", "leerwegen", answers)
    )


def a_result() -> CheckResult:
    answers = (GivenAnswer("wie", "po", "Namens wie?", "Een basisschool"),)
    return CheckResult(NOW, "partner-po", "nl", answers, {"vmbo-school": "not_met"}, "Verdict")


async def test_a_new_conversation_starts_empty(store: Store) -> None:
    assert await store.load(KEY) == ConversationState()
    assert await store.last_result(KEY) is None
    assert await store.events(KEY) == []


async def test_state_events_and_result_round_trip(store: Store) -> None:
    changes = Changes(KEY, a_state(), [Event("question", {"text": "hoi <b>&"})], a_result())
    await store.commit(KEY, changes, NOW)
    assert await store.load(KEY) == a_state()
    assert await store.events(KEY) == [(NOW, Event("question", {"text": "hoi <b>&"}))]
    assert await store.last_result(KEY) == a_result()
    assert await store.load(OTHER) == ConversationState()


async def test_events_keep_their_order_and_results_the_latest(store: Store) -> None:
    for number in range(3):
        event = Event("question", {"n": number})
        await store.commit(KEY, Changes(KEY, a_state(), [event]), NOW)
    await store.commit(KEY, Changes(KEY, a_state(), result=a_result()), NOW)
    later = CheckResult(NOW, "aanvrager", "nl", (), {}, "Second")
    await store.commit(KEY, Changes(KEY, a_state(), result=later), NOW)
    assert [event.data["n"] for _, event in await store.events(KEY)] == [0, 1, 2]
    assert await store.last_result(KEY) == later


async def test_forget_removes_one_conversation_only(store: Store) -> None:
    for key in (KEY, OTHER):
        changes = Changes(key, a_state(), [Event("question", {"text": "x"})], a_result())
        await store.commit(key, changes, NOW)
    forget = Changes(KEY, ConversationState(), forget=True, write_state=False)
    await store.commit(KEY, forget, NOW)
    assert await store.load(KEY) == ConversationState()
    assert await store.events(KEY) == [] and await store.last_result(KEY) is None
    assert await store.load(OTHER) == a_state()


async def test_prune_drops_old_events_of_a_busy_conversation(store: Store) -> None:
    await store.commit(KEY, Changes(KEY, a_state(), [Event("old", {})]), NOW - timedelta(days=200))
    await store.commit(KEY, Changes(KEY, a_state(), [Event("new", {})]), NOW)
    removed = await store.prune(NOW - timedelta(days=180))
    assert removed["events"] == 1 and removed["conversations"] == 0
    assert [event.kind for _, event in await store.events(KEY)] == ["new"]
    assert await store.load(KEY) == a_state()


async def test_prune_drops_an_idle_conversation_with_its_result_and_messages(
    store: Store,
) -> None:
    """Retention reaches the state, check results, handled updates and sent replies."""
    old = NOW - timedelta(days=200)
    await store.receive([(7, KEY, '{"text": "Zebra-1"}')], old)
    changes = Changes(KEY, a_state(), [Event("question", {})], a_result(), update_id=7)
    changes.outbox = [Reply("answer")]
    [sent] = await store.commit(KEY, changes, old) or []
    await store.delivered(sent.id)
    await store.commit(OTHER, Changes(OTHER, a_state(), [Event("question", {})]), NOW)
    removed = await store.prune(NOW - timedelta(days=180))
    assert removed["conversations"] == 1 and removed["check_results"] == 1
    assert removed["inbox"] == 1 and removed["outbox"] == 1 and removed["events"] == 1
    assert await store.load(KEY) == ConversationState() and await store.last_result(KEY) is None
    assert await store.load(OTHER) == a_state()  # a recent user keeps their data
    # The update id is forgotten too, so nothing is left of it; a pending reply would stay.
    assert await store.unhandled() == []


async def test_an_update_is_kept_once_and_handled_once(store: Store) -> None:
    """A redelivered update is neither received nor handled twice: its replies go out once."""
    assert await store.receive([(7, KEY, "first"), (8, OTHER, "second")], NOW) == {7, 8}
    assert await store.receive([(7, KEY, "first"), (9, KEY, "third")], NOW) == {9}
    assert [update_id for update_id, _, _ in await store.unhandled()] == [7, 8, 9]
    handled = Changes(KEY, a_state(), update_id=7, outbox=[Reply("Antwoord")])
    [queued] = await store.commit(KEY, handled, NOW) or []
    assert queued.key == KEY and queued.reply == Reply("Antwoord")
    again = Changes(KEY, ConversationState(), [Event("question", {})], update_id=7)
    again.outbox = [Reply("Antwoord")]
    assert await store.commit(KEY, again, NOW) is None  # nothing of it is written
    assert await store.load(KEY) == a_state() and await store.events(KEY) == []
    assert [update_id for update_id, _, _ in await store.unhandled()] == [8, 9]
    assert await store.undelivered() == [queued]


async def test_the_outbox_delivers_in_order_per_conversation(store: Store) -> None:
    replies = [Reply("een", (Option("a", "A"),)), Reply("twee", recipient=Recipient.CONSULTANTS)]
    await store.commit(KEY, Changes(KEY, a_state(), update_id=1, outbox=replies), NOW)
    await store.commit(OTHER, Changes(OTHER, a_state(), update_id=2, outbox=[Reply("x")]), NOW)
    waiting = await store.undelivered(key=KEY)
    assert [d.reply for d in waiting] == replies
    await store.delivered(waiting[0].id)
    await store.delivered(waiting[1].id, "blocked", "Forbidden")
    assert await store.undelivered(key=KEY) == []
    assert [d.key for d in await store.undelivered()] == [OTHER]


async def test_sqlite_persists_across_reopening_and_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    first = await SqliteStore.open(path)
    await first.commit(KEY, Changes(KEY, a_state()), NOW)
    await first.close()
    second = await SqliteStore.open(path)
    assert await second.load(KEY) == a_state()
    await second.close()
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_a_database_from_a_newer_program_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    with sqlite3.connect(path) as connection:
        connection.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(RuntimeError, match="newer than this program"):
        await SqliteStore.open(path)


async def test_two_hundred_users_check_at_once_on_one_file(
    knowledge: KnowledgeBase, tmp_path: Path
) -> None:
    """Acceptance: 200 simulated users through checks at once, each with its own outcome."""
    store = await SqliteStore.open(tmp_path / "busy.sqlite3")
    assistant = Assistant(knowledge, store=store, clock=fixed_clock(NOW.date()))
    tree = knowledge.check
    routes = {
        "mbo": ("partner-mbo", ["wie:mbo"]),
        "po": ("partner-po", ["wie:po"]),
        "deelnemer": (
            "via-penvoerder",
            [
                "wie:vmbo",
                "leerwegen:ja",
                "regio:ja",
                "penvoerder:nee",
                "regiotype-deelnemer:techniekregio",
            ],
        ),
        "penvoerder": (
            "aanvrager",
            [
                "wie:vmbo",
                "leerwegen:ja",
                "regio:ja",
                "penvoerder:ja",
                "regiotype:techniekluw",
                "mbo:ja",
                "po:nee",
                "cofinanciering:weet-niet",
                "themas:ja",
            ],
        ),
    }

    async def user(number: int) -> str:
        key = ConversationKey("load", str(number))
        expected, steps = list(routes.values())[number % len(routes)]
        await assistant.handle(IncomingMessage(key, text="/check"))
        for step in steps:
            question, option = step.split(":")
            choice = f"chk:{tree.version}:{question}:{option}"
            await assistant.handle(IncomingMessage(key, choice=choice))
            await asyncio.sleep(0)
        result = await store.last_result(key)
        assert result is not None
        return "ok" if result.outcome == expected else f"{number}: {result.outcome}"

    try:
        outcomes = await asyncio.gather(*(user(number) for number in range(200)))
    finally:
        await store.close()
    assert outcomes == ["ok"] * 200


async def test_forgetting_leaves_no_trace_in_any_database_file(
    knowledge: KnowledgeBase, tmp_path: Path
) -> None:
    """Acceptance: after /vergeet a unique text the user typed is gone, -wal file included."""
    path = tmp_path / "private.sqlite3"
    store = await SqliteStore.open(path)
    assistant = Assistant(knowledge, store=store, clock=fixed_clock(NOW.date()))
    key = ConversationKey("test", "private")
    unique = "Zebrapaardvlinder-7781 penvoerder"
    for _ in range(3):
        await assistant.handle(IncomingMessage(key, text=unique))
    other = ConversationKey("test", "someone-else")
    await assistant.handle(IncomingMessage(other, text="Wat is cofinanciering?"))

    def files_containing(needle: bytes) -> list[str]:
        return [
            file.name
            for file in tmp_path.iterdir()
            if file.name.startswith(path.name) and needle in file.read_bytes()
        ]

    assert files_containing(unique.encode())  # it was stored
    await assistant.handle(IncomingMessage(key, text="/vergeet"))
    await assistant.handle(IncomingMessage(key, choice="forget:yes"))
    assert files_containing(unique.encode()) == []
    assert files_containing(b"Zebrapaardvlinder") == []
    [answer] = await assistant.handle(IncomingMessage(key, text="Wat is een penvoerder?"))
    assert "bevoegd gezag" in answer.text  # the store carries on after forgetting
    await store.close()
    assert files_containing(b"Zebrapaardvlinder") == []
    reopened = await SqliteStore.open(path)
    assert len(await reopened.events(other)) == 1  # the other user keeps their data
    await reopened.close()


# -- handovers: one test per store method ---------------------------------------------------


async def open_handover(store: Store, key: ConversationKey = KEY, summary: str = "#") -> int:
    """Store a handover the way the desk does: number first, then the summary made from it."""
    number = await store.reserve_handover()
    new = NewHandover(number, {"name": "Anna"}, f"{summary}{number}", NOW + timedelta(hours=4))
    told = Reply(f"{summary}{number}", recipient=Recipient.CONSULTANTS, thread=number)
    await store.commit(key, Changes(key, a_state(), handover=new, outbox=[told]), NOW)
    return number


async def test_reserved_numbers_are_never_given_twice_even_when_unused(store: Store) -> None:
    first = await store.reserve_handover()
    second = await store.reserve_handover()  # reserved, never stored: a gap
    third = await open_handover(store)
    assert first < second < third
    assert [h.number for h in await store.handovers()] == [third]


async def test_a_handover_is_stored_under_its_number_with_its_summary(store: Store) -> None:
    number = await open_handover(store)
    handover = await store.handover(number)
    assert handover is not None and handover.summary == f"#{number}"
    assert handover.key == KEY and handover.status is HandoverStatus.OPEN
    assert (await store.load(KEY)).handover == ActiveHandover(number, HandoverStatus.OPEN, None)
    assert await store.handover(number + 1) is None


async def test_handovers_are_listed_by_status_oldest_first(store: Store) -> None:
    first = await open_handover(store)
    second = await open_handover(store, OTHER)
    closing = HandoverChange(first, HandoverStatus.CLOSED, "Anna")
    await store.commit(KEY, Changes(KEY, a_state(), handover_changes=[closing]), NOW)
    assert [h.number for h in await store.handovers()] == [first, second]
    assert [h.number for h in await store.handovers(HandoverStatus.OPEN)] == [second]
    assert [h.number for h in await store.handovers(HandoverStatus.CLOSED)] == [first]


async def test_sent_messages_join_their_handovers_thread(store: Store) -> None:
    number = await open_handover(store)
    [summary] = await store.undelivered(recipient=Recipient.CONSULTANTS)
    await store.delivered(summary.id, sent=["-100:7", "-100:8"])
    assert await store.thread_of("-100:8") == number and await store.thread_of("-100:9") is None
    assert await store.thread_start(number) == "-100:7"
    assert await store.thread_start(number + 1) is None


async def test_reminders_are_due_once_past_their_time(store: Store) -> None:
    number = await open_handover(store)
    assert await store.due_reminders(NOW + timedelta(hours=3)) == []
    [due] = await store.due_reminders(NOW + timedelta(hours=5))
    assert due.number == number
    reminded = Changes(KEY, a_state(), handover_changes=[HandoverChange(number)], write_state=False)
    await store.commit(KEY, reminded, NOW + timedelta(hours=5))
    assert await store.due_reminders(NOW + timedelta(hours=6)) == []


async def test_traces_name_the_handovers_and_recent_messages_about_them(store: Store) -> None:
    number = await open_handover(store)
    await open_handover(store, OTHER)
    [summary, _] = await store.undelivered(recipient=Recipient.CONSULTANTS)
    await store.delivered(summary.id, sent=["-100:7"])
    traces = await store.traces(KEY)
    assert traces.handovers == (number,) and traces.recent_messages == ("-100:7",)
    assert (await store.traces(ConversationKey("test", "nobody"))).handovers == ()


async def test_export_holds_the_conversation_and_its_handover(store: Store) -> None:
    number = await open_handover(store, summary="Zebrapaard ")
    await store.commit(KEY, Changes(KEY, a_state(), [Event("question", {"q": "x"})]), NOW)
    exported = await store.export(KEY)
    assert [h["id"] for h in exported["handovers"]] == [number]
    assert exported["handovers"][0]["summary"] == f"Zebrapaard {number}"
    assert [e["kind"] for e in exported["events"]] == ["question"]
    assert exported["conversations"] and (await store.export(OTHER))["handovers"] == []


async def test_handover_numbers_go_on_after_the_migration_that_reserves_them(
    tmp_path: Path,
) -> None:
    """A database from before the reservation table keeps counting where its handovers were."""
    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path)
    for number, script in enumerate(MIGRATIONS[:4], start=1):
        old.executescript(f"BEGIN; {script} PRAGMA user_version = {number}; COMMIT;")
    old.execute(
        "INSERT INTO handovers (id, key, status, created_at, data, summary) "
        "VALUES (41, 'test:42', 'closed', '2026-11-01T00:00:00', '{}', '#41')"
    )
    old.commit()
    old.close()
    store = await SqliteStore.open(path)
    assert await store.reserve_handover() == 42
    await store.close()


async def test_prune_reports_every_table_it_prunes(store: Store) -> None:
    assert tuple(await store.prune(NOW)) == PRUNED


async def test_events_between_span_every_conversation_in_time_order(store: Store) -> None:
    for key, hours, kind in ((KEY, 1, "a"), (OTHER, 2, "b"), (KEY, 3, "c"), (OTHER, 5, "d")):
        changes = Changes(key, a_state(), [Event(kind, {"n": hours})])
        await store.commit(key, changes, NOW + timedelta(hours=hours))
    found = await store.events_between(NOW + timedelta(hours=2), NOW + timedelta(hours=5))
    assert [(key, event.kind) for key, _, event in found] == [(OTHER, "b"), (KEY, "c")]
