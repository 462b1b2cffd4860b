"""The delivery runtime with a channel made for the test: a new channel is a Transport and a
mapper from its messages to IncomingMessage; inbox, order, retries and resume come with it."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sto_bot.assistant import Assistant
from sto_bot.delivery import Blocked, Courier, Pace, Refused, RetryAfter, Unavailable
from sto_bot.handover import Consultants
from sto_bot.knowledge import KnowledgeBase
from sto_bot.models import ConversationKey, IncomingMessage, Reply
from sto_bot.sqlite_store import SqliteStore

CHANNEL = "web"
DESK = ConversationKey(CHANNEL, "desk")
FAST = Pace(
    outbox_poll=0.05,
    remind_every=0.05,
    full_retry=0.05,
    desk_poll=0.05,
    max_backoff=0.05,
    desk_max_backoff=0.05,
)


class WebChat:
    """A web chat's transport: what it sent per conversation, and faults to raise first."""

    channel = CHANNEL

    def __init__(self) -> None:
        self.sent: dict[ConversationKey, list[str]] = defaultdict(list)
        self.faults: dict[ConversationKey, list[Exception]] = defaultdict(list)
        self.noticed_texts: list[str] = []
        self.calls = 0

    async def send(
        self, key: ConversationKey, reply: Reply, answering: str | None = None
    ) -> list[str]:
        self.calls += 1
        if self.faults[key]:
            raise self.faults[key].pop(0)
        self.sent[key].append(reply.text)
        return [f"{key.chat_id}:{len(self.sent[key])}"]

    async def noticed(self, key: ConversationKey, reply: Reply) -> None:
        self.noticed_texts.append(reply.text)


def from_web(visitor: str, number: int, text: str) -> IncomingMessage:
    """The mapper: a web chat's message as the assistant reads it."""
    key = ConversationKey(CHANNEL, visitor)
    return IncomingMessage(key, text=text, update_id=number, user_id=visitor, user_name=visitor)


async def wait_until(condition: Callable[[], object], seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("timed out")


async def courier_on(
    knowledge: KnowledgeBase, path: Path, web: WebChat
) -> tuple[Courier, SqliteStore]:
    store = await SqliteStore.open(path)
    consultants = Consultants(ids=frozenset({"anna"}), chat=DESK)
    assistant = Assistant(knowledge, store=store, consultants=consultants)
    return Courier(assistant, web, pace=FAST), store


async def test_messages_are_answered_once_each_in_order_per_conversation(
    knowledge: KnowledgeBase, tmp_path: Path
) -> None:
    web = WebChat()
    courier, store = await courier_on(knowledge, tmp_path / "web.sqlite3", web)
    first = [from_web("ina", 1, "Wat is een penvoerder?"), from_web("bob", 2, "/start")]
    await courier.receive([*first, from_web("ina", 3, "wat is cofinanciering")])
    await courier.receive([first[0]])  # the channel sent it again: no second answer
    ina = ConversationKey(CHANNEL, "ina")
    await wait_until(lambda: len(web.sent[ina]) == 2 and web.sent[ConversationKey(CHANNEL, "bob")])
    assert "bevoegd gezag" in web.sent[ina][0] and "cofinanciering" in web.sent[ina][1].casefold()
    courier.stop()
    await courier.finish()
    assert len(web.sent[ina]) == 2 and await store.unhandled() == []
    await store.close()


async def test_a_busy_channel_is_waited_out_and_a_blocked_user_does_not_block_others(
    knowledge: KnowledgeBase, tmp_path: Path
) -> None:
    web = WebChat()
    ina, bob = ConversationKey(CHANNEL, "ina"), ConversationKey(CHANNEL, "bob")
    web.faults[ina] = [RetryAfter(0.05), Unavailable("502")]
    web.faults[bob] = [Blocked("the user blocked the bot")]
    courier, store = await courier_on(knowledge, tmp_path / "web.sqlite3", web)
    await courier.receive([from_web("ina", 1, "/start"), from_web("bob", 2, "/start")])
    await courier.receive([from_web("bob", 3, "/help")])
    await wait_until(lambda: web.sent[ina] and web.sent[bob])
    assert len(web.sent[ina]) == 1  # sent once, after the waits
    assert len(web.sent[bob]) == 1  # the blocked reply is not retried; the next one goes
    courier.stop()
    await courier.finish()  # what was sent is recorded by now
    assert await store.undelivered() == []
    await store.close()


async def test_the_consultants_chat_gets_every_handover_even_after_refusals(
    knowledge: KnowledgeBase, tmp_path: Path
) -> None:
    web = WebChat()
    web.faults[DESK] = [Refused("chat not found"), Unavailable("timed out")]
    courier, store = await courier_on(knowledge, tmp_path / "web.sqlite3", web)
    courier.start()
    steps = [
        "/adviseur",
        "ja",
        "Okapicollege",
        "directeur",
        "Groningen",
        "overslaan",
        "Mag het mbo mee?",
    ]
    await courier.receive([from_web("ina", n, text) for n, text in enumerate(steps, 1)])
    await wait_until(lambda: web.sent[DESK])
    [summary] = web.sent[DESK]
    assert summary.startswith("Overdracht #1") and "Okapicollege" in summary
    assert web.noticed_texts == [summary]  # the channel may show its user what went where
    courier.stop()
    await courier.finish()
    await store.close()


class AnsweredAtOnce(WebChat):
    """A consultant so quick that the channel tells of the reply to the summary before it
    answers the summary's send (over a network, the two come back in any order)."""

    def __init__(self) -> None:
        super().__init__()
        self.courier: Courier | None = None

    async def send(
        self, key: ConversationKey, reply: Reply, answering: str | None = None
    ) -> list[str]:
        sent = await super().send(key, reply, answering)
        if key == DESK and reply.text.startswith("Overdracht #1") and self.courier:
            answer = IncomingMessage(
                DESK,
                text="Dag Ina, het mbo mag mee.",
                update_id=100,
                user_id="anna",
                user_name="Anna",
                reply_to=sent[0],
            )
            await self.courier.receive([answer])
            await asyncio.sleep(0.2)  # the reply is handled before this send returns
        return sent


async def test_a_reply_to_a_summary_that_comes_before_its_send_is_done_reaches_the_user(
    knowledge: KnowledgeBase, tmp_path: Path
) -> None:
    web = AnsweredAtOnce()
    courier, store = await courier_on(knowledge, tmp_path / "web.sqlite3", web)
    web.courier = courier
    courier.start()
    steps = ["/adviseur", "ja", "Okapicollege", "directeur", "Groningen", "overslaan", "Mbo?"]
    await courier.receive([from_web("ina", n, text) for n, text in enumerate(steps, 1)])
    ina = ConversationKey(CHANNEL, "ina")
    await wait_until(lambda: any("het mbo mag mee" in text for text in web.sent[ina]))
    assert not any("naar niemand" in text for text in web.sent[DESK])
    courier.stop()
    await courier.finish()
    await store.close()


async def test_after_a_kill_a_new_runtime_answers_what_was_received(
    knowledge: KnowledgeBase, tmp_path: Path
) -> None:
    path = tmp_path / "web.sqlite3"
    store = await SqliteStore.open(path)  # received, never processed: the process died
    payload = '{"key": "web:ina", "text": "Wat is een penvoerder?", "choice": null, '
    payload += '"user_name": "ina", "unsupported": false, "update_id": 7, "user_id": "ina", '
    payload += '"reply_to": null}'
    await store.receive([(7, ConversationKey(CHANNEL, "ina"), payload)], datetime(2026, 12, 1))
    await store.close()
    web = WebChat()
    courier, store = await courier_on(knowledge, path, web)
    await courier.resume()
    ina = ConversationKey(CHANNEL, "ina")
    await wait_until(lambda: web.sent[ina])
    assert "bevoegd gezag" in web.sent[ina][0]
    courier.stop()
    await courier.finish()
    assert await store.unhandled() == []
    await store.close()


async def test_a_channel_without_acknowledgements_has_its_replies_when_the_turn_ends(
    knowledge: KnowledgeBase, tmp_path: Path
) -> None:
    web = WebChat()
    courier, store = await courier_on(knowledge, tmp_path / "web.sqlite3", web)
    ina = ConversationKey(CHANNEL, "ina")
    await courier.turn(IncomingMessage(ina, text="Wat is een penvoerder?"))
    assert len(web.sent[ina]) == 1 and "bevoegd gezag" in web.sent[ina][0]
    assert await store.undelivered() == []  # through the outbox, and marked sent
    await store.close()


async def test_a_fault_of_the_transport_itself_is_recorded_and_the_chat_goes_on(
    knowledge: KnowledgeBase, tmp_path: Path
) -> None:
    """Not one of the runtime's errors (a bug, an unmapped refusal): the reply is given up
    once, not sent again and again in front of every later one."""
    web = WebChat()
    ina = ConversationKey(CHANNEL, "ina")
    web.faults[ina] = [RuntimeError("the socket said no")]
    courier, store = await courier_on(knowledge, tmp_path / "web.sqlite3", web)
    await courier.receive([from_web("ina", 1, "/start"), from_web("ina", 2, "/help")])
    await wait_until(lambda: web.sent[ina])
    assert len(web.sent[ina]) == 1 and web.calls == 2  # the first given up, the second sent
    courier.stop()
    await courier.finish()  # what was sent is recorded by now
    assert await store.undelivered() == []
    await store.close()
