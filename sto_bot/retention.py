"""Retention: personal data past STO_BOT_RETENTION_DAYS is deleted at start and every hour."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Protocol

from sto_bot.dates import Clock
from sto_bot.models import StoreBroken

log = logging.getLogger(__name__)

PRUNE_EVERY = 3600.0  # seconds: retention is enforced hourly while a process runs


class Prunable(Protocol):
    """A store that deletes what was last touched before a moment (the Store does)."""

    async def prune(self, before: datetime) -> dict[str, int]:
        """Delete personal data last touched before `before`; how many rows went, per table."""
        ...


async def prune(store: Prunable, retention_days: int, clock: Clock) -> dict[str, int]:
    """Delete what is past the retention limit as of `clock`'s today; logs what went."""
    removed = await store.prune(clock() - timedelta(days=retention_days))
    if any(removed.values()):
        counts = ", ".join(f"{table} {count}" for table, count in removed.items() if count)
        log.info("removed personal data past its retention: %s", counts)
    return removed


@contextlib.asynccontextmanager
async def retention(store: Prunable, retention_days: int, clock: Clock) -> AsyncIterator[None]:
    """Prune now and every hour while the body runs; in the background, so that a database
    another process holds locked does not keep the body from starting."""

    async def hourly() -> None:
        while True:
            try:
                await prune(store, retention_days, clock)
            except StoreBroken:
                return  # the channel stops on it with one line naming the fix; not twice
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
