"""The consultants' desk: handovers listed, picked up, answered and closed from the
consultants' chat, reminders when nobody picks one up, and the user's side of the thread."""

from __future__ import annotations

import logging
from dataclasses import replace

from sto_bot.buttons import PICK
from sto_bot.dates import Clock
from sto_bot.handover import (
    CANCEL,
    CONSULTANTS_LANGUAGE,
    Consultants,
    HandoverWording,
)
from sto_bot.knowledge import Texts
from sto_bot.models import (
    ACTIVE_HANDOVER,
    Changes,
    ConversationState,
    Delivery,
    Forgotten,
    Handover,
    HandoverChange,
    HandoverStatus,
    IncomingMessage,
    Language,
    Option,
    Recipient,
    Reply,
    ThreadMessage,
)
from sto_bot.pseudonyms import pseudonym
from sto_bot.store import Store

log = logging.getLogger(__name__)


class ConsultantDesk(HandoverWording):
    """Both ends of a handover's thread; changes go into the message's Changes and are
    committed with it."""

    def __init__(self, texts: Texts, consultants: Consultants, store: Store, clock: Clock) -> None:
        super().__init__(texts, consultants)
        self.store = store
        self.clock = clock

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

    async def step_aside(self, changes: Changes, language: Language) -> list[Reply]:
        """/terug during a handover: the user asks the assistant meanwhile, until the handover
        moves on. A waiting question stays with the consultants, and whoever picks it up
        answers here; in a conversation, the consultant's next message brings the user back."""
        active = changes.state.handover
        assert active is not None
        if active.status is HandoverStatus.OPEN:
            changes.state = replace(changes.state, aside=active.moment)
            return [Reply(self.texts.get("handover_aside", language, number=active.number))]
        consultant = active.consultant_name(self.texts.get("a_consultant", language))
        told = Reply(self.texts.get("handover_aside_live", language, consultant=consultant))
        if changes.state.aside == active.moment:
            return [told]  # already aside: the consultant was told
        changes.state = replace(changes.state, aside=active.moment)
        name = self._name(await self.store.handover(active.number))
        note = self._nl("handover_thread_aside", number=active.number, name=name)
        changes.thread.append((active.number, ThreadMessage(self.clock(), "bot", note)))
        return [Reply(note, recipient=Recipient.CONSULTANTS, thread=active.number), told]

    async def end_by_user(self, changes: Changes, language: Language) -> list[Reply]:
        """/annuleer: withdraw a question nobody picked up, or end the conversation."""
        active = changes.state.handover
        if active is None:
            return [Reply(self.texts.get("handover_none_open", language))]
        handover = await self.store.handover(active.number)
        name = self._name(handover)
        waiting = active.status is HandoverStatus.OPEN
        status = HandoverStatus.CANCELLED if waiting else HandoverStatus.CLOSED
        changes.handover_changes.append(HandoverChange(active.number, status, by="user"))
        changes.state = replace(changes.state, handover=None)
        if waiting:
            note = self._nl("handover_thread_cancelled", number=active.number, name=name)
            told = self.texts.get("handover_cancelled", language)
        else:
            note = self._nl("handover_thread_back", number=active.number, name=name)
            told = self.texts.get("handover_back", language)
        changes.thread.append((active.number, ThreadMessage(self.clock(), "bot", note)))
        return [Reply(note, recipient=Recipient.CONSULTANTS, thread=active.number), Reply(told)]

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

    def usage(self, why: str | None = None) -> Reply:
        """How consultants work in their chat (replying to a message only where one can),
        after why the message did nothing: "not_sent" (text for no one) or "users_command"."""
        hint = self._nl(f"handover_usage_reply_{self._desk_channel()}")
        usage = self._nl("handover_usage", reply_hint=hint)
        if why == "not_sent":
            usage = f"{self._nl('handover_not_sent')} {usage}"
        elif why == "users_command":
            usage = f"{self._nl('handover_users_command')} {usage}"
        return Reply(usage)

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
        by = self._first_name(message.user_name)
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
        by = self._first_name(message.user_name)
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
        replies = self._relay(handover, self._first_name(message.user_name), message.text, changes)
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
        # Closed without being picked up: nobody talked with the user here, so no "conversation
        # with Bea" ended (the consultant may have mailed or called, or found it done).
        if handover.picked_up_by:
            told = self.texts.get("handover_closed", language, consultant=consultant)
        else:
            told = self.texts.get("handover_closed_unanswered", language, consultant=consultant)
        return [
            Reply(note, recipient=Recipient.CONSULTANTS, thread=number),
            Reply(told, to=handover.key),
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
                self._name(handover)
                if entry.author == "user"
                else self._nl("handover_thread_assistant")
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


def _about(handover: Handover, replies: list[Reply]) -> list[Reply]:
    """Replies in the consultants' chat marked as telling of this handover, so that /vergeet
    of its user finds them too."""
    return [
        replace(reply, about=handover.number)
        if reply.to is None and reply.thread is None
        else reply
        for reply in replies
    ]
