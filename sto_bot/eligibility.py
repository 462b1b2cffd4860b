"""The eligibility check in a conversation: asks its questions, applies answers, gives a verdict."""

from __future__ import annotations

from dataclasses import replace

from sto_bot.buttons import OFFER_CONSULTANT, TOPIC_LIST
from sto_bot.choices import pick
from sto_bot.dates import Clock, fill_dates, format_moment
from sto_bot.dialog import Engine, Outcome, Question, StaleChoice, Status, Verdict, callback_data
from sto_bot.knowledge import KnowledgeBase
from sto_bot.models import (
    Changes,
    CheckResult,
    CheckState,
    Event,
    GivenAnswer,
    Language,
    Option,
    Reply,
)

START = "chk:start"
BACK = "chk:back"
STOP = "chk:stop"
CONTINUE = "chk:continue"
RESTART = "chk:restart"
CONSULTANT = OFFER_CONSULTANT
TOPICS = TOPIC_LIST
CONTROL_CHOICES = frozenset({START, BACK, STOP, CONTINUE, RESTART})
STATUS_MARKS = {Status.MET: "✅", Status.NOT_MET: "❌", Status.UNKNOWN: "❓"}


class EligibilityCheck:
    """Runs the check of the knowledge base for one message at a time; state lives in Changes."""

    def __init__(self, knowledge: KnowledgeBase, clock: Clock) -> None:
        self.knowledge = knowledge
        self.texts = knowledge.texts
        self.engine = Engine(knowledge.check)
        self.clock = clock

    def running(self, changes: Changes) -> bool:
        """Whether the conversation is in the middle of a check of the tree in use (a check
        on a tree changed since, by a reload or a new version, is over: its buttons say so)."""
        check = changes.state.check
        return check is not None and not check.finished and self.engine.is_current(check)

    # -- starting and stopping -----------------------------------------------------------

    def command(self, changes: Changes, language: Language) -> list[Reply]:
        """/check: start, or ask whether to continue an unfinished check."""
        check = changes.state.check
        if check is not None and not check.finished and self.engine.is_current(check):
            options = (
                Option(CONTINUE, self.texts.get("check_continue", language)),
                Option(RESTART, self.texts.get("check_restart", language)),
            )
            return [Reply(self.texts.get("check_continue_or_restart", language), options)]
        return self.start(changes, language)

    def start(self, changes: Changes, language: Language) -> list[Reply]:
        """Begin a fresh check."""
        check = self.engine.start()
        changes.state = replace(changes.state, check=check, pending=None)
        changes.events.append(Event("check_started", {"version": check.version}))
        intro = Reply(self._dated(self.knowledge.check.intro[language], language))
        return [intro, self.question_reply(check, language)]

    def stop(self, changes: Changes, language: Language) -> list[Reply]:
        """End the check without a verdict."""
        if not self.running(changes):
            return [Reply(self.texts.get("check_not_running", language))]
        changes.state = replace(changes.state, check=None, pending=None)
        changes.events.append(Event("check_stopped", {}))
        return [Reply(self.texts.get("check_stopped", language))]

    def control(self, choice: str, changes: Changes, language: Language) -> list[Reply]:
        """The check's own buttons: start, back, stop, continue, restart."""
        if choice in (START, RESTART):
            return self.start(changes, language)
        if choice == STOP:
            return self.stop(changes, language)
        check = changes.state.check
        if check is None or not self.engine.is_current(check):
            return self._expired(changes, language)
        if choice == CONTINUE:
            changes.state = replace(changes.state, pending=None)
            return [self.current_reply(check, language)]
        if check.finished:  # "back" under a verdict: an old button
            return self._expired(changes, language)
        check = self.engine.back(check)
        changes.state = replace(changes.state, check=check)
        return [self.question_reply(check, language)]

    # -- answering -----------------------------------------------------------------------

    def answer(
        self, version: str, question: str, option: str, changes: Changes, language: Language
    ) -> list[Reply]:
        """A pressed answer button: apply it once, or explain that it has expired."""
        check = changes.state.check
        if check is None or not self.engine.is_current(check):
            return self._expired(changes, language)
        last = check.answers[-1] if check.answers else None
        if (
            version == check.version
            and last is not None
            and (last.question, last.option) == (question, option)
        ):
            # The same button twice (a double tap, a redelivered update): applied once.
            return [self.current_reply(check, language)]
        if version != check.version:
            return self._expired(changes, language)
        try:
            check = self.engine.answer(check, question, option, language)
        except StaleChoice:
            return self._expired(changes, language)
        given = check.answers[-1]
        changes.state = replace(changes.state, check=check, pending=None)
        changes.events.append(
            Event(
                "check_answer",
                {
                    "question": given.question,
                    "option": given.option,
                    "question_text": given.question_text,
                    "option_label": given.option_label,
                },
            )
        )
        if not check.finished:
            return [self.question_reply(check, language)]
        verdict = self.engine.verdict(check)
        reply = self.verdict_reply(verdict, language)
        changes.result = CheckResult(
            at=self.clock(),
            outcome=verdict.outcome.id,
            language=language,
            answers=check.answers,
            criteria={criterion.id: status.value for criterion, status in verdict.statuses},
            text=reply.text,
        )
        changes.events.append(Event("check_result", {"outcome": verdict.outcome.id}))
        return [reply]

    def _expired(self, changes: Changes, language: Language) -> list[Reply]:
        replies = [Reply(self.texts.get("expired_button", language))]
        check = changes.state.check
        if check is None:
            return replies
        if not self.engine.is_current(check):
            # The tree changed since this check began (a new version was deployed).
            changes.state = replace(changes.state, check=None)
            replies.append(Reply(self.texts.get("check_changed", language)))
            return replies + self.start(changes, language)
        return [*replies, self.current_reply(check, language)]

    # -- showing -------------------------------------------------------------------------

    def _dated(self, text: str, language: Language) -> str:
        """A text of the check with its dated facts told relative to today."""
        knowledge = self.knowledge
        return fill_dates(text, knowledge.dates, language, self.clock(), knowledge.texts)

    def current_reply(self, check: CheckState, language: Language) -> Reply:
        """The question to answer now, or the verdict if the check is finished."""
        if check.finished:
            return self.verdict_reply(self.engine.verdict(check), language)
        return self.question_reply(check, language)

    def _told_again(
        self, result: CheckResult, language: Language
    ) -> tuple[str, tuple[GivenAnswer, ...]] | None:
        """A stored verdict and its answers in another language, while the tree still has
        its outcome and every question and option answered; None when it was shown in this
        language, or the check has changed since."""
        tree = self.engine.tree
        if result.language == language or result.outcome not in tree.outcomes:
            return None
        given: list[GivenAnswer] = []
        for answer in result.answers:
            question = tree.questions.get(answer.question)
            option = question.option(answer.option) if question is not None else None
            if question is None or option is None:
                return None
            text, label = question.text[language], option.label[language]
            given.append(replace(answer, question_text=text, option_label=label))
        state = CheckState(tree.version, result.outcome, tuple(given), finished=True)
        return self.verdict_reply(self.engine.verdict(state), language).text, tuple(given)

    def resume(self, changes: Changes, language: Language) -> Reply | None:
        """After a typed question mid-check: show the current check question again."""
        check = changes.state.check
        if check is None or check.finished or not self.engine.is_current(check):
            return None
        question = self.question_reply(check, language)
        return replace(
            question, text=f"{self.texts.get('check_resume_note', language)}\n{question.text}"
        )

    def question_reply(self, check: CheckState, language: Language) -> Reply:
        """A check question with its answer buttons, back and stop."""
        node = self.engine.current(check)
        assert isinstance(node, Question)
        tree = self.knowledge.check
        options = [
            Option(callback_data(tree.version, node.id, option.id), option.label[language])
            for option in node.options
        ]
        if check.answers:
            options.append(Option(BACK, self.texts.get("check_back", language)))
        options.append(Option(STOP, self.texts.get("check_stop_button", language)))
        progress = self.texts.get("check_progress", language, number=len(check.answers) + 1)
        return Reply(f"{progress}: {node.text[language]}", tuple(options))

    def verdict_reply(self, verdict: Verdict, language: Language) -> Reply:
        """The outcome with its criteria one by one, what it depends on, and next steps."""
        outcome: Outcome = verdict.outcome
        texts = self.texts
        unknown = [c.label[language] for c, s in verdict.statuses if s is Status.UNKNOWN]
        title = outcome.title[language]
        if unknown and outcome.requirements:
            # With a condition of its own unknown the outcome is not yet a fact: the heading says
            # so first. (A partner's role does not hang on conditions it lists for reference.)
            title = texts.get("verdict_provisional", language, title=title)
        parts = [title, self._dated(outcome.text[language], language)]
        not_met = [c.label[language] for c, s in verdict.statuses if s is Status.NOT_MET]
        if unknown and all(s is Status.UNKNOWN for _, s in verdict.statuses):
            # Nothing known at all: the path of the unknown answers says nothing about the user
            # ("U bent de aanvrager" for someone who did not say they are a vmbo school).
            parts = [texts.get("verdict_nothing_known", language)]
        if unknown:
            parts.append(texts.get("verdict_depends", language, criteria="; ".join(unknown)))
        if not_met and outcome.requirements:
            parts.append(texts.get("verdict_attention", language, criteria="; ".join(not_met)))
        if outcome.requirements and not unknown and not not_met:
            parts.append(texts.get("verdict_met", language))
        lines = [texts.get("criteria_heading", language)]
        for criterion, status in verdict.statuses:
            word = texts.get(f"status_{status.value}", language)
            source = criterion.source
            lines.append(
                f"{STATUS_MARKS[status]} {criterion.label[language]}: {word} "
                f"({source.title}, {source.url})"
            )
        parts.append("\n".join(lines))
        if verdict.notes:
            notes = [texts.get("notes_heading", language)]
            notes.extend(f"- {note}" for note in dict.fromkeys(n[language] for n in verdict.notes))
            parts.append("\n".join(notes))
        steps = [texts.get("steps_heading", language)]
        steps.extend(f"- {self._dated(step, language)}" for step in outcome.steps[language])
        parts.append("\n".join(steps))
        options = []
        if outcome.consultant or unknown:
            options.append(Option(CONSULTANT, texts.get("consultant_button", language)))
        options.append(Option(RESTART, texts.get("check_restart", language)))
        options.append(Option(TOPICS, texts.get("topics_button", language)))
        return Reply("\n\n".join(parts), tuple(options))

    def result_reply(self, result: CheckResult | None, language: Language) -> Reply:
        """/resultaat: the last verdict again, with the answers as the user gave them."""
        if result is None:
            return Reply(self.texts.get("result_none", language))
        when = format_moment(result.at, False, language, self.texts)
        body, given = result.text, result.answers
        told = self._told_again(result, language)
        if told is not None:  # the same verdict, in the language the user reads now
            body, given = told
        answers = [self.texts.get("answers_heading", language if told else result.language)]
        answers.extend(f"- {a.question_text} {a.option_label}" for a in given)
        text = "\n\n".join(
            [self.texts.get("result_intro", language, date=when), body, "\n".join(answers)]
        )
        options = (
            Option(RESTART, self.texts.get("check_restart", language)),
            Option(TOPICS, self.texts.get("topics_button", language)),
        )
        return Reply(text, options)

    def answer_meanwhile(self, text: str, changes: Changes, language: Language) -> Option | None:
        """Shown something else during the check ("Verdergaan / Opnieuw?", or "bedoelt u…?"
        after a side question), the user may simply answer the check's question ("ja",
        "weet ik niet"): that answer, which also goes on with the check."""
        check = changes.state.check
        if check is None or not self.running(changes):
            return None
        options = self.current_reply(check, language).options
        picked = pick(text, options, self.knowledge.option_words)
        return picked if isinstance(picked, Option) else None
