"""SQLite through the standard library: the schema and its migrations, one writing connection
on its own thread, a reading connection, and errors sorted into what a caller can act on."""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from sto_bot.models import StoreBroken, StoreFull

log = logging.getLogger(__name__)

# One entry per schema version; a database at version N runs the scripts after N in order.
MIGRATIONS: Sequence[str] = (
    """
    CREATE TABLE conversations (
        key TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX events_by_key ON events (key, id);
    CREATE INDEX events_by_time ON events (at);
    CREATE TABLE check_results (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL,
        at TEXT NOT NULL,
        outcome TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX check_results_by_key ON check_results (key, id);
    """,
    """
    CREATE TABLE inbox (
        update_id INTEGER PRIMARY KEY,
        key TEXT NOT NULL,
        payload TEXT NOT NULL,
        received_at TEXT NOT NULL,
        handled INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX inbox_unhandled ON inbox (handled, update_id);
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        error TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX outbox_pending ON outbox (status, id);
    """,
    """
    ALTER TABLE outbox ADD COLUMN recipient TEXT NOT NULL DEFAULT 'user';
    CREATE TABLE handovers (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at TEXT NOT NULL,
        data TEXT NOT NULL,
        summary TEXT NOT NULL,
        remind_at TEXT,
        reminded_at TEXT,
        picked_up_at TEXT,
        picked_up_by TEXT,
        closed_at TEXT,
        closed_by TEXT
    );
    CREATE INDEX handovers_by_key ON handovers (key, status);
    CREATE INDEX handovers_by_status ON handovers (status, id);
    CREATE TABLE handover_thread (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        handover INTEGER NOT NULL REFERENCES handovers (id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        at TEXT NOT NULL,
        author TEXT NOT NULL,
        text TEXT NOT NULL
    );
    CREATE INDEX handover_thread_by_handover ON handover_thread (handover, id);
    CREATE TABLE handover_messages (
        message_id TEXT PRIMARY KEY,
        handover INTEGER NOT NULL REFERENCES handovers (id) ON DELETE CASCADE,
        key TEXT NOT NULL
    );
    """,
    # Privacy (issue 11): what a handled update or a sent reply said is not kept; a reply to
    # the consultants names the handover it tells of, so /vergeet finds it; retention by time.
    """
    ALTER TABLE outbox ADD COLUMN about INTEGER;
    CREATE INDEX outbox_about ON outbox (about);
    ALTER TABLE handover_messages ADD COLUMN sent_at TEXT;
    CREATE INDEX conversations_by_time ON conversations (updated_at);
    CREATE INDEX inbox_by_time ON inbox (received_at);
    CREATE INDEX outbox_by_time ON outbox (created_at);
    CREATE INDEX handovers_by_closing ON handovers (closed_at);
    UPDATE outbox SET about = json_extract(payload, '$.thread') WHERE status = 'pending';
    UPDATE inbox SET payload = '' WHERE handled = 1;
    UPDATE outbox SET payload = '' WHERE status != 'pending';
    """,
    # Issue 12: a handover's number is reserved before its summary is made, so no feature code
    # runs inside a transaction; the counter goes on from the handovers' own.
    """
    CREATE TABLE handover_numbers (id INTEGER PRIMARY KEY AUTOINCREMENT);
    INSERT INTO handover_numbers (id) SELECT seq FROM sqlite_sequence WHERE name = 'handovers';
    DELETE FROM handover_numbers;
    """,
)

TRUNCATE_LOG = "PRAGMA wal_checkpoint(TRUNCATE)"
BUSY_TIMEOUT_MS = 5000  # how long a write waits for another process's lock before retrying


def integrity(path: Path) -> list[str]:
    """SQLite's integrity check of a database file, opened read-only (nothing is created,
    migrated or repaired): ["ok"], or the problems found."""
    if not path.is_file():
        return [f"there is no database file at {path}"]
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return [str(row[0]) for row in connection.execute("PRAGMA integrity_check")]
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        return [f"{path}: {error}"]


def _try_truncate(db: sqlite3.Connection) -> tuple[int, int, int]:
    """One try to empty the log, without waiting for readers (the busy time-out would hold up
    every other write for 5 s a try); (busy, log pages, pages checkpointed)."""
    db.execute("PRAGMA busy_timeout=0")
    try:
        # The result row is read: an unread statement would stay open on the writing
        # connection and make the next commit fail.
        busy, pages, done = db.execute(TRUNCATE_LOG).fetchall()[0]
    finally:
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return int(busy), int(pages), int(done)


_T = TypeVar("_T")


class Database:
    """Two connections to one file: reads run at once in the caller's thread (in WAL mode a
    reader never waits for a writer, and a read takes microseconds), writes run one at a time
    on the database's own thread, so a write waiting for another process's lock never blocks
    the event loop."""

    def __init__(self, writer: _Writer, reader: sqlite3.Connection, path: Path) -> None:
        self._writer = writer
        self._reader = reader
        self._path = path

    @classmethod
    async def open(cls, path: Path) -> Database:
        """Connect (creating or migrating the file first) for writing and for reading."""
        writer = _Writer(path)
        try:
            await writer.start(lambda: _connect(path))
            reader = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            reader.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            reader.execute("PRAGMA query_only=ON")
        except BaseException:
            await writer.stop()
            raise
        return cls(writer, reader, path)

    async def run(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run `work` with the writing connection on the database thread."""
        return await self._writer.submit(work)

    async def transaction(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run `work` in one write transaction: all of it is stored, or none."""
        return await self._writer.submit(lambda db: _in_transaction(db, work))

    def read(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run `work` with the reading connection (it must read every row it asks for, so that
        no statement stays open and holds a snapshot)."""
        try:
            return work(self._reader)
        except sqlite3.DatabaseError as error:
            raise _classified(error, self._path) from error

    def one(self, sql: str, parameters: tuple[str | int | None, ...]) -> Any:
        """The first row of a query, or None."""
        rows = self.all(sql, parameters)
        return rows[0] if rows else None

    def all(self, sql: str, parameters: tuple[str | int | None, ...]) -> list[Any]:
        """Every row of a query."""
        return self.read(lambda db: db.execute(sql, parameters).fetchall())

    def backup(self, target: Path) -> None:
        """Copy the database into `target` (a new file) in one consistent snapshot."""
        source = sqlite3.connect(self._path)
        try:
            copy = sqlite3.connect(target)
            try:
                source.backup(copy)
            finally:
                copy.close()
        finally:
            source.close()

    async def truncate_log(self) -> None:
        """Copy the write-ahead log into the (zeroed) database file and empty it, so that no
        deleted row survives in it; waits, retrying, while a reader still holds old pages."""
        delay = 0.05
        waited = 0.0
        while True:
            busy, _, _ = await self.run(_try_truncate)
            if not busy:
                return
            if not waited:
                log.warning("a reader holds the database; retrying to empty its log")
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, 1.0)

    async def close(self) -> None:
        """Close both connections and end the thread."""
        self._reader.close()
        await self._writer.submit(lambda db: db.close())
        await self._writer.stop()


class _Writer:
    """A thread that owns the writing connection and runs submitted work in order. Lighter
    than an executor: one queue put and one loop wake-up per call."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path  # named in the errors that say what to do
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._connection: sqlite3.Connection | None = None
        self._thread = threading.Thread(target=self._serve, name="sto-bot-sqlite", daemon=True)

    async def start(self, connect: Callable[[], sqlite3.Connection]) -> None:
        """Start the thread and open the connection on it."""
        self._thread.start()

        def opened(_: sqlite3.Connection | None) -> None:
            self._connection = connect()

        await self._call(opened)

    async def submit(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run `work` with the connection on the thread; its result or exception."""
        return await self._call(lambda _: work(self._connection))  # type: ignore[arg-type]

    async def stop(self) -> None:
        """End the thread once the work before this call is done."""
        if self._thread.is_alive():
            self._jobs.put(None)
            await asyncio.to_thread(self._thread.join)

    def _call(self, work: Callable[[sqlite3.Connection | None], _T]) -> asyncio.Future[_T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_T] = loop.create_future()
        self._jobs.put((loop, future, work))
        return future

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            loop, future, work = job
            try:
                outcome = _patiently(work, self._connection)
            except sqlite3.DatabaseError as error:
                loop.call_soon_threadsafe(_settle, future, None, _classified(error, self.path))
            except BaseException as error:  # handed to the waiting coroutine
                loop.call_soon_threadsafe(_settle, future, None, error)
            else:
                loop.call_soon_threadsafe(_settle, future, outcome, None)


_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[[Any], Any]]
LOCK_RETRY_MAX = 2.0  # seconds between tries while another process holds the write lock


def _patiently(work: Callable[[Any], _T], connection: sqlite3.Connection | None) -> _T:
    """Run `work`; while another process holds the write lock beyond busy_timeout, wait and
    try again (said once in the log), however long it takes: a lock is no reason to stop."""
    delay = 0.1
    told = False
    while True:
        try:
            return work(connection)
        except sqlite3.OperationalError as error:
            if not _locked(error):
                raise
            if not told:
                log.warning("the database is locked by another process; waiting for it")
                told = True
            time.sleep(delay)  # the database thread's own time: the event loop goes on
            delay = min(delay * 2, LOCK_RETRY_MAX)


# SQLite's result codes for a file that cannot be used as it is.
_BROKEN = {
    11: "is damaged (malformed)",
    26: "is not a database",
    8: "is read-only",
    10: "cannot be read or written",
}


def _classified(error: sqlite3.DatabaseError, path: Path | None) -> Exception:
    """A database error as what it means for the bot: the disk is full (try again later),
    the file is broken or read-only (stop, with the fix), or any other error as it is."""
    code = getattr(error, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary == 13 or "disk is full" in str(error):
        return StoreFull(f"the disk of {path} is full")
    if primary in _BROKEN:
        return StoreBroken(
            f"the database {path} {_BROKEN[primary]} ({error}): check it with `sto-bot db check`, "
            "restore a backup or point STO_BOT_DB at a writable file"
        )
    return error


def _locked(error: sqlite3.OperationalError) -> bool:
    """Whether an error means the database was busy (locked by another connection)."""
    code = getattr(error, "sqlite_errorcode", None)
    busy = (sqlite3.SQLITE_BUSY, getattr(sqlite3, "SQLITE_LOCKED", 6))
    return code in busy or "database is locked" in str(error)


def _settle(future: asyncio.Future[Any], outcome: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return  # the caller stopped waiting; the work itself was done (or failed) anyway
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(outcome)


def _in_transaction(db: sqlite3.Connection, work: Callable[[sqlite3.Connection], _T]) -> _T:
    # IMMEDIATE takes the write lock up front: another process writing at the same time
    # (the console consultant, `sto-bot handovers`) makes us wait, never fail half-way.
    db.execute("BEGIN IMMEDIATE")
    try:
        outcome = work(db)
    except BaseException:
        db.rollback()
        raise
    db.commit()
    return outcome


def _connect(path: Path) -> sqlite3.Connection:
    # Autocommit mode: transactions are begun explicitly by _in_transaction.
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        connection.execute("PRAGMA foreign_keys=ON")
        # Deleted rows are overwritten with zeros, so /vergeet leaves no readable trace.
        connection.execute("PRAGMA secure_delete=ON")
        _migrate(connection)
    except BaseException:
        connection.close()
        raise
    return connection


def _migrate(connection: sqlite3.Connection) -> None:
    version = int(connection.execute("PRAGMA user_version").fetchone()[0])
    if version > len(MIGRATIONS):
        raise RuntimeError(
            f"the database is at schema version {version}, newer than this program "
            f"({len(MIGRATIONS)}): upgrade sto-bot or point STO_BOT_DB at another file"
        )
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        log.info("migrating the database to schema version %d", number)
        connection.executescript(f"BEGIN; {script} PRAGMA user_version = {number}; COMMIT;")
