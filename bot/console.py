"""The terminal channel: a human at a prompt (text mode) or a script speaking JSON lines.

`sto-bot chat` is a user's conversation; `sto-bot chat --consultant` is the consultants' chat,
played by a person at the terminal. Both run on the delivery runtime (sto_bot/delivery.py),
as Telegram does, with the terminal as their transport, and on the same database, so a
consultant console can pick up and answer a user console's handover: messages between them go
through the outbox, which each console looks at after every line and, in text mode, every
second.
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
from sto_bot.delivery import Courier, Pace
from sto_bot.models import ConversationKey, IncomingMessage, Reply

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


class ConsoleTransport:
    """The terminal as a channel: replies are printed (text mode) or gathered per line (JSON
    lines); what a user's message tells the consultants is shown on stderr."""

    channel = CHANNEL

    def __init__(
        self, stdout: TextIO, stderr: TextIO, *, jsonl: bool, interactive: bool, desk: bool
    ) -> None:
        self.stdout = stdout
        self.stderr = stderr
        self.jsonl = jsonl
        self.interactive = interactive
        self.desk = desk  # the consultants' chat itself: what goes there is shown as such
        self.in_turn = False  # a typed line is being answered (else: arriving meanwhile)
        self.gathered: list[Reply] = []  # the replies to the current line (JSON lines)
        self._numbers = itertools.count(1)

    async def send(
        self, key: ConversationKey, reply: Reply, answering: str | None = None
    ) -> list[str]:
        """Show a reply; its id is the message's number in this terminal."""
        if self.jsonl:
            self.gathered.append(reply)
        else:
            self._print(reply)
        return [f"{key.chat_id}:{next(self._numbers)}"]

    async def noticed(self, key: ConversationKey, reply: Reply) -> None:
        """A user's terminal shows what went to the consultants, prefixed [adviseur] (it
        stays in the outbox for them, in a terminal or in Telegram)."""
        if not self.desk:
            self.stderr.write(f"[adviseur] {printable(reply.text)}\n")
            self.stderr.flush()

    def _print(self, reply: Reply) -> None:
        self.stdout.write(f"\n{printable(reply.text)}\n")
        if reply.options:
            labels = (printable(o.label) for o in reply.options)
            self.stdout.write(format_options(labels) + "\n")
        self.stdout.write("\n")
        if not self.in_turn and self.interactive:
            self.stdout.write("> ")  # arrived while the user may be typing: prompt again
        self.stdout.flush()

    def record(self) -> str:
        """The replies gathered for one line of JSON input, as one JSON line (and forget
        them)."""
        replies, self.gathered = self.gathered, []
        record = {
            "replies": [
                {
                    "text": reply.text,
                    "options": [{"id": o.id, "label": o.label} for o in reply.options],
                }
                for reply in replies
            ]
        }
        return json.dumps(record, ensure_ascii=False)


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
        self.consultant = consultant  # the consultant's name in consultant mode
        self.key = CONSULTANTS_CHAT if consultant else ConversationKey(CHANNEL, user)
        self.stdin = stdin
        self.stdout = stdout
        self.jsonl = jsonl
        self.interactive = interactive
        self.transport = ConsoleTransport(
            stdout, stderr, jsonl=jsonl, interactive=interactive, desk=consultant is not None
        )
        # A terminal is one conversation: it delivers only its own outbox, and the
        # consultants' outbox when it is the consultants' chat.
        pace = Pace(outbox_poll=POLL_SECONDS, remind_every=POLL_SECONDS, shutdown_limit=2.0)
        self.courier = Courier(
            assistant, self.transport, serves_desk=consultant is not None, only=self.key, pace=pace
        )

    async def run(self) -> None:
        """Talk until the input ends (Ctrl-D) or the user interrupts (Ctrl-C); in text mode
        both end with a short goodbye. Every message's state is stored as it is handled."""
        # No resume: a terminal keeps no inbox, and what waits in its outbox comes with the
        # answer to the first line (after it, as it would between lines).
        lines = self._read_lines()
        if not self.jsonl:
            opening = "/overdrachten" if self.consultant else "/start"
            await self._turn(self._message(text=opening))
            self.courier.start()  # what arrives meanwhile shows up between lines
        try:
            while True:
                if self.interactive and not self.jsonl:
                    self.stdout.write("> ")
                    self.stdout.flush()
                line = await lines.get()
                if line is None:
                    return
                text = read_text_line(line)
                if self.jsonl:
                    await self._on_json_line(text)
                else:
                    await self._turn(self._message(text=text))
        finally:
            self.courier.stop()
            await self.courier.finish()
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

    async def _turn(self, message: IncomingMessage) -> None:
        """Answer one line: a typed number or option word is understood by the assistant
        itself, as in any channel (it knows which options are on screen)."""
        self.transport.in_turn = True
        try:
            await self.courier.turn(message)
        finally:
            self.transport.in_turn = False
        if self.courier.fatal is not None:
            raise self.courier.fatal  # the database cannot be used: stop, naming the fix

    async def _on_json_line(self, text: str) -> None:
        message = self._parse(text)
        if message is None:
            self.transport.gathered.append(Reply(self.assistant.texts.get("invalid_input", "nl")))
        else:
            await self._turn(message)
        self.stdout.write(self.transport.record() + "\n")
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
