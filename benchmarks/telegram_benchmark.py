"""Updates per second of `sto-bot run` beside a minimal PTB echo bot, both on a fake Bot API.

Run from the repository root with the project's virtual environment:

    .venv/bin/python benchmarks/telegram_benchmark.py [--updates N] [--chats M] [--min-ratio R]

Each contestant runs as its own subprocess against its own fresh `FakeTelegram` (from
tests/fake_telegram.py), which holds all N text updates before the bot starts. Prints a Markdown
results table; exits 1 when `sto-bot run` reaches less than R times the echo bot's rate, 2 when
a bot failed, timed out or answered wrongly.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import cycle, islice
from pathlib import Path

import yaml

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY / "tests"))
from fake_telegram import Call, FakeTelegram  # noqa: E402 (found through the path above)

QUESTIONS_FILE = REPOSITORY / "knowledge" / "eval" / "questions.yaml"
TOKEN = "123456789:benchmark-token"
FIRST_CHAT = 700_001
POLL_SECONDS = 0.05  # how often the benchmark looks at the fake while a bot works
START_POLL_SECONDS = 0.005  # ... and while it starts, to read its CPU time close to the start
QUIET_SECONDS = 0.5  # no new sendMessage for this long: the bot has finished
STOP_SECONDS = 15.0
EXIT_TOO_SLOW = 1
EXIT_BROKEN = 2

# The standard PTB 22 echo bot (as in PTB's own examples), written to a file at run time.
ECHO_BOT = '''\
"""A minimal python-telegram-bot echo bot."""

import logging
import os

from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters

logging.basicConfig(
    format="%(asctime)s - %(name)s - %(levelname)s - %(message)s", level=logging.INFO
)
logging.getLogger("httpx").setLevel(logging.WARNING)


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.message.reply_text(update.message.text)


def main() -> None:
    api = os.environ["TELEGRAM_API_URL"]
    token = os.environ["TELEGRAM_BOT_TOKEN"]
    application = Application.builder().token(token).base_url(f"{api}/bot").build()
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    application.run_polling(allowed_updates=Update.ALL_TYPES)


if __name__ == "__main__":
    main()
'''


class BrokenRun(Exception):
    """A bot failed, timed out, or did not answer every update as expected."""


@dataclass(frozen=True, slots=True)
class Workload:
    """The updates pushed into the fake: one (chat id, text) pair per update."""

    messages: tuple[tuple[int, str], ...]

    def per_chat(self) -> Counter[int]:
        """How many updates each chat sends."""
        return Counter(chat for chat, _ in self.messages)

    def texts(self) -> dict[int, list[str]]:
        """Each chat's texts, in the order they are sent."""
        texts: dict[int, list[str]] = {}
        for chat, text in self.messages:
            texts.setdefault(chat, []).append(text)
        return texts


@dataclass(frozen=True, slots=True)
class Result:
    """One contestant's run: timings from the fake's recorded calls."""

    name: str
    updates: int
    replies: int
    startup: float  # process start until its first getUpdates arrives
    seconds: float  # first getUpdates until the last reply arrives
    cpu: float | None  # the bot's CPU seconds (user + system) over the same stretch
    note: str

    @property
    def rate(self) -> float:
        """Updates answered per second."""
        return self.updates / self.seconds

    def cpu_ms(self) -> str:
        """The bot's CPU milliseconds per update, or a dash where /proc is missing."""
        return "–" if self.cpu is None else f"{1000 * self.cpu / self.updates:.1f}"


@dataclass(frozen=True, slots=True)
class Run:
    """What the fake saw during one contestant's run, and the bot's CPU time."""

    replies: list[Call]
    startup: float
    seconds: float
    cpu: float | None


def build_workload(updates: int, chats: int, path: Path = QUESTIONS_FILE) -> Workload:
    """`updates` questions from the eval file (cycled), spread round-robin over `chats` chats."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    questions = [" ".join(str(item["q"]).split()) for item in data["questions"]]
    if not questions:
        raise BrokenRun(f"no questions found in {path}")
    texts = islice(cycle(questions), updates)
    return Workload(tuple((FIRST_CHAT + i % chats, text) for i, text in enumerate(texts)))


def replies_per_chat(replies: Sequence[Call]) -> Counter[int]:
    """Successful sendMessage calls counted per chat."""
    return Counter(int(call.params["chat_id"]) for call in replies if call.ok)


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU seconds of a running process, from /proc (None elsewhere)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until(
    condition: Callable[[], bool],
    process: subprocess.Popen[bytes],
    deadline: float,
    what: str,
    interval: float = POLL_SECONDS,
) -> None:
    """Poll `condition` until it holds; BrokenRun if the bot exits or the deadline passes."""
    while not condition():
        if process.poll() is not None:
            raise BrokenRun(f"the bot exited with {process.returncode} while {what}")
        if time.monotonic() > deadline:
            raise BrokenRun(f"timed out while {what}")
        time.sleep(interval)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as a process manager stops a bot; SIGKILL if it does not end in time."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def log_tail(path: Path, lines: int = 15) -> str:
    """The end of a bot's log, for error messages."""
    if not path.exists():
        return ""
    tail = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    return "\n".join(tail)


def run_bot(
    command: Sequence[str],
    env: Mapping[str, str],
    workload: Workload,
    workdir: Path,
    timeout: float,
) -> Run:
    """Push the workload into a fresh fake, start the bot, time it until every chat is answered.

    The clock runs from the arrival of the first getUpdates (start-up done) to the arrival of
    the last successful sendMessage, both as recorded by the fake. The bot is done when every
    chat has at least as many successful replies as it sent updates, every update is confirmed
    (the getUpdates offset is past the last one) and no sendMessage arrived for QUIET_SECONDS.
    """
    expected = workload.per_chat()
    log = workdir / "bot.log"
    with FakeTelegram(token=TOKEN) as fake:
        last_update_id = 0
        for chat, text in workload.messages:
            last_update_id = int(fake.push_text(chat, text, first_name="Directeur")["update_id"])
        full_env = {**env, "TELEGRAM_API_URL": fake.url, "TELEGRAM_BOT_TOKEN": TOKEN}
        with log.open("wb") as output:
            launched = time.monotonic()
            process = subprocess.Popen(
                list(command),
                cwd=workdir,
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
            try:
                deadline = launched + timeout

                def answered() -> bool:
                    done = replies_per_chat(fake.calls("sendMessage"))
                    everyone = all(done[chat] >= count for chat, count in expected.items())
                    return everyone and fake.confirmed_offset > last_update_id

                def polling() -> bool:
                    return bool(fake.calls("getUpdates"))

                wait_until(polling, process, deadline, "starting", START_POLL_SECONDS)
                cpu_start = cpu_seconds(process.pid)
                wait_until(answered, process, deadline, "answering")
                seen = [len(fake.calls("sendMessage"))]
                quiet_since = [time.monotonic()]

                def quiet() -> bool:
                    calls = fake.calls("sendMessage")
                    if len(calls) != seen[0] or any(call.status is None for call in calls):
                        seen[0], quiet_since[0] = len(calls), time.monotonic()
                    return time.monotonic() - quiet_since[0] >= QUIET_SECONDS

                wait_until(quiet, process, deadline + QUIET_SECONDS * 4, "finishing")
                cpu_end = cpu_seconds(process.pid)
            except BrokenRun as error:
                stop(process)
                raise BrokenRun(f"{error}\n{log_tail(log)}") from None
            finally:
                stop(process)
        replies = [call for call in fake.calls("sendMessage") if call.ok]
        first_poll = fake.calls("getUpdates")[0].at
    cpu = None if cpu_start is None or cpu_end is None else cpu_end - cpu_start
    seconds = max(call.at for call in replies) - first_poll
    return Run(replies, first_poll - launched, seconds, cpu)


def bot_env(database: Path | None = None) -> dict[str, str]:
    """The environment for a bot subprocess: ours, without settings that change what it does."""
    env = dict(os.environ)
    for name in (
        "STO_BOT_KNOWLEDGE",
        "WEBHOOK_URL",
        "WEBHOOK_SECRET",
        "CONSULTANT_CHAT_ID",
        "LOG_LEVEL",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        env.pop(name, None)
    if database is not None:
        env["STO_BOT_DB"] = str(database)
    return env


def database_summary(database: Path, updates: int) -> str:
    """Check the SQLite inbox and outbox after the run; the question statuses as a note."""
    connection = sqlite3.connect(database)
    try:
        received, handled = connection.execute(
            "SELECT count(*), coalesce(sum(handled), 0) FROM inbox"
        ).fetchone()
        outbox = dict(connection.execute("SELECT status, count(*) FROM outbox GROUP BY status"))
        statuses: Counter[str] = Counter(
            str(json.loads(data).get("status"))
            for (data,) in connection.execute("SELECT data FROM events WHERE kind = 'question'")
        )
    finally:
        connection.close()
    if received != updates or handled != updates:
        raise BrokenRun(f"the inbox holds {received} updates, {handled} handled; want {updates}")
    if set(outbox) != {"sent"}:
        raise BrokenRun(f"the outbox is not fully delivered: {outbox}")
    counts = ", ".join(f"{n} {status}" for status, n in statuses.most_common())
    return f"SQLite: {received} in inbox, all handled; {outbox['sent']} replies sent; {counts}"


def run_sto_bot(workload: Workload, timeout: float) -> Result:
    """Contestant A: the real `sto-bot run` on a fresh SQLite file."""
    with tempfile.TemporaryDirectory(prefix="sto-bot-bench-") as folder:
        workdir = Path(folder)
        database = workdir / "sto-bot.sqlite3"
        command = [sys.executable, "-m", "bot", "run"]
        run = run_bot(command, bot_env(database), workload, workdir, timeout)
        note = database_summary(database, len(workload.messages))
    name = "`sto-bot run` (SQLite, real answers)"
    updates = len(workload.messages)
    return Result(name, updates, len(run.replies), run.startup, run.seconds, run.cpu, note)


def run_echo_bot(workload: Workload, timeout: float) -> Result:
    """Contestant B: the minimal PTB echo bot; every reply must repeat its update's text."""
    with tempfile.TemporaryDirectory(prefix="ptb-echo-bench-") as folder:
        workdir = Path(folder)
        script = workdir / "echo_bot.py"
        script.write_text(ECHO_BOT, encoding="utf-8")
        run = run_bot([sys.executable, str(script)], bot_env(), workload, workdir, timeout)
    echoed: dict[int, list[str]] = {}
    for call in run.replies:
        echoed.setdefault(int(call.params["chat_id"]), []).append(str(call.params["text"]))
    if echoed != workload.texts():
        raise BrokenRun("the echo bot's replies do not repeat the updates' texts in order")
    name = "minimal PTB echo bot (`Application.run_polling`)"
    updates = len(workload.messages)
    note = "every reply repeats its update's text, in order per chat"
    return Result(name, updates, len(run.replies), run.startup, run.seconds, run.cpu, note)


def report(results: Sequence[Result], chats: int, min_ratio: float, load: float) -> str:
    """The results as a Markdown table, the ratio against the echo bot last."""
    echo = results[-1]
    lines = [
        f"{echo.updates} text updates from {chats} chats, queued before start-up; timed from the"
        f" first getUpdates to the last reply (1-minute load average at the start: {load:.2f})",
        "",
        "| contestant | updates | replies sent | start-up (s) | seconds | updates/s"
        " | ratio | bot CPU (ms/update) |",
        "|:---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        lines.append(
            f"| {result.name} | {result.updates:,} | {result.replies:,} | {result.startup:.2f}"
            f" | {result.seconds:.2f} | {result.rate:,.0f} | {result.rate / echo.rate:.2f}"
            f" | {result.cpu_ms()} |"
        )
    ratio = results[0].rate / echo.rate
    verdict = "pass" if ratio >= min_ratio else "FAIL"
    lines += ["", f"Ratio A/B {ratio:.2f} (minimum {min_ratio:.2f}): {verdict}", ""]
    lines += [f"- {result.name}: {result.note}" for result in results]
    return "\n".join(lines)


def positive_int(text: str) -> int:
    """An argparse type for a whole number of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not at least 1")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--updates", type=positive_int, default=1000, metavar="N")
    parser.add_argument("--chats", type=positive_int, default=50, metavar="M")
    parser.add_argument("--min-ratio", type=float, default=0.7, metavar="R")
    parser.add_argument("--timeout", type=float, default=300.0, metavar="S", help="per bot")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]  # a busy machine slows the one-update-at-a-time echo bot most
    try:
        workload = build_workload(args.updates, args.chats)
        results = [
            run_sto_bot(workload, args.timeout),
            run_echo_bot(workload, args.timeout),
        ]
    except BrokenRun as error:
        print(f"telegram_benchmark: {error}", file=sys.stderr)
        return EXIT_BROKEN
    print(report(results, len(workload.per_chat()), args.min_ratio, load))
    ratio = results[0].rate / results[1].rate
    return EXIT_TOO_SLOW if ratio < args.min_ratio else 0


if __name__ == "__main__":
    raise SystemExit(main())
