"""The core's entry point: `Assistant.process(IncomingMessage)` for the delivery runtime (every
reply queued in the outbox), `Assistant.handle(IncomingMessage) -> list[Reply]` for callers that
show the replies themselves; `Assistant.ask` for one question without a conversation."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace

from sto_bot import eligibility, privacy
from sto_bot.admin import ADMIN_COMMANDS, Admin
from sto_bot.answers import Answers, AskResult
from sto_bot.buttons import CLOSE, OFFER_CONSULTANT, PICK, TOPIC_LIST, current
from sto_bot.choices import OutOfRange, Unclear, one_numbered_list, pick, said
from sto_bot.commands import Audience
from sto_bot.config import DEFAULT_RETENTION_DAYS
from sto_bot.dates import Clock, system_clock
from sto_bot.desk import ConsultantDesk
from sto_bot.dialog import parse_callback
from sto_bot.eligibility import EligibilityCheck
from sto_bot.feedback import DOWN, UP, Feedback
from sto_bot.handover import (
    CANCEL,
    CONSULTANT_COMMANDS,
    LEAVE,
    Consultants,
)
from sto_bot.intake import HandoverIntake
from sto_bot.intents import Intent
from sto_bot.knowledge import Entry, KnowledgeBase
from sto_bot.language_choice import choose_language
from sto_bot.loader import reloaded
from sto_bot.matcher import MAX_QUESTION_CHARS
from sto_bot.menus import NONE_OF_THESE, Menus
from sto_bot.models import (
    LANGUAGES,
    STRICTEST_LIMITS,
    Band,
    Changes,
    ChannelLimits,
    ConversationKey,
    ConversationState,
    Delivery,
    Event,
    IncomingMessage,
    Language,
    Option,
    Recipient,
    Reply,
    StoreBroken,
    StoreFull,
)
from sto_bot.pseudonyms import pseudonym
from sto_bot.shapes import Problem
from sto_bot.store import MemoryStore, Store
from sto_bot.summary import HandoverSummary
from sto_bot.text import clean_input
from sto_bot.whereabouts import where_you_were

log = logging.getLogger(__name__)

TOPICS = TOPIC_LIST
CONSULTANT, NOT_SENT = OFFER_CONSULTANT, "not_sent"  # (text that reached no one)

# Asking about or deleting one's data is never passed on to a consultant as a message.
PRIVATE_INTENTS = frozenset({Intent.PRIVACY, Intent.MY_DATA, Intent.FORGET})
ENDING = frozenset({CANCEL, LEAVE})  # the buttons that withdraw a question or leave a consultant
WITH_A_PERSON = ENDING | privacy.FORGET_CHOICES  # what typing presses while one is on the line
# Commands that tell something on the way and leave the user where they were.
SIDE_COMMANDS = frozenset({"help", "privacy", "result", "my-data"})
# What an intent typed in one's own words does: the command of the same meaning.
INTENT_COMMANDS = {
    Intent.CONSULTANT: ("consultant", ""),
    Intent.HELP: ("help", ""),
    Intent.MENU: ("start", ""),
    Intent.TOPICS: ("topics", ""),
    Intent.CHECK: ("check", ""),
    Intent.STOP: ("stop", ""),
    Intent.BACK: ("back", ""),
    Intent.PRIVACY: ("privacy", ""),
    Intent.MY_DATA: ("my-data", ""),
    Intent.FORGET: ("forget", ""),
    Intent.ENGLISH: ("language", "en"),
    Intent.DUTCH: ("language", "nl"),
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
        limits: ChannelLimits = STRICTEST_LIMITS,
        admins: frozenset[str] = frozenset(),
    ) -> None:
        self.store: Store = store or MemoryStore()
        self.clock = clock
        self.forced_language = language
        self.retention_days = retention_days
        self.consultants = consultants or Consultants()
        self.limits = limits
        self.admins = admins  # user ids allowed admin commands (/herlaad)
        self._use(knowledge)
        desks = frozenset({self.consultants.chat} if self.consultants.chat else ())
        self.admin = Admin(lambda: self.knowledge, self.reload, self.store, clock, desks)
        self._locks: dict[ConversationKey, _KeyLock] = {}
        # Conversations heard from since start-up: a restart's first message hears where it was.
        self._seen: set[ConversationKey] = set()

    def _use(self, knowledge: KnowledgeBase) -> None:
        """Serve from this knowledge: everything made of it is made anew, in one go, so a
        message sees either the old knowledge or the new one."""
        texts, clock = knowledge.texts, self.clock
        answers = Answers(knowledge, clock, self.forced_language)
        summary = HandoverSummary(texts, self.consultants, knowledge.check, self.limits)
        self.knowledge, self.texts = knowledge, texts
        self.answers, self.matcher = answers, answers.matcher
        self.menus = Menus(knowledge)
        self.feedback = Feedback(texts)
        self.check = EligibilityCheck(knowledge, clock)
        self.intake = HandoverIntake(
            texts, self.consultants, self.store, clock, summary, knowledge.option_words
        )
        self.desk = ConsultantDesk(texts, self.consultants, self.store, clock)

    async def reload(self) -> list[Problem]:
        """Read the knowledge folder again and serve from it if it is valid; otherwise the
        knowledge in use stays, and the problems (with file and line) are returned. A check
        under way on a changed tree is over, as an old button is."""
        loaded = await asyncio.to_thread(reloaded, self.knowledge.root)
        if isinstance(loaded, KnowledgeBase):
            self._use(loaded)
            return []
        return loaded

    # -- stateless answers ---------------------------------------------------------------

    def ask(self, question: str, language: Language | None = None) -> AskResult:
        """Answer one question; `language` forces the reply language, else it follows the text."""
        return self.answers.ask(question, language)

    def answer_text(self, entry: Entry, language: Language) -> str:
        """An entry's answer for today, with its caveat and source line."""
        return self.answers.answer_text(entry, language)

    # -- conversations -------------------------------------------------------------------

    async def handle(self, message: IncomingMessage) -> list[Reply]:
        """Answer one incoming message; its effects are stored before the replies return.
        The replies are the caller's to show; what goes elsewhere (another conversation, the
        consultants) is queued in the outbox."""
        replies, _ = await self._in_turn(message, queue_own=False)
        return replies

    async def process(self, message: IncomingMessage) -> list[Delivery] | None:
        """Handle one message and queue every reply in the outbox, the conversation's own
        too, in the transaction that stores its effects (the delivery runtime sends them);
        None when its update was handled before. A full disk raises StoreFull: nothing was
        written, and the same message can be processed again later."""
        _, queued = await self._in_turn(message, queue_own=True)
        return queued

    async def _in_turn(
        self, message: IncomingMessage, queue_own: bool
    ) -> tuple[list[Reply], list[Delivery] | None]:
        # One message per conversation at a time, in order; other conversations do not wait.
        lock = self._locks.setdefault(message.key, _KeyLock())
        lock.users += 1
        try:
            async with lock.lock:
                return await self._handle(message, queue_own)
        except StoreFull:
            if queue_own:
                raise  # the runtime keeps the message and processes it again later
            log.warning("the disk is full: a message could not be stored")
            language = self._language(await self.store.load(message.key))
            return [Reply(self.texts.get("storage_full", language))], []
        finally:
            lock.users -= 1
            if not lock.users:
                del self._locks[message.key]

    async def _handle(
        self, message: IncomingMessage, queue_own: bool
    ) -> tuple[list[Reply], list[Delivery] | None]:
        message = message.storable()
        loaded = await self.store.load(message.key)
        changes = Changes(message.key, loaded, update_id=message.update_id)
        try:
            replies = one_numbered_list(await self._respond(message, changes))
        except (StoreFull, StoreBroken):
            raise  # the database, not a bug: the message is kept and handled again later
        except Exception as error:
            # A bug must not cost the user their conversation: log it, say sorry, carry on.
            # The traceback only at DEBUG: in a terminal the log shares the user's screen.
            debug = log.isEnabledFor(logging.DEBUG)
            log.error(
                "failed to handle a message in %s: %r",
                pseudonym(message.key),
                error,
                exc_info=debug,
            )
            replies = [Reply(self.texts.get("internal_error", self._language(loaded)))]
            # The message counts as handled (with its apology): it must not fail forever.
            changes = Changes(message.key, loaded, update_id=message.update_id)
        own = [r for r in replies if r.recipient is Recipient.USER and r.to is None]
        if own:
            # What is on screen now: a typed number or option word picks from it next time.
            changes.state = replace(changes.state, shown=own[-1].options)
        # Messages for the consultants or for another conversation always go through the
        # outbox; with `queue_own` (the delivery runtime) the conversation's own replies too.
        elsewhere = [r for r in replies if r.to is not None or r.recipient is Recipient.CONSULTANTS]
        if changes.forget:
            # The consultants hear of it under their own chat, and our messages about the
            # user there go where the channel still allows it.
            told = self.desk.forgotten(await self.store.traces(message.key))
            elsewhere += told
            replies = [*told, *replies]
            # Deleted in the same transaction as the confirmation is queued: all or nothing.
            # What stays is the handled update and the messages on their way out; no state.
            changes = Changes(
                message.key,
                ConversationState(),
                update_id=message.update_id,
                write_state=False,
                forget=True,
            )
        changes.outbox = replies if queue_own else elsewhere
        queued = await self.store.commit(message.key, changes, self.clock())
        if queued is None:
            return [], None  # a redelivered update: it was answered already
        return replies, queued

    async def remind(self) -> list[Delivery]:
        """Remind the consultants of handovers waiting too long; the reminders queued."""
        return await self.desk.remind()

    def _language(self, state: ConversationState, text: str | None = None) -> Language:
        """The reply language: chosen, else the conversation's, which changes only on clear
        evidence (a sentence in the other language), never on one word, a name or a command."""
        if self.forced_language or state.language:
            return self.forced_language or state.language or "nl"
        clear = self.matcher.clear_language(text) if text and text[0] != "/" else None
        named = self.knowledge.commands.language_of(text) if text else None  # weak, like a word
        return clear or state.last_language or named or "nl"

    async def _respond(self, message: IncomingMessage, changes: Changes) -> list[Reply]:
        if message.choice is not None:
            message = replace(message, choice=current(message.choice))
        language = self._language(changes.state, message.text)
        if message.unsupported:
            return [Reply(self.texts.get("text_only", language))]
        in_desk = message.key == self.consultants.chat
        if in_desk and message.reply_to is not None and message.choice is None:
            relayed = await self.desk.reply_in_thread(message, changes)
            return relayed or [self.desk.usage(NOT_SENT)]
        picked = self._typed_choice(message, changes, language)
        if isinstance(picked, Reply):
            return [picked]
        # After a 👎, what the user types next is what they were looking for (and a question).
        noted = self.feedback.heard(clean_input(picked.text or ""), changes, language)
        replies = await self._respond_to(picked, changes, in_desk, language)
        return [noted, *replies] if noted is not None else replies

    async def _respond_to(
        self, message: IncomingMessage, changes: Changes, in_desk: bool, language: Language
    ) -> list[Reply]:
        text = clean_input(message.text or "")
        text = self.knowledge.commands.slashed(text) if in_desk else text  # "oppakken 1"
        if message.choice is not None and message.choice.startswith((PICK, CLOSE)):
            return await self.desk.button(message.choice, message, changes)
        if in_desk and message.choice is None and not text.startswith("/"):
            return [self.desk.usage(NOT_SENT)]
        first = message.key not in self._seen
        self._seen.add(message.key)
        if first and message.choice is None and not self._is_command(text, "start"):
            return await self._after_restart(message, text, changes, language)
        return await self._respond_in_flow(message, text, changes)

    def _typed_choice(
        self, message: IncomingMessage, changes: Changes, language: Language
    ) -> IncomingMessage | Reply:
        """A typed number or option word is that option; a number beyond them is asked again."""
        text = clean_input(message.text or "")
        # Closing a handover takes its button or /afronden, never a "1" meant for another.
        typed_options = tuple(o for o in changes.state.shown if not o.id.startswith(CLOSE))
        if changes.state.with_consultants:  # typed text is for a person, not an old button
            typed_options = tuple(o for o in typed_options if o.id in WITH_A_PERSON)
        if message.choice is not None or not text or text.startswith("/"):
            return message
        words = self.knowledge.option_words
        picked = pick(text, typed_options, words, self.knowledge.intents.ignore)
        if isinstance(picked, Option) and picked.id in ENDING and not said(text, picked, words):
            picked = None  # withdrawing takes its own words: "ja" or "1" may answer a person
        if isinstance(picked, OutOfRange | Unclear) and changes.state.with_consultants:
            picked = None  # "3" or "ja" may answer a person too
        unclear = picked if isinstance(picked, Unclear) else None
        free = changes.state.intake is None and not changes.state.with_consultants
        if (picked is None or unclear) and free:
            # Also with nothing on screen (after a 👍), or only an answer's follow-ups, "1" or
            # "ja" answers the check's question; one that answers nothing there is told how.
            picked = self.check.answer_meanwhile(text, changes, language)
            picked = picked or (None if self.check.running(changes) else unclear)
        if isinstance(picked, OutOfRange | Unclear):
            numbers = self.texts.get("choose_number", language, count=picked.count)
            return Reply(numbers, changes.state.shown)
        return message if picked is None else replace(message, choice=picked.id, text=None)

    async def _after_restart(
        self, message: IncomingMessage, text: str, changes: Changes, language: Language
    ) -> list[Reply]:
        """The first message after a restart: tell the user where they were before anything
        else (the questions for a consultant ask their own question again anyway)."""
        where = self._where_you_were(changes, language)
        if where is not None and changes.state.intake is not None:
            # Typed before the question was shown again, it may not answer it ("hallo" is no
            # name): ask first, unless it is a command or a request of its own.
            if not text.startswith("/") and self._intent(message, text, changes) is None:
                return [where]
        elif where is not None:
            return [where, *await self._respond_in_flow(message, text, changes, resume=False)]
        return await self._respond_in_flow(message, text, changes)

    async def _respond_in_flow(
        self, message: IncomingMessage, text: str, changes: Changes, resume: bool = True
    ) -> list[Reply]:
        """The intake, when one is under way, else the usual handling; `resume` shows the
        check's question again after a question typed in the middle of it."""
        language = self._language(changes.state, message.text)
        intake, asked = changes.state.intake, not privacy.let_go(changes, message.choice)
        intent = self._intent(message, text, changes)
        if intent is Intent.HELPFUL and self.feedback.negated(text):
            intent = None  # "dat hielp niet" is no thanks
        if intent is Intent.HELPFUL:
            thanked = None if intake is not None else self.feedback.thanked(changes, language)
            if thanked is not None:
                return thanked
            intent = None  # nothing to rate: a thank-you like any other message
        if intake is not None and intent is None and asked and not text.startswith("/"):
            taken = await self.intake.on_intake(message, changes, language)
            if taken is not None:
                return self._back_to_the_check(taken, changes, language)
        if intake is not None and intent in (Intent.STOP, Intent.BACK):
            replies = self.intake.leave(intent is Intent.BACK, changes, language)
        elif intent is not None:
            command, argument = self._command_for(intent, changes)
            changes.events.append(Event("intent", {"intent": intent.value}))
            if changes.state.last_language is None:  # the first words set the language
                first = self.knowledge.intents.language_of(text) or language  # "delete my data"
                changes.state = replace(changes.state, last_language=first)
            replies = await self._run_command(command, argument, message, changes)
        else:
            replies = await self._respond_as_usual(message, text, changes, resume)
        if intake is not None and changes.state.intake is intake:
            if changes.forget or changes.state.pending == privacy.FORGET:
                # "Weet u het zeker?" waits for its answer (then the question comes again);
                # after "Ja, verwijder alles" there is no question left to ask.
                return replies
            return self.intake.again(replies, changes, self._language(changes.state))
        if intake is not None:
            return self._back_to_the_check(replies, changes, language)
        return replies

    def _back_to_the_check(
        self, replies: list[Reply], changes: Changes, language: Language
    ) -> list[Reply]:
        """Asked for a consultant in the middle of the check, and then not: the check again."""
        state = changes.state
        if state.intake is None and state.handover is None and self.check.running(changes):
            replies = [*replies, *filter(None, [self.check.resume(changes, language)])]
        return replies

    def _command_for(self, intent: Intent, changes: Changes) -> tuple[str, str]:
        """The command (and its argument) an intent asks for, where the conversation is."""
        if intent in (Intent.BACK, Intent.STOP) and changes.state.with_consultants:
            return "back", ""  # away from the consultants: ask the assistant meanwhile
        if intent is Intent.BACK and not self.check.running(changes):
            # "terug" under a topic's questions: its topics; with nothing to go back in: the menu
            return ("topics" if self.menus.lists_a_topic(changes.state.shown) else "start"), ""
        return INTENT_COMMANDS[intent]

    def _intent(self, message: IncomingMessage, text: str, changes: Changes) -> Intent | None:
        """What a typed message asks for in the user's own words."""
        if message.choice is not None or not text or text.startswith("/"):
            return None
        intent = self.knowledge.intents.find(text)
        # Typed text is for the consultant, but for one's own data, "terug", "stop" (waiting).
        aside = intent is Intent.BACK or (intent is Intent.STOP and changes.state.waiting)
        if changes.state.with_consultants and intent not in PRIVATE_INTENTS and not aside:
            return None
        # Asked for the question for the consultant, "graag hulp" is that question.
        asked = changes.state.intake is not None and changes.state.intake.step == "question"
        if asked and intent in (Intent.HELP, Intent.CONSULTANT):
            return None
        return intent

    async def _respond_as_usual(
        self, message: IncomingMessage, text: str, changes: Changes, resume: bool
    ) -> list[Reply]:
        if message.choice is not None:
            changes.events.append(Event("choice", {"id": message.choice}))
            replies = await self._on_choice(message, changes)
            # An answer chosen or rated in the middle of the check: then back to the check.
            resume = resume and message.choice.startswith(("ask:", NONE_OF_THESE, UP, DOWN))
        elif text.startswith("/"):
            # The command only: its arguments may be a consultant's words about a user.
            changes.events.append(Event("command", {"command": text.split()[0][:40]}))
            return await self._on_command(text, message, changes)
        elif changes.state.with_consultants:
            return await self.desk.from_user(text, changes, self._language(changes.state, text))
        else:
            replies = self._on_question(text, changes)
        # "Bedoelt u…?" waits for its choice; the check's question comes back after it.
        asks_to_choose = any(o.id == NONE_OF_THESE for r in replies for o in r.options)
        if resume and not asks_to_choose and self.check.running(changes):
            resumed = self.check.resume(changes, self._language(changes.state))
            if resumed is not None:
                replies.append(resumed)
        return replies

    def _where_you_were(self, changes: Changes, language: Language) -> Reply | None:
        return where_you_were(changes, language, self.texts, self.intake, self.check)

    def _on_question(self, text: str, changes: Changes) -> list[Reply]:
        state = changes.state
        language = self._language(state, text)
        if not self.matcher.normaliser.words(text):
            prompt = self.texts.get("empty_prompt", language)
            return [Reply(prompt, (self.menus.topics_option(language),))]
        # The conversation's language, which one word or a number does not change.
        result = self.answers.ask_in_context(text, language, state.last_entry)
        changes.state = replace(
            state,
            last_language=result.language,
            last_entry=result.entry if result.status is Band.ANSWER else state.last_entry,
        )
        changes.events.append(
            Event(
                "question",
                {
                    "text": text[:MAX_QUESTION_CHARS],
                    # The question's own language (the reply's may be set with /taal).
                    "language": self.matcher.language(text) or result.language,
                    "status": result.status.value,
                    "certainty": result.certainty.value if result.certainty else None,
                    "entry": result.entry,
                    "score": result.score,
                    "suggestions": [s.entry for s in result.suggestions],
                },
            )
        )
        if result.status is Band.FALLBACK and self.check.running(changes):
            # In the check, words that name no option and answer no question are most likely
            # an answer in other words: say how to answer rather than "I don't know".
            check = changes.state.check
            assert check is not None
            count = len(self.check.current_reply(check, result.language).options)
            return [Reply(self.texts.get("choose_number", result.language, count=count))]
        replies = []
        if len(text) > MAX_QUESTION_CHARS:
            replies.append(Reply(self.texts.get("too_long_note", result.language)))
        reply = self.menus.answer_reply(result, in_check=self.check.running(changes))
        entry = self.knowledge.entries.get(result.entry or "")
        if result.status is Band.ANSWER and entry is not None and entry.topical:
            rating = self.feedback.offer(changes, entry.id, text, result.language)
            reply = replace(reply, options=(*reply.options, *rating))
        replies.append(reply)
        # Another subject told as such, or a topic offered: no reason to offer a person yet.
        unanswered = result.status is Band.FALLBACK and not (result.off_topic or result.topic)
        fallbacks = changes.state.fallbacks + 1 if unanswered else 0
        if fallbacks >= 2 and changes.state.handover is None:  # never forced, nor to one asked
            consultant = Option(CONSULTANT, self.texts.get("consultant_button", result.language))
            offer = self.texts.get("handover_fallback_offer", result.language)
            # The offer is the one choice on screen, so that "ja" takes it.
            replies = [*(replace(r, options=()) for r in replies), Reply(offer, (consultant,))]
            fallbacks = 0
        changes.state = replace(changes.state, fallbacks=fallbacks)
        return replies

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
            return [self._answer_chosen(self.knowledge.entries[value], changes, language)]
        if kind == "fb":
            busy = self.check.running(changes) or changes.state.handover is not None
            busy = busy or changes.state.intake is not None
            return self.feedback.on_choice(choice, changes, language, busy)
        listed = self.menus.on_choice(choice, language)
        if listed is not None:
            return [listed]
        if choice == CONSULTANT:
            return await self._run_command("consultant", "", message, changes)
        if choice == LEAVE and changes.state.handover is not None:
            return await self.desk.step_aside(changes, language)
        if choice in (CANCEL, LEAVE):
            return await self.desk.end_by_user(changes, language)
        if kind == "lang" and value in LANGUAGES:
            return self._in_language(value, changes, language)
        if choice in privacy.FORGET_CHOICES and changes.state.pending == privacy.FORGET:
            confirmed = choice == privacy.FORGET_YES
            return privacy.forget_reply(self.texts, confirmed, changes, language)
        reply = Reply(
            self.texts.get("expired_button", language), (self.menus.topics_option(language),)
        )
        return [reply]

    def _answer_chosen(self, entry: Entry, changes: Changes, language: Language) -> Reply:
        """An entry picked from a list: its answer, its follow-ups, 👍 / 👎."""
        changes.events.append(Event("answered", {"entry": entry.id}))
        changes.state = replace(changes.state, last_entry=entry.id)
        follow_ups = tuple(
            Option(f"ask:{target}", self.knowledge.entries[target].title(language))
            for target in entry.follow_ups
        )
        rating = self.feedback.offer(changes, entry.id, "", language)  # nothing typed
        return Reply(self.answer_text(entry, language), (*follow_ups, *rating))

    async def _on_command(
        self, text: str, message: IncomingMessage, changes: Changes
    ) -> list[Reply]:
        word, _, argument = text[1:].partition(" ")
        command = self.knowledge.commands.find(word)
        if command is None:
            language = self._language(changes.state)
            return [Reply(self.texts.get("unknown_command", language))]
        everyone = command.audience is Audience.EVERYONE and command.id != "help"
        if everyone and message.key == self.consultants.chat:  # no user's conversation
            return [self.desk.usage("users_command")]
        if command.audience is Audience.ADMINS and message.user_id not in self.admins:
            log.warning("refused /%s for user %s: not an admin", word, pseudonym(message.user_id))
            return self.desk.not_allowed()
        return await self._run_command(command.id, argument.strip(), message, changes)

    async def _run_command(
        self, command: str, argument: str, message: IncomingMessage, changes: Changes
    ) -> list[Reply]:
        """Do what the command with this id does (typed, or asked for in one's own words)."""
        language = self._language(changes.state, message.text)
        folded = argument.casefold()
        if command in SIDE_COMMANDS:
            return await self._on_the_way(command, changes, language)
        if command in ("cancel", "back", "stop"):
            return await self._leave(command, changes, language)
        if command in CONSULTANT_COMMANDS:
            return await self.desk.command(command, folded, message, changes)
        if command == "start":
            return self._start(folded, changes, language)
        if command == "topics":
            return [self.menus.topic_list(language)]
        if command == "consultant":
            return self.intake.offer(message, changes, language)
        if command == "language":
            return self._in_language(folded, changes, language)
        if command == "check":
            return self.check.command(changes, language)
        if command in ADMIN_COMMANDS and message.key == self.consultants.chat:
            return [Reply(self.texts.get("admin_not_here", language))]  # all would read it
        if command in ADMIN_COMMANDS:
            return [await self.admin.command(command, language)]
        if command == "forget":
            return privacy.forget_question(self.texts, changes, language)
        raise AssertionError(f"command '{command}' has no handler")  # kb check prevents this

    def _in_language(self, value: str, changes: Changes, language: Language) -> list[Reply]:
        """/taal en, /taal nl or a language button: that language from now on; /taal: the choice."""
        told = choose_language(self.texts, value, changes, language)
        if value not in LANGUAGES:
            return told
        return self._back_to_the_check(told, changes, self._language(changes.state))

    def _start(self, argument: str, changes: Changes, language: Language) -> list[Reply]:
        """/start: the welcome with the menu, or with where the user was."""
        if argument == "check":  # the deep link t.me/<bot>?start=check
            return self.check.command(changes, language)
        where = self._where_you_were(changes, language)
        if where is not None:  # what the user was doing comes before the menu
            return [Reply(self.texts.get("welcome", language)), where]
        return [Reply(self.texts.get("welcome", language), self.menus.menu(language))]

    async def _on_the_way(self, command: str, changes: Changes, language: Language) -> list[Reply]:
        """/help, /privacy, /resultaat, /mijngegevens: told, then back to where the user was."""
        under_way = self._where_you_were(changes, language) is not None
        replies = [await self._side_command(command, changes, language, under_way)]
        resumed = self.check.resume(changes, language)
        busy = changes.state.intake is not None or changes.state.with_consultants
        if resumed is not None and not busy:
            replies.append(resumed)
        return replies

    async def _leave(self, command: str, changes: Changes, language: Language) -> list[Reply]:
        """/annuleer, /terug, /stop: out of the intake, a step back in the check, or away."""
        intake, with_consultants = changes.state.intake, changes.state.with_consultants
        if command in ("cancel", "stop", "back") and intake is not None:
            return self.intake.leave(command == "back", changes, language)
        if command == "stop" and (self.check.running(changes) or changes.state.handover is None):
            return self.check.stop(changes, language)
        if command == "back" and self.check.running(changes) and not with_consultants:
            return self.check.control(eligibility.BACK, changes, language)
        if changes.state.handover is not None and command in ("back", "stop"):
            # Withdrawing a question or ending a conversation is a choice of its own (/annuleer).
            return await self.desk.step_aside(changes, language)
        return await self.desk.end_by_user(changes, language)

    async def _side_command(
        self, command: str, changes: Changes, language: Language, under_way: bool
    ) -> Reply:
        """/help, /privacy, /resultaat or /mijngegevens (the menu only if nothing is under way)."""
        if command == "help" and changes.key == self.consultants.chat:
            return self.desk.usage()  # the consultants' own commands
        if command == "help":
            return Reply(
                self.menus.help_text(language), () if under_way else self.menus.menu(language)
            )
        if command == "result":
            result = await self.store.last_result(changes.key)
            if result is None and self.check.running(changes):
                return Reply(self.texts.get("result_running", language))
            return self.check.result_reply(result, language)
        if command == "my-data":
            stored = await self.store.export(changes.key)
            return privacy.my_data_reply(self.texts, changes.key, language, stored)
        return Reply(privacy.privacy_text(self.texts, changes.key, language, self.retention_days))

    def _is_command(self, text: str, command_id: str) -> bool:
        """Whether `text` is the command with this id ("/start", "/start check")."""
        if not text.startswith("/"):
            return False
        command = self.knowledge.commands.find(text[1:].partition(" ")[0])
        return command is not None and command.id == command_id
