"""`sto-bot kb learn` round trip: a question users asked, accepted by the editor, lands in the
right entry's YAML with the file's comments and layout kept, `kb check` passes, and the question
is answered from then on."""

from __future__ import annotations

import difflib
import json
import shutil
from pathlib import Path

from conftest import run_cli

from sto_bot.assistant import Assistant
from sto_bot.knowledge import KnowledgeBase
from sto_bot.loader import default_knowledge_dir, load_knowledge
from sto_bot.models import ConversationKey, IncomingMessage
from sto_bot.sqlite_store import SqliteStore

QUESTION = "mag ik het geld ook aan laptops uitgeven"
ENTRY = "subsidiabele-kosten"


def topic_file(root: Path, entry: str) -> Path:
    return next(p for p in (root / "faq").glob("*.yaml") if f"  - id: {entry}\n" in p.read_text())


async def test_an_accepted_phrasing_lands_in_the_entry_and_is_then_answered(
    knowledge: KnowledgeBase, tmp_path: Path
) -> None:
    root = tmp_path / "knowledge"
    shutil.copytree(default_knowledge_dir(), root)
    path = topic_file(root, ENTRY)
    with_comment = "# An editor's note that must survive.\n" + path.read_text(encoding="utf-8")
    path.write_text(with_comment, encoding="utf-8")
    database = tmp_path / "learn.sqlite3"
    store = await SqliteStore.open(database)
    assistant = Assistant(load_knowledge(root), store=store)
    user = ConversationKey("test", "ina")
    [unsure] = await assistant.handle(IncomingMessage(user, text=QUESTION))
    assert f"ask:{ENTRY}" in [o.id for o in unsure.options]  # "bedoelt u…?", with the entry
    await assistant.handle(IncomingMessage(user, choice=f"ask:{ENTRY}"))  # the user chose it
    await store.close()
    env = {"STO_BOT_DB": str(database), "STO_BOT_KNOWLEDGE": str(root)}

    result = run_cli("kb", "learn", stdin=b"a\nq\n", env=env)
    out = result.stdout.decode()
    assert result.returncode == 0, out + result.stderr.decode()
    assert f'"{QUESTION}"' in out and f"-> {ENTRY}" in out and "chosen" in out
    assert "knowledge OK" in out  # kb check ran, and kb eval after it
    changed = path.read_text(encoding="utf-8")
    added = [
        line
        for line in difflib.ndiff(with_comment.splitlines(), changed.splitlines())
        if line.startswith(("+ ", "- "))
    ]
    assert added == [f'+         - "{QUESTION}"']  # one line added, nothing else touched
    assert changed.startswith("# An editor's note that must survive.\n")
    assert QUESTION in load_knowledge(root).entries[ENTRY].questions["nl"]

    asked = run_cli("ask", "--json", QUESTION, env=env)
    answer = json.loads(asked.stdout)
    assert (answer["status"], answer["entry"]) == ("answer", ENTRY)

    again = run_cli("kb", "learn", stdin=b"a\n", env=env)  # answered now: nothing to learn
    assert "Nothing to learn" in again.stdout.decode()


def files_of(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*.yaml")}


def asked_once(tmp_path: Path, knowledge: Path) -> dict[str, str]:
    """A copy of the shipped knowledge at `knowledge`, and a database where QUESTION was asked
    once: the environment for kb learn."""
    shutil.copytree(default_knowledge_dir(), knowledge)
    env = {"STO_BOT_DB": str(tmp_path / "asked.sqlite3"), "STO_BOT_KNOWLEDGE": str(knowledge)}
    run_cli("chat", stdin=f"{QUESTION}\n".encode(), env=env)
    return env


def test_nothing_is_added_without_the_editor(tmp_path: Path) -> None:
    root = tmp_path / "knowledge"
    env = asked_once(tmp_path, root)
    before = files_of(root)
    result = run_cli("kb", "learn", stdin=b"s\n\n", env=env)
    assert result.returncode == 0
    assert files_of(root) == before


def test_a_question_that_got_no_answer_is_offered_with_its_closest_entry(tmp_path: Path) -> None:
    """A fallback has no choices to offer the user, but its closest entry is what an editor
    may teach it (the editors' newcomer found every unanswered question left out)."""
    unanswered = "mag ik een excursie naar een bedrijf betalen van het geld?"
    env = {"STO_BOT_DB": str(tmp_path / "asked.sqlite3")}
    run_cli("chat", stdin=f"{unanswered}\n".encode(), env=env)
    result = run_cli("kb", "learn", stdin=b"q\n", env=env)
    out = result.stdout.decode()
    assert result.returncode == 0, out + result.stderr.decode()
    assert f'"{unanswered}"' in out and "no answer was given" in out


def test_the_installed_copy_of_the_knowledge_is_not_written(tmp_path: Path) -> None:
    """After `pip install .` the knowledge the bot reads lies inside the installed package; a
    phrasing written there would be gone with the next install, so kb learn says where to
    point it. A copy elsewhere is the editor's, whatever its folders are called."""
    site = tmp_path / "site-packages"  # the packages laid out as an install lays them out
    repository = Path(__file__).resolve().parent.parent
    for package in ("bot", "sto_bot"):
        shutil.copytree(
            repository / package, site / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    installed = site / "sto_bot" / "knowledge"
    env = asked_once(tmp_path, installed)
    del env["STO_BOT_KNOWLEDGE"]  # the installed package's own knowledge, as after an install
    env["PYTHONPATH"] = str(site)
    before = files_of(installed)
    result = run_cli("kb", "learn", stdin=b"a\na\n", env=env)
    assert result.returncode == 2, result.stderr.decode()
    assert "STO_BOT_KNOWLEDGE" in result.stderr.decode()
    assert files_of(installed) == before

    own = tmp_path / "site-packages" / "mine" / "knowledge"
    env = asked_once(tmp_path / "mine", own)
    before = files_of(own)
    result = run_cli("kb", "learn", stdin=b"a\na\n", env=env)
    assert result.returncode == 0, result.stderr.decode()
    assert files_of(own) != before  # the phrasing went in


def test_another_entry_is_shown_and_confirmed_before_anything_is_written(tmp_path: Path) -> None:
    """Editors' newcomer: one slip in `o ENTRY-ID` taught a question another entry's answer,
    silently. The entry is shown by its question first, and only a "y" adds it there."""
    root = tmp_path / "knowledge"
    env = asked_once(tmp_path, root)
    before = files_of(root)
    declined = run_cli("kb", "learn", stdin=b"o penvoerder\nn\ns\n", env=env)
    out = declined.stdout.decode()
    assert "penvoerder: Wat is een penvoerder?" in out and "not added" in out
    assert files_of(root) == before
    accepted = run_cli("kb", "learn", stdin=b"o btw\ny\nq\n", env=env)
    assert accepted.returncode == 0, accepted.stderr.decode()
    assert QUESTION in load_knowledge(root).entries["btw"].questions["nl"]
