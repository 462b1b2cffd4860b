"""`sto-bot kb learn`: real questions that got no answer, a "bedoelt u…?" or a 👎, one by one,
each with the entry it most likely belonged to; the editor accepts, picks another entry, or
skips. Nothing is added without the editor."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Protocol, TextIO

from sto_bot.answers import Answers
from sto_bot.dates import system_clock
from sto_bot.knowledge import KnowledgeBase
from sto_bot.learn import Candidate, add_phrasing, candidates
from sto_bot.models import Band, ConversationKey, Event, Language

DEFAULT_WEEKS = 4
HELP = "a = add it there, o ENTRY-ID = add it to another entry, s = skip, q = stop"


class Questions(Protocol):
    """What kb learn reads of the store."""

    async def events_between(
        self, since: datetime, until: datetime
    ) -> list[tuple[ConversationKey, datetime, Event]]:
        """Every conversation's events in [since, until)."""
        ...

    async def close(self) -> None:
        """Release the store."""
        ...


async def suggestions(
    knowledge: KnowledgeBase,
    open_database: Callable[[], Awaitable[Questions]],
    since: date | None,
) -> list[Candidate]:
    """The candidates since `since` (default: four weeks ago)."""
    today = system_clock().date()
    start = datetime.combine(since or today - timedelta(weeks=DEFAULT_WEEKS), datetime.min.time())
    end = datetime.combine(today + timedelta(days=1), datetime.min.time())
    store = await open_database()
    try:
        events = await store.events_between(start, end)
    finally:
        await store.close()
    answers = Answers(knowledge, system_clock)
    topical = {e.id for e in knowledge.entries.values() if e.topical}

    def guess(question: str) -> list[str]:
        # The leaders of the text the decision was made on: a fallback offers none, but its
        # closest entries are what the editor may teach it.
        matches = answers.matcher.rank(question).candidate.matches
        return [m.entry_id for m in matches if m.entry_id in topical]

    def known(question: str, entry: str) -> bool:
        result = answers.ask(question)
        return result.status is Band.ANSWER and result.entry == entry

    def language_of(question: str) -> Language:
        return answers.matcher.language(question) or "nl"

    return candidates(events, guess, known, language_of)


def review(knowledge: KnowledgeBase, found: list[Candidate], stdin: TextIO, stdout: TextIO) -> int:
    """Show each candidate and do what the editor types; how many phrasings were added."""
    if not found:
        stdout.write("Nothing to learn: every question of the period got an answer.\n")
        return 0
    stdout.write(f"{len(found)} questions to look at. {HELP}\n")
    added = 0
    for number, candidate in enumerate(found, 1):
        entry = knowledge.entries.get(candidate.entry)
        title = entry.title(candidate.language) if entry else "?"
        stdout.write(
            f'\n[{number}/{len(found)}] {candidate.count}x "{candidate.question}" '
            f"({candidate.language})\n    -> {candidate.entry}: {title}  ({candidate.why})\n> "
        )
        stdout.flush()
        target = _answer(stdin, candidate, knowledge, stdout)
        if target == "quit":
            break
        if target:
            path = add_phrasing(knowledge.root, target, candidate.language, candidate.question)
            stdout.write(f"    added to {target} in {path}\n")
            added += 1
    return added


def _answer(
    stdin: TextIO, candidate: Candidate, knowledge: KnowledgeBase, stdout: TextIO
) -> str | None:
    """The entry to add the phrasing to, "quit" (also at the end of the input), or None to
    skip; asked again until the editor's answer is one of these."""
    topical = {e.id for e in knowledge.entries.values() if e.topical}
    while True:
        line = stdin.readline()
        word, _, rest = line.strip().partition(" ")
        if word == "q" or not line:
            return "quit"
        if word in ("", "s"):
            return None
        if word == "a":
            return candidate.entry
        if word == "o" and rest.strip() in topical:
            # One slip in an id would teach the question another answer: show it first.
            other = knowledge.entries[rest.strip()]
            stdout.write(f"    {other.id}: {other.title(candidate.language)}; y = add it there\n> ")
            stdout.flush()
            if stdin.readline().strip().casefold() in ("y", "yes", "j", "ja"):
                return other.id
            stdout.write(f"    not added; again ({HELP}):\n> ")
            stdout.flush()
            continue
        wrong = f"no entry about STO is called '{rest.strip()}'" if word == "o" else HELP
        stdout.write(f"    {wrong}; again:\n> ")
        stdout.flush()


def run(
    args: argparse.Namespace,
    knowledge: KnowledgeBase,
    found: list[Candidate],
    after: Callable[[], int],
) -> int:
    """Review `found`; when something was added, `after` checks and scores the knowledge."""
    added = review(knowledge, found, sys.stdin, sys.stdout)
    if not added:
        return 0
    print(f"\n{added} phrasing(s) added. Checking and scoring the knowledge:")
    return after()
