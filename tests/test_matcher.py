"""Matching tables: typos, word order, English, keywords and questions we must not answer."""

from __future__ import annotations

import pytest

from sto_bot.assistant import Assistant
from sto_bot.knowledge import Entry, EntryKind, KnowledgeBase
from sto_bot.matcher import Matcher
from sto_bot.models import LANGUAGES, Band, Certainty
from sto_bot.text import Lexicon, Normaliser, clean_input, fold

ANSWERED = [
    # plain Dutch
    ("Wat is een penvoerder?", "penvoerder"),
    ("Hoeveel cofinanciering moeten bedrijven leveren?", "cofinanciering"),
    # typos and no capitals or punctuation
    ("wat is een penvoerdr", "penvoerder"),
    ("hoeveel cofinancering is nodig", "cofinanciering"),
    ("wat is een techniekluwe rgeio", "techniekluwe-regio"),
    # word order
    ("penvoerder wat is dat", "penvoerder"),
    # English
    ("What is a penvoerder?", "penvoerder"),
    ("How much co-funding do companies have to provide?", "cofinanciering"),
    ("What are the three themes?", "themas"),
    # keywords
    ("cofinanciering", "cofinanciering"),
    ("thema's", "themas"),
    ("DUS-I mailadres", "dus-i"),
    ("wat is sto", "wat-is-sto"),  # one word that nearly every entry knows
]

NOT_ANSWERED = [
    "Wat is de hoofdstad van Frankrijk?",
    "Hoe vraag ik een lerarenbeurs aan?",
    "rooster volgend schooljaar",
    "Wie wint de Champions League?",
    "Can you recommend a good laptop for teachers?",
    "🙂🙂🙂",
    "?!?!",
]


@pytest.mark.parametrize(("question", "entry"), ANSWERED)
def test_questions_find_their_entry(assistant: Assistant, question: str, entry: str) -> None:
    """Answered at once, or (for a close race with a neighbour) offered first."""
    result = assistant.ask(question)
    if result.status is Band.SUGGEST:
        assert result.suggestions[0].entry == entry
    else:
        assert (result.status, result.entry) == (Band.ANSWER, entry)


@pytest.mark.parametrize("question", NOT_ANSWERED)
def test_out_of_scope_questions_are_not_answered(assistant: Assistant, question: str) -> None:
    assert assistant.ask(question).status is not Band.ANSWER


def test_a_vague_question_gets_two_or_three_suggestions(assistant: Assistant) -> None:
    result = assistant.ask("regio")
    assert result.status is Band.SUGGEST
    assert 2 <= len(result.suggestions) <= 3
    assert len({s.entry for s in result.suggestions}) == len(result.suggestions)


def test_nonsense_falls_back_honestly(assistant: Assistant) -> None:
    result = assistant.ask("xqzv plorp wibble")
    assert result.status is Band.FALLBACK
    assert result.entry is None and result.source is None
    assert result.text == assistant.texts.get("fallback_off_topic", "nl")


def test_the_reply_follows_the_language_of_the_question(assistant: Assistant) -> None:
    assert assistant.ask("Who applies for the subsidy?").language == "en"
    assert assistant.ask("Wie vraagt de subsidie aan?").language == "nl"
    # A town alone is no evidence of a language, however an English phrasing mentions it.
    assert assistant.ask("Zwolle").language == "nl"


def test_normalising_folds_case_accents_and_punctuation() -> None:
    assert fold("Één REGIO's, co-financiering!") == "een regios co financiering"


def test_control_characters_and_broken_surrogates_are_removed() -> None:
    assert clean_input("wat\x00 is\x1b dit\ud800") == "wat  is  dit?"


def test_synonyms_compounds_and_stop_words() -> None:
    lexicon = Lexicon(
        synonyms={"co-financiering": "cofinanciering", "eigen bijdrage": "cofinanciering"},
        compound_parts=frozenset({"techniek", "regio"}),
        stopwords=frozenset({"de", "is", "wat"}),
    )
    normaliser = Normaliser(lexicon)
    assert normaliser.tokens("Wat is de eigen bijdrage?") == ["cofinanciering"]
    assert normaliser.tokens("co-financiering") == ["cofinanciering"]
    assert normaliser.tokens("techniekregio") == ["techniek", "regio"]


def test_a_typo_in_a_long_word_of_a_synonym_is_forgiven() -> None:
    lexicon = Lexicon(synonyms={"sterk techniekonderwijs": "sto", "eigen bijdrage": "cofi"})
    normaliser = Normaliser(lexicon)
    assert normaliser.tokens("regeling sterk techiekonderwijs") == ["regeling", "sto"]
    # A short word must be spelt right ("bijdrage" has eight letters, "eigen" five).
    assert normaliser.tokens("eigen bijdraeg") == ["cofi"]
    assert "cofi" not in normaliser.tokens("eigne bijdrage")


def test_every_entry_is_found_by_its_own_first_question(
    assistant: Assistant, knowledge: KnowledgeBase
) -> None:
    # Surely, too: "Wat is een penvoerder?" typed as we ask it is not answered "Ik denk dat u
    # vraagt: Wat is een penvoerder?".
    missed = [
        (entry.id, language, result.certainty)
        for entry in knowledge.entries.values()
        for language in ("nl", "en")
        if entry.topical
        for result in [assistant.ask(entry.title(language))]
        if result.entry != entry.id or result.certainty is not Certainty.SURE
    ]
    assert missed == []


def test_every_other_subject_is_told_as_such_by_its_own_first_question(
    assistant: Assistant, knowledge: KnowledgeBase
) -> None:
    wrong = [
        (entry.id, language)
        for entry in knowledge.entries.values()
        for language in LANGUAGES
        if entry.kind is EntryKind.ELSEWHERE
        and assistant.ask(entry.title(language)).text != entry.answer[language]
    ]
    assert wrong == []


def test_a_typo_keeps_its_first_letter_and_is_one_slip_in_a_short_word() -> None:
    """A town people name ("Emmen") is not a misspelt knowledge word ("nemen"), nor is a word
    two slips away ("lease", "laser") or, in a short word, one other letter ("wist", "west"):
    such words stay unknown instead of pulling an entry up."""

    def entry(entry_id: str, question: str) -> Entry:
        return Entry(entry_id, "t", {"nl": (question,), "en": (question,)}, {"nl": "-", "en": "-"})

    entries = [
        entry("deelnemen", "welke scholen nemen deel"),
        entry("penvoerder", "wat is een penvoerder"),
        entry("laser", "mag een laser van het geld"),
        entry("windrichting", "richting west"),
    ]
    matcher = Matcher(entries, Normaliser(Lexicon()))

    def found(question: str) -> list[str]:
        return [m.entry_id for m in matcher.rank(question).ranking.matches]

    assert found("penvoerder in emmen") == ["penvoerder"]
    assert found("lease") == []
    assert found("wist") == []
    # A letter swapped, dropped or added is a typo; so is another letter in a long word.
    assert found("nmeen") == ["deelnemen"]
    assert found("wet") == [] and found("wests") == ["windrichting"]
    assert found("penvoerdr")[:1] == ["penvoerder"]
    assert found("penvoarder")[:1] == ["penvoerder"]


def test_a_phrasings_greeting_and_introduction_are_no_evidence() -> None:
    """An editor's long phrasing is indexed as a user's message is matched, without "Hallo, ik
    ben directeur in Emmen.": the town in its introduction does not pull a question there."""

    def entry(entry_id: str, question: str) -> Entry:
        return Entry(entry_id, "t", {"nl": (question,), "en": (question,)}, {"nl": "-", "en": "-"})

    lexicon = Lexicon(fillers=("hallo", "ik ben"))
    entries = [
        entry("aanvrager", "Hallo, ik ben directeur in Emmen. Wie vraagt de subsidie aan?"),
        entry("deelname", "Hoeveel scholen in Emmen doen mee?"),
    ]
    matcher = Matcher(entries, Normaliser(lexicon))
    assert [m.entry_id for m in matcher.rank("emmen").ranking.matches] == ["deelname"]
    # A phrasing whose question says little on its own keeps its context.
    short = Matcher(
        [entry("x", "Hallo, ik ben penvoerder in Emmen. Hoe dan?")], Normaliser(lexicon)
    )
    assert [m.entry_id for m in short.rank("penvoerder emmen").ranking.matches] == ["x"]


def test_a_typo_of_a_synonym_is_read_as_the_word_it_stands_for() -> None:
    """English words are synonyms of Dutch ones, so no phrasing keeps "application" as written;
    "aplication" is still a typo of it, and means "aanvraag"."""

    def entry(entry_id: str, question: str) -> Entry:
        return Entry(entry_id, "t", {"nl": (question,), "en": (question,)}, {"nl": "-", "en": "-"})

    lexicon = Lexicon(synonyms={"application": "aanvraag", "cofunding": "cofinanciering"})
    entries = [
        entry("aanvraag", "wanneer sluit de aanvraag"),
        entry("cofinanciering", "hoeveel cofinanciering is nodig"),
    ]
    matcher = Matcher(entries, Normaliser(lexicon))

    def found(question: str) -> list[str]:
        return [m.entry_id for m in matcher.rank(question).ranking.matches]

    assert found("aplication")[:1] == ["aanvraag"]
    assert found("wanneer sluit de applicaton")[:1] == ["aanvraag"]
    assert found("cofundng")[:1] == ["cofinanciering"]


def test_a_mistyped_stop_word_is_no_unknown_word() -> None:
    """A typed "eigelijk" is "eigenlijk": it says nothing, and must not weigh like a rare word
    that no entry knows (which makes the match look unsure)."""
    lexicon = Lexicon(stopwords=frozenset({"wat", "is", "een", "eigenlijk"}))
    entry = Entry("penvoerder", "t", {"nl": ("wat is een penvoerder",)}, {"nl": "-", "en": "-"})
    matcher = Matcher([entry], Normaliser(lexicon))
    [typed] = matcher.candidates("wat is een penvoerder eigelijk")
    [plain] = matcher.candidates("wat is een penvoerder eigenlijk")
    for feature in ("unknown", "coverage", "fit"):  # only the literal wording differs
        assert typed.features[feature] == plain.features[feature]
    assert typed.features["unknown"] == 0.0
    [other] = matcher.candidates("wat is een penvoerder morgen")
    assert other.features["unknown"] > 0.0
