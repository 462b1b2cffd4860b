"""How sure to be of a match: a small logistic model over the match's features, fitted on
labelled questions, and the probability thresholds of the bands (sure, likely, suggest).

Hand-set score thresholds answered many right matches as "bedoelt u…?" and a few wrong ones
outright. The model instead learns from labelled questions how often a match with these features
was right. A question is answered when that probability makes an answer worth more than it
risks (`WRONG_ANSWER_COST`); cross-validated probabilities check that the mistakes stay within
their targets. `sto-bot kb fit` refits it; the result is `knowledge/decision.yaml`, data like the
rest of the knowledge.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

# What the matcher measures of its best entry for a text; each is about 0-1.
FEATURES = (
    "score",  # the best entry's score
    "margin",  # its lead over the runner-up
    "coverage",  # how much of the question's weight the entry knows
    "fit",  # how well its closest phrasing fits
    "wording",  # literal similarity of the closest phrasing
    "unknown",  # share of the question's weight no entry knows
    "length",  # how many distinct words of the knowledge the text has (log)
    "piece",  # 1 when a part of the message was matched, not the whole
    "smalltalk",  # 1 when the best entry is small talk
    "elsewhere",  # 1 when the best entry is about something other than STO
    "runner_up",  # the runner-up's score: two strong entries make either less certain
    "agreement",  # share of the message's texts whose best entry is this one
    "likeness",  # the best entry's share of the leaders' naive-Bayes evidence
)

# A wrong answer costs what six right answers gain (a director acts on it; a "bedoelt u…?" costs
# a tap): an answer is worth giving from P(right) = 6/7. Thresholds chosen to just meet the
# targets instead hung on the one question at the edge: a fold's threshold ranged 0.84-0.91,
# and fitting on a harder set raised it to 0.93 for every question. Held out per dev file, the
# fixed point answered 84.6 % right against 83.3 %, at 1.3 % wrong against 1.2 %.
WRONG_ANSWER_COST = 6.0
# An answer is given as sure (without "Ik denk dat u vraagt: …") from P(right) = 0.99: a sure
# mistake is one the reader cannot tell from a fact. (Where the sure mistakes just met their
# target, the threshold moved between 0.98 and 0.99 with a single labelled question.)
SURE_FROM = 0.99
# Targets that guard both, as shares of the cross-validated labelled questions: below the
# targets on unseen questions (issue 9: 1 %, 3 %, 3 %), because many labelled questions also
# shaped the phrasings, so mistakes on them understate those on questions nobody has seen (in
# session 10, 1.4 % wrong there against 2.2 % on the six blind sets, on average). Set nearer the
# operating point (1.5 %), the guard itself decided the threshold, one question either way.
FIT_MAX_WRONG_SURE = 0.005
FIT_MAX_WRONG = 0.02
FIT_MAX_OUT_OF_SCOPE = 0.02
SUGGEST_MISS_COST = 0.5
_L2 = 1.0  # ridge penalty on the (standardised) weights: keeps a small data set from overfitting
_GRID = tuple(round(0.2 + step / 100, 2) for step in range(80))


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The probabilities from which a match is answered surely, likely, or offered."""

    sure: float
    likely: float
    suggest: float
    other: float  # small talk or another subject: the reply for it is given from here on


@dataclass(frozen=True, slots=True)
class Decision:
    """The fitted model: P(right) = sigmoid(bias + sum of weight * standardised feature)."""

    weights: Mapping[str, float]
    means: Mapping[str, float]
    scales: Mapping[str, float]
    bias: float
    thresholds: Thresholds
    # The day it was fitted as of: answers tell dates relative to today, and their words count.
    fitted_on: date | None = None

    def probability(self, features: Mapping[str, float]) -> float:
        """How likely the best entry for these features is the right one."""
        z = self.bias
        for name in FEATURES:
            z += self.weights[name] * (features[name] - self.means[name]) / self.scales[name]
        return _sigmoid(z)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Decision:
        """The decision as `knowledge/decision.yaml` holds it."""
        features = data["features"]
        thresholds = data["thresholds"]
        if any(float(features[name]["scale"]) <= 0 for name in FEATURES):
            raise ValueError("every scale must be above 0")
        fitted = data.get("fitted") or {}
        day = fitted.get("today")
        return cls(
            weights={name: float(features[name]["weight"]) for name in FEATURES},
            means={name: float(features[name]["mean"]) for name in FEATURES},
            scales={name: float(features[name]["scale"]) for name in FEATURES},
            bias=float(data["bias"]),
            thresholds=Thresholds(
                float(thresholds["sure"]),
                float(thresholds["likely"]),
                float(thresholds["suggest"]),
                float(thresholds["other"]),
            ),
            fitted_on=day if isinstance(day, date) else None,
        )

    def as_mapping(self) -> dict[str, Any]:
        """The fitted parameters as plain data, for `knowledge/decision.yaml`."""
        return {
            "bias": round(self.bias, 4),
            "features": {
                name: {
                    "weight": round(self.weights[name], 4),
                    "mean": round(self.means[name], 4),
                    "scale": round(self.scales[name], 4),
                }
                for name in FEATURES
            },
            "thresholds": {
                "sure": self.thresholds.sure,
                "likely": self.thresholds.likely,
                "suggest": self.thresholds.suggest,
                "other": self.thresholds.other,
            },
        }


# Used only when a knowledge folder has no decision.yaml (`kb check` says so): an answer needs a
# clear, high score; anything near it is offered as a choice.
DEFAULT_DECISION = Decision(
    weights={name: 0.0 for name in FEATURES} | {"score": 2.0, "margin": 1.0},
    means={name: 0.0 for name in FEATURES} | {"score": 0.6, "margin": 0.1},
    scales={name: 1.0 for name in FEATURES} | {"score": 0.1, "margin": 0.1},
    bias=0.0,
    thresholds=Thresholds(sure=0.9, likely=0.6, suggest=0.2, other=0.6),
)


@dataclass(frozen=True, slots=True)
class Sample:
    """One matched text of a labelled question: its features and whether its best entry was
    right. A question contributes one sample per text tried, weighted to add up to one."""

    question: int
    features: Mapping[str, float]
    right: bool
    weight: float


def _sigmoid(z: float) -> float:
    if z < -35:
        return 0.0
    return 1.0 / (1.0 + math.exp(-z))


def fit(samples: Sequence[Sample]) -> tuple[dict[str, float], dict[str, float], list[float]]:
    """Means, scales and weights (bias first) of a ridge logistic regression, by Newton steps."""
    count = sum(s.weight for s in samples) or 1.0
    means = {n: sum(s.weight * s.features[n] for s in samples) / count for n in FEATURES}
    scales = {}
    for name in FEATURES:
        variance = sum(s.weight * (s.features[name] - means[name]) ** 2 for s in samples) / count
        scales[name] = math.sqrt(variance) or 1.0
    rows = [[1.0, *((s.features[n] - means[n]) / scales[n] for n in FEATURES)] for s in samples]
    size = len(FEATURES) + 1
    beta = [0.0] * size
    for _ in range(25):
        gradient = [0.0] * size
        hessian = [[0.0] * size for _ in range(size)]
        for row, sample in zip(rows, samples, strict=True):
            p = _sigmoid(sum(b * x for b, x in zip(beta, row, strict=True)))
            error = sample.weight * (p - float(sample.right))
            curvature = sample.weight * max(p * (1 - p), 1e-9)
            for i in range(size):
                gradient[i] += error * row[i]
                scaled = curvature * row[i]
                for j in range(i, size):
                    hessian[i][j] += scaled * row[j]
        for i in range(size):
            for j in range(i):
                hessian[i][j] = hessian[j][i]
            if i:  # the bias is not penalised
                gradient[i] += _L2 * beta[i]
                hessian[i][i] += _L2
        step = _solve(hessian, gradient)
        beta = [b - s for b, s in zip(beta, step, strict=True)]
        if max(abs(s) for s in step) < 1e-8:
            break
    return means, scales, beta


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """x with matrix @ x = vector (Gaussian elimination with partial pivoting)."""
    size = len(vector)
    rows = [[*matrix[i], vector[i]] for i in range(size)]
    for column in range(size):
        pivot = max(range(column, size), key=lambda r: abs(rows[r][column]))
        rows[column], rows[pivot] = rows[pivot], rows[column]
        lead = rows[column][column] or 1e-12
        for r in range(column + 1, size):
            factor = rows[r][column] / lead
            if factor:
                for c in range(column, size + 1):
                    rows[r][c] -= factor * rows[column][c]
    solution = [0.0] * size
    for r in reversed(range(size)):
        known = sum(rows[r][c] * solution[c] for c in range(r + 1, size))
        solution[r] = (rows[r][size] - known) / (rows[r][r] or 1e-12)
    return solution


def model(samples: Sequence[Sample], thresholds: Thresholds | None = None) -> Decision:
    """The fitted decision with the given thresholds (none: only its probabilities are
    wanted, as for judging held-out questions)."""
    means, scales, beta = fit(samples)
    weights = dict(zip(FEATURES, beta[1:], strict=True))
    return Decision(weights, means, scales, beta[0], thresholds or DEFAULT_DECISION.thresholds)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one labelled question got, for choosing thresholds: the probability of the text
    chosen, whether its best entry is on topic and right, and whether a right entry was among
    the choices that a "bedoelt u…?" would offer."""

    probability: float
    topical: bool
    in_scope: bool
    right: bool
    offered: bool


def choose_thresholds(outcomes: Sequence[Outcome]) -> Thresholds:
    """Answer from the probability an answer is worth giving at, and surely from `SURE_FROM`;
    either higher only where the mistakes would exceed their targets."""
    in_scope = sum(o.in_scope for o in outcomes) or 1
    out_of_scope = sum(not o.in_scope for o in outcomes) or 1
    worth = WRONG_ANSWER_COST / (1 + WRONG_ANSWER_COST)

    def wrong_from(threshold: float) -> int:
        return sum(
            o.topical and o.in_scope and not o.right and o.probability >= threshold
            for o in outcomes
        )

    def off_topic_from(threshold: float) -> int:
        return sum(o.topical and not o.in_scope and o.probability >= threshold for o in outcomes)

    likely = next(
        (
            t
            for t in _GRID
            if t >= worth
            and wrong_from(t) <= FIT_MAX_WRONG * in_scope
            and off_topic_from(t) <= FIT_MAX_OUT_OF_SCOPE * out_of_scope
        ),
        0.99,
    )
    # 1.0: (nearly) none is sure, and an answer says which question it took.
    sure = next(
        (
            t
            for t in (*(t for t in _GRID if t >= max(likely, SURE_FROM)), 1.0)
            if wrong_from(t) <= FIT_MAX_WRONG_SURE * in_scope
        ),
        1.0,
    )
    # Below "likely": offer choices where that helps more questions than it bothers. Choices
    # that miss cost half what a hit gains: the reader skips three titles and still has the
    # buttons a fallback offers (rephrase, a consultant).
    suggest, gain = likely, 0.0
    for threshold in _GRID:
        if threshold >= likely:
            break
        band = [o for o in outcomes if o.topical and threshold <= o.probability < likely]
        value = sum(o.in_scope and o.offered for o in band) - SUGGEST_MISS_COST * sum(
            not (o.in_scope and o.offered) for o in band
        )
        if value > gain:
            suggest, gain = threshold, value
    # Small talk and other subjects: a wrong one ("graag gedaan" to a question) costs twice
    # what a right one gains.
    other, gain = likely, 0
    for threshold in _GRID:
        replied = [o for o in outcomes if not o.topical and o.probability >= threshold]
        value = sum(o.right for o in replied) - 2 * sum(not o.right for o in replied)
        if value > gain:
            other, gain = threshold, value
    return Thresholds(sure=sure, likely=likely, suggest=suggest, other=other)


def folds(count: int, k: int) -> Iterable[tuple[set[int], set[int]]]:
    """Question indexes split into k folds, deterministically (every k-th question)."""
    for fold_index in range(k):
        held_out = {q for q in range(count) if q % k == fold_index}
        yield set(range(count)) - held_out, held_out
