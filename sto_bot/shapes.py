"""The shape checks every knowledge file shares: read a YAML file, and check that a value is a
mapping, a list, an id, a text in both languages, each fault collected with its file and line
(so `sto-bot kb check` lists them all at once and an editor can fix them without reading Python).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sto_bot.models import LANGUAGES, Language
from sto_bot.yaml_lines import LineDict, LineList, YamlProblem, line_of, load_yaml

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")
PLACEHOLDER = re.compile(r"\{([a-z0-9-]+)\}")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in the knowledge base, at a file and line."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class KnowledgeError(Exception):
    """The knowledge base has problems; `problems` lists every one."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        first = problems[0] if problems else "unknown problem"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{first}{more}")


class Shapes:
    """Checks values of the YAML files, collecting problems instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.unreadable: list[Problem] = []  # files that do not parse: the rest is hearsay
        self.dates: Mapping[str, object] = {}  # the dated facts a {placeholder} may name

    def problem(self, path: Path, line: int, message: str) -> None:
        """Note a problem at a file and line."""
        self.problems.append(Problem(path, line, message))

    def read(self, path: Path, required: bool = True) -> LineDict | None:
        if not path.exists():
            if required:
                self.problem(path, 0, "file is missing")
            return None
        try:
            data = load_yaml(path)
        except YamlProblem as error:
            self.problem(error.path, error.line, error.message)
            self.unreadable.append(self.problems[-1])
            return None
        if not isinstance(data, LineDict):
            self.problem(path, 1, "expected a mapping at the top of the file")
            return None
        return data

    def keys(
        self, path: Path, data: LineDict, required: Iterable[str], optional: Iterable[str] = ()
    ) -> bool:
        ok = True
        allowed = set(required) | set(optional)
        for key in data:
            if key not in allowed:
                hint = ", ".join(sorted(allowed))
                self.problem(path, line_of(data, key), f"unknown key '{key}' (allowed: {hint})")
                ok = False
        for key in required:
            if key not in data:
                self.problem(path, data.line, f"missing key '{key}'")
                ok = False
        return ok

    def mapping(self, path: Path, value: Any, line: int, what: str) -> LineDict | None:
        if isinstance(value, LineDict):
            return value
        self.problem(path, line, f"{what} must be a mapping")
        return None

    def sequence(self, path: Path, value: Any, line: int, what: str) -> LineList | None:
        if isinstance(value, LineList):
            return value
        self.problem(path, line, f"{what} must be a list")
        return None

    def records(
        self,
        path: Path,
        data: LineDict,
        key: str,
        what: str,
        required: Iterable[str],
        optional: Iterable[str] = (),
    ) -> Iterator[LineDict]:
        """The mappings listed under `key` that have their required keys and no unknown one;
        each fault is reported at its own line."""
        items = self.sequence(path, data[key], line_of(data, key), key)
        for index, item in enumerate(items or []):
            record = self.mapping(path, item, line_of(items, index), what)
            if record is not None and self.keys(path, record, required, optional):
                yield record

    def text(self, path: Path, value: Any, line: int, what: str) -> str | None:
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, bool):
            # YAML reads a bare yes, no, on or off as true/false.
            self.problem(
                path, line, f"{what}: a bare yes/no/on/off is read as true/false; put it in quotes"
            )
            return None
        self.problem(path, line, f"{what} must be a non-empty text")
        return None

    def check_dates(
        self,
        path: Path,
        where: Any,
        texts: Mapping[Language, str],
        what: str,
        line: int | None = None,
    ) -> None:
        """Report each {date} placeholder in `texts` that dates.yaml does not define, at its
        language's line in `where` (or at `line`)."""
        for language, text in texts.items():
            for name in PLACEHOLDER.findall(text):
                if name not in self.dates:
                    line = line if line is not None else line_of(where, language)
                    self.problem(path, line, f"{what} ({language}): unknown date '{{{name}}}'")

    def texts(self, path: Path, items: LineList | None, what: str) -> list[str]:
        """The valid texts of a list, each problem reported at its own item's line."""
        items = items or LineList()
        found = (self.text(path, item, line_of(items, i), what) for i, item in enumerate(items))
        return [text for text in found if text is not None]

    def identifier(self, path: Path, value: Any, line: int, what: str) -> str | None:
        if isinstance(value, str) and ID_PATTERN.match(value):
            return value
        self.problem(path, line, f"{what} '{value}' must be lower-case letters, digits and '-'")
        return None

    def localized_text(self, path: Path, value: Any, line: int, what: str) -> dict[Language, str]:
        data = self.mapping(path, value, line, what)
        if data is None or not self.keys(path, data, LANGUAGES):
            return {}
        result: dict[Language, str] = {}
        for language in LANGUAGES:
            text = self.text(path, data[language], line_of(data, language), f"{what} ({language})")
            if text is not None:
                result[language] = text
        return result

    def localized_list(
        self, path: Path, value: Any, line: int, what: str
    ) -> dict[Language, tuple[str, ...]]:
        data = self.mapping(path, value, line, what)
        if data is None or not self.keys(path, data, LANGUAGES):
            return {}
        result: dict[Language, tuple[str, ...]] = {}
        for language in LANGUAGES:
            items = self.sequence(path, data[language], line_of(data, language), what)
            if items is None:
                continue
            if not items:
                self.problem(path, line_of(data, language), f"{what} ({language}) is empty")
            result[language] = tuple(self.texts(path, items, f"{what} ({language})"))
        return result
