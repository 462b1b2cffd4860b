"""The eligibility check: every fault in its tree is reported at its file and line, the engine
walks the shipped tree as designed, and `kb graph` draws it (in sync with the committed diagram).

Each validation test copies the shipped knowledge folder and breaks exactly one thing in
`dialogs/eligibility.yaml`, so the expected line is computed from the edited text instead of
being hard-coded.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from broken_knowledge import (
    SHIPPED,
    append,
    assert_reported,
    edit,
    line_with,
    listing,
    problems_of,
    run_bot,
)

from sto_bot.dialog import (
    UNKNOWN_OPTION,
    Engine,
    StaleChoice,
    Status,
    Tree,
    callback_data,
    check_diagram_markdown,
    parse_callback,
    tree_to_mermaid,
)
from sto_bot.loader import load_knowledge
from sto_bot.models import CheckState, GivenAnswer
from sto_bot.tree_loader import MAX_BUTTON_BYTES

REPOSITORY = Path(__file__).resolve().parent.parent
TREE_FILE = Path("dialogs") / "eligibility.yaml"
DIAGRAM_FILE = Path("dialogs") / "eligibility.md"
REGENERATE = "sto-bot kb graph -o knowledge/dialogs/eligibility.md"


# A complete, valid question that no option leads to; it goes into the `questions` list.
LOOSE_QUESTION = """
  - id: losse-vraag
    text:
      nl: "Is dit een losse vraag?"
      en: "Is this a loose question?"
    options:
      - id: ja
        label: {nl: "Ja", en: "Yes"}
        next: aanvrager
      - id: weet-niet
        label: {nl: "Weet ik niet", en: "I don't know"}
        next: aanvrager
"""

# A complete, valid outcome that no option leads to; appended to the `outcomes` list.
LOOSE_OUTCOME = """
  - id: los-einde
    title: {nl: "Een los einde", en: "A loose end"}
    text: {nl: "Hier komt niemand.", en: "Nobody gets here."}
    criteria: [vmbo-school]
    steps:
      nl: ["Niets te doen."]
      en: ["Nothing to do."]
"""


@pytest.fixture
def knowledge_copy(tmp_path: Path) -> Path:
    """A fresh copy of the shipped knowledge folder, safe to break."""
    root = tmp_path / "knowledge"
    shutil.copytree(SHIPPED, root)
    return root


@pytest.fixture
def tree_path(knowledge_copy: Path) -> Path:
    """The check tree inside the copy."""
    return knowledge_copy / TREE_FILE


@pytest.fixture(scope="module")
def tree() -> Tree:
    """The shipped check tree, loaded and validated like the bot does."""
    return load_knowledge(SHIPPED).check


def line_is(path: Path, text: str) -> int:
    """The 1-based number of the one line of `path` that is exactly `text`."""
    lines = path.read_text(encoding="utf-8").splitlines()
    numbers = [number for number, line in enumerate(lines, start=1) if line == text]
    assert len(numbers) == 1, f"{text!r} must be exactly one line of {path}: {numbers}"
    return numbers[0]


# -- one fault at a time ------------------------------------------------------------------


def test_option_leading_to_a_missing_node_is_reported_at_its_next(tree_path: Path) -> None:
    edit(tree_path, "next: partner-mbo", "next: bestaat-niet")

    problems = problems_of(tree_path.parent.parent)

    assert_reported(
        problems,
        tree_path,
        line_with(tree_path, "next: bestaat-niet"),
        "'wie' leads to 'bestaat-niet', which does not exist",
    )


def test_question_that_no_option_leads_to_is_reported_at_the_question(tree_path: Path) -> None:
    edit(tree_path, "\noutcomes:\n", LOOSE_QUESTION + "\noutcomes:\n")

    problems = problems_of(tree_path.parent.parent)

    assert_reported(
        problems,
        tree_path,
        line_with(tree_path, "- id: losse-vraag"),
        "question 'losse-vraag' cannot be reached from the start",
    )
    assert len(problems) == 1, listing(problems)


def test_outcome_that_nothing_leads_to_is_reported_at_the_outcome(tree_path: Path) -> None:
    append(tree_path, LOOSE_OUTCOME)

    problems = problems_of(tree_path.parent.parent)

    assert_reported(
        problems,
        tree_path,
        line_with(tree_path, "- id: los-einde"),
        "outcome 'los-einde' cannot be reached from the start",
    )
    assert len(problems) == 1, listing(problems)


def test_loop_is_reported_with_its_path(tree_path: Path) -> None:
    edit(
        tree_path,
        "next: aanvrager\n        criteria: {themas: met}",
        "next: mbo\n        criteria: {themas: met}",
    )
    # A loop has no single faulty line: accept the question it returns to (`- id: mbo`)
    # or the `next` that closes it.
    closing = line_with(tree_path, "criteria: {themas: met}") - 1  # its `next: mbo`
    lines = {line_is(tree_path, "  - id: mbo"), closing}

    problems = problems_of(tree_path.parent.parent)

    assert_reported(
        problems, tree_path, lines, "the check loops: mbo -> po -> cofinanciering -> themas -> mbo"
    )


def test_question_without_weet_niet_is_reported_at_the_question(tree_path: Path) -> None:
    edit(
        tree_path,
        "      - id: weet-niet\n"
        '        label: {nl: "Weet ik niet", en: "I don\'t know"}\n'
        "        next: regio\n"
        "        criteria: {beroepsgericht: unknown}\n",
        "",
    )

    problems = problems_of(tree_path.parent.parent)

    assert_reported(
        problems,
        tree_path,
        line_is(tree_path, "  - id: leerwegen"),
        f"question 'leerwegen' has no '{UNKNOWN_OPTION}'",
    )
    assert len(problems) == 1, listing(problems)


def test_button_id_over_64_bytes_is_reported_at_the_option(tree_path: Path) -> None:
    long_id = "alleen-de-theoretische-leerweg-en-verder-helemaal-niets-anders"
    edit(tree_path, "- id: alleen-tl", f"- id: {long_id}")

    problems = problems_of(tree_path.parent.parent)

    assert_reported(
        problems,
        tree_path,
        line_with(tree_path, f"- id: {long_id}"),
        f":leerwegen:{long_id}'",
        f"is over {MAX_BUTTON_BYTES} bytes",
    )
    assert len(problems) == 1, listing(problems)


def test_unknown_criterion_in_an_option_is_reported_at_its_line(tree_path: Path) -> None:
    edit(tree_path, "criteria: {beroepsgericht: met}", "criteria: {bestaat-niet: met}")

    problems = problems_of(tree_path.parent.parent)

    assert_reported(
        problems,
        tree_path,
        line_with(tree_path, "{bestaat-niet: met}"),
        "unknown criterion 'bestaat-niet'",
    )
    assert len(problems) == 1, listing(problems)


def test_option_words_that_are_no_list_are_reported_at_their_line(tree_path: Path) -> None:
    edit(tree_path, 'words: ["mbo", "roc", ', 'words: "mbo" #')

    problems = problems_of(tree_path.parent.parent)

    assert_reported(
        problems, tree_path, line_with(tree_path, 'words: "mbo"'), "words must be a list"
    )


def test_unknown_criterion_in_an_outcome_is_reported_at_its_item(tree_path: Path) -> None:
    # In block style every listed criterion has its own line.
    edit(
        tree_path,
        "    criteria: [vmbo-school, samenwerking-mbo]\n",
        "    criteria:\n      - vmbo-school\n      - bestaat-niet\n",
    )

    problems = problems_of(tree_path.parent.parent)

    assert_reported(
        problems,
        tree_path,
        line_with(tree_path, "- bestaat-niet"),
        "unknown criterion 'bestaat-niet'",
    )
    assert len(problems) == 1, listing(problems)


def break_criterion_source(tree_path: Path) -> None:
    """Give criterion 'themas' an unknown source."""
    edit(tree_path, "source: nehem", "source: bron-bestaat-niet")


def test_unknown_source_of_a_criterion_is_reported_at_its_line(tree_path: Path) -> None:
    break_criterion_source(tree_path)

    problems = problems_of(tree_path.parent.parent)

    assert_reported(
        problems,
        tree_path,
        line_with(tree_path, "source: bron-bestaat-niet"),
        "unknown source 'bron-bestaat-niet'",
    )


def test_unknown_source_of_a_criterion_is_its_only_problem(tree_path: Path) -> None:
    break_criterion_source(tree_path)

    problems = problems_of(tree_path.parent.parent)

    assert len(problems) == 1, listing(problems)


def test_invalid_status_is_reported_at_its_line(tree_path: Path) -> None:
    edit(tree_path, "criteria: {beroepsgericht: met}", "criteria: {beroepsgericht: maybe}")

    problems = problems_of(tree_path.parent.parent)

    assert_reported(
        problems,
        tree_path,
        line_with(tree_path, "{beroepsgericht: maybe}"),
        "'maybe' must be one of: met, not_met, unknown",
    )
    assert len(problems) == 1, listing(problems)


def break_step_date(tree_path: Path) -> int:
    """Put an unknown {bestaat-niet-datum} in a Dutch step of 'aanvrager'; the step's line."""
    edit(
        tree_path, '"De uitvoering {uitvoering}. Meld', '"De uitvoering {bestaat-niet-datum}. Meld'
    )
    return line_with(tree_path, "{bestaat-niet-datum}")


def test_unknown_date_placeholder_in_a_step_is_reported(tree_path: Path) -> None:
    break_step_date(tree_path)

    problems = problems_of(tree_path.parent.parent)

    assert_reported(problems, tree_path, None, "steps (nl)", "unknown date '{bestaat-niet-datum}'")
    assert len(problems) == 1, listing(problems)


def test_unknown_date_placeholder_in_a_step_is_reported_at_the_line_of_the_step(
    tree_path: Path,
) -> None:
    line = break_step_date(tree_path)

    problems = problems_of(tree_path.parent.parent)

    assert_reported(problems, tree_path, line, "unknown date '{bestaat-niet-datum}'")


def test_unknown_date_placeholder_in_an_outcome_text_is_reported_at_its_line(
    tree_path: Path,
) -> None:
    edit(tree_path, "die {vooraanmelding}.", "die {bestaat-niet-datum}.")

    problems = problems_of(tree_path.parent.parent)

    assert_reported(
        problems,
        tree_path,
        line_with(tree_path, "{bestaat-niet-datum}"),
        "text (nl): unknown date '{bestaat-niet-datum}'",
    )


@pytest.mark.parametrize("start", ["aanvrager", "bestaat-niet"], ids=["outcome", "missing"])
def test_start_that_is_not_a_question_is_reported_at_its_line(tree_path: Path, start: str) -> None:
    edit(tree_path, "  start: wie\n", f"  start: {start}\n")

    problems = problems_of(tree_path.parent.parent)

    assert_reported(
        problems,
        tree_path,
        line_with(tree_path, f"start: {start}"),
        f"start '{start}' is not a question",
    )
    assert len(problems) == 1, listing(problems)


def break_question_language(tree_path: Path) -> set[int]:
    """Drop the English text of question 'regio'; the lines a report may point at."""
    edit(tree_path, '      en: "Does the school belong to an STO region?"\n', "")
    # A missing key has no line of its own: accept `text:` or the first line under it.
    dutch = line_with(tree_path, '"Hoort de school bij een STO-regio?"')
    return {dutch - 1, dutch}


def test_question_text_without_a_language_is_reported_at_the_text(tree_path: Path) -> None:
    lines = break_question_language(tree_path)

    problems = problems_of(tree_path.parent.parent)

    assert_reported(problems, tree_path, lines, "missing key 'en'")


def test_question_text_without_a_language_is_its_only_problem(tree_path: Path) -> None:
    break_question_language(tree_path)

    problems = problems_of(tree_path.parent.parent)

    assert len(problems) == 1, listing(problems)


def test_duplicate_option_id_is_reported_at_the_second_option(tree_path: Path) -> None:
    line = line_with(tree_path, "- id: alleen-tl")
    edit(tree_path, "- id: alleen-tl", "- id: ja")

    problems = problems_of(tree_path.parent.parent)

    assert_reported(problems, tree_path, line, "duplicate option id 'ja'")
    assert len(problems) == 1, listing(problems)


# -- the engine on the shipped tree -------------------------------------------------------


def test_check_starts_at_wie_without_answers(tree: Tree) -> None:
    state = Engine(tree).start()

    assert tree.start == "wie"
    assert state == CheckState(tree.version, "wie")
    assert Engine(tree).current(state) is tree.questions["wie"]


@pytest.mark.parametrize("language", ["nl", "en"])
def test_answer_moves_on_and_records_the_labels_as_shown(tree: Tree, language: str) -> None:
    engine = Engine(tree)
    wie = tree.questions["wie"]
    vmbo = wie.option("vmbo")
    assert vmbo is not None

    state = engine.answer(engine.start(), "wie", "vmbo", language)  # type: ignore[arg-type]

    assert state.node == vmbo.next == "leerwegen"
    assert not state.finished
    assert state.answers == (
        GivenAnswer("wie", "vmbo", wie.text[language], vmbo.label[language]),  # type: ignore[index]
    )


def test_answer_leading_to_an_outcome_finishes_the_check(tree: Tree) -> None:
    engine = Engine(tree)

    state = engine.answer(engine.start(), "wie", "mbo", "nl")

    assert state.finished
    assert state.node == "partner-mbo"
    assert engine.current(state) is tree.outcomes["partner-mbo"]


def test_answer_to_a_question_that_is_not_current_is_stale(tree: Tree) -> None:
    engine = Engine(tree)
    start = engine.start()
    finished = engine.answer(start, "wie", "mbo", "nl")
    other_version = CheckState("00000000", "wie")

    with pytest.raises(StaleChoice):
        engine.answer(start, "leerwegen", "ja", "nl")  # not the current question
    with pytest.raises(StaleChoice):
        engine.answer(start, "wie", "bestaat-niet", "nl")  # no such option
    with pytest.raises(StaleChoice):
        engine.answer(finished, "wie", "vmbo", "nl")  # the check is over
    with pytest.raises(StaleChoice):
        engine.answer(other_version, "wie", "vmbo", "nl")  # a button of another tree


def test_back_undoes_the_last_answer(tree: Tree) -> None:
    engine = Engine(tree)
    first = engine.answer(engine.start(), "wie", "vmbo", "nl")
    second = engine.answer(first, "leerwegen", "ja", "nl")

    assert engine.back(second) == first
    assert engine.back(first) == engine.start()
    assert engine.back(engine.start()) == engine.start()  # at the first question: stay


def test_back_from_an_outcome_returns_to_the_last_question(tree: Tree) -> None:
    engine = Engine(tree)
    finished = engine.answer(engine.start(), "wie", "mbo", "nl")

    assert engine.back(finished) == engine.start()


def walk(engine: Engine, path: list[tuple[str, str]]) -> CheckState:
    state = engine.start()
    for question, option in path:
        state = engine.answer(state, question, option, "nl")
    return state


def test_weet_niet_shows_that_criterion_as_unknown_in_the_verdict(tree: Tree) -> None:
    engine = Engine(tree)
    state = walk(
        engine,
        [
            ("wie", "vmbo"),
            ("leerwegen", UNKNOWN_OPTION),
            ("regio", "ja"),
            ("penvoerder", "ja"),
            ("regiotype", "techniekregio"),
            ("mbo", "ja"),
            ("po", "ja"),
            ("cofinanciering", "ja"),
            ("themas", "ja"),
        ],
    )
    assert state.finished
    assert state.node == "aanvrager"

    verdict = engine.verdict(state)

    statuses = {criterion.id: status for criterion, status in verdict.statuses}
    assert statuses["beroepsgericht"] is Status.UNKNOWN
    assert statuses["vmbo-school"] is Status.MET
    assert verdict.depends
    assert not verdict.attention


def test_weet_niet_on_a_criterion_the_outcome_does_not_list_is_still_shown(tree: Tree) -> None:
    """The shipped check has no such path any more (see the next test), so the outcome here is
    the shipped "via-penvoerder" reached as if "weet ik niet" led there."""
    question = tree.questions["penvoerder"]
    options = tuple(
        replace(o, next="regiotype-deelnemer") if o.id == UNKNOWN_OPTION else o
        for o in question.options
    )
    changed = replace(
        tree, questions={**tree.questions, "penvoerder": replace(question, options=options)}
    )
    engine = Engine(changed)
    state = walk(
        engine,
        [
            ("wie", "vmbo"),
            ("leerwegen", "ja"),
            ("regio", "ja"),
            ("penvoerder", UNKNOWN_OPTION),
            ("regiotype-deelnemer", "techniekregio"),
        ],
    )
    assert state.node == "via-penvoerder"
    assert "penvoerder" not in changed.outcomes["via-penvoerder"].criteria

    verdict = engine.verdict(state)

    statuses = {criterion.id: status for criterion, status in verdict.statuses}
    assert statuses["penvoerder"] is Status.UNKNOWN
    assert verdict.depends


def test_not_knowing_whether_ones_board_is_penvoerder_goes_on_as_the_penvoerder(
    tree: Tree,
) -> None:
    """Newcomer: "weet ik niet" led to "Uw school doet mee via de penvoerder", which a
    provisional verdict ("klopt wat u nog niet wist") turned into the opposite of the truth.
    Now it asks the applicant's questions, and a note tells the other case."""
    engine = Engine(tree)
    path = [("wie", "vmbo"), ("leerwegen", "ja"), ("regio", "ja"), ("penvoerder", UNKNOWN_OPTION)]
    path += [("regiotype", "techniekregio"), ("mbo", "ja"), ("po", "ja")]
    path += [("cofinanciering", "ja"), ("themas", "ja")]
    state = walk(engine, path)
    assert state.node == "aanvrager"

    verdict = engine.verdict(state)

    statuses = {criterion.id: status for criterion, status in verdict.statuses}
    assert statuses["penvoerder"] is Status.UNKNOWN and verdict.depends
    assert any("niet de penvoerder" in note["nl"] for note in verdict.notes)


def test_every_button_id_of_the_shipped_tree_fits_64_bytes(tree: Tree) -> None:
    for question in tree.questions.values():
        for option in question.options:
            button = callback_data(tree.version, question.id, option.id)
            assert len(button.encode("utf-8")) <= MAX_BUTTON_BYTES, button
            assert parse_callback(button) == (tree.version, question.id, option.id)


# -- the command line ---------------------------------------------------------------------


def test_kb_check_on_a_broken_tree_lists_path_line_message_and_exits_1(
    tmp_path: Path, tree_path: Path
) -> None:
    edit(tree_path, "next: partner-mbo", "next: bestaat-niet")
    expected = f"{tree_path}:{line_with(tree_path, 'next: bestaat-niet')}: "

    result = run_bot("kb", "check", cwd=tmp_path, knowledge_dir=tree_path.parent.parent)

    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines, result.stderr
    assert all(re.fullmatch(r".+:\d+: .+", line) for line in lines), result.stdout
    assert any(
        line.startswith(expected) and "'bestaat-niet', which does not exist" in line
        for line in lines
    ), result.stdout
    assert "Traceback" not in result.stderr


def test_kb_graph_prints_a_mermaid_flowchart_with_every_node(tmp_path: Path, tree: Tree) -> None:
    result = run_bot("kb", "graph", cwd=tmp_path, knowledge_dir=SHIPPED)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("flowchart TD\n"), result.stdout
    lines = result.stdout.splitlines()
    for question_id in tree.questions:
        node = question_id.replace("-", "_")
        assert any(line.startswith(f"    {node}{{") for line in lines), node
    for outcome_id in tree.outcomes:
        node = outcome_id.replace("-", "_")
        assert any(line.startswith(f"    {node}([") for line in lines), node
    options = sum(len(question.options) for question in tree.questions.values())
    assert sum("-->" in line for line in lines) == options, result.stdout
    assert result.stdout == tree_to_mermaid(tree)


def test_kb_graph_dot_prints_a_digraph_with_an_edge_per_option(tmp_path: Path, tree: Tree) -> None:
    result = run_bot("kb", "graph", "--format", "dot", cwd=tmp_path, knowledge_dir=SHIPPED)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("digraph "), result.stdout
    assert result.stdout.rstrip().endswith("}"), result.stdout
    edges = [line for line in result.stdout.splitlines() if " -> " in line]
    expected = [
        f'"{question.id}" -> "{option.next}" '
        for question in tree.questions.values()
        for option in question.options
    ]
    assert len(edges) == len(expected), result.stdout
    for edge in expected:
        assert any(line.strip().startswith(edge) for line in edges), edge


def test_kb_graph_output_writes_the_markdown_diagram(tmp_path: Path, tree: Tree) -> None:
    output = tmp_path / "X.md"

    result = run_bot("kb", "graph", "-o", str(output), cwd=tmp_path, knowledge_dir=SHIPPED)

    assert result.returncode == 0, result.stderr
    assert output.read_text(encoding="utf-8") == check_diagram_markdown(tree_to_mermaid(tree))


def test_committed_diagram_is_in_sync_with_the_tree(tmp_path: Path) -> None:
    knowledge_dir = REPOSITORY / "knowledge"
    committed = knowledge_dir / DIAGRAM_FILE
    output = tmp_path / "eligibility.md"

    result = run_bot("kb", "graph", "-o", str(output), cwd=tmp_path, knowledge_dir=knowledge_dir)

    assert result.returncode == 0, result.stderr
    assert committed.is_file(), f"{committed} is missing; generate it with `{REGENERATE}`"
    assert committed.read_text(encoding="utf-8") == output.read_text(encoding="utf-8"), (
        f"{committed} is out of date with {knowledge_dir / TREE_FILE}; "
        f"regenerate it with `{REGENERATE}`"
    )
