"""Where a conversation stands, told when the user comes back or asks: in the check, in the
questions for a consultant, waiting for one, or with one."""

from __future__ import annotations

from dataclasses import replace

from sto_bot.eligibility import CONTINUE, RESTART, EligibilityCheck
from sto_bot.handover import CANCEL, LEAVE
from sto_bot.intake import HandoverIntake
from sto_bot.knowledge import Texts
from sto_bot.models import Changes, HandoverStatus, Language, Option, Reply


def where_you_were(
    changes: Changes,
    language: Language,
    texts: Texts,
    intake: HandoverIntake,
    eligibility: EligibilityCheck,
) -> Reply | None:
    """Where the conversation stands, when it stands somewhere: in the check, in the
    questions for a consultant, waiting for one, or with one."""
    state = changes.state
    active = state.handover
    if active is not None and not state.with_consultants:
        if active.status is not HandoverStatus.OPEN:
            consultant = active.consultant_name(texts.get("a_consultant", language))
            return Reply(texts.get("where_aside_live", language, consultant=consultant))
        text = texts.get("where_aside", language, number=active.number)
        return Reply(text, (Option(CANCEL, texts.get("cancel_button", language)),))
    if active is not None and active.status is HandoverStatus.OPEN:
        text = texts.get("where_waiting", language, number=active.number)
        return Reply(text, (Option(CANCEL, texts.get("cancel_button", language)),))
    if active is not None:
        consultant = active.consultant_name(texts.get("a_consultant", language))
        text = texts.get(
            "where_with_consultant", language, consultant=consultant, number=active.number
        )
        return Reply(text, (Option(LEAVE, texts.get("leave_button", language)),))
    if state.intake is not None:
        prompt = intake.prompt(changes, language)
        note = texts.get("where_intake", language)
        return replace(prompt, text=f"{note}\n\n{prompt.text}")
    check = state.check
    if check is not None and not check.finished and eligibility.engine.is_current(check):
        text = texts.get("where_check", language, number=len(check.answers) + 1)
        options = (
            Option(CONTINUE, texts.get("check_continue", language)),
            Option(RESTART, texts.get("check_restart", language)),
        )
        return Reply(text, options)
    return None
