"""Handing a conversation to a consultant and back: consent, intake, summary, thread, reminders.

A conversation goes bot -> (consent and intake) -> waiting -> with a person -> bot. The intake
lives in the conversation's own state; waiting and with-a-person are read from the handovers
table, because a consultant changes them from another conversation (the consultants' chat).
Everything meant for the consultants is queued in the outbox in the same transaction as the
change it reports, so it is delivered once even if the process dies in between.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta

from sto_bot.dates import Clock, format_moment
from sto_bot.dialog import Status, Tree
from sto_bot.eligibility import STATUS_MARKS
from sto_bot.knowledge import Texts
from sto_bot.models import (
    ACTIVE_HANDOVER,
    CheckResult,
    CheckState,
    ConversationKey,
    ConversationState,
    Delivery,
    Event,
    Forgotten,
    Handover,
    HandoverStatus,
    IncomingMessage,
    Intake,
    Language,
    Option,
    Recipient,
    Reply,
    ThreadMessage,
)
from sto_bot.pseudonyms import pseudonym
from sto_bot.store import Changes, HandoverChange, NewHandover, Store

log = logging.getLogger(__name__)

CONSENT_YES = "ho:yes"
CONSENT_NO = "ho:no"
SKIP = "ho:skip"
ROLE = "ho:role:"
CONTACT = "ho:contact:"
PICK = "ho:pick:"
CLOSE = "ho:close:"
CANCEL = "ho:cancel"  # withdraw a question nobody picked up yet
LEAVE = "ho:back"  # leave the consultant, back to the assistant
# The consultants' commands, by their id in knowledge/commands.yaml.
CONSULTANT_COMMANDS = frozenset({"handovers", "handover", "pick-up", "close", "reply"})

# The consultants work Monday to Friday, 9:00-17:00 Dutch time (public holidays not counted).
OFFICE_DAYS = frozenset(range(5))
OFFICE_OPENS = time(9, 0)
OFFICE_CLOSES = time(17, 0)
DEFAULT_REMINDER_HOURS = 2

# A handover summary must fit one Telegram message once its text is HTML-escaped.
SUMMARY_LIMIT = 4096
MAX_ANSWER_CHARS = 500
RECENT_QUESTIONS = 10
CONSULTANTS_LANGUAGE: Language = "nl"

_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>.]{2,}$")
_PHONE_JUNK = re.compile(r"[\s\-.()/]")


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


def add_office_hours(start: datetime, hours: float) -> datetime:
    """The moment `hours` of office time after `start` (evenings and weekends do not count)."""
    remaining = timedelta(hours=hours)
    moment = start
    while True:
        opens = datetime.combine(moment.date(), OFFICE_OPENS)
        closes = datetime.combine(moment.date(), OFFICE_CLOSES)
        if moment.weekday() not in OFFICE_DAYS or moment >= closes:
            moment = datetime.combine(moment.date() + timedelta(days=1), OFFICE_OPENS)
            continue
        moment = max(moment, opens)
        if remaining <= closes - moment:
            return moment + remaining
        remaining -= closes - moment
        moment = datetime.combine(moment.date() + timedelta(days=1), OFFICE_OPENS)


def first_name(name: str | None) -> str:
    """How a consultant is introduced to a user: by first name."""
    return (name or "").split(maxsplit=1)[0] if name and name.strip() else "Adviseur"


@dataclass(frozen=True, slots=True)
class Consultants:
    """Who the consultants are and where they work: ids allowed consultant commands, and the
    conversation that is the consultants' chat (None: not configured yet)."""

    ids: frozenset[str] = frozenset()
    chat: ConversationKey | None = None
    reminder_hours: float = DEFAULT_REMINDER_HOURS


class HandoverDesk:
    """The handover flows, for users and for consultants; changes go into the message's
    Changes and are committed with it."""

    def __init__(
        self, texts: Texts, check: Tree, store: Store, clock: Clock, consultants: Consultants
    ) -> None:
        self.texts = texts
        self.check = check
        self.store = store
        self.clock = clock
        self.consultants = consultants

    # -- the user's side: offer, consent, intake -----------------------------------------

    def offer(self, message: IncomingMessage, changes: Changes, language: Language) -> list[Reply]:
        """Explain what would be shared with whom and ask for consent."""
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
        it is not an answer (a question typed at the consent step, a button of another
        kind), so that the assistant handles it as usual."""
        intake = changes.state.intake
        assert intake is not None
        # Typed option words ("ja", "overslaan", "telefoon") arrive as the option's choice.
        choice, text = message.choice, (message.text or "").strip()
        if choice == CONSENT_NO:
            changes.state = replace(changes.state, intake=None)
            changes.events.append(Event("handover_declined", {}))
            return [Reply(self.texts.get("handover_declined", language))]
        if intake.step == "consent":
            if choice == CONSENT_YES:
                return await self._next(changes, language, {"language": language})
            return None
        if choice == SKIP:
            skipped = {"email": "contact", "phone": "contact"}.get(intake.step, intake.step)
            return await self._next(changes, language, {skipped: ""})
        if choice is not None:
            return self._on_intake_choice(choice, changes, language)
        if not text:
            return [self.prompt(changes, language)]
        return await self._on_intake_text(text[:MAX_ANSWER_CHARS], changes, language)

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
            problem = {"email": "handover_bad_email", "phone": "handover_bad_phone"}
            skip = Option(SKIP, self.texts.get("handover_skip", language))
            if step == "contact":
                return [
                    Reply(self.texts.get("handover_pick_contact", language)),
                    self.prompt(changes, language),
                ]
            return [Reply(self.texts.get(problem[step], language), (skip,))]
        return await self._next(changes, language, {step: text})

    def _advance(self, changes: Changes, language: Language, answer: dict[str, str]) -> list[Reply]:
        """Record an answer and ask the next question (the last answer goes through _next)."""
        intake = changes.state.intake
        assert intake is not None
        order = ("consent", "organisation", "role", "region", "contact", "question")
        current = "contact" if intake.step in ("email", "phone") else intake.step
        following = order[order.index(current) + 1]
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

        def render(number: int) -> tuple[str, list[Reply]]:
            summary = self.summary(number, data, events, result, now, progress)
            buttons = self._buttons(number, HandoverStatus.OPEN)
            return summary, [Reply(summary, buttons, Recipient.CONSULTANTS, thread=number)]

        remind_at = add_office_hours(now, self.consultants.reminder_hours)
        changes.handover = NewHandover(data, remind_at, render)
        changes.state = replace(changes.state, intake=None, fallbacks=0)
        changes.events.append(Event("handover_opened", {}))
        # The user is promised what the consultants are reminded of: an answer by then.
        deadline = format_moment(remind_at, True, language, self.texts)
        when = self.texts.get("handover_when", language, deadline=deadline)
        way, _, address = answers.get("contact", "").partition(":")
        key = {"email": "handover_reply_email", "phone": "handover_reply_phone"}
        reply_by = self.texts.get(key.get(way, "handover_reply_chat"), language, address=address)
        text = self.texts.get("handover_sent", language, when=when, reply_by=reply_by)
        return [Reply(text, (Option(CANCEL, self.texts.get("cancel_button", language)),))]

    def cancel_intake(self, changes: Changes, language: Language) -> list[Reply]:
        """/annuleer during the intake: stop, nothing shared."""
        changes.state = replace(changes.state, intake=None)
        return [Reply(self.texts.get("handover_intake_cancelled", language))]

    # -- the user's side: waiting and with a person ---------------------------------------

    async def from_user(self, text: str, changes: Changes, language: Language) -> list[Reply]:
        """A message typed while a handover is open: it goes to the consultants' thread."""
        active = changes.state.handover
        assert active is not None
        handover = await self.store.handover(active.number)
        name = self._name(handover)
        changes.thread.append((active.number, ThreadMessage(self.clock(), "user", text)))
        relayed = Reply(
            self._nl("handover_thread_message", number=active.number, name=name, text=text),
            recipient=Recipient.CONSULTANTS,
            thread=active.number,
        )
        if active.status is HandoverStatus.OPEN:
            cancel = Option(CANCEL, self.texts.get("cancel_button", language))
            return [relayed, Reply(self.texts.get("handover_waiting_ack", language), (cancel,))]
        return [relayed]

    async def end_by_user(self, changes: Changes, language: Language) -> list[Reply]:
        """/annuleer or /terug: withdraw a question nobody picked up, or leave the consultant."""
        active = changes.state.handover
        if active is None:
            return [Reply(self.texts.get("handover_none_open", language))]
        handover = await self.store.handover(active.number)
        name = self._name(handover)
        waiting = active.status is HandoverStatus.OPEN
        status = HandoverStatus.CANCELLED if waiting else HandoverStatus.CLOSED
        changes.handover_changes.append(HandoverChange(active.number, status, by="user"))
        changes.state = replace(changes.state, handover=None)
        thread_key = "handover_thread_cancelled" if waiting else "handover_thread_back"
        note = self._nl(thread_key, number=active.number, name=name)
        changes.thread.append((active.number, ThreadMessage(self.clock(), "bot", note)))
        user_key = "handover_cancelled" if waiting else "handover_back"
        return [
            Reply(note, recipient=Recipient.CONSULTANTS, thread=active.number),
            Reply(self.texts.get(user_key, language)),
        ]

    def forgotten(self, forgotten: Forgotten) -> list[Reply]:
        """After /vergeet: the consultants hear which handovers are gone, under their own
        chat (everything under the user's is deleted), and our recent messages about them
        there are deleted with it; older ones they are asked to delete themselves."""
        chat = self.consultants.chat
        if not forgotten.handovers or chat is None:
            return []
        numbers = ", ".join(f"#{number}" for number in forgotten.handovers)
        note = self._nl(f"handover_thread_forgotten_{self._desk_channel()}", numbers=numbers)
        return [
            Reply(
                note,
                recipient=Recipient.CONSULTANTS,
                to=chat,
                deletes=forgotten.recent_messages if self._desk_channel() == "telegram" else (),
            )
        ]

    # -- the consultants' side -------------------------------------------------------------

    def allowed(self, message: IncomingMessage, action: str) -> bool:
        """Whether the sender is a consultant; a refusal is logged."""
        if message.user_id is not None and message.user_id in self.consultants.ids:
            return True
        log.warning(
            "refused %s for user %s in %s: not a consultant",
            action,
            pseudonym(message.user_id),
            pseudonym(message.key),
        )
        return False

    def usage(self) -> Reply:
        """How consultants work in their chat (replying to a message only where one can)."""
        hint = self._nl(f"handover_usage_reply_{self._desk_channel()}")
        return Reply(self._nl("handover_usage", reply_hint=hint))

    def not_allowed(self) -> list[Reply]:
        """What anyone but a consultant hears."""
        return [Reply(self._nl("handover_not_allowed"))]

    async def command(
        self, command: str, argument: str, message: IncomingMessage, changes: Changes
    ) -> list[Reply]:
        """/overdrachten, /overdracht N, /oppakken N, /afronden N, /antwoord N text (by their
        ids: handovers, handover, pick-up, close, reply)."""
        if not self.allowed(message, f"/{command}"):
            return self.not_allowed()
        if command == "handovers":
            return [await self._list()]
        number_text = argument.partition(" ")[0]
        if not number_text.lstrip("#").isdigit():
            return [self.usage()]
        number = int(number_text.lstrip("#"))
        handover = await self.store.handover(number)
        if handover is None:
            return [Reply(self._nl("handover_unknown", number=number))]
        by = first_name(message.user_name)
        if command == "handover":
            return _about(handover, [self._details(handover)])
        if command == "pick-up":
            return _about(handover, self._pick(handover, by, changes))
        if command == "close":
            return _about(handover, self._close(handover, by, changes))
        words = (message.text or "").split(maxsplit=2)  # as typed: the consultant's own casing
        if len(words) < 3:
            return [self.usage()]
        return _about(handover, self._relay(handover, by, words[2].strip(), changes, confirm=True))

    async def button(self, choice: str, message: IncomingMessage, changes: Changes) -> list[Reply]:
        """The buttons Oppakken and Afgerond (only consultants may press them)."""
        if not self.allowed(message, f"button {choice}"):
            return self.not_allowed()
        number_text = choice.rsplit(":", 1)[1]
        handover = await self.store.handover(int(number_text)) if number_text.isdigit() else None
        if handover is None:
            return [Reply(self._nl("handover_unknown", number=number_text))]
        by = first_name(message.user_name)
        if choice.startswith(PICK):
            return _about(handover, self._pick(handover, by, changes))
        return _about(handover, self._close(handover, by, changes))

    async def reply_in_thread(
        self, message: IncomingMessage, changes: Changes
    ) -> list[Reply] | None:
        """A reply in the consultants' chat to a handover's message: relayed to its user.
        None when the message is not a reply to a handover."""
        if message.reply_to is None or not message.text:
            return None
        number = await self.store.thread_of(message.reply_to)
        if number is None:
            return None
        if not self.allowed(message, f"a reply to handover {number}"):
            return self.not_allowed()
        handover = await self.store.handover(number)
        if handover is None:
            return None
        replies = self._relay(handover, first_name(message.user_name), message.text, changes)
        return _about(handover, replies)

    async def remind(self) -> list[Delivery]:
        """Remind the consultants of handovers not picked up in time; returns the reminders
        queued."""
        now = self.clock()
        queued: list[Delivery] = []
        for handover in await self.store.due_reminders(now):
            since = handover.created_at.strftime("%d-%m %H:%M")
            text = self._nl(
                "handover_reminder", number=handover.number, name=self._name(handover), since=since
            )
            reminder = Reply(
                text,
                self._buttons(handover.number, handover.status),
                Recipient.CONSULTANTS,
                thread=handover.number,
            )
            changes = Changes(
                handover.key,
                ConversationState(),  # not written: the conversation may be busy
                outbox=[reminder],
                handover_changes=[HandoverChange(handover.number)],
                write_state=False,
            )
            queued += await self.store.commit(handover.key, changes, now) or []
        return queued

    def _pick(self, handover: Handover, by: str, changes: Changes) -> list[Reply]:
        if handover.status is HandoverStatus.PICKED_UP:
            consultant = handover.picked_up_by or ""
            return [
                Reply(self._nl("handover_taken", number=handover.number, consultant=consultant))
            ]
        if handover.status not in ACTIVE_HANDOVER:
            return [self._is_over(handover)]
        return self._picked_up(handover, by, changes)

    def _picked_up(self, handover: Handover, by: str, changes: Changes) -> list[Reply]:
        number = handover.number
        changes.handover_changes.append(HandoverChange(number, HandoverStatus.PICKED_UP, by))
        how = self._nl(
            f"thread_reply_{self._desk_channel()}", number=number, name=self._name(handover)
        )
        note = self._nl("handover_thread_picked_up", number=number, consultant=by, how_to_reply=how)
        changes.thread.append((number, ThreadMessage(self.clock(), "bot", note)))
        language = self._user_language(handover)
        return [
            Reply(
                note,
                self._buttons(number, HandoverStatus.PICKED_UP),
                Recipient.CONSULTANTS,
                thread=number,
            ),
            Reply(self.texts.get("handover_picked_up", language, consultant=by), to=handover.key),
        ]

    def _close(self, handover: Handover, by: str, changes: Changes) -> list[Reply]:
        if handover.status not in ACTIVE_HANDOVER:
            return [self._is_over(handover)]
        number = handover.number
        changes.handover_changes.append(HandoverChange(number, HandoverStatus.CLOSED, by))
        note = self._nl("handover_thread_closed", number=number, consultant=by)
        changes.thread.append((number, ThreadMessage(self.clock(), "bot", note)))
        consultant = handover.picked_up_by or by
        language = self._user_language(handover)
        return [
            Reply(note, recipient=Recipient.CONSULTANTS, thread=number),
            Reply(
                self.texts.get("handover_closed", language, consultant=consultant), to=handover.key
            ),
        ]

    def _relay(
        self, handover: Handover, by: str, text: str, changes: Changes, confirm: bool = False
    ) -> list[Reply]:
        if handover.status not in ACTIVE_HANDOVER:
            return [self._is_over(handover)]
        replies = []
        if handover.status is HandoverStatus.OPEN:  # replying is picking it up
            replies += self._picked_up(handover, by, changes)
        changes.thread.append(
            (handover.number, ThreadMessage(self.clock(), f"consultant:{by}", text))
        )
        language = self._user_language(handover)
        replies.append(
            Reply(
                self.texts.get("handover_from_consultant", language, consultant=by, text=text),
                to=handover.key,
            )
        )
        if confirm:  # a command has no message to reply to: say where the text went
            name = self._name(handover)
            replies.append(
                Reply(self._nl("handover_sent_to_user", name=name, number=handover.number))
            )
        return replies

    async def _list(self) -> Reply:
        active = [h for h in await self.store.handovers() if h.status in ACTIVE_HANDOVER]
        if not active:
            return Reply(self._nl("handover_list_empty"))
        statuses = self.texts.table("handover_statuses", CONSULTANTS_LANGUAGE)
        lines = [
            self._nl(
                "handover_list_line",
                number=h.number,
                status=statuses[h.status.value],
                name=self._name(h),
                since=h.created_at.strftime("%d-%m %H:%M"),
            )
            for h in active
        ]
        return Reply("\n".join([self._nl("handover_list_heading"), *lines]))

    def _details(self, handover: Handover) -> Reply:
        statuses = self.texts.table("handover_statuses", CONSULTANTS_LANGUAGE)
        lines = [f"{statuses[handover.status.value]}", "", handover.summary]
        for entry in handover.thread:
            author = entry.author.partition(":")[2] or (
                self._name(handover) if entry.author == "user" else "STO-assistent"
            )
            lines.append(f"{entry.at:%d-%m %H:%M} {author}: {entry.text}")
        return Reply(
            "\n".join(lines),
            self._buttons(handover.number, handover.status),
            thread=handover.number,
        )

    def _is_over(self, handover: Handover) -> Reply:
        statuses = self.texts.table("handover_statuses", CONSULTANTS_LANGUAGE)
        status = statuses[handover.status.value]
        return Reply(self._nl("handover_is_over", number=handover.number, status=status))

    def _buttons(self, number: int, status: HandoverStatus) -> tuple[Option, ...]:
        close = Option(f"{CLOSE}{number}", self._nl("handover_close"))
        if status is HandoverStatus.OPEN:
            return (Option(f"{PICK}{number}", self._nl("handover_pick")), close)
        return (close,) if status is HandoverStatus.PICKED_UP else ()

    # -- the summary -----------------------------------------------------------------------

    def summary(
        self,
        number: int,
        data: dict[str, str],
        events: list[tuple[datetime, Event]],
        result: CheckResult | None,
        started: datetime,
        progress: CheckState | None = None,
    ) -> str:
        """What a consultant needs to know, in one Telegram message: who, the check (its
        result, or the answers so far), the last questions (unanswered ones marked), the
        user's own question."""
        questions = [(at, event.data) for at, event in events if event.kind == "question"]
        recent = questions[-RECENT_QUESTIONS:]
        # Shorten step by step until it fits: shorter question lines, fewer of them, then a
        # shorter question for the consultant.
        for line_chars, own_chars in ((300, 2000), (120, 1200), (60, 600), (40, 300)):
            for shown in range(len(recent), -1, -1):
                text = self._summary_text(
                    number,
                    data,
                    recent[len(recent) - shown :],
                    result,
                    started,
                    line_chars,
                    own_chars,
                    progress,
                )
                if len(html.escape(text, quote=False)) <= SUMMARY_LIMIT:
                    return text
        # Only hostile input gets here (fields full of "<" and "&"): cut until it fits.
        while len(html.escape(text, quote=False)) > SUMMARY_LIMIT:
            text = _cut(text, len(text) * 9 // 10)
        return text

    def _summary_text(
        self,
        number: int,
        data: dict[str, str],
        questions: list[tuple[datetime, dict[str, object]]],
        result: CheckResult | None,
        started: datetime,
        line_chars: int,
        own_chars: int,
        progress: CheckState | None = None,
    ) -> str:
        not_given = self._nl("handover_not_given")
        bands = self.texts.table("handover_bands", CONSULTANTS_LANGUAGE)
        lines = []
        unanswered = 0
        for at, question in questions:
            status = str(question.get("status", ""))
            mark = "⚠️ " if status == "fallback" else ""
            unanswered += status == "fallback"
            entry = question.get("entry") or "-"
            asked = _cut(str(question.get("text", "")), line_chars)
            lines.append(f'{mark}{at:%H:%M} "{asked}" → {entry} ({bands.get(status, status)})')
        count = " " + self._nl("handover_unanswered_count", count=unanswered) if unanswered else ""
        return self._nl(
            "handover_summary",
            number=number,
            name=data.get("name") or not_given,
            role=_cut(data.get("role", ""), 200) or not_given,
            organisation=_cut(data.get("organisation", ""), 200) or not_given,
            region=_cut(data.get("region", ""), 200) or not_given,
            user_language={"nl": "Nederlands", "en": "Engels"}.get(data.get("language", ""), "-"),
            contact=self._contact(data.get("contact", "")) or not_given,
            started=started.strftime("%d-%m-%Y %H:%M"),
            question=_cut(data.get("question", ""), own_chars) or not_given,
            check=self._check(result, progress),
            count=count,
            how_to_reply=self._nl(
                f"how_to_reply_{self._desk_channel()}",
                number=number,
                name=data.get("name") or not_given,
            ),
            questions="\n".join(lines) or self._nl("handover_no_questions"),
        )

    def _check(self, result: CheckResult | None, progress: CheckState | None = None) -> str:
        """The verdict, each criterion's status, and the answers with the labels the user saw;
        a check under way with its answers so far."""
        if progress is not None and progress.answers:
            lines = [self._nl("handover_check_under_way", number=len(progress.answers) + 1)]
            lines += [f"- {a.question_text} → {a.option_label}" for a in progress.answers]
            return "\n".join(lines)
        if result is None:
            return self._nl("handover_no_check")
        outcome = self.check.outcomes.get(result.outcome)
        title = outcome.title[CONSULTANTS_LANGUAGE] if outcome else result.outcome
        lines = [f"{title} ({result.at:%d-%m %H:%M})"]
        unknown = []
        for criterion_id, status in result.criteria.items():
            criterion = self.check.criteria.get(criterion_id)
            label = criterion.label[CONSULTANTS_LANGUAGE] if criterion else criterion_id
            lines.append(f"{STATUS_MARKS.get(Status(status), '?')} {label}")
            if status == Status.UNKNOWN.value:
                unknown.append(label)
        if unknown:
            lines.insert(1, self._nl("handover_depends", criteria="; ".join(unknown)))
        lines.extend(f"- {a.question_text} → {a.option_label}" for a in result.answers)
        return "\n".join(lines)

    def _contact(self, contact: str) -> str:
        way, _, value = contact.partition(":")
        if way == "telegram":
            return self._nl("handover_contact_telegram")
        return value

    # -- helpers ---------------------------------------------------------------------------

    def _desk_channel(self) -> str:
        """The channel of the consultants' chat, whose texts say how to answer a user."""
        chat = self.consultants.chat
        return chat.wording if chat is not None else "telegram"

    def _nl(self, key: str, **fields: object) -> str:
        """A text for the consultants' chat (always Dutch)."""
        return self.texts.get(key, CONSULTANTS_LANGUAGE, **fields)

    def _name(self, handover: Handover | None) -> str:
        name = handover.data.get("name") if handover is not None else None
        return str(name) if name else self._nl("handover_not_given")

    @staticmethod
    def _user_language(handover: Handover) -> Language:
        return "en" if handover.data.get("language") == "en" else "nl"


def _cut(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, marked with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _about(handover: Handover, replies: list[Reply]) -> list[Reply]:
    """Replies in the consultants' chat marked as telling of this handover, so that /vergeet
    of its user finds them too."""
    return [
        replace(reply, about=handover.number)
        if reply.to is None and reply.thread is None
        else reply
        for reply in replies
    ]
