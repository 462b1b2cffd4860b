"""Dutch-aware text normalisation, shared by the knowledge index and the matcher.

Questions and knowledge go through the same steps, so they meet in the same form: lower case
without accents, synonyms and abbreviations replaced by one canonical word, compounds split into
their parts, plural and inflection endings trimmed, and stop words dropped.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz.distance import DamerauLevenshtein

from sto_bot.models import Language

_NOT_WORD = re.compile(r"[^\w%&]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# A decimal or thousands mark belongs to its number: "7,5" and "7.5" are one token.
_NUMBER_MARK = re.compile(r"(?<=\d)[.,](?=\d)")
_MIN_PART = 4
_MIN_LEARNED = 5
_MIN_SLIP_WORD = 7  # letters from which a word of a multi-word synonym may have a typo
# Words repeat across questions, so per-word work is remembered; the caps bound the memory.
WORD_CACHE_SIZE = 20_000


def clean_input(text: str) -> str:
    """Remove control characters and surrogates that a terminal or a broken encoding let in."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    return _CONTROL.sub(" ", text).strip()


# One message is folded whole, in its parts and by each reader of it (intents, small talk, the
# matcher): the last texts are remembered rather than folded again (8 % of a question's time).
@lru_cache(maxsize=1024)
def fold(text: str) -> str:
    """Lower-case, strip accents and punctuation, keep words, digits and % separated by spaces."""
    text = text.casefold()
    if not text.isascii():
        # ASCII has no accents. Whitespace ends up as a separator anyway, and decomposing never
        # reaches across it, so the accents can be stripped word by word (each word only once).
        text = " ".join(map(_without_accents, text.split()))
    if "'" in text or "’" in text:
        # English contractions in full ("that's" is "that is"); then "regio's" and "regios"
        # are the same word: an apostrophe never separates words here.
        text = _contractions_in_full(text)
    text = text.replace("'", "").replace("’", "").replace("`", "")
    text = _NUMBER_MARK.sub("", text.replace("%", " % "))
    return " ".join(_NOT_WORD.sub(" ", text).replace("_", " ").split())


_CONTRACTIONS = (
    (re.compile(r"\b(can)['’]t\b"), r"\1 not"),
    (re.compile(r"\bwon['’]t\b"), "will not"),
    (re.compile(r"n['’]t\b"), " not"),
    (re.compile(r"\b(that|it|what|there|here|who|where|how|he|she)['’]s\b"), r"\1 is"),
    (re.compile(r"\bi['’]m\b"), "i am"),
    (re.compile(r"['’]re\b"), " are"),
    (re.compile(r"['’]ll\b"), " will"),
    (re.compile(r"['’]ve\b"), " have"),
)


def _contractions_in_full(text: str) -> str:
    """English contractions written out, so that "that's helpful" meets "that is helpful"."""
    for contraction, full in _CONTRACTIONS:
        text = contraction.sub(full, text)
    return text


@lru_cache(maxsize=WORD_CACHE_SIZE)
def _without_accents(word: str) -> str:
    """`word` decomposed and without its combining accents (één -> een)."""
    word = unicodedata.normalize("NFKD", word)
    return "".join(char for char in word if not unicodedata.combining(char))


def _same_phrase(words: list[str], phrase: list[str], known: Container[str]) -> bool:
    """Whether `words` are the words of a multi-word synonym, forgiving in each long word after
    the first one slip of the finger ("sterk techiekonderwijs"), unless the typed word is a word
    of the knowledge itself ("vorige regering" is not "vorige regeling")."""
    if len(words) != len(phrase):
        return False
    return all(
        word == wanted
        or (
            len(wanted) >= _MIN_SLIP_WORD
            and wanted.isalpha()
            and word[:1] == wanted[:1]
            and word not in known
            and DamerauLevenshtein.distance(word, wanted, score_cutoff=1) <= 1
        )
        for word, wanted in zip(words, phrase, strict=True)
    )


def _stem(word: str) -> str:
    """Trim the commonest Dutch and English inflections, so that singular and plural meet."""
    if len(word) > 5 and word.endswith("en"):
        return word[:-2]
    if len(word) > 5 and word.endswith("e"):
        return word[:-1]
    if len(word) > 4 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


class Normaliser:
    """Turns text into the canonical tokens the matcher compares."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self._words: dict[str, str] = {}
        phrases: dict[str, str] = {}
        for variant, canonical in lexicon.synonyms.items():
            folded = fold(variant)
            if not folded:
                continue
            # Canonical words may hold "_" (bevoegd_gezag); folding must leave them one token.
            token = canonical.replace("-", "").replace(" ", "_")
            (phrases if " " in folded else self._words)[folded] = token
        for canonical in set(lexicon.synonyms.values()):
            token = canonical.replace("-", "").replace(" ", "_")
            self._words.setdefault(fold(canonical).replace(" ", "_"), token)
        # Multi-word synonyms by their first word, longest first: the longest one that fits wins.
        # Each with whether a word after its first is long enough to forgive a slip in.
        self._phrases: dict[str, list[tuple[list[str], list[str], bool]]] = {}
        for phrase in sorted(phrases, key=lambda phrase: len(phrase.split()), reverse=True):
            words = phrase.split()
            forgiving = any(len(word) >= _MIN_SLIP_WORD and word.isalpha() for word in words[1:])
            self._phrases.setdefault(words[0], []).append(
                (words, phrases[phrase].split(), forgiving)
            )
        self._parts = set(lexicon.compound_parts) | {
            token for token in self._words.values() if len(token) >= _MIN_PART and "_" not in token
        }
        # Words the knowledge uses as they are written: no typo of a synonym's word.
        self._known: set[str] = set(self._words)
        self._canonical_cache: dict[str, tuple[str, ...]] = {}
        # How greetings and introductions begin, folded as the messages they are compared with.
        self.fillers = tuple(fold(filler) for filler in lexicon.fillers)

    def learn(self, texts: Iterable[str]) -> None:
        """Take the words of the knowledge as compound parts too, so compounds of them split,
        and as known words, which are never read as a synonym's word mistyped."""
        for text in texts:
            for word in self.words(text):
                self._known.add(word)
                if len(word) >= _MIN_LEARNED and word.isalpha():
                    self._parts.add(self._words.get(word, _stem(word)))
        # New parts split words differently from now on.
        self._canonical_cache.clear()

    def words(self, text: str) -> list[str]:
        """The folded words of `text`, with multi-word synonyms already joined."""
        words = fold(clean_input(text)).split()
        joined: list[str] = []
        start = 0
        while start < len(words):
            for phrase, token, forgiving in self._phrases.get(words[start], ()):
                typed = words[start : start + len(phrase)]
                if typed == phrase or (forgiving and _same_phrase(typed, phrase, self._known)):
                    joined.extend(token)
                    start += len(phrase)
                    break
            else:
                joined.append(words[start])
                start += 1
        return joined

    def tokens(self, text: str) -> list[str]:
        """Canonical tokens of `text`, stop words removed, in order of appearance."""
        return self.canonical(self.words(text))

    def canonical(self, words: Iterable[str]) -> list[str]:
        """Canonical tokens of words from `words()`, stop words removed, in order of appearance."""
        result: list[str] = []
        for word in words:
            for token in self._canonical(word):
                if token not in result:
                    result.append(token)
        return result

    def spellings(self) -> dict[str, str]:
        """The one-word synonyms and the canonical word each stands for."""
        return {word: token for word, token in self._words.items() if word != token}

    def _canonical(self, word: str) -> tuple[str, ...]:
        """The tokens `word` stands for, without stop words (remembered per word)."""
        tokens = self._canonical_cache.get(word)
        if tokens is None:
            if len(self._canonical_cache) >= WORD_CACHE_SIZE:
                self._canonical_cache.clear()
            stopwords = self.lexicon.stopwords
            tokens = tuple(token for token in self._parse(word) if token not in stopwords)
            self._canonical_cache[word] = tokens
        return tokens

    def _parse(self, word: str) -> list[str]:
        """The canonical tokens of one folded word: its synonym, its compound parts or its stem."""
        if word in self._words:
            return [self._words[word]]
        if "_" in word or word in self.lexicon.stopwords:
            return [word]
        parts = self._split(word)
        if parts:
            return [self._words.get(part, part) for part in parts]
        stem = _stem(word)
        return [self._words.get(stem, stem)]

    def _split(self, word: str) -> list[str] | None:
        """Split a compound into known parts (techniekonderwijs -> techniek onderwijs)."""
        if len(word) < 2 * _MIN_PART:
            return None
        for cut in range(len(word) - _MIN_PART, _MIN_PART - 1, -1):
            head, tail = word[:cut], word[cut:]
            if head not in self._parts:
                continue
            # Dutch glues parts with an "s" or "e(n)": beroepsgericht, leerlingenaantal.
            for linker in ("", "s", "en", "e"):
                if not tail.startswith(linker):
                    continue
                rest = tail[len(linker) :]
                if rest in self._parts or _stem(rest) in self._parts:
                    return [head, _stem(rest) if rest not in self._parts else rest]
                deeper = self._split(rest)
                if deeper:
                    return [head, *deeper]
        return None


@dataclass(frozen=True, slots=True)
class Lexicon:
    """What the normaliser knows about words: synonyms, compound parts, stop words."""

    synonyms: Mapping[str, str] = field(default_factory=dict)
    compound_parts: frozenset[str] = frozenset()
    stopwords: frozenset[str] = frozenset()
    language_markers: Mapping[Language, frozenset[str]] = field(default_factory=dict)
    # How sentences start that carry no question: greetings, introductions, thanks.
    fillers: tuple[str, ...] = ()
