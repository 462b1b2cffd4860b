"""The terminal channel: a human at a prompt (text mode) or a script speaking JSON lines.

`sto-bot chat` is a user's conversation; `sto-bot chat --consultant` is the consultants' chat,
played by a person at the terminal. Both work on the same database, so a consultant console
can pick up and answer a user console's handover: messages between them go through the
outbox, which each console looks at after every line and, in text mode, every second.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import os
import re
import threading
from collections.abc import Iterable, Iterator
from typing import BinaryIO, TextIO

from sto_bot.assistant import Assistant
from sto_bot.models import ConversationKey, IncomingMessage, Recipient, Reply

CHANNEL = "console"
# The consultants' chat of the console channel, and the user id its consultant types as.
CONSULTANTS_CHAT = ConversationKey(CHANNEL, "adviseurs")
CONSOLE_CONSULTANT = "console-adviseur"
POLL_SECONDS = 1.0


def format_options(labels: Iterable[str]) -> str:
    """Options as '[1] Ja  [2] Nee': typing the number picks one."""
    return "  ".join(f"[{number}] {label}" for number, label in enumerate(labels, 1))


def printable(text: str) -> str:
    """Text for a terminal: what a user typed may hold escape sequences; only line breaks and
    tabs are kept of the control characters."""
    return _CONTROL.sub(" ", text)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def read_text_line(line: bytes) -> str:
    """One line of input as text; bytes that are not UTF-8 become replacement characters."""
    return line.decode("utf-8", errors="replace").rstrip("\r\n")


def _lines(stream: BinaryIO) -> Iterator[bytes]:
    """The lines of a stream until it ends. A real file is read through its descriptor: a
    thread waiting inside the buffered reader would hold its lock, and Python's shutdown after
    Ctrl-C then aborts ("could not acquire lock for <stdin>")."""
    try:
        descriptor = stream.fileno()
    except (OSError, ValueError, io.UnsupportedOperation):
        descriptor = None
    if descriptor is None:
        yield from iter(stream.readline, b"")
        return
    pending = b""
    while True:
        try:
            chunk = os.read(descriptor, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            break
        pending += chunk
        while b"\n" in pending:
            line, _, pending = pending.partition(b"\n")
            yield line + b"\n"
    if pending:
        yield pending


class ConsoleChat:
    """Feeds lines from a stream to the assistant and writes its replies back."""

    def __init__(
        self,
        assistant: Assistant,
        user: str,
        *,
        stdin: BinaryIO,
        stdout: TextIO,
        stderr: TextIO,
        jsonl: bool = False,
        interactive: bool = False,
        consultant: str | None = None,
    ) -> None:
        self.assistant = assistant
        self.store = assistant.store
        self.consultant = consultant  # the consultant's name in consultant mode
        self.key = CONSULTANTS_CHAT if consultant else ConversationKey(CHANNEL, user)
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.jsonl = jsonl
        self.interactive = interactive
        self._shown: set[int] = set()  # messages for the consultants already echoed on stderr
        self._turn = asyncio.Lock()  # a typed line and the outbox poll do not interleave

    async def run(self) -> None:
        """Talk until the input ends (Ctrl-D) or the user interrupts (Ctrl-C); in text mode
        both end with a short goodbye. Every message's state is stored as it is handled."""
        poller = None
        lines = self._read_lines()
        if not self.jsonl:
            opening = "/overdrachten" if self.consultant else "/start"
            await self._on_text_line(opening)
            poller = asyncio.create_task(self._poll())
        try:
            while True:
                if self.interactive and not self.jsonl:
                    self.stdout.write("> ")
                    self.stdout.flush()
                line = await lines.get()
                if line is None:
                    return
                text = read_text_line(line)
                async with self._turn:
                    if self.jsonl:
                        await self._on_json_line(text)
                    else:
                        await self._on_text_line(text)
        finally:
            if poller is not None:
                poller.cancel()
            if not self.jsonl:
                self.stdout.write("\n" + self.assistant.texts.get("console_goodbye", "nl") + "\n")
                self.stdout.flush()

    def _read_lines(self) -> asyncio.Queue[bytes | None]:
        """Lines of input as they come, None at the end. Read on a daemon thread: a thread of
        the event loop's pool would keep Ctrl-C waiting for one more line before exiting."""
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        def read() -> None:
            for line in itertools.chain(_lines(self.stdin), [None]):
                try:
                    loop.call_soon_threadsafe(queue.put_nowait, line)
                except RuntimeError:  # the chat has ended meanwhile
                    return

        threading.Thread(target=read, name="console-input", daemon=True).start()
        return queue

    def _message(self, text: str | None = None, choice: str | None = None) -> IncomingMessage:
        if self.consultant:
            return IncomingMessage(
                self.key,
                text=text,
                choice=choice,
                user_name=self.consultant,
                user_id=CONSOLE_CONSULTANT,
            )
        # The console's user id stands in for the name Telegram would show.
        return IncomingMessage(self.key, text=text, choice=choice, user_name=self.key.chat_id)

    async def _on_text_line(self, text: str) -> None:
        # A typed number or option word is understood by the assistant itself, as in any
        # channel: it knows which options are on screen.
        message = self._message(text=text)
        replies = self._here(await self.assistant.handle(message))
        self._show(replies + await self._mail())

    async def _poll(self) -> None:
        """Show what arrives meanwhile: a consultant's answer, or (for consultants) a new
        handover and reminders."""
        while True:
            await asyncio.sleep(POLL_SECONDS)
            async with self._turn:
                if self.consultant:
                    await self.assistant.remind()
                arrived = await self._mail()
                if arrived:
                    self._show(arrived)
                    if self.interactive:
                        self.stdout.write("> ")
                        self.stdout.flush()

    def _show(self, replies: list[Reply]) -> None:
        if not replies:
            return
        for reply in replies:
            self.stdout.write(f"\n{printable(reply.text)}\n")
            if reply.options:
                labels = (printable(o.label) for o in reply.options)
                self.stdout.write(format_options(labels) + "\n")
        self.stdout.write("\n")
        self.stdout.flush()

    async def _on_json_line(self, text: str) -> None:
        message = self._parse(text)
        if message is None:
            replies = [Reply(self.assistant.texts.get("invalid_input", "nl"))]
        else:
            replies = self._here(await self.assistant.handle(message))
        replies += await self._mail()
        record = {
            "replies": [
                {
                    "text": reply.text,
                    "options": [{"id": o.id, "label": o.label} for o in reply.options],
                }
                for reply in replies
            ]
        }
        self.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.stdout.flush()

    def _parse(self, text: str) -> IncomingMessage | None:
        try:
            data = json.loads(text)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        if isinstance(data.get("choice"), str):
            return self._message(choice=data["choice"])
        if isinstance(data.get("text"), str):
            return self._message(text=data["text"])
        return None

    @staticmethod
    def _here(replies: list[Reply]) -> list[Reply]:
        """The replies shown in this conversation itself; the rest travel by the outbox."""
        return [r for r in replies if r.recipient is Recipient.USER and r.to is None]

    async def _mail(self) -> list[Reply]:
        """Messages from the outbox for this console: what others sent to this conversation
        and, for a consultant, everything for the consultants' chat."""
        waiting = await self.store.undelivered(key=self.key, recipient=Recipient.USER)
        if self.consultant:
            waiting += await self.store.undelivered(limit=1000, recipient=Recipient.CONSULTANTS)
        else:
            await self._echo_for_consultants()
        for delivery in waiting:
            await self.store.delivered(delivery.id, "sent-console")
        return [delivery.reply for delivery in waiting]

    async def _echo_for_consultants(self) -> None:
        """A user console shows what went to the consultants on stderr, prefixed [adviseur];
        the messages stay in the outbox for the consultants (console or Telegram)."""
        waiting = await self.store.undelivered(key=self.key, recipient=Recipient.CONSULTANTS)
        for delivery in waiting:
            if delivery.id not in self._shown:
                self._shown.add(delivery.id)
                self.stderr.write(f"[adviseur] {printable(delivery.reply.text)}\n")
        self.stderr.flush()
