"""YAML loading that remembers line numbers, so problems can be reported as `file:line`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class LineDict(dict[str, Any]):
    """A mapping from YAML that knows the line of itself and of each of its keys."""

    line: int = 0
    key_lines: dict[str, int]


class LineList(list[Any]):
    """A sequence from YAML that knows its line and the line of each item."""

    line: int = 0
    item_lines: list[int]


class YamlProblem(Exception):
    """A file that is not valid YAML."""

    def __init__(self, path: Path, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line
        self.message = message


try:  # libyaml's parser where PyYAML was built with it: the knowledge loads 3 times faster
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]


class _LineLoader(_SafeLoader):
    """A safe loader whose mappings and sequences carry their line numbers (1-based)."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        # A key is always read as written: `7.10:` stays "7.10" (not the float 7.1), `no:` "no".
        if isinstance(key_node, yaml.ScalarNode):
            key = key_node.value
        else:
            key = str(loader.construct_object(key_node, deep=True))
        if key in result:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key '{key}'", key_node.start_mark
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_yaml(path: Path) -> Any:
    """Parse one YAML file into LineDict/LineList values; raise YamlProblem when it is broken."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise YamlProblem(path, 1, f"not UTF-8 text ({error.reason})") from None
    try:
        return yaml.load(text, Loader=_LineLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        # The parser names what it expected; what is usually wrong is a quote left open or a
        # line indented unlike its neighbours, here or a few lines above.
        hint = "look for an unclosed quote or an odd indent on this line or just above"
        raise YamlProblem(
            path, line, f"broken YAML: {error.problem or error.context} ({hint})"
        ) from None
    except yaml.YAMLError as error:
        raise YamlProblem(path, 1, f"broken YAML: {error}") from None


def line_of(value: Any, key: str | int | None = None) -> int:
    """The line of a loaded value, of one of its keys, or of one of its items (by index)."""
    if isinstance(key, str) and isinstance(value, LineDict):
        return value.key_lines.get(key, value.line)
    if isinstance(key, int) and isinstance(value, LineList) and key < len(value.item_lines):
        return value.item_lines[key]
    return getattr(value, "line", 0)
