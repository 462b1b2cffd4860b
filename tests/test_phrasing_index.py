"""The phrasing index: per entry, how much of a text it knows and how well its closest phrasing
fits, and the language of that phrasing."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest

from sto_bot.phrasing_index import Phrasing, PhrasingIndex

IDF = {"penvoerder": 2.0, "wat": 0.5, "doet": 1.0, "budget": 2.0, "regio": 1.0, "what": 0.5}
PHRASINGS = [
    Phrasing("penvoerder", "nl", ["wat", "penvoerder"]),
    Phrasing("penvoerder", "en", ["what", "penvoerder"]),
    Phrasing("penvoerder", None, ["penvoerder"]),  # a keyword
    Phrasing("taken", "nl", ["wat", "doet", "penvoerder"]),
    Phrasing("budget", "nl", ["budget", "regio"]),
]
ENTRY_WORDS = {
    "penvoerder": [("wat", 1.0), ("what", 1.0), ("penvoerder", 1.0)],
    "taken": [("wat", 1.0), ("doet", 1.0), ("penvoerder", 1.0), ("regio", 0.3)],  # 0.3: answer
    "budget": [("budget", 1.0), ("regio", 1.0)],
    "begrippen": [("regio", 0.3)],  # known only by a word of its answer: no phrasing
}
WHAT_DOES_A_PENVOERDER_DO = {"wat": 0.5, "doet": 1.0, "penvoerder": 2.0}


def measured(
    mapped: dict[str, float], total: float, fitted: int | None = None
) -> dict[str, tuple[float, float]]:
    """Per entry with coverage: (coverage, fit)."""
    index = PhrasingIndex(PHRASINGS, ENTRY_WORDS, IDF)
    fits = index.measure(mapped, total, fitted)
    return {
        index.entry_ids[n]: (fits.coverage[n].item(), fits.fit[n].item())
        for n in fits.covering.tolist()
    }


def test_coverage_is_the_share_of_the_text_an_entry_knows_and_fit_the_best_phrasings_f1() -> None:
    # "wat doet een penvoerder": every word weighed by its idf; "een" is a stop word.
    found = measured(WHAT_DOES_A_PENVOERDER_DO, 3.5)
    assert found["taken"] == pytest.approx((1.0, 1.0))  # knows it all, a phrasing says it all
    coverage, fit = found["penvoerder"]
    assert coverage == pytest.approx(2.5 / 3.5)
    # "wat penvoerder" (weight 2.5) shares 2.5 of the text's 3.5: F1 = 2 * 2.5 / (3.5 + 2.5).
    assert fit == pytest.approx(2 * 2.5 / 6.0)
    assert "budget" not in found


def test_a_word_only_the_answer_has_counts_less_and_unknown_words_dilute() -> None:
    # "regio" is in a budget phrasing, and only in the answers of "taken" and "begrippen";
    # 1.0 of the total is a word no entry knows.
    found = measured({"regio": 1.0}, 2.0)
    assert found["budget"][0] == pytest.approx(0.5)
    assert found["taken"] == pytest.approx((0.3 * 0.5, 0.0))  # no phrasing has it: no fit
    assert found["begrippen"] == pytest.approx((0.3 * 0.5, 0.0))  # no phrasing at all


def test_only_the_best_covering_entries_are_fitted_when_asked() -> None:
    found = measured(WHAT_DOES_A_PENVOERDER_DO, 3.5, fitted=1)
    assert found["taken"][1] == pytest.approx(1.0)
    assert found["penvoerder"] == pytest.approx((2.5 / 3.5, 0.0))  # covered, not fitted
    assert measured(WHAT_DOES_A_PENVOERDER_DO, 3.5, fitted=2) == measured(
        WHAT_DOES_A_PENVOERDER_DO, 3.5
    )  # as many fitted as cover it: all are


def test_the_language_is_that_of_the_best_fitting_phrasing_that_has_one() -> None:
    index = PhrasingIndex(PHRASINGS, ENTRY_WORDS, IDF)
    penvoerder = index.number["penvoerder"]
    english = index.measure({"what": 0.5, "penvoerder": 2.0}, 2.5, None)
    assert index.language(english, penvoerder) == "en"
    # The keyword fits "penvoerder" alone best (F1 1.0) but has no language; the two question
    # phrasings tie behind it (F1 0.89), and of equals the first is taken.
    alone = index.measure({"penvoerder": 2.0}, 2.0, None)
    assert index.language(alone, penvoerder) == "nl"
    assert index.language(index.measure({"budget": 2.0}, 2.0, None), penvoerder) is None
    unfitted = index.measure(WHAT_DOES_A_PENVOERDER_DO, 3.5, fitted=1)
    assert index.language(unfitted, penvoerder) is None
    assert index.language(unfitted, index.number["begrippen"]) is None


def test_a_text_with_no_known_word_is_known_by_no_entry() -> None:
    assert measured({"onbekend": 1.0}, 1.0) == {}
    assert measured({}, 0.0) == {}


def loops(
    phrasings: list[Phrasing],
    entry_words: dict[str, list[tuple[str, float]]],
    idf: dict[str, float],
    mapped: dict[str, float],
    total: float,
) -> dict[str, tuple[float, float]]:
    """The measure written out as plain loops over every phrasing: what the arrays must give."""
    coverage: dict[str, float] = defaultdict(float)
    for entry_id, words in entry_words.items():
        for word, strength in words:
            if word in mapped:
                coverage[entry_id] += strength * mapped[word] / total
    fit: dict[str, float] = defaultdict(float)
    for phrasing in phrasings:
        distinct = set(phrasing.words)
        overlap = sum(mapped.get(word, 0.0) for word in distinct)
        weight = sum(idf[word] for word in distinct)
        fit[phrasing.entry_id] = max(fit[phrasing.entry_id], 2 * overlap / (total + weight))
    return {entry_id: (value, fit[entry_id]) for entry_id, value in coverage.items()}


def test_the_arrays_measure_what_plain_loops_over_every_phrasing_measure() -> None:
    chance = random.Random(12)
    vocabulary = [f"w{n}" for n in range(30)]
    idf = {word: chance.uniform(0.2, 3.0) for word in vocabulary}
    for _ in range(50):
        phrasings = [
            Phrasing(
                f"e{chance.randrange(8)}", "nl", chance.sample(vocabulary, chance.randint(1, 6))
            )
            for _ in range(40)
        ]
        entry_words: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for phrasing in phrasings:
            known = {word for word, _ in entry_words[phrasing.entry_id]}
            entry_words[phrasing.entry_id] += [(w, 1.0) for w in set(phrasing.words) - known]
        entry_words["answer-only"] = [(chance.choice(vocabulary), 0.3)]
        mapped = {w: idf[w] * chance.choice((1.0, 0.8)) for w in chance.sample(vocabulary, 7)}
        total = sum(mapped.values()) + chance.choice((0.0, 1.5))  # with an unknown word or not
        index = PhrasingIndex(phrasings, entry_words, idf)
        fits = index.measure(mapped, total, None)
        found = {
            index.entry_ids[n]: (fits.coverage[n].item(), fits.fit[n].item())
            for n in fits.covering.tolist()
        }
        expected = loops(phrasings, dict(entry_words), idf, mapped, total)
        assert found.keys() == expected.keys()
        for entry_id, values in expected.items():
            assert found[entry_id] == pytest.approx(values), entry_id
