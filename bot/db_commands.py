"""`sto-bot db` for operators: prune, backup, check, export-user. The database itself comes
from the composition root (bot/__main__.py), which alone knows how it is stored."""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

from sto_bot.config import Settings
from sto_bot.dates import fixed_clock, system_clock
from sto_bot.models import ConversationKey
from sto_bot.retention import prune


class DatabaseError(Exception):
    """The database cannot be used; the message names the file and the fix."""


class Database(Protocol):
    """What the operators' commands need of the store."""

    async def prune(self, before: datetime) -> dict[str, int]:
        """Delete personal data last touched before `before`; how many went, per table."""
        ...

    async def backup(self, target: Path) -> None:
        """A consistent copy in `target`, also while others write."""
        ...

    async def export(self, key: ConversationKey) -> dict[str, list[dict[str, Any]]]:
        """Everything stored about a conversation, per table."""
        ...

    async def close(self) -> None:
        """Release the database."""
        ...


def day(text: str) -> date:
    """A --today argument: a date like 2026-11-28."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date like 2026-11-28") from None


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`sto-bot db …`: its subcommands and their arguments."""
    db = commands.add_parser("db", help="retention, backups, integrity and one user's data")
    sub = db.add_subparsers(dest="db_command", required=True, metavar="DB_COMMAND")
    prune = sub.add_parser("prune", help="delete personal data past STO_BOT_RETENTION_DAYS")
    prune.add_argument("--today", type=day, metavar="YYYY-MM-DD", help="prune as of this day")
    backup = sub.add_parser("backup", help="a consistent copy, also while the bot runs")
    backup.add_argument("file", type=Path, metavar="FILE")
    sub.add_parser("check", help="SQLite's integrity check")
    export = sub.add_parser("export-user", help="everything stored about one user, as JSON")
    export.add_argument("user", metavar="ID", help="a Telegram chat id, or channel:id")


async def run(
    args: argparse.Namespace,
    settings: Settings,
    open_database: Callable[[], Awaitable[Database]],
    integrity: Callable[[Path], list[str]],
) -> int:
    """Run one `sto-bot db` command on the database `open_database` opens (`integrity`
    checks a file without opening it for writing); returns the exit code."""
    if args.db_command == "backup" and args.file.exists():
        raise DatabaseError(f"{args.file} exists already: name a new file for the backup")
    if args.db_command == "check":  # read-only: a damaged file is reported, not refused
        problems = await asyncio.to_thread(integrity, settings.database)
        print("\n".join(problems))
        return 0 if problems == ["ok"] else 1
    store = await open_database()
    try:
        if args.db_command == "prune":
            clock = fixed_clock(args.today) if args.today else system_clock
            removed = await prune(store, settings.retention_days, clock)
            print(", ".join(f"{table}: {count}" for table, count in removed.items()))
            return 0
        if args.db_command == "backup":
            try:
                await store.backup(args.file)
            except (OSError, sqlite3.Error) as error:
                raise DatabaseError(
                    f"cannot write the backup to {args.file}: {error} (does its folder exist?)"
                ) from None
            print(f"backed up {settings.database} to {args.file}")
            return 0
        key = user_key(args.user)
        stored = await store.export(key)
        if not any(stored.values()):
            print(f"sto-bot: nothing is stored about {key}", file=sys.stderr)
        json.dump({"conversation": str(key), **stored}, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return 0
    finally:
        await store.close()


def user_key(text: str) -> ConversationKey:
    """The conversation an operator names: "4343" is Telegram's chat 4343."""
    channel, colon, chat_id = text.strip().partition(":")
    if not colon:
        channel, chat_id = "telegram", channel
    telegram_id = chat_id.lstrip("-").isdigit()
    if not channel or not chat_id or (channel == "telegram" and not telegram_id):
        raise DatabaseError(
            f"'{text}' is not a user: give a Telegram chat id (digits) or channel:id, "
            "e.g. console:local"
        )
    return ConversationKey(channel, chat_id)
