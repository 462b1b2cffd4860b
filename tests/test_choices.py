"""Typed replies that pick an option on screen, and those that must not."""

from __future__ import annotations

import pytest

from sto_bot.choices import OptionWords, OutOfRange, pick
from sto_bot.dialog import callback_data
from sto_bot.knowledge import KnowledgeBase
from sto_bot.models import Option

OPTIONS = [
    Option("role:lead", "Schoolleider of directeur"),
    Option("ask:techniekluwe-regio", "Wat is een techniekluwe regio?"),
    Option("fb:up", "👍 Nuttig"),
    Option("fb:down", "👎 Niet nuttig"),
]


@pytest.mark.parametrize(
    ("typed", "picked"),
    [
        ("directeur?", "role:lead"),  # a hesitant answer still names its option
        ("👍", "fb:up"),
        ("👍🏽", "fb:up"),  # with a skin tone
        ("👎", "fb:down"),
        ("de laatste", "fb:down"),
        ("the last one", "fb:down"),
        # A question of one's own does not pick a question by part of its label.
        ("en een techniekregio?", None),
        ("(", None),
    ],
)
def test_a_typed_reply_picks_the_option_it_names(typed: str, picked: str | None) -> None:
    found = pick(typed, OPTIONS, OptionWords({}))
    assert (found.id if isinstance(found, Option) else None) == picked


@pytest.mark.parametrize("typed", ["-1", "0", "7"])
def test_a_number_beyond_the_options_is_out_of_range_not_a_question(typed: str) -> None:
    found = pick(typed, OPTIONS, OptionWords({}))
    assert isinstance(found, OutOfRange) and found.count == len(OPTIONS)


# A check question's options with their own words, as knowledge/dialogs/eligibility.yaml gives
# them: "ja" and "nee" keep their shared words too.
REGION = [Option("chk:v1:regio:ja", "Ja"), Option("chk:v1:regio:nee", "Nee")]
REGION_WORDS = OptionWords({"ja": ("ja",), "nee": ("nee",)}).with_own_words(
    {
        "chk:v1:regio:ja": ("in een regio", "techniekregio", "techniekluwe regio"),
        "chk:v1:regio:nee": ("niet in een regio", "geen regio"),
    }
)


@pytest.mark.parametrize(
    ("typed", "picked"),
    [
        ("ja", "chk:v1:regio:ja"),  # the shared words still pick
        ("wij zitten in een regio", "chk:v1:regio:ja"),
        ("Ja hoor, we zijn een techniekluwe regio.", "chk:v1:regio:ja"),
        ("helaas zitten we niet in een regio", "chk:v1:regio:nee"),  # the longer words win
        ("wij hebben geen regio", "chk:v1:regio:nee"),
        # Not an answer: a question, a "not" around the words, or words of both options.
        ("zitten wij in een regio?", None),
        ("hoe weet ik of we in een regio zitten", None),
        ("ik weet niet of we in een techniekregio zitten", None),
        ("een techniekregio of geen regio", None),
        # A long text tells more than an answer does.
        (
            "wij zitten in een regio maar de penvoerder heeft ons nog niets verteld over hoe"
            " dat verder gaat",
            None,
        ),
    ],
)
def test_an_answer_in_ones_own_words_picks_the_option_whose_words_it_holds(
    typed: str, picked: str | None
) -> None:
    found = pick(typed, REGION, REGION_WORDS)
    assert (found.id if isinstance(found, Option) else None) == picked


# The shipped check's own words (knowledge/dialogs/eligibility.yaml) and option words
# (knowledge/conversation.yaml), against answers and against questions typed mid-check.
SHIPPED_CASES = [
    ("wie", "ik ben directeur van een vmbo", "vmbo"),
    ("wie", "wij zijn een roc", "mbo"),
    ("leerwegen", "ja hoor, basis en kader", "ja"),
    ("leerwegen", "we hebben kader en basis", "ja"),
    ("leerwegen", "basis en kader", "ja"),
    ("leerwegen", "alleen tl", "alleen-tl"),
    ("regio", "nee, wij zitten niet in een regio", "nee"),
    ("regio", "No, we are not in a region", "nee"),
    ("regio", "wij zitten in een techniekluwe regio", "ja"),
    ("penvoerder", "ja wij zijn de penvoerder", "ja"),
    ("penvoerder", "nee, dat is een ander bestuur", "nee"),
    ("regiotype", "een techniekluwe regio", "techniekluw"),
    ("regiotype", "onze regio is techniekluw", "techniekluw"),
    ("mbo", "ja met het roc", "ja"),
    ("cofinanciering", "ruim 10 procent", "ja"),
    ("themas", "ja aan alle drie", "ja"),
    ("mbo", "yes with the roc", "ja"),
    ("mbo", "ja dat doen we al jaren", "ja"),
    ("po", "nee nog niet", "nee"),
    ("themas", "ja, maar niet alle drie", "nee"),  # by its label's words
    ("penvoerder", "ja maar wat doet een penvoerder", None),
    # Doubt and guesses (newcomer, session 12): a guess answers, doubt is "Weet ik niet".
    ("regio", "misschien", "weet-niet"),
    ("regio", "dat weet ik eigenlijk niet zeker", "weet-niet"),
    ("regio", "ik denk het wel", "ja"),
    ("regio", "volgens mij niet", "nee"),
    ("mbo", "I think so", "ja"),
    ("po", "maybe", "weet-niet"),
    # Questions, keywords and look-alikes answer nothing (review of session 11).
    ("wie", "ik heb een vraag over het mbo", None),
    ("wie", "mbo-school", None),
    ("wie", "vmbo college", None),
    ("wie", "basisonderwijs verplicht sto", None),
    ("leerwegen", "is kader ook beroepsgericht", None),
    ("leerwegen", "verschil tussen basis en kader", None),
    ("leerwegen", "wij hebben geen kader", None),
    ("regio", "klopt het dat een techniekregio meer geld krijgt", None),
    ("regio", "definitie techniekregio", None),
    ("penvoerder", "het roc is penvoerder", None),
    ("penvoerder", "en wie is de penvoerder", None),
    ("regiotype", "max bedrag techniekluwe regio per jaar", None),
    ("mbo", "met hbo", None),
    ("cofinanciering", "rond de 10", None),
    # Letting something go is no "Nee" in the check.
    ("regio", "laat maar", None),
    ("regio", "annuleren", None),
    ("regio", "never mind", None),
]


@pytest.mark.parametrize(("question", "typed", "picked"), SHIPPED_CASES)
def test_the_shipped_check_understands_answers_and_not_questions(
    knowledge: KnowledgeBase, question: str, typed: str, picked: str | None
) -> None:
    tree = knowledge.check
    options = [
        Option(callback_data(tree.version, question, o.id), o.label["nl"])
        for o in tree.questions[question].options
    ]
    found = pick(typed, options, knowledge.option_words, knowledge.intents.ignore)
    assert (found.id.rsplit(":", 1)[-1] if isinstance(found, Option) else None) == picked


def test_a_guess_never_deletes_nor_shares(knowledge: KnowledgeBase) -> None:
    for yes in ("ho:yes", "forget:yes"):
        options = [Option(yes, "Ja"), Option(yes.replace(":yes", ":no"), "Nee")]
        for guess in ("ik denk het wel", "misschien", "probably"):
            found = pick(guess, options, knowledge.option_words, knowledge.intents.ignore)
            assert not (isinstance(found, Option) and found.id == yes), guess


def test_letting_go_declines_the_consent_and_the_deletion(knowledge: KnowledgeBase) -> None:
    for no in ("ho:no", "forget:no"):
        options = [Option(no.replace(":no", ":yes"), "Ja"), Option(no, "Nee")]
        found = pick("laat maar", options, knowledge.option_words, knowledge.intents.ignore)
        assert isinstance(found, Option) and found.id == no
