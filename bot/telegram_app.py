"""The Telegram channel: updates in, replies out, and nothing lost on the way.

PTB's own Application confirms an update to Telegram before handling it, so a crash loses it.
This channel uses PTB's Bot for the API calls but runs its own loop instead:

1. receive: every update is written to the SQLite inbox *before* its offset is confirmed (by the
   next getUpdates call, or the webhook's 200 answer);
2. handle: each chat has its own worker, so a chat's messages are handled in order while chats do
   not wait for each other; the assistant marks the update handled and queues its replies in the
   outbox in one transaction, so a redelivered update is harmless;
3. deliver: the chat's worker sends its outbox in order, waiting out 429s, retrying 5xx and
   time-outs with back-off, and recording a 403 (the user blocked the bot) without retrying.

After a kill, start-up resumes from the inbox and outbox: every update is answered exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
import signal
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeDefault,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatType, MessageLimit, ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest

from bot.webhook import serve_webhook
from sto_bot.assistant import Assistant
from sto_bot.config import Settings
from sto_bot.handover import CLOSE, PICK
from sto_bot.models import (
    LANGUAGES,
    ConversationKey,
    Delivery,
    IncomingMessage,
    Language,
    Recipient,
    Reply,
    message_from_dict,
    message_to_dict,
)
from sto_bot.pseudonyms import pseudonym, set_key
from sto_bot.store import Store, StoreBroken, StoreFull

log = logging.getLogger(__name__)

CHANNEL = "telegram"
POLL_TIMEOUT = 25  # seconds a getUpdates call may wait for news
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
MAX_BACKOFF = 30.0
SHUTDOWN_LIMIT = 10.0  # seconds to finish what is in flight after SIGTERM
SEND_READ_TIMEOUT = 60.0  # seconds a send may take: longer than a retry would wait
FULL_RETRY = 30.0  # seconds before an update is tried again when the disk was full
CONSULTANT_MAX_BACKOFF = 300.0  # the consultants' chat may stay unreachable for a while
OUTBOX_POLL = 3.0  # seconds between looks for replies queued by another process
CONSULTANT_POLL = 60.0  # at most this long between looks at the consultants' outbox (the
# outbox watch wakes it every OUTBOX_POLL seconds; a commit of this process at once)
REMIND_EVERY = 60.0


class SecretFilter(logging.Filter):
    """Keeps secrets and users' words out of every log record: the bot token (httpx logs
    request URLs, which hold it), the webhook secret, and at DEBUG the parameters and results
    of Bot API calls that python-telegram-bot logs (they hold message texts and the secret)."""

    def __init__(self, *secrets: str) -> None:
        super().__init__()
        self.secrets = [secret for secret in secrets if secret]

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record's message and arguments; every record is kept."""
        args = record.args
        call = isinstance(args, tuple) and args and record.name.startswith("telegram")
        if call and isinstance(args, tuple) and any(w in str(record.msg) for w in _API_CALL_LOGS):
            record.args = (args[0], "<not logged: may hold users' texts>")
        message = record.getMessage()
        if any(secret in message for secret in self.secrets):
            for secret in self.secrets:
                message = message.replace(secret, "<secret>")
            record.msg = message
            record.args = None
        return True


# python-telegram-bot's DEBUG lines that carry a call's parameters or return value.
_API_CALL_LOGS = ("parameters", "return value")


def protect_secrets(*secrets: str) -> None:
    """Keep the token, the webhook secret and users' texts out of every log line."""
    secret_filter = SecretFilter(*secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(secret_filter)
    # httpx logs each request URL at INFO, and the URL contains the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def split_text(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """Cut a long (HTML-escaped) text into messages at paragraph, or else line, or else word
    boundaries; a word longer than a message is cut, but never inside an HTML entity."""
    if len(text) <= limit:
        return [text]
    chunks: list[str] = []
    current = ""
    for paragraph in text.split("\n\n"):
        candidate = f"{current}\n\n{paragraph}" if current else paragraph
        if len(candidate) <= limit:
            current = candidate
            continue
        if current:
            chunks.append(current)
        while len(paragraph) > limit:
            cut = paragraph.rfind("\n", 0, limit)
            if cut <= 0:
                cut = paragraph.rfind(" ", 0, limit)
            if cut <= 0:
                cut = limit
                entity = paragraph.rfind("&", 0, cut)
                if entity > 0 and ";" not in paragraph[entity:cut]:
                    cut = entity  # never inside "&amp;": Telegram would refuse the message
            chunks.append(paragraph[:cut])
            paragraph = paragraph[cut:].lstrip()
        current = paragraph
    if current:
        chunks.append(current)
    return chunks


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    """The reply's options as an inline keyboard, one button per row."""
    if not reply.options:
        return None
    rows = [[InlineKeyboardButton(o.label, callback_data=o.id)] for o in reply.options]
    return InlineKeyboardMarkup(rows)


def incoming(update: Update, bot_id: int, bot_username: str = "") -> IncomingMessage | None:
    """The message the assistant should handle for an update, or None to ignore it."""
    chat = update.effective_chat
    if chat is None:
        return None
    message = IncomingMessage(ConversationKey(CHANNEL, str(chat.id)), update_id=update.update_id)
    user = update.effective_user
    if user is not None:
        message = replace(message, user_name=user.full_name, user_id=str(user.id))
    query = update.callback_query
    if query is not None:
        return None if query.data is None else replace(message, choice=query.data)
    sent = update.message
    if sent is None:  # edited messages and the like: answered once already
        return None
    text = sent.text
    replied = sent.reply_to_message
    if chat.type in (ChatType.GROUP, ChatType.SUPERGROUP):
        # In a group only commands and replies to the bot itself are meant for us.
        to_bot = replied is not None and replied.from_user is not None
        to_bot = to_bot and replied.from_user.id == bot_id  # type: ignore[union-attr]
        command = text.split(maxsplit=1)[0] if text and text.startswith("/") else ""
        addressee = command.partition("@")[2]
        if addressee and addressee.casefold() != bot_username.casefold():
            return None  # "/help@other_bot": a command for another bot in the group
        if not command and not to_bot:
            return None
    if replied is not None:  # message ids are per chat: the chat makes them unique
        message = replace(message, reply_to=f"{chat.id}:{replied.message_id}")
    if text is None:
        return replace(message, unsupported=True)
    return replace(message, text=text)


@dataclass(slots=True)
class _Worker:
    queue: asyncio.Queue[int | None]
    task: asyncio.Task[None]


class TelegramChannel:
    """Connects the assistant to Telegram: polling or webhook, the inbox and the outbox."""

    def __init__(self, bot: Bot, assistant: Assistant, store: Store, settings: Settings) -> None:
        self.bot = bot
        self.assistant = assistant
        self.store = store
        self.settings = settings
        self.token = bot.token
        # Pseudonyms in the log are keyed with (a hash of) the token: stable, not reversible.
        set_key(self.token)
        self._workers: dict[ConversationKey, _Worker] = {}
        self._messages: dict[int, IncomingMessage] = {}  # received, waiting for their worker
        self._stopping = asyncio.Event()
        self._background: set[asyncio.Task[Any]] = set()
        self._consultant_mail = asyncio.Event()  # set when the consultants' outbox has news
        # Replies queued in the outbox, per chat, as the commits report them: delivering them
        # needs no query. (Filled from the outbox itself at start-up.)
        self._queued: dict[ConversationKey, list[Delivery]] = defaultdict(list)
        # Ids of the replies queued or being sent: the outbox watch must not queue them twice.
        self._in_hand: set[int] = set()
        self._told_full: set[int] = set()  # updates whose users heard that the disk is full
        self._fatal: StoreBroken | None = None  # a database that cannot be used: stop
        assistant.on_queued = self._on_queued

    # -- life cycle ----------------------------------------------------------------------

    async def run(self) -> None:
        """Serve until SIGTERM or SIGINT, then finish what is in flight (for at most
        SHUTDOWN_LIMIT seconds: what is not sent by then waits in the outbox)."""
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(number, self._stopping.set)
        # Telegram down at start-up (5xx, 429, time-outs) is waited out like any other call.
        if not await self._until_stopped(self.retrying(self.bot.initialize)):
            log.info("stopped before Telegram could be reached")
            return
        try:
            if not await self._until_stopped(self._start()):
                log.info("stopped cleanly")
                return
            tasks = [
                asyncio.create_task(self._serve_consultants()),
                asyncio.create_task(self._remind()),
                asyncio.create_task(self._watch_outbox()),
            ]
            if self.settings.webhook_url:
                await serve_webhook(self, self.settings, self._stopping)
            else:
                await self.retrying(self.bot.delete_webhook)
                await self._poll()
            await self._finish(tasks)
            if self._fatal is not None:
                raise self._fatal
        finally:
            with contextlib.suppress(TelegramError):
                await self.bot.shutdown()
        log.info("stopped cleanly")

    async def _start(self) -> None:
        await self._register_commands()
        await self._resume()

    async def _until_stopped(self, work: Awaitable[Any]) -> bool:
        """Run `work` unless a stop comes first (then it is cancelled); whether it ran."""
        task = asyncio.ensure_future(work)
        stop = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if task.done():
            task.result()  # its error, if it failed
            return True
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return False

    async def _finish(self, tasks: list[asyncio.Task[Any]]) -> None:
        """After a stop: let the chats' workers and the consultants' worker finish, for at
        most SHUTDOWN_LIMIT seconds; then cancel them (unsent replies stay in the outbox,
        unhandled updates in the inbox, for the next start)."""

        async def finish() -> None:
            await self._drain()
            self._consultant_mail.set()
            await asyncio.gather(*tasks)

        try:
            await asyncio.wait_for(finish(), SHUTDOWN_LIMIT)
        except TimeoutError:
            log.warning("stopping with work left: it is kept for the next start")
            running = [w.task for w in self._workers.values()] + [*self._background, *tasks]
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    def stop(self) -> None:
        """Ask the channel to stop (as SIGTERM does)."""
        self._stopping.set()

    async def _register_commands(self) -> None:
        """The command menu in Dutch (also the default) and English."""
        languages: tuple[Language | None, ...] = (*LANGUAGES, None)
        for language in languages:
            menu = self.assistant.knowledge.commands.menu(language or "nl")
            commands = [BotCommand(name, description) for name, description in menu]

            async def register(
                commands: list[BotCommand] = commands, code: str | None = language
            ) -> bool:
                return await self.bot.set_my_commands(
                    commands, scope=BotCommandScopeDefault(), language_code=code
                )

            await self.retrying(register)

    async def _resume(self) -> None:
        """After a restart: handle what was received but not handled, deliver what was queued."""
        pending = await self.store.unhandled()
        undelivered = await self.store.undelivered(limit=100_000, recipient=Recipient.USER)
        if pending or undelivered:
            log.info("resuming %d updates and %d replies", len(pending), len(undelivered))
        for delivery in undelivered:
            self._take(delivery)
        for key in list(self._queued):
            self._enqueue(key, None)
        for update_id, key, payload in pending:
            self._messages[update_id] = message_from_dict(json.loads(payload))
            self._enqueue(key, update_id)

    async def _drain(self) -> None:
        """Let every worker finish its queue."""
        for worker in list(self._workers.values()):
            await worker.queue.join()
        for task in list(self._background):
            await task

    # -- receiving -----------------------------------------------------------------------

    async def _poll(self) -> None:
        offset: int | None = None
        backoff = 1.0
        while not self._stopping.is_set():
            poll = asyncio.ensure_future(
                self.bot.get_updates(
                    offset=offset, timeout=POLL_TIMEOUT, allowed_updates=ALLOWED_UPDATES
                )
            )
            stop = asyncio.ensure_future(self._stopping.wait())
            done, _ = await asyncio.wait({poll, stop}, return_when=asyncio.FIRST_COMPLETED)
            if poll not in done:
                poll.cancel()
                break
            stop.cancel()
            try:
                updates = poll.result()
            except InvalidToken:
                raise
            except RetryAfter as error:
                await self._sleep(_seconds(error.retry_after))
                continue
            except (NetworkError, TimedOut, Conflict) as error:
                # Conflict: another instance still polls, e.g. the old one during a deploy.
                log.warning("getUpdates failed (%s); retrying in %.0f s", error, backoff)
                await self._sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            backoff = 1.0
            if updates:
                try:
                    await self.receive(updates)
                except StoreBroken as error:
                    self.broken(error)
                    break
                except StoreFull:  # not confirmed: Telegram sends them again next time
                    log.warning("the disk is full; updates wait %.0f s", FULL_RETRY)
                    await self._tell_all_full(updates)
                    await self._sleep(FULL_RETRY)
                    continue
                # Only now may Telegram forget them: the next call confirms this offset.
                offset = updates[-1].update_id + 1

    async def receive(self, updates: Sequence[Update]) -> None:
        """Keep updates in the inbox (one transaction), answer button presses at once, and
        queue the work."""
        kept: list[IncomingMessage] = []
        for update in updates:
            message = incoming(update, self.bot.id, self.bot.username)
            if update.callback_query is not None:
                self._spawn(self._acknowledge(update))
            if message is None:
                log.info("update %d ignored", update.update_id)
                continue
            kept.append(message)
        # The inbox keeps the message as the assistant reads it: smaller and cheaper to write
        # than the whole update. ASCII JSON: a lone surrogate in a text is stored escaped.
        rows = [
            (update_id, message.key, json.dumps(message_to_dict(message)))
            for message in kept
            if (update_id := message.update_id) is not None
        ]
        new = await self.store.receive(rows, self._now())
        for message in kept:
            if message.update_id in new:  # not a redelivery of an update we already have
                self._messages[message.update_id] = message
                self._enqueue(message.key, message.update_id)

    async def _acknowledge(self, update: Update) -> None:
        """Answer the button press and show the choice in place of the keyboard."""
        query = update.callback_query
        assert query is not None
        try:
            await query.answer()
        except TelegramError as error:  # a 429 or an expired query: the press still counts
            log.info("could not answer a button press: %s", error)
        message = query.message
        if message is None or not getattr(message, "text", None):
            return
        if query.data and query.data.startswith((PICK, CLOSE)):
            return  # a consultant's button stays: the assistant answers with the new state
        markup = getattr(message, "reply_markup", None)
        label = next(
            (
                button.text
                for row in (markup.inline_keyboard if markup else ())
                for button in row
                if button.callback_data == query.data
            ),
            None,
        )
        if label is None:
            return
        text = f"{html.escape(message.text)}\n\n✓ {html.escape(label)}"  # type: ignore[attr-defined]
        try:
            if len(text) <= MessageLimit.MAX_TEXT_LENGTH:
                await self.bot.edit_message_text(
                    text,
                    chat_id=message.chat.id,
                    message_id=message.message_id,
                    parse_mode=ParseMode.HTML,
                )
            else:
                await self.bot.edit_message_reply_markup(
                    chat_id=message.chat.id, message_id=message.message_id, reply_markup=None
                )
        except TelegramError as error:
            log.info("could not mark the pressed button: %s", error)

    # -- handling ------------------------------------------------------------------------

    def _enqueue(self, key: ConversationKey, update_id: int | None) -> None:
        worker = self._workers.get(key)
        if worker is None:
            queue: asyncio.Queue[int | None] = asyncio.Queue()
            worker = _Worker(queue, asyncio.create_task(self._work(key, queue)))
            self._workers[key] = worker
        worker.queue.put_nowait(update_id)

    async def _work(self, key: ConversationKey, queue: asyncio.Queue[int | None]) -> None:
        """One chat's updates, one after the other; the worker ends when its queue is empty."""
        while True:
            update_id = await queue.get()
            handled = update_id is None
            failed = True
            try:
                if update_id is not None:
                    await self._handle(update_id)
                    handled = True
                await self._deliver(key)
                failed = False
            except StoreFull:
                if not handled and update_id is not None:
                    await self._later(key, update_id)
                else:  # answered, but not yet recorded as sent: deliver again later
                    self._spawn(self._again(key, None))
            except StoreBroken as error:
                self.broken(error)
            except Exception as error:
                log.error("failed to process update %s: %r", update_id, error)
                self._messages.pop(update_id or -1, None)
            finally:
                queue.task_done()
            if queue.empty() and not failed and self._queued.get(key):
                queue.put_nowait(None)  # replies queued meanwhile for this chat: send them too
            if queue.empty():
                self._workers.pop(key, None)
                return

    def broken(self, error: StoreBroken) -> None:
        """The database cannot be used: going on would fail for every user, so stop, and
        say what to fix."""
        self._fatal = error
        self._stopping.set()

    async def _again(self, key: ConversationKey, update_id: int | None) -> None:
        """Give a chat's worker this update (or its queued replies) again after FULL_RETRY."""
        await self._sleep(FULL_RETRY)
        if not self._stopping.is_set():
            self._enqueue(key, update_id)

    async def _later(self, key: ConversationKey, update_id: int) -> None:
        """The disk is full: tell the user once, keep the update, and try it again later."""
        log.warning("the disk is full; update %d waits %.0f s", update_id, FULL_RETRY)
        await self._tell_full(key, update_id)
        self._spawn(self._again(key, update_id))

    async def _tell_all_full(self, updates: Sequence[Update]) -> None:
        """Updates that could not even be kept: each user hears it once (not the desk)."""
        for update in updates:
            message = incoming(update, self.bot.id, self.bot.username)
            if message is not None and message.key != self.assistant.consultants.chat:
                await self._tell_full(message.key, update.update_id)

    async def _tell_full(self, key: ConversationKey, update_id: int) -> None:
        """Say once per update that it cannot be handled now (it will be, later)."""
        if update_id in self._told_full:
            return
        self._told_full.add(update_id)
        text = self.assistant.texts.get("storage_full_later", "nl")
        with contextlib.suppress(TelegramError):
            await self._send_chunks(key.chat_id, Reply(text))

    async def _handle(self, update_id: int) -> None:
        message = self._messages[update_id]
        started = time.perf_counter()
        await self.assistant.handle(message)
        del self._messages[update_id]
        self._told_full.discard(update_id)
        kind = "button" if message.choice else "text" if message.text else "other"
        log.info(
            "update %d from user %s (%s) handled in %.0f ms",
            update_id,
            pseudonym(message.user_id),
            kind,
            1000 * (time.perf_counter() - started),
        )

    # -- delivering ----------------------------------------------------------------------

    async def _deliver(self, key: ConversationKey) -> None:
        """Send the chat's queued replies in order."""
        waiting = self._queued.pop(key, [])
        for number, delivery in enumerate(waiting):
            try:
                await self._send(delivery)
            except BaseException:
                # Not sent: back in front of the queue for the chat's next turn.
                self._queued[key][:0] = waiting[number:]
                raise

    async def _send(self, delivery: Delivery) -> None:
        """Send a reply to its user; a refusal is recorded, so it does not block the chat."""
        chat_id = delivery.key.chat_id
        status, error_text, thread = "sent", "", []
        try:
            sent = await self._send_chunks(chat_id, delivery.reply)
        except Forbidden as error:
            log.info(
                "chat %s blocked the bot; reply %d not delivered", pseudonym(chat_id), delivery.id
            )
            status, error_text = "blocked", str(error)
        except TelegramError as error:
            log.error("Telegram refused reply %d: %s", delivery.id, error)
            status, error_text = "refused", str(error)
        else:
            # Message ids are kept only for messages about a handover: replies to them relay,
            # and /vergeet of its user deletes them.
            about = delivery.reply.thread or delivery.reply.about
            thread = [f"{chat_id}:{number}" for number in sent] if about else []
        await self.store.delivered(delivery.id, status, error_text, sent=thread)
        self._in_hand.discard(delivery.id)

    async def _send_chunks(
        self, chat_id: int | str, reply: Reply, answering: int | None = None
    ) -> list[int]:
        """Send a reply (split if long, buttons under the last part), as an answer to message
        `answering` if given; the message ids."""
        await self._delete(chat_id, reply.deletes)
        chunks = split_text(html.escape(reply.text, quote=False))
        sent = []
        context = (
            None
            if answering is None
            else ReplyParameters(answering, allow_sending_without_reply=True)
        )
        for number, chunk in enumerate(chunks):
            markup = keyboard(reply) if number == len(chunks) - 1 else None

            async def send(text: str = chunk, markup: Any = markup) -> Any:
                return await self.bot.send_message(
                    chat_id,
                    text,
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup,
                    reply_parameters=context,
                )

            message = await self.retrying(send)
            sent.append(message.message_id)
        if reply.document is not None:
            document = reply.document

            async def attach() -> Any:
                data = InputFile(document.content.encode(), filename=document.name)
                return await self.bot.send_document(chat_id, data)

            sent.append((await self.retrying(attach)).message_id)
        return sent

    async def _delete(self, chat_id: int | str, messages: Sequence[str]) -> None:
        """Delete our own messages (ids "chat:message") where Telegram still allows it."""
        for message in messages:
            chat, _, number = message.rpartition(":")
            if chat != str(chat_id) or not number.isdigit():
                continue

            async def delete(number: int = int(number)) -> Any:
                return await self.bot.delete_message(chat_id, number)

            try:
                await self.retrying(delete)
            except TelegramError as error:  # too old, or deleted by a consultant already
                log.info("could not delete a message in the consultants' chat: %s", error)

    # -- the consultants' chat -----------------------------------------------------------

    def _on_queued(self, deliveries: list[Delivery]) -> None:
        """A commit queued replies: the consultants' worker sends theirs, the chats' workers
        the rest (a chat other than the one handled gets a turn of its own: the user a
        consultant answered)."""
        for delivery in deliveries:
            if delivery.reply.recipient is Recipient.CONSULTANTS:
                self._consultant_mail.set()
                continue
            self._take(delivery)
            if delivery.key not in self._workers:
                self._enqueue(delivery.key, None)

    def _take(self, delivery: Delivery) -> bool:
        """Queue a reply for its chat's worker, once; False when it is in hand already or
        is for another channel's conversation (a terminal chat on the same database)."""
        if delivery.id in self._in_hand or delivery.key.channel != CHANNEL:
            return False
        self._in_hand.add(delivery.id)
        self._queued[delivery.key].append(delivery)
        return True

    async def _watch_outbox(self) -> None:
        """Replies another process queued on the same database (a consultant answering from
        `sto-bot chat --consultant`) are sent within a few seconds."""
        while not self._stopping.is_set():
            await self._sleep(OUTBOX_POLL)
            try:
                waiting = await self.store.undelivered(limit=1000, recipient=Recipient.USER)
            except StoreBroken as error:
                self.broken(error)
                return
            except Exception as error:  # a busy database now is no reason to stop
                log.warning("could not look at the outbox: %r", error)
                continue
            for delivery in waiting:
                if self._take(delivery) and delivery.key not in self._workers:
                    self._enqueue(delivery.key, None)
            self._consultant_mail.set()  # and the consultants' outbox, likewise

    async def _serve_consultants(self) -> None:
        """Deliver the consultants' outbox in order, until it works: a handover is never lost
        to a refusal (the bot removed from the chat, a wrong chat id) nor sent twice."""
        while not self._stopping.is_set():
            self._consultant_mail.clear()
            chat_id = self.settings.consultant_chat_id
            try:
                if chat_id is not None:  # else kept until CONSULTANT_CHAT_ID is set
                    await self._send_consultants_outbox(chat_id)
            except StoreBroken as error:
                self.broken(error)
                return
            except Exception as error:  # a full disk, a bug: the worker must not die of it
                log.error("could not serve the consultants' outbox: %r", error)
                await self._sleep(FULL_RETRY)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._consultant_mail.wait(), CONSULTANT_POLL)

    async def _send_consultants_outbox(self, chat_id: int) -> None:
        """Send what waits for the consultants' chat, oldest first, each until it works."""
        pending = await self.store.undelivered(limit=1000, recipient=Recipient.CONSULTANTS)
        for delivery in pending:
            if not await self._send_to_consultants(chat_id, delivery):
                return

    async def _send_to_consultants(self, chat_id: int, delivery: Delivery) -> bool:
        """Send one message to the consultants' chat, retrying with back-off; False when the
        channel stops first."""
        backoff = 1.0
        # A handover's later messages answer its summary: Telegram shows them as one thread.
        thread = delivery.reply.thread
        start = None if thread is None else await self.store.thread_start(thread)
        chat, _, message_id = (start or "").rpartition(":")
        answering = int(message_id) if chat == str(chat_id) else None
        while not self._stopping.is_set():
            try:
                sent = await self._send_chunks(chat_id, delivery.reply, answering)
            except TelegramError as error:
                log.warning(
                    "the consultants' chat %s refused message %d (%s); retrying in %.0f s",
                    chat_id,
                    delivery.id,
                    error,
                    backoff,
                )
                await self._sleep(backoff)
                backoff = min(backoff * 2, CONSULTANT_MAX_BACKOFF)
                if not await self._still_waiting(delivery):
                    return True  # deleted meanwhile (/vergeet): not to be sent any more
                continue
            await self.store.delivered(delivery.id, sent=[f"{chat_id}:{number}" for number in sent])
            return True
        return False

    async def _still_waiting(self, delivery: Delivery) -> bool:
        """Whether a message for the consultants is still in the outbox, unsent."""
        waiting = await self.store.undelivered(limit=1000, recipient=Recipient.CONSULTANTS)
        return any(other.id == delivery.id for other in waiting)

    async def _remind(self) -> None:
        """Remind the consultants of handovers waiting too long, once a minute."""
        while not self._stopping.is_set():
            try:
                await self.assistant.remind()
            except Exception as error:  # a reminder must never stop the bot
                log.error("could not send handover reminders: %r", error)
            await self._sleep(REMIND_EVERY)

    async def retrying(self, call: Callable[[], Awaitable[Any]]) -> Any:
        """Call the Bot API until it works: wait out 429s, back off on 5xx and time-outs.
        A 403 or 400 is final and raised."""
        backoff = 0.5
        while True:
            try:
                return await call()
            except RetryAfter as error:
                await asyncio.sleep(_seconds(error.retry_after))
            except (Forbidden, BadRequest, InvalidToken):
                raise
            except (TimedOut, NetworkError) as error:
                log.warning(
                    "Bot API call to %s failed (%s); retrying in %.1f s",
                    self.settings.telegram_api_url,
                    error,
                    backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)

    # -- helpers -------------------------------------------------------------------------

    def _spawn(self, awaitable: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(awaitable)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    def _now(self) -> Any:
        return self.assistant.clock()


def _seconds(value: Any) -> float:
    return float(value.total_seconds() if hasattr(value, "total_seconds") else value)


def make_bot(settings: Settings) -> Bot:
    """A PTB Bot for the configured token and API server."""
    assert settings.telegram_token is not None
    api = settings.telegram_api_url
    return Bot(
        settings.telegram_token,
        base_url=f"{api}/bot",
        base_file_url=f"{api}/file/bot",
        # Chats beyond the pool wait for a connection; a pool time-out is no server failure.
        # A slow answer is waited for (60 s) rather than sent again: sendMessage is not
        # idempotent, and a time-out on a message Telegram did accept would send it twice.
        request=HTTPXRequest(
            connection_pool_size=64,
            read_timeout=SEND_READ_TIMEOUT,
            write_timeout=30,
            connect_timeout=10,
            pool_timeout=30,
        ),
        get_updates_request=HTTPXRequest(read_timeout=POLL_TIMEOUT + 10, connect_timeout=10),
    )


__all__: Sequence[str] = ["TelegramChannel", "make_bot", "protect_secrets", "split_text"]
