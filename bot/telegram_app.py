"""The Telegram channel: a transport for the delivery runtime, and Telegram's way in.

PTB's own Application confirms an update to Telegram before handling it, so a crash loses it.
This channel uses PTB's Bot for the API calls and gives the updates to the delivery runtime
(sto_bot/delivery.py), which keeps each in the inbox *before* its offset is confirmed (by the
next getUpdates call, or the webhook's 200 answer), processes and delivers it. What is Telegram's
own is here: polling or the webhook, answering button presses, the command menu, and sending a
reply as Telegram wants it (HTML, split at 4,096 characters, an inline keyboard, its errors
mapped to the runtime's: 429 retry-after, 5xx and time-outs unavailable, 403 blocked, 400
refused).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
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
from telegram.constants import ChatType, InlineKeyboardButtonLimit, MessageLimit, ParseMode
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
from sto_bot import delivery
from sto_bot.assistant import Assistant
from sto_bot.buttons import keeps_keyboard
from sto_bot.config import Settings
from sto_bot.delivery import Courier, Pace
from sto_bot.models import (
    LANGUAGES,
    ChannelLimits,
    ConversationKey,
    Delivery,
    IncomingMessage,
    Language,
    Reply,
    StoreBroken,
    StoreFull,
)
from sto_bot.pseudonyms import set_key

log = logging.getLogger(__name__)
Call = Callable[[], Awaitable[Any]]  # one Bot API call, to be made (again)

CHANNEL = "telegram"
POLL_TIMEOUT = 25  # seconds a getUpdates call may wait for news
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
MAX_BACKOFF = 30.0
SEND_READ_TIMEOUT = 60.0  # seconds a send may take: longer than a retry would wait


def _escaped(text: str) -> str:
    return html.escape(text, quote=False)


# What Telegram allows one message, for the core: a text is counted once escaped for HTML.
LIMITS = ChannelLimits(
    MessageLimit.MAX_TEXT_LENGTH, InlineKeyboardButtonLimit.MAX_CALLBACK_DATA, markup=_escaped
)


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


class TelegramTransport:
    """Sends replies as Telegram messages."""

    channel = CHANNEL

    def __init__(self, bot: Bot, retrying: Callable[[Call], Awaitable[Any]]) -> None:
        self.bot = bot
        self.retrying = retrying

    async def send(
        self, key: ConversationKey, reply: Reply, answering: str | None = None
    ) -> list[str]:
        """Send a reply (split if long, buttons under the last part), as an answer to message
        `answering` ("chat:message") if it is in this chat; the ids of the messages sent."""
        chat_id = key.chat_id
        await self._delete(chat_id, reply.deletes)
        chunks = split_text(LIMITS.markup(reply.text), LIMITS.message_chars)
        chat, _, number = (answering or "").rpartition(":")
        context = (
            ReplyParameters(int(number), allow_sending_without_reply=True)
            if chat == str(chat_id) and number.isdigit()
            else None
        )
        sent: list[str] = []
        for position, chunk in enumerate(chunks):
            markup = keyboard(reply) if position == len(chunks) - 1 else None

            async def send(text: str = chunk, markup: Any = markup) -> Any:
                return await self.bot.send_message(
                    chat_id,
                    text,
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup,
                    reply_parameters=context,
                )

            # Once a part is out, the rest follows whatever it takes: sent again from the
            # start, the reply would arrive twice.
            message = await _mapped(self.retrying(send) if sent else send())
            sent.append(f"{chat_id}:{message.message_id}")
        if reply.document is not None:
            document = reply.document

            async def attach() -> Any:
                data = InputFile(document.content.encode(), filename=document.name)
                return await self.bot.send_document(chat_id, data)

            sent.append(f"{chat_id}:{(await _mapped(self.retrying(attach))).message_id}")
        return sent

    async def noticed(self, key: ConversationKey, reply: Reply) -> None:
        """Nothing to show: the consultants' chat is a Telegram group of its own."""

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


async def _mapped(call: Awaitable[Any]) -> Any:
    """A Bot API call with Telegram's errors as the delivery runtime's."""
    try:
        return await call
    except RetryAfter as error:
        raise delivery.RetryAfter(_seconds(error.retry_after)) from error
    except Forbidden as error:
        raise delivery.Blocked(str(error)) from error
    except (BadRequest, InvalidToken) as error:
        raise delivery.Refused(str(error)) from error
    except (TimedOut, NetworkError) as error:
        raise delivery.Unavailable(str(error)) from error
    except TelegramError as error:
        raise delivery.Refused(str(error)) from error


class TelegramChannel:
    """Connects the assistant to Telegram: polling or webhook into the delivery runtime."""

    def __init__(
        self,
        bot: Bot,
        assistant: Assistant,
        settings: Settings,
        pace: Pace | None = None,
        timed: Sequence[Callable[[], Awaitable[list[Delivery]]]] = (),
    ) -> None:
        self.bot = bot
        self.assistant = assistant
        self.settings = settings
        # Pseudonyms in the log are keyed with (a hash of) the token: stable, not reversible.
        set_key(bot.token)
        transport = TelegramTransport(bot, self.retrying)
        self.courier = Courier(assistant, transport, pace=pace, timed=timed)
        self._stopping = self.courier.stopping

    # -- life cycle ----------------------------------------------------------------------

    async def run(self) -> None:
        """Serve until SIGTERM or SIGINT, then finish what is in flight (for at most the
        runtime's shutdown limit: what is not sent by then waits in the outbox)."""
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(number, self.stop)
        # SIGHUP: read knowledge/ again, without a restart (a broken file changes nothing).
        loop.add_signal_handler(signal.SIGHUP, lambda: self.courier.spawn(self._reload()))
        # Telegram down at start-up (5xx, 429, time-outs) is waited out like any other call.
        if not await self._until_stopped(self.retrying(self.bot.initialize)):
            log.info("stopped before Telegram could be reached")
            return
        try:
            if not await self._until_stopped(self._start()):
                log.info("stopped cleanly")
                return
            self.courier.start()
            if self.settings.webhook_url:
                await serve_webhook(self, self.settings, self._stopping)
            else:
                await self.retrying(self.bot.delete_webhook)
                await self._poll()
            await self.courier.finish()
            if self.courier.fatal is not None:
                raise self.courier.fatal
        finally:
            with contextlib.suppress(TelegramError):
                await self.bot.shutdown()
        log.info("stopped cleanly")

    async def _reload(self) -> None:
        """Reload the knowledge (the problems of a broken tree go to the log)."""
        await self.assistant.reload()

    async def _start(self) -> None:
        await self._register_commands()
        await self.courier.resume()

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

    def stop(self) -> None:
        """Ask the channel to stop (as SIGTERM does)."""
        self.courier.stop()

    def broken(self, error: StoreBroken) -> None:
        """The database cannot be used: stop, and say what to fix."""
        self.courier.broken(error)

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
                await self.courier.sleep(_seconds(error.retry_after))
                continue
            except (NetworkError, TimedOut, Conflict) as error:
                # Conflict: another instance still polls, e.g. the old one during a deploy.
                log.warning("getUpdates failed (%s); retrying in %.0f s", error, backoff)
                await self.courier.sleep(backoff)
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
                    wait = self.courier.pace.full_retry
                    log.warning("the disk is full; updates wait %.0f s", wait)
                    await self.courier.tell_full(self._messages(updates))
                    await self.courier.sleep(wait)
                    continue
                # Only now may Telegram forget them: the next call confirms this offset.
                offset = updates[-1].update_id + 1

    async def receive(self, updates: Sequence[Update]) -> None:
        """Answer button presses at once, and give the messages to the delivery runtime,
        which keeps them in the inbox before this returns."""
        for update in updates:
            if update.callback_query is not None:
                self.courier.spawn(self._acknowledge(update))
        await self.courier.receive(self._messages(updates))

    def _messages(self, updates: Sequence[Update]) -> list[IncomingMessage]:
        """The updates as the assistant reads them; the rest is ignored (and logged)."""
        messages = []
        for update in updates:
            message = incoming(update, self.bot.id, self.bot.username)
            if message is None:
                log.info("update %d ignored", update.update_id)
            else:
                messages.append(message)
        return messages

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
        if query.data and keeps_keyboard(query.data):
            return  # the assistant answers with the new state of what the buttons are for
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


__all__: Sequence[str] = ["TelegramChannel", "make_bot", "split_text"]
