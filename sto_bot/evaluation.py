"""Score the matcher on labelled questions as a user meets it, and fit its decision.

"Right at once" is an answer with a right entry; "within one tap" adds a right entry among the
"bedoelt u…?" choices or a likely answer's runners-up. A wrong answer counts against us, the more
so when it was given as sure; an out-of-scope question answered with STO content too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sto_bot.decision import Decision, Outcome, Sample, choose_thresholds, folds, model
from sto_bot.knowledge import EntryKind
from sto_bot.loader import Labelled
from sto_bot.matcher import MAX_CHOICES, Candidate, Matcher
from sto_bot.models import Band, Certainty

# The targets on questions written by people who never saw the knowledge (issue 9).
MIN_RIGHT_AT_ONCE = 0.85
MAX_WRONG = 0.03
MAX_WRONG_SURE = 0.01
MAX_OUT_OF_SCOPE_ANSWERED = 0.03
FOLDS = 5


@dataclass(frozen=True, slots=True)
class Graded:
    """What one labelled question got."""

    labelled: Labelled
    band: Band
    certainty: Certainty | None
    top: str | None
    kind: EntryKind | None  # of the top entry
    probability: float
    offered: tuple[str, ...]  # the entries a tap away: choices, or a likely answer's runners-up
    top_right: bool  # whether the best match of the text decided on was right, shown or not

    @property
    def answered(self) -> bool:
        """Answered with STO content (not small talk, not an out-of-scope reply)."""
        return self.band is Band.ANSWER and self.kind is EntryKind.TOPIC

    @property
    def right(self) -> bool:
        """Answered at once with an entry that tells what was asked."""
        return self.band is Band.ANSWER and self.top in self.labelled.accept

    @property
    def one_tap(self) -> bool:
        """Right at once, or a right entry one tap away."""
        return self.right or bool(self.labelled.accept & set(self.offered))

    @property
    def band_name(self) -> str:
        """sure / likely / suggest / fallback, or other: small talk or another subject."""
        if self.kind is not None and self.kind is not EntryKind.TOPIC:
            return "other"
        return self.certainty.value if self.certainty else self.band.value


@dataclass(frozen=True, slots=True)
class EvalReport:
    """The figures of one evaluation run."""

    graded: tuple[Graded, ...]

    @property
    def in_scope(self) -> list[Graded]:
        """The questions some entry should answer."""
        return [g for g in self.graded if g.labelled.in_scope]

    @property
    def out_of_scope(self) -> list[Graded]:
        """The questions about something else."""
        return [g for g in self.graded if not g.labelled.in_scope]

    def _share(self, part: int, whole: int) -> float:
        return part / whole if whole else 0.0

    @property
    def right_at_once(self) -> float:
        """Share of in-scope questions answered right at once."""
        return self._share(sum(g.right for g in self.in_scope), len(self.in_scope))

    @property
    def within_one_tap(self) -> float:
        """Share of in-scope questions right at once or one tap away."""
        return self._share(sum(g.one_tap for g in self.in_scope), len(self.in_scope))

    @property
    def wrong(self) -> float:
        """Share of in-scope questions answered with a wrong entry."""
        return self._share(
            sum(g.answered and not g.right for g in self.in_scope), len(self.in_scope)
        )

    @property
    def wrong_sure(self) -> float:
        """Share of in-scope questions answered wrongly and as sure."""
        count = sum(
            g.answered and not g.right and g.certainty is Certainty.SURE for g in self.in_scope
        )
        return self._share(count, len(self.in_scope))

    @property
    def out_of_scope_answered(self) -> float:
        """Share of out-of-scope questions answered as if they were about STO."""
        return self._share(sum(g.answered for g in self.out_of_scope), len(self.out_of_scope))

    @property
    def meets_targets(self) -> bool:
        """Whether every figure is within its target."""
        return (
            self.right_at_once >= MIN_RIGHT_AT_ONCE
            and self.wrong <= MAX_WRONG
            and self.wrong_sure <= MAX_WRONG_SURE
            and self.out_of_scope_answered <= MAX_OUT_OF_SCOPE_ANSWERED
        )

    def calibration(self) -> list[tuple[str, int, float, float]]:
        """Per band: how many questions, how often the best match was right (shown or not; for
        an out-of-scope question: an out-of-scope reply), and the mean predicted probability."""
        rows = []
        for band in ("sure", "likely", "suggest", "fallback", "other"):
            members = [g for g in self.graded if g.band_name == band]
            right = sum(g.top_right for g in members)
            mean = sum(g.probability for g in members) / len(members) if members else 0.0
            rows.append((band, len(members), self._share(right, len(members)), mean))
        return rows

    def by_style(self) -> list[tuple[str, int, float]]:
        """Right at once per style of writing (long, english, typo, …), where questions say."""
        styles = sorted({g.labelled.style for g in self.in_scope if g.labelled.style})
        rows = []
        for style in styles:
            members = [g for g in self.in_scope if g.labelled.style == style]
            rows.append((style, len(members), sum(g.right for g in members) / len(members)))
        return rows

    def misses(self) -> list[Graded]:
        """In-scope questions not right at once, and out-of-scope ones answered."""
        return [
            g
            for g in self.graded
            if (g.labelled.in_scope and not g.right) or (not g.labelled.in_scope and g.answered)
        ]


def grade(matcher: Matcher, labelled: Labelled) -> Graded:
    """Rank one labelled question as the assistant would."""
    scored = matcher.rank(labelled.question)
    ranking = scored.ranking
    top = ranking.best.entry_id if ranking.best else None
    kind = matcher.kind(top) if top else None
    offered: tuple[str, ...] = ()
    if ranking.band is Band.SUGGEST:
        offered = tuple(m.entry_id for m in ranking.matches[:MAX_CHOICES])
    elif ranking.certainty is Certainty.LIKELY:
        offered = tuple(m.entry_id for m in ranking.matches[1:MAX_CHOICES])
    top_right = _right(matcher, scored.candidate, labelled)
    return Graded(
        labelled,
        ranking.band,
        ranking.certainty,
        top,
        kind,
        ranking.probability,
        offered,
        top_right,
    )


def evaluate(matcher: Matcher, labelled: Sequence[Labelled]) -> EvalReport:
    """Grade every labelled question."""
    return EvalReport(tuple(grade(matcher, item) for item in labelled))


def _right(matcher: Matcher, candidate: Candidate, labelled: Labelled) -> bool:
    """Whether a text's best entry is what the question needs: a right entry, or for an
    out-of-scope question an out-of-scope reply."""
    if not candidate.matches:
        return False
    top = candidate.matches[0].entry_id
    if labelled.in_scope:
        return top in labelled.accept
    return matcher.kind(top) is EntryKind.ELSEWHERE


def fit_decision(matcher: Matcher, labelled: Sequence[Labelled]) -> tuple[Decision, list[Outcome]]:
    """Fit the decision on labelled questions: the model on every text tried, the thresholds
    on cross-validated probabilities (each question judged by a model that never saw it).
    Returns the decision and the cross-validated outcomes."""
    matched = [matcher.candidates(item.question) for item in labelled]
    samples = [
        Sample(index, candidate.features, _right(matcher, candidate, item), 1 / len(candidates))
        for index, (item, candidates) in enumerate(zip(labelled, matched, strict=True))
        for candidate in candidates
    ]
    outcomes: list[Outcome] = []
    for training, held_out in folds(len(labelled), FOLDS):
        fold_model = model([s for s in samples if s.question in training])
        for index in sorted(held_out):
            item, candidates = labelled[index], matched[index]
            chosen = max(candidates, key=lambda c: _probability(fold_model, c))
            outcomes.append(_outcome(matcher, chosen, fold_model, item))
    decision = model(samples, choose_thresholds(outcomes))
    return decision, outcomes


def _probability(decision: Decision, candidate: Candidate) -> float:
    """As the matcher judges a text: a text that matched nothing is never right."""
    return decision.probability(candidate.features) if candidate.matches else 0.0


def _outcome(matcher: Matcher, chosen: Candidate, decision: Decision, item: Labelled) -> Outcome:
    topical = [m.entry_id for m in chosen.matches if matcher.kind(m.entry_id) is EntryKind.TOPIC]
    top = chosen.matches[0].entry_id if chosen.matches else None
    return Outcome(
        probability=_probability(decision, chosen),
        topical=top is not None and matcher.kind(top) is EntryKind.TOPIC,
        in_scope=item.in_scope,
        right=_right(matcher, chosen, item),
        offered=bool(item.accept & set(topical[:MAX_CHOICES])),
    )
