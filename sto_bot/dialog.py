"""The eligibility check: a tree of questions and outcomes defined in YAML, and a pure engine.

The engine never stores anything: it takes a CheckState and returns the next one, so the state
can live in SQLite between messages and a restart never loses a half-finished check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING

from sto_bot.models import CheckState, GivenAnswer, Language

if TYPE_CHECKING:
    from sto_bot.models import Source

CALLBACK_PREFIX = "chk"
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
    # What people type for it in their own words ("kader", "wij zijn techniekluw"): such a
    # word also picks it inside a short answer ("ja hoor, basis en kader").
    words: tuple[str, ...] = ()


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
