"""The terminal channel, driven by fed lines: text mode for people, JSON lines for scripts."""

from __future__ import annotations

import io
import json

from conftest import run_cli

from bot.console import ConsoleChat
from sto_bot.assistant import Assistant


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
