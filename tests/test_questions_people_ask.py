"""Questions as people type them in a chat: long and chatty, two at once, about other
programmes, or answered with a "likely" that says which question it answered."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from conftest import run_cli

from sto_bot.assistant import Assistant
from sto_bot.decision import Thresholds
from sto_bot.knowledge import EntryKind, KnowledgeBase
from sto_bot.loader import load_eval
from sto_bot.matcher import OWN_WORDS
from sto_bot.menus import Menus
from sto_bot.models import Band, Certainty
from sto_bot.text import Normaliser

LONG_MESSAGES = [
    (
        "Goedemorgen, ik ben sinds kort directeur van een vmbo in Emmen en probeer wegwijs te "
        "worden in alle regelingen. Kan ik zelf een aanvraag indienen?",
        "wie-vraagt-aan",
    ),
    (
        "Hallo! Ik ben controller bij een onderwijsstichting met drie vmbo-locaties. We willen de "
        "meerjarenbegroting rond krijgen. Hoeveel procent cofinanciering moeten de bedrijven "
        "leveren? Alvast bedankt!",
        "cofinanciering",
    ),
    (
        "Good afternoon, I sit on the board of a school foundation in Rotterdam and I am new to "
        "this programme. Who actually submits the application for the STO grant? Many thanks",
        "wie-vraagt-aan",
    ),
    (
        "Beste, wij zijn een vmbo-school in Zeeland en werken al jaren samen met het ROC. Welke "
        "drie thema's moeten in het plan terugkomen? Met vriendelijke groet, Petra",
        "themas",
    ),
]

TWO_QUESTIONS = [
    (
        "Wat is een penvoerder? En hoeveel cofinanciering is er nodig?",
        "penvoerder",
        "cofinanciering",
    ),
    # Two questions in one sentence, joined by ", en" or by "en" and a verb.
    (
        "Hoeveel cofinanciering is nodig, en wanneer moest de aanvraag binnen zijn?",
        "cofinanciering",
        "aanvraagperiode",
    ),
    ("Hoeveel regio's zijn er en moet het mbo meedoen?", "aantal-regios", "samenwerking-mbo"),
    # A short second question leaning on the first is read as a follow-up to it.
    (
        "Hoeveel cofinanciering is nodig? En in de vorige periode?",
        "cofinanciering",
        "cofinanciering-vorige-periode",
    ),
    (
        "Hoeveel mag een techniekregio aanvragen? En voor techniekluwe regio's?",
        "budget-techniekregio",
        "budget-techniekluwe-regio",
    ),
    (
        "Hoi, twee dingen. Wanneer moest het plan voor 2027-2028 binnen zijn? "
        "En moeten basisscholen meedoen?",
        "uitgewerkt-plan",
        "primair-onderwijs",
    ),
]

OTHER_PROGRAMMES = [
    "Wanneer kan ik de NPO-subsidie aanvragen?",
    "Hoe werkt het Regionaal Investeringsfonds mbo?",
    "Can we get Erasmus+ funding for a school trip abroad?",
    "Hoe vraag ik een lerarenbeurs aan?",
    "subsidie gelijke kansen aanvragen",
    "Wat is de hoofdstad van Frankrijk?",
    "hoe laat is het?",
    "What time is it?",
    # Another programme named without STO, asked in STO's words: about that programme.
    "Can we use Erasmus+ funding to pay for new machines in our workshop?",
    "Hoeveel cofinanciering moeten bedrijven bijdragen aan een RIF-project?",
    "Kunnen we met NPO-geld nieuwe machines voor het techniekgebouw kopen?",
    # The STO-looking second question points back to the other programme ("die").
    "Wij willen een zij-instromer als docent techniek aannemen. Hoe hoog is de subsidie "
    "zij-instroom en wanneer moet ik die aanvragen?",
    # A programme named only by what it is for, then a question of its own that points back.
    "Onze school heeft veel leerlingen met een extra ondersteuningsbehoefte en daar schijnt "
    "subsidie voor te zijn. Tot wanneer kan ik die aanvragen?",
    # ... or asks in words that any subsidy has.
    "Ik hoorde van de subsidie voor leerlingen met een extra ondersteuningsbehoefte. Wie mag "
    "de aanvraag indienen?",
]

# Combining STO with another programme is STO's own question, also without the word STO.
COMBINING = [
    ("Is dubbele financiering met NPO toegestaan?", "dubbele-financiering"),
    ("Mogen we de regeling stapelen met de lerarenbeurs?", "dubbele-financiering"),
    ("Mag je STO combineren met Erasmus+?", "dubbele-financiering"),
    # Another programme first, then a question that names STO or a word of STO's own.
    ("Ik las iets over de ventilatiesubsidie. Wie mag STO aanvragen?", "wie-vraagt-aan"),
    ("I read about the ventilation grant. Who can apply for STO?", "wie-vraagt-aan"),
    ("Wij doen mee aan NPO. Wanneer kan ik STO aanvragen?", "aanvraagperiode"),
    (
        "We hebben de suvis-regeling al gehad. Hoeveel krijgt een techniekregio dan?",
        "budget-techniekregio",
    ),
]

SMALL_TALK = [
    ("thanks, that is helpful", "bedankt"),
    ("dank je, dat hielp", "bedankt"),
    ("dank je", "bedankt"),
    ("Goedemorgen!", "groet"),
    # A greeting and an introduction, no question yet: greeted, and asked what they want.
    ("Hallo, ik ben nieuw als directeur.", "groet"),
    ("Good morning, I am the new principal of a vmbo school in Emmen.", "groet"),
    ("hoe gaat het?", "hoe-gaat-het"),
    # An acknowledgement, not a question about something "ok".
    ("ok bedankt", "bedankt"),
    ("top, dankjewel!", "bedankt"),
    # Greeting someone "there", asking back, asking for the source: none of it is a question
    # about STO, nor a reason to say there is no reliable answer.
    ("Hallo daar!", "groet"),
    ("Hi there", "groet"),
    ("huh?", "onduidelijk"),
    ("wat bedoel je daarmee?", "onduidelijk"),
    ("bron?", "bron"),
    ("waar staat dat?", "bron"),
    ("where does it say that?", "bron"),
    ("hoe heet je?", "wie-ben-jij"),
    ("bedankt, dat was het", "bedankt"),
]

# The hour of a deadline is STO's own; the clock is not.
DEADLINE_HOURS = [
    ("Hoe laat sloot het aanvraagloket op 1 oktober 2024?", "aanvraagperiode"),
    ("At what time did the STO application window open?", "aanvraagperiode"),
]


@pytest.mark.parametrize(("message", "entry"), LONG_MESSAGES)
def test_a_long_message_gets_the_answer_to_its_question(
    assistant: Assistant, message: str, entry: str
) -> None:
    """The question is found behind the greeting and the introduction: answered, or where the
    decision is not sure enough, offered as the first "bedoelt u…?" choice, never a fallback."""
    result = assistant.ask(message)
    if result.status is Band.SUGGEST:
        assert result.suggestions[0].entry == entry
    else:
        assert (result.status, result.entry) == (Band.ANSWER, entry)


@pytest.mark.parametrize(("message", "first", "second"), TWO_QUESTIONS)
def test_two_questions_get_one_answer_and_the_other_offered(
    assistant: Assistant, message: str, first: str, second: str
) -> None:
    result = assistant.ask(message)
    assert (result.status, result.entry) == (Band.ANSWER, first)  # the one asked first
    assert result.suggestions[0].entry == second
    assert assistant.texts.get("also_asked", "nl") in result.text
    assert len({s.entry for s in result.suggestions}) == len(result.suggestions)


def test_of_two_questions_the_first_comes_first_even_when_the_second_is_surer(
    assistant: Assistant,
) -> None:
    """People ask the main question first: the second is not answered in its place; when the
    first is only offered, the second is one of the choices too."""
    result = assistant.ask(
        "Tot wanneer loopt de regeling eigenlijk? En wordt het budget nog geïndexeerd?"
    )
    offered = [s.entry for s in result.suggestions]
    if result.status is Band.ANSWER:
        assert result.entry == "naam-en-looptijd" and "budget-indexatie" in offered
    else:
        assert result.status is Band.SUGGEST
        assert offered[0] == "naam-en-looptijd" and "budget-indexatie" in offered


def test_an_introduction_full_of_words_does_not_outweigh_the_question(
    assistant: Assistant,
) -> None:
    message = (
        "Hallo, ik ben directeur van een vmbo in Emmen en wij werken samen met bedrijven in de "
        "regio. Wat is een penvoerder?"
    )
    result = assistant.ask(message)
    assert (result.status, result.entry) == (Band.ANSWER, "penvoerder")


def test_an_sto_question_beside_another_subject_is_answered(assistant: Assistant) -> None:
    result = assistant.ask("Wat is een penvoerder? Wanneer kan ik de NPO-subsidie aanvragen?")
    assert (result.status, result.entry) == (Band.ANSWER, "penvoerder")


def test_no_reply_offers_the_same_button_twice(
    assistant: Assistant, knowledge: KnowledgeBase
) -> None:
    menus = Menus(knowledge)
    for item in load_eval(knowledge.root / "eval", knowledge.coverage):
        options = menus.answer_reply(assistant.ask(item.question)).options
        assert len({o.id for o in options}) == len(options), item.question


def test_the_question_in_a_very_long_message_is_still_found(assistant: Assistant) -> None:
    """6,000 characters: the matcher reads the first 4,000 and finds the question in them."""
    context = "Wij zijn een school met veel leerlingen en we doen graag mee aan projecten. " * 80
    result = assistant.ask("Wat is een penvoerder? " + context)
    assert (result.status, result.entry) == (Band.ANSWER, "penvoerder")


@pytest.mark.parametrize("question", OTHER_PROGRAMMES)
def test_other_programmes_are_not_answered_as_sto(
    assistant: Assistant, knowledge: KnowledgeBase, question: str
) -> None:
    result = assistant.ask(question)
    assert result.status is Band.FALLBACK and result.entry is None
    assert "STO" in result.text
    sto_answers = {
        entry.answer[result.language]
        for entry in knowledge.entries.values()
        if entry.kind is EntryKind.TOPIC
    }
    assert result.text not in sto_answers


@pytest.mark.parametrize(("message", "entry"), COMBINING)
def test_combining_sto_with_another_programme_is_an_sto_question(
    assistant: Assistant, message: str, entry: str
) -> None:
    result = assistant.ask(message)
    first = result.entry if result.status is Band.ANSWER else result.suggestions[0].entry
    assert first == entry


@pytest.mark.parametrize(("message", "entry"), SMALL_TALK)
def test_small_talk_gets_small_talk_and_not_the_clock(
    assistant: Assistant, message: str, entry: str
) -> None:
    result = assistant.ask(message)
    assert (result.status, result.entry) == (Band.ANSWER, entry)


@pytest.mark.parametrize(("question", "entry"), DEADLINE_HOURS)
def test_the_hour_of_a_deadline_is_not_the_clock(
    assistant: Assistant, knowledge: KnowledgeBase, question: str, entry: str
) -> None:
    result = assistant.ask(question)
    assert result.entry == entry or result.suggestions[0].entry == entry
    # While the clock, asked for in words some deadline questions share, is told as such.
    clock = knowledge.entries["clock"].answer
    assert assistant.ask("hoe laat is het?").text == clock["nl"]
    assert assistant.ask("What time is it?").text == clock["en"]


def test_the_fallback_for_an_sto_question_does_not_call_it_off_topic(
    assistant: Assistant, knowledge: KnowledgeBase
) -> None:
    off_topic = knowledge.texts.get("fallback_off_topic", "nl")
    assert assistant.ask("xqzv plorp wibble").text == off_topic
    on_topic = assistant.ask("Welke kleur heeft het logo van STO?")
    assert on_topic.status is Band.FALLBACK
    assert on_topic.text == knowledge.texts.get("fallback", "nl") != off_topic


def test_a_likely_answer_names_its_question_and_offers_the_runners_up(
    knowledge: KnowledgeBase,
) -> None:
    """With a decision that is never sure, every answer is a likely one."""
    assert knowledge.decision is not None
    unsure = replace(
        knowledge.decision, thresholds=Thresholds(sure=1.01, likely=0.3, suggest=0.1, other=0.9)
    )
    assistant = Assistant(replace(knowledge, decision=unsure))
    result = assistant.ask("Hoeveel cofinanciering moeten bedrijven leveren?")
    assert result.status is Band.ANSWER and result.certainty is Certainty.LIKELY
    entry = knowledge.entries[result.entry or ""]
    intro = knowledge.texts.get("likely_intro", "nl", question=entry.title("nl"))
    assert result.text.startswith(intro)
    assert result.suggestions and all(s.entry != entry.id for s in result.suggestions)
    record = result.as_json()
    assert record["status"] == "answer" and record["certainty"] == "likely"


def test_ask_json_says_sure_likely_or_nothing() -> None:
    questions = ["Wat is een penvoerder?", "Wanneer kan ik de NPO-subsidie aanvragen?", "regio"]
    result = run_cli("ask", "--json", "-", stdin="\n".join(questions).encode() + b"\n")
    records = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [(r["status"], r["certainty"]) for r in records] == [
        ("answer", "sure"),
        ("fallback", None),
        ("suggest", None),
    ]


def test_the_words_that_keep_a_message_about_sto_are_the_lexicons(knowledge: KnowledgeBase) -> None:
    """The matcher names STO and double funding by the lexicon's canonical words."""
    normaliser = Normaliser(knowledge.lexicon)
    assert normaliser.tokens("Sterk Techniekonderwijs") == ["sto"]
    assert normaliser.tokens("stapelen")[0] in OWN_WORDS
    assert normaliser.tokens("combineren")[0] in OWN_WORDS
    assert set(normaliser.tokens("STO dubbel")) == OWN_WORDS


def test_a_dutch_word_typed_with_a_slip_is_answered_in_dutch(assistant: Assistant) -> None:
    """Newcomer: "penvorder" got English, since an English phrasing has that typo on purpose
    ("whats a penvorder") and one word's best phrasing decided the language."""
    result = assistant.ask("penvorder")
    assert (result.entry, result.language) == ("penvoerder", "nl")
    assert assistant.ask("whats a penvorder").language == "en"  # English words still say so


def test_a_message_cut_short_claims_no_second_question(assistant: Assistant) -> None:
    """Newcomer: cut at 4,000 characters, the last sentence's half was offered as another
    question ("U stelde nog een vraag…: Was de cofinanciering niet 7,5%?")."""
    message = "Wij zijn een vmbo school en willen weten hoe het zit met de cofinanciering. " * 60
    result = assistant.ask(message)
    assert result.entry == "cofinanciering"
    assert "nog een vraag" not in result.text
