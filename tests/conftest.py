"""Shared fixtures: the shipped knowledge, loaded once, assistants built on it, and the store
under both backends (every store test runs against SQLite and the in-memory twin)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from datetime import date
from pathlib import Path

import pytest

from sto_bot.assistant import Assistant
from sto_bot.dates import fixed_clock
from sto_bot.knowledge import KnowledgeBase
from sto_bot.loader import default_knowledge_dir, load_knowledge
from sto_bot.models import Language
from sto_bot.sqlite_store import SqliteStore
from sto_bot.store import MemoryStore, Store

REPOSITORY = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def knowledge() -> KnowledgeBase:
    return load_knowledge(default_knowledge_dir())


@pytest.fixture(params=["sqlite", "memory"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """The store's contract holds for both backends: each test using this runs on each."""
    opened: Store = (
        await SqliteStore.open(tmp_path / "store.sqlite3")
        if request.param == "sqlite"
        else MemoryStore()
    )
    yield opened
    await opened.close()


@pytest.fixture
def make_assistant(knowledge: KnowledgeBase) -> Callable[..., Assistant]:
    def make(today: date = date(2026, 11, 28), language: Language | None = None) -> Assistant:
        return Assistant(knowledge, clock=fixed_clock(today), language=language)

    return make


@pytest.fixture
def assistant(make_assistant: Callable[..., Assistant]) -> Assistant:
    return make_assistant()


def run_cli(
    *args: str,
    stdin: bytes = b"",
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[bytes]:
    """Run the real `sto-bot` entry point in a subprocess, from a neutral folder."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("STO_BOT", "LOG_"))}
    scratch = Path(tempfile.mkdtemp(prefix="sto-bot-test-"))
    environment["STO_BOT_DB"] = str(scratch / "sto-bot.sqlite3")
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        env=environment,
        cwd=cwd or Path("/"),
        timeout=timeout,
        check=False,
    )
