"""Read the check tree (knowledge/dialogs/eligibility.yaml) and validate it: every id known,
no loops, every path from the start ending in an outcome."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

from sto_bot.dialog import (
    UNKNOWN_OPTION,
    CheckOption,
    Criterion,
    Outcome,
    Question,
    Status,
    Tree,
    callback_data,
)
from sto_bot.models import LANGUAGES, STRICTEST_LIMITS, Source
from sto_bot.shapes import Shapes
from sto_bot.yaml_lines import LineDict, line_of

# A check button's id must fit every channel we serve.
MAX_BUTTON_BYTES = STRICTEST_LIMITS.button_bytes


def read_tree(loader: Shapes, path: Path, sources: Mapping[str, Source]) -> Tree | None:
    """Parse and validate the check tree; problems go to the loader with their lines."""
    data = loader.read(path)
    if data is None or not loader.keys(path, data, ["dialog", "criteria", "questions", "outcomes"]):
        return None
    head = loader.mapping(path, data["dialog"], line_of(data, "dialog"), "dialog")
    if head is None or not loader.keys(path, head, ["start", "intro"]):
        return None
    intro = loader.localized_text(path, head["intro"], line_of(head, "intro"), "intro")
    criteria, criterion_ids = _read_criteria(loader, path, data, sources)
    outcomes, outcome_lines = _read_outcomes(loader, path, data, criterion_ids)
    version = hashlib.sha1(path.read_bytes(), usedforsecurity=False).hexdigest()[:8]
    questions, question_lines, edges = _read_questions(
        loader, path, data, version, criterion_ids, outcomes
    )
    start = str(head["start"])
    if start not in questions:
        loader.problem(path, line_of(head, "start"), f"start '{start}' is not a question")
        return None
    for source_node, target, line in edges:
        if target not in questions and target not in outcomes:
            loader.problem(path, line, f"'{source_node}' leads to '{target}', which does not exist")
    _check_shape(loader, path, start, questions, outcomes, question_lines, outcome_lines)
    return Tree(version, start, intro, questions, outcomes, criteria)


def _read_criteria(
    loader: Shapes, path: Path, data: LineDict, sources: Mapping[str, Source]
) -> tuple[dict[str, Criterion], set[str]]:
    """The criteria, and every well-formed criterion id: also of criteria with other faults,
    so that references to them are fine and one fault is reported once rather than at every
    place that uses the criterion."""
    criteria: dict[str, Criterion] = {}
    criterion_ids: set[str] = set()
    for item in loader.records(path, data, "criteria", "a criterion", ["id", "label", "source"]):
        criterion_id = loader.identifier(path, item["id"], item.line, "criterion id")
        label = loader.localized_text(path, item["label"], line_of(item, "label"), "label")
        source = sources.get(str(item["source"]))
        if source is None:
            loader.problem(path, line_of(item, "source"), f"unknown source '{item['source']}'")
        if criterion_id is None:
            continue
        if criterion_id in criterion_ids:
            loader.problem(path, item.line, f"duplicate criterion id '{criterion_id}'")
        criterion_ids.add(criterion_id)
        if source is not None and len(label) == len(LANGUAGES):
            criteria[criterion_id] = Criterion(criterion_id, label, source)
    return criteria, criterion_ids


def _read_outcomes(
    loader: Shapes, path: Path, data: LineDict, criterion_ids: set[str]
) -> tuple[dict[str, Outcome], dict[str, int]]:
    """The outcomes, and the line each is defined at."""
    outcomes: dict[str, Outcome] = {}
    outcome_lines: dict[str, int] = {}
    required = ["id", "title", "text", "criteria", "steps"]
    optional = ["consultant", "requirements"]
    for item in loader.records(path, data, "outcomes", "an outcome", required, optional):
        outcome_id = loader.identifier(path, item["id"], item.line, "outcome id")
        title = loader.localized_text(path, item["title"], line_of(item, "title"), "title")
        text = loader.localized_text(path, item["text"], line_of(item, "text"), "text")
        loader.check_dates(path, item["text"], text, "text")
        steps = loader.localized_list(path, item["steps"], line_of(item, "steps"), "steps")
        for language, values in steps.items():
            for position, step in enumerate(values):
                line = line_of(item["steps"][language], position)
                loader.check_dates(path, None, {language: step}, "steps", line)
        names = _criteria_named(loader, path, item, criterion_ids)
        if outcome_id is None:
            continue
        if outcome_id in outcomes:
            loader.problem(path, item.line, f"duplicate outcome id '{outcome_id}'")
        outcomes[outcome_id] = Outcome(
            outcome_id,
            title,
            text,
            tuple(names),
            steps,
            consultant=bool(item.get("consultant", False)),
            requirements=bool(item.get("requirements", False)),
        )
        outcome_lines[outcome_id] = item.line
    return outcomes, outcome_lines


def _criteria_named(
    loader: Shapes, path: Path, item: LineDict, criterion_ids: set[str]
) -> list[str]:
    """The criteria an outcome is judged on; each must exist, and there must be some."""
    listed = loader.sequence(path, item["criteria"], line_of(item, "criteria"), "criteria")
    names = loader.texts(path, listed, "a criterion")
    for position, name in enumerate(names):
        if name not in criterion_ids:
            loader.problem(path, line_of(listed, position), f"unknown criterion '{name}'")
    if not names:
        loader.problem(path, line_of(item, "criteria"), "an outcome needs criteria")
    return names


def _read_questions(
    loader: Shapes,
    path: Path,
    data: LineDict,
    version: str,
    criterion_ids: set[str],
    outcomes: Mapping[str, Outcome],
) -> tuple[dict[str, Question], dict[str, int], list[tuple[str, str, int]]]:
    """The questions, the line of each, and every (question, next node, line) they lead to."""
    questions: dict[str, Question] = {}
    question_lines: dict[str, int] = {}
    edges: list[tuple[str, str, int]] = []
    for item in loader.records(path, data, "questions", "a question", ["id", "text", "options"]):
        question_id = loader.identifier(path, item["id"], item.line, "question id")
        text = loader.localized_text(path, item["text"], line_of(item, "text"), "text")
        options = _read_options(loader, path, item, version, question_id, criterion_ids)
        edges += [(question_id or "", o.next, line) for o, line in options]
        if question_id is None:
            continue
        if question_id in questions or question_id in outcomes:
            loader.problem(path, item.line, f"duplicate node id '{question_id}'")
        if UNKNOWN_OPTION not in {option.id for option, _ in options}:
            loader.problem(path, item.line, f"question '{question_id}' has no '{UNKNOWN_OPTION}'")
        questions[question_id] = Question(question_id, text, tuple(o for o, _ in options))
        question_lines[question_id] = item.line
    return questions, question_lines, edges


def _read_options(
    loader: Shapes,
    path: Path,
    item: LineDict,
    version: str,
    question_id: str | None,
    criterion_ids: set[str],
) -> list[tuple[CheckOption, int]]:
    """A question's options, each with the line of its `next`."""
    options: list[tuple[CheckOption, int]] = []
    keys = ["id", "label", "next"], ["criteria", "note", "words"]
    for raw in loader.records(path, item, "options", "an option", *keys):
        option = _read_option(loader, path, raw, criterion_ids)
        if option is None or question_id is None:
            continue
        button = callback_data(version, question_id, option.id)
        if len(button.encode("utf-8")) > MAX_BUTTON_BYTES:
            too_long = f"button id '{button}' is over {MAX_BUTTON_BYTES} bytes"
            loader.problem(path, raw.line, too_long)
        if option.id in {o.id for o, _ in options}:
            loader.problem(path, raw.line, f"duplicate option id '{option.id}'")
        options.append((option, line_of(raw, "next")))
    return options


def _read_option(
    loader: Shapes, path: Path, raw: LineDict, criteria: set[str]
) -> CheckOption | None:
    option_id = loader.identifier(path, raw["id"], raw.line, "option id")
    label = loader.localized_text(path, raw["label"], line_of(raw, "label"), "label")
    effects: dict[str, Status] = {}
    given = raw.get("criteria")
    if given is not None:
        table = loader.mapping(path, given, line_of(raw, "criteria"), "criteria")
        for name, value in (table or {}).items():
            line = line_of(table, name)
            if name not in criteria:
                loader.problem(path, line, f"unknown criterion '{name}'")
                continue
            try:
                effects[name] = Status(value)
            except ValueError:
                loader.problem(path, line, f"'{value}' must be one of: met, not_met, unknown")
    note = None
    if raw.get("note") is not None:
        note = loader.localized_text(path, raw["note"], line_of(raw, "note"), "note")
    words: list[str] = []
    if raw.get("words") is not None:
        listed = loader.sequence(path, raw["words"], line_of(raw, "words"), "words")
        words = loader.texts(path, listed, "a word")
    if option_id is None:
        return None
    return CheckOption(option_id, label, str(raw["next"]), effects, note, tuple(words))


def _check_shape(
    loader: Shapes,
    path: Path,
    start: str,
    questions: Mapping[str, Question],
    outcomes: Mapping[str, Outcome],
    question_lines: Mapping[str, int],
    outcome_lines: Mapping[str, int],
) -> None:
    """No loops, nothing unreachable: every path from the start ends in an outcome."""
    reached: set[str] = set()
    on_path: list[str] = []
    reported: set[str] = set()

    def visit(node: str) -> None:
        if node in on_path:
            if node not in reported:
                loop = " -> ".join([*on_path[on_path.index(node) :], node])
                loader.problem(path, question_lines.get(node, 0), f"the check loops: {loop}")
                reported.add(node)
            return
        if node in reached:
            return
        reached.add(node)
        question = questions.get(node)
        if question is None:
            return
        on_path.append(node)
        for option in question.options:
            visit(option.next)
        on_path.pop()

    visit(start)
    for question_id, line in question_lines.items():
        if question_id not in reached:
            loader.problem(path, line, f"question '{question_id}' cannot be reached from the start")
    for outcome_id, line in outcome_lines.items():
        if outcome_id not in reached:
            loader.problem(path, line, f"outcome '{outcome_id}' cannot be reached from the start")
