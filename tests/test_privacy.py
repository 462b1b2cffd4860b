"""Privacy that holds: /vergeet reaches every row and file, retention reaches every table,
/mijngegevens and `db export-user` give everything, and /privacy says what the code does."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from datetime import date
from pathlib import Path

from conftest import run_cli

from sto_bot.assistant import Assistant
from sto_bot.dates import fixed_clock
from sto_bot.handover import Consultants
from sto_bot.knowledge import KnowledgeBase
from sto_bot.models import ConversationKey, IncomingMessage, Recipient, Reply
from sto_bot.sqlite_store import SqliteStore

TODAY = date(2026, 12, 1)
USER = ConversationKey("telegram", "4343")
DESK = ConversationKey("telegram", "-100555")
ANNA = "7001"
# Texts only this user typed or was told: none may survive /vergeet anywhere.
NAME = "Jan Zebravlinder"
ORGANISATION = "Okapicollege-4711"
QUESTION = "Hoe zit het met de Quaggaregeling-8822?"
ANSWER = "Beste Jan, de Narwalnotitie-5599 volgt."
MARKERS = ("Zebravlinder", "Okapicollege", "Quaggaregeling", "Narwalnotitie")


class Chat:
    """A Telegram-like run in-process: every update is kept in the inbox first and every reply
    goes through the outbox and is then marked sent, as the delivery runtime does."""

    def __init__(self, assistant: Assistant, store: SqliteStore) -> None:
        self.assistant = assistant
        self.store = store
        self.update_id = 0
        self.sent = 0

    async def say(
        self,
        text: str | None = None,
        choice: str | None = None,
        key: ConversationKey = USER,
        user_id: str = "4343",
        user_name: str = NAME,
    ) -> list[Reply]:
        self.update_id += 1
        message = IncomingMessage(
            key,
            text=text,
            choice=choice,
            user_id=user_id,
            user_name=user_name,
            update_id=self.update_id,
        )
        payload = json.dumps({"text": text, "user": user_name}, ensure_ascii=False)
        await self.store.receive([(self.update_id, key, payload)], self.assistant.clock())
        queued = await self.assistant.process(message) or []
        replies = [delivery.reply for delivery in queued]
        for delivery in await self.store.undelivered(limit=1000):
            self.sent += 1
            await self.store.delivered(delivery.id, sent=[f"{delivery.key.chat_id}:{self.sent}"])
        return replies


def files_with(path: Path, needle: str) -> list[str]:
    """The database's files (main, -wal, -shm) that contain `needle`."""
    return [
        file.name
        for file in path.parent.iterdir()
        if file.name.startswith(path.name) and needle.encode() in file.read_bytes()
    ]


async def a_handover_answered(knowledge: KnowledgeBase, path: Path) -> tuple[Chat, SqliteStore]:
    store = await SqliteStore.open(path)
    consultants = Consultants(ids=frozenset({ANNA}), chat=DESK)
    assistant = Assistant(knowledge, store=store, clock=fixed_clock(TODAY), consultants=consultants)
    chat = Chat(assistant, store)
    # An answer rated 👎, and what the user was looking for: kept, and forgotten like the rest.
    answer = [r for r in await chat.say("Wat is een penvoerder?") if r.options][-1]
    await chat.say(choice=next(o.id for o in answer.options if o.id.startswith("fb:down:")))
    await chat.say(f"Ik zocht de {ORGANISATION} regeling")
    for text in ("/check", "een vmbo-school", "ja", QUESTION, "/adviseur", "ja", ORGANISATION):
        await chat.say(text)
    for text in ("directeur", "Groningen", "overslaan", QUESTION):
        await chat.say(text)
    await chat.say("/overdracht 1", key=DESK, user_id=ANNA, user_name="Anna")
    await chat.say(f"/antwoord 1 {ANSWER}", key=DESK, user_id=ANNA, user_name="Anna")
    await chat.say("Dank u, Narwalnotitie-5599 is goed")
    return chat, store


async def test_forgetting_reaches_the_consultants_rows_and_every_file(
    knowledge: KnowledgeBase, tmp_path: Path
) -> None:
    """Acceptance: after a handover was picked up and answered, /vergeet leaves no marker in
    any file of the database, also while a reader held it, and the consultants are told."""
    path = tmp_path / "sto.sqlite3"
    chat, store = await a_handover_answered(knowledge, path)
    kinds = {event.kind for _, event in await store.events(USER)}
    assert {"feedback", "feedback_note"} <= kinds  # the rating is kept, until forgotten
    for marker in MARKERS:
        assert files_with(path, marker), f"{marker} was never stored"
    others = ConversationKey("telegram", "999")
    await chat.say("Wat is cofinanciering?", key=others, user_id="999", user_name="Piet")

    # A reader holds the database: the log cannot be emptied until it lets go.
    holding, release = threading.Event(), threading.Event()

    def reader() -> None:
        connection = sqlite3.connect(path)
        connection.execute("BEGIN")
        connection.execute("SELECT count(*) FROM events").fetchall()
        holding.set()
        release.wait(10)
        connection.close()

    thread = threading.Thread(target=reader)
    thread.start()
    holding.wait(5)
    await chat.say("/vergeet")
    threading.Timer(1.0, release.set).start()
    started = time.monotonic()
    replies = await chat.say(choice="forget:yes")
    thread.join()
    assert time.monotonic() - started >= 0.9  # "verwijderd" only once it was true
    assert "verwijderd" in replies[-1].text
    [note] = [r for r in replies if r.recipient is Recipient.CONSULTANTS]
    assert "#1" in note.text and note.to == DESK and note.deletes  # our recent messages go
    for marker in MARKERS:
        assert files_with(path, marker) == [], marker
    # What stays is the id of the update that asked, and the confirmation, sent and emptied.
    left = await store.export(USER)
    assert {table for table, rows in left.items() if rows} == {"inbox", "outbox"}
    assert all(row["payload"] == "" for row in left["inbox"] + left["outbox"])
    assert await store.handovers() == []
    assert await store.load(others) != await store.load(USER)  # the other user is kept
    await store.close()
    for marker in MARKERS:
        assert files_with(path, marker) == [], marker


async def test_my_data_shows_everything_stored_and_nothing_after_forgetting(
    knowledge: KnowledgeBase, tmp_path: Path
) -> None:
    path = tmp_path / "sto.sqlite3"
    chat, store = await a_handover_answered(knowledge, path)
    [reply] = await chat.say("/mijngegevens")
    for marker in MARKERS:
        assert marker in reply.text, marker
    # Readable: what a column holds as JSON is shown as its parts, not as JSON.
    assert '{"' not in reply.text and '":' not in reply.text
    assert reply.document is not None and reply.document.name.endswith(".json")
    exported = json.loads(reply.document.content)
    assert exported["conversation"] == "telegram:4343" and exported["handovers"]
    assert ORGANISATION in reply.document.content
    await chat.say("/vergeet")
    await chat.say(choice="forget:yes")
    [empty] = await chat.say("/mydata", user_name="Jan")  # its own update is shown too
    assert "Waar het gesprek staat" not in empty.text
    assert (
        "Vragen aan een adviseur" not in empty.text and "Gesprek met de adviseur" not in empty.text
    )
    assert not any(marker in empty.text for marker in MARKERS), empty.text
    await store.close()


async def test_the_operator_exports_one_user_and_prunes_past_the_limit(
    knowledge: KnowledgeBase, tmp_path: Path
) -> None:
    """Acceptance: `db prune --today` past the limit removes an idle user's markers from every
    file, while a recent user's data is kept; `db export-user` gives one user's data."""
    path = tmp_path / "sto.sqlite3"
    chat, store = await a_handover_answered(knowledge, path)
    await chat.say("/afronden 1", key=DESK, user_id=ANNA, user_name="Anna")
    await store.close()
    env = {"STO_BOT_DB": str(path)}
    exported = run_cli("db", "export-user", "4343", env=env)
    assert exported.returncode == 0 and ORGANISATION in exported.stdout.decode()
    assert json.loads(exported.stdout)["handover_thread"]

    # A recent user, half a year later.
    store = await SqliteStore.open(path)
    later = Assistant(knowledge, store=store, clock=fixed_clock(TODAY.replace(year=2027)))
    recent = ConversationKey("telegram", "777")
    await later.handle(IncomingMessage(recent, text="Wat doet de Gnoewerkgroep-3131?"))
    await store.close()

    kept = run_cli("db", "prune", "--today", "2027-02-01", env=env)
    assert kept.returncode == 0 and files_with(path, "Okapicollege")  # not yet 180 days
    pruned = run_cli("db", "prune", "--today", "2027-07-01", env=env)
    assert pruned.returncode == 0 and b"handovers: 1" in pruned.stdout, pruned.stdout
    for marker in MARKERS:
        assert files_with(path, marker) == [], marker
    assert files_with(path, "Gnoewerkgroep")  # the recent user's question stays


async def test_the_privacy_text_tells_the_retention_set_and_who_sees_what(
    knowledge: KnowledgeBase,
) -> None:
    assistant = Assistant(knowledge, retention_days=30)
    [text] = await assistant.handle(IncomingMessage(USER, text="/privacy"))
    for promise in ("30 dagen", "e-mailadres", "Telegram-groep", "48 uur", "/mijngegevens"):
        assert promise in text.text, promise
    [console] = await assistant.handle(
        IncomingMessage(ConversationKey("console", "local"), text="/privacy")
    )
    assert "Telegram" not in console.text and "30 dagen" in console.text
