"""The architecture's rules, checked on the source: data flows one way (adapter -> core ->
store), the core knows no channel, the store no feature, no import cycles, no module too big."""

from __future__ import annotations

import ast
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "sto_bot")
STORE = {"sto_bot.store", "sto_bot.sqlite_store", "sto_bot.sqlite_db", "sto_bot.codec"}
STORE_MAY_IMPORT = STORE | {"sto_bot.models"}
COMPOSITION_ROOT = "bot.__main__"
MAX_LINES = 650


def modules() -> dict[str, Path]:
    """Every module of the packages, by its dotted name."""
    found = {}
    for package in PACKAGES:
        for path in sorted((REPOSITORY / package).glob("*.py")):
            name = package if path.stem == "__init__" else f"{package}.{path.stem}"
            found[name] = path
    return found


def imports(path: Path) -> set[str]:
    """The modules a file imports, anywhere in it (also under TYPE_CHECKING and inside
    functions): a cycle or a wrong dependency hidden there is still one."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # "from sto_bot import delivery" imports the module sto_bot.delivery
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def ours(names: set[str]) -> set[str]:
    known = modules()
    return {name for name in names if name in known and name not in PACKAGES}


def test_only_the_composition_root_of_bot_imports_the_store() -> None:
    offenders = {
        name: sorted(imports(path) & STORE)
        for name, path in modules().items()
        if name.startswith("bot") and name != COMPOSITION_ROOT and imports(path) & STORE
    }
    assert offenders == {}


def test_the_store_imports_no_feature() -> None:
    offenders = {
        name: sorted(ours(imports(path)) - STORE_MAY_IMPORT)
        for name, path in modules().items()
        if name in STORE and ours(imports(path)) - STORE_MAY_IMPORT
    }
    assert offenders == {}


def test_the_core_imports_no_channel() -> None:
    offenders = {
        name: sorted(n for n in imports(path) if n.split(".")[0] in ("telegram", "bot", "tornado"))
        for name, path in modules().items()
        if name.startswith("sto_bot")
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_there_are_no_import_cycles() -> None:
    graph = {name: ours(imports(path)) - {name} for name, path in modules().items()}
    cycles: list[list[str]] = []
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = "open"
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert cycles == []


def test_no_module_is_over_650_lines() -> None:
    sizes = {
        name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in modules().items()
    }
    assert {name: size for name, size in sizes.items() if size > MAX_LINES} == {}
