"""The terminal channel: a human at a prompt (text mode) or a script speaking JSON lines."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import BinaryIO, TextIO

from sto_bot.assistant import Assistant
from sto_bot.models import ConversationKey, IncomingMessage, Option, Recipient, Reply

CHANNEL = "console"


def format_options(labels: Iterable[str]) -> str:
    """Options as '[1] Ja  [2] Nee': typing the number picks one."""
    return "  ".join(f"[{number}] {label}" for number, label in enumerate(labels, 1))


def read_text_line(line: bytes) -> str:
    """One line of input as text; bytes that are not UTF-8 become replacement characters."""
    return line.decode("utf-8", errors="replace").rstrip("\r\n")


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
    ) -> None:
        self.assistant = assistant
        self.key = ConversationKey(CHANNEL, user)
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.jsonl = jsonl
        self.interactive = interactive
        self._options: tuple[Option, ...] = ()

    async def run(self) -> None:
        """Talk until the input ends."""
        if not self.jsonl:
            self._show(await self.assistant.handle(IncomingMessage(self.key, text="/start")))
        while True:
            if self.interactive and not self.jsonl:
                self.stdout.write("> ")
                self.stdout.flush()
            line = await asyncio.to_thread(self.stdin.readline)
            if not line:
                return
            text = read_text_line(line)
            if self.jsonl:
                await self._on_json_line(text)
            else:
                await self._on_text_line(text)

    async def _on_text_line(self, text: str) -> None:
        stripped = text.strip()
        if stripped.isdigit() and 1 <= int(stripped) <= len(self._options):
            message = IncomingMessage(self.key, choice=self._options[int(stripped) - 1].id)
        else:
            message = IncomingMessage(self.key, text=text)
        self._show(await self.assistant.handle(message))

    def _show(self, replies: list[Reply]) -> None:
        for reply in self._for_consultants(replies):
            self.stdout.write(f"\n{reply.text}\n")
            if reply.options:
                self.stdout.write(format_options(o.label for o in reply.options) + "\n")
                self._options = reply.options
        self.stdout.write("\n")
        self.stdout.flush()

    async def _on_json_line(self, text: str) -> None:
        message = self._parse(text)
        if message is None:
            replies = [Reply(self.assistant.texts.get("invalid_input", "nl"))]
        else:
            replies = self._for_consultants(await self.assistant.handle(message))
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
            return IncomingMessage(self.key, choice=data["choice"])
        if isinstance(data.get("text"), str):
            return IncomingMessage(self.key, text=data["text"])
        return None

    def _for_consultants(self, replies: list[Reply]) -> list[Reply]:
        """Print the consultants' messages on stderr; return the ones meant for the user."""
        for reply in replies:
            if reply.recipient is Recipient.CONSULTANTS:
                self.stderr.write(f"[adviseur] {reply.text}\n")
                self.stderr.flush()
        return [reply for reply in replies if reply.recipient is Recipient.USER]
