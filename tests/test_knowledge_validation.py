"""Knowledge validation: every fault is reported with its file, line and a clear message.

Each test copies the shipped knowledge folder and breaks exactly one thing, so the expected line is
computed from the edited text instead of being hard-coded.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from broken_knowledge import (
    SHIPPED,
    append,
    assert_reported,
    edit,
    line_with,
    problems_of,
    run_bot,
)

from sto_bot.loader import load_knowledge
from sto_bot.shapes import KnowledgeError

# A complete, valid topic-file entry; `{entry_id}` is filled in.
NEW_ENTRY = """
  - id: {entry_id}
    questions:
      nl: ["Is dit een nieuwe vraag?"]
      en: ["Is this a new question?"]
    answer:
      nl: "Dit is een nieuw antwoord."
      en: "This is a new answer."
    sources: [regeling]
    confidence: confirmed
"""


@pytest.fixture
def knowledge_copy(tmp_path: Path) -> Path:
    """A fresh copy of the shipped knowledge folder, safe to break."""
    root = tmp_path / "knowledge"
    shutil.copytree(SHIPPED, root)
    return root


# -- one fault at a time ------------------------------------------------------------------


def test_broken_yaml_syntax_is_reported_at_its_line(knowledge_copy: Path) -> None:
    path = knowledge_copy / "faq" / "definities.yaml"
    edit(path, '  title: {nl: "Begrippen", en: "Definitions"}', "  title: Begrippen: wat is wat")

    problems = problems_of(knowledge_copy)

    assert_reported(problems, path, line_with(path, "Begrippen: wat is wat"), "broken YAML")


def test_an_unclosed_quote_is_the_one_problem_told(knowledge_copy: Path) -> None:
    """Editors' newcomer: one missing quote in budget.yaml came with some 170 lines about
    entries elsewhere that 'do not exist' (they were in the file that did not read)."""
    path = knowledge_copy / "faq" / "budget.yaml"
    text = path.read_text(encoding="utf-8")
    quoted = next(line for line in text.splitlines() if line.startswith('        - "'))
    edit(path, quoted, quoted[:-1])  # the closing quote forgotten

    problems = problems_of(knowledge_copy)

    assert [p.path for p in problems] == [path, knowledge_copy]
    assert "broken YAML" in problems[0].message and "quote" in problems[0].message
    assert abs(problems[0].line - line_with(path, quoted[:-1])) <= 1
    assert "once these files read" in problems[1].message


def test_a_phrasing_under_two_entries_is_reported_with_the_first(knowledge_copy: Path) -> None:
    """Editors' newcomer: "wat is een penvoerder" put under budget-indexatie passed kb check,
    and the answer a user got depended on the matcher's mood."""
    path = knowledge_copy / "faq" / "budget.yaml"
    edit(
        path,
        "  - id: budget-indexatie\n    questions:\n      nl:\n",
        (
            "  - id: budget-indexatie\n    questions:\n      nl:\n"
            '        - "Wat is een penvoerder?"\n'
        ),
    )

    problems = problems_of(knowledge_copy)

    assert_reported(
        problems,
        path,
        line_with(path, '- "Wat is een penvoerder?"'),
        "also one of entry 'penvoerder'",
    )


def test_unknown_key_in_entry_is_reported_at_its_line(knowledge_copy: Path) -> None:
    path = knowledge_copy / "faq" / "definities.yaml"
    edit(path, '    answer:\n      nl: "Artikel 1.1', '    anwser:\n      nl: "Artikel 1.1')

    problems = problems_of(knowledge_copy)

    assert_reported(problems, path, line_with(path, "anwser:"), "unknown key 'anwser'")


def test_duplicate_entry_id_in_another_file_is_reported_at_the_second_entry(
    knowledge_copy: Path,
) -> None:
    path = (
        knowledge_copy / "faq" / "uitvoering.yaml"
    )  # sorts after definities.yaml, which has the id
    append(path, NEW_ENTRY.format(entry_id="definities"))

    problems = problems_of(knowledge_copy)

    assert_reported(
        problems, path, line_with(path, "- id: definities"), "duplicate entry id 'definities'"
    )


def test_dangling_follow_up_is_reported_at_its_line(knowledge_copy: Path) -> None:
    path = knowledge_copy / "faq" / "definities.yaml"
    edit(
        path,
        "follow_ups: [definitie-bedrijf, definitie-gpl, definitie-leerling]",
        "follow_ups: [definitie-bedrijf, bestaat-niet]",
    )

    problems = problems_of(knowledge_copy)

    assert_reported(
        problems,
        path,
        line_with(path, "bestaat-niet"),
        "follow-up 'bestaat-niet' does not exist",
    )


def test_answer_without_english_is_reported_at_the_answer(knowledge_copy: Path) -> None:
    path = knowledge_copy / "faq" / "definities.yaml"
    english = next(
        line
        for line in path.read_text(encoding="utf-8").splitlines(keepends=True)
        if line.startswith('      en: "Article 1.1 holds the definitions.')
    )
    edit(path, english, "")
    # A missing key has no line of its own: accept the `answer:` line or the first line under it.
    answer_line = line_with(path, "Artikel 1.1 bevat") - 1

    problems = problems_of(knowledge_copy)

    assert_reported(problems, path, {answer_line, answer_line + 1}, "missing key 'en'")


def test_entry_with_empty_sources_is_reported_at_its_line(knowledge_copy: Path) -> None:
    path = knowledge_copy / "faq" / "definities.yaml"
    edit(
        path,
        "    sources: [regeling]\n    confidence: confirmed\n    follow_ups: [definitie-bedrijf,",
        "    sources: []\n    confidence: confirmed\n    follow_ups: [definitie-bedrijf,",
    )

    problems = problems_of(knowledge_copy)

    assert_reported(
        problems, path, line_with(path, "sources: []"), "entry 'definities' has no source"
    )


def test_unknown_source_id_is_reported_at_its_line(knowledge_copy: Path) -> None:
    path = knowledge_copy / "faq" / "definities.yaml"
    edit(
        path,
        "    sources: [regeling]\n    confidence: confirmed\n    follow_ups: [definitie-bedrijf,",
        "    sources: [regeling, bron-bestaat-niet]\n    confidence: confirmed\n"
        "    follow_ups: [definitie-bedrijf,",
    )

    problems = problems_of(knowledge_copy)

    assert_reported(
        problems,
        path,
        line_with(path, "bron-bestaat-niet"),
        "unknown source 'bron-bestaat-niet'",
    )


def break_date_placeholder(knowledge_copy: Path) -> tuple[Path, int]:
    """Put an unknown {nonexistent-date} in the Dutch answer of 'definities'; its file and line."""
    path = knowledge_copy / "faq" / "definities.yaml"
    edit(path, '"Artikel 1.1 bevat de', '"Artikel 1.1 ({nonexistent-date}) bevat de')
    return path, line_with(path, "{nonexistent-date}")


def test_unknown_date_placeholder_is_reported(knowledge_copy: Path) -> None:
    path, _ = break_date_placeholder(knowledge_copy)

    problems = problems_of(knowledge_copy)

    assert_reported(problems, path, None, "answer (nl)", "unknown date '{nonexistent-date}'")


def test_unknown_date_placeholder_is_reported_at_the_line_of_its_text(knowledge_copy: Path) -> None:
    path, line = break_date_placeholder(knowledge_copy)

    problems = problems_of(knowledge_copy)

    assert_reported(problems, path, line, "unknown date '{nonexistent-date}'")


def test_invalid_confidence_is_reported_at_its_line(knowledge_copy: Path) -> None:
    path = knowledge_copy / "faq" / "definities.yaml"
    edit(
        path,
        "    confidence: confirmed\n    follow_ups: [definitie-bedrijf, definitie-gpl",
        "    confidence: zeker\n    follow_ups: [definitie-bedrijf, definitie-gpl",
    )

    problems = problems_of(knowledge_copy)

    assert_reported(
        problems,
        path,
        line_with(path, "confidence: zeker"),
        "confidence must be one of: confirmed, inferred, unknown",
    )


def break_bare_no(knowledge_copy: Path) -> tuple[Path, int]:
    """Unquote the English stop word "no" (YAML reads it as false); the file and its line."""
    path = knowledge_copy / "lexicon.yaml"
    edit(path, '"no", any,', "no, any,")
    return path, line_with(path, " no, any,")


def test_bare_no_in_stopwords_is_reported_with_a_hint_to_quote_it(knowledge_copy: Path) -> None:
    path, _ = break_bare_no(knowledge_copy)

    problems = problems_of(knowledge_copy)

    assert_reported(problems, path, None, "stopwords (en)", "true/false", "quotes")


def test_bare_no_in_stopwords_is_reported_at_its_own_line(knowledge_copy: Path) -> None:
    path, line = break_bare_no(knowledge_copy)

    problems = problems_of(knowledge_copy)

    assert_reported(problems, path, line, "quotes")


def test_missing_required_text_is_reported_at_the_texts_mapping(knowledge_copy: Path) -> None:
    path = knowledge_copy / "texts.yaml"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    start = lines.index("  help:\n")
    path.write_text("".join(lines[:start] + lines[start + 3 :]), encoding="utf-8")
    assert "\n  help:" not in path.read_text(encoding="utf-8")
    # A missing key has no line of its own: accept `texts:` or the first line of its mapping.
    texts_line = line_with(path, "texts:")

    problems = problems_of(knowledge_copy)

    assert_reported(problems, path, {texts_line, texts_line + 1}, "missing key 'help'")


def test_eval_expect_that_is_no_entry_id_is_reported_at_its_line(knowledge_copy: Path) -> None:
    path = knowledge_copy / "eval" / "questions.yaml"
    edit(
        path,
        '{q: "sto uitleg", expect: wat-is-sto}',
        '{q: "sto uitleg", expect: bestaat-niet}',
    )

    problems = problems_of(knowledge_copy)

    assert_reported(
        problems,
        path,
        line_with(path, "expect: bestaat-niet"),
        "expect 'bestaat-niet' is not an entry id",
    )


def test_topic_file_without_entries_key_is_reported(knowledge_copy: Path) -> None:
    path = knowledge_copy / "faq" / "nieuw.yaml"
    path.write_text('topic:\n  id: nieuw\n  title: {nl: "Nieuw", en: "New"}\n', encoding="utf-8")

    problems = problems_of(knowledge_copy)

    assert_reported(problems, path, line_with(path, "topic:"), "missing key 'entries'")


def test_bare_no_in_entry_keywords_is_reported(knowledge_copy: Path) -> None:
    path = knowledge_copy / "faq" / "definities.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("keywords: [", "keywords: [no, ", 1), encoding="utf-8")

    problems = problems_of(knowledge_copy)

    assert_reported(problems, path, line_with(path, "keywords: [no,"), "quotes")


def test_entry_that_is_not_a_mapping_is_reported_at_its_line(knowledge_copy: Path) -> None:
    path = knowledge_copy / "faq" / "uitvoering.yaml"
    append(path, "\n  - alleen-een-id\n")

    problems = problems_of(knowledge_copy)

    assert_reported(problems, path, line_with(path, "- alleen-een-id"), "must be a mapping")


# -- all problems at once, and the shipped knowledge ---------------------------------------


def break_two_files(knowledge_copy: Path) -> list[tuple[Path, int, str]]:
    """One fault in a topic file and one in the eval file; (path, line, message part) of each."""
    topic = knowledge_copy / "faq" / "definities.yaml"
    edit(
        topic,
        "    confidence: confirmed\n    follow_ups: [definitie-bedrijf, definitie-gpl",
        "    confidence: zeker\n    follow_ups: [definitie-bedrijf, definitie-gpl",
    )
    questions = knowledge_copy / "eval" / "questions.yaml"
    edit(
        questions,
        '{q: "sto uitleg", expect: wat-is-sto}',
        '{q: "sto uitleg", expect: bestaat-niet}',
    )
    return [
        (topic, line_with(topic, "confidence: zeker"), "confidence must be one of"),
        (questions, line_with(questions, "bestaat-niet"), "'bestaat-niet' is not an entry id"),
    ]


def test_problems_in_two_files_are_all_reported_at_once(knowledge_copy: Path) -> None:
    expected = break_two_files(knowledge_copy)

    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(knowledge_copy)

    problems = caught.value.problems
    for path, line, words in expected:
        assert_reported(problems, path, line, words)
    assert len(problems) == 2, "\n".join(str(problem) for problem in problems)
    assert "(and 1 more)" in str(caught.value)


def test_shipped_knowledge_loads_with_sourced_answers_in_both_languages() -> None:
    shipped = load_knowledge(SHIPPED)

    assert shipped.topics
    faq_entries = [entry for entry in shipped.entries.values() if entry.topical]
    assert faq_entries
    for entry in shipped.entries.values():
        assert set(entry.answer) == {"nl", "en"}, entry.id
        assert all(text.strip() for text in entry.answer.values()), entry.id
    for entry in faq_entries:  # small talk answers without a source, by design
        assert entry.sources, f"entry '{entry.id}' has no source"


# -- the command line ----------------------------------------------------------------------


def test_kb_check_lists_every_problem_as_path_line_message_and_exits_1(
    tmp_path: Path, knowledge_copy: Path
) -> None:
    expected = break_two_files(knowledge_copy)

    result = run_bot("kb", "check", cwd=tmp_path, knowledge_dir=knowledge_copy)

    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(expected), result.stdout
    assert all(re.fullmatch(r".+:\d+: .+", line) for line in lines), result.stdout
    for path, line, words in expected:
        prefix = f"{path}:{line}: "
        assert any(out.startswith(prefix) and words in out for out in lines), result.stdout
    assert "Traceback" not in result.stderr


def test_kb_check_accepts_the_shipped_knowledge_and_exits_0(tmp_path: Path) -> None:
    result = run_bot("kb", "check", cwd=tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("knowledge OK:"), result.stdout


@pytest.mark.parametrize(
    ("args", "stdin"),
    [
        (("ask", "Wat is een penvoerder?"), ""),
        (("chat", "--jsonl"), '{"text": "Wat is een penvoerder?"}\n'),
    ],
    ids=["ask", "chat-jsonl"],
)
def test_broken_knowledge_stops_ask_and_chat_with_one_line_naming_file_and_line(
    tmp_path: Path, knowledge_copy: Path, args: tuple[str, ...], stdin: str
) -> None:
    path = knowledge_copy / "faq" / "definities.yaml"
    edit(
        path,
        "    confidence: confirmed\n    follow_ups: [definitie-bedrijf, definitie-gpl",
        "    confidence: zeker\n    follow_ups: [definitie-bedrijf, definitie-gpl",
    )
    where = f"{path}:{line_with(path, 'confidence: zeker')}"

    result = run_bot(*args, cwd=tmp_path, knowledge_dir=knowledge_copy, stdin=stdin)

    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert where in result.stderr
    assert result.stdout == ""


def test_a_slip_in_the_labelled_questions_is_reported_but_never_stops_the_assistant(
    tmp_path: Path, knowledge_copy: Path
) -> None:
    """The assistant does not read eval/ and holdout/ (40 % of its start-up, before)."""
    path = knowledge_copy / "eval" / "questions.yaml"
    append(path, '  - {q: "hoeveel cofinanciering", facts: [7.10]}\n')

    check = run_bot("kb", "check", cwd=tmp_path, knowledge_dir=knowledge_copy)
    ask = run_bot("ask", "Wat is een penvoerder?", cwd=tmp_path, knowledge_dir=knowledge_copy)

    assert check.returncode == 1 and "must be in quotes" in check.stdout, check.stdout
    assert ask.returncode == 0, ask.stderr
    assert "penvoerder" in ask.stdout


def test_coverage_naming_a_missing_entry_or_a_bad_fact_is_reported_at_its_line(
    knowledge_copy: Path,
) -> None:
    path = knowledge_copy / "coverage.yaml"
    edit(path, '"7.10": [cofinanciering', '"7.10": [cofinancering')
    append(path, '"zeven": [cofinanciering]\n"7.99": []\n')

    problems = problems_of(knowledge_copy)

    assert_reported(problems, path, line_with(path, '"7.10"'), "cofinancering", "does not exist")
    assert_reported(problems, path, line_with(path, '"zeven"'), "not a fact number")
    assert_reported(problems, path, line_with(path, '"7.99"'), "not-told")


def test_a_fact_number_is_read_as_written_even_without_quotes(knowledge_copy: Path) -> None:
    """YAML would read 7.10 as the number 7.1; the loader keeps what the editor wrote."""
    path = knowledge_copy / "coverage.yaml"
    edit(path, '"7.10": [', "7.10: [")
    assert "7.10" in load_knowledge(knowledge_copy).coverage


def test_an_eval_question_with_an_unknown_or_unquoted_fact_is_reported(
    knowledge_copy: Path,
) -> None:
    path = knowledge_copy / "eval" / "questions.yaml"
    append(path, '  - {q: "hoeveel regio\'s zijn er", facts: ["99.1"]}\n')
    append(path, '  - {q: "hoeveel cofinanciering", facts: [7.10]}\n')
    append(path, '  - {q: "wat is een penvoerder", expect: []}\n')

    problems = problems_of(knowledge_copy)

    assert_reported(problems, path, line_with(path, "99.1"), "fact '99.1' is not in coverage")
    assert_reported(problems, path, line_with(path, "[7.10]"), "must be in quotes")
    assert_reported(problems, path, line_with(path, "expect: []"), "lists no entry")


def test_a_missing_decision_is_reported(knowledge_copy: Path) -> None:
    path = knowledge_copy / "decision.yaml"
    path.unlink()
    assert_reported(problems_of(knowledge_copy), path, None, "kb fit")


def test_a_decision_that_is_not_fitted_is_reported_and_kb_fit_still_runs(
    knowledge_copy: Path,
) -> None:
    path = knowledge_copy / "decision.yaml"
    edit(path, "thresholds:", "drempels:")

    problems = problems_of(knowledge_copy)
    assert_reported(problems, path, None, "drempels")

    # As of the day the shipped file was fitted: answers are indexed with their dates told as
    # of a day, so another day (any later run of this test) may fit other numbers.
    shipped = load_knowledge(SHIPPED).decision
    assert shipped is not None and shipped.fitted_on is not None
    day = shipped.fitted_on.isoformat()
    result = run_bot(
        "kb", "fit", "--today", day, cwd=knowledge_copy.parent, knowledge_dir=knowledge_copy
    )
    assert result.returncode == 0, result.stderr
    assert load_knowledge(knowledge_copy).decision == shipped


def test_the_command_table_is_checked_against_the_commands_the_code_knows(
    knowledge_copy: Path,
) -> None:
    path = knowledge_copy / "commands.yaml"
    edit(path, "  - id: privacy\n", "  - id: privacyverklaring\n")
    edit(path, "names: {nl: onderwerpen, en: topics}", "names: {nl: Onder-werpen, en: topics}")
    edit(path, "aliases: [hulp]", "aliases: [menu]")
    edit(
        path,
        '    for: consultants\n    help: {nl: "Open',
        '    for: iedereen\n    help: {nl: "Open',
    )

    problems = problems_of(knowledge_copy)

    assert_reported(problems, path, line_with(path, "privacyverklaring"), "not one the code knows")
    assert_reported(problems, path, None, "command 'privacy' is missing")
    assert_reported(problems, path, line_with(path, "id: topics"), "'Onder-werpen'", "lower-case")
    assert_reported(problems, path, line_with(path, "id: help"), "'menu'", "'start'")
    assert_reported(problems, path, line_with(path, "for: iedereen"), "'for' must be one of")


def test_the_words_of_the_conversation_are_checked(knowledge_copy: Path) -> None:
    path = knowledge_copy / "conversation.yaml"
    edit(path, "  consultant:\n    phrases:", "  groeten:\n    phrases:")
    edit(path, "  decline:\n    ids:", "  decline:\n    idz:")
    edit(path, "follow_ups:\n  max_words: 8", "follow_ups:\n  max_woorden: 8")

    problems = problems_of(knowledge_copy)

    assert_reported(problems, path, line_with(path, "groeten:"), "unknown intent 'groeten'")
    assert_reported(problems, path, None, "intent 'consultant' is missing")
    assert_reported(problems, path, line_with(path, "idz:"), "unknown key 'idz'")
    assert_reported(problems, path, line_with(path, "max_woorden"), "unknown key 'max_woorden'")
