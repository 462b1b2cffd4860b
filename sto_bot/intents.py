"""Intents in the user's own words: "kan ik een adviseur spreken", "in English please".

A short message is compared with the phrases of each intent in `knowledge/conversation.yaml`
(words like "graag" and "please" left out, typos forgiven), and with its word pairs ("adviseur"
with "spreken"). An intent does what its command does. The same file says which short messages
lean on the previous answer ("en voor techniekluwe regio's?").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from rapidfuzz import fuzz

from sto_bot.models import LANGUAGES, Language
from sto_bot.text import clean_input, fold
from sto_bot.yaml_lines import line_of

if TYPE_CHECKING:
    from pathlib import Path

    from sto_bot.shapes import Shapes
    from sto_bot.yaml_lines import LineDict

MAX_INTENT_WORDS = 12
MAX_PAIR_WORDS = 7  # word pairs are looser than phrases: only in really short messages
# How much of the message and a phrase must be the same words (F1 of the word sets), or how
# alike their spelling (0-100), for the message to mean the phrase.
WORD_OVERLAP = 0.8
SPELLING = 88.0


class Intent(StrEnum):
    """What a user can ask for in their own words; each is also a command."""

    CONSULTANT = "consultant"
    HELP = "help"
    MENU = "menu"
    TOPICS = "topics"
    CHECK = "check"
    STOP = "stop"
    BACK = "back"
    PRIVACY = "privacy"
    MY_DATA = "my-data"
    FORGET = "forget"
    ENGLISH = "english"
    DUTCH = "dutch"
    HELPFUL = "helpful"  # "dank je, dat hielp": a 👍 for the answer just given


@dataclass(frozen=True, slots=True)
class FollowUps:
    """Which short messages lean on the previous answer."""

    max_words: int = 8
    starts: tuple[str, ...] = ()
    refers: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Intents:
    """The intents' phrases (as folded words) and word pairs, and the words that do not count."""

    # Per intent its phrases as folded words, each with the language it is written in.
    phrases: Mapping[Intent, tuple[tuple[Language, tuple[str, ...]], ...]]
    pairs: Mapping[Intent, tuple[frozenset[str], ...]]
    ignore: frozenset[str]
    follow_ups: FollowUps

    def find(self, text: str) -> Intent | None:
        """The intent a short message asks for, if it clearly asks for one."""
        found = self._find(text)
        return found[0] if found is not None else None

    def language_of(self, text: str) -> Language | None:
        """The language of the phrase a request is like: "delete my data" is English, though
        too short to tell by its words (None for a pair of words, which mix the languages)."""
        found = self._find(text)
        return found[1] if found is not None else None

    def _find(self, text: str) -> tuple[Intent, Language | None] | None:
        """The intent a short message asks for, and the language of the phrase it is like
        (None when only word pairs matched, which mix the languages)."""
        words = [w for w in fold(clean_input(text)).split() if w not in self.ignore]
        if not words or len(words) > MAX_INTENT_WORDS:
            return None
        typed = set(words)
        joined = " ".join(words)
        best: tuple[float, Intent, Language] | None = None
        for intent, phrases in self.phrases.items():
            for language, phrase in phrases:
                shown = set(phrase)
                overlap = 2 * len(typed & shown) / (len(typed) + len(shown))
                score = overlap if overlap >= WORD_OVERLAP else 0.0
                if min(len(joined), len(" ".join(phrase))) >= 5:
                    spelling = fuzz.ratio(joined, " ".join(phrase))
                    if spelling >= SPELLING:
                        score = max(score, spelling / 100)
                if score and (best is None or score > best[0]):
                    best = (score, intent, language)
        if best is not None:
            return best[1], best[2]
        for intent, groups in self.pairs.items():
            if len(words) <= MAX_PAIR_WORDS and groups and all(typed & g for g in groups):
                return intent, None
        return None

    def leans_on_previous(self, text: str) -> bool:
        """Whether a message looks like a follow-up of the previous answer."""
        words = fold(clean_input(text)).split()
        if not words or len(words) > self.follow_ups.max_words:
            return False
        return self.opens_as_follow_up(text) or not self.follow_ups.refers.isdisjoint(words)

    def opens_as_follow_up(self, text: str) -> bool:
        """Whether a message opens as a follow-up does ("en…"), not only points back ("dan")."""
        joined = " ".join(fold(clean_input(text)).split()) + " "
        return any(joined.startswith(start + " ") for start in self.follow_ups.starts)


def read_intents(loader: Shapes, path: Path, data: LineDict) -> Intents:
    """The intents, ignored words and follow-up markers of `conversation.yaml`."""
    phrases: dict[Intent, tuple[tuple[Language, tuple[str, ...]], ...]] = {}
    pairs: dict[Intent, tuple[frozenset[str], ...]] = {}
    table = loader.mapping(path, data.get("intents"), line_of(data, "intents"), "intents")
    for name, item in (table or {}).items():
        line = line_of(table, name)
        try:
            intent = Intent(name)
        except ValueError:
            known = ", ".join(i.value for i in Intent)
            loader.problem(path, line, f"unknown intent '{name}' (known: {known})")
            continue
        record = loader.mapping(path, item, line, f"intent '{name}'")
        if record is None or not loader.keys(path, record, ["phrases"], ["pairs"]):
            continue
        by_language = loader.localized_list(
            path, record["phrases"], line_of(record, "phrases"), "phrases"
        )
        phrases[intent] = tuple(
            (language, tuple(fold(phrase).split()))
            for language in LANGUAGES
            for phrase in by_language.get(language, ())
        )
        if "pairs" in record:
            groups = loader.sequence(path, record["pairs"], line_of(record, "pairs"), "pairs")
            pairs[intent] = tuple(
                frozenset(fold(word) for word in loader.texts(path, group, "a word"))
                for group in (
                    loader.sequence(path, g, line_of(groups, i), "a group of words")
                    for i, g in enumerate(groups or [])
                )
            )
    for intent in Intent:
        if intent not in phrases:
            loader.problem(path, line_of(data, "intents"), f"intent '{intent.value}' is missing")
    ignore = loader.sequence(path, data.get("ignore"), line_of(data, "ignore"), "ignore")
    follow = loader.mapping(path, data.get("follow_ups"), line_of(data, "follow_ups"), "follow_ups")
    follow_ups = FollowUps()
    if follow is not None and loader.keys(path, follow, ["max_words", "starts", "refers"]):
        starts = loader.sequence(path, follow["starts"], line_of(follow, "starts"), "starts")
        refers = loader.sequence(path, follow["refers"], line_of(follow, "refers"), "refers")
        follow_ups = FollowUps(
            max_words=int(follow["max_words"]),
            starts=tuple(fold(s) for s in loader.texts(path, starts, "a start")),
            refers=frozenset(fold(w) for w in loader.texts(path, refers, "a word")),
        )
    return Intents(
        phrases,
        pairs,
        frozenset(fold(w) for w in loader.texts(path, ignore, "a word")),
        follow_ups,
    )
