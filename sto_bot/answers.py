"""Answers to single questions, without conversation state: `sto-bot ask`, and every question
asked in a conversation. The knowledge base's matcher ranks the entries; the answer is the
entry's text for today, with its caveat and source line."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sto_bot.dates import Clock, fill_dates
from sto_bot.knowledge import Confidence, Entry, EntryKind, KnowledgeBase
from sto_bot.matcher import MAX_CHOICES, MAX_QUESTION_CHARS, Matcher
from sto_bot.models import LANGUAGES, Band, Certainty, Language, Match, Ranking, Source
from sto_bot.segments import QUESTION_WORDS, parts, within
from sto_bot.text import Normaliser, clean_input, fold

MAX_TOPIC_WORDS = 2  # a keyword query names a topic; a longer message asks something in it


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A candidate entry offered as "bedoelt u…?"."""

    entry: str
    question: str


@dataclass(frozen=True, slots=True)
class AskResult:
    """The answer to one question, without conversation state (also the `ask --json` record)."""

    status: Band
    entry: str | None
    score: float
    text: str
    language: Language
    suggestions: tuple[Suggestion, ...] = ()
    source: Source | None = None
    follow_ups: tuple[Suggestion, ...] = ()
    certainty: Certainty | None = None  # with an answer: sure, or likely
    off_topic: bool = False  # about something else than STO, and told so
    topic: str | None = None  # with a fallback: the topic a keyword names ("budget"), to offer

    def as_json(self) -> dict[str, object]:
        """The record as DESIGN §2 defines it for `ask --json`."""
        return {
            "status": self.status.value,
            "certainty": self.certainty.value if self.certainty else None,
            "entry": self.entry,
            "score": self.score,
            "text": self.text,
            "suggestions": [{"entry": s.entry, "question": s.question} for s in self.suggestions],
            "source": {"title": self.source.title, "url": self.source.url} if self.source else None,
        }


class Answers:
    """Answers questions from the knowledge base."""

    def __init__(
        self, knowledge: KnowledgeBase, clock: Clock, forced_language: Language | None = None
    ) -> None:
        self.knowledge = knowledge
        self.texts = knowledge.texts
        self.clock = clock
        self.forced_language = forced_language
        answers = {
            entry.id: " ".join(self.filled_answer(entry, language) for language in LANGUAGES)
            for entry in knowledge.entries.values()
        }
        self.matcher = Matcher(
            knowledge.entries.values(),
            Normaliser(knowledge.lexicon),
            answers=answers,
            decision=knowledge.decision,
        )
        normaliser = self.matcher.normaliser
        self._topic_words = {
            topic.id: {word for title in topic.title.values() for word in normaliser.tokens(title)}
            for topic in knowledge.topics
        }

    def ask(
        self,
        question: str,
        language: Language | None = None,
        prefer: frozenset[str] = frozenset(),
    ) -> AskResult:
        """Answer one question; `language` forces the reply language, else it follows the text.
        Of the runners-up to an answer, one of `prefer` is taken instead, as a likely answer."""
        question = within(clean_input(question), MAX_QUESTION_CHARS)
        words = self.matcher.normaliser.words(question)
        if not words:
            language = language or self.forced_language or "nl"
            return AskResult(
                Band.FALLBACK, None, 0.0, self.texts.get("empty_prompt", language), language
            )
        scored = self.matcher.rank(question)
        language = (
            language
            or self.forced_language
            or self.matcher.language(question)
            # Not of a phrasing too far off to be offered ("Zwolle" is no English), nor of one
            # word's phrasing: "penvorder" is Dutch, though "What is a penvoerder?" fits it best.
            or (scored.language if scored.ranking.band is not Band.FALLBACK and words[1:] else None)
            or "nl"
        )
        ranking = _preferring(scored.ranking, prefer)
        if ranking.band is Band.ANSWER and ranking.best is not None:
            # Read in the light of the first, as a follow-up in the chat would be.
            second = self._leaning_second(question, ranking.best.entry_id, language)
            ranking = ranking if second is None else replace(ranking, also=Match(second, 0.0))
        best = ranking.best
        entries = self.knowledge.entries
        if ranking.band is Band.ANSWER and best is not None:
            entry = entries[best.entry_id]
            text = self.answer_text(entry, language)
            also = (
                ()
                if ranking.also is None
                else (self.suggestion(entries[ranking.also.entry_id], language),)
            )
            others: tuple[Suggestion, ...] = ()
            if ranking.certainty is Certainty.LIKELY:
                # Say which question was answered, and offer the runners-up.
                intro = self.texts.get("likely_intro", language, question=entry.title(language))
                text = f"{intro}\n\n{text}"
                others = tuple(
                    self.suggestion(entries[m.entry_id], language)
                    for m in ranking.matches[1:MAX_CHOICES]
                    if ranking.also is None or m.entry_id != ranking.also.entry_id
                )
            if also:
                text += "\n\n" + self.texts.get("also_asked", language)
            return AskResult(
                Band.ANSWER,
                entry.id,
                best.score,
                text,
                language,
                suggestions=(*also, *others),
                source=entry.sources[0] if entry.sources else None,
                follow_ups=tuple(
                    self.suggestion(entries[target], language) for target in entry.follow_ups
                ),
                certainty=ranking.certainty,
            )
        if ranking.band is Band.SUGGEST and best is not None:
            suggestions = tuple(
                self.suggestion(entries[match.entry_id], language)
                for match in ranking.matches[:MAX_CHOICES]
            )
            text = self.texts.get("suggest_intro", language)
            return AskResult(Band.SUGGEST, None, best.score, text, language, suggestions)
        score = best.score if best else 0.0
        if best is not None and entries[best.entry_id].kind is EntryKind.ELSEWHERE:
            text = entries[best.entry_id].answer[language]
            return AskResult(Band.FALLBACK, None, score, text, language, off_topic=True)
        if scored.candidate.features["unknown"] < 1.0 or not self.matcher.normaliser.tokens(
            question
        ):
            # A word the knowledge knows, or only words that say little ("subsidie", "weet ik
            # niet"): perhaps about STO, so "I don't know that", not "I only do STO"; the latter
            # is for a message with words of its own, none of which STO uses.
            text = self.texts.get("fallback", language)
        else:
            text = self.texts.get("fallback_off_topic", language)
        topic = self.knowledge.topic(self._named_topic(question) or "")
        if topic is not None:
            text = self.texts.get("fallback_topic", language, topic=topic.title[language])
        return AskResult(
            Band.FALLBACK, None, score, text, language, topic=topic.id if topic else None
        )

    def _named_topic(self, question: str) -> str | None:
        """The topic a keyword or two name ("budget", "subsidiehoogte"), if they name one."""
        tokens = set(self.matcher.normaliser.tokens(question))
        if not tokens or len(tokens) > MAX_TOPIC_WORDS:
            return None
        return next((t for t, words in self._topic_words.items() if tokens <= words), None)

    def _leaning_second(self, question: str, answered: str, language: Language) -> str | None:
        """The entry a short last question asks that leans on the one answered ("Hoeveel mag
        een techniekregio aanvragen? En voor techniekluwe regio's?"), read as a follow-up to
        it: alone, it says too little to be offered."""
        sentences = parts(question, self.matcher.normaliser.fillers).sentences
        if len(sentences) < 2 or not self.knowledge.intents.leans_on_previous(sentences[-1]):
            return None
        follow = self.ask_in_context(sentences[-1], language, answered)
        return follow.entry if follow.status is Band.ANSWER and follow.entry != answered else None

    def ask_in_context(self, text: str, language: Language, last_entry: str | None) -> AskResult:
        """Answer `text`; a follow-up ("en in de vorige periode?") is also read together with
        the subject of the previous answer, and answered that way when that is surer; "bron?"
        names the previous answer's sources."""
        result = self._in_context(text, language, last_entry)
        previous = self.knowledge.entries.get(last_entry or "")
        asked = self.knowledge.entries.get(result.entry or "")
        if previous is None or not previous.sources or not (asked and asked.sources_of_previous):
            return result
        sources = "\n".join(
            self.texts.get("source_line", result.language, title=s.title, url=s.url)
            for s in previous.sources
        )
        title = previous.title(result.language)
        told = self.texts.get("sources_of_previous", result.language, question=title)
        return replace(result, text=f"{told}\n{sources}")

    def _in_context(self, text: str, language: Language, last_entry: str | None) -> AskResult:
        previous = self.knowledge.entries.get(last_entry or "")
        intents = self.knowledge.intents
        # Without its greeting: the "daar" of "Hallo daar. Wat is een penvoerder?" points at
        # nothing said before.
        asked = parts(text, self.matcher.normaliser.fillers).core or text
        if previous is None or not intents.leans_on_previous(asked):
            return self.ask(text, language)
        # "Hoeveel mag een techniekregio aanvragen?" - "en voor techniekluwe regio's?": the
        # budget of those regions, not which they are, though that fits the words alone best.
        # A follow-up with a question word of its own ("en wat is een techniekregio?") asks that.
        topic = self.knowledge.topic(previous.topic_id)
        elliptic = QUESTION_WORDS.isdisjoint(fold(text).split())
        mates = frozenset(topic.entry_ids) - {previous.id} if topic and elliptic else frozenset()
        result = self.ask(text, language, prefer=mates)
        # A question of its own with only a word that may point back ("wanneer is dan de
        # deadline?") is not read in context when it is answered surely alone, and otherwise only
        # where it points there by itself as well.
        own_question = not (elliptic or intents.opens_as_follow_up(asked))
        if own_question and result.certainty is Certainty.SURE and result.entry != previous.id:
            return result
        # The previous question's subject in its key words: its title would pull the match
        # back to the same entry ("hoeveel … is nodig"), while a follow-up asks something new.
        context = " ".join(previous.keywords[:3]) or previous.title(result.language)
        # One sentence: after a question mark the context would be a second question.
        combined = self.ask(
            f"{' '.join(text.replace('?', ' ').split())} {context}", result.language
        )
        if combined.status is Band.SUGGEST and result.status is not Band.ANSWER:
            # Choices in the light of the previous answer, not out of context.
            return _without_choice(combined, previous.id)
        if combined.status is not Band.ANSWER or combined.entry == previous.id:
            return _without_choice(result, previous.id)
        pointed = {result.entry, *(s.entry for s in result.suggestions)}
        if own_question and combined.entry not in pointed:
            return _without_choice(result, previous.id)
        if result.status is Band.ANSWER and combined.certainty is not Certainty.SURE:
            return result
        return combined

    def answer_text(self, entry: Entry, language: Language) -> str:
        """An entry's answer for today, with its caveat and source line."""
        parts = [self.filled_answer(entry, language)]
        if entry.confidence is Confidence.INFERRED:
            parts.append(self.texts.get("inferred_note", language))
        elif entry.confidence is Confidence.UNKNOWN:
            parts.append(self.texts.get("unknown_note", language))
        if entry.sources:
            source = entry.sources[0]
            parts.append(
                self.texts.get("source_line", language, title=source.title, url=source.url)
            )
        return "\n\n".join(parts)

    def filled_answer(self, entry: Entry, language: Language) -> str:
        """An entry's answer with its dates told as of today."""
        dates = self.knowledge.dates
        return fill_dates(entry.answer[language], dates, language, self.clock(), self.texts)

    def suggestion(self, entry: Entry, language: Language) -> Suggestion:
        """An entry offered as a choice, under its first phrasing."""
        return Suggestion(entry.id, entry.title(language))


def _preferring(ranking: Ranking, prefer: frozenset[str]) -> Ranking:
    """The ranking with the first runner-up of `prefer` answered, when the answer is only
    likely and not one of them (a sure answer stands: the words alone are clear enough)."""
    if (
        ranking.certainty is not Certainty.LIKELY
        or not ranking.matches
        or ranking.matches[0].entry_id in prefer
    ):
        return ranking
    chosen = next((m for m in ranking.matches[1:MAX_CHOICES] if m.entry_id in prefer), None)
    if chosen is None:
        return ranking
    rest = tuple(m for m in ranking.matches if m is not chosen)
    also = ranking.also
    if also is not None and also.entry_id == chosen.entry_id:
        also = None  # not offered beside itself
    return replace(ranking, matches=(chosen, *rest), also=also)


def _without_choice(result: AskResult, entry_id: str) -> AskResult:
    """A "bedoelt u…?" without the answer just given as a choice: a follow-up asks something
    new, and offering the same answer again goes round in a circle."""
    if result.status is not Band.SUGGEST:
        return result
    others = tuple(s for s in result.suggestions if s.entry != entry_id)
    return replace(result, suggestions=others) if others else result
