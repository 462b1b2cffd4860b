"""The phrasing index: per entry, how much of a text it knows and how well its closest phrasing
fits, measured as the pure-Python loops measured it before the arrays."""

from __future__ import annotations

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
}


def measured(
    mapped: dict[str, float], total: float, fitted: int | None = None
) -> dict[str, tuple[float, float]]:
    """Per entry with coverage: (coverage, fit)."""
    index = PhrasingIndex(PHRASINGS, ENTRY_WORDS, IDF)
    fits = index.measure(mapped, total, fitted)
    return {
        index.entry_ids[n]: (fits.coverage[n].item(), fits.fit[n].item())
        for n in fits.named.tolist()
    }


def test_coverage_is_the_share_of_the_text_an_entry_knows_and_fit_the_best_phrasings_f1() -> None:
    # "wat doet een penvoerder": every word weighed by its idf; "een" is a stop word.
    found = measured({"wat": 0.5, "doet": 1.0, "penvoerder": 2.0}, 3.5)
    assert found["taken"] == pytest.approx((1.0, 1.0))  # knows it all, a phrasing says it all
    coverage, fit = found["penvoerder"]
    assert coverage == pytest.approx(2.5 / 3.5)
    # "wat penvoerder" (weight 2.5) shares 2.5 of the text's 3.5: F1 = 2 * 2.5 / (3.5 + 2.5).
    assert fit == pytest.approx(2 * 2.5 / 6.0)
    assert "budget" not in found


def test_a_word_only_the_answer_has_counts_less_and_unknown_words_dilute() -> None:
    # "regio" is in a budget phrasing, and only in the answer of "taken"; 1.0 of the total
    # is a word no entry knows.
    found = measured({"regio": 1.0}, 2.0)
    assert found["budget"][0] == pytest.approx(0.5)
    assert found["taken"] == pytest.approx((0.3 * 0.5, 0.0))  # no phrasing has it: no fit


def test_only_the_best_covering_entries_are_fitted_when_asked() -> None:
    found = measured({"wat": 0.5, "doet": 1.0, "penvoerder": 2.0}, 3.5, fitted=1)
    assert found["taken"][1] == pytest.approx(1.0)
    assert found["penvoerder"] == pytest.approx((2.5 / 3.5, 0.0))  # covered, not fitted


def test_the_language_is_that_of_the_best_fitting_phrasing_with_one() -> None:
    index = PhrasingIndex(PHRASINGS, ENTRY_WORDS, IDF)
    penvoerder = index.number["penvoerder"]
    english = index.measure({"what": 0.5, "penvoerder": 2.0}, 2.5, None)
    assert index.language(english, penvoerder) == "en"
    # The keyword "penvoerder" fits "penvoerder" alone best, but has no language: the next
    # best phrasing's language is taken.
    alone = index.measure({"penvoerder": 2.0}, 2.0, None)
    assert index.language(alone, penvoerder) == "nl"
    assert index.language(index.measure({"budget": 2.0}, 2.0, None), penvoerder) is None


def test_a_text_with_no_known_word_is_known_by_no_entry() -> None:
    assert measured({"onbekend": 1.0}, 1.0) == {}
    assert measured({}, 0.0) == {}
