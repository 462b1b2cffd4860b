"""The commands as one table (`knowledge/commands.yaml`): it drives the router, `/help`, the
command menu a channel registers, and the tests.

Each command has a name per language (both always work), aliases, a help line and who may use
it. The code implements the ids in COMMAND_IDS; `kb check` reports one declared that the code
does not know, or one the code needs that is not declared.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from sto_bot.models import LANGUAGES, Language
from sto_bot.yaml_lines import line_of

if TYPE_CHECKING:
    from pathlib import Path

    from sto_bot.shapes import Shapes

# The commands the assistant implements, by id.
COMMAND_IDS = frozenset(
    {
        "start",
        "help",
        "topics",
        "check",
        "result",
        "stop",
        "consultant",
        "cancel",
        "back",
        "language",
        "privacy",
        "forget",
        "my-data",
        "handovers",
        "handover",
        "pick-up",
        "close",
        "reply",
        "reload",
        "stats",
    }
)
# Consultants' commands that are not read without their slash (see `Commands.slashed`).
UNSLASHED = frozenset({"reply"})
# A consultant's command without its slash is a whole message of its name and a number at most:
# "afronden 3 doe ik morgen wel" is a remark to a colleague, not a close.
_BARE_COMMAND = re.compile(r"^(\w+)(?:\s+#?\d+)?$")
# Telegram's rule for a command name, which the other channels accept too.
_NAME = re.compile(r"^[a-z0-9_]{1,32}$")


class Audience(StrEnum):
    """Who may use a command."""

    EVERYONE = "everyone"
    CONSULTANTS = "consultants"
    ADMINS = "admins"


@dataclass(frozen=True, slots=True)
class Command:
    """One command: its names, who may use it, and its line in /help."""

    id: str
    names: Mapping[Language, str]
    aliases: tuple[str, ...]
    audience: Audience
    help: Mapping[Language, str]


@dataclass(frozen=True, slots=True)
class Commands:
    """The command table, looked up by any name or alias."""

    table: tuple[Command, ...]

    def find(self, word: str) -> Command | None:
        """The command `word` names ("onderwerpen", "topics", "help@StoBot"), if any."""
        name = word.split("@", 1)[0].casefold()
        for command in self.table:
            if name in command.names.values() or name in command.aliases:
                return command
        return None

    def language_of(self, text: str) -> Language | None:
        """The language of a typed command whose name differs per language ("/mydata")."""
        # (Aliases say nothing; /help is the same in both: None.) The reply's language after
        # /vergeet has forgotten the conversation's.
        if not text.startswith("/"):
            return None
        name = text[1:].partition(" ")[0].split("@", 1)[0].casefold()
        command = self.find(name)
        if command is None or len(set(command.names.values())) < 2:
            return None
        return next((lang for lang, n in command.names.items() if n == name), None)

    def slashed(self, text: str) -> str:
        """A consultant's command typed whole without its slash ("oppakken 1") as that command."""
        # Not /antwoord: text to a colleague that begins with "antwoord" must not reach a user.
        bare = _BARE_COMMAND.match(text.strip())
        command = self.find(bare.group(1)) if bare else None
        if (
            command is None
            or command.id in UNSLASHED
            or (command.audience is not Audience.CONSULTANTS and command.id != "help")
        ):
            return text
        return f"/{text}"

    def get(self, command_id: str) -> Command:
        """The command with this id (one of COMMAND_IDS)."""
        return next(command for command in self.table if command.id == command_id)

    def name(self, command_id: str, language: Language) -> str:
        """How a command is written in `language`: "/onderwerpen" or "/topics"."""
        return "/" + self.get(command_id).names[language]

    def help_lines(self, language: Language, audience: Audience = Audience.EVERYONE) -> str:
        """One line per command of this audience: "/onderwerpen - Alle onderwerpen…"."""
        return "\n".join(
            f"/{c.names[language]} - {c.help[language]}"
            for c in self.table
            if c.audience is audience
        )

    def menu(self, language: Language) -> list[tuple[str, str]]:
        """(name, description) of everyone's commands, for a channel's command menu."""
        return [
            (c.names[language], c.help[language])
            for c in self.table
            if c.audience is Audience.EVERYONE
        ]


def read_commands(loader: Shapes, path: Path) -> Commands:
    """Parse and validate `commands.yaml`; problems go to the loader with their lines."""
    data = loader.read(path)
    table: list[Command] = []
    if data is None or not loader.keys(path, data, ["commands"]):
        return Commands(())
    seen: dict[str, str] = {}
    required = ["id", "names", "aliases", "for", "help"]
    for item in loader.records(path, data, "commands", "a command", required):
        command_id = loader.identifier(path, item["id"], item.line, "command id")
        names = loader.localized_text(path, item["names"], line_of(item, "names"), "names")
        help_lines = loader.localized_text(path, item["help"], line_of(item, "help"), "help")
        listed = loader.sequence(path, item["aliases"], line_of(item, "aliases"), "aliases")
        aliases = loader.texts(path, listed, "an alias")
        try:
            audience = Audience(item["for"])
        except ValueError:
            allowed = ", ".join(a.value for a in Audience)
            loader.problem(path, line_of(item, "for"), f"'for' must be one of: {allowed}")
            continue
        if command_id is None or len(names) != len(LANGUAGES) or len(help_lines) != len(LANGUAGES):
            continue
        if command_id not in COMMAND_IDS:
            loader.problem(path, item.line, f"command '{command_id}' is not one the code knows")
        for name in {*names.values(), *aliases}:
            if not _NAME.match(name):
                loader.problem(
                    path, item.line, f"'{name}': lower-case letters, digits and _ only, at most 32"
                )
            elif seen.setdefault(name, command_id) != command_id:
                loader.problem(path, item.line, f"'{name}' is already a name of '{seen[name]}'")
        table.append(Command(command_id, names, tuple(aliases), audience, help_lines))
    missing = COMMAND_IDS - {command.id for command in table}
    for command_id in sorted(missing):
        loader.problem(path, data.line, f"command '{command_id}' is missing")
    return Commands(tuple(table))
