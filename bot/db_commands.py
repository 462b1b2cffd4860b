"""The database from the command line: opening it with retention, and `sto-bot db` (prune,
backup, check, export-user) for operators."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sqlite3
import sys
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

from sto_bot.config import Settings
from sto_bot.dates import Clock, fixed_clock, system_clock
from sto_bot.models import ConversationKey
from sto_bot.store import SqliteStore, StoreBroken, StoreFull, integrity

log = logging.getLogger(__name__)

PRUNE_EVERY = 3600.0  # seconds: retention is enforced hourly while a process runs


class DatabaseError(Exception):
    """The database cannot be used; the message names the file and the fix."""


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


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run one `sto-bot db` command; returns the exit code."""
    if args.db_command == "backup" and args.file.exists():
        raise DatabaseError(f"{args.file} exists already: name a new file for the backup")
    if args.db_command == "check":  # read-only: a damaged file is reported, not refused
        problems = await asyncio.to_thread(integrity, settings.database)
        print("\n".join(problems))
        return 0 if problems == ["ok"] else 1
    store = await open_store(settings)
    try:
        if args.db_command == "prune":
            clock = fixed_clock(args.today) if args.today else system_clock
            removed = await prune(store, settings, clock)
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


async def open_store(settings: Settings) -> SqliteStore:
    """Open (create, migrate) the database of STO_BOT_DB, with a clear error if it cannot."""
    try:
        return await SqliteStore.open(settings.database)
    except StoreBroken as error:
        raise DatabaseError(str(error)) from None
    except (OSError, sqlite3.Error, RuntimeError, StoreFull) as error:
        raise DatabaseError(
            f"cannot open the database {settings.database}: {error} "
            "(set STO_BOT_DB to a writable file)"
        ) from None


async def prune(store: SqliteStore, settings: Settings, clock: Clock) -> dict[str, int]:
    """Delete what is past the retention limit as of `clock`'s today; logs what went."""
    removed = await store.prune(clock() - timedelta(days=settings.retention_days))
    if any(removed.values()):
        counts = ", ".join(f"{table} {count}" for table, count in removed.items() if count)
        log.info("removed personal data past its retention: %s", counts)
    return removed


@contextlib.asynccontextmanager
async def retention(store: SqliteStore, settings: Settings, clock: Clock) -> AsyncIterator[None]:
    """Prune now and every hour while the body runs; in the background, so that a database
    another process holds locked does not keep the body from starting."""

    async def hourly() -> None:
        while True:
            try:
                await prune(store, settings, clock)
            except Exception as error:  # retention must never stop the bot
                log.error("could not prune the database: %r", error)
            await asyncio.sleep(PRUNE_EVERY)

    task = asyncio.create_task(hourly())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
