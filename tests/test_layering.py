"""The core never depends on a channel: sto_bot imports neither telegram nor bot."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import sto_bot

CORE = Path(sto_bot.__file__).parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_no_core_module_imports_telegram_or_the_adapters() -> None:
    offenders = {
        path.name: imported_modules(path) & {"telegram", "bot"} for path in CORE.glob("*.py")
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_importing_the_whole_core_loads_no_telegram_module() -> None:
    modules = [f"sto_bot.{path.stem}" for path in CORE.glob("*.py") if path.stem != "__init__"]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('telegram', 'bot'))\n"
        "print(bad)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
