"""The one entry point of the core: `Assistant.handle(IncomingMessage) -> list[Reply]`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from sto_bot.dates import Clock, fill_dates, system_clock
from sto_bot.knowledge import Confidence, Entry, KnowledgeBase, Source
from sto_bot.matcher import MAX_QUESTION_CHARS, Matcher
from sto_bot.models import LANGUAGES, Band, IncomingMessage, Language, Option, Reply
from sto_bot.store import ConversationState, MemoryStore, Store
from sto_bot.text import Normaliser, clean_input

log = logging.getLogger(__name__)

MAX_SUGGESTIONS = 3
TOPICS = "topics"
CONSULTANT = "consultant"
NONE_OF_THESE = "none"


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

    def as_json(self) -> dict[str, object]:
        """The record as DESIGN §2 defines it for `ask --json`."""
        return {
            "status": self.status.value,
            "entry": self.entry,
            "score": self.score,
            "text": self.text,
            "suggestions": [{"entry": s.entry, "question": s.question} for s in self.suggestions],
            "source": {"title": self.source.title, "url": self.source.url} if self.source else None,
        }


class Assistant:
    """Answers questions from the knowledge base and keeps each conversation's state."""

    def __init__(
        self,
        knowledge: KnowledgeBase,
        *,
        store: Store | None = None,
        clock: Clock = system_clock,
        language: Language | None = None,
    ) -> None:
        self.knowledge = knowledge
        self.texts = knowledge.texts
        self.store: Store = store or MemoryStore()
        self.clock = clock
        self.forced_language = language
        self.matcher = Matcher(knowledge.entries.values(), Normaliser(knowledge.lexicon))

    # -- stateless answers ---------------------------------------------------------------

    def ask(self, question: str, language: Language | None = None) -> AskResult:
        """Answer one question; `language` forces the reply language, else it follows the text."""
        question = clean_input(question)[:MAX_QUESTION_CHARS]
        if not self.matcher.normaliser.words(question):
            language = language or self.forced_language or "nl"
            return AskResult(
                Band.FALLBACK, None, 0.0, self.texts.get("empty_prompt", language), language
            )
        scored = self.matcher.rank(question)
        language = (
            language
            or self.forced_language
            or self.matcher.language(question)
            or scored.language
            or "nl"
        )
        ranking = scored.ranking
        best = ranking.best
        if ranking.band is Band.ANSWER and best is not None:
            entry = self.knowledge.entries[best.entry_id]
            return AskResult(
                Band.ANSWER,
                entry.id,
                best.score,
                self.answer_text(entry, language),
                language,
                source=entry.sources[0] if entry.sources else None,
                follow_ups=tuple(
                    self._suggestion(self.knowledge.entries[target], language)
                    for target in entry.follow_ups
                ),
            )
        if ranking.band is Band.SUGGEST and best is not None:
            suggestions = tuple(
                self._suggestion(self.knowledge.entries[match.entry_id], language)
                for match in ranking.matches[:MAX_SUGGESTIONS]
            )
            text = self.texts.get("suggest_intro", language)
            return AskResult(Band.SUGGEST, None, best.score, text, language, suggestions)
        score = best.score if best else 0.0
        return AskResult(Band.FALLBACK, None, score, self.texts.get("fallback", language), language)

    def answer_text(self, entry: Entry, language: Language) -> str:
        """An entry's answer for today, with its caveat and source line."""
        dates = self.knowledge.dates
        parts = [fill_dates(entry.answer[language], dates, language, self.clock(), self.texts)]
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

    def _suggestion(self, entry: Entry, language: Language) -> Suggestion:
        return Suggestion(entry.id, entry.title(language))

    # -- conversations -------------------------------------------------------------------

    async def handle(self, message: IncomingMessage) -> list[Reply]:
        """Answer one incoming message; the conversation's state is saved before returning."""
        state = await self.store.load(message.key)
        try:
            replies, state = self._respond(message, state)
        except Exception:
            # A bug must not cost the user their conversation: log it, say sorry, carry on.
            log.exception("failed to handle a message in %s", message.key)
            language = self._language(state)
            return [Reply(self.texts.get("internal_error", language))]
        await self.store.save(message.key, state)
        return replies

    def _language(self, state: ConversationState, text: str | None = None) -> Language:
        if self.forced_language or state.language:
            return self.forced_language or state.language or "nl"
        detected = self.matcher.language(text) if text else None
        return detected or state.last_language or "nl"

    def _respond(
        self, message: IncomingMessage, state: ConversationState
    ) -> tuple[list[Reply], ConversationState]:
        if message.choice is not None:
            return self._on_choice(message.choice, state)
        text = clean_input(message.text or "")
        if text.startswith("/"):
            return self._on_command(text, state)
        return self._on_question(text, state)

    def _on_question(
        self, text: str, state: ConversationState
    ) -> tuple[list[Reply], ConversationState]:
        language = self._language(state, text)
        if not self.matcher.normaliser.words(text):
            prompt = self.texts.get("empty_prompt", language)
            return [Reply(prompt, (self._topics_option(language),))], state
        result = self.ask(text, self.forced_language or state.language)
        language = result.language
        state = replace(state, last_language=language)
        replies = []
        if len(text) > MAX_QUESTION_CHARS:
            replies.append(Reply(self.texts.get("too_long_note", language)))
        replies.append(self._render(result))
        return replies, state

    def _render(self, result: AskResult) -> Reply:
        language = result.language
        if result.status is Band.ANSWER:
            options = tuple(Option(f"ask:{s.entry}", s.question) for s in result.follow_ups)
            return Reply(result.text, options)
        if result.status is Band.SUGGEST:
            options = tuple(Option(f"ask:{s.entry}", s.question) for s in result.suggestions)
            none = Option(NONE_OF_THESE, self.texts.get("none_of_these", language))
            return Reply(result.text, (*options, none))
        return Reply(result.text, self._help_options(language))

    def _help_options(self, language: Language) -> tuple[Option, ...]:
        return (
            self._topics_option(language),
            Option(CONSULTANT, self.texts.get("consultant_button", language)),
        )

    def _topics_option(self, language: Language) -> Option:
        return Option(TOPICS, self.texts.get("topics_button", language))

    def _on_choice(
        self, choice: str, state: ConversationState
    ) -> tuple[list[Reply], ConversationState]:
        language = self._language(state)
        kind, _, value = choice.partition(":")
        if kind == "ask" and value in self.knowledge.entries:
            entry = self.knowledge.entries[value]
            follow_ups = tuple(
                Option(f"ask:{target}", self.knowledge.entries[target].title(language))
                for target in entry.follow_ups
            )
            return [Reply(self.answer_text(entry, language), follow_ups)], state
        if choice == TOPICS:
            return [self._topic_list(language)], state
        if kind == "topic" and self.knowledge.topic(value) is not None:
            return [self._topic_questions(value, language)], state
        if choice == NONE_OF_THESE:
            reply = Reply(
                self.texts.get("none_of_these_reply", language), self._help_options(language)
            )
            return [reply], state
        if choice == CONSULTANT:
            return [Reply(self.texts.get("consultant_info", language))], state
        if kind == "lang" and value in LANGUAGES:
            return self._set_language(value, state)
        reply = Reply(self.texts.get("expired_button", language), (self._topics_option(language),))
        return [reply], state

    def _on_command(
        self, text: str, state: ConversationState
    ) -> tuple[list[Reply], ConversationState]:
        word, _, argument = text[1:].partition(" ")
        command = word.split("@", 1)[0].casefold()  # "/help@StoBot" in Telegram groups
        argument = argument.strip().casefold()
        language = self._language(state)
        if command == "start":
            return [Reply(self.texts.get("welcome", language), self._help_options(language))], state
        if command == "help":
            return [Reply(self.texts.get("help", language), self._help_options(language))], state
        if command in ("onderwerpen", "topics"):
            return [self._topic_list(language)], state
        if command in ("adviseur", "consultant"):
            return [Reply(self.texts.get("consultant_info", language))], state
        if command in ("taal", "language"):
            if argument in LANGUAGES:
                return self._set_language(argument, state)
            options = (Option("lang:nl", "Nederlands"), Option("lang:en", "English"))
            return [Reply(self.texts.get("language_usage", language), options)], state
        return [Reply(self.texts.get("unknown_command", language))], state

    def _set_language(
        self, value: str, state: ConversationState
    ) -> tuple[list[Reply], ConversationState]:
        language: Language = "en" if value == "en" else "nl"
        state = replace(state, language=language, last_language=language)
        return [Reply(self.texts.get("language_set", language))], state

    def _topic_list(self, language: Language) -> Reply:
        options = tuple(
            Option(f"topic:{topic.id}", topic.title[language]) for topic in self.knowledge.topics
        )
        return Reply(self.texts.get("topics_intro", language), options)

    def _topic_questions(self, topic_id: str, language: Language) -> Reply:
        topic = self.knowledge.topic(topic_id)
        assert topic is not None
        options = tuple(
            Option(f"ask:{entry_id}", self.knowledge.entries[entry_id].title(language))
            for entry_id in topic.entry_ids
        )
        text = self.texts.get("topic_intro", language, title=topic.title[language])
        return Reply(text, (*options, self._topics_option(language)))
