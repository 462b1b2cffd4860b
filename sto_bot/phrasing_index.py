"""Which entries know a text's words, and how well each entry's closest phrasing fits it.

An inverted index over the phrasings, kept as numpy arrays: a text's weighted words become one
weighted count per entry (coverage) and per phrasing (overlap) in a single `bincount` each, and
the best fit per entry is one `maximum.reduceat` over its phrasings, which lie side by side. In
pure Python these loops ran over a few thousand postings per text and were half the time a long
message took; here they cost a few microseconds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sto_bot.models import Language

Floats = npt.NDArray[np.float64]
Indexes = npt.NDArray[np.intp]


@dataclass(frozen=True, slots=True)
class Phrasing:
    """One indexed phrasing: its entry, its language (None for a keyword) and its words."""

    entry_id: str
    language: Language | None
    words: Sequence[str]


@dataclass(frozen=True, slots=True)
class Fits:
    """What one text was measured against the index, per entry number (`entry_ids`)."""

    named: Indexes  # the entries that know a word of the text, in entry order
    coverage: Floats  # the share of the text's weight each entry knows
    fit: Floats  # the best F1 of one of the entry's phrasings with the text; 0 when not fitted
    harmonic: Floats  # per phrasing, its F1 with the text


class PhrasingIndex:
    """Postings of every word: the entries that know it, and the phrasings that use it."""

    def __init__(
        self,
        phrasings: Iterable[Phrasing],
        entry_words: Mapping[str, Iterable[tuple[str, float]]],
        idf: Mapping[str, float],
    ) -> None:
        """`entry_words`: per entry, its words with how strongly each counts for it."""
        grouped: dict[str, list[Phrasing]] = defaultdict(list)
        for phrasing in phrasings:
            grouped[phrasing.entry_id].append(phrasing)
        # Entries with phrasings come first, numbered as their phrasings lie in the arrays.
        self.entry_ids = (*grouped, *(e for e in entry_words if e not in grouped))
        self.number = {entry_id: n for n, entry_id in enumerate(self.entry_ids)}
        ordered = [phrasing for group in grouped.values() for phrasing in group]
        self._phrasing_count = len(ordered)
        # Entry n's phrasings are ordered[bounds[n]:bounds[n + 1]].
        self._bounds: Indexes = np.cumsum([0, *(len(g) for g in grouped.values())], dtype=np.intp)
        self._languages = [phrasing.language for phrasing in ordered]
        # A phrasing's weight: the idf of its distinct words, summed in a fixed order so that
        # every process gets the same float.
        self._weights: Floats = np.array(
            [sum(idf[word] for word in sorted(set(p.words))) for p in ordered], dtype=np.float64
        )
        postings: dict[str, list[int]] = defaultdict(list)
        for index, phrasing in enumerate(ordered):
            for word in set(phrasing.words):
                postings[word].append(index)
        self._postings = {word: np.array(ix, dtype=np.intp) for word, ix in postings.items()}
        knowers: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for entry_id, words in entry_words.items():
            for word, strength in words:
                knowers[word].append((self.number[entry_id], strength))
        self._knowers = {
            word: (
                np.array([n for n, _ in pairs], dtype=np.intp),
                np.array([s for _, s in pairs], dtype=np.float64),
            )
            for word, pairs in knowers.items()
        }

    def measure(self, mapped: Mapping[str, float], total: float, fitted: int | None) -> Fits:
        """Coverage and fit of a text's weighted words (`total`: its whole weight, unknown
        words included); with `fitted`, only that many best-covering entries are fitted."""
        known = [word for word in mapped if word in self._knowers]
        if not known:
            nothing = np.zeros(len(self.entry_ids))
            return Fits(np.flatnonzero(nothing), nothing, nothing, np.zeros(self._phrasing_count))
        entries = np.concatenate([self._knowers[word][0] for word in known])
        shares = np.concatenate([self._knowers[word][1] * mapped[word] / total for word in known])
        coverage = self._floats(np.bincount(entries, shares, len(self.entry_ids)))
        named = np.flatnonzero(coverage)
        used = [word for word in known if word in self._postings]
        if used:
            indexes = np.concatenate([self._postings[word] for word in used])
            values = np.repeat(
                [mapped[word] for word in used], [len(self._postings[w]) for w in used]
            )
            overlap = self._floats(np.bincount(indexes, values, self._phrasing_count))
        else:
            overlap = np.zeros(self._phrasing_count)
        # F1 of precision overlap/total and recall overlap/weight, as one division.
        harmonic: Floats = 2 * overlap / (total + self._weights)
        fit = np.zeros(len(self.entry_ids))
        fit[: len(self._bounds) - 1] = np.maximum.reduceat(harmonic, self._bounds[:-1])
        if fitted is not None and len(named) > fitted:
            # The others stay unfitted: only their coverage counts.
            leading = named[np.argsort(-coverage[named], kind="stable")[:fitted]]
            kept = np.zeros(len(self.entry_ids), dtype=bool)
            kept[leading] = True
            fit[~kept] = 0.0
        return Fits(named, coverage, fit, harmonic)

    def language(self, fits: Fits, number: int) -> Language | None:
        """The language of the fitted entry's best-fitting phrasing that has one, if any fits."""
        if number >= len(self._bounds) - 1 or not fits.fit[number]:
            return None
        start, end = int(self._bounds[number]), int(self._bounds[number + 1])
        best = [
            (value, -offset)
            for offset, value in enumerate(fits.harmonic[start:end].tolist())
            if value > 0 and self._languages[start + offset] is not None
        ]
        return self._languages[start - max(best)[1]] if best else None

    @staticmethod
    def _floats(counted: npt.NDArray[np.intp]) -> Floats:
        # With weights, bincount counts in floats; this only tells the type checker so.
        return np.asarray(counted, dtype=np.float64)
