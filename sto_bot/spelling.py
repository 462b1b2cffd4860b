"""Typos: which word of the knowledge a typed word stands for, and editors' typos respelt.

People rarely mistype the first letter of a word, and a word two slips away is mostly another
word ("lease" is not "laser"), so a typo is looked for among the known words with the same
first letter, one slip away in a short word and two in a long one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from rapidfuzz import fuzz, process
from rapidfuzz.distance import DamerauLevenshtein

from sto_bot.models import Language
from sto_bot.text import WORD_CACHE_SIZE

SHORT_WORD = 6  # letters up to which a word is forgiven one slip, not two
SUBSTITUTION_WORD = 5  # letters up to which a slip is a letter added, dropped or swapped
# A typo of a synonym or a stop word needs more letters and more likeness: such spellings are
# many and short ("oude", "even", "voor"), and near them are other words ("ouder", "event").
STRICT_WORD = 6
STRICT_SIMILARITY = 88.0


class Speller:
    """The known word a typed word stands for, with how sure that is."""

    def __init__(
        self, spelt: Mapping[str, str], similarity: float, strict: Mapping[str, str] | None = None
    ) -> None:
        """`spelt` maps every spelling to look among to the word it stands for; `similarity`
        (0-100) is how alike a typo must still be. `strict` spellings (synonyms, stop words)
        are only a typo's word when the typo is long and very alike: "ouder" is no "oude",
        "storing" no "scoring"."""
        strict = strict or {}
        self._spelt = {**strict, **spelt}
        self._strict = frozenset(strict) - frozenset(spelt)
        self._similarity = similarity
        self._by_letter: dict[str, list[str]] = defaultdict(list)
        for spelling in sorted(self._spelt):
            self._by_letter[spelling[0]].append(spelling)
        self._found: dict[str, tuple[str | None, float]] = {}

    def word(self, token: str) -> tuple[str | None, float]:
        """The known word `token` stands for (None for none) and how sure that is (0-1)."""
        # The typo search is the dear part, and the same words keep coming: remember them.
        found = self._found.get(token)
        if found is None:
            if len(self._found) >= WORD_CACHE_SIZE:
                self._found.clear()
            found = self._found[token] = self._look_up(token)
        return found

    def _look_up(self, token: str) -> tuple[str | None, float]:
        """`word` without the memory: the word itself, or its closest spelling."""
        if token in self._spelt and self._spelt[token] == token:
            return token, 1.0
        if len(token) < 4 or token.isdigit():
            return None, 0.0
        # One slip of the finger in a short word, two in a long one: a letter too many, too few,
        # another one, or two swapped ("regoi"). More is another word ("lease" is not "laser"),
        # and so is another letter in a word of five or fewer ("wist" is not "west").
        slips = 1 if len(token) <= SHORT_WORD else 2
        near = process.extract(
            token,
            self._by_letter.get(token[0], ()),
            scorer=DamerauLevenshtein.distance,
            processor=None,
            score_cutoff=slips,
            limit=None,
        )
        # Of the words equally few slips away, the likest ("financiel" is "financieel").
        alike = [
            (fuzz.ratio(token, str(word), processor=None), str(word))
            for word, _, _ in near
            if len(token) > SUBSTITUTION_WORD or _added_dropped_or_swapped(token, str(word))
        ]
        if not alike:
            return None, 0.0
        similarity, spelling = max(alike)
        if similarity < self._similarity:
            return None, 0.0
        if spelling in self._strict and (
            len(token) < STRICT_WORD or similarity < STRICT_SIMILARITY
        ):
            return None, 0.0
        return self._spelt[spelling], similarity / 100.0


def respelled(
    raw: list[tuple[str, Language | None, list[str], str]], similarity: float
) -> list[tuple[str, Language | None, list[str], str]]:
    """Phrasings with their typos ("regoi") spelled as the word they stand for ("regio").

    Editors write phrasings with typos on purpose, as users type them. Kept as words of their
    own, a typo would become a rare and so heavy word of one entry, and pull a user's same
    typo there; spelled right, it counts like the word, and the user's typo is forgiven the
    way any typo is."""
    entries_of: dict[str, set[str]] = defaultdict(set)
    for entry_id, _, tokens, _ in raw:
        for token in tokens:
            entries_of[token].add(entry_id)
    # The common words by first letter and length (looked through once per rare word).
    common: dict[tuple[str, int], list[str]] = defaultdict(list)
    for word in sorted(t for t, ids in entries_of.items() if len(ids) >= 3 and len(t) >= 4):
        common[word[0], len(word)].append(word)
    spelled: dict[str, str] = {}
    for token, ids in entries_of.items():
        if len(ids) > 2 or len(token) < 5 or not token.isalpha():
            continue
        # Same length give or take a letter, and alike: a slip of the finger, not a new word.
        found = process.extractOne(
            token,
            sorted(
                word
                for length in (len(token) - 1, len(token), len(token) + 1)
                for word in common.get((token[0], length), ())
            ),
            scorer=fuzz.ratio,
            processor=None,
            score_cutoff=similarity,
        )
        # A transposition ("regoi") scores as low as a different word ("regen" for "regio"):
        # below a high likeness only the same letters in another order count as a typo.
        if found is not None and (found[1] >= 88 or sorted(found[0]) == sorted(token)):
            spelled[token] = str(found[0])
    if not spelled:
        return raw
    return [
        (entry_id, language, list(dict.fromkeys(spelled.get(t, t) for t in tokens)), wording)
        for entry_id, language, tokens, wording in raw
    ]


def _added_dropped_or_swapped(typed: str, word: str) -> bool:
    """Whether one slip between two words is a letter too many or too few, or two swapped."""
    return len(typed) != len(word) or sorted(typed) == sorted(word)
