"""Finding the question in a chat message: the parts without greetings, introductions, thanks."""

from __future__ import annotations

from sto_bot.segments import Parts, parts, within

FILLERS = ("goedemorgen", "hallo", "ik ben", "alvast bedankt", "bedankt", "met vriendelijke groet")


def test_a_long_message_is_cut_into_its_question_parts() -> None:
    message = (
        "Goedemorgen, ik ben sinds kort directeur van een vmbo in Emmen. "
        "Wij willen graag meer met techniek doen. Kan ik zelf een aanvraag indienen? "
        "Alvast bedankt!"
    )
    found = parts(message, FILLERS)
    assert (
        found.core == "Wij willen graag meer met techniek doen. Kan ik zelf een aanvraag indienen?"
    )
    assert found.sentences == ("Kan ik zelf een aanvraag indienen?",)


def test_two_questions_are_two_sentences_in_the_order_asked() -> None:
    found = parts("Wat is een penvoerder? En hoeveel cofinanciering is nodig?", FILLERS)
    assert found.core is None  # nothing was left out
    assert found.sentences == ("Wat is een penvoerder?", "En hoeveel cofinanciering is nodig?")


def test_a_greeting_clause_is_dropped_but_a_question_never_is() -> None:
    assert parts("Hallo, hoeveel cofinanciering is nodig?", FILLERS) == Parts(
        "hoeveel cofinanciering is nodig?"
    )
    assert parts("Hallo. Ik ben directeur? Wat is een penvoerder", FILLERS).core == (
        "Ik ben directeur? Wat is een penvoerder"
    )
    assert parts("Wat is een penvoerder?", FILLERS) == Parts()


def test_a_message_that_only_greets_has_only_its_opening() -> None:
    assert parts("Goedemorgen! Met vriendelijke groet", FILLERS) == Parts(opening="Goedemorgen!")
    assert parts("Hallo, ik ben de nieuwe directeur.", FILLERS) == Parts(opening="Hallo,")
    assert parts("Goedemorgen", FILLERS) == Parts()  # the opening is the whole
    assert parts("", FILLERS) == Parts()


def test_two_questions_in_one_sentence_are_two_pieces() -> None:
    found = parts("Wanneer vervalt de regeling, en wordt het bedrag geïndexeerd?", FILLERS)
    assert found.sentences == ("Wanneer vervalt de regeling", "wordt het bedrag geïndexeerd?")
    found = parts("wat zijn de drie themas en moeten we daar doelen bij zetten", FILLERS)
    assert found.sentences == ("wat zijn de drie themas", "moeten we daar doelen bij zetten")
    found = parts("wat is de subsidie per jaar en wie is de penvoerder?", FILLERS)
    assert found.sentences == ("wat is de subsidie per jaar", "wie is de penvoerder?")
    found = parts("Who can act as penvoerder, and can that role move to another board?", FILLERS)
    assert found.sentences == ("Who can act as penvoerder", "can that role move to another board?")


def test_joined_nouns_and_an_elliptic_follow_up_stay_one_question() -> None:
    assert parts("Moeten we de havo en het vwo bij ons plan betrekken?", FILLERS) == Parts()
    assert parts("Welke deadlines zijn er geweest en welke komen er nog?", FILLERS) == Parts()
    assert parts("Is dat per jaar of voor de hele periode?", FILLERS) == Parts()
    assert parts("Is het per jaar of is het voor de hele periode?", FILLERS) == Parts()
    assert parts("Can we apply between April and May 2025?", FILLERS) == Parts()
    assert parts("Mag zijn school en zijn bedrijfspartner meedoen?", FILLERS) == Parts()


def test_an_introduction_that_goes_on_without_ik_keeps_the_question() -> None:
    """In "ik ben controller en wil graag weten…" the "ik" is left out; the wish is the question."""
    found = parts(
        "Goedemorgen, ik ben controller en wil graag weten hoe de verantwoording ging.", FILLERS
    )
    assert found.core == "en wil graag weten hoe de verantwoording ging."
    found = parts("Hallo, ik ben docent en zoek een document over de kosten.", FILLERS)
    assert found.core == "en zoek een document over de kosten."


def test_a_text_over_the_limit_is_cut_after_its_last_whole_sentence() -> None:
    text = "Eerste zin is dit. Tweede zin volgt hier. Derde zin wordt afgekapt"
    assert within(text, 60) == "Eerste zin is dit. Tweede zin volgt hier."
    assert within(text, 1000) == text
    assert within("één heel lange zin zonder einde " * 3, 20) == "één heel lange zin z"
    assert within("Aaaa. Bbbb. Cccc. Dddd", 17) == "Aaaa. Bbbb. Cccc."  # a stop at the limit


def test_a_question_announced_with_its_subject_keeps_the_subject() -> None:
    """Newcomer: "Hoi, ik heb een vraag over de cofinanciering" was answered as a greeting."""
    fillers = (
        *FILLERS,
        "hoi",
        "ik heb een vraag",
        "ik heb nog een vraag",
        "hi",
        "i have a question",
    )
    assert (
        parts("Hoi, ik heb een vraag over de cofinanciering", fillers).core == "de cofinanciering"
    )
    assert parts("Hi, I have a question about co-funding", fillers).core == "co-funding"
    found = parts("Hoi, ik heb nog een vraag over hoe het geld verdeeld wordt", fillers)
    assert found.core == "hoe het geld verdeeld wordt"
    assert parts("Hoi, ik heb een vraag", fillers) == Parts(opening="Hoi,")
    assert parts("Hallo, ik heb een vraag over STO.", fillers) == Parts(opening="Hallo,")
