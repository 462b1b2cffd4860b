"""How typical a text's words are of each entry's phrasings: a naive Bayes model over them.

The matcher's score asks whether an entry knows a word at all and how well its closest phrasing
fits. This asks how many of the entry's phrasings use the word: a word most of them share is
what the entry is about, a word one of them happens to use is weak evidence. Counting is cheap,
so the model is rebuilt with the knowledge and needs no fitting of its own.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping

# Added to every count: a word none of an entry's phrasings has is unlikely, not impossible.
SMOOTHING = 0.5


class Usage:
    """Per entry, how many of its phrasings use each word."""

    def __init__(self, phrasings: Iterable[tuple[str, Iterable[str]]]) -> None:
        self._phrasings: Counter[str] = Counter()
        self._uses: dict[str, dict[str, int]] = defaultdict(dict)
        self._all_uses: Counter[str] = Counter()  # over every entry's phrasings
        for entry_id, words in phrasings:
            self._phrasings[entry_id] += 1
            for word in set(words):
                uses = self._uses[word]
                uses[entry_id] = uses.get(entry_id, 0) + 1
                self._all_uses[word] += 1
        self._all = sum(self._phrasings.values())

    def background(self, words: Mapping[str, float]) -> float:
        """The log-likelihood of the words in all phrasings together: any entry's."""
        total = self._all + 2 * SMOOTHING
        return sum(
            sureness * math.log((self._all_uses[word] + SMOOTHING) / total)
            for word, sureness in words.items()
        )

    def log_likelihoods(
        self, words: Mapping[str, float], entry_ids: Iterable[str]
    ) -> dict[str, float]:
        """Per entry, the log-likelihood of the words in its phrasings; each word counts as much
        as it is surely that word (a typo counts less)."""
        spread = sum(words.values())
        evidence = {}
        for entry_id in entry_ids:
            # With n phrasings, log P(word | entry) = log((uses + s) / (n + 2s)), s the smoothing:
            # the unseen part for every word, plus log(1 + uses / s) for the words it uses.
            unseen = math.log(SMOOTHING / (self._phrasings[entry_id] + 2 * SMOOTHING))
            log_likelihood = unseen * spread
            for word, sureness in words.items():
                uses = self._uses.get(word, {}).get(entry_id, 0)
                if uses:
                    log_likelihood += sureness * math.log1p(uses / SMOOTHING)
            evidence[entry_id] = log_likelihood
        return evidence


def shares(evidence: Mapping[str, float], background: float, others: int) -> dict[str, float]:
    """Each entry's share of the evidence (the posterior with equal priors) among all entries:
    the `others` that were not weighed count as typical entries (`background`), so that one
    entry alone is not surely right because no other was weighed."""
    if not evidence:
        return {}
    top = max(*evidence.values(), background)
    total = others * math.exp(background - top)
    total += sum(math.exp(value - top) for value in evidence.values())
    return {entry_id: math.exp(value - top) / total for entry_id, value in evidence.items()}
