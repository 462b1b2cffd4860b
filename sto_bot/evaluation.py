"""Score the matcher on labelled questions: how often it is right, and how often wrongly sure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from sto_bot.matcher import Matcher
from sto_bot.models import Band

# The targets the shipped knowledge must meet (issue 2, acceptance 2).
MIN_IN_SCOPE_ACCURACY = 0.95
MAX_CONFIDENTLY_WRONG = 0.02
MAX_OUT_OF_SCOPE_ANSWERED = 0.03


@dataclass(frozen=True, slots=True)
class Miss:
    """One question the matcher got wrong."""

    question: str
    expected: str | None
    got: str | None
    band: Band


@dataclass(frozen=True, slots=True)
class EvalReport:
    """The figures of one evaluation run."""

    in_scope: int
    top1_correct: int
    confidently_wrong: int
    out_of_scope: int
    out_of_scope_answered: int
    misses: tuple[Miss, ...] = field(default=())

    @property
    def accuracy(self) -> float:
        """Share of in-scope questions whose top match is the expected entry."""
        return self.top1_correct / self.in_scope if self.in_scope else 1.0

    @property
    def confidently_wrong_rate(self) -> float:
        """Share of in-scope questions answered outright with the wrong entry."""
        return self.confidently_wrong / self.in_scope if self.in_scope else 0.0

    @property
    def out_of_scope_rate(self) -> float:
        """Share of out-of-scope questions that got a confident answer."""
        return self.out_of_scope_answered / self.out_of_scope if self.out_of_scope else 0.0

    @property
    def meets_targets(self) -> bool:
        """Whether every figure is within its target."""
        return (
            self.accuracy >= MIN_IN_SCOPE_ACCURACY
            and self.confidently_wrong_rate <= MAX_CONFIDENTLY_WRONG
            and self.out_of_scope_rate <= MAX_OUT_OF_SCOPE_ANSWERED
        )

    def confusions(self) -> list[tuple[tuple[str | None, str | None], int]]:
        """(expected, got) pairs among the misses, most frequent first."""
        return Counter((miss.expected, miss.got) for miss in self.misses).most_common()


def evaluate(matcher: Matcher, labelled: Iterable[tuple[str, str | None]]) -> EvalReport:
    """Rank each labelled question and count hits, confident misses and off-topic answers."""
    in_scope = correct = wrong = out_of_scope = answered = 0
    misses: list[Miss] = []
    for question, expected in labelled:
        ranking = matcher.rank(question).ranking
        top = ranking.best.entry_id if ranking.best else None
        confident = ranking.band is Band.ANSWER
        if expected is None:
            out_of_scope += 1
            if confident:
                answered += 1
                misses.append(Miss(question, None, top, ranking.band))
            continue
        in_scope += 1
        if top == expected:
            correct += 1
        else:
            wrong += confident
            misses.append(Miss(question, expected, top, ranking.band))
    return EvalReport(in_scope, correct, wrong, out_of_scope, answered, tuple(misses))
