"""The one entry point of the core: `Assistant.handle(IncomingMessage) -> list[Reply]`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from sto_bot import eligibility
from sto_bot.config import DEFAULT_RETENTION_DAYS
from sto_bot.dates import Clock, fill_dates, system_clock
from sto_bot.dialog import parse_callback
from sto_bot.eligibility import EligibilityCheck
from sto_bot.handover import CLOSE, CONSULTANT_COMMANDS, PICK, Consultants, HandoverDesk
from sto_bot.knowledge import Confidence, Entry, EntryKind, KnowledgeBase, Source
from sto_bot.matcher import MAX_CHOICES, MAX_QUESTION_CHARS, Matcher
from sto_bot.models import (
    LANGUAGES,
    Band,
    Certainty,
    ConversationKey,
    ConversationState,
    Delivery,
    Event,
    IncomingMessage,
    Language,
    Option,
    Recipient,
    Reply,
)
from sto_bot.store import Changes, MemoryStore, Store
from sto_bot.text import Normaliser, clean_input

log = logging.getLogger(__name__)

TOPICS = "topics"
CONSULTANT = "consultant"
NONE_OF_THESE = "none"
ASK = "ask"
FORGET = "forget"
FORGET_YES = "forget-yes"
FORGET_NO = "forget-no"
STOP_WORDS = frozenset({"stop", "stoppen", "/stop"})


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


@dataclass(slots=True)
class _KeyLock:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class Assistant:
    """Answers questions from the knowledge base and keeps each conversation's state."""

    def __init__(
        self,
        knowledge: KnowledgeBase,
        *,
        store: Store | None = None,
        clock: Clock = system_clock,
        language: Language | None = None,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        consultants: Consultants | None = None,
    ) -> None:
        self.knowledge = knowledge
        self.texts = knowledge.texts
        self.store: Store = store or MemoryStore()
        self.clock = clock
        self.forced_language = language
        self.retention_days = retention_days
        answers = {
            entry.id: " ".join(self._filled_answer(entry, language) for language in LANGUAGES)
            for entry in knowledge.entries.values()
        }
        self.matcher = Matcher(
            knowledge.entries.values(),
            Normaliser(knowledge.lexicon),
            answers=answers,
            decision=knowledge.decision,
        )
        self.check = EligibilityCheck(knowledge, clock)
        self.consultants = consultants or Consultants()
        self.desk = HandoverDesk(self.texts, knowledge.check, self.store, clock, self.consultants)
        # Told what each commit queued in the outbox, so that a channel delivering from the
        # outbox needs no query to find it (some of it may be for other conversations).
        self.on_queued: Callable[[list[Delivery]], None] | None = None
        self._locks: dict[ConversationKey, _KeyLock] = {}

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
        entries = self.knowledge.entries
        if ranking.band is Band.ANSWER and best is not None:
            entry = entries[best.entry_id]
            text = self.answer_text(entry, language)
            also = (
                ()
                if ranking.also is None
                else (self._suggestion(entries[ranking.also.entry_id], language),)
            )
            others: tuple[Suggestion, ...] = ()
            if ranking.certainty is Certainty.LIKELY:
                # Say which question was answered, and offer the runners-up.
                intro = self.texts.get("likely_intro", language, question=entry.title(language))
                text = f"{intro}\n\n{text}"
                others = tuple(
                    self._suggestion(entries[m.entry_id], language)
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
                    self._suggestion(entries[target], language) for target in entry.follow_ups
                ),
                certainty=ranking.certainty,
            )
        if ranking.band is Band.SUGGEST and best is not None:
            suggestions = tuple(
                self._suggestion(entries[match.entry_id], language)
                for match in ranking.matches[:MAX_CHOICES]
            )
            text = self.texts.get("suggest_intro", language)
            return AskResult(Band.SUGGEST, None, best.score, text, language, suggestions)
        score = best.score if best else 0.0
        if best is not None and entries[best.entry_id].kind is EntryKind.ELSEWHERE:
            text = entries[best.entry_id].answer[language]
            return AskResult(Band.FALLBACK, None, score, text, language, off_topic=True)
        if scored.candidate.features["unknown"] < 1.0:
            # A word the knowledge knows: perhaps about STO, so "I don't know that", not "I
            # only do STO"; the latter is for a message none of whose words STO uses.
            text = self.texts.get("fallback", language)
        else:
            text = self.texts.get("fallback_off_topic", language)
        return AskResult(Band.FALLBACK, None, score, text, language)

    def answer_text(self, entry: Entry, language: Language) -> str:
        """An entry's answer for today, with its caveat and source line."""
        parts = [self._filled_answer(entry, language)]
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

    def _filled_answer(self, entry: Entry, language: Language) -> str:
        dates = self.knowledge.dates
        return fill_dates(entry.answer[language], dates, language, self.clock(), self.texts)

    def _suggestion(self, entry: Entry, language: Language) -> Suggestion:
        return Suggestion(entry.id, entry.title(language))

    # -- conversations -------------------------------------------------------------------

    async def handle(self, message: IncomingMessage) -> list[Reply]:
        """Answer one incoming message; its effects are stored before the replies return."""
        # One message per conversation at a time, in order; other conversations do not wait.
        lock = self._locks.setdefault(message.key, _KeyLock())
        lock.users += 1
        try:
            async with lock.lock:
                return await self._handle(message)
        finally:
            lock.users -= 1
            if not lock.users:
                del self._locks[message.key]

    async def _handle(self, message: IncomingMessage) -> list[Reply]:
        loaded = await self.store.load(message.key)
        changes = Changes(message.key, loaded, update_id=message.update_id)
        try:
            replies = await self._respond(message, changes)
        except Exception as error:
            # A bug must not cost the user their conversation: log it, say sorry, carry on.
            # The traceback only at DEBUG: in a terminal the log shares the user's screen.
            debug = log.isEnabledFor(logging.DEBUG)
            log.error("failed to handle a message in %s: %r", message.key, error, exc_info=debug)
            replies = [Reply(self.texts.get("internal_error", self._language(loaded)))]
            # The message counts as handled (with its apology): it must not fail forever.
            changes = Changes(message.key, loaded, update_id=message.update_id)
        # Messages for the consultants or for another conversation always go through the
        # outbox; a channel with update ids delivers the conversation's own replies from it too.
        elsewhere = [r for r in replies if r.to is not None or r.recipient is Recipient.CONSULTANTS]
        if changes.forget:
            await self.store.forget(message.key)
            # What stays is the handled update and the messages on their way out; no state.
            changes = Changes(
                message.key, ConversationState(), update_id=message.update_id, write_state=False
            )
            if message.update_id is None and not elsewhere:
                return replies
        changes.outbox = replies if message.update_id is not None else elsewhere
        queued = await self.store.commit(message.key, changes, self.clock())
        if queued is None:
            return []  # a redelivered update: it was answered already
        if queued and self.on_queued is not None:
            self.on_queued(queued)
        return replies

    async def remind(self) -> int:
        """Remind the consultants of handovers waiting too long; returns how many."""
        queued = await self.desk.remind()
        if queued and self.on_queued is not None:
            self.on_queued(queued)
        return len(queued)

    def _language(self, state: ConversationState, text: str | None = None) -> Language:
        if self.forced_language or state.language:
            return self.forced_language or state.language or "nl"
        detected = self.matcher.language(text) if text else None
        return detected or state.last_language or "nl"

    async def _respond(self, message: IncomingMessage, changes: Changes) -> list[Reply]:
        language = self._language(changes.state, message.text)
        if message.unsupported:
            return [Reply(self.texts.get("text_only", language))]
        text = clean_input(message.text or "")
        choice = message.choice
        if choice is not None and choice.startswith((PICK, CLOSE)):
            return await self.desk.button(choice, message, changes)
        if message.key == self.consultants.chat and choice is None and not text.startswith("/"):
            relayed = await self.desk.reply_in_thread(message, changes)
            return relayed or [Reply(self.texts.get("handover_usage", "nl"))]
        intake = changes.state.intake
        if intake is not None and not text.startswith("/"):
            taken = await self.desk.on_intake(message, changes, language)
            if taken is not None:
                return taken
        replies = await self._respond_as_usual(message, text, changes)
        if intake is not None and changes.state.intake is intake:
            # Something else came in between: ask the intake's question again.
            replies.append(self.desk.prompt(changes, self._language(changes.state)))
        return replies

    async def _respond_as_usual(
        self, message: IncomingMessage, text: str, changes: Changes
    ) -> list[Reply]:
        if message.choice is not None:
            changes.events.append(Event("choice", {"id": message.choice}))
            return await self._on_choice(message, changes)
        if text.startswith("/"):
            changes.events.append(Event("command", {"text": text[:100]}))
            return await self._on_command(text, message, changes)
        if changes.state.handover is not None:
            return await self.desk.from_user(text, changes, self._language(changes.state, text))
        if text.casefold() in STOP_WORDS and self.check.running(changes):
            return self.check.stop(changes, self._language(changes.state, text))
        replies = self._on_question(text, changes)
        if self.check.running(changes):
            resumed = self.check.resume(changes, self._language(changes.state))
            if resumed is not None:
                replies.append(resumed)
        return replies

    def _on_question(self, text: str, changes: Changes) -> list[Reply]:
        language = self._language(changes.state, text)
        if not self.matcher.normaliser.words(text):
            prompt = self.texts.get("empty_prompt", language)
            return [Reply(prompt, (self._topics_option(language),))]
        result = self.ask(text, self.forced_language or changes.state.language)
        changes.state = replace(changes.state, last_language=result.language)
        changes.events.append(
            Event(
                "question",
                {
                    "text": text[:MAX_QUESTION_CHARS],
                    "status": result.status.value,
                    "certainty": result.certainty.value if result.certainty else None,
                    "entry": result.entry,
                    "score": result.score,
                    "suggestions": [s.entry for s in result.suggestions],
                },
            )
        )
        replies = []
        if len(text) > MAX_QUESTION_CHARS:
            replies.append(Reply(self.texts.get("too_long_note", result.language)))
        replies.append(self._render(result))
        # A question about another subject was answered as such: no reason to offer a person.
        unanswered = result.status is Band.FALLBACK and not result.off_topic
        fallbacks = changes.state.fallbacks + 1 if unanswered else 0
        if fallbacks >= 2:  # offered, never forced; and not again until two more
            consultant = Option(CONSULTANT, self.texts.get("consultant_button", result.language))
            offer = self.texts.get("handover_fallback_offer", result.language)
            replies.append(Reply(offer, (consultant,)))
            fallbacks = 0
        changes.state = replace(changes.state, fallbacks=fallbacks)
        return replies

    def _render(self, result: AskResult) -> Reply:
        language = result.language
        if result.status is Band.ANSWER:
            # The other question of the message and a likely answer's runners-up come first.
            offered = [*result.suggestions]
            offered += [s for s in result.follow_ups if s not in offered]
            options = tuple(Option(f"ask:{s.entry}", s.question) for s in offered[:MAX_CHOICES])
            return Reply(result.text, options)
        if result.status is Band.SUGGEST:
            options = tuple(Option(f"ask:{s.entry}", s.question) for s in result.suggestions)
            none = Option(NONE_OF_THESE, self.texts.get("none_of_these", language))
            return Reply(result.text, (*options, none))
        return Reply(result.text, self._help_options(language))

    def _menu(self, language: Language) -> tuple[Option, ...]:
        return (
            Option(ASK, self.texts.get("ask_button", language)),
            Option(eligibility.START, self.texts.get("check_button", language)),
            self._topics_option(language),
            Option(CONSULTANT, self.texts.get("consultant_button", language)),
        )

    def _help_options(self, language: Language) -> tuple[Option, ...]:
        return (
            self._topics_option(language),
            Option(CONSULTANT, self.texts.get("consultant_button", language)),
        )

    def _topics_option(self, language: Language) -> Option:
        return Option(TOPICS, self.texts.get("topics_button", language))

    async def _on_choice(self, message: IncomingMessage, changes: Changes) -> list[Reply]:
        choice = message.choice or ""
        language = self._language(changes.state)
        button = parse_callback(choice)
        if button is not None:
            return self.check.answer(*button, changes, language)
        if choice in eligibility.CONTROL_CHOICES:
            return self.check.control(choice, changes, language)
        kind, _, value = choice.partition(":")
        if kind == "ask" and value in self.knowledge.entries:
            entry = self.knowledge.entries[value]
            changes.events.append(Event("answered", {"entry": entry.id}))
            follow_ups = tuple(
                Option(f"ask:{target}", self.knowledge.entries[target].title(language))
                for target in entry.follow_ups
            )
            return [Reply(self.answer_text(entry, language), follow_ups)]
        if choice == TOPICS:
            return [self._topic_list(language)]
        if kind == "topic" and self.knowledge.topic(value) is not None:
            return [self._topic_questions(value, language)]
        if choice == ASK:
            return [Reply(self.texts.get("ask_prompt", language))]
        if choice == NONE_OF_THESE:
            text = self.texts.get("none_of_these_reply", language)
            return [Reply(text, self._help_options(language))]
        if choice == CONSULTANT:
            return self.desk.offer(message, changes, language)
        if kind == "lang" and value in LANGUAGES:
            return self._set_language(value, changes)
        if choice in (FORGET_YES, FORGET_NO) and changes.state.pending == FORGET:
            return self._forget(choice == FORGET_YES, changes)
        reply = Reply(self.texts.get("expired_button", language), (self._topics_option(language),))
        return [reply]

    async def _on_command(
        self, text: str, message: IncomingMessage, changes: Changes
    ) -> list[Reply]:
        word, _, argument = text[1:].partition(" ")
        command = word.split("@", 1)[0].casefold()  # "/help@StoBot" in Telegram groups
        argument = argument.strip().casefold()
        language = self._language(changes.state)
        if command == "start":
            if argument == "check":  # the deep link t.me/<bot>?start=check
                return self.check.command(changes, language)
            return [Reply(self.texts.get("welcome", language), self._menu(language))]
        if command == "help":
            return [Reply(self.texts.get("help", language), self._menu(language))]
        if command in ("onderwerpen", "topics"):
            return [self._topic_list(language)]
        if command in ("adviseur", "consultant"):
            return self.desk.offer(message, changes, language)
        if command in ("annuleer", "cancel") and changes.state.intake is not None:
            return self.desk.cancel_intake(changes, language)
        if command in ("annuleer", "cancel", "terug", "back"):
            return await self.desk.end_by_user(changes, language)
        if command in CONSULTANT_COMMANDS:
            return await self.desk.command(command, argument, message, changes)
        if command in ("taal", "language"):
            if argument in LANGUAGES:
                return self._set_language(argument, changes)
            options = (Option("lang:nl", "Nederlands"), Option("lang:en", "English"))
            return [Reply(self.texts.get("language_usage", language), options)]
        if command == "check":
            return self.check.command(changes, language)
        if command == "stop":
            return self.check.stop(changes, language)
        if command in ("resultaat", "result"):
            return [self.check.result_reply(await self.store.last_result(changes.key), language)]
        if command == "privacy":
            return [Reply(self.texts.get("privacy", language, days=self.retention_days))]
        if command in ("vergeet", "forget"):
            changes.state = replace(changes.state, pending=FORGET)
            options = (
                Option(FORGET_YES, self.texts.get("forget_yes", language)),
                Option(FORGET_NO, self.texts.get("forget_no", language)),
            )
            return [Reply(self.texts.get("forget_confirm", language), options)]
        return [Reply(self.texts.get("unknown_command", language))]

    def _forget(self, confirmed: bool, changes: Changes) -> list[Reply]:
        language = self._language(changes.state)
        changes.state = replace(changes.state, pending=None)
        if not confirmed:
            return [Reply(self.texts.get("forget_cancelled", language))]
        changes.forget = True
        return [*self.desk.forgotten(changes), Reply(self.texts.get("forgotten", language))]

    def _set_language(self, value: str, changes: Changes) -> list[Reply]:
        language: Language = "en" if value == "en" else "nl"
        changes.state = replace(changes.state, language=language, last_language=language)
        return [Reply(self.texts.get("language_set", language))]

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
