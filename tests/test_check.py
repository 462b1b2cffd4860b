"""The eligibility check as a user meets it: buttons, verdicts, restarts, stale buttons."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest

from sto_bot.assistant import Assistant
from sto_bot.dialog import Question, Tree, callback_data
from sto_bot.knowledge import KnowledgeBase
from sto_bot.models import ConversationKey, IncomingMessage, Reply

KEY = ConversationKey("test", "director")


async def say(assistant: Assistant, text: str) -> list[Reply]:
    return await assistant.handle(IncomingMessage(KEY, text=text))


async def press(assistant: Assistant, choice: str) -> list[Reply]:
    return await assistant.handle(IncomingMessage(KEY, choice=choice))


def paths(tree: Tree) -> Iterator[list[tuple[str, str]]]:
    """Every path from the start to an outcome, as (question, option) pairs."""

    def walk(node: str, path: list[tuple[str, str]]) -> Iterator[list[tuple[str, str]]]:
        question = tree.questions.get(node)
        if question is None:
            yield path
            return
        for option in question.options:
            yield from walk(option.next, [*path, (question.id, option.id)])

    yield from walk(tree.start, [])


def option_id(reply: Reply, label: str) -> str:
    return next(option.id for option in reply.options if option.label == label)


async def test_every_path_of_the_shipped_tree_ends_in_a_full_verdict(
    knowledge: KnowledgeBase, assistant: Assistant
) -> None:
    tree = knowledge.check
    walked = 0
    for number, path in enumerate(paths(tree)):
        key = ConversationKey("walk", str(number))
        replies = await assistant.handle(IncomingMessage(key, text="/check"))
        for question, option in path:
            assert f": {tree.questions[question].text['nl']}" in replies[-1].text
            choice = callback_data(tree.version, question, option)
            replies = await assistant.handle(IncomingMessage(key, choice=choice))
        [verdict] = replies
        assert "Voorwaarden:" in verdict.text and "Volgende stappen:" in verdict.text
        assert "https://" in verdict.text  # each criterion names its source
        assert "chk:restart" in [option.id for option in verdict.options]
        walked += 1
    assert walked > 50


async def test_dont_know_never_blocks_and_the_verdict_says_what_it_depends_on(
    assistant: Assistant,
) -> None:
    replies = await say(assistant, "/check")
    for _ in range(20):
        question = replies[-1]
        if not any(o.id.endswith(":weet-niet") for o in question.options):
            break
        replies = await press(assistant, option_id(question, "Weet ik niet"))
    verdict = replies[-1].text
    assert "Hangt af van:" in verdict
    assert "❓" in verdict
    assert "ho:offer" in [option.id for option in replies[-1].options]


async def test_a_verdict_on_unknown_conditions_is_headed_as_provisional(
    assistant: Assistant,
) -> None:
    """Newcomer: "weet ik niet" throughout gave "Uw school doet mee…" as if it were certain
    (and, in session 10, "Voorlopige uitkomst: Uw school doet mee…" still read as a fact)."""
    replies = await say(assistant, "/check")
    replies = await press(assistant, option_id(replies[-1], "Een vmbo-school (bestuur of locatie)"))
    while any(o.id.endswith(":weet-niet") for o in replies[-1].options):
        replies = await press(assistant, option_id(replies[-1], "Weet ik niet"))
    first_line = replies[-1].text.splitlines()[0]
    assert first_line.startswith("Nog niet zeker. Klopt wat u nog niet wist, dan geldt: ")
    # Not knowing whether one's board is the penvoerder: if it is, the board applies, and the
    # other case is told beside it.
    assert "aanvrager" in first_line
    assert "Is uw bestuur niet de penvoerder" in replies[-1].text


async def test_not_knowing_anything_gives_no_outcome(assistant: Assistant) -> None:
    """Newcomer: "weet ik niet" to every question was headed "Klopt wat u nog niet wist, dan
    geldt: U bent de aanvrager" for someone who had not even said they are a vmbo school."""
    replies = await say(assistant, "/check")
    while any(o.id.endswith(":weet-niet") for o in replies[-1].options):
        replies = await press(assistant, option_id(replies[-1], "Weet ik niet"))
    verdict = replies[-1].text
    assert verdict.startswith("Of u in aanmerking komt, valt nog niet te zeggen")
    assert "aanvrager" not in verdict.split("Voorwaarden:")[0]
    assert "Hangt af van:" in verdict and "❓" in verdict


async def test_a_penvoerder_with_everything_in_place_is_told_so(assistant: Assistant) -> None:
    replies = await say(assistant, "/check")
    for label in ["Een vmbo-school (bestuur of locatie)", "Ja", "Ja", "Ja, wij zijn penvoerder"]:
        replies = await press(assistant, option_id(replies[-1], label))
    replies = await press(assistant, option_id(replies[-1], "Techniekluwe regio"))
    for label in ["Ja", "Ja", "Ja, 10% of meer", "Ja, aan alle drie"]:
        replies = await press(assistant, option_id(replies[-1], label))
    verdict = replies[-1].text
    assert verdict.startswith("U bent de aanvrager namens de regio")
    assert "is aan deze voorwaarden voldaan" in verdict
    assert "€ 4 miljoen" in verdict  # the budget fact for the region type
    assert "❌" not in verdict and "❓" not in verdict


async def test_an_unmet_condition_needs_attention(assistant: Assistant) -> None:
    replies = await say(assistant, "/check")
    for label in ["Een vmbo-school (bestuur of locatie)", "Ja", "Ja", "Ja, wij zijn penvoerder"]:
        replies = await press(assistant, option_id(replies[-1], label))
    for label in ["Techniekregio", "Ja", "Ja", "Nee, minder", "Ja, aan alle drie"]:
        replies = await press(assistant, option_id(replies[-1], label))
    verdict = replies[-1].text
    assert "Aandacht nodig:" in verdict and "10%" in verdict
    assert "bijlage 3" in verdict


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2024, 9, 15), ["is open tot 1 oktober 2024, 16:00", "moet uiterlijk 1 oktober 2026"]),
        (date(2026, 9, 1), ["is gesloten op 1 oktober 2024", "moet uiterlijk 1 oktober 2026"]),
        (
            date(2026, 11, 28),
            ["is gesloten op 1 oktober 2024", "moest uiterlijk 1 oktober 2026 binnen zijn"],
        ),
    ],
)
async def test_next_steps_are_told_relative_to_today(
    make_assistant: Callable[..., Assistant], today: date, expected: list[str]
) -> None:
    assistant = make_assistant(today)
    replies = await say(assistant, "/check")
    for label in ["Een vmbo-school (bestuur of locatie)", "Ja", "Ja", "Ja, wij zijn penvoerder"]:
        replies = await press(assistant, option_id(replies[-1], label))
    for label in ["Techniekregio", "Ja", "Ja", "Ja, 10% of meer", "Ja, aan alle drie"]:
        replies = await press(assistant, option_id(replies[-1], label))
    for text in expected:
        assert text in replies[-1].text


async def test_partners_learn_their_role(assistant: Assistant) -> None:
    replies = await say(assistant, "/check")
    [verdict] = await press(assistant, option_id(replies[-1], "Een mbo-instelling"))
    assert verdict.text.startswith("Een mbo-instelling is partner, geen aanvrager")


async def test_a_question_typed_mid_check_is_answered_and_the_check_resumes(
    assistant: Assistant,
) -> None:
    replies = await say(assistant, "/check")
    replies = await press(assistant, option_id(replies[-1], "Een vmbo-school (bestuur of locatie)"))
    answer, resumed = await say(assistant, "Wat is een penvoerder?")
    assert "bevoegd gezag" in answer.text
    assert "Vraag 2:" in resumed.text
    assert any(option.id.endswith(":leerwegen:ja") for option in resumed.options)


async def test_stop_and_slash_stop_end_the_check(assistant: Assistant) -> None:
    for word in ["stop", "/stop"]:
        await say(assistant, "/check")
        [reply] = await say(assistant, word)
        assert "gestopt" in reply.text
        [reply] = await say(assistant, "/stop")
        assert "Er loopt geen check" in reply.text


async def test_check_during_a_check_asks_to_continue_or_start_over(
    assistant: Assistant,
) -> None:
    replies = await say(assistant, "/check")
    await press(assistant, option_id(replies[-1], "Een vmbo-school (bestuur of locatie)"))
    [question] = await say(assistant, "/check")
    assert [option.id for option in question.options] == ["chk:continue", "chk:restart"]
    [current] = await press(assistant, "chk:continue")
    assert current.text.startswith("Vraag 2:")
    replies = await press(assistant, "chk:restart")
    assert replies[-1].text.startswith("Vraag 1:")


async def test_back_goes_to_the_previous_question(assistant: Assistant) -> None:
    replies = await say(assistant, "/check")
    assert "chk:back" not in [option.id for option in replies[-1].options]
    replies = await press(assistant, option_id(replies[-1], "Een vmbo-school (bestuur of locatie)"))
    [previous] = await press(assistant, "chk:back")
    assert previous.text.startswith("Vraag 1:")


async def test_stale_and_repeated_buttons(assistant: Assistant, knowledge: KnowledgeBase) -> None:
    tree = knowledge.check
    replies = await say(assistant, "/check")
    first = option_id(replies[-1], "Een vmbo-school (bestuur of locatie)")
    replies = await press(assistant, first)
    second = callback_data(tree.version, "leerwegen", "ja")
    replies = await press(assistant, second)
    assert replies[-1].text.startswith("Vraag 3:")
    # The same button again (a double tap): applied once, the current question is shown.
    [again] = await press(assistant, second)
    assert again.text.startswith("Vraag 3:")
    # A button of an earlier question: expired, and the current question again.
    expired, current = await press(assistant, first)
    assert "verlopen" in expired.text and current.text.startswith("Vraag 3:")
    # A button of an earlier version of the tree.
    expired, current = await press(assistant, "chk:00000000:regio:ja")
    assert "verlopen" in expired.text and current.text.startswith("Vraag 3:")


async def test_the_result_is_kept_with_the_labels_the_user_saw(assistant: Assistant) -> None:
    [none_yet] = await say(assistant, "/resultaat")
    assert "nog niet afgerond" in none_yet.text
    replies = await say(assistant, "/check")
    [verdict] = await press(assistant, option_id(replies[-1], "Een basisschool"))
    [result] = await say(assistant, "/resultaat")
    assert verdict.text in result.text
    assert "Namens wie stelt u deze vraag? Een basisschool" in result.text


async def test_privacy_explains_what_is_stored(assistant: Assistant) -> None:
    [reply] = await say(assistant, "/privacy")
    assert "180 dagen" in reply.text and "/vergeet" in reply.text


async def test_forget_asks_first_and_can_be_cancelled(assistant: Assistant) -> None:
    await say(assistant, "/taal en")
    [confirm] = await say(assistant, "/vergeet")
    assert [option.id for option in confirm.options] == ["forget:yes", "forget:no"]
    [kept] = await press(assistant, "forget:no")
    assert "Nothing deleted" in kept.text
    await say(assistant, "/vergeet")
    [gone] = await press(assistant, "forget:yes")
    assert "deleted" in gone.text
    [after] = await say(assistant, "/help")
    assert "Zo werkt het" in after.text  # the language choice was forgotten too


async def test_a_button_of_the_previous_version_still_works(assistant: Assistant) -> None:
    """Buttons on screen when a new version starts keep working under their old ids."""
    await say(assistant, "/vergeet")
    [kept] = await press(assistant, "forget-no")  # as version 0.1 named it
    assert "Niets verwijderd" in kept.text
    [menu] = await press(assistant, "topics")
    assert menu.options and menu.options[0].id.startswith("topic:")


def test_the_check_runs_in_jsonl_and_survives_a_kill(tmp_path: Path) -> None:
    """Acceptance: /check by JSON lines; SIGKILL after the second answer loses nothing."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STO_BOT", "LOG_"))}
    env["STO_BOT_DB"] = str(tmp_path / "sto.sqlite3")
    command = [sys.executable, "-m", "bot", "chat", "--jsonl", "--user", "u1"]

    def start() -> subprocess.Popen[str]:
        return subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True, cwd=tmp_path
        )

    def send(process: subprocess.Popen[str], message: dict[str, str]) -> list[dict[str, object]]:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps(message) + "\n")
        process.stdin.flush()
        replies: list[dict[str, object]] = json.loads(process.stdout.readline())["replies"]
        return replies

    def choose(replies: list[dict[str, object]], label: str) -> dict[str, str]:
        options = replies[-1]["options"]
        assert isinstance(options, list)
        return {"choice": next(o["id"] for o in options if o["label"] == label)}

    process = start()
    replies = send(process, {"text": "/check"})
    replies = send(process, choose(replies, "Een vmbo-school (bestuur of locatie)"))
    replies = send(process, choose(replies, "Ja"))
    assert str(replies[-1]["text"]).startswith("Vraag 3:")
    third = choose(replies, "Ja")
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)

    process = start()
    try:
        replies = send(process, third)
        assert str(replies[-1]["text"]).startswith("Vraag 4:")
        replies = send(process, choose(replies, "Nee, een ander bestuur"))
        replies = send(process, choose(replies, "Techniekregio"))
        assert str(replies[-1]["text"]).startswith("Uw school doet mee via de penvoerder")
        [result] = send(process, {"text": "/resultaat"})
        text = str(result["text"])
        assert "Namens wie stelt u deze vraag? Een vmbo-school (bestuur of locatie)" in text
        assert "basis-, kader- of gemengde leerweg aan? Ja" in text
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=10)
    assert process.returncode == 0


def test_button_ids_fit_telegram(knowledge: KnowledgeBase) -> None:
    tree = knowledge.check
    for question in tree.questions.values():
        assert isinstance(question, Question)
        for option in question.options:
            assert len(callback_data(tree.version, question.id, option.id).encode()) <= 64


async def test_a_check_on_a_tree_changed_by_a_reload_is_over_not_broken(tmp_path: Path) -> None:
    """An editor changes the check while a user is in it, and reloads: the user's next
    messages are answered as usual (no apology), and /check starts the new check."""
    import shutil

    from sto_bot.loader import default_knowledge_dir, load_knowledge

    root = tmp_path / "knowledge"
    shutil.copytree(default_knowledge_dir(), root)
    assistant = Assistant(load_knowledge(root))
    key = ConversationKey("test", "ina")
    await assistant.handle(IncomingMessage(key, text="/check"))
    await assistant.handle(IncomingMessage(key, text="1"))
    tree = root / "dialogs" / "eligibility.yaml"
    text = tree.read_text(encoding="utf-8")
    tree.write_text(text.replace("leerwegen", "leerroutes"), encoding="utf-8")
    assert await assistant.reload() == []
    for typed in ("Wat is een penvoerder?", "ja", "moet ik iets doen"):
        said = " ".join(r.text for r in await assistant.handle(IncomingMessage(key, text=typed)))
        assert "ging iets mis" not in said, typed
    [intro, *_] = await assistant.handle(IncomingMessage(key, text="/check"))
    assert "Vraag 1" in " ".join(r.text for r in [intro, *_])
