"""`sto-bot stats`: the editors' report, as text, JSON or one HTML page, on a database the
composition root opens."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Protocol

from bot.db_commands import day
from sto_bot.knowledge import KnowledgeBase
from sto_bot.models import ConversationKey
from sto_bot.report_html import report_html
from sto_bot.stats import Activity, Report, read_report, report_text

DEFAULT_WEEKS = 4  # without --since: the last four weeks


class Database(Activity, Protocol):
    """The store, as the report reads it and then lets it go."""

    async def close(self) -> None:
        """Release the store."""
        ...


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`sto-bot stats`: its arguments."""
    stats = commands.add_parser("stats", help="what users asked, missed and rated (for editors)")
    stats.add_argument(
        "--since", type=day, metavar="YYYY-MM-DD", help="first day (default: 4 weeks ago)"
    )
    stats.add_argument("--until", type=day, metavar="YYYY-MM-DD", help="last day (default: today)")
    stats.add_argument("--format", choices=["text", "json", "html"], default="text")
    stats.add_argument("-o", "--output", type=Path, help="write to this file (default: stdout)")


async def report(
    args: argparse.Namespace,
    knowledge: KnowledgeBase,
    open_database: Callable[[], Awaitable[Database]],
    leave_out: frozenset[ConversationKey],
    today: date,
) -> Report:
    """The report for the days the arguments name."""
    until = (args.until or today) + timedelta(days=1)  # the last day counts whole
    since = args.since or until - timedelta(weeks=DEFAULT_WEEKS)
    if since >= until:
        raise ValueError(f"--since {since} is after --until {until - timedelta(days=1)}")
    store = await open_database()
    try:
        return await read_report(store, knowledge, since, until, leave_out)
    finally:
        await store.close()


def write(report_: Report, fmt: str, output: Path | None) -> None:
    """Print the report, or write it to `output`."""
    if fmt == "json":
        text = json.dumps(report_.as_json(), ensure_ascii=False, indent=2) + "\n"
    elif fmt == "html":
        text = report_html(report_)
    else:
        text = report_text(report_)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
