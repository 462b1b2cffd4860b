"""The user's way to a consultant: the offer, consent, and the intake questions; the
handover is opened with its summary when the last one is answered."""

from __future__ import annotations

import logging
import re
from dataclasses import replace

from sto_bot.buttons import OFFER_CONSULTANT, namespace
from sto_bot.choices import NO_WORDS, OptionWords
from sto_bot.dates import Clock, add_office_hours, format_moment
from sto_bot.handover import (
    CANCEL,
    CONSENT_NO,
    CONSENT_YES,
    CONSULTANTS_LANGUAGE,
    CONTACT,
    ROLE,
    SKIP,
    Consultants,
    HandoverWording,
)
from sto_bot.knowledge import Texts
from sto_bot.models import (
    Changes,
    Event,
    HandoverStatus,
    IncomingMessage,
    Intake,
    Language,
    NewHandover,
    Option,
    Recipient,
    Reply,
)
from sto_bot.segments import QUESTION_WORDS
from sto_bot.store import Store
from sto_bot.summary import HandoverSummary
from sto_bot.text import fold

log = logging.getLogger(__name__)

MAX_ANSWER_CHARS = 500
# The intake's questions in order, after the consent.
STEPS = ("consent", "organisation", "role", "region", "contact", "question")

_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>.]{2,}$")
_PHONE_JUNK = re.compile(r"[\s\-.()/]")
# Words of a question about what would be shared, asked at the consent.
# ("Welk deel van het budget…?" and "Mag ik de subsidie delen?" are questions about STO: a word
# for the user's data or for us must come with it.)
_SHARING = frozenset({"deel", "deelt", "delen", "gedeeld", "share", "shared", "sharing"})
_SHARED_WITH = frozenset({"je", "jij", "jullie", "gegevens", "informatie", "you", "data", "info"})
# The steps answered in one's own words, where "ja" or "nee" alone is no answer.
_TYPED_STEPS = frozenset({"organisation", "role", "region", "contact", "email", "phone"})
_ADDRESS = re.compile(r"[^\s@]@[^\s@]")  # a mail address, or most of one


def valid_email(text: str) -> str | None:
    """The e-mail address in `text`, or None when it does not look like one."""
    address = text.strip()
    return address if len(address) <= 254 and _EMAIL.match(address) else None


def valid_phone(text: str) -> str | None:
    """The phone number in `text` without spaces and dashes, or None when it is not one:
    a Dutch number (0 and nine digits, or +31/0031 and nine) or an international +number."""
    number = _PHONE_JUNK.sub("", text.strip())
    if number.startswith("00"):
        number = "+" + number[2:]
    digits = number.removeprefix("+")
    if not digits.isdigit():
        return None
    if number.startswith("+31"):
        return number if len(digits) == 11 and digits[2] != "0" else None
    if number.startswith("+"):
        return number if 8 <= len(digits) <= 15 else None
    return number if len(digits) == 10 and digits[0] == "0" and digits[1] != "0" else None


class HandoverIntake(HandoverWording):
    """The intake flow; its changes go into the message's Changes and are committed with it."""

    def __init__(
        self,
        texts: Texts,
        consultants: Consultants,
        store: Store,
        clock: Clock,
        summary: HandoverSummary,
        words: OptionWords,
    ) -> None:
        super().__init__(texts, consultants)
        self.store = store
        self.clock = clock
        self.summary = summary
        # How "I don't know" begins ("ik weet niet wat u bedoelt"): a step skipped, not an answer.
        self.unsure = tuple(f"{w} " for w in map(fold, words.words(SKIP)) if " " in w)
        self.yes = words.yes
        # How letting the consultant go begins ("laat maar, ik hoef toch geen adviseur",
        # "annuleer"): out of the intake, nothing shared; not a plain no ("nee" skips a step).
        declined = set(words.words("nee"))
        self.letting_go = tuple(
            w.casefold()
            for w in (*words.words(CONSENT_NO), *words.words(CANCEL))
            if w not in declined
        )

    def offer(self, message: IncomingMessage, changes: Changes, language: Language) -> list[Reply]:
        """Explain what would be shared with whom and ask for consent; back to the consultants
        after /terug (see `rejoin`), or told where the open question is."""
        rejoined = self.rejoin(changes, language)
        if rejoined is not None:
            return rejoined
        active = changes.state.handover
        if active is not None:
            return [Reply(self.texts.get("handover_already", language, number=active.number))]
        name = (message.user_name or "").strip()
        changes.state = replace(changes.state, intake=Intake("consent", {"name": name}))
        changes.events.append(Event("handover_offered", {}))
        return [self.prompt(changes, language)]

    def prompt(self, changes: Changes, language: Language) -> Reply:
        """The question of the intake step the conversation is at."""
        intake = changes.state.intake
        assert intake is not None
        skip = Option(SKIP, self.texts.get("handover_skip", language))
        if intake.step == "consent":
            name = intake.answers.get("name", "")
            options: tuple[Option, ...] = (
                Option(CONSENT_YES, self.texts.get("handover_consent_yes", language)),
                Option(CONSENT_NO, self.texts.get("handover_consent_no", language)),
            )
            text = self.texts.get(
                "handover_consent",
                language,
                name=f" ({name})" if name else "",
                name_source=self.texts.get(f"name_source_{changes.key.wording}", language),
            )
            return Reply(text, options)
        if intake.step == "role":
            roles = self.texts.table("handover_roles", language)
            options = tuple(Option(ROLE + role, label) for role, label in roles.items())
            return Reply(self.texts.get("handover_ask_role", language), (*options, skip))
        if intake.step == "contact":
            contacts = self.texts.table("handover_contacts", language)
            options = tuple(Option(CONTACT + way, label) for way, label in contacts.items())
            return Reply(self.texts.get("handover_ask_contact", language), (*options, skip))
        return Reply(self.texts.get(f"handover_ask_{intake.step}", language), (skip,))

    async def on_intake(
        self, message: IncomingMessage, changes: Changes, language: Language
    ) -> list[Reply] | None:
        """Take a button or typed text as the answer to the current intake step; None when
        it is not an answer (a question typed at the consent step, or instead of a name or a
        region; a button of another kind), so that the assistant handles it as usual."""
        intake = changes.state.intake
        assert intake is not None
        # Typed option words ("ja", "overslaan", "telefoon") arrive as the option's choice.
        choice, text = message.choice, (message.text or "").strip()
        if choice is not None and namespace(choice) != "ho":
            return None  # another feature's button ("Ja, verwijder alles", an answer): its own
        if choice == CONSENT_NO:
            changes.state = replace(changes.state, intake=None)
            changes.events.append(Event("handover_declined", {}))
            return [Reply(self.texts.get("handover_declined", language))]
        if intake.step == "consent":
            if choice == CONSENT_YES:
                return await self._next(changes, language, {"language": language})
            words = fold(text)
            if choice is None and (
                (_SHARING & set(words.split()) and _SHARED_WITH & set(words.split()))
                or f"{words} " in self.unsure
            ):
                # "wat deel je dan precies?", "weet ik niet": the question about sharing again
                return [self.prompt(changes, language)]
            return None
        if choice == SKIP:
            return await self._next(changes, language, {_step(intake): ""})
        if choice is not None:
            return self._on_intake_choice(choice, changes, language)
        if not text:
            return [self.prompt(changes, language)]
        return await self._on_typed(text, changes, language)

    async def _on_typed(
        self, text: str, changes: Changes, language: Language
    ) -> list[Reply] | None:
        """Typed text at an intake step: an answer, a step skipped, or a question (None)."""
        intake = changes.state.intake
        assert intake is not None
        # Only the phrase itself, or with a comma after it ("laat maar, ik hoef geen adviseur"):
        # "Laat maar weten wanneer iemand tijd heeft" is a question for the consultant.
        said = " ".join(text.casefold().split()).rstrip(".!")
        if any(said == w or said.startswith(f"{w},") for w in self.letting_go):
            return self.leave(False, changes, language)
        if intake.step in ("organisation", "role", "region") and _asks(text):
            return None  # a question, not a name ("wat is een penvoerder?"): answered as such
        if intake.step in ("organisation", "role", "region") and self._unsure(text):
            return await self._next(changes, language, {intake.step: ""})
        if intake.step in _TYPED_STEPS:
            # A bare "nee" to "bij welke school werkt u?" declines to say; a bare "ja" says
            # nothing yet. Neither is a school, a role or a region.
            bare = fold(text).strip(" .!?")
            if bare in NO_WORDS:
                return await self._next(changes, language, {_step(intake): ""})
            if bare in self.yes:
                hint = Reply(self.texts.get("handover_type_it", language))
                return [hint, self.prompt(changes, language)]
        return await self._on_intake_text(text[:MAX_ANSWER_CHARS], changes, language)

    def again(self, replies: list[Reply], changes: Changes, language: Language) -> list[Reply]:
        """Something else came in between the questions: the question again (once), and no
        consultant offered on the way there (this is the way to one)."""
        replies = [
            replace(r, options=tuple(o for o in r.options if o.id != OFFER_CONSULTANT))
            for r in replies
        ]
        prompt = self.prompt(changes, language)
        if not replies or prompt.text not in replies[-1].text:
            replies.append(prompt)
        return replies

    def _unsure(self, text: str) -> bool:
        """Whether a reply only says one does not know ("ik weet niet wat u bedoelt"); not so
        one that names something after all ("ik weet het niet zeker, regio Twente denk ik")."""
        named = any(word[:1].isupper() for word in text.split()[1:])
        return not named and fold(text).startswith(self.unsure)

    def _on_intake_choice(self, choice: str, changes: Changes, language: Language) -> list[Reply]:
        intake = changes.state.intake
        assert intake is not None
        if intake.step == "role" and choice.startswith(ROLE):
            label = self.texts.table("handover_roles", CONSULTANTS_LANGUAGE).get(
                choice[len(ROLE) :]
            )
            if label is not None:
                return self._advance(changes, language, {"role": label})
        if intake.step == "contact" and choice.startswith(CONTACT):
            way = choice[len(CONTACT) :]
            if way == "telegram":
                return self._advance(changes, language, {"contact": "telegram"})
            if way in ("email", "phone"):
                changes.state = replace(changes.state, intake=replace(intake, step=way))
                return [self.prompt(changes, language)]
        return [self.prompt(changes, language)]  # an old button of another step

    async def _on_intake_text(self, text: str, changes: Changes, language: Language) -> list[Reply]:
        intake = changes.state.intake
        assert intake is not None
        step = intake.step
        if step in ("contact", "email", "phone"):
            email, phone = valid_email(text), valid_phone(text)
            if email and step != "phone":
                return await self._next(changes, language, {"contact": f"email:{email}"})
            if phone and step != "email":
                return await self._next(changes, language, {"contact": f"phone:{phone}"})
            skip = Option(SKIP, self.texts.get("handover_skip", language))
            if step == "contact":
                return [
                    Reply(self.texts.get("handover_pick_contact", language)),
                    self.prompt(changes, language),
                ]
            return [Reply(self.texts.get(f"handover_bad_{step}", language), (skip,))]
        if _ADDRESS.search(text) and step != "question":
            # "m.devries@school" is no region: the address is asked for at its own step.
            note = self.texts.get("handover_address_later", language)
            return [Reply(note), self.prompt(changes, language)]
        return await self._next(changes, language, {step: text})

    def _advance(self, changes: Changes, language: Language, answer: dict[str, str]) -> list[Reply]:
        """Record an answer and ask the next question (the last answer goes through _next)."""
        intake = changes.state.intake
        assert intake is not None
        following = STEPS[STEPS.index(_step(intake)) + 1]
        answers = {**intake.answers, **answer}
        changes.state = replace(changes.state, intake=Intake(following, answers))
        return [self.prompt(changes, language)]

    async def _next(
        self, changes: Changes, language: Language, answer: dict[str, str]
    ) -> list[Reply]:
        intake = changes.state.intake
        assert intake is not None
        if intake.step != "question":
            return self._advance(changes, language, answer)
        return await self._open(changes, {**intake.answers, **answer}, language)

    async def _open(
        self, changes: Changes, answers: dict[str, str], language: Language
    ) -> list[Reply]:
        """Store the handover with its summary and queue the summary for the consultants."""
        now = self.clock()
        events = await self.store.events(changes.key)
        result = await self.store.last_result(changes.key)
        data: dict[str, str] = {**answers, "language": language}
        check = changes.state.check
        progress = check if check is not None and not check.finished else None

        number = await self.store.reserve_handover()
        summary = self.summary.summary(number, data, events, result, now, progress)
        buttons = self._buttons(number, HandoverStatus.OPEN)
        remind_at = add_office_hours(now, self.consultants.reminder_hours)
        changes.handover = NewHandover(number, data, summary, remind_at)
        changes.state = replace(changes.state, intake=None, fallbacks=0)
        changes.events.append(Event("handover_opened", {}))
        # The user is promised what the consultants are reminded of: an answer by then.
        deadline = format_moment(remind_at, True, language, self.texts)
        when = self.texts.get("handover_when", language, deadline=deadline)
        way, _, address = answers.get("contact", "").partition(":")
        how = way if way in ("email", "phone") else "chat"
        reply_by = self.texts.get(f"handover_reply_{how}", language, address=address)
        text = self.texts.get("handover_sent", language, when=when, reply_by=reply_by)
        return [
            Reply(text, (Option(CANCEL, self.texts.get("cancel_button", language)),)),
            Reply(summary, buttons, Recipient.CONSULTANTS, thread=number),
        ]

    def leave(self, back: bool, changes: Changes, language: Language) -> list[Reply]:
        """ "Terug" during the intake: the question before it, and from the consent back to
        where the user was; /annuleer or "stop": stop, nothing shared."""
        intake = changes.state.intake
        assert intake is not None
        if back and intake.step != STEPS[0]:
            # From an address to the ways of contact; from the first question to the consent.
            step = _step(intake)
            earlier = step if intake.step != step else STEPS[max(STEPS.index(step) - 1, 0)]
            changes.state = replace(changes.state, intake=replace(intake, step=earlier))
            return [self.prompt(changes, language)]
        changes.state = replace(changes.state, intake=None)
        return [Reply(self.texts.get("handover_intake_cancelled", language))]


def _asks(text: str) -> bool:
    """Whether a typed answer is a question instead: a question mark with a question word or
    several words ("wat is een penvoerder?"; "Zwolle?" is a hesitant answer)."""
    words = fold(text).split()
    return "?" in text and (len(words) > 3 or not QUESTION_WORDS.isdisjoint(words))


def _step(intake: Intake) -> str:
    """The step of STEPS the intake is at (an address is asked as part of the contact)."""
    return "contact" if intake.step in ("email", "phone") else intake.step
