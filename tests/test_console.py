"""The terminal channel, driven by fed lines: text mode for people, JSON lines for scripts."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from conftest import run_cli

from bot.console import CONSOLE_CONSULTANT, CONSULTANTS_CHAT, ConsoleChat
from sto_bot.assistant import Assistant
from sto_bot.handover import Consultants
from sto_bot.knowledge import KnowledgeBase
from sto_bot.sqlite_store import SqliteStore


async def chat(assistant: Assistant, data: bytes, jsonl: bool) -> tuple[str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    console = ConsoleChat(
        assistant, "tester", stdin=io.BytesIO(data), stdout=stdout, stderr=stderr, jsonl=jsonl
    )
    await console.run()
    return stdout.getvalue(), stderr.getvalue()


async def test_text_mode_welcomes_answers_and_numbers_pick_options(assistant: Assistant) -> None:
    out, _ = await chat(assistant, b"Wat is een penvoerder?\n1\n", jsonl=False)
    assert out.index("Welkom") < out.index("bevoegd gezag")
    assert "[1] " in out and "Bron: " in out
    # "1" picked the first follow-up, so its answer follows the penvoerder answer.
    assert out.count("Bron: ") == 2


async def test_text_mode_survives_invalid_utf8_and_control_characters(
    assistant: Assistant,
) -> None:
    out, _ = await chat(assistant, b"\xff\xfe\x00\x1b[31m\nwat is een penvoerder\n", jsonl=False)
    assert "bevoegd gezag" in out


async def test_jsonl_writes_exactly_one_line_per_input_line(assistant: Assistant) -> None:
    lines = [
        {"text": "Wat is een penvoerder?"},
        {"text": "/onderwerpen"},
        {"choice": "topic:budget"},
        {"choice": "ask:cofinanciering"},
        {"text": ""},
    ]
    data = "".join(json.dumps(line) + "\n" for line in lines).encode()
    out, _ = await chat(assistant, data, jsonl=True)
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == len(lines)
    assert "bevoegd gezag" in records[0]["replies"][0]["text"]
    assert {"id": "topic:budget", "label": "Budget en cofinanciering"} in records[1]["replies"][0][
        "options"
    ]
    assert "10%" in records[3]["replies"][0]["text"].replace(" %", "%")


async def test_jsonl_answers_bad_lines_without_stopping(assistant: Assistant) -> None:
    data = b'not json\n[1, 2]\n{"other": 1}\n\xff\n{"text": "Wat is een penvoerder?"}\n'
    out, _ = await chat(assistant, data, jsonl=True)
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 5
    assert all("JSON" in record["replies"][0]["text"] for record in records[:4])
    assert "bevoegd gezag" in records[4]["replies"][0]["text"]


def test_the_real_chat_command_answers_from_any_directory() -> None:
    result = run_cli("chat", "--jsonl", stdin=b'{"text": "Wat is een penvoerder?"}\n')
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.decode().splitlines()
    text = json.loads(line)["replies"][0]["text"]
    assert "bevoegd gezag" in text and "Bron: " in text


async def test_a_user_console_and_a_consultant_console_share_a_handover(
    knowledge: KnowledgeBase, tmp_path: Path
) -> None:
    """`chat` hands over (the summary on stderr as [adviseur]); `chat --consultant` on the
    same database picks it up and answers; the user's console shows the answer."""
    path = tmp_path / "shared.sqlite3"

    async def console(lines: list[str], consultant: str | None = None) -> tuple[str, str]:
        store = await SqliteStore.open(path)
        consultants = Consultants(ids=frozenset({CONSOLE_CONSULTANT}), chat=CONSULTANTS_CHAT)
        assistant = Assistant(knowledge, store=store, consultants=consultants)
        stdout, stderr = io.StringIO(), io.StringIO()
        data = "".join(line + "\n" for line in lines).encode()
        chat = ConsoleChat(
            assistant,
            "jan",
            stdin=io.BytesIO(data),
            stdout=stdout,
            stderr=stderr,
            jsonl=consultant is None,
            consultant=consultant,
        )
        await chat.run()
        await store.close()
        return stdout.getvalue(), stderr.getvalue()

    steps = ['{"text": "/adviseur"}', '{"choice": "ho:yes"}', *['{"choice": "ho:skip"}'] * 4]
    out, err = await console([*steps, '{"text": "Kan ik <dit> & *dat*?"}'])
    assert len(out.splitlines()) == 7
    assert err.startswith("[adviseur] Overdracht #1: jan") and "Kan ik <dit> & *dat*?" in err

    out, _ = await console(["/oppakken 1", "/antwoord 1 Hallo Jan!"], consultant="Anna Bakker")
    assert "Overdracht #1: jan" in out and "opgepakt door Anna" in out
    assert "Doorgestuurd naar jan (#1)" in out

    out, err = await console(['{"text": "Dank u!"}'])
    texts = [reply["text"] for reply in json.loads(out)["replies"]]
    assert texts[-1] == "Anna (adviseur): Hallo Jan!"
    assert "[adviseur] #1, jan: Dank u!" in err


def test_handovers_are_exported_with_their_status_and_times(tmp_path: Path) -> None:
    """Acceptance: `sto-bot handovers export --format csv` lists handovers, status, times."""
    env = {"STO_BOT_DB": str(tmp_path / "export.sqlite3")}
    lines = ['{"text": "/adviseur"}', '{"choice": "ho:yes"}', '{"text": "Het College, Zwolle"}']
    lines += ['{"choice": "ho:skip"}'] * 3 + ['{"text": "Wie is onze \\"penvoerder\\"?"}']
    chat = run_cli("chat", "--jsonl", "--user", "piet", stdin="\n".join(lines).encode(), env=env)
    assert chat.returncode == 0, chat.stderr
    exported = run_cli("handovers", "export", "--format", "csv", env=env)
    assert exported.returncode == 0, exported.stderr
    [record] = list(csv.DictReader(io.StringIO(exported.stdout.decode())))
    assert record["number"] == "1" and record["status"] == "open"
    assert record["organisation"] == "Het College, Zwolle"
    assert record["question"] == 'Wie is onze "penvoerder"?'
    assert datetime.fromisoformat(record["created_at"]) and record["closed_at"] == ""
    listed = run_cli("handovers", "list", "--status", "open", env=env)
    assert listed.stdout.decode().startswith("#1  open")
    closed = run_cli("handovers", "list", "--status", "closed", env=env)
    assert closed.stdout.decode().strip() == "no handovers"


def test_what_a_user_typed_cannot_run_in_a_spreadsheet_or_a_terminal(tmp_path: Path) -> None:
    """A formula in a CSV cell is quoted away; an escape sequence never reaches a terminal."""
    env = {"STO_BOT_DB": str(tmp_path / "export.sqlite3")}
    formula = '=HYPERLINK("http://evil.example","klik")'
    lines = ['{"text": "/adviseur"}', '{"choice": "ho:yes"}']
    lines += [json.dumps({"text": formula}), json.dumps({"text": "@SUM(1+1)"})]
    lines += ['{"choice": "ho:skip"}'] * 2 + [json.dumps({"text": "Vraag \u001b[2J wist"})]
    chat = run_cli("chat", "--jsonl", "--user", "eva", stdin="\n".join(lines).encode(), env=env)
    assert chat.returncode == 0, chat.stderr
    assert b"\x1b" not in chat.stderr  # the [adviseur] lines
    exported = run_cli("handovers", "export", "--format", "csv", env=env)
    [record] = list(csv.DictReader(io.StringIO(exported.stdout.decode())))
    assert record["organisation"] == "'" + formula and record["role"] == "'@SUM(1+1)"
    assert "\x1b" not in record["question"] and "wist" in record["question"]
    listed = run_cli("handovers", "list", env=env)
    assert b"\x1b" not in listed.stdout and b"HYPERLINK" in listed.stdout


def test_ctrl_d_ends_the_chat_with_a_goodbye_and_exit_code_0() -> None:
    result = run_cli("chat", stdin=b"Wat is een penvoerder?\n")  # then the input ends
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    assert out.rstrip("\n").endswith("Tot ziens! (Goodbye!)") and out.endswith("\n")


def test_ctrl_c_ends_the_chat_at_once_with_a_goodbye_and_the_state_kept(tmp_path: Path) -> None:
    """Ctrl-C while the chat waits for a line: no second Enter needed, exit 0, nothing lost."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STO_BOT", "LOG_"))}
    env["STO_BOT_DB"] = str(tmp_path / "chat.sqlite3")
    chat = subprocess.Popen(
        [sys.executable, "-m", "bot", "chat", "--user", "ina"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    assert chat.stdin is not None and chat.stdout is not None
    chat.stdin.write(b"/check\n")
    chat.stdin.flush()
    seen = b""
    while b"Vraag 1" not in seen:  # the check has begun and the chat waits for the next line
        seen += os.read(chat.stdout.fileno(), 4096)
    chat.send_signal(signal.SIGINT)
    out, _ = chat.communicate(timeout=10)  # stdin stays open: exiting must not wait for it
    assert chat.returncode == 0
    assert b"Tot ziens" in out
    again = run_cli("chat", "--user", "ina", env={"STO_BOT_DB": env["STO_BOT_DB"]})
    assert "vraag 1" in again.stdout.decode().casefold()  # the check was kept


def test_ctrl_c_in_a_real_terminal_exits_cleanly(tmp_path: Path) -> None:
    """In a terminal (a pty), Ctrl-C ends the chat with exit 0 and no fatal error from the
    thread that waits for input."""
    import pty
    import select
    import time

    env = {k: v for k, v in os.environ.items() if not k.startswith(("STO_BOT", "LOG_"))}
    env["STO_BOT_DB"] = str(tmp_path / "chat.sqlite3")
    master, slave = pty.openpty()
    chat = subprocess.Popen(
        [sys.executable, "-m", "bot", "chat"], stdin=slave, stdout=slave, stderr=slave, env=env
    )
    os.close(slave)
    seen = b""

    def read_until(token: bytes, timeout: float = 30) -> None:
        nonlocal seen
        end = time.monotonic() + timeout
        while token not in seen and time.monotonic() < end:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    seen += os.read(master, 4096)
                except OSError:
                    return

    try:
        read_until(b"> ")
        os.write(master, b"/check\n")
        read_until(b"Vraag 1")
        chat.send_signal(signal.SIGINT)
        assert chat.wait(10) == 0
        read_until(b"Tot ziens", timeout=2)
    finally:
        if chat.poll() is None:
            chat.kill()
        os.close(master)
    assert b"Tot ziens" in seen and b"Fatal Python error" not in seen, seen[-300:]
