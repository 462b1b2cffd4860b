"""Suggested phrasings from what users really asked (`sto-bot kb learn`): the questions that got
no answer, a "bedoelt u…?" or a 👎, each with the entry it most likely belonged to, and the
editor's accepted phrasing written into that entry's YAML in place (comments and layout kept)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from sto_bot.models import ConversationKey, Event, Language
from sto_bot.text import fold

CHOSEN = "chosen after 'bedoelt u…?'"
OFFERED = "offered first in 'bedoelt u…?'"
CLOSEST = "the closest entry (no answer was given)"
# A 👎 may be about the answer itself (a date gone by): then improve that answer instead.
DISLIKED = (
    "rated not helpful when answered by {entry}; if that was the right entry, improve its "
    "answer instead"
)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A question users asked, and the entry its wording most likely belongs to."""

    question: str
    language: Language
    entry: str
    why: str
    count: int = 1


def candidates(
    events: Iterable[tuple[ConversationKey, Any, Event]],
    guess: Callable[[str], list[str]],
    known: Callable[[str, str], bool],
    language_of: Callable[[str], Language],
) -> list[Candidate]:
    """The questions worth a phrasing, most asked first. `guess(question)` ranks the entries
    it may belong to; `known(question, entry)` tells whether the entry answers it already (then
    there is nothing to learn); `language_of` tells a question's language."""
    found: list[Candidate] = []
    waiting: dict[ConversationKey, Candidate] = {}  # a "bedoelt u…?" waiting for its choice
    for key, _, event in events:
        data = event.data
        if event.kind == "choice" and key in waiting:
            offered = waiting.pop(key)
            chosen = str(data.get("id", ""))
            if chosen.startswith("ask:"):
                found.append(Candidate(offered.question, offered.language, chosen[4:], CHOSEN))
            else:
                found.append(offered)
            continue
        if key in waiting:
            found.append(waiting.pop(key))
        if event.kind == "question":
            candidate = _from_question(data, guess, language_of)
            if candidate is not None and candidate.why == OFFERED:
                waiting[key] = candidate
            elif candidate is not None:
                found.append(candidate)
        elif event.kind == "feedback" and data.get("helpful") is False and data.get("question"):
            answered = str(data.get("entry"))
            others = [e for e in guess(str(data["question"])) if e != answered]
            if others:
                why = DISLIKED.format(entry=answered)
                question = str(data["question"])
                found.append(Candidate(question, language_of(question), others[0], why))
    found += waiting.values()
    return _merged(c for c in found if not known(c.question, c.entry))


def _from_question(
    data: dict[str, Any],
    guess: Callable[[str], list[str]],
    language_of: Callable[[str], Language],
) -> Candidate | None:
    text = str(data.get("text", "")).strip()
    if not text:
        return None
    language = language_of(text)  # the phrasing goes to the list of the language it is in
    if data.get("status") == "suggest" and data.get("suggestions"):
        return Candidate(text, language, str(data["suggestions"][0]), OFFERED)
    if data.get("status") == "fallback":
        ranked = guess(text)
        return Candidate(text, language, ranked[0], CLOSEST) if ranked else None
    return None


def _merged(found: Iterable[Candidate]) -> list[Candidate]:
    """One row per question and entry (asked alike: same folded words), most asked first;
    where users chose, their choice outranks a guess."""
    counts: Counter[tuple[str, str]] = Counter()
    first: dict[tuple[str, str], Candidate] = {}
    for candidate in found:
        key = (fold(candidate.question), candidate.entry)
        counts[key] += 1
        if key not in first or candidate.why == CHOSEN:
            first[key] = candidate
    rows = [
        Candidate(c.question, c.language, c.entry, c.why, counts[key]) for key, c in first.items()
    ]
    return sorted(rows, key=lambda c: (-c.count, c.why != CHOSEN))


def _yaml() -> YAML:
    """Round-trip YAML in the layout of the knowledge files: a file is written back as it was,
    but for what was added."""
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap a long phrasing
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def add_phrasing(root: Path, entry_id: str, language: Language, phrasing: str) -> Path:
    """Add a phrasing to an entry in its topic file under `root/faq`, in place; the file."""
    yaml = _yaml()
    for path in sorted((root / "faq").glob("*.yaml")):
        data = yaml.load(path.read_text(encoding="utf-8"))
        for entry in data.get("entries") or []:
            if entry.get("id") == entry_id:
                questions = entry["questions"][language]
                if phrasing not in questions:
                    questions.append(DoubleQuotedScalarString(phrasing))
                with path.open("w", encoding="utf-8") as file:
                    yaml.dump(data, file)
                return path
    raise KeyError(f"no entry '{entry_id}' in {root / 'faq'}")
