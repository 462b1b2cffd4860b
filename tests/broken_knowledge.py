"""Helpers for tests that break a copy of the shipped knowledge and look for the problem."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Collection
from pathlib import Path

import pytest

from sto_bot.loader import default_knowledge_dir, load_knowledge
from sto_bot.shapes import KnowledgeError, Problem

SHIPPED = default_knowledge_dir()

# Settings that the command line reads from the environment; the tests set their own.
CONFIG_VARIABLES = re.compile(
    r"^(STO_BOT_|TELEGRAM_|WEBHOOK_|CONSULTANT_)|^(ADMIN_IDS|LOG_LEVEL|PORT)$"
)


def edit(path: Path, old: str, new: str) -> None:
    """Replace the one occurrence of `old` in `path` by `new`."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} must occur exactly once in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def append(path: Path, text: str) -> None:
    """Add `text` at the end of `path`."""
    with path.open("a", encoding="utf-8") as file:
        file.write(text)


def line_with(path: Path, marker: str) -> int:
    """The 1-based number of the one line of `path` that contains `marker`."""
    lines = path.read_text(encoding="utf-8").splitlines()
    numbers = [number for number, line in enumerate(lines, start=1) if marker in line]
    assert len(numbers) == 1, f"{marker!r} must be on exactly one line of {path}: {numbers}"
    return numbers[0]


def problems_of(root: Path) -> list[Problem]:
    """The problems loading `root` reports (it must fail)."""
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(root)
    assert caught.value.problems, "KnowledgeError without problems"
    return caught.value.problems


def listing(problems: list[Problem]) -> str:
    """Problems one per line, for assertion messages."""
    return "\n".join(str(problem) for problem in problems)


def assert_reported(
    problems: list[Problem], path: Path, line: int | Collection[int] | None, *words: str
) -> None:
    """Some problem is at `path` (and `line`, or one of `lines`) with all `words` in its message."""
    lines = {line} if isinstance(line, int) else line
    found = [
        problem
        for problem in problems
        if problem.path == path
        and (lines is None or problem.line in lines)
        and all(word in problem.message for word in words)
    ]
    where = f"{path}:{line if line is not None else '?'}"
    assert found, f"expected a problem at {where} mentioning {words}; got:\n{listing(problems)}"


def run_bot(
    *args: str, cwd: Path, knowledge_dir: Path | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run `python -m bot ARGS` in `cwd` with a clean environment (shipped knowledge if None)."""
    env = {name: value for name, value in os.environ.items() if not CONFIG_VARIABLES.match(name)}
    env["STO_BOT_DB"] = str(cwd / "sto-bot.sqlite3")
    env["PYTHONUTF8"] = "1"
    if knowledge_dir is not None:
        env["STO_BOT_KNOWLEDGE"] = str(knowledge_dir)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )
