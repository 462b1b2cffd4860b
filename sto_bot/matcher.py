"""Question -> ranked knowledge entries, and the band that says how sure we are.

Each entry is indexed by the tokens of its phrasings and keywords (both languages). A question's
tokens are first mapped onto that vocabulary (rapidfuzz forgives typos), then every entry is scored
by how much of the question it covers and how well its closest phrasing fits, with rare words
counting more than common ones; the literal wording breaks near-ties. The band follows from the
best score and its lead over the runner-up: a clear winner is answered, a close race is offered as
"bedoelt u…?", and a weak best guess falls back to an honest "weet ik niet".
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from sto_bot.knowledge import Entry
from sto_bot.models import Band, Language, Match, Ranking
from sto_bot.text import Normaliser, clean_input, fold

MAX_QUESTION_CHARS = 4000
# Entries this close to the best (0-100 points) have their phrasings' literal wording compared.
CONTENDER_RANGE = 15.0


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Where the bands begin: scores are 0-100, margin is the lead over the runner-up."""

    answer: float = 60.0
    margin: float = 10.0
    sure: float = 88.0
    sure_margin: float = 8.0
    suggest: float = 38.0
    smalltalk: float = 40.0
    coverage_weight: float = 0.3
    wording_weight: float = 0.3
    answer_weight: float = 0.3  # how much a word counts that only an entry's answer contains
    typo_similarity: float = 80.0


@dataclass(frozen=True, slots=True)
class _Phrasing:
    entry_id: str
    language: Language | None  # None for keywords, which belong to no language
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
        answers: Mapping[str, str] | None = None,
    ) -> None:
        self.normaliser = normaliser
        self.thresholds = thresholds or Thresholds()
        self._build(list(entries), answers or {})

    def _build(self, entries: list[Entry], answers: Mapping[str, str]) -> None:
        normaliser = self.normaliser
        topical = [entry for entry in entries if not entry.smalltalk]
        normaliser.learn(
            text
            for entry in topical
            for text in (*entry.keywords, *(q for qs in entry.questions.values() for q in qs))
        )
        self._language_words = _language_words(entries, normaliser)
        # Small talk is mostly stop words ("wie ben jij?"), so it is compared word for word.
        self._smalltalk: list[tuple[str, Language, frozenset[str], str]] = [
            (entry.id, language, frozenset(normaliser.words(question)), fold(question))
            for entry in entries
            if entry.smalltalk
            for language, questions in entry.questions.items()
            for question in questions
        ]
        raw: list[tuple[str, Language | None, list[str], str]] = []
        for entry in topical:
            for language, questions in entry.questions.items():
                for question in questions:
                    raw.append((entry.id, language, normaliser.tokens(question), fold(question)))
            for keyword in entry.keywords:
                raw.append((entry.id, None, normaliser.tokens(keyword), fold(keyword)))
        raw = [item for item in raw if item[2]]

        entry_tokens: dict[str, set[str]] = defaultdict(set)
        for entry_id, _, tokens, _ in raw:
            entry_tokens[entry_id].update(tokens)
        # The answers are a weaker witness: a question may use a word only the answer has.
        # They come as the user reads them (dates filled in) when the caller has them.
        answer_tokens = {
            entry.id: set(normaliser.tokens(answers.get(entry.id, " ".join(entry.answer.values()))))
            - entry_tokens[entry.id]
            for entry in topical
        }
        document_frequency = Counter(
            t for entry_id in entry_tokens for t in entry_tokens[entry_id] | answer_tokens[entry_id]
        )
        count = max(len(entry_tokens), 1)
        self._idf = {t: math.log(1 + count / df) for t, df in document_frequency.items()}
        # A word no entry knows weighs like a rare one: it may well be off topic, but it may
        # also be a harmless word we did not list, so it counts a little less than the rarest.
        self._unknown_weight = math.log(1 + count / 2)
        self._vocabulary = sorted(self._idf)

        # Inverted indexes: only the phrasings and entries that share a word are ever scored.
        self._entries_with: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for entry_id, entry_words in entry_tokens.items():
            for token in entry_words:
                self._entries_with[token].append((entry_id, 1.0))
            for token in answer_tokens[entry_id]:
                self._entries_with[token].append((entry_id, self.thresholds.answer_weight))
        self._phrasings: list[_Phrasing] = []
        self._phrasings_with: dict[str, list[int]] = defaultdict(list)
        self._phrasings_of: dict[str, list[int]] = defaultdict(list)
        for index, (entry_id, phrasing_language, words, wording) in enumerate(raw):
            weight = sum(self._idf[token] for token in set(words))
            self._phrasings.append(_Phrasing(entry_id, phrasing_language, weight, wording))
            self._phrasings_of[entry_id].append(index)
            for token in set(words):
                self._phrasings_with[token].append(index)

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
        """Score the entries for `question` and decide the band."""
        question = question[:MAX_QUESTION_CHARS]
        smalltalk = self._smalltalk_match(question)
        mapped, total = self._weigh(self.normaliser.tokens(question))
        if total == 0.0:
            if smalltalk is None:
                return Scored(Ranking(Band.FALLBACK), None)
            return Scored(Ranking(self._band([smalltalk[0]]), (smalltalk[0],)), smalltalk[1])

        coverage: dict[str, float] = defaultdict(float)
        shared: dict[int, float] = defaultdict(float)
        for word, value in mapped.items():
            for entry_id, strength in self._entries_with[word]:
                coverage[entry_id] += strength * value / total
            for index in self._phrasings_with[word]:
                shared[index] += value
        fit: dict[str, float] = {}
        language: dict[str, Language | None] = {}
        for index, overlap in shared.items():
            phrasing = self._phrasings[index]
            precision, recall = overlap / total, overlap / phrasing.weight
            harmonic = 2 * precision * recall / (precision + recall)
            if harmonic > fit.get(phrasing.entry_id, 0.0):
                fit[phrasing.entry_id] = harmonic
                if phrasing.language is not None:
                    language[phrasing.entry_id] = phrasing.language

        share = self.thresholds.coverage_weight
        scores = {
            entry_id: 100 * (share * entry_coverage + (1 - share) * fit.get(entry_id, 0.0))
            for entry_id, entry_coverage in coverage.items()
        }
        scores = self._with_wording(question, scores)
        candidates = [Match(entry_id, round(score, 1)) for entry_id, score in scores.items()]
        if smalltalk is not None:
            candidates.append(smalltalk[0])
            language[smalltalk[0].entry_id] = smalltalk[1]
        ranked = sorted(candidates, key=lambda match: (-match.score, match.entry_id))
        if not ranked:
            return Scored(Ranking(Band.FALLBACK), None)
        top = tuple(m for m in ranked[:3] if m.score >= self.thresholds.suggest) or tuple(
            ranked[:1]
        )
        return Scored(Ranking(self._band(ranked), top), language.get(top[0].entry_id))

    def _weigh(self, tokens: list[str]) -> tuple[dict[str, float], float]:
        """Question tokens mapped onto the vocabulary with their weights, and the total weight."""
        mapped: dict[str, float] = {}
        total = 0.0
        for token in tokens:
            word, similarity = self._map_token(token)
            if word is None:
                # An unknown number ("240") says less about the topic than an unknown word.
                total += self._unknown_weight / (2 if token.isdigit() else 1)
                continue
            weight = self._idf[word]
            total += weight
            mapped[word] = max(mapped.get(word, 0.0), weight * similarity)
        return mapped, total

    def _with_wording(self, question: str, scores: dict[str, float]) -> dict[str, float]:
        """Blend in the literal wording, which separates entries that share their key words
        ("wat is een penvoerder?" versus "wat doet een penvoerder?")."""
        if not scores:
            return scores
        weight = self.thresholds.wording_weight
        best = max(scores.values())
        folded = fold(question)
        blended = {}
        for entry_id, score in scores.items():
            wording = 0.0
            if score >= best - CONTENDER_RANGE:
                wording = max(
                    fuzz.token_sort_ratio(folded, self._phrasings[index].wording)
                    for index in self._phrasings_of[entry_id]
                )
            blended[entry_id] = (1 - weight) * score + weight * wording
        return blended

    def language(self, text: str) -> Language | None:
        """The language `text` seems to be in, judged by its words; None when unclear."""
        words = fold(clean_input(text)).split()
        dutch = sum(word in self._language_words["nl"] for word in words)
        english = sum(word in self._language_words["en"] for word in words)
        if dutch == english:
            return None
        return "nl" if dutch > english else "en"

    def _smalltalk_match(self, question: str) -> tuple[Match, Language] | None:
        """The closest small-talk phrase by shared words (F1) or, for a typo, by spelling."""
        words = set(self.normaliser.words(question))
        folded = fold(question)
        best: tuple[Match, Language] | None = None
        for entry_id, language, phrase, wording in self._smalltalk:
            shared = len(words & phrase)
            score = 100 * 2 * shared / (len(words) + len(phrase))
            spelling = fuzz.ratio(folded, wording)
            if spelling >= self.thresholds.typo_similarity:
                score = max(score, spelling)
            if score >= self.thresholds.smalltalk and (best is None or score > best[0].score):
                best = (Match(entry_id, round(score, 1)), language)
        return best

    def _band(self, ranked: list[Match]) -> Band:
        if not ranked:
            return Band.FALLBACK
        best = ranked[0].score
        margin = best - (ranked[1].score if len(ranked) > 1 else 0.0)
        limits = self.thresholds
        if best >= limits.sure and margin >= limits.sure_margin:
            return Band.ANSWER
        if best >= limits.answer and margin >= limits.margin:
            return Band.ANSWER
        if best >= limits.suggest:
            return Band.SUGGEST
        return Band.FALLBACK


def _language_words(entries: list[Entry], normaliser: Normaliser) -> dict[Language, frozenset[str]]:
    """Words that show a question's language: the lexicon's markers ("de", "the") plus the
    words that only one language's phrasings use."""
    vocabulary: dict[Language, set[str]] = {"nl": set(), "en": set()}
    for entry in entries:
        for language, questions in entry.questions.items():
            for question in questions:
                vocabulary[language].update(fold(question).split())
    markers = normaliser.lexicon.language_markers
    return {
        "nl": frozenset(markers.get("nl", set()) | (vocabulary["nl"] - vocabulary["en"])),
        "en": frozenset(markers.get("en", set()) | (vocabulary["en"] - vocabulary["nl"])),
    }
