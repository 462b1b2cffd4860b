"""Question -> ranked knowledge entries, and the band that says how sure we are.

Each entry is indexed by the tokens of its phrasings and keywords (both languages). A question's
tokens are first mapped onto that vocabulary (rapidfuzz forgives typos), then every entry is scored
by how much of the question it covers and how well its closest phrasing fits, with rare words
counting more than common ones. The band follows from the best score and its lead over the
runner-up: a clear winner is answered, a close race is offered as "bedoelt u…?", and a weak best
guess falls back to an honest "weet ik niet".
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from sto_bot.knowledge import Entry
from sto_bot.models import Band, Language, Match, Ranking
from sto_bot.text import Normaliser, clean_input, fold

MAX_QUESTION_CHARS = 4000


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Where the bands begin: scores are 0-100, margin is the lead over the runner-up."""

    answer: float = 62.0
    margin: float = 8.0
    sure: float = 88.0
    sure_margin: float = 3.0
    suggest: float = 38.0
    smalltalk: float = 50.0
    coverage_weight: float = 0.4
    wording_weight: float = 0.1
    typo_similarity: float = 82.0


@dataclass(frozen=True, slots=True)
class _Phrasing:
    entry_id: str
    language: Language | None
    tokens: frozenset[str]
    weight: float
    wording: str


@dataclass(frozen=True, slots=True)
class Scored:
    """A ranking plus the language of the phrasing that fitted best (a hint for replies)."""

    ranking: Ranking
    language: Language | None


class Matcher:
    """Ranks knowledge entries for a question."""

    def __init__(
        self,
        entries: Iterable[Entry],
        normaliser: Normaliser,
        thresholds: Thresholds | None = None,
    ) -> None:
        self.normaliser = normaliser
        self.thresholds = thresholds or Thresholds()
        entries = list(entries)
        normaliser.learn(
            text
            for entry in entries
            if not entry.smalltalk
            for text in (*entry.keywords, *(q for qs in entry.questions.values() for q in qs))
        )
        # Words that only one language's phrasings use tell the language of a question, beside
        # the lexicon's common words ("de", "the").
        vocabulary: dict[Language, set[str]] = {"nl": set(), "en": set()}
        for entry in entries:
            for language, questions in entry.questions.items():
                for question in questions:
                    vocabulary[language].update(fold(question).split())
        markers = normaliser.lexicon.language_markers
        self._language_words: dict[Language, frozenset[str]] = {
            "nl": frozenset(markers.get("nl", set()) | (vocabulary["nl"] - vocabulary["en"])),
            "en": frozenset(markers.get("en", set()) | (vocabulary["en"] - vocabulary["nl"])),
        }
        raw: list[tuple[str, Language | None, list[str], str]] = []
        # Small talk is mostly stop words ("wie ben jij?"), so it is compared word for word.
        self._smalltalk: list[tuple[str, Language, frozenset[str]]] = []
        for entry in entries:
            if entry.smalltalk:
                for language, questions in entry.questions.items():
                    for question in questions:
                        words = frozenset(normaliser.words(question))
                        self._smalltalk.append((entry.id, language, words))
                continue
            for language, questions in entry.questions.items():
                for question in questions:
                    raw.append((entry.id, language, normaliser.tokens(question), fold(question)))
            for keyword in entry.keywords:
                raw.append((entry.id, None, normaliser.tokens(keyword), fold(keyword)))
        entry_tokens: dict[str, set[str]] = {}
        for entry_id, _, tokens, _ in raw:
            entry_tokens.setdefault(entry_id, set()).update(tokens)
        document_frequency = Counter(t for tokens in entry_tokens.values() for t in tokens)
        count = max(len(entry_tokens), 1)
        self._idf = {t: math.log(1 + count / df) for t, df in document_frequency.items()}
        # A word no entry knows weighs like a rare one: it may well be off topic, but it may
        # also be a harmless word we did not list, so it counts a little less than the rarest.
        self._unknown_weight = math.log(1 + count / 2)
        self._entry_tokens = {key: frozenset(tokens) for key, tokens in entry_tokens.items()}
        self._phrasings = [
            _Phrasing(entry_id, language, frozenset(tokens), self._weight_of(tokens), wording)
            for entry_id, language, tokens, wording in raw
            if tokens
        ]
        self._wordings = [phrasing.wording for phrasing in self._phrasings]
        self._vocabulary = sorted(self._idf)

    def _weight_of(self, tokens: Iterable[str]) -> float:
        return sum(self._idf.get(token, self._unknown_weight) for token in tokens)

    def _map_token(self, token: str) -> tuple[str | None, float]:
        """The vocabulary word a question word stands for, with how sure that is (0-1)."""
        if token in self._idf:
            return token, 1.0
        if len(token) < 4 or token.isdigit():
            return None, 0.0
        found = process.extractOne(
            token,
            self._vocabulary,
            scorer=fuzz.ratio,
            processor=None,
            score_cutoff=self.thresholds.typo_similarity,
        )
        if found is None:
            return None, 0.0
        return str(found[0]), float(found[1]) / 100.0

    def rank(self, question: str) -> Scored:
        """Score every entry for `question` and decide the band."""
        question = question[:MAX_QUESTION_CHARS]
        tokens = self.normaliser.tokens(question)
        smalltalk = self._smalltalk_match(question)
        if not tokens:
            if smalltalk is not None:
                return Scored(Ranking(self._band([smalltalk[0]]), (smalltalk[0],)), smalltalk[1])
            return Scored(Ranking(Band.FALLBACK), None)
        mapped: dict[str, float] = {}
        total = 0.0
        for token in tokens:
            word, similarity = self._map_token(token)
            if word is None:
                # An unknown number ("2019") says little about the topic; an unknown word does.
                total += 0.0 if token.isdigit() else self._unknown_weight
                continue
            weight = self._idf[word]
            total += weight
            mapped[word] = max(mapped.get(word, 0.0), weight * similarity)
        if total == 0.0:
            return Scored(Ranking(Band.FALLBACK), None)

        coverage = {
            entry_id: sum(v for word, v in mapped.items() if word in entry_tokens) / total
            for entry_id, entry_tokens in self._entry_tokens.items()
        }
        best_fit: dict[str, float] = {}
        best_language: dict[str, Language | None] = {}
        for phrasing in self._phrasings:
            shared = sum(v for word, v in mapped.items() if word in phrasing.tokens)
            if shared == 0.0:
                continue
            precision = shared / total
            recall = shared / phrasing.weight
            fit = 2 * precision * recall / (precision + recall)
            if fit > best_fit.get(phrasing.entry_id, 0.0):
                best_fit[phrasing.entry_id] = fit
                if phrasing.language is not None:
                    best_language[phrasing.entry_id] = phrasing.language
        # The literal wording breaks ties between entries whose phrasings share the same
        # key words ("wat is een penvoerder?" versus "wat doet een penvoerder?").
        wording: dict[str, float] = {}
        for _, similarity, index in process.extract(
            fold(question), self._wordings, scorer=fuzz.token_sort_ratio, processor=None, limit=None
        ):
            entry_id = self._phrasings[index].entry_id
            wording[entry_id] = max(wording.get(entry_id, 0.0), similarity / 100)
        limits = self.thresholds
        share = limits.coverage_weight
        candidates = [
            Match(
                entry_id,
                round(
                    100
                    * (
                        (1 - limits.wording_weight)
                        * (share * coverage[entry_id] + (1 - share) * fit)
                        + limits.wording_weight * wording.get(entry_id, 0.0)
                    ),
                    1,
                ),
            )
            for entry_id, fit in best_fit.items()
        ]
        if smalltalk is not None:
            candidates.append(smalltalk[0])
            best_language[smalltalk[0].entry_id] = smalltalk[1]
        scores = sorted(candidates, key=lambda match: (-match.score, match.entry_id))
        band = self._band(scores)
        top = tuple(m for m in scores[:3] if m.score >= self.thresholds.suggest) or tuple(
            scores[:1]
        )
        language = best_language.get(top[0].entry_id) if top else None
        return Scored(Ranking(band, top), language)

    def language(self, text: str) -> Language | None:
        """The language `text` seems to be in, judged by its words; None when unclear."""
        words = fold(clean_input(text)).split()
        dutch = sum(word in self._language_words["nl"] for word in words)
        english = sum(word in self._language_words["en"] for word in words)
        if dutch == english:
            return None
        return "nl" if dutch > english else "en"

    def _smalltalk_match(self, question: str) -> tuple[Match, Language] | None:
        """The closest small-talk phrase by shared words (F1), if any word is shared."""
        words = set(self.normaliser.words(question))
        best: tuple[Match, Language] | None = None
        for entry_id, language, phrase in self._smalltalk:
            shared = len(words & phrase)
            if not shared:
                continue
            fit = 2 * shared / (len(words) + len(phrase))
            if 100 * fit < self.thresholds.smalltalk:
                continue
            if best is None or 100 * fit > best[0].score:
                best = (Match(entry_id, round(100 * fit, 1)), language)
        return best

    def _band(self, scores: list[Match]) -> Band:
        if not scores:
            return Band.FALLBACK
        best = scores[0].score
        margin = best - (scores[1].score if len(scores) > 1 else 0.0)
        limits = self.thresholds
        if best >= limits.sure and margin >= limits.sure_margin:
            return Band.ANSWER
        if best >= limits.answer and margin >= limits.margin:
            return Band.ANSWER
        if best >= limits.suggest:
            return Band.SUGGEST
        return Band.FALLBACK
