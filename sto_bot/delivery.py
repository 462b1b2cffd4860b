"""The delivery runtime: the one place where a message becomes replies delivered, the same for
every channel. A channel brings a Transport (how to send one reply) and its messages; this does
the rest, and nothing on the way is lost:

1. receive: a message the channel will acknowledge (a Telegram update, confirmed by the next
   getUpdates or the webhook's 200) is kept in the inbox *before* the acknowledgement;
2. process: each conversation has its own worker, so its messages are handled in order while
   conversations do not wait for each other; the assistant marks a message handled and queues
   all its replies in the outbox in one transaction, so a redelivered update is harmless;
3. deliver: the worker sends its conversation's outbox in order, waiting out "retry after",
   retrying an unavailable channel with back-off, and recording a blocked or refused reply
   without retrying; the consultants' chat has a worker of its own that retries every message
   until it is sent (a handover is never lost);
4. meanwhile: reminders for handovers nobody picked up, and a look at the outbox every few
   seconds for replies another process queued (a consultant answering from a terminal).

After a kill, `resume` picks up from the inbox and the outbox: every message is answered once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sto_bot.assistant import Assistant
from sto_bot.codec import message_from_dict, message_to_dict
from sto_bot.models import (
    ConversationKey,
    Delivery,
    IncomingMessage,
    Language,
    Recipient,
    Reply,
    StoreBroken,
    StoreFull,
)
from sto_bot.pseudonyms import pseudonym

log = logging.getLogger(__name__)


class RetryAfter(Exception):
    """The channel asks to wait this many seconds before sending again."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds:.0f} s")
        self.seconds = seconds


class Unavailable(Exception):
    """The channel cannot be reached now (a time-out, a server error): try again later."""


class Blocked(Exception):
    """The user has blocked us: the reply is recorded as not delivered, never retried."""


class Refused(Exception):
    """The channel refused this reply for good (it would refuse it again)."""


class Transport(Protocol):
    """How one channel sends: the only channel-specific part of delivering."""

    channel: str  # the ConversationKey.channel of its conversations

    async def send(
        self, key: ConversationKey, reply: Reply, answering: str | None = None
    ) -> list[str]:
        """Send a reply to a conversation (first deleting the messages `reply.deletes`
        names, where the channel allows), as an answer to message `answering` if given; the
        channel's ids of the messages sent ("chat:message"). Raises RetryAfter, Unavailable,
        Blocked or Refused."""
        ...

    async def noticed(self, key: ConversationKey, reply: Reply) -> None:
        """A message of this conversation went to the consultants (the console shows it)."""
        ...


@dataclass(frozen=True, slots=True)
class Pace:
    """How often and how long the runtime waits, in seconds."""

    outbox_poll: float = 3.0  # between looks for replies another process queued
    remind_every: float = 60.0
    full_retry: float = 30.0  # before a message is tried again when the disk was full
    max_backoff: float = 30.0
    desk_max_backoff: float = 300.0  # the consultants' chat may stay unreachable a while
    desk_poll: float = 60.0  # at most this long between looks at the consultants' outbox
    shutdown_limit: float = 10.0  # to finish what is in flight after a stop
    settle_limit: float = 90.0  # a reply waits this long at most for its summary's id


@dataclass(frozen=True, slots=True)
class _Job:
    """A worker's next step: process a message (None: only deliver), and tell `done`."""

    message: IncomingMessage | None
    done: asyncio.Future[None] | None = None


@dataclass(slots=True)
class _Worker:
    queue: asyncio.Queue[_Job]
    task: asyncio.Task[None]


class Courier:
    """Runs delivery for one channel: inbox, per-conversation workers, outboxes, reminders.

    `serves_desk`: this process delivers the consultants' outbox (to the assistant's
    consultants' chat). `only`: deliver nothing but this conversation's outbox (a terminal
    is one user's conversation; other conversations of its channel are not its to send)."""

    def __init__(
        self,
        assistant: Assistant,
        transport: Transport,
        *,
        serves_desk: bool = True,
        only: ConversationKey | None = None,
        pace: Pace | None = None,
        timed: Sequence[Callable[[], Awaitable[list[Delivery]]]] = (),
    ) -> None:
        self.assistant = assistant
        self.store = assistant.store
        self.transport = transport
        self.pace = pace or Pace()
        self.serves_desk = serves_desk
        # (without a configured chat its outbox waits, and reminders are queued for it)
        self.desk = assistant.consultants.chat if serves_desk else None
        self.only = only
        # What is sent at a time rather than in answer: reminders, and what the composition
        # root adds (the editors' weekly digest).
        self.timed = (assistant.remind, *timed)
        self.stopping = asyncio.Event()
        self.fatal: StoreBroken | None = None  # a database that cannot be used: stop
        self._workers: dict[ConversationKey, _Worker] = {}
        # Replies queued in the outbox, per conversation, as the commits report them:
        # delivering them needs no query. (Filled from the outbox itself at start-up.)
        self._queued: dict[ConversationKey, list[Delivery]] = defaultdict(list)
        # Ids of the replies queued or being sent: the outbox watch must not queue them twice.
        self._in_hand: set[int] = set()
        self._told_full: set[int] = set()  # updates whose users heard that the disk is full
        self._desk_mail = asyncio.Event()  # set when the consultants' outbox has news
        self._desk_turn = asyncio.Lock()
        # Clear while a message for the consultants' chat is on its way and its id not yet
        # recorded: a reply to it arriving meanwhile (the channel may tell of it before it
        # answers the send) waits, or it would find no handover to relay to.
        self._desk_settled = asyncio.Event()
        self._desk_settled.set()
        self._background: set[asyncio.Task[Any]] = set()
        self._tasks: list[asyncio.Task[None]] = []

    # -- life cycle ----------------------------------------------------------------------

    async def resume(self) -> None:
        """After a restart: process what was received but not handled, deliver what waits."""
        pending = await self.store.unhandled()
        undelivered = await self.store.undelivered(limit=100_000, recipient=Recipient.USER)
        if pending or undelivered:
            log.info("resuming %d updates and %d replies", len(pending), len(undelivered))
        for delivery in undelivered:
            self._take(delivery)
        for key in list(self._queued):
            self._enqueue(key, None)
        for _, key, payload in pending:
            if key.channel == self.transport.channel:
                self._enqueue(key, message_from_dict(json.loads(payload)))

    def start(self) -> None:
        """Start the background work: the consultants' outbox, reminders, the outbox watch."""
        if self.serves_desk:
            self._tasks.append(asyncio.create_task(self._serve_desk()))
            self._tasks.append(asyncio.create_task(self._remind()))
        self._tasks.append(asyncio.create_task(self._watch_outbox()))

    def stop(self) -> None:
        """Ask the runtime to stop; `finish` then winds it down."""
        self.stopping.set()

    def broken(self, error: StoreBroken) -> None:
        """The database cannot be used: going on would fail for everyone, so stop (the
        channel then reports `fatal` and exits)."""
        self.fatal = error
        self.stopping.set()

    async def finish(self) -> None:
        """After a stop: let the workers finish, for at most `shutdown_limit` seconds; then
        cancel them (unsent replies stay in the outbox, unhandled updates in the inbox)."""

        async def finish() -> None:
            while self._workers or self._background:  # workers may start more workers
                running = [w.task for w in self._workers.values()] + list(self._background)
                await asyncio.gather(*running, return_exceptions=True)
            self._desk_mail.set()
            await asyncio.gather(*self._tasks)

        try:
            await asyncio.wait_for(finish(), self.pace.shutdown_limit)
        except TimeoutError:
            log.warning("stopping with work left: it is kept for the next start")
            running = [w.task for w in self._workers.values()] + [*self._background, *self._tasks]
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    # -- receiving -----------------------------------------------------------------------

    async def receive(self, messages: Sequence[IncomingMessage]) -> None:
        """Keep messages with an update id in the inbox (one transaction) and queue them for
        their conversations' workers; once this returns, the channel may acknowledge them.
        Raises StoreFull (nothing kept: do not acknowledge) or StoreBroken."""
        # The inbox keeps the message as the assistant reads it: smaller and cheaper to write
        # than the whole update. ASCII JSON: a lone surrogate in a text is stored escaped.
        rows = [
            (update_id, message.key, json.dumps(message_to_dict(message)))
            for message in messages
            if (update_id := message.update_id) is not None
        ]
        new = await self.store.receive(rows, self.assistant.clock())
        for message in messages:
            if message.update_id in new:  # not a redelivery of an update we already have
                self._enqueue(message.key, message)

    async def turn(self, message: IncomingMessage) -> None:
        """Process one message of a channel without acknowledgements (a terminal) now, and
        deliver everything that waits for its conversation, before returning."""
        done = asyncio.get_running_loop().create_future()
        self._enqueue(message.key, message, done)
        await done
        await self._collect(message.key)

    async def tell_full(self, messages: Sequence[IncomingMessage]) -> None:
        """Messages that could not even be kept: each user hears it once (not the desk)."""
        for message in messages:
            if message.update_id is not None and message.key != self.assistant.consultants.chat:
                await self._tell_full(message.key, message.update_id)

    # -- processing ----------------------------------------------------------------------

    def _enqueue(
        self,
        key: ConversationKey,
        message: IncomingMessage | None,
        done: asyncio.Future[None] | None = None,
    ) -> None:
        """Give the conversation's worker a message (None: only deliver its outbox)."""
        worker = self._workers.get(key)
        if worker is None:
            queue: asyncio.Queue[_Job] = asyncio.Queue()
            worker = _Worker(queue, asyncio.create_task(self._work(key, queue)))
            self._workers[key] = worker
        worker.queue.put_nowait(_Job(message, done))

    async def _work(self, key: ConversationKey, queue: asyncio.Queue[_Job]) -> None:
        """One conversation's messages, one after the other; the worker ends when its queue is
        empty."""
        while True:
            job = await queue.get()
            message = job.message
            handled = message is None
            failed = True
            try:
                if message is not None:
                    await self._process(message)
                    handled = True
                await self._deliver(key)
                failed = False
            except StoreFull:
                if not handled and message is not None and message.update_id is not None:
                    await self._later(key, message)
                elif not handled and message is not None:  # nothing kept: it may be typed again
                    log.warning("the disk is full: a message could not be stored")
                    language = await self._language(key)
                    await self._say(key, self.assistant.texts.get("storage_full", language))
                else:  # answered, but not yet recorded as sent: deliver again later
                    self.spawn(self._again(key, None))
            except StoreBroken as error:
                self.broken(error)
            except Exception as error:
                log.error("failed to process a message of %s: %r", pseudonym(key), error)
            finally:
                queue.task_done()
                if job.done is not None and not job.done.done():
                    job.done.set_result(None)
            if queue.empty() and not failed and self._queued.get(key):
                queue.put_nowait(
                    _Job(None)
                )  # replies queued meanwhile for this chat: send them too
            if queue.empty():
                self._workers.pop(key, None)
                return

    async def _process(self, message: IncomingMessage) -> None:
        if message.key == self.desk and message.reply_to is not None:
            await self._thread_settled(message.reply_to)
        started = asyncio.get_running_loop().time()
        queued = await self.assistant.process(message)
        if message.update_id is not None:
            self._told_full.discard(message.update_id)
            kind = "button" if message.choice else "text" if message.text else "other"
            log.info(
                "update %d from user %s (%s) handled in %.0f ms",
                message.update_id,
                pseudonym(message.user_id),
                kind,
                1000 * (asyncio.get_running_loop().time() - started),
            )
        self._queue(queued or [])

    async def _thread_settled(self, reply_to: str) -> None:
        """Before a reply to a message nobody knows yet: wait until what is being sent to the
        consultants' chat is recorded (it may be that message), for at most `settle_limit`."""
        if await self.store.thread_of(reply_to) is not None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._desk_settled.wait(), self.pace.settle_limit)

    def _queue(self, deliveries: list[Delivery]) -> None:
        """Replies a commit queued: the desk's worker sends the consultants', the
        conversations' workers the rest (a conversation other than the one handled gets a
        turn of its own: the user a consultant answered)."""
        for delivery in deliveries:
            if delivery.reply.recipient is Recipient.CONSULTANTS:
                self._desk_mail.set()
                self.spawn(self.transport.noticed(delivery.key, delivery.reply))
                continue
            if self._take(delivery) and delivery.key not in self._workers:
                self._enqueue(delivery.key, None)

    def _take(self, delivery: Delivery) -> bool:
        """Queue a reply for its conversation's worker, once; False when it is in hand
        already or is not this runtime's to send (another channel's, another terminal's)."""
        key = delivery.key
        if key.channel != self.transport.channel or self.only not in (None, key):
            return False
        if delivery.id in self._in_hand:
            return False
        self._in_hand.add(delivery.id)
        self._queued[key].append(delivery)
        return True

    async def _again(self, key: ConversationKey, message: IncomingMessage | None) -> None:
        """Give a conversation's worker this message (or its replies) again later."""
        await self.sleep(self.pace.full_retry)
        if not self.stopping.is_set():
            self._enqueue(key, message)

    async def _later(self, key: ConversationKey, message: IncomingMessage) -> None:
        """The disk is full: tell the user once, keep the message, and try again later."""
        assert message.update_id is not None
        log.warning(
            "the disk is full; update %d waits %.0f s", message.update_id, self.pace.full_retry
        )
        await self._tell_full(key, message.update_id)
        self.spawn(self._again(key, message))

    async def _tell_full(self, key: ConversationKey, update_id: int) -> None:
        """Say once per update that it cannot be handled now (it will be, later)."""
        if update_id in self._told_full:
            return
        self._told_full.add(update_id)
        language = await self._language(key)
        await self._say(key, self.assistant.texts.get("storage_full_later", language))

    async def _language(self, key: ConversationKey) -> Language:
        try:
            state = await self.store.load(key)
        except Exception:  # a full disk reads fine; anything worse: say it in Dutch
            return "nl"
        return state.language or state.last_language or "nl"

    async def _say(self, key: ConversationKey, text: str) -> None:
        """Tell a user something directly, without the outbox (the disk is full)."""
        with contextlib.suppress(RetryAfter, Unavailable, Blocked, Refused):
            await self.transport.send(key, Reply(text))

    # -- delivering ----------------------------------------------------------------------

    async def _deliver(self, key: ConversationKey) -> None:
        """Send the conversation's queued replies in order."""
        waiting = self._queued.pop(key, [])
        for number, delivery in enumerate(waiting):
            try:
                await self._send(delivery)
            except BaseException:
                # Not sent: back in front of the queue for the conversation's next turn.
                self._queued[key][:0] = waiting[number:]
                raise

    async def _send(self, delivery: Delivery) -> None:
        """Send a reply to its user until the channel takes or refuses it; a refusal is
        recorded, so it does not block the conversation."""
        status, error_text, thread = "sent", "", []
        backoff = 0.5
        while True:
            try:
                sent = await self.transport.send(delivery.key, delivery.reply)
            except RetryAfter as error:
                await asyncio.sleep(error.seconds)
                continue
            except Unavailable as error:
                log.warning(
                    "sending reply %d failed (%s); retrying in %.1f s", delivery.id, error, backoff
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.pace.max_backoff)
                continue
            except Blocked as error:
                error_text = str(error)
                log.info(
                    "chat %s blocked the bot; reply %d not delivered",
                    pseudonym(delivery.key.chat_id),
                    delivery.id,
                )
                status = "blocked"
            except Refused as error:
                log.error("the channel refused reply %d: %s", delivery.id, error)
                status, error_text = "refused", str(error)
            except Exception as error:  # a transport's own fault: recorded, not retried forever
                log.error("could not send reply %d: %r", delivery.id, error)
                status, error_text = "refused", repr(error)
            else:
                # Message ids are kept only for messages about a handover: replies to them
                # relay, and /vergeet of its user deletes them.
                about = delivery.reply.thread or delivery.reply.about
                thread = sent if about else []
            break
        await self._record(delivery.id, status, error_text, thread)
        self._in_hand.discard(delivery.id)

    async def _record(self, delivery_id: int, status: str, error: str, sent: list[str]) -> None:
        """Record a reply as sent (or given up) until that is written: sent again, it would
        reach its user twice."""
        while True:
            try:
                await self.store.delivered(delivery_id, status, error, sent=sent)
                return
            except StoreFull:
                log.warning("the disk is full; reply %d is recorded as sent later", delivery_id)
                await self.sleep(self.pace.full_retry)

    async def _collect(self, key: ConversationKey) -> None:
        """Deliver what waits in the outbox for a conversation now (also rows another
        process queued), and for the consultants if the conversation is their chat."""
        for delivery in await self.store.undelivered(key=key, recipient=Recipient.USER):
            self._take(delivery)
        done = asyncio.get_running_loop().create_future()
        self._enqueue(key, None, done)  # through its worker: in order with what it sends
        await done
        if key == self.desk:
            await self._send_desk_outbox()

    # -- the consultants' chat -----------------------------------------------------------

    async def _serve_desk(self) -> None:
        """Deliver the consultants' outbox in order, until it works: a handover is never lost
        to a refusal (the bot removed from the chat, a wrong chat id) nor sent twice."""
        while not self.stopping.is_set():
            self._desk_mail.clear()
            try:
                await self._send_desk_outbox()
            except StoreBroken as error:
                self.broken(error)
                return
            except Exception as error:  # a full disk, a bug: the worker must not die of it
                log.error("could not serve the consultants' outbox: %r", error)
                await self.sleep(self.pace.full_retry)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._desk_mail.wait(), self.pace.desk_poll)

    async def _send_desk_outbox(self) -> None:
        """Send what waits for the consultants' chat, oldest first, each until it works."""
        if self.desk is None:
            return
        async with self._desk_turn:
            pending = await self.store.undelivered(limit=1000, recipient=Recipient.CONSULTANTS)
            for delivery in pending:
                if not await self._send_to_desk(self.desk, delivery):
                    return

    async def _send_to_desk(self, desk: ConversationKey, delivery: Delivery) -> bool:
        """Send one message to the consultants' chat, retrying with back-off; False when the
        runtime stops first."""
        backoff = min(1.0, self.pace.desk_max_backoff)
        # A handover's later messages answer its summary: the channel may show them as one
        # thread.
        thread = delivery.reply.thread
        answering = None if thread is None else await self.store.thread_start(thread)
        while not self.stopping.is_set():
            try:
                await self._send_to_desk_once(desk, delivery, answering)
            except (RetryAfter, Unavailable, Blocked, Refused) as error:
                wait = error.seconds if isinstance(error, RetryAfter) else backoff
                log.warning(
                    "the consultants' chat refused message %d (%s); retrying in %.0f s",
                    delivery.id,
                    error,
                    wait,
                )
                await self.sleep(wait)
                backoff = min(backoff * 2, self.pace.desk_max_backoff)
                if not await self._still_waiting(delivery):
                    return True  # deleted meanwhile (/vergeet): not to be sent any more
                continue
            return True
        return False

    async def _send_to_desk_once(
        self, desk: ConversationKey, delivery: Delivery, answering: str | None
    ) -> None:
        """One try at sending a message to the consultants' chat, recorded once sent."""
        self._desk_settled.clear()
        try:
            sent = await self.transport.send(desk, delivery.reply, answering)
            await self._record(delivery.id, "sent", "", sent)
        finally:
            self._desk_settled.set()

    async def _still_waiting(self, delivery: Delivery) -> bool:
        """Whether a message for the consultants is still in the outbox, unsent."""
        waiting = await self.store.undelivered(limit=1000, recipient=Recipient.CONSULTANTS)
        return any(other.id == delivery.id for other in waiting)

    async def _remind(self) -> None:
        """Send what is due: reminders of handovers waiting too long, the weekly digest."""
        while not self.stopping.is_set():
            for due in self.timed:
                try:
                    self._queue(await due())
                except StoreBroken as error:
                    self.broken(error)
                    return
                except Exception as error:  # one timed message must not stop the others
                    log.error("could not send %s: %r", getattr(due, "__qualname__", due), error)
            await self.sleep(self.pace.remind_every)

    async def _watch_outbox(self) -> None:
        """Replies another process queued on the same database (a consultant answering from
        `sto-bot chat --consultant`) are sent within a few seconds."""
        while not self.stopping.is_set():
            await self.sleep(self.pace.outbox_poll)
            if self.stopping.is_set():
                return  # no new work once stopping: `finish` waits for what is under way
            try:
                waiting = await self.store.undelivered(
                    limit=1000, key=self.only, recipient=Recipient.USER
                )
            except StoreBroken as error:
                self.broken(error)
                return
            except Exception as error:  # a busy database now is no reason to stop
                log.warning("could not look at the outbox: %r", error)
                continue
            for delivery in waiting:
                if self._take(delivery) and delivery.key not in self._workers:
                    self._enqueue(delivery.key, None)
            self._desk_mail.set()  # and the consultants' outbox, likewise

    # -- helpers -------------------------------------------------------------------------

    def spawn(self, awaitable: Awaitable[Any]) -> None:
        """Run in the background; `finish` waits for it."""
        task = asyncio.ensure_future(awaitable)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def sleep(self, seconds: float) -> None:
        """Wait, but no longer than until a stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)
