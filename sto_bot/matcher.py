"""Question -> ranked knowledge entries, and the band that says how sure we are.

Each entry is indexed by the tokens of its phrasings and keywords (both languages). A question's
tokens are first mapped onto that vocabulary (`spelling.py` forgives typos), then every entry is
scored by how much of the question it covers and how well its closest phrasing fits, with rare
words counting more than common ones; the literal wording breaks near-ties, and the leaders are
re-ranked by how typical the question's words are of each one's phrasings (`usage.py`). A long
message is also matched without its greeting and introduction, and sentence by sentence. Small
talk is recognised apart (`smalltalk.py`). The fitted decision (`decision.py`) turns what was
measured into the probability that the best entry is right, and that into a band: answered
(sure or likely), offered as "bedoelt u…?", or an honest fallback.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import DamerauLevenshtein

from sto_bot.decision import DEFAULT_DECISION, FEATURES, Decision
from sto_bot.knowledge import Entry, EntryKind
from sto_bot.models import Band, Certainty, Language, Match, Ranking
from sto_bot.phrasing_index import Floats, Indexes, Phrasing, PhrasingIndex
from sto_bot.segments import parts
from sto_bot.smalltalk import SmallTalk
from sto_bot.spelling import Speller, respelled
from sto_bot.text import Normaliser, clean_input, fold
from sto_bot.usage import Usage, shares

MAX_QUESTION_CHARS = 4000
# Entries this close to the best (0-100 points) have their phrasings' literal wording compared.
CONTENDER_RANGE = 15.0
LEADERS = 8  # entries ranked in full
MATCHES = 5  # of which the best become matches: enough for three on STO after small talk
MAX_CHOICES = 3  # "bedoelt u…?" choices, or a likely answer with its runners-up
# Only the entries that cover the most of a text have their phrasings compared with it: an entry
# that knows little of the text cannot fit it well either (a fit's precision is at most the
# entry's coverage), and leaving the others out keeps long messages fast.
FITTED_ENTRIES = 24
LONG_TEXT_WORDS = 6  # known words from which a text counts as long
MIN_PHRASING_CORE_WORDS = 3  # known words a phrasing keeps without its greeting, or it stays whole
MIN_TYPO_LENGTH = 6  # letters from which one language's word may be a slip of a shared one
# Points (of 100) a leader loses per unit of log-likelihood its words are less typical of it
# than of the most typical leader: a re-ranking of the leaders, more than a tie-breaker.
USAGE_WEIGHT = 1.5
# The lexicon's words for STO and for funding twice: a message with one is about STO, also when
# it names another programme ("mag je sto stapelen met de lerarenbeurs").
OWN_WORDS = frozenset({"sto", "dubbel"})
# Words with which a question points back to a subject named before it in the same message
# ("…zij-instroom, en wanneer moet ik die aanvragen?"): such a question is not STO's on its own.
BACK_POINTERS = frozenset({"die", "daar", "daarvoor", "daarvan", "daarmee", "it", "those"})


@dataclass(frozen=True, slots=True)
class Weights:
    """How the parts of a score are blended, and how alike a typo must be (0-100)."""

    smalltalk: float = 40.0  # the least word overlap (F1) for a small-talk phrase to compete
    coverage_weight: float = 0.4
    wording_weight: float = 0.4
    answer_weight: float = 0.3  # how much a word counts that only an entry's answer contains
    typo_similarity: float = 80.0
    # Small talk by spelling must be closer: "hoe laat is het" is 80 % "hoe is het".
    smalltalk_spelling: float = 85.0


@dataclass(frozen=True, slots=True)
class Candidate:
    """One text of a message matched: its leading entries, what was measured, how likely right."""

    text: str
    matches: tuple[Match, ...]
    features: dict[str, float]
    probability: float
    language: Language | None = None  # of the phrasing that fitted the best entry
    sentence: bool = False  # one question of several (a second question may be one)


@dataclass(frozen=True, slots=True)
class Scored:
    """A ranking plus the language of the phrasing that fitted best (a hint for replies)."""

    ranking: Ranking
    language: Language | None
    candidate: Candidate  # the text the ranking was decided on


class Matcher:
    """Ranks knowledge entries for a question."""

    def __init__(
        self,
        entries: Iterable[Entry],
        normaliser: Normaliser,
        weights: Weights | None = None,
        answers: Mapping[str, str] | None = None,
        decision: Decision | None = None,
    ) -> None:
        self.normaliser = normaliser
        self.weights = weights or Weights()
        self.decision = decision or DEFAULT_DECISION
        self._build(list(entries), answers or {})

    def _build(self, entries: list[Entry], answers: Mapping[str, str]) -> None:
        normaliser = self.normaliser
        indexed = [entry for entry in entries if not entry.smalltalk]  # topics and elsewhere
        self._kinds = {entry.id: entry.kind for entry in entries}
        normaliser.learn(
            text
            for entry in indexed
            for text in (
                *entry.keywords,
                *entry.names,
                *(q for qs in entry.questions.values() for q in qs),
            )
        )
        self._language_words = _language_words(entries, normaliser)
        raw: list[tuple[str, Language | None, list[str], str]] = []
        for entry in indexed:
            for language, questions in entry.questions.items():
                for question in questions:
                    # A phrasing is indexed as a message is matched: without its greeting and
                    # introduction, which would make towns and job titles evidence.
                    core = parts(question, normaliser.fillers).core or question
                    tokens = normaliser.tokens(core)
                    if len(tokens) < MIN_PHRASING_CORE_WORDS:
                        # "Welke regio's zijn dat?" means nothing on its own
                        core, tokens = question, normaliser.tokens(question)
                    raw.append((entry.id, language, tokens, fold(core)))
            # A programme's names are keywords too: a name no phrasing uses is still known.
            for keyword in dict.fromkeys((*entry.keywords, *entry.names)):
                raw.append((entry.id, None, normaliser.tokens(keyword), fold(keyword)))
        raw = respelled([item for item in raw if item[2]], self.weights.typo_similarity)

        entry_tokens: dict[str, set[str]] = defaultdict(set)
        for entry_id, _, tokens, _ in raw:
            entry_tokens[entry_id].update(tokens)
        # The names of other subjects ("npo", "erasmus", "weerbericht": their keywords, less
        # any word of STO's own): a message must name one before it is told it is not about STO.
        self._elsewhere_words = frozenset(
            token
            for entry_id, language, tokens, _ in raw
            if language is None and self._kinds[entry_id] is EntryKind.ELSEWHERE
            for token in tokens
        ) - frozenset().union(
            *(words for e, words in entry_tokens.items() if self._kinds[e] is EntryKind.TOPIC)
        )
        self._smalltalk = SmallTalk(
            (entry for entry in entries if entry.smalltalk),
            normaliser,
            least_overlap=self.weights.smalltalk,
            least_spelling=self.weights.smalltalk_spelling,
        )
        # Every word of the other subjects: a question in those words alone may be about them.
        self._elsewhere_vocabulary = (
            frozenset().union(
                *(
                    words
                    for e, words in entry_tokens.items()
                    if self._kinds[e] is EntryKind.ELSEWHERE
                )
            )
            - OWN_WORDS
        )
        # The names of other programmes ("npo", "erasmus+", "sterk beroepsonderwijs"), each as the
        # words it is made of.
        self._other_names = [
            frozenset(tokens)
            for entry in indexed
            for name in entry.names
            if (tokens := normaliser.tokens(name))
        ]
        # The answers are a weaker witness: a question may use a word only the answer has.
        # They come as the user reads them (dates filled in) when the caller has them.
        # (Not for other subjects: their answers talk about STO, which is not their subject.)
        answer_tokens = {
            entry.id: set(normaliser.tokens(answers.get(entry.id, " ".join(entry.answer.values()))))
            - entry_tokens[entry.id]
            if entry.kind is EntryKind.TOPIC
            else set()
            for entry in indexed
        }
        document_frequency = Counter(
            t for entry_id in entry_tokens for t in entry_tokens[entry_id] | answer_tokens[entry_id]
        )
        count = max(len(entry_tokens), 1)
        self._idf = {t: math.log(1 + count / df) for t, df in document_frequency.items()}
        # A word no entry knows weighs like a rare one: it may well be off topic, but it may
        # also be a harmless word we did not list, so it counts a little less than the rarest.
        self._unknown_weight = math.log(1 + count / 2)
        # A typo is looked for among the words of the knowledge and the one-word synonyms that
        # stand for one ("application" for "aanvraag"): no phrasing keeps "application" as
        # written, yet "aplication" is a typo of it.
        strict = {
            spelling: word for spelling, word in normaliser.spellings().items() if word in self._idf
        }
        # A mistyped stop word ("eigelijk", "waneer") is a stop word, not a rare unknown word.
        self._stopwords = normaliser.lexicon.stopwords
        strict.update((stopword, stopword) for stopword in self._stopwords)
        self._speller = Speller(
            {word: word for word in self._idf}, self.weights.typo_similarity, strict
        )

        self._index_phrasings(raw, entry_tokens, answer_tokens)

    def _index_phrasings(
        self,
        raw: list[tuple[str, Language | None, list[str], str]],
        entry_tokens: Mapping[str, set[str]],
        answer_tokens: Mapping[str, set[str]],
    ) -> None:
        """The phrasing index, the phrasings' wordings and their words' usage per entry."""
        entry_words = {
            entry_id: [
                *((token, 1.0) for token in entry_words),
                *((token, self.weights.answer_weight) for token in answer_tokens[entry_id]),
            ]
            for entry_id, entry_words in entry_tokens.items()
        }
        self._index = PhrasingIndex(
            (Phrasing(entry_id, language, words) for entry_id, language, words, _ in raw),
            entry_words,
            self._idf,
        )
        kinds = [self._kinds[entry_id] for entry_id in self._index.entry_ids]
        self._is_topic = np.array([kind is EntryKind.TOPIC for kind in kinds], dtype=bool)
        self._is_elsewhere = np.array([kind is EntryKind.ELSEWHERE for kind in kinds], dtype=bool)
        # Word-sorted wordings, so that fuzz.ratio gives what fuzz.token_sort_ratio would.
        self._wordings_of: dict[str, list[str]] = defaultdict(list)
        for entry_id, _, _, wording in raw:
            self._wordings_of[entry_id].append(_sort_words(wording))
        self._usage = Usage((entry_id, words) for entry_id, _, words, _ in raw)

    def rank(self, question: str) -> Scored:
        """Score the entries for `question` and decide the band.

        The whole message is matched, and so are its parts without greetings and
        introductions; the text the decision is surest of wins. A question sentence that asks
        something else is kept as `also`, to be offered; of two questions the one asked first
        is taken, and the other offered beside its answer or among its choices."""
        candidates = self.candidates(question)
        thresholds = self.decision.thresholds
        chosen = max(candidates, key=lambda c: c.probability)  # the first of equals: the whole
        sentences = [c for c in candidates if c.sentence]
        if chosen.matches and self._kinds[chosen.matches[0].entry_id] is not EntryKind.TOPIC:
            # "Wat is een penvoerder? En wanneer kan ik NPO aanvragen?": STO comes first here;
            # not so "…zij-instroom, en wanneer moet ik die aanvragen?", which points back to it.
            answerable = [
                c
                for c in sentences
                if c.probability >= thresholds.likely
                and BACK_POINTERS.isdisjoint(fold(c.text).split())
            ]
            chosen = max(answerable, key=lambda c: c.probability, default=chosen)
        others = [
            c
            for c in sentences
            if c.matches[0].entry_id != (chosen.matches[0].entry_id if chosen.matches else None)
            and c.probability >= thresholds.suggest
        ]
        also = max(others, key=lambda c: c.probability, default=None)
        if also is not None and _position(question, also, candidates) < _position(
            question, chosen, candidates
        ):
            # Two questions: people ask the main one first, even when we are surer of the other
            # ("Tot wanneer loopt de regeling? En wordt het bedrag geïndexeerd?").
            chosen, also = also, chosen
        if not chosen.matches:
            return Scored(Ranking(Band.FALLBACK), None, chosen)
        top = chosen.matches[0]
        kind = self._kinds[top.entry_id]
        p = chosen.probability
        certainty = None
        # Choices and runners-up are about STO; small talk or another subject is only the top.
        on_topic = tuple(m for m in chosen.matches if self._kinds[m.entry_id] is EntryKind.TOPIC)
        matches = on_topic[:MAX_CHOICES] if kind is EntryKind.TOPIC else (top,)
        # A text that is one of the entry's phrasings word for word (the message, or one of its
        # questions) asked that question (all 55 such labelled questions were right).
        typed_as_known = min(chosen.features["fit"], chosen.features["wording"]) >= 0.999
        if kind is EntryKind.TOPIC and (p >= thresholds.sure or typed_as_known):
            band, certainty = Band.ANSWER, Certainty.SURE
        elif kind is EntryKind.TOPIC and p >= thresholds.likely:
            band, certainty = Band.ANSWER, Certainty.LIKELY
        elif kind is EntryKind.SMALLTALK and p >= thresholds.other:
            band, certainty = Band.ANSWER, Certainty.SURE
        elif kind is EntryKind.ELSEWHERE and p >= thresholds.other:
            band = Band.FALLBACK  # honestly out of scope; the entry says where to go instead
        else:
            matches = on_topic[:MAX_CHOICES]
            other = also.matches[0] if also is not None and also.matches else None
            if other is not None and all(m.entry_id != other.entry_id for m in matches):
                # The message's other question is one of the choices too.
                matches = (*matches[: MAX_CHOICES - 1], other)
            band = Band.SUGGEST if matches and p >= thresholds.suggest else Band.FALLBACK
            if band is Band.FALLBACK:
                matches = ()
        second = None
        if band is Band.ANSWER and kind is EntryKind.TOPIC and also is not None and also.matches:
            second = also.matches[0]
            if second.entry_id == top.entry_id:
                second = None
        ranking = Ranking(band, matches, certainty, round(p, 3), second)
        return Scored(ranking, chosen.language, chosen)

    def kind(self, entry_id: str) -> EntryKind:
        """What the entry is for: STO, small talk, or something else."""
        return self._kinds[entry_id]

    def candidates(self, question: str) -> list[Candidate]:
        """The whole message and its parts worth matching, each matched and weighed."""
        question = question[:MAX_QUESTION_CHARS]
        found = [self._candidate(question, piece=False)]
        split = parts(question, self.normaliser.fillers)
        if split.opening is not None:
            # Only a greeting and an introduction: the greeting may be answered as such.
            found.append(self._candidate(split.opening, piece=True))
        if split.core is not None:
            found.append(self._candidate(split.core, piece=True))
        top = found[0].matches[0].entry_id if found[0].matches else None
        sure = found[0].probability >= self.decision.thresholds.other
        elsewhere = top is not None and self.kind(top) is EntryKind.ELSEWHERE and sure
        for sentence in split.sentences:
            if elsewhere and self._about_the_other_subject(sentence):
                continue
            # One sentence may thank or digress ("Many thanks."); only the whole message, with
            # or without its greeting, speaks for small talk or another subject.
            candidate = self._candidate(sentence, piece=True, smalltalk=False)
            if candidate.matches and self.kind(candidate.matches[0].entry_id) is EntryKind.TOPIC:
                found.append(replace(candidate, sentence=True))
        if len(found) == 1:
            return found
        # Texts of one message that point to the same entry make it more likely right (a text
        # that matched nothing is no witness either way).
        tops = [c.matches[0].entry_id for c in found if c.matches]
        agreed = []
        for candidate in found:
            if not candidate.matches:
                agreed.append(candidate)
                continue
            agreement = tops.count(candidate.matches[0].entry_id) / len(tops)
            features = candidate.features | {"agreement": agreement}
            probability = self.decision.probability(features)
            agreed.append(replace(candidate, features=features, probability=probability))
        return agreed

    def _candidate(self, text: str, *, piece: bool, smalltalk: bool = True) -> Candidate:
        """Match one text and measure the features the decision weighs."""
        words = self.normaliser.words(text)
        folded = fold(text)
        chat = self._smalltalk.match(words, folded, self._elsewhere_words) if smalltalk else None
        mapped, total, unknown = self._weigh(self.normaliser.canonical(words))
        features = dict.fromkeys(FEATURES, 0.0)
        features["piece"] = float(piece)
        if total == 0.0 and chat is None:
            features["unknown"] = 1.0
            return Candidate(text, (), features, 0.0)
        fits = self._index.measure(
            mapped, total, FITTED_ENTRIES if len(mapped) >= LONG_TEXT_WORDS else None
        )
        share = self.weights.coverage_weight
        about_other = self._names_other_programme(mapped)
        names_other_subject = about_other or not self._elsewhere_words.isdisjoint(mapped)
        covering = fits.covering
        entries = covering[
            (self._is_elsewhere[covering] & names_other_subject)
            | (self._is_topic[covering] & (not about_other))
        ]
        scores = 100 * (share * fits.coverage[entries] + (1 - share) * fits.fit[entries])
        blended, wordings = self._with_wording(folded, entries, scores)
        # Sorted as (-score, entry id); only the leaders become Match objects.
        order = np.argsort(-blended, kind="stable")[:LEADERS]  # of equals, the first entry
        ids = self._index.entry_ids
        leading = list(
            zip([ids[n] for n in entries[order].tolist()], blended[order].tolist(), strict=True)
        )
        leading, likeness = self._with_usage(mapped, leading)
        ranked = [(-round(score, 1), entry_id) for entry_id, score in leading]
        if chat is not None:
            ranked.append((-chat[0].score, chat[0].entry_id))
        leaders = [Match(entry_id, -score) for score, entry_id in sorted(ranked)[:MATCHES]]
        if not leaders:
            features["unknown"] = 1.0
            return Candidate(text, (), features, 0.0)
        best = leaders[0]
        runner_up = leaders[1].score if len(leaders) > 1 else 0.0
        kind = self._kinds[best.entry_id]
        # Small talk is not in the index, and an entry may have no phrasing that fits: its
        # score stands in for what was not measured.
        number = self._index.number.get(best.entry_id)
        coverage = fit = best.score / 100
        if number is not None:
            coverage = fits.coverage[number].item() or coverage
            fit = fits.fit[number].item() or fit
        features.update(
            score=best.score / 100,
            margin=(best.score - runner_up) / 100,
            coverage=coverage,
            fit=fit,
            wording=wordings.get(best.entry_id, best.score) / 100,
            unknown=unknown / total if total else 1.0,
            length=math.log1p(len(mapped)) / 3,
            smalltalk=float(kind is EntryKind.SMALLTALK),
            elsewhere=float(kind is EntryKind.ELSEWHERE),
            runner_up=runner_up / 100,
            agreement=1.0,
            likeness=likeness.get(best.entry_id, 0.0),
        )
        probability = self.decision.probability(features)
        language: Language | None
        if chat is not None and chat[0].entry_id == best.entry_id:
            language = chat[1]
        else:
            language = None if number is None else self._index.language(fits, number)
        return Candidate(text, tuple(leaders), features, probability, language)

    def _about_the_other_subject(self, sentence: str) -> bool:
        """Whether a question beside another subject the message names is about it: without
        STO's name it points back ("Wanneer kan ik die aanvragen?") or asks only in words any
        subsidy has ("Wie mag aanvragen?"; not "Wat is een penvoerder?")."""
        tokens = set(self.normaliser.tokens(sentence))
        if not OWN_WORDS.isdisjoint(tokens):
            return False
        points_back = not BACK_POINTERS.isdisjoint(fold(sentence).split())
        return points_back or tokens <= self._elsewhere_vocabulary

    def _names_other_programme(self, mapped: Mapping[str, float]) -> bool:
        """Whether a text names another programme and neither STO nor combining STO with it
        ("Can we use Erasmus+ money for machines?", not "dubbele financiering met NPO?")."""
        if not self._other_names or not OWN_WORDS.isdisjoint(mapped):
            return False
        return any(name <= mapped.keys() for name in self._other_names)

    def _with_usage(
        self, mapped: Mapping[str, float], leading: list[tuple[str, float]]
    ) -> tuple[list[tuple[str, float]], dict[str, float]]:
        """The leaders re-scored by how typical the text's words are of each one's phrasings,
        and each leader's share of that evidence."""
        sureness = {word: value / self._idf[word] for word, value in mapped.items()}
        evidence = self._usage.log_likelihoods(sureness, (entry_id for entry_id, _ in leading))
        top = max(evidence.values(), default=0.0)
        # The whole gap counts, not the gap per word: a long text that is typical of one leader
        # is strong evidence against the others (per word, held-out right answers fell 2 %).
        # Another subject is named by a word of its own among STO's words ("cofinanciering bij
        # het RIF"); those must not outvote the name.
        rescored = [
            (e, max(0.0, score + USAGE_WEIGHT * (evidence[e] - top)))
            if self._kinds[e] is EntryKind.TOPIC
            else (e, score)
            for e, score in leading
        ]
        rescored.sort(key=lambda item: -item[1])
        others = len(self._kinds) - len(evidence)
        return rescored, shares(evidence, self._usage.background(sureness), others)

    def _weigh(self, tokens: list[str]) -> tuple[dict[str, float], float, float]:
        """Question tokens mapped onto the vocabulary with their weights, the total weight, and
        the weight of the words no entry knows."""
        mapped: dict[str, float] = {}
        total = unknown = 0.0
        for token in tokens:
            word, similarity = self._speller.word(token)
            if word in self._stopwords:
                continue
            if word is None:
                # An unknown number ("240") says less about the topic than an unknown word.
                weight = self._unknown_weight / (2 if token.isdigit() else 1)
                total += weight
                unknown += weight
                continue
            weight = self._idf[word]
            total += weight
            mapped[word] = max(mapped.get(word, 0.0), weight * similarity)
        return mapped, total, unknown

    def _with_wording(
        self, folded: str, entries: Indexes, scores: Floats
    ) -> tuple[Floats, dict[str, float]]:
        """Blend in the literal wording, which separates entries that share their key words
        ("wat is een penvoerder?" versus "wat doet een penvoerder?"); also returns the
        wording similarity of the contenders."""
        if not len(scores):
            return scores, {}
        query = _sort_words(folded)
        wording = np.zeros(len(scores))
        wordings = {}
        for k in np.flatnonzero(scores >= scores.max() - CONTENDER_RANGE).tolist():
            entry_id = self._index.entry_ids[entries[k]]
            # One call per entry: rapidfuzz keeps the query prepared across its phrasings.
            wording[k] = wordings[entry_id] = process.extractOne(
                query, self._wordings_of[entry_id], scorer=fuzz.ratio, processor=None
            )[1]
        weight = self.weights.wording_weight
        return (1 - weight) * scores + weight * wording, wordings

    def language(self, text: str) -> Language | None:
        """The language `text` seems to be in, judged by its words; None when unclear."""
        dutch, english = self._language_evidence(text)
        if dutch == english:
            return None
        return "nl" if dutch > english else "en"

    def clear_language(self, text: str) -> Language | None:
        """The language of `text` only on clear evidence: a few words of one language and
        hardly any of the other. One word, an abbreviation, a name or a number is no evidence
        ("vmbo", "mail", "help" belong to a Dutch conversation as well)."""
        dutch, english = self._language_evidence(text)
        if english >= 2 and english >= 2 * dutch:
            return "en"
        if dutch >= 2 and dutch >= 2 * english:
            return "nl"
        return None

    def _language_evidence(self, text: str) -> tuple[int, int]:
        """How many words of `text` only Dutch, and only English, uses ("is" and "school"
        belong to both and speak for neither)."""
        nl, en = self._language_words["nl"], self._language_words["en"]
        words = fold(clean_input(text)).split()
        dutch = sum(word in nl and word not in en for word in words)
        english = sum(word in en and word not in nl for word in words)
        return dutch, english


def _position(message: str, candidate: Candidate, candidates: list[Candidate]) -> int:
    """Where in the message the question a candidate answers is asked: its own place for a
    question sentence, else the place of the first sentence that finds the same entry."""
    if candidate.sentence:
        return max(message.find(candidate.text), 0)
    top = candidate.matches[0].entry_id if candidate.matches else None
    for other in candidates:
        if other.sentence and other.matches[0].entry_id == top:
            return max(message.find(other.text), 0)
    return 0


def _sort_words(text: str) -> str:
    """`text` with its words in sorted order, as fuzz.token_sort_ratio compares them."""
    return " ".join(sorted(text.split()))


def _language_words(entries: list[Entry], normaliser: Normaliser) -> dict[Language, frozenset[str]]:
    """Words that show a question's language: the lexicon's markers ("de", "the") plus the
    words that only one language's phrasings use, but for a slip of a word both use."""
    uses: dict[Language, Counter[str]] = {"nl": Counter(), "en": Counter()}
    for entry in entries:
        for language, questions in entry.questions.items():
            for question in questions:
                uses[language].update(set(fold(question).split()))
    markers = normaliser.lexicon.language_markers
    # A typo written on purpose ("whats a penvorder") is no word of its language's own: a word
    # of one phrasing, one slip away from a word both use ("region", in many, is English).
    shared: dict[tuple[str, int], list[str]] = defaultdict(list)
    for word in uses["nl"].keys() & uses["en"].keys():
        shared[word[:1], len(word)].append(word)
    own = {
        language: {
            word
            for word, count in counted.items()
            if word not in uses["en" if language == "nl" else "nl"]
            and (
                count > 1
                or len(word) < MIN_TYPO_LENGTH
                or not any(
                    DamerauLevenshtein.distance(word, other, score_cutoff=1) <= 1
                    for length in (len(word) - 1, len(word), len(word) + 1)
                    for other in shared.get((word[:1], length), ())
                )
            )
        }
        for language, counted in uses.items()
    }
    return {
        "nl": frozenset(markers.get("nl", set()) | own["nl"]),
        "en": frozenset(markers.get("en", set()) | own["en"]),
    }
