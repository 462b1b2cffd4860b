"""How typical words are of an entry's phrasings: the naive Bayes evidence beside the score."""

from __future__ import annotations

import math

import pytest

from sto_bot.usage import Usage, shares

PHRASINGS = [
    ("budget", ["hoeveel", "geld", "regio"]),
    ("budget", ["geld", "regio", "krijgen"]),
    ("budget", ["budget", "regio"]),
    ("beschikking", ["wanneer", "beschikking"]),
    ("beschikking", ["beschikking", "regio", "krijgen"]),
    ("beschikking", ["beschikking", "ontvangen"]),
]


def test_a_word_most_of_an_entrys_phrasings_use_is_stronger_evidence() -> None:
    usage = Usage(PHRASINGS)
    # "regio" is in all three budget phrasings and one of the beschikking ones.
    evidence = usage.log_likelihoods({"regio": 1.0, "krijgen": 1.0}, ["budget", "beschikking"])
    assert evidence["budget"] > evidence["beschikking"]
    evidence = usage.log_likelihoods({"beschikking": 1.0}, ["budget", "beschikking"])
    assert evidence["beschikking"] > evidence["budget"]


def test_a_mistyped_word_counts_less() -> None:
    usage = Usage(PHRASINGS)
    sure = usage.log_likelihoods({"geld": 1.0}, ["budget", "beschikking"])
    unsure = usage.log_likelihoods({"geld": 0.5}, ["budget", "beschikking"])
    assert sure["budget"] - sure["beschikking"] > unsure["budget"] - unsure["beschikking"] > 0


def test_shares_weigh_the_leaders_against_all_entries() -> None:
    usage = Usage(PHRASINGS)
    words = {"geld": 1.0, "regio": 1.0}
    evidence = usage.log_likelihoods(words, ["budget", "beschikking"])
    found = shares(evidence, usage.background(words), others=0)
    assert math.fsum(found.values()) == pytest.approx(1.0)
    assert found["budget"] > 0.8
    # Entries not weighed count as typical ones: with many of them, even a clear leader's
    # share is smaller, and a leader alone is not surely right because no other was weighed.
    assert shares(evidence, usage.background(words), others=100)["budget"] < found["budget"]
    common = {"regio": 1.0}
    alone = shares(usage.log_likelihoods(common, ["beschikking"]), usage.background(common), 5)
    assert alone["beschikking"] < 0.5
    assert shares({}, 0.0, 3) == {}
    # Far apart log-likelihoods do not overflow.
    assert shares({"a": -1000.0, "b": 0.0}, -2000.0, 9) == pytest.approx({"a": 0.0, "b": 1.0})
