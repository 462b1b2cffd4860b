"""Faults of the database the assistant survives, or stops on with one line naming the fix:
a full disk, a damaged or read-only file. (Telegram's faults are in test_telegram_e2e.py.)"""

from __future__ import annotations

import os
import subprocess
from datetime import date
from pathlib import Path

import pytest
from conftest import run_cli

from sto_bot.assistant import Assistant
from sto_bot.dates import fixed_clock
from sto_bot.knowledge import KnowledgeBase
from sto_bot.models import ConversationKey, IncomingMessage
from sto_bot.sqlite_store import SqliteStore

USER = ConversationKey("console", "local")


async def test_a_full_disk_is_told_politely_and_the_assistant_goes_on(
    knowledge: KnowledgeBase, tmp_path: Path
) -> None:
    """SQLITE_FULL (the database may not grow): the user hears it, nothing half-written,
    and once there is room again the same message works."""
    store = await SqliteStore.open(tmp_path / "sto.sqlite3")
    assistant = Assistant(knowledge, store=store, clock=fixed_clock(date(2026, 12, 1)))
    await assistant.handle(IncomingMessage(USER, text="/check"))
    before = await store.load(USER)
    pages = await store._database.run(lambda db: db.execute("PRAGMA page_count").fetchone()[0])
    await store._database.run(lambda db: db.execute(f"PRAGMA max_page_count = {pages}").fetchall())
    long_question = "Wat is een penvoerder? " + "x" * 20_000  # more than the file may grow
    [reply] = await assistant.handle(IncomingMessage(USER, text=long_question))
    assert "niet opslaan" in reply.text
    assert await store.load(USER) == before  # nothing of it was written
    await store._database.run(
        lambda db: db.execute("PRAGMA max_page_count = 1073741823").fetchall()
    )
    replies = await assistant.handle(IncomingMessage(USER, text="een vmbo-school"))
    assert "Vraag 2" in replies[-1].text
    await store.close()


def test_a_damaged_database_stops_with_one_line_naming_the_file_and_the_fix(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sto.sqlite3"
    env = {"STO_BOT_DB": str(path)}
    assert run_cli("chat", stdin=b"wat is een penvoerder\n", env=env).returncode == 0
    assert run_cli("db", "check", env=env).stdout.strip() == b"ok"
    # Overwrite everything after the header page: the file says it is a database, but is not.
    size = path.stat().st_size
    with path.open("r+b") as file:
        file.seek(4096)
        file.write(os.urandom(max(size - 4096, 8192)))
    checked = run_cli("db", "check", env=env)
    assert checked.returncode == 1 and checked.stdout.strip() != b"ok", checked.stdout
    for args in (("chat",), ("db", "export-user", "console:local"), ("handovers", "list")):
        result = run_cli(*args, stdin=b"hallo\n", env=env)
        assert result.returncode == 2, (args, result.stderr)
        lines = result.stderr.decode().strip().splitlines()
        assert len(lines) == 1 and str(path) in lines[0] and "STO_BOT_DB" in lines[0], lines
        assert b"Traceback" not in result.stderr


def _immutable(path: Path, on: bool) -> bool:
    """Make a file unwritable even for root (tests run as root, who ignores mode bits)."""
    flag = "+i" if on else "-i"
    try:
        return subprocess.run(["chattr", flag, str(path)], capture_output=True).returncode == 0
    except FileNotFoundError:
        return False


def test_a_read_only_database_stops_with_one_line_naming_the_file_and_the_fix(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sto.sqlite3"
    env = {"STO_BOT_DB": str(path)}
    assert run_cli("chat", stdin=b"wat is een penvoerder\n", env=env).returncode == 0
    if os.geteuid() != 0:
        path.chmod(0o444)
    elif not _immutable(path, on=True):
        pytest.skip("this file system cannot make a file read-only for root (chattr +i)")
    try:
        assert run_cli("db", "check", env=env).stdout.strip() == b"ok"  # reading still works
        result = run_cli("chat", stdin=b"wanneer kan ik aanvragen\n", env=env)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.decode().strip().splitlines()
        assert len(lines) == 1 and str(path) in lines[0] and "read-only" in lines[0], lines
        assert "STO_BOT_DB" in lines[0] and b"Traceback" not in result.stderr
    finally:
        if os.geteuid() == 0:
            _immutable(path, on=False)  # or tmp_path cannot be cleaned up
        else:
            path.chmod(0o644)
