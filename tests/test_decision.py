"""The fitted decision: a logistic model that learns from labelled matches, thresholds where an
answer is worth giving and mistakes stay within their targets, and a fit anyone can reproduce
from the labelled questions."""

from __future__ import annotations

from conftest import run_cli

from sto_bot.decision import (
    FEATURES,
    FIT_MAX_WRONG,
    FIT_MAX_WRONG_SURE,
    SURE_FROM,
    WRONG_ANSWER_COST,
    Decision,
    Outcome,
    Sample,
    choose_thresholds,
    model,
)
from sto_bot.knowledge import KnowledgeBase


def _features(score: float, margin: float) -> dict[str, float]:
    return dict.fromkeys(FEATURES, 0.0) | {"score": score, "margin": margin}


def test_the_model_learns_that_a_clear_high_score_is_right() -> None:
    # Right when score and margin are high, wrong when low: the model must find that out.
    samples = [
        Sample(i, _features(score / 10, margin / 10), score + margin > 10, 1.0)
        for i, (score, margin) in enumerate((s, m) for s in range(11) for m in range(6))
    ]
    decision = model(samples)
    assert decision.probability(_features(0.95, 0.5)) > 0.9
    assert decision.probability(_features(0.3, 0.05)) < 0.1
    assert decision.weights["score"] > 0 and decision.weights["margin"] > 0


def test_an_answer_is_given_from_the_probability_it_is_worth_giving_at() -> None:
    # Right from 0.5 up except one in fifty: the targets hold wherever the threshold is, so it is
    # where a right answer's gain outweighs a wrong one's cost, not as low as the targets allow.
    outcomes = [
        Outcome(0.5 + i / 1000, topical=True, in_scope=True, right=i % 50 != 0, offered=True)
        for i in range(500)
    ]
    thresholds = choose_thresholds(outcomes)
    worth = WRONG_ANSWER_COST / (1 + WRONG_ANSWER_COST)
    assert worth <= thresholds.likely < worth + 0.01
    # Sure only from SURE_FROM, although no sure mistake would be made from 0.87 either.
    assert thresholds.sure == SURE_FROM
    assert thresholds.suggest <= thresholds.likely <= thresholds.sure


def test_the_threshold_rises_where_mistakes_would_exceed_their_target() -> None:
    # 200 questions: probability i/200; the top is right when i is even or above 190, so below
    # 0.95 every other answer would be wrong.
    outcomes = [
        Outcome(i / 200, topical=True, in_scope=True, right=i % 2 == 0 or i > 190, offered=True)
        for i in range(200)
    ]
    thresholds = choose_thresholds(outcomes)
    answered = [o for o in outcomes if o.probability >= thresholds.likely]
    sure = [o for o in outcomes if o.probability >= thresholds.sure]
    assert thresholds.likely > 0.86
    assert sum(not o.right for o in answered) <= FIT_MAX_WRONG * 200
    assert sum(not o.right for o in sure) <= FIT_MAX_WRONG_SURE * 200
    # As low as the target allows: everything above 190, and the few right ones below it.
    assert sum(o.right for o in answered) >= 14


def test_a_confident_mistake_makes_nothing_sure_but_still_lets_answers_through() -> None:
    # 400 questions right from probability 0.5 up, but three wrong ones at 0.995: no threshold
    # below 1 keeps sure mistakes in their target, so every answer is given as "likely".
    outcomes = [
        Outcome(0.5 + i / 800, topical=True, in_scope=True, right=True, offered=True)
        for i in range(397)
    ] + [Outcome(0.995, topical=True, in_scope=True, right=False, offered=True)] * 3
    thresholds = choose_thresholds(outcomes)
    assert thresholds.sure == 1.0
    assert thresholds.likely < 0.87


def test_choices_are_offered_where_two_in_five_would_help() -> None:
    # Answers right above 0.9; below, 100 questions where the right entry is among the choices
    # for two in five: a miss costs half a hit, so offering them all is still worth it.
    outcomes = [
        Outcome(0.91 + i / 1000, topical=True, in_scope=True, right=True, offered=True)
        for i in range(80)
    ] + [
        Outcome(0.3 + i / 1000, topical=True, in_scope=True, right=False, offered=i % 5 < 2)
        for i in range(100)
    ]
    thresholds = choose_thresholds(outcomes)
    assert thresholds.suggest <= 0.3 < thresholds.likely


def test_a_decision_survives_its_own_file_format(knowledge: KnowledgeBase) -> None:
    assert knowledge.decision is not None
    again = Decision.from_mapping(knowledge.decision.as_mapping())
    features = _features(0.8, 0.2)
    assert again.probability(features) == knowledge.decision.probability(features)


def test_the_shipped_decision_is_what_the_labelled_questions_give() -> None:
    """Acceptance 4: one command reproduces the fitted parameters from the labelled data."""
    result = run_cli("kb", "fit", "--check", timeout=120)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
