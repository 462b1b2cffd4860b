"""What admins (ADMIN_IDS) can do in the chat: /herlaad reloads the knowledge, /stats sends this
week's report."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

from sto_bot.dates import Clock
from sto_bot.knowledge import KnowledgeBase
from sto_bot.models import ConversationKey, Document, Language, Reply
from sto_bot.report_html import ReportsNotInstalled, report_html
from sto_bot.shapes import Problem
from sto_bot.stats import read_report, report_text
from sto_bot.store import Store

ADMIN_COMMANDS = frozenset({"reload", "stats"})
MAX_PROBLEMS_SHOWN = 10  # in one chat message; `sto-bot kb check` lists them all


class Admin:
    """The admin commands; the knowledge is asked for each time (a reload replaces it)."""

    def __init__(
        self,
        knowledge: Callable[[], KnowledgeBase],
        reload: Callable[[], Awaitable[list[Problem]]],
        store: Store,
        clock: Clock,
        leave_out: frozenset[ConversationKey],
    ) -> None:
        self.knowledge = knowledge
        self.reload = reload
        self.store = store
        self.clock = clock
        self.leave_out = leave_out  # the consultants' chat: no user of the assistant

    async def command(self, command: str, language: Language) -> Reply:
        """Run /herlaad or /stats."""
        if command == "reload":
            return self.reloaded(await self.reload(), language)
        return await self.weekly_report(language)

    def reloaded(self, problems: Sequence[Problem], language: Language) -> Reply:
        """/herlaad's answer: what is served now, or the problems (the old knowledge stays)."""
        knowledge = self.knowledge()
        texts = knowledge.texts
        if not problems:
            entries = sum(entry.topical for entry in knowledge.entries.values())
            topics = len(knowledge.topics)
            return Reply(texts.get("reload_done", language, entries=entries, topics=topics))
        shown = "\n".join(f"- {problem}" for problem in problems[:MAX_PROBLEMS_SHOWN])
        more = len(problems) - MAX_PROBLEMS_SHOWN
        if more > 0:
            shown += "\n" + texts.get("reload_more", language, count=more)
        return Reply(texts.get("reload_failed", language, problems=shown))

    async def weekly_report(self, language: Language) -> Reply:
        """/stats: this week so far (from Monday), as text and as the HTML page."""
        knowledge = self.knowledge()
        today = self.clock().date()
        monday = today - timedelta(days=today.weekday())
        until = today + timedelta(days=1)
        report = await read_report(self.store, knowledge, monday, until, self.leave_out)
        text = report_text(report)
        try:
            page = report_html(report)
        except ReportsNotInstalled as error:
            return Reply(f"{text}\n({error})")
        name = f"sto-rapport-{monday.isoformat()}.html"
        return Reply(knowledge.texts.get("stats_sent", language), document=Document(name, page))
