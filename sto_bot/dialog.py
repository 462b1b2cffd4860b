"""The eligibility check: a tree of questions and outcomes defined in YAML, and a pure engine.

The engine never stores anything: it takes a CheckState and returns the next one, so the state
can live in SQLite between messages and a restart never loses a half-finished check.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING

from sto_bot.models import LANGUAGES, CheckState, GivenAnswer, Language
from sto_bot.yaml_lines import LineDict, line_of

if TYPE_CHECKING:
    from pathlib import Path

    from sto_bot.knowledge import KnowledgeLoader, Source

CALLBACK_PREFIX = "chk"
MAX_CALLBACK_BYTES = 64  # Telegram's limit for a button's callback data
UNKNOWN_OPTION = "weet-niet"


class Status(StrEnum):
    """How a criterion stands after the user's answers."""

    MET = "met"
    NOT_MET = "not_met"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Criterion:
    """A condition of the regulation that an outcome is judged on."""

    id: str
    label: Mapping[Language, str]
    source: Source


@dataclass(frozen=True, slots=True)
class CheckOption:
    """A button under a check question."""

    id: str
    label: Mapping[Language, str]
    next: str
    criteria: Mapping[str, Status]
    note: Mapping[Language, str] | None = None  # a fact worth knowing on this path


@dataclass(frozen=True, slots=True)
class Question:
    """A check question with its options."""

    id: str
    text: Mapping[Language, str]
    options: tuple[CheckOption, ...]

    def option(self, option_id: str) -> CheckOption | None:
        """The option with this id, if the question has it."""
        return next((option for option in self.options if option.id == option_id), None)


@dataclass(frozen=True, slots=True)
class Outcome:
    """Where the check ends: a verdict judged on criteria, with next steps."""

    id: str
    title: Mapping[Language, str]
    text: Mapping[Language, str]
    criteria: tuple[str, ...]
    steps: Mapping[Language, tuple[str, ...]]
    consultant: bool = False  # offer a consultant with this outcome
    requirements: bool = False  # its criteria must all be met: unmet ones need attention


@dataclass(frozen=True, slots=True)
class Tree:
    """The whole check: its questions, outcomes and criteria, and a version for its buttons."""

    version: str
    start: str
    intro: Mapping[Language, str]
    questions: Mapping[str, Question]
    outcomes: Mapping[str, Outcome]
    criteria: Mapping[str, Criterion]


@dataclass(frozen=True, slots=True)
class Verdict:
    """An outcome judged on the user's answers."""

    outcome: Outcome
    statuses: tuple[tuple[Criterion, Status], ...]
    notes: tuple[Mapping[Language, str], ...]

    @property
    def depends(self) -> bool:
        """Whether some criterion is still unknown ("hangt af van …")."""
        return any(status is Status.UNKNOWN for _, status in self.statuses)

    @property
    def attention(self) -> bool:
        """Whether some criterion is not met."""
        return any(status is Status.NOT_MET for _, status in self.statuses)


def callback_data(version: str, question: str, option: str) -> str:
    """The id of a check button: it names the tree version, so old buttons can be recognised."""
    return f"{CALLBACK_PREFIX}:{version}:{question}:{option}"


def parse_callback(data: str) -> tuple[str, str, str] | None:
    """(version, question, option) of a check button id, or None if it is not one."""
    parts = data.split(":")
    if len(parts) != 4 or parts[0] != CALLBACK_PREFIX:
        return None
    return parts[1], parts[2], parts[3]


class StaleChoice(Exception):
    """A button that does not belong to the current question of the current tree."""


class Engine:
    """Pure functions over a CheckState: start, answer, back, judge."""

    def __init__(self, tree: Tree) -> None:
        self.tree = tree

    def start(self) -> CheckState:
        """A fresh check at the first question."""
        return CheckState(self.tree.version, self.tree.start)

    def current(self, state: CheckState) -> Question | Outcome:
        """The question to ask now, or the outcome reached."""
        if state.finished:
            return self.tree.outcomes[state.node]
        return self.tree.questions[state.node]

    def is_current(self, state: CheckState) -> bool:
        """Whether the state still fits this tree (a changed tree invalidates old checks)."""
        if state.version != self.tree.version:
            return False
        nodes = self.tree.outcomes if state.finished else self.tree.questions
        return state.node in nodes

    def answer(
        self, state: CheckState, question_id: str, option_id: str, language: Language
    ) -> CheckState:
        """Apply an answer to the current question; StaleChoice if it is not for that question."""
        if state.finished or question_id != state.node or not self.is_current(state):
            raise StaleChoice(f"{question_id}:{option_id}")
        question = self.tree.questions[question_id]
        option = question.option(option_id)
        if option is None:
            raise StaleChoice(f"{question_id}:{option_id}")
        given = GivenAnswer(question.id, option.id, question.text[language], option.label[language])
        return replace(
            state,
            node=option.next,
            answers=(*state.answers, given),
            finished=option.next in self.tree.outcomes,
        )

    def back(self, state: CheckState) -> CheckState:
        """Undo the last answer (at the first question, stay there)."""
        if not state.answers:
            return state
        last = state.answers[-1]
        return replace(state, node=last.question, answers=state.answers[:-1], finished=False)

    def verdict(self, state: CheckState) -> Verdict:
        """Judge the reached outcome on the answers given."""
        outcome = self.tree.outcomes[state.node]
        statuses: dict[str, Status] = {}
        notes: list[Mapping[Language, str]] = []
        for given in state.answers:
            option = self.tree.questions[given.question].option(given.option)
            if option is None:
                continue
            statuses.update(option.criteria)
            if option.note is not None:
                notes.append(option.note)
        # The outcome's own criteria, plus any other the user did not know: the verdict
        # then depends on it ("hangt af van …").
        shown = list(outcome.criteria) + [
            criterion
            for criterion, status in statuses.items()
            if status is Status.UNKNOWN and criterion not in outcome.criteria
        ]
        judged = tuple(
            (self.tree.criteria[criterion], statuses.get(criterion, Status.UNKNOWN))
            for criterion in shown
        )
        return Verdict(outcome, judged, tuple(notes))


def tree_to_mermaid(tree: Tree, language: Language = "nl") -> str:
    """The check as a Mermaid flowchart."""
    lines = ["flowchart TD"]
    for question in tree.questions.values():
        lines.append(f'    {_node(question.id)}{{"{_label(question.text[language])}"}}')
    for outcome in tree.outcomes.values():
        lines.append(f'    {_node(outcome.id)}(["{_label(outcome.title[language])}"])')
    for question in tree.questions.values():
        for option in question.options:
            label = _label(option.label[language])
            lines.append(f'    {_node(question.id)} -->|"{label}"| {_node(option.next)}')
    return "\n".join(lines) + "\n"


def check_diagram_markdown(mermaid: str) -> str:
    """The generated `knowledge/dialogs/eligibility.md`: the Mermaid diagram in a Markdown page."""
    return (
        "# The eligibility check\n\n"
        "Generated from `eligibility.yaml` by"
        " `sto-bot kb graph -o knowledge/dialogs/eligibility.md`; do not edit by hand.\n\n"
        f"```mermaid\n{mermaid}```\n"
    )


def tree_to_dot(tree: Tree, language: Language = "nl") -> str:
    """The check as a Graphviz DOT digraph."""
    lines = ["digraph eligibility {", "    rankdir=TB;"]
    for question in tree.questions.values():
        lines.append(
            f'    "{question.id}" [shape=diamond, label="{_label(question.text[language])}"];'
        )
    for outcome in tree.outcomes.values():
        title = _label(outcome.title[language])
        lines.append(f'    "{outcome.id}" [shape=box, style=rounded, label="{title}"];')
    for question in tree.questions.values():
        for option in question.options:
            label = _label(option.label[language])
            lines.append(f'    "{question.id}" -> "{option.next}" [label="{label}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _node(node_id: str) -> str:
    return node_id.replace("-", "_")


def _label(text: str) -> str:
    return text.replace('"', "'").replace("\n", " ")


# -- loading and validation --------------------------------------------------------------


def read_tree(loader: KnowledgeLoader, path: Path, sources: Mapping[str, Source]) -> Tree | None:
    """Parse and validate the check tree; problems go to the loader with their lines."""
    data = loader.read(path)
    if data is None or not loader.keys(path, data, ["dialog", "criteria", "questions", "outcomes"]):
        return None
    head = loader.mapping(path, data["dialog"], line_of(data, "dialog"), "dialog")
    if head is None or not loader.keys(path, head, ["start", "intro"]):
        return None
    intro = loader.localized_text(path, head["intro"], line_of(head, "intro"), "intro")

    criteria: dict[str, Criterion] = {}
    # Every well-formed id, also of criteria with other faults: references to them are fine,
    # so one fault is reported once rather than at every place that uses the criterion.
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
        listed = loader.sequence(path, item["criteria"], line_of(item, "criteria"), "criteria")
        names = loader.texts(path, listed, "a criterion")
        for position, name in enumerate(names):
            if name not in criterion_ids:
                loader.problem(path, line_of(listed, position), f"unknown criterion '{name}'")
        if not names:
            loader.problem(path, line_of(item, "criteria"), "an outcome needs criteria")
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

    questions: dict[str, Question] = {}
    question_lines: dict[str, int] = {}
    edges: list[tuple[str, str, int]] = []
    version = hashlib.sha1(path.read_bytes(), usedforsecurity=False).hexdigest()[:8]
    for item in loader.records(path, data, "questions", "a question", ["id", "text", "options"]):
        question_id = loader.identifier(path, item["id"], item.line, "question id")
        text = loader.localized_text(path, item["text"], line_of(item, "text"), "text")
        options: list[CheckOption] = []
        keys = ["id", "label", "next"], ["criteria", "note"]
        for raw in loader.records(path, item, "options", "an option", *keys):
            option = _read_option(loader, path, raw, criterion_ids)
            if option is None or question_id is None:
                continue
            button = callback_data(version, question_id, option.id)
            if len(button.encode("utf-8")) > MAX_CALLBACK_BYTES:
                loader.problem(
                    path, raw.line, f"button id '{button}' is over {MAX_CALLBACK_BYTES} bytes"
                )
            if option.id in {o.id for o in options}:
                loader.problem(path, raw.line, f"duplicate option id '{option.id}'")
            options.append(option)
            edges.append((question_id, option.next, line_of(raw, "next")))
        if question_id is None:
            continue
        if question_id in questions or question_id in outcomes:
            loader.problem(path, item.line, f"duplicate node id '{question_id}'")
        if UNKNOWN_OPTION not in {option.id for option in options}:
            loader.problem(path, item.line, f"question '{question_id}' has no '{UNKNOWN_OPTION}'")
        questions[question_id] = Question(question_id, text, tuple(options))
        question_lines[question_id] = item.line

    start = str(head["start"])
    if start not in questions:
        loader.problem(path, line_of(head, "start"), f"start '{start}' is not a question")
        return None
    for source_node, target, line in edges:
        if target not in questions and target not in outcomes:
            loader.problem(path, line, f"'{source_node}' leads to '{target}', which does not exist")
    _check_shape(loader, path, start, questions, outcomes, question_lines, outcome_lines)
    return Tree(version, start, intro, questions, outcomes, criteria)


def _read_option(
    loader: KnowledgeLoader, path: Path, raw: LineDict, criteria: set[str]
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
    if option_id is None:
        return None
    return CheckOption(option_id, label, str(raw["next"]), effects, note)


def _check_shape(
    loader: KnowledgeLoader,
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
