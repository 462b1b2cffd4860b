"""Options understood as words: a typed reply that names an option on screen picks it.

People type "ja", "weet ik niet", "terug" or "telefoon" rather than a button's number. While
options are on screen, a typed reply is first compared with them: by number, by label, by a
clear part of a label, and by the words `knowledge/conversation.yaml` lists for what an option
means, forgiving typos. Only a reply that names no option goes on to the matcher.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from rapidfuzz import fuzz

from sto_bot.buttons import namespace
from sto_bot.models import Option, Recipient, Reply
from sto_bot.segments import QUESTION_WORDS
from sto_bot.text import clean_input, fold
from sto_bot.yaml_lines import line_of

if TYPE_CHECKING:
    from pathlib import Path

    from sto_bot.shapes import Shapes
    from sto_bot.yaml_lines import LineDict

# How alike a typed reply and an option's word must be (0-100): "jaa", "weet ik nie", "telefon".
TYPO_LIKENESS = 85.0
LONG_LABEL_LIKENESS = 88.0
# A reply longer than this is a sentence, not an option; it is only taken when it is a label.
MAX_OPTION_WORDS = 5
# An answer in one's own words is short; a longer text tells or asks something more.
MAX_SENTENCE_WORDS = 12
# A negation turns an answer's words around ("geen kader"; "no" opens an answer: "No, we…").
NEGATIONS = frozenset({"niet", "geen", "nooit", "not", "never", "none"})
# How a question opens ("is kader…", "klopt het dat…", "en wie…"), and words that ask.
ASKS_FIRST = QUESTION_WORDS | {
    "is", "zijn", "kan", "kun", "kunt", "kunnen", "mag", "mogen", "moet", "moeten", "klopt",
    "geldt", "gelden", "heeft", "hebben", "wordt", "worden", "valt", "vallen", "telt", "tellen",
    "doet", "doen", "gaat", "krijgt", "krijgen", "zit", "zitten", "en", "of", "maar", "dus",
    "are", "can", "may", "must", "should", "will", "would", "could", "does", "do", "did", "has",
    "have", "and", "or", "but",
}  # fmt: skip
ASKING = QUESTION_WORDS | {
    "vraag", "vragen", "verschil", "betekent", "betekenis", "uitleg", "uitleggen", "bedoeld",
    "bedoelt", "question", "difference", "mean", "means", "meaning", "explain",
}  # fmt: skip
NO_WORDS = frozenset({"nee", "neen", "nope", "no"})
# Words that speak for oneself: with one, an answer may say more than the option's words.
SPEAKING = frozenset({
    "ik", "wij", "we", "ons", "onze", "mijn", "ja", "jazeker", "jawel", "nee",
    "i", "us", "our", "my", "yes", "no",
})  # fmt: skip
# All an answer that speaks for no one may hold besides the option's words: "basis en kader",
# "een techniekregio", "ruim 10 procent" (not "definitie techniekregio", a keyword question).
BESIDES = frozenset({
    "en", "of", "een", "de", "het", "alleen", "hoor", "ook", "allebei", "beide", "wel", "%",
    "procent", "and", "or", "a", "the", "both", "only", "percent",
})  # fmt: skip
# "2", "2.", "optie 2", "nummer 2", "option 2"
_NUMBER = re.compile(r"^(?:optie|nummer|keuze|knop|option|number|choice)?\s*#?(-?\d{1,3})[.)]?$")
_LAST = -1  # "de laatste": the last option, however many there are
# "de eerste", "de tweede optie", "the second one": a place in the list, said in words.
_ORDINALS = {
    "eerste": 1, "tweede": 2, "derde": 3, "vierde": 4, "vijfde": 5, "1e": 1, "2e": 2, "3e": 3,
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "1st": 1, "2nd": 2, "3rd": 3,
    "laatste": _LAST, "last": _LAST,
}  # fmt: skip
# ("ja, die eerste", "yes the first one": a yes before it only says that one is meant)
_ORDINAL = re.compile(
    r"^(?:(?:ja|jawel|yes|yeah)[,\s]+)?(?:de|het|die|dat|the|that)?\s*"
    rf"({'|'.join(_ORDINALS)})(?:\s+(?:optie|keuze|vraag|one|option))?$"
)
# A word of a label that stands for the option alone ("telefoon" for "Telefonisch"): shares at
# least this many first letters with a label word.
_PREFIX = 5


@dataclass(frozen=True, slots=True)
class OptionWords:
    """The words that pick an option, by the last part of its id ("ja", "ho:skip", "phone")."""

    by_id: Mapping[str, tuple[str, ...]]
    # The words of the meaning `agree` ("ja", "graag"): they also pick an option that is the
    # only one on screen, as a yes to an offer ("Spreek een adviseur"), but never one of a menu.
    yes: frozenset[str] = frozenset()
    # An option's own words (a check answer's, by its whole id): they pick it also inside a
    # short answer. Not so the shared words: "weet ik niet wat dat is" asks something.
    own: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def words(self, option_id: str) -> tuple[str, ...]:
        """The words for an option: of its whole id, or of its last part ("chk:…:ja" -> "ja")."""
        found = self.by_id.get(option_id)
        if found is None:
            found = self.by_id.get(option_id.rsplit(":", 1)[-1], ())
        return found

    def with_own_words(self, own: Mapping[str, tuple[str, ...]]) -> OptionWords:
        """These words as the own words of the options of these whole ids."""
        return replace(self, own={**self.own, **own})


@dataclass(frozen=True, slots=True)
class OutOfRange:
    """A number that is not one of the options: the reply says which numbers work."""

    number: int
    count: int


@dataclass(frozen=True, slots=True)
class Unclear:
    """A bare yes ("ja", "graag") under several options, none of them a yes: which one?"""

    count: int


def _place(raw: str) -> int | None:
    """The place in the list a reply names by number ("2", "optie 2") or word ("de tweede");
    _LAST for "de laatste"."""
    number = _NUMBER.match(raw)
    if number:
        return max(int(number.group(1)), 0)  # "-1" is no option either, nor the last one
    ordinal = _ORDINAL.match(raw)
    return _ORDINALS[ordinal.group(1)] if ordinal else None


def said(text: str, option: Option, words: OptionWords) -> bool:
    """Whether `text` is the option's label or one of its own words, nothing looser (no
    number, no "ja", no part of the label)."""
    typed = fold(text)
    return typed == fold(option.label) or typed in {fold(word) for word in words.words(option.id)}


def pick(
    text: str, options: Sequence[Option], words: OptionWords, ignore: frozenset[str] = frozenset()
) -> Option | OutOfRange | Unclear | None:
    """The option a typed reply names; OutOfRange for a number beyond them, Unclear for a bare
    yes under several; None otherwise. Words in `ignore` ("graag", "please") do not count,
    unless they are all there is."""
    picked = _named(text, options, words, ignore)
    # Under an answer (its 👍 / 👎 on screen) "ok" or "prima" acknowledges it: no choice.
    rated = any(namespace(option.id) == "fb" for option in options)
    if picked is None and len(options) > 1 and not rated:
        typed = fold(clean_input(text).strip(" .!?"))
        if " ".join(w for w in typed.split() if w not in ignore) in words.yes or typed in words.yes:
            return Unclear(len(options))
    return picked


def _named(
    text: str, options: Sequence[Option], words: OptionWords, ignore: frozenset[str]
) -> Option | OutOfRange | None:
    if not options:
        return None
    raw = clean_input(text).casefold().strip(" .!?")
    value = _place(raw)
    if value is not None:
        return _by_number(value, options)
    typed = fold(raw)
    listed = [
        o
        for o in options
        if typed in {fold(word) for word in (*words.words(o.id), *words.own.get(o.id, ()))}
    ]
    if len(listed) == 1:
        return listed[0]  # as listed, before ignored words go: "laat maar" ("maar" is ignored)
    meant = [word for word in typed.split() if word not in ignore]
    if meant:
        typed = " ".join(meant)  # "per mail graag" is "per mail"
    if not typed:
        # Only punctuation or a sign: "-" is the usual way to skip a question, "👍" the sign
        # the "👍 Nuttig" button starts with (also with a skin tone after it).
        sign = raw[:1] if raw and all(_is_sign(char) for char in raw) else None
        dashed = [
            o
            for o in options
            if raw and (raw in words.words(o.id) or (sign and o.label.startswith(sign)))
        ]
        return dashed[0] if len(dashed) == 1 else None
    if len(options) == 1 and typed in words.yes and not options[0].id.endswith(":skip"):
        return options[0]  # "ja" to the one thing offered (not to "Overslaan": that says no)
    if len(typed.split()) > MAX_OPTION_WORDS:
        # A sentence picks only the option it (nearly) spells out: "check of mijn school in
        # aanmerking komt" for "Check of uw school in aanmerking komt", or whose own words it
        # holds ("wij hebben de basis- en kaderberoepsgerichte leerweg").
        near = [o for o in options if fuzz.ratio(typed, fold(o.label)) >= LONG_LABEL_LIKENESS]
        return near[0] if len(near) == 1 else _holding_own_words(text, typed, options, words)
    scores = [(_likeness(typed, option, words), index) for index, option in enumerate(options)]
    best = max(score for score, _ in scores)
    if best < TYPO_LIKENESS:
        # Part of a label names it ("telefoon", "directeur?"), but a question does not pick a
        # question by part of it: "en een techniekregio?" asks on, it does not pick "Wat is een
        # techniekluwe regio?".
        if "?" in text:
            options = [o for o in options if not o.label.rstrip().endswith("?")]
        by_label = _by_part_of_label(typed, options)
        return by_label or _holding_own_words(text, typed, options, words)
    winners = [index for score, index in scores if score == best]
    # Two options named equally ("ja" under two yes-like labels) is no choice: let it pass.
    return options[winners[0]] if len(winners) == 1 else None


def _by_number(value: int, options: Sequence[Option]) -> Option | OutOfRange | None:
    """The option at a place typed as a number or a word ("2", "de laatste")."""
    if value == _LAST:
        return options[-1]
    if 1 <= value <= len(options):
        return options[value - 1]
    if len(options) == 1 and options[0].id.endswith(":skip"):
        return None  # under a lone "Overslaan" a number is typed text (a phone number)
    return OutOfRange(value, len(options))


def _holding_own_words(
    text: str, typed: str, options: Sequence[Option], words: OptionWords
) -> Option | None:
    """The one option whose own words a short answer holds ("ja hoor, basis en kader" for
    "Ja" under "Biedt de school de basis-, kader- of gemengde leerweg aan?"). Not a question
    ("is kader ook beroepsgericht", "ik heb een vraag over het mbo"), nor an answer that says
    no to a word ("geen kader"), nor one holding the words of two options; and an answer
    speaks for oneself ("ik", "wij", "ja") or says nothing besides ("basis en kader"). Without
    own words, a yes or no it opens with picks its option ("yes with the roc")."""
    typed_words = typed.split()
    if "?" in text or len(typed_words) > MAX_SENTENCE_WORDS or typed_words[0] in ASKS_FIRST:
        return None
    if not ASKING.isdisjoint(typed_words):
        return None
    padded = f" {typed} "
    holding = {
        option: held
        for option in options
        if (held := [w for w in map(fold, words.own.get(option.id, ())) if f" {w} " in padded])
    }
    # Of "in een regio" (yes) and "niet in een regio" (no), the longer is what was said.
    holding = {
        option: held
        for option, held in holding.items()
        if not all(
            any(
                word != longer and f" {word} " in f" {longer} "
                for other, theirs in holding.items()
                if other != option
                for longer in theirs
            )
            for word in held
        )
    }
    # A yes or no first ("yes with the roc", "nee, nog niet") is the answer its word picks.
    first = typed_words[0]
    leading = [o for o in options if first in {fold(w) for w in words.words(o.id)}]
    if len(holding) > 1 or (holding and leading and leading != list(holding)):
        return None
    if not holding:
        if len(leading) != 1:
            return None
        # "nee, nog niet": the no is what "niet" says too; "ja, maar niet alle drie" is no yes.
        negated = first not in NO_WORDS and not NEGATIONS.isdisjoint(typed_words[1:])
        return None if negated else leading[0]
    [(option, held)] = holding.items()
    for word in held:
        padded = padded.replace(f" {word} ", " ")
    rest = set(padded.split())
    if not NEGATIONS.isdisjoint(rest):
        return None
    return option if rest <= BESIDES or not SPEAKING.isdisjoint(rest) else None


def _is_sign(char: str) -> bool:
    """Whether a character is (part of) an emoji or another sign: 👍, a skin tone, U+FE0F."""
    return unicodedata.category(char) in ("So", "Sk", "Mn")


def _likeness(typed: str, option: Option, words: OptionWords) -> float:
    """How well `typed` names the option: its label, or one of its words (0-100)."""
    phrases = [fold(option.label), *(fold(word) for word in words.words(option.id))]
    best = 0.0
    for phrase in phrases:
        if not phrase:
            continue
        if typed == phrase:
            return 100.0
        if _collapsed(typed) == _collapsed(phrase):
            best = max(best, 95.0)  # a letter held too long: "jaa", "neee"
        # Short words must be typed right: "ne" is not "nee", "j" only as listed.
        if min(len(typed), len(phrase)) >= 4:
            best = max(best, fuzz.ratio(typed, phrase))
    return best


def _collapsed(text: str) -> str:
    """`text` with runs of one letter as one letter ("jaaa" -> "ja")."""
    return re.sub(r"(.)\1+", r"\1", text)


def _by_part_of_label(typed: str, options: Sequence[Option]) -> Option | None:
    """The one option whose label holds every typed word (or a word starting like it):
    "telefoon" for "Telefonisch", "directeur" for "Schoolleider of directeur"."""
    typed_words = [word for word in typed.split() if len(word) >= 3]
    if not typed_words or len(typed_words) > 3:
        return None
    # The same words first: "techniekluwe" is in "Techniekluwe regio", only alike "Techniekregio".
    exact = [o for o in options if set(typed_words) <= set(fold(o.label).split())]
    if len(exact) == 1:
        return exact[0]
    found = [
        option
        for option in options
        if all(_in_label(word, fold(option.label).split()) for word in typed_words)
    ]
    return found[0] if len(found) == 1 else None


def _in_label(word: str, label_words: list[str]) -> bool:
    for label_word in label_words:
        if word == label_word:
            return True
        if min(len(word), len(label_word)) >= _PREFIX and word[:_PREFIX] == label_word[:_PREFIX]:
            return True
        if len(word) >= 5 and fuzz.ratio(word, label_word) >= TYPO_LIKENESS:
            return True
    return False


def read_option_words(loader: Shapes, path: Path, data: LineDict) -> OptionWords:
    """The `options:` part of `conversation.yaml`; problems go to the loader with their lines."""
    table = loader.mapping(path, data.get("options"), line_of(data, "options"), "options")
    by_id: dict[str, tuple[str, ...]] = {}
    yes: frozenset[str] = frozenset()
    for meaning, item in (table or {}).items():
        line = line_of(table, meaning)
        record = loader.mapping(path, item, line, f"options '{meaning}'")
        if record is None or not loader.keys(path, record, ["ids", "words"]):
            continue
        ids = loader.texts(
            path, loader.sequence(path, record["ids"], line_of(record, "ids"), "ids"), "an id"
        )
        listed = loader.texts(
            path,
            loader.sequence(path, record["words"], line_of(record, "words"), "words"),
            "a word",
        )
        if not ids or not listed:
            loader.problem(path, line, f"options '{meaning}' needs ids and words")
        for option_id in ids:
            by_id[option_id] = (*by_id.get(option_id, ()), *listed)
        if meaning == "agree":
            yes = frozenset(fold(word) for word in listed)
    return OptionWords(by_id, yes)


def one_numbered_list(replies: list[Reply]) -> list[Reply]:
    """The user's replies with all their options under the last one: one numbered list, so
    that a typed "1" can only mean one thing."""
    own = [i for i, r in enumerate(replies) if r.recipient is Recipient.USER and r.to is None]
    with_options = [i for i in own if replies[i].options]
    if not with_options or with_options == own[-1:]:
        return replies
    # The latest reply's own options first: a check question keeps its numbers after a side
    # question's follow-ups.
    order = sorted(with_options, key=lambda i: i != with_options[-1])
    options = list(dict.fromkeys(o for i in order for o in replies[i].options))
    last = own[-1]
    merged = list(replies)
    for i in with_options:
        merged[i] = replace(replies[i], options=())
    merged[last] = replace(replies[last], options=tuple(options))
    return merged
