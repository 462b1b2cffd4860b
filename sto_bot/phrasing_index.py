"""Which entries know a text's words, and how well each entry's closest phrasing fits it.

An inverted index over the phrasings, kept as numpy arrays: a text's weighted words become one
weighted count per entry (coverage) and per phrasing (overlap) in a single `bincount` each, and
the best fit per entry is one `maximum.reduceat` over its phrasings, which lie side by side. The
pure-Python loops this replaced walked a few thousand postings per text; measured on 1,000
questions, `Assistant.ask` took about 0.6 of its time at the median and 0.7 at p99 (session 12).

Entries are numbered: those with phrasings first, in the order of their phrasings, then those
known only by words (of an answer, say). Of entries that score alike, the lower number comes
first, everywhere the matcher ranks them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import cast

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

    covering: Indexes  # the entries that know a word of the text, in entry order
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
        self.entry_ids = (*grouped, *(e for e in entry_words if e not in grouped))
        self.number = {entry_id: n for n, entry_id in enumerate(self.entry_ids)}
        ordered = [phrasing for group in grouped.values() for phrasing in group]
        # Entry n's phrasings are ordered[bounds[n]:bounds[n + 1]], for the entries with any.
        self._bounds: Indexes = np.cumsum([0, *(len(g) for g in grouped.values())], dtype=np.intp)
        self._languages = [phrasing.language for phrasing in ordered]
        self._has_language = np.array([p.language is not None for p in ordered], dtype=bool)
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
        entry_count, phrasing_count = len(self.entry_ids), len(self._weights)
        known = [word for word in mapped if word in self._knowers]
        if not known:
            return Fits(
                np.zeros(0, dtype=np.intp),
                np.zeros(entry_count),
                np.zeros(entry_count),
                np.zeros(phrasing_count),
            )
        entries = np.concatenate([self._knowers[word][0] for word in known])
        shares = np.concatenate([self._knowers[word][1] * mapped[word] / total for word in known])
        coverage = _floats(np.bincount(entries, shares, entry_count))
        covering = np.flatnonzero(coverage)
        used = [word for word in known if word in self._postings]
        overlap = np.zeros(phrasing_count)
        if used:
            indexes = np.concatenate([self._postings[word] for word in used])
            values = np.repeat([mapped[w] for w in used], [len(self._postings[w]) for w in used])
            overlap = _floats(np.bincount(indexes, values, phrasing_count))
        # F1 of precision overlap/total and recall overlap/weight, as one division.
        harmonic: Floats = 2 * overlap / (total + self._weights)
        fit = np.zeros(entry_count)
        if phrasing_count:
            fit[: len(self._bounds) - 1] = np.maximum.reduceat(harmonic, self._bounds[:-1])
        if fitted is not None and len(covering) > fitted:
            # The others stay unfitted: an entry that knows little of a long text cannot fit
            # it well, and comparing fewer keeps long messages fast.
            leading = covering[np.argsort(-coverage[covering], kind="stable")[:fitted]]
            kept = np.zeros(entry_count, dtype=bool)
            kept[leading] = True
            fit[~kept] = 0.0
        return Fits(covering, coverage, fit, harmonic)

    def language(self, fits: Fits, number: int) -> Language | None:
        """The language of the fitted entry's best-fitting phrasing that has one (keywords
        have none); of equals, the first phrasing's. None when no such phrasing fits."""
        if number >= len(self._bounds) - 1 or not fits.fit[number]:
            return None
        start, end = int(self._bounds[number]), int(self._bounds[number + 1])
        candidates = np.where(self._has_language[start:end], fits.harmonic[start:end], 0.0)
        best = int(np.argmax(candidates))
        return self._languages[start + best] if candidates[best] > 0 else None


def _floats(counted: npt.NDArray[np.intp]) -> Floats:
    # With weights, bincount counts in floats; its type stubs only know the count.
    return cast(Floats, counted)
