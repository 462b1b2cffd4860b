"""Find the question in a chat message: its sentences, without greetings, introductions and thanks.

People write "Goedemorgen, ik ben sinds kort directeur van een vmbo in Emmen. Kan ik zelf een
aanvraag indienen? Alvast bedankt!". Matched as a whole, the greeting and the introduction dilute
the question. So the matcher also tries the message without its filler sentences, and each
remaining sentence on its own, and keeps whichever it is surest of.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from sto_bot.text import fold

# A sentence ends at . ? ! ; or a line break (a decimal point has no space after it).
_SENTENCE_END = re.compile(r"(?<=[.?!;])\s+|\s*\n+\s*")
# Clauses end at , and : and where an introduction goes on with what the writer wants
# ("ik ben penvoerder en ik hoor dat…", "I'm a consultant and we need…"), also when the
# writer leaves out the "ik" before a wish or a question ("ik ben controller en wil graag
# weten…", "…and want to know"); "…en heb drie locaties in Emmen" still introduces.
_GOES_ON = (
    "ik|wij|we|i|onze?|our|wil|wilde|willen|zou|vraag|vroeg|hoor|hoorde|lees|las|zoek|"
    "want|wanted|would|wonder|need|heard|read"
)
_CLAUSE_END = re.compile(rf"(?<=[,:])\s+|\s+(?=(?:en|and|maar|but)\s+(?:{_GOES_ON})\s)")
# Two questions joined in one sentence ("wanneer vervalt de regeling, en wordt het bedrag
# geïndexeerd?", "wat zijn de thema's en moeten we er doelen bij zetten?"): "and/en/or/of"
# after a comma and before a word that opens a question; without a comma only "and/en" before a
# verb that opens a question, or before a question word and a verb ("en wie is…"). Coordinated
# nouns ("de havo en het vwo"), an either/or ("per jaar of is het…"), an elliptic "en welke
# nog?" and words that are also something else ("zijn school", "April and May") stay together.
_VERB_FIRST = (
    "is|are|was|were|do|does|did|can|could|will|would|should|must|may|moet|moeten|mag|mogen|"
    "kan|kunnen|kun|zijn|wordt|worden|heeft|hebben|klopt|geldt|gelden|krijgen|krijgt"
)
_PLAIN_VERB_FIRST = (
    "is|are|was|were|do|does|did|can|could|will|would|should|must|moet|moeten|mag|mogen|"
    "kan|kunnen|kun|wordt|worden|heeft|hebben|klopt|geldt|gelden|krijgen|krijgt"
)
_QUESTION_WORD = (
    "what|who|when|where|which|how|why|wat|wie|wanneer|waar|welke|welk|hoe|hoeveel|waarom"
)
QUESTION_WORDS = frozenset(_QUESTION_WORD.split("|"))
# Question words that never stand for a noun left out ("welke" in "en welke nog?" may).
_ASKING = "who|what|when|where|how|why|wie|wat|wanneer|waar|hoe|hoeveel|waarom"
_JOINED_QUESTION = re.compile(
    rf",\s*(?:and|en|or|of|plus)\s+(?:(?:also|ook|nog|dan)\s+)?(?=(?:{_VERB_FIRST}|{_QUESTION_WORD})\b)"
    rf"|\s+(?:and|en)\s+(?=(?:{_PLAIN_VERB_FIRST})\s|(?:{_ASKING})\s+(?:{_VERB_FIRST})\s)",
    re.IGNORECASE,
)
# A question announced with its subject ("Hoi, ik heb een vraag over de cofinanciering", "a
# question about co-funding"), in a message that says nothing else: the subject is what it asks
# about. Not so a subject that is only the programme ("een vraag over STO"): that is a greeting.
_ANNOUNCED = re.compile(
    r"\b(?:heb|hebben|have|has|got)\s+(?:nog\s+)?(?:een\s+|a\s+|some\s+)?(?:paar\s+|few\s+)?"
    r"(?:vraag|vragen|vraagje|question|questions)\s+(?:over|about|on|regarding|omtrent)\s+(.+)$",
    re.IGNORECASE,
)
_PROGRAMME_WORDS = frozenset({
    "de", "het", "die", "deze", "dit", "sto", "sterk", "techniekonderwijs", "regeling",
    "subsidie", "subsidieregeling", "the", "this", "that", "grant", "subsidy", "scheme",
    "regulation", "programme", "program", "van", "voor", "of", "for",
})  # fmt: skip
# More pieces cost time and rarely help: a chat message holds one or two questions.
MAX_PIECES = 4
_MIN_PIECE_WORDS = 2


def _is_filler(piece: str, fillers: Sequence[str]) -> bool:
    """Whether a sentence or clause begins as a greeting, an introduction or thanks do (and
    asks nothing: a question mark keeps it)."""
    if "?" in piece:
        return False
    folded = fold(piece)
    return not folded or (folded + " ").startswith(_as_prefixes(tuple(fillers)))


@lru_cache(maxsize=8)
def _as_prefixes(fillers: tuple[str, ...]) -> tuple[str, ...]:
    """Each filler as the start of a text ("ik ben " begins "ik ben penvoerder", not "ik
    benoem"): one `startswith` for all of them (a filler check ran once per phrasing and
    clause, and was 20 % of building the matcher)."""
    return tuple(f"{filler} " for filler in fillers)


def _without_leading_fillers(sentence: str, fillers: Sequence[str]) -> str:
    """The sentence from its first clause that is not a greeting or introduction ("" when
    there is none)."""
    clauses = _CLAUSE_END.split(sentence)
    start = 0
    while start < len(clauses) and _is_filler(clauses[start], fillers):
        start += 1
    return " ".join(clauses[start:])


@dataclass(frozen=True, slots=True)
class Parts:
    """What of a message is worth matching besides the whole: the message without its greeting,
    introduction and thanks (None when that is the whole), and its questions when it holds
    several: its question sentences, or the two questions one sentence joins."""

    core: str | None = None
    sentences: tuple[str, ...] = ()
    # A message of greetings and introductions only ("Goedemorgen, ik ben de nieuwe
    # directeur."): its opening words, which small talk may answer.
    opening: str | None = None


def within(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, after its last whole sentence when one ends
    in the second half (a sentence cut in two would be read as a question of its own)."""
    if len(text) <= limit:
        return text
    # (One character more: the space after a full stop right at the limit ends a sentence.)
    ends = [match.start() for match in _SENTENCE_END.finditer(text[: limit + 1])]
    return text[: ends[-1]] if ends and ends[-1] > limit // 2 else text[:limit]


def _announced_subjects(sentences: Sequence[str]) -> list[str]:
    """The subjects of the questions the sentences announce, other than the programme itself."""
    found = []
    for clause in (c for sentence in sentences for c in _CLAUSE_END.split(sentence)):
        announced = _ANNOUNCED.search(clause)
        if announced is not None and not set(fold(announced.group(1)).split()) <= _PROGRAMME_WORDS:
            found.append(announced.group(1))
    return found


def parts(text: str, fillers: Sequence[str]) -> Parts:
    """The parts of a chat message (see `Parts`); none for one question without filler."""
    sentences = [s for s in _SENTENCE_END.split(text.strip()) if s]
    kept = [kept for s in sentences if (kept := _without_leading_fillers(s, fillers))]
    if not kept:
        kept = _announced_subjects(sentences)
    if not kept:
        opening = _CLAUSE_END.split(sentences[0])[0] if sentences else ""
        return Parts(opening=opening if fold(opening) != fold(text) else None)
    core = " ".join(kept)
    questions: list[str] = []
    if len(kept) > 1:
        # With a question mark somewhere, the other sentences are context ("Dan kan ik het
        # meenemen in ons plan."); without one, any sentence may be the question.
        for sentence in [s for s in kept if "?" in s] or kept:
            if len(fold(sentence).split()) >= _MIN_PIECE_WORDS and sentence not in questions:
                questions.append(sentence)
    if len(questions) < 2:
        # One question sentence may hold two questions; each is a piece of its own then.
        joined = [p for s in questions or kept for p in _JOINED_QUESTION.split(s)]
        pieces = [p for p in joined if len(fold(p).split()) >= _MIN_PIECE_WORDS]
        if len(pieces) > 1:
            questions = pieces
    return Parts(core if fold(core) != fold(text) else None, tuple(questions[: MAX_PIECES - 1]))
