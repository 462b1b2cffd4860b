"""The handover summary: what a consultant needs to know, in one message."""

from __future__ import annotations

import logging
from datetime import datetime

from sto_bot.dialog import Status, Tree
from sto_bot.eligibility import STATUS_MARKS
from sto_bot.handover import (
    CONSULTANTS_LANGUAGE,
    Consultants,
    HandoverWording,
)
from sto_bot.knowledge import Texts
from sto_bot.models import (
    ChannelLimits,
    CheckResult,
    CheckState,
    Event,
)

log = logging.getLogger(__name__)

RECENT_QUESTIONS = 10


class HandoverSummary(HandoverWording):
    """Writes the summary a handover opens with, from the intake, the questions asked and the
    check."""

    def __init__(
        self, texts: Texts, consultants: Consultants, check: Tree, limits: ChannelLimits
    ) -> None:
        super().__init__(texts, consultants)
        self.check = check
        self.limits = limits  # of the consultants' channel: the summary is one message there

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
                if self.limits.fits(text):
                    return text
        # Only hostile input gets here (fields full of "<" and "&"): cut until it fits.
        while not self.limits.fits(text):
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
            user_language=self.texts.table("handover_languages", CONSULTANTS_LANGUAGE).get(
                data.get("language", ""), "-"
            ),
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
        if result.criteria and all(s == Status.UNKNOWN.value for s in result.criteria.values()):
            # The path of "weet ik niet" says nothing about the user (as the user's verdict).
            title = self._nl("handover_check_nothing_known")
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


def _cut(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, marked with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
