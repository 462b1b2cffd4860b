"""The editors' weekly digest: one message to EDITORS_CHAT_ID with the past week's numbers and
the five most-asked unanswered questions, at a set weekday and hour, once per week (also
across restarts: the digest sent is kept as an event of the editors' chat)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from sto_bot.dates import Clock
from sto_bot.knowledge import KnowledgeBase
from sto_bot.models import Changes, ConversationKey, ConversationState, Delivery, Event, Reply
from sto_bot.stats import Report, read_report
from sto_bot.store import Store

KIND = "digest_sent"
TOP_UNANSWERED = 5


class Digest:
    """Sends the digest when it is due."""

    def __init__(
        self,
        knowledge: Callable[[], KnowledgeBase],
        store: Store,
        clock: Clock,
        chat: ConversationKey,
        weekday: int = 1,
        hour: int = 9,
        leave_out: frozenset[ConversationKey] = frozenset(),
    ) -> None:
        self.knowledge = knowledge
        self.store = store
        self.clock = clock
        self.chat = chat
        self.weekday = weekday  # ISO: 1 is Monday
        self.hour = hour
        self.leave_out = leave_out | {chat}

    async def due(self) -> list[Delivery]:
        """Queue this week's digest if its moment has come and it was not sent yet."""
        now = self.clock()
        week = _week(now.date())
        # From the set moment on, through the week: a bot that was down then sends it later.
        if (now.isoweekday(), now.hour) < (self.weekday, self.hour):
            return []
        sent = await self.store.events(self.chat)
        if any(event.kind == KIND and event.data.get("week") == week for _, event in sent):
            return []
        report = await self._report(now.date())
        changes = Changes(
            self.chat,
            ConversationState(),
            [Event(KIND, {"week": week})],
            outbox=[Reply(self.text(report))],
            write_state=False,
        )
        return await self.store.commit(self.chat, changes, now) or []

    async def _report(self, today: date) -> Report:
        """The seven days before today."""
        since = today - timedelta(days=7)
        return await read_report(self.store, self.knowledge(), since, today, self.leave_out)

    def text(self, report: Report) -> str:
        """The digest's message (Dutch: the editors' language)."""
        texts = self.knowledge().texts
        total = report.total
        answered = total.sure + total.likely
        share = f"{100 * answered / total.questions:.0f}" if total.questions else "0"
        lines = "\n".join(
            texts.get("digest_line", "nl", count=group.count, question=group.question)
            for group in report.unanswered[:TOP_UNANSWERED]
        ) or texts.get("digest_none", "nl")
        return texts.get(
            "digest",
            "nl",
            since=report.since.strftime("%d-%m"),
            until=(report.until - timedelta(days=1)).strftime("%d-%m"),
            questions=total.questions,
            users=report.users,
            answered=share,
            unanswered=total.unanswered,
            helpful=report.helpful_total,
            not_helpful=report.not_helpful_total,
            checks=report.checks_finished,
            handovers=report.handovers_opened,
            lines=lines,
        )


def _week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"
