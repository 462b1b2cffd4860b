"""Small talk ("hallo", "wie ben jij?", "bedankt") recognised among the phrases of its entries.

Small talk is mostly stop words, so it is not matched like a question about STO: a message is
compared with each phrase word for word (F1 of the shared words) and, when it is short enough to
be a typo of one, letter by letter.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from rapidfuzz import fuzz, process

from sto_bot.knowledge import Entry
from sto_bot.models import Language, Match
from sto_bot.text import Normaliser, fold


class SmallTalk:
    """The small-talk phrases, indexed by their words."""

    def __init__(
        self,
        entries: Iterable[Entry],
        normaliser: Normaliser,
        *,
        least_overlap: float,
        least_spelling: float,
    ) -> None:
        self._normaliser = normaliser
        self._least_overlap = least_overlap
        self._least_spelling = least_spelling
        self._phrases: list[tuple[str, Language, frozenset[str]]] = []
        self._wordings: list[str] = []
        self._with: dict[str, list[int]] = defaultdict(list)
        for entry in entries:
            for language, questions in entry.questions.items():
                for question in questions:
                    phrase = frozenset(normaliser.words(question))
                    for word in phrase:
                        self._with[word].append(len(self._phrases))
                    self._phrases.append((entry.id, language, phrase))
                    self._wordings.append(fold(question))
        self._longest = max(map(len, self._wordings), default=0)

    def match(
        self, words: list[str], folded: str, subjects: frozenset[str]
    ) -> tuple[Match, Language] | None:
        """The closest phrase by shared words or, for a typo, by spelling, with its language;
        none when a word of the message names one of the other `subjects`' words that the
        phrase lacks."""
        question = set(words)
        spelling: dict[int, float] = {}
        # fuzz.ratio is at most 2 * shorter / (both lengths): a long message cannot be spelt
        # like a short phrase, so it is not compared letter by letter at all.
        cutoff = self._least_spelling
        if len(folded) * cutoff / (200 - cutoff) <= self._longest:
            similar = process.extract(
                folded,
                self._wordings,
                scorer=fuzz.ratio,
                processor=None,
                score_cutoff=cutoff,
                limit=None,
            )
            spelling = {index: score for _, score, index in similar}
        # Any other phrase scores 0, below the least overlap: only these can win.
        candidates = spelling.keys() | {
            index for word in question for index in self._with.get(word, ())
        }
        # A message that names another subject ("hoe laat" in "hoe laat is het?") is about
        # that subject, however much it looks like small talk ("hoe is het?").
        content = {
            word for word in question if not subjects.isdisjoint(self._normaliser.canonical([word]))
        }
        best: tuple[Match, Language] | None = None
        for index in sorted(candidates):
            entry_id, language, phrase = self._phrases[index]
            score = 0.0
            shared = len(question & phrase)
            # One word in common is no evidence between two texts of several words ("dat
            # hielp" is not "waar staat dat?"); it is for a one-word text or phrase ("hallo").
            if content <= phrase and (shared > 1 or min(len(question), len(phrase)) == 1):
                score = 100 * 2 * shared / (len(question) + len(phrase))
            if index in spelling:
                score = max(score, spelling[index])
            if score >= self._least_overlap and (best is None or score > best[0].score):
                best = (Match(entry_id, round(score, 1)), language)
        return best
