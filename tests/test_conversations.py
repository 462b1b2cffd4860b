"""Issue 10: conversations as people type them, through the console's JSON-lines protocol.

Each conversation is a list of turns: what the user types (or presses) and what the reply
must show. A turn "RESTART" ends the process and starts a new one on the same database; a turn
"CONSULTANT: /oppakken 1" is typed in the consultants' console on that database. Every reply of
every turn is also checked for the rules that hold everywhere: one numbered list per turn, no
traceback, and no typed option word ever answered as a question.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bot.console import CONSOLE_CONSULTANT, CONSULTANTS_CHAT, ConsoleChat
from sto_bot.assistant import Assistant
from sto_bot.buttons import namespace
from sto_bot.dates import fixed_clock
from sto_bot.handover import Consultants
from sto_bot.knowledge import KnowledgeBase
from sto_bot.models import Recipient
from sto_bot.sqlite_store import SqliteStore

TODAY = date(2026, 12, 1)  # a Tuesday: the consultants are at work


@dataclass(frozen=True)
class Expect:
    """What the replies to one turn must (and must not) show."""

    has: tuple[str, ...] = ()  # texts that appear in the replies (case-insensitive)
    lacks: tuple[str, ...] = ()  # texts that must not appear
    options: tuple[str, ...] = ()  # option ids (or id prefixes) that are offered
    labels: tuple[str, ...] = ()  # option labels that are offered
    not_options: tuple[str, ...] = ()  # option ids (or id prefixes) that are not offered
    desk: tuple[str, ...] = ()  # texts that reached the consultants' chat by now
    desk_lacks: tuple[str, ...] = ()  # texts that must not be in the consultants' chat


def has(*texts: str, **more: tuple[str, ...]) -> Expect:
    return Expect(has=texts, **more)


Turn = tuple[str, Expect]
QUESTION_1 = "Vraag 1"
QUESTION_2 = "Vraag 2"
QUESTION_3 = "Vraag 3"
QUESTION_4 = "Vraag 4"
CHECK = [("/check", has(QUESTION_1)), ("een vmbo-school", has(QUESTION_2))]
CONSENT = "Mag ik dit delen?"
INTAKE = [
    ("ik wil een adviseur spreken", has(CONSENT)),
    ("ja", has("Vraag 1 van 5")),
    ("Techcollege Noord", has("Vraag 2 van 5")),
    ("directeur", has("Vraag 3 van 5")),
    ("Groningen", has("Vraag 4 van 5")),
]

CONVERSATIONS: dict[str, list[Turn]] = {
    # 1. Options understood as words: the check
    "check: a label part starts it": [
        ("/check", has(QUESTION_1)),
        ("vmbo", has(QUESTION_2)),
    ],
    # Newcomer: mid-check "opnieuw" got "Kies een nummer van 1 tot 5".
    "check: opnieuw mid-check offers to start over": [
        *CHECK,
        ("opnieuw", has("Opnieuw beginnen", lacks=("Kies een nummer",))),
        ("opnieuw beginnen", has(QUESTION_1)),
    ],
    "check: ja answers": [*CHECK, ("ja", has(QUESTION_3, "STO-regio"))],
    "check: Ja with capitals and a full stop": [*CHECK, ("Ja.", has(QUESTION_3))],
    "check: a typo of ja": [*CHECK, ("jaa", has(QUESTION_3))],
    "check: weet ik niet": [*CHECK, ("weet ik niet", has(QUESTION_3))],
    # A side question shows "bedoelt u…?" instead of the check's buttons: "ja" still answers
    # the check's question, which is what the user was doing.
    "check: ja after a side question answers the check": [
        *CHECK,
        ("wat is het verschil?", has("Bedoelt u")),
        ("ja", has(QUESTION_3)),
    ],
    "check: geen idee": [*CHECK, ("geen idee", has(QUESTION_3))],
    "check: weet niet with a typo": [*CHECK, ("weet ik nie", has(QUESTION_3))],
    "check: nee leads on": [*CHECK, ("ja", has(QUESTION_3)), ("nee", has("regio"))],
    "check: vorige vraag goes back": [
        *CHECK,
        ("ja", has(QUESTION_3)),
        ("vorige vraag", has(QUESTION_2, "leerweg")),
    ],
    "check: terug goes back": [*CHECK, ("terug", has(QUESTION_1))],
    "check: back in English words": [*CHECK, ("back", has(QUESTION_1))],
    "check: stop stops": [*CHECK, ("stop", has("gestopt"))],
    "check: stoppen stops": [*CHECK, ("stoppen", has("gestopt"))],
    "check: klaar stops": [*CHECK, ("klaar", has("gestopt"))],
    "check: a number picks": [("/check", has(QUESTION_1)), ("1", has(QUESTION_2))],
    "check: a number out of range says which work": [
        *CHECK,
        (
            "7",
            has("1 tot 5"),
        ),
        ("ja", has(QUESTION_3)),
    ],
    "check: optie 2 picks the second": [
        *CHECK,
        ("optie 2", has("theoretische", lacks=("Vraag 3",))),
    ],
    "check: words that are no option are told how to answer": [
        ("/check", has(QUESTION_1)),
        ("ja", has("1 tot", QUESTION_1, lacks=("geen betrouwbaar antwoord",))),
    ],
    "check: after a language switch the count is the question's": [
        *CHECK,
        ("in English please", has("English")),
        ("dunno", has("1 to 5", "Question 2")),
    ],
    "check: one word of a label, not its look-alike": [
        *CHECK,
        ("ja", has(QUESTION_3)),
        ("ja", has(QUESTION_4)),
        ("ja, wij zijn penvoerder", has("Vraag 5")),
        ("techniekluwe", has("Vraag 6")),
    ],
    "check: ja to the consultant offer after two misses": [
        ("xqzv plorp", Expect()),
        ("blorf snazzle", has("adviseur")),
        ("ja", has(CONSENT)),
    ],
    "check: a side question is answered, then the check goes on": [
        *CHECK,
        ("Wat is een penvoerder?", has("bevoegd gezag", QUESTION_2)),
        ("ja", has(QUESTION_3)),
    ],
    "check: after a side question a number still picks the check's answer": [
        *CHECK,
        ("Wat is een penvoerder?", has("bevoegd gezag")),
        ("1", has(QUESTION_3)),
    ],
    # After a 👍 for the side answer nothing is left on screen to pick from: the check's
    # question comes back, and "1" answers it (it used to be asked as a question).
    "check: rating a side answer brings the check back, and 1 answers it": [
        *CHECK,
        ("Wat is een penvoerder?", has("bevoegd gezag")),
        ("👍", has("Fijn dat het hielp", QUESTION_2)),
        ("1", has(QUESTION_3)),
    ],
    # Answers in one's own words, with the words knowledge/dialogs/eligibility.yaml lists.
    "check: answers in one's own words": [
        ("/check", has(QUESTION_1)),
        ("ik ben directeur van een vmbo", has(QUESTION_2)),
        ("ja hoor, basis en kader", has(QUESTION_3)),
        ("nee, wij zitten niet in een regio", has("(nog) niet bij een STO-regio")),
    ],
    "check: own words in a question or after geen answer nothing": [
        *CHECK,
        ("wij hebben geen kader", has("1 tot 5", QUESTION_2, lacks=(QUESTION_3,))),
        ("wat is kader?", has(lacks=(QUESTION_3,))),
        ("alleen tl", has("theoretische leerweg valt buiten")),
    ],
    # Newcomer: "terug" at the consent showed the consent again (and again), "laat maar" was a
    # question, and declining in the middle of the check left its question off the screen.
    "intake: terug at the consent goes back to the check": [
        *CHECK,
        ("kan ik iemand spreken", has(CONSENT)),
        ("terug", has("niets gedeeld", QUESTION_2, lacks=(CONSENT,))),
    ],
    "intake: nee at the consent in the check goes back to it": [
        *CHECK,
        ("kan ik iemand spreken", has(CONSENT)),
        ("nee", has("niets gedeeld", QUESTION_2)),
    ],
    "intake: laat maar at the consent shares nothing": [
        ("kan ik iemand spreken", has(CONSENT)),
        ("laat maar", has("niets gedeeld", lacks=(CONSENT,))),
    ],
    "intent: asking for a person in other words": [
        ("kunt u mij doorverbinden", has(CONSENT)),
        ("nee", has("niets gedeeld")),
        ("mag ik een adviseur", has(CONSENT)),
    ],
    "intent: the check asked for in a sentence": [
        ("Hi, can you check whether my school qualifies?", has("Question 1")),
    ],
    "intent: asking for a person in other English words": [
        ("I would like to talk to a person", has("May I share this?")),
    ],
    "topics: terug under a topic's questions shows the topics": [
        ("/onderwerpen", has("Kies een onderwerp")),
        ("3", has("kies een vraag")),
        ("terug", has("Kies een onderwerp", lacks=("Welkom",))),
        ("begrippen", has("Begrippen: kies een vraag")),
    ],
    "check: switching the language shows the check's question in it": [
        *CHECK,
        ("in English please", has("English", "Question 2", labels=("Previous question",))),
        ("/taal nl", has("Nederlands", QUESTION_2)),
    ],
    # Newcomer: an answer the bot half understood showed "bedoelt u…?" with no way back shown.
    "check: bedoelt u in the check says how back to it": [
        *CHECK,
        ("wij hebben alleen PIE", has("Bedoelt u", labels=("Geen van deze: verder met de check",))),
        ("verder", has(QUESTION_2)),
    ],
    "check: the penvoerder question does not presume a known region": [
        *CHECK,
        ("ja", has(QUESTION_3)),
        ("weet ik niet", has(QUESTION_4, lacks=("die regio",))),
    ],
    "check: typed answers all the way to a verdict": [
        *CHECK,
        ("ja", has(QUESTION_3)),
        ("ja", has(QUESTION_4)),
        ("ja, wij zijn penvoerder", has("Vraag 5")),
    ],
    "check: English labels in an English check": [
        ("/taal en", has("English")),
        ("/check", has("Question 1")),
        ("a vmbo school", has("Question 2")),
        ("yes", has("Question 3")),
        ("I don't know", has("Question 4")),
    ],
    # Consent and intake
    "consent: nee shares nothing": [
        ("/adviseur", has(CONSENT)),
        ("nee", has("niets gedeeld")),
    ],
    "consent: ja graag starts the questions": [
        ("/adviseur", has(CONSENT)),
        ("ja graag", has("Vraag 1 van 5")),
    ],
    "consent: yes in English": [
        ("/taal en", has("English")),
        ("/consultant", has("May I share this?")),
        ("yes", has("Question 1 of 5")),
    ],
    "intake: a role by one of its words": [*INTAKE],
    # Newcomer: the card read "Regio: ik weet niet wat u bedoelt".
    "intake: not knowing skips the step instead of answering it": [
        *INTAKE[:4],
        ("ik weet niet wat u bedoelt", has("Vraag 4 van 5")),
        ("hier in de chat", has("Vraag 5 van 5")),
        ("Mag praktijkonderwijs meedoen?", has(desk_lacks=("ik weet niet wat u bedoelt",))),
    ],
    # Review: "ja" under a lone "Overslaan" skipped the question it seemed to agree to.
    # Newcomer: these got unrelated "bedoelt u…?" choices and "geen betrouwbaar antwoord".
    "intake: asking what is shared, or not knowing, at the consent asks it again": [
        ("ik wil een adviseur spreken", has(CONSENT)),
        ("wat deel je dan precies?", has(CONSENT, "samenvatting", not_options=("ask:",))),
        ("weet ik niet", has(CONSENT, lacks=("geen betrouwbaar antwoord",))),
        ("ja", has("Vraag 1 van 5")),
    ],
    "intake: a question about sharing money at the consent is answered, not asked back": [
        ("ik wil een adviseur spreken", has(CONSENT)),
        # (Handled as a question, then the consent again; this one has no answer in the knowledge.)
        ("Mag ik de subsidie delen met een andere school?", has("geen betrouwbaar antwoord")),
    ],
    "intake: a question that begins like letting go reaches the consultant": [
        *INTAKE,
        ("overslaan", has("Vraag 5 van 5")),
        ("Laat maar weten wanneer iemand tijd heeft", has("doorgezet", lacks=("niets gedeeld",))),
    ],
    "intake: ja alone is no school and skips nothing": [
        *INTAKE[:2],
        ("ja", has("Typ het antwoord zelf", "Vraag 1 van 5", lacks=("Vraag 2",))),
        ("Techcollege Noord", has("Vraag 2 van 5")),
        ("directeur", has("Vraag 3 van 5")),
        ("nee", has("Vraag 4 van 5")),
        ("hier in de chat", has("Vraag 5 van 5")),
        ("Mag praktijkonderwijs meedoen?", has(desk=("Techcollege Noord",), desk_lacks=("nee",))),
    ],
    # Newcomer: these became the role ("Rol: laat maar, …") and a menu error.
    "intake: letting the consultant go in words stops and shares nothing": [
        *INTAKE[:3],
        ("laat maar, ik hoef toch geen adviseur", has("niets gedeeld", lacks=("Vraag 3",))),
        ("Wat is een penvoerder?", has("bevoegd gezag", desk_lacks=("laat maar",))),
    ],
    "intake: a short number at the phone step is a phone number, not a button": [
        *INTAKE,
        ("bellen", has("telefoonnummer")),
        ("12", has("geen geldig telefoonnummer", lacks=("Kies een nummer",))),
        ("06 12345678", has("Vraag 5 van 5")),
    ],
    "intake: an unsure answer that names a region keeps it": [
        *INTAKE[:4],
        ("ik weet het niet zeker, regio Twente denk ik", has("Vraag 4 van 5")),
        ("hier in de chat", has("Vraag 5 van 5")),
        ("Mag praktijkonderwijs meedoen?", has(desk=("Twente",))),
    ],
    "intake: telefoon asks for the number": [
        *INTAKE,
        ("telefoon", has("telefoonnummer")),
        ("06 12345678", has("Vraag 5 van 5")),
    ],
    "intake: bellen asks for the number": [*INTAKE, ("bellen", has("telefoonnummer"))],
    # Not stored as an answer: a question instead of a name, a mail address instead of a region.
    "intake: a question is answered, not taken as the organisation": [
        *INTAKE[:2],
        ("wat is een penvoerder?", has("bevoegd gezag", "Vraag 1 van 5")),
        ("Techcollege Noord", has("Vraag 2 van 5")),
    ],
    "intake: waar waren we shows the question": [
        *INTAKE[:2],
        ("sorry, waar waren we?", has("Vraag 1 van 5", lacks=("Vraag 2 van 5",))),
    ],
    "intake: weet ik niet skips": [*INTAKE[:3], ("weet ik niet", has("Vraag 3 van 5"))],
    "intake: terug asks the question before": [
        *INTAKE[:4],
        ("terug", has("Vraag 2 van 5", lacks=("Gestopt",))),
        ("/terug", has("Vraag 1 van 5")),
        ("/terug", has(CONSENT)),  # and no further; "stop" or /annuleer stops
        ("stop", has("Gestopt")),
    ],
    "intake: a mail address is no region": [
        *INTAKE[:4],
        ("m.devries@school.nl", has("e-mailadres", "Vraag 3 van 5")),
    ],
    "waiting: no second offer of a consultant to one who asked": [
        *INTAKE,
        ("overslaan", has("Vraag 5 van 5")),
        ("Mijn vraag over cofinanciering", has("doorgezet")),
        ("/terug", has("blijft staan")),
        ("subsidie voor de kantine", has("STO")),
        ("subsidie voor de fietsenstalling", has(lacks=("tweede vraag op rij",))),
    ],
    "waiting: stop is not sent to the consultants": [
        *INTAKE,
        ("overslaan", has("Vraag 5 van 5")),
        ("Mijn vraag over cofinanciering", has("doorgezet")),
        ("stop", has("praat weer met de assistent", lacks=("ingetrokken",))),
        ("/adviseur", has("toegevoegd")),
        ("/stop", has("praat weer met de assistent", lacks=("Er loopt geen check",))),
    ],
    "waiting: /terug asks the assistant meanwhile": [
        *INTAKE,
        ("hier in de chat", has("Vraag 5 van 5")),
        ("Hoe zit het met cofinanciering?", has("doorgezet")),
        ("/terug", has("praat weer met de assistent", "/adviseur")),
        ("hoeveel cofinanciering is nodig?", has("10%")),
        ("/start", has("ligt nog bij de STO-adviseurs", "/annuleer")),
    ],
    "intake: mail asks for the address": [*INTAKE, ("mail", has("e-mailadres"))],
    "intake: hier keeps it in the chat": [*INTAKE, ("hier in de chat", has("Vraag 5 van 5"))],
    "intake: overslaan skips": [*INTAKE, ("overslaan", has("Vraag 5 van 5"))],
    "intake: a dash skips": [
        ("/adviseur", has(CONSENT)),
        ("ja", has("Vraag 1 van 5")),
        ("-", has("Vraag 2 van 5")),
    ],
    "intake: e-mail is promised as e-mail, not the chat": [
        *INTAKE,
        ("e-mail", has("e-mailadres")),
        ("jan@school.nl", has("Vraag 5 van 5")),
        (
            "Hoe zit het met onze cofinanciering?",
            has("e-mail", "jan@school.nl", lacks=("komt hier in de chat",), desk=("Overdracht",)),
        ),
    ],
    "intake: stop ends the questions": [*INTAKE[:3], ("stop", has("niets gedeeld"))],
    # Menus, topics, suggestions, forget
    "menu: a menu label picks it": [("/start", has("Welkom")), ("stel een vraag", has("Typ"))],
    "menu: the check button by its words": [
        ("/start", has("Welkom")),
        ("check of uw school in aanmerking komt", has(QUESTION_1)),
    ],
    "topics: a topic by its name": [
        ("/onderwerpen", has("Kies een onderwerp")),
        ("budget en cofinanciering", has("kies een vraag", options=("ask:cofinanciering",))),
    ],
    "topics: a topic with a typo": [
        ("/onderwerpen", has("Kies een onderwerp")),
        ("begripen", has("kies een vraag")),
    ],
    "suggestions: the second one, in words": [
        ("vroeger", has("Bedoelt u", options=("menu:none",))),
        ("de tweede", has("jaarverslag", lacks=("Bedoelt u",))),
    ],
    "keywords: a topic's name offers that topic's questions": [
        ("budget", has("Budget en cofinanciering", options=("topic:budget",))),
        ("1", has("kies een vraag", options=("ask:budget-totaal",))),
        # Asked twice in a row it is still offered: the way on is the topic, not yet a person.
        ("subsidiehoogte", has(options=("topic:budget",))),
        ("subsidie hoogte", has(options=("topic:budget",))),
    ],
    # Newcomer, session 12: "ja" to several choices asks which one; "ja, die eerste" takes it.
    "suggestions: a bare ja asks which one": [
        ("vroeger", has("Bedoelt u", options=("menu:none",))),
        ("ja", has("Kies een nummer van 1 tot", options=("menu:none",), lacks=("betrouwbaar",))),
        ("ja, die tweede", has("jaarverslag", lacks=("Bedoelt u",))),
    ],
    "suggestions: yes the first one, in English": [
        ("/taal en", has("English")),
        ("vroeger", has("Did you mean", options=("menu:none",))),
        ("yes the first one", has(lacks=("Did you mean", "reliable"))),
    ],
    "smalltalk: asking to ask, coming back, saying goodbye": [
        ("stel een vraag", has("Stel uw vraag gerust", lacks=("betrouwbaar",))),
        ("hoi, ik ben er weer", has("Goedendag")),
        ("dank u, tot morgen", has("Tot ziens")),
    ],
    "intake: I don't know is no region": [
        ("/taal en", has("English")),
        ("/consultant", has("share")),
        ("yes", has("Question 1 of 5")),
        ("Techcollege Noord", has("Question 2 of 5")),
        ("director", has("Question 3 of 5")),
        ("I don't know", has("Question 4 of 5")),
        ("/mydata", has(lacks=("region: I don",))),
    ],
    "suggestions: de laatste is the last button": [
        ("vroeger", has("Bedoelt u", options=("menu:none",))),
        ("de laatste", has("anders te formuleren")),
    ],
    "suggestions: geen van deze": [
        ("vroeger", has("Bedoelt u", options=("menu:none",))),
        ("geen van deze", has("anders te formuleren")),
    ],
    # "bron?" right after an answer: where that answer comes from, every source of it.
    "source: of the answer just given": [
        ("hoeveel cofinanciering is nodig?", has("10%")),
        ("bron?", has('"Hoeveel cofinanciering is nodig?"', "stcrt-2024-11193")),
        ("hallo", has("Goedendag")),
        ("bron?", has("Onder elk antwoord staat de bron", lacks=("komt uit deze",))),
    ],
    "forget: ja deletes": [("/vergeet", has("Weet u het zeker")), ("ja", has("verwijderd"))],
    "forget: nee keeps": [("/vergeet", has("Weet u het zeker")), ("nee", has("Niets verwijderd"))],
    "forget: asked in a sentence of one's own": [
        ("ik wil dat jullie mijn data verwijderen", has("Weet u het zeker")),
        ("nee", has("Niets verwijderd")),
        ("ik wil dat mijn gegevens verwijderd worden", has("Weet u het zeker")),
        ("nee", has("Niets verwijderd")),
        ("ik wil dat alles over mij gewist wordt", has("Weet u het zeker")),
        ("nee", has("Niets verwijderd")),
    ],
    # Newcomer: with the conversation forgotten, /mydata was answered in Dutch.
    "forget: a command of English name is answered in English after the data are gone": [
        ("what is a penvoerder", has("school board")),
        ("/forget", has("Are you sure")),
        ("yes, delete everything", has("deleted")),
        ("/mydata", has("everything stored about you", lacks=("opgeslagen",))),
    ],
    "forget: asked in English as the first message is answered in English": [
        ("delete my data", has("Are you sure")),
        ("no", has("Nothing deleted")),
    ],
    "privacy: asked in words of one's own": [
        ("wat bewaren jullie van mij?", has("Hoe lang?")),
        ("welke gegevens slaan jullie op", has("Hoe lang?")),
        ("AVG", has("Hoe lang?")),
        ("wat weten jullie over mij?", has("Dit is alles wat over u is opgeslagen")),
        # Keeping STO's own records is a question about STO, not about us.
        ("hoe lang moeten we de gegevens bewaren", has(lacks=("Hoe lang?",))),
        ("Hoe lang moet ik mijn administratie bewaren?", has(lacks=("Hoe lang?",))),
    ],
    # 2. Intents in one's own words
    "intent: ik wil graag met een mens praten": [
        ("ik wil graag met een mens praten", has(CONSENT))
    ],
    "intent: kan ik een adviseur spreken": [("kan ik een adviseur spreken", has(CONSENT))],
    "intent: kan ik iemand spreken": [("kan ik iemand spreken?", has(CONSENT))],
    "intent: How do I talk to a real person?": [
        ("How do I talk to a real person?", has("May I share this?"))
    ],
    "intent: help": [("help", has("Commando's", "/privacy", "/vergeet"))],
    "intent: menu": [("menu", has("Welkom"))],
    "intent: welke onderwerpen zijn er": [
        ("welke onderwerpen zijn er?", has("Kies een onderwerp"))
    ],
    "intent: which topics in English": [("which topics are there?", has("Pick a topic"))],
    "intent: in English please": [
        ("in English please", has("English")),
        ("Wat is een penvoerder?", has("penvoerder", "Source:")),
    ],
    "intent: asked as a sentence, the language switches": [
        ("Can you answer in English please?", has("From now on I will answer in English")),
        ("kunt u in het Nederlands antwoorden?", has("voortaan in het Nederlands")),
        # A question about English is no request to switch.
        ("Is er een Engelse versie van de regeling?", has(lacks=("voortaan",))),
    ],
    "intent: graag in het Nederlands": [
        ("in English please", has("English")),
        ("graag in het Nederlands", has("Nederlands")),
    ],
    "intent: a near label as a sentence starts the check": [
        ("/start", has("Welkom")),
        ("check of mijn school in aanmerking komt", has(QUESTION_1)),
    ],
    "intent: kom ik in aanmerking starts the check": [
        ("kom ik in aanmerking?", has(QUESTION_1)),
    ],
    "intent: stop outside the check": [("stop", has("geen check"))],
    "intent: terug with nothing to go back to shows the menu": [("terug", has("Welkom"))],
    "intent: thanks after an answer counts as helpful": [
        ("Wat is een penvoerder?", has("bevoegd gezag")),
        ("thanks, that's helpful", has("helped", lacks=("Did you mean",))),
        ("thanks, that's helpful", has("welcome")),  # nothing left to rate: just thanks
    ],
    "options: a typed 👍 presses the 👍 button": [
        ("Wat is een penvoerder?", has("bevoegd gezag")),
        ("👍🏽", has("Fijn dat het hielp", lacks=("Ik zie geen vraag",))),
    ],
    "intent: the time is not how are you": [("hoe laat is het?", has(lacks=("gaat het goed",)))],
    "intent: goodbye": [("doei", has("Tot ziens"))],
    "intent: a consultant in the middle of the check": [
        *CHECK,
        ("ik wil met een mens praten", has(CONSENT)),
    ],
    # 3. Commands in both languages, from one table
    # A command's argument is no sentence in English ("check" is both): the deep link stays Dutch.
    "commands: /start check opens the check in Dutch": [("/start check", has("Vraag 1: Namens"))],
    "commands: /topics works in a Dutch chat too": [
        ("Wat is een penvoerder?", has("bevoegd gezag")),
        ("/topics", has("Kies een onderwerp")),
    ],
    "commands: /help lists every command": [
        (
            "/help",
            has("/privacy", "/vergeet", "/resultaat", "/stop", "/terug", "/annuleer", "/taal"),
        )
    ],
    "commands: English /help names the English commands": [
        ("/language en", has("English")),
        ("/help", has("/topics", "/forget", "/result", "/cancel")),
    ],
    "commands: an unknown command": [("/bestaatniet", has("/help"))],
    # 4. Language that stays put
    "language: one word does not flip a Dutch chat": [
        ("Wat is een penvoerder?", has("bevoegd gezag")),
        ("vmbo", has(lacks=("I don't", "Topics"))),
        ("mail", has(lacks=("I don't", "Topics"))),
    ],
    "language: help stays Dutch": [
        ("Wat is een penvoerder?", has("bevoegd gezag")),
        ("help", has("Zo werkt het", lacks=("How it works",))),
    ],
    "language: an English sentence switches": [
        ("Wat is een penvoerder?", has("bevoegd gezag")),
        ("Who can apply for the grant?", has("Source:")),
    ],
    "language: buttons follow the conversation, not a word": [
        ("How much co-funding is required?", has("Source:")),
        ("vmbo", has(lacks=("Onderwerpen",))),
    ],
    # 5. Context and restarts
    "context: a follow-up is read with the previous answer": [
        ("Hoeveel cofinanciering is nodig?", has("10")),
        # Answered as the previous period's co-funding, with no second question made up.
        ("en in de vorige periode?", has("7,5%", lacks=("nog een vraag",))),
    ],
    "context: a follow-up never offers the answer just given again": [
        ("Hoeveel mag een techniekregio maximaal aanvragen?", has("bijlage")),
        ("en in de vorige periode?", has(not_options=("ask:budget-techniekregio",))),
    ],
    "context: a follow-up stays with the subject of the previous answer": [
        ("Hoeveel mag een techniekregio maximaal aanvragen?", has("bijlage 3")),
        # The budget of those regions, not which regions they are.
        ("en voor techniekluwe regio's?", has("€ 4 miljoen")),
        ("en een techniekregio?", has("bijlage 3")),
        # A follow-up with a question of its own asks that.
        ("en wat is een techniekregio?", has("toekomstbestendig")),
    ],
    # Newcomer: "dan" and the "daar" of a greeting made a new question a follow-up, answered
    # as the previous period's co-funding (once even without "Ik denk dat u vraagt").
    "context: a question of its own with a word that may point back asks that": [
        ("hoeveel cofinanciering is nodig", has("10")),
        ("wanneer is dan de deadline?", has(lacks=("7,5",))),
    ],
    # Newcomer: a greeting and "ik heb een vraag over X" got only the greeting back.
    "a question announced with its subject is answered about that subject": [
        ("Hoi, ik heb een vraag over de penvoerder", has("bevoegd gezag", lacks=("Goedendag",))),
    ],
    # Newcomer: praise with the thanks was told "ik beantwoord alleen vragen over…".
    "thanks with praise is thanks": [
        ("Wat is een penvoerder?", has("bevoegd gezag")),
        ("dankjewel, erg duidelijk!", has("Graag gedaan", lacks=("alleen vragen",))),
    ],
    "context: the daar of a greeting points at nothing": [
        ("hoeveel cofinanciering is nodig", has("10")),
        ("Hallo daar. Wat is een penvoerder", has("bevoegd gezag", lacks=("7,5",))),
    ],
    "restart: /start tells the check's question and continues": [
        *CHECK,
        ("ja", has(QUESTION_3)),
        ("RESTART", Expect()),
        ("/start", has("vraag 3", labels=("Verdergaan", "Opnieuw beginnen"))),
        ("verdergaan", has(QUESTION_3)),
    ],
    "restart: the first message tells where the user was": [
        *CHECK,
        ("RESTART", Expect()),
        ("Wat is een penvoerder?", has("vraag 2", "bevoegd gezag")),
    ],
    "restart: opnieuw starts the check again": [
        *CHECK,
        ("RESTART", Expect()),
        ("/start", has("vraag 2")),
        ("opnieuw", has(QUESTION_1)),
    ],
    # Newcomer: this sentence was added to the question for the consultants.
    "handover: withdrawing in one's own words while waiting": [
        *INTAKE,
        ("overslaan", has("Vraag 5 van 5")),
        ("Mijn vraag over cofinanciering", has("doorgezet")),
        ("ik wil mijn vraag intrekken", has("ingetrokken", desk_lacks=("intrekken",))),
    ],
    "restart: a user waiting for a consultant is told": [
        *INTAKE,
        ("overslaan", has("Vraag 5 van 5")),
        ("Mijn vraag over cofinanciering", has("doorgezet")),
        ("RESTART", Expect()),
        ("nog iets", has("ligt bij de STO-adviseurs", options=("ho:cancel",))),
        ("vraag intrekken", has("ingetrokken")),
    ],
    "restart: a user with a consultant is told": [
        *INTAKE,
        ("overslaan", has("Vraag 5 van 5")),
        ("Mijn vraag over cofinanciering", has("doorgezet")),
        ("CONSULTANT: /oppakken 1", Expect()),
        ("RESTART", Expect()),
        ("/start", has("in gesprek met", options=("ho:back",))),
        ("terug naar de assistent", has("weer met de assistent")),
    ],
    # Newcomer: a handover closed unread told the user "Het gesprek met Bea is afgerond".
    "handover: closed without being picked up, the user hears no conversation ended": [
        *INTAKE,
        ("overslaan", has("Vraag 5 van 5")),
        ("Mijn vraag over cofinanciering", has("doorgezet")),
        ("CONSULTANT: /afronden 1", Expect()),
        ("nog iets?", has("afgehandeld", "/adviseur", lacks=("Het gesprek met",))),
    ],
    # Newcomer: in the consultants' terminal "oppakken 1" without its slash went to no one.
    "desk: a consultant's command typed without its slash works": [
        *INTAKE,
        ("overslaan", has("Vraag 5 van 5")),
        ("Mijn vraag over cofinanciering", has("doorgezet")),
        ("CONSULTANT: oppakken 1", Expect()),
        ("nog iets?", has("heeft uw vraag opgepakt")),
    ],
    # Review: a remark to a colleague that begins with a command's name is no command.
    "desk: a remark that begins with a command's name does nothing": [
        *INTAKE,
        ("overslaan", has("Vraag 5 van 5")),
        ("Mijn vraag over cofinanciering", has("doorgezet")),
        ("CONSULTANT: afronden 1 doe ik morgen wel", Expect()),
        ("CONSULTANT: antwoord 1 Hallo", Expect()),
        ("nog iets?", has("ligt bij de STO-adviseurs", lacks=("afgehandeld", "Hallo"))),
    ],
    "restart: mid-intake the first message is not taken as an answer": [
        *INTAKE[:3],
        ("RESTART", Expect()),
        ("hallo", has("bezig met de vragen voor de adviseur", "Vraag 2 van 5")),
        ("directeur", has("Vraag 3 van 5")),
    ],
    "restart: mid-intake a command still works": [
        *INTAKE[:3],
        ("RESTART", Expect()),
        ("/stop", has("niets gedeeld", lacks=("Vraag 2 van 5",))),
    ],
    "waiting: terug does not withdraw the question": [
        *INTAKE,
        ("overslaan", has("Vraag 5 van 5")),
        ("Mijn vraag over cofinanciering", has("doorgezet")),
        (
            "/terug",
            has("blijft staan", lacks=("ingetrokken",)),
        ),
    ],
    "help mid-intake shows no menu and asks the question again": [
        *INTAKE[:2],
        ("/help", has("/privacy", "Vraag 1 van 5", not_options=("menu:", "chk:start"))),
        ("Techcollege Noord", has("Vraag 2 van 5")),
    ],
    "help mid-check, then the check goes on": [
        *CHECK,
        ("help", has("/privacy", QUESTION_2, not_options=("menu:",))),
        ("ja", has(QUESTION_3)),
    ],
    "result mid-check shows the question again": [
        *CHECK,
        ("/resultaat", has(QUESTION_2, "nog bezig", lacks=("/check om te beginnen",))),
        ("ja", has(QUESTION_3)),
    ],
    "bedoelt u mid-check: its choices first, the check after the answer": [
        *CHECK,
        ("vroeger", has("Bedoelt u", lacks=(QUESTION_2,), options=("menu:none",))),
        ("1", has("2020-2023", QUESTION_2)),
        ("ja", has(QUESTION_3)),
    ],
    "result in English after a check in Dutch": [
        ("/check", has(QUESTION_1)),
        ("een basisschool", has("basisschool")),
        ("/taal en", has("English")),
        (
            "/result",
            has("Your answers", "A primary school", lacks=("Uw antwoorden", "Een basisschool")),
        ),
    ],
    "restart: an answer at the Verdergaan prompt answers the check": [
        *CHECK,
        ("ja", has(QUESTION_3)),
        ("RESTART", Expect()),
        ("/start", has("vraag 3")),
        ("weet ik niet", has(QUESTION_4, lacks=("Kies een nummer",))),
    ],
    "privacy: asked in words, also while waiting for a consultant": [
        ("welke gegevens bewaar je?", has("Wat bewaar ik?")),
        ("wat weet je over mij?", has("opgeslagen")),
        *INTAKE,
        ("overslaan", has("Vraag 5 van 5")),
        ("Mijn vraag over cofinanciering", has("doorgezet")),
        ("verwijder al mijn gegevens", has("Weet u het zeker", desk_lacks=("verwijder al",))),
        ("ja", has("verwijderd", desk=("/vergeet",))),
    ],
    "forget: during the questions for a consultant, asked first and then done": [
        *INTAKE[:3],
        ("/vergeet", has("Weet u het zeker", lacks=("Vraag 2 van 5",))),
        ("2", has("Niets verwijderd", "Vraag 2 van 5")),  # "2" is "Nee, bewaren" here
        ("verwijder al mijn gegevens", has("Weet u het zeker")),
        ("Ja, verwijder alles", has("verwijderd", lacks=("Vraag 2 van 5",))),
        ("/mijngegevens", has(lacks=("Techcollege", "intake"))),
    ],
    "forget: text under the confirmation lets it go and is no answer to the intake": [
        *INTAKE[:2],
        ("/vergeet", has("Weet u het zeker")),
        ("qwerty zxcv", has("Vraag 1 van 5")),
        ("ja", has(lacks=("verwijderd",))),  # the confirmation was let go
        ("/mijngegevens", has("bij vraag: organisation", lacks=("organisatie: qwerty",))),
    ],
    # Newcomer: "what data do you keep" showed "state: … shown: id: ask:…, kind: choice".
    "my data: told in words a user can read": [
        ("Wat is een penvoerder?", has("bevoegd gezag")),
        ("/mijngegevens", has("soort: vraag", "stand:", lacks=("kind:", "state:", "updated_at"))),
    ],
    "smalltalk: ok under an answer acknowledges it": [
        ("wat is een penvoerder?", has("bevoegd gezag")),
        ("ok", has("Graag gedaan", lacks=("Kies een nummer",))),
    ],
    "check: asked for in words": [("kan mijn school meedoen?", has(QUESTION_1))],
    "intake: help asked for as the question is that question": [
        *INTAKE,
        ("overslaan", has("Vraag 5 van 5")),
        ("graag hulp", has("doorgezet", lacks=("Commando's",), desk=("graag hulp",))),
    ],
    "intake: polite words around an option": [*INTAKE, ("per mail graag", has("e-mailadres"))],
    "desk: a typed number never closes a handover": [
        *INTAKE,
        ("overslaan", has("Vraag 5 van 5")),
        ("Mijn vraag over cofinanciering", has("doorgezet")),
        ("CONSULTANT: /oppakken 1", Expect()),
        ("CONSULTANT: 1", Expect(desk_lacks=("afgerond door",))),
        ("nog een vraag", has(lacks=("afgerond",))),
    ],
    # 6. One voice; channel-aware copy
    "copy: the menu says u": [("/start", has(labels=("Check of uw school in aanmerking komt",)))],
    "copy: the console's consent does not speak of Telegram": [
        ("/adviseur", has("gebruikersnaam", lacks=("Telegram",))),
    ],
    "copy: the promise is the reminder it is": [
        *INTAKE,
        ("overslaan", has("Vraag 5 van 5")),
        ("Mijn vraag", has("herinnering", lacks=("uiterlijk rond",), desk=("/antwoord 1",))),
    ],
    "copy: typed check answers are answers in the summary": [
        *CHECK,
        ("ja", has(QUESTION_3)),
        *INTAKE,
        ("overslaan", has("Vraag 5 van 5")),
        # "ja" was an answer to the check, not a question left unanswered (⚠️).
        ("Mijn vraag", has("doorgezet", desk=("Overdracht #1",), desk_lacks=("⚠️", '"ja"'))),
    ],
    "copy: the summary tells the check's answers so far": [
        *CHECK,
        ("ja", has(QUESTION_3)),
        *INTAKE,
        ("overslaan", has("Vraag 5 van 5")),
        ("Mijn vraag", has("doorgezet", desk=("nog bezig, bij vraag 3", "Een vmbo-school"))),
    ],
}


async def run(
    knowledge: KnowledgeBase, path: Path, lines: list[str], consultant: bool
) -> list[dict[str, Any]]:
    """One process of `sto-bot chat --jsonl` (or `--consultant`): the records it writes."""
    store = await SqliteStore.open(path)
    consultants = Consultants(ids=frozenset({CONSOLE_CONSULTANT}), chat=CONSULTANTS_CHAT)
    assistant = Assistant(knowledge, store=store, clock=fixed_clock(TODAY), consultants=consultants)
    stdout, stderr = io.StringIO(), io.StringIO()
    data = "".join(json.dumps({"text": line}) + "\n" for line in lines).encode()
    chat = ConsoleChat(
        assistant,
        "tester",
        stdin=io.BytesIO(data),
        stdout=stdout,
        stderr=stderr,
        jsonl=True,
        consultant="Anna" if consultant else None,
    )
    await chat.run()
    await store.close()
    records = [json.loads(line) for line in stdout.getvalue().splitlines()]
    assert len(records) == len(lines)
    return records


def test_there_are_at_least_sixty_conversations() -> None:
    assert len(CONVERSATIONS) >= 60


@pytest.mark.parametrize("name", sorted(CONVERSATIONS))
async def test_conversation(name: str, knowledge: KnowledgeBase, tmp_path: Path) -> None:
    path = tmp_path / "conversation.sqlite3"
    desk: list[str] = []
    segment: list[Turn] = []
    turns = [*CONVERSATIONS[name], ("RESTART", Expect())]
    for text, expect in turns:
        if text != "RESTART" and not text.startswith("CONSULTANT: "):
            segment.append((text, expect))
            continue
        records = await run(knowledge, path, [t for t, _ in segment], consultant=False)
        desk += await _desk(knowledge, path)
        for (typed, wanted), record in zip(segment, records, strict=True):
            _check(name, typed, wanted, record["replies"], desk)
        segment = []
        if text.startswith("CONSULTANT: "):
            await run(knowledge, path, [text.removeprefix("CONSULTANT: ")], consultant=True)


async def _desk(knowledge: KnowledgeBase, path: Path) -> list[str]:
    """What the consultants' chat has received so far (read like the consultants' console)."""
    store = await SqliteStore.open(path)
    try:
        waiting = await store.undelivered(limit=1000, recipient=Recipient.CONSULTANTS)
        return [delivery.reply.text for delivery in waiting]
    finally:
        await store.close()


def _check(
    name: str, typed: str, wanted: Expect, replies: list[dict[str, Any]], desk: list[str]
) -> None:
    where = f"{name!r}, after {typed!r}"
    text = "\n".join(reply["text"] for reply in replies)
    folded = text.casefold()
    ids = [option["id"] for reply in replies for option in reply["options"]]
    labels = [option["label"] for reply in replies for option in reply["options"]]
    assert sum(bool(reply["options"]) for reply in replies) <= 1, f"{where}: two lists"
    assert "Traceback" not in text and "internal" not in folded, where
    # Every button belongs to one feature's namespace (sto_bot/buttons.py).
    assert all(namespace(i) for i in ids), f"{where}: a button without a namespace in {ids}"
    for part in wanted.has:
        assert part.casefold() in folded, f"{where}: {part!r} missing in {text!r}"
    for part in wanted.lacks:
        assert part.casefold() not in folded, f"{where}: {part!r} shown in {text!r}"
    for option in wanted.options:
        assert any(i.startswith(option) for i in ids), f"{where}: no option {option} in {ids}"
    for option in wanted.not_options:
        assert not any(i.startswith(option) for i in ids), f"{where}: option {option} in {ids}"
    for label in wanted.labels:
        assert label in labels, f"{where}: no button {label!r} in {labels}"
    shown = "\n".join(desk)
    for part in wanted.desk:
        assert part in shown, f"{where}: the consultants did not get {part!r}"
    for part in wanted.desk_lacks:
        assert part not in shown, f"{where}: the consultants got {part!r}"
