"""Load and validate the YAML knowledge base (knowledge/) into the frozen objects of
knowledge.py; every problem is collected with its file and line."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from sto_bot.choices import OptionWords, read_option_words
from sto_bot.commands import read_commands
from sto_bot.decision import Decision
from sto_bot.dialog import callback_data
from sto_bot.intents import FollowUps, Intents, read_intents
from sto_bot.knowledge import Confidence, DatedFact, Entry, EntryKind, KnowledgeBase, Texts, Topic
from sto_bot.models import LANGUAGES, Language, Source
from sto_bot.shapes import KnowledgeError, Problem, Shapes
from sto_bot.text import Lexicon
from sto_bot.text_keys import missing_texts
from sto_bot.tree_loader import read_tree
from sto_bot.yaml_lines import LineDict, LineList, line_of, load_yaml

log = logging.getLogger(__name__)

FACT_PATTERN = re.compile(r"^\d{1,2}\.[0-9a-z-]+$")
DATE_STATES = ("before", "during", "after")
MAX_FOLLOW_UPS = 3


# Where an install (not an editable one) puts the knowledge: inside the package.
INSTALLED_KNOWLEDGE = Path(__file__).resolve().parent / "knowledge"


def default_knowledge_dir() -> Path:
    """The knowledge shipped with the package (installed), or the repository's own (checkout)."""
    if INSTALLED_KNOWLEDGE.is_dir():
        return INSTALLED_KNOWLEDGE
    return Path(__file__).resolve().parent.parent / "knowledge"


def load_knowledge(root: Path, *, decision: bool = True, labelled: bool = True) -> KnowledgeBase:
    """Load and validate every knowledge file under `root`; KnowledgeError lists all problems.
    Without `decision` the fitted decision is left out (for `kb fit`, which makes it anew);
    without `labelled` the labelled questions of eval/ and holdout/ are not checked (serving
    never reads them, and reading them was 40 % of the start-up), nor is every topic entry's
    phrasing compared with the other topic entries' (`kb check` does both)."""
    return KnowledgeLoader(root, decision=decision, labelled=labelled).load()


def reloaded(root: Path) -> KnowledgeBase | list[Problem]:
    """The knowledge under `root` for a reload, or its problems (the old knowledge then keeps
    serving); both are logged, each problem with its file and line."""
    try:
        knowledge = load_knowledge(root, labelled=False)
    except OSError as error:  # the folder itself is gone or unreadable
        problems = [Problem(root, 0, f"cannot read the knowledge: {error}")]
    except KnowledgeError as error:
        problems = error.problems
    else:
        log.info("knowledge reloaded: %d entries", len(knowledge.entries))
        return knowledge
    for problem in problems:
        log.warning("knowledge: %s", problem)
    log.warning("knowledge not reloaded: %d problems, the old one stays", len(problems))
    return problems


class KnowledgeLoader(Shapes):
    """Reads the files one by one, collecting problems instead of stopping at the first."""

    def __init__(self, root: Path, *, decision: bool = True, labelled: bool = True) -> None:
        super().__init__()
        self.root = root
        self.with_decision = decision
        self.with_labelled = labelled
        self.dates: dict[str, DatedFact] = {}

    def load(self) -> KnowledgeBase:
        if not self.root.is_dir():
            raise KnowledgeError([Problem(self.root, 0, "knowledge folder not found")])
        sources = self.load_sources(self.root / "sources.yaml")
        dates = self.dates = self.load_dates(self.root / "dates.yaml")
        texts = self.load_texts(self.root / "texts.yaml")
        lexicon = self.load_lexicon(self.root / "lexicon.yaml")
        topics, entries, follow_up_refs = self.load_topics(sources)
        check = read_tree(self, self.root / "dialogs" / "eligibility.yaml", sources)
        commands = read_commands(self, self.root / "commands.yaml")
        path = self.root / "conversation.yaml"
        conversation = self.read(path)
        parts = ["options", "intents", "ignore", "follow_ups"]
        if conversation is not None and self.keys(path, conversation, parts):
            option_words = read_option_words(self, path, conversation)
            intents = read_intents(self, path, conversation)
        else:
            option_words, intents = OptionWords({}), Intents({}, {}, frozenset(), FollowUps())
        if check is not None:
            option_words = option_words.with_own_words(
                {
                    callback_data(check.version, question.id, option.id): option.words
                    for question in check.questions.values()
                    for option in question.options
                    if option.words
                }
            )
        self.load_replies(self.root / "smalltalk.yaml", EntryKind.SMALLTALK, entries)
        self.load_replies(self.root / "elsewhere.yaml", EntryKind.ELSEWHERE, entries)
        coverage = self.load_coverage(self.root / "coverage.yaml", entries)
        decision = self.load_decision(self.root / "decision.yaml") if self.with_decision else None
        for path, line, entry_id, target in follow_up_refs:
            if target not in entries or not entries[target].topical:
                self.problem(path, line, f"entry '{entry_id}': follow-up '{target}' does not exist")
        for folder in ("eval", "holdout") if self.with_labelled else ():
            for path in sorted((self.root / folder).glob("*.yaml")):
                self.check_eval(path, entries, coverage)
        if self.unreadable:
            # What a file that does not parse defines is missing everywhere it is used: those
            # follow-on problems would bury the one that matters.
            wait = Problem(self.root, 0, "the other checks run once these files read again")
            raise KnowledgeError([*self.unreadable, wait])
        if self.problems or check is None:
            raise KnowledgeError(self.problems)
        return KnowledgeBase(
            self.root,
            topics,
            entries,
            sources,
            dates,
            lexicon,
            texts,
            check,
            commands,
            option_words,
            intents,
            coverage,
            decision,
        )

    def load_sources(self, path: Path) -> dict[str, Source]:
        data = self.read(path)
        sources: dict[str, Source] = {}
        if data is None or not self.keys(path, data, ["sources"]):
            return sources
        for item in self.records(path, data, "sources", "a source", ["id", "title", "url"]):
            source_id = self.identifier(path, item["id"], item.line, "source id")
            title = self.text(path, item["title"], line_of(item, "title"), "title")
            url = self.text(path, item["url"], line_of(item, "url"), "url")
            if url is not None and not url.startswith(("https://", "http://")):
                self.problem(path, line_of(item, "url"), f"url '{url}' must start with https://")
            if source_id is None or title is None or url is None:
                continue
            if source_id in sources:
                self.problem(path, item.line, f"duplicate source id '{source_id}'")
            sources[source_id] = Source(source_id, title, url)
        return sources

    def load_dates(self, path: Path) -> dict[str, DatedFact]:
        data = self.read(path)
        dates: dict[str, DatedFact] = {}
        if data is None or not self.keys(path, data, ["dates"]):
            return dates
        keys = ["id", "text"], ["start", "end"]
        for item in self.records(path, data, "dates", "a dated fact", *keys):
            fact_id = self.identifier(path, item["id"], item.line, "date id")
            start, start_has_time = self.moment(path, item, "start")
            end, end_has_time = self.moment(path, item, "end")
            if start is None and end is None:
                self.problem(path, item.line, "a dated fact needs a start, an end or both")
                continue
            if start is not None and end is not None and end < start:
                self.problem(path, line_of(item, "end"), "end comes before start")
            states = self.mapping(path, item["text"], line_of(item, "text"), "text")
            if states is None:
                continue
            needed = DATE_STATES if start is not None and end is not None else ("before", "after")
            if not self.keys(path, states, needed, DATE_STATES):
                continue
            text = {
                state: self.localized_text(path, states[state], line_of(states, state), state)
                for state in states
            }
            if fact_id is None:
                continue
            if fact_id in dates:
                self.problem(path, item.line, f"duplicate date id '{fact_id}'")
            dates[fact_id] = DatedFact(fact_id, start, end, start_has_time, end_has_time, text)
        return dates

    def moment(self, path: Path, item: LineDict, key: str) -> tuple[datetime | None, bool]:
        value = item.get(key)
        if value is None:
            return None, False
        if isinstance(value, datetime):
            return value.replace(tzinfo=None), True
        if isinstance(value, date):
            return datetime.combine(value, time()), False
        if isinstance(value, str):
            try:
                return datetime.strptime(value, "%Y-%m-%d %H:%M"), True
            except ValueError:
                pass
        self.problem(path, line_of(item, key), f"{key} must be YYYY-MM-DD or 'YYYY-MM-DD HH:MM'")
        return None, False

    def load_texts(self, path: Path) -> Texts:
        data = self.read(path)
        values: dict[str, dict[Language, str]] = {}
        if data is None or not self.keys(path, data, ["texts"]):
            return Texts(values)
        texts = self.mapping(path, data["texts"], line_of(data, "texts"), "texts")
        if texts is None:
            return Texts(values)
        for key in missing_texts(set(texts)):
            self.problem(path, texts.line, f"missing key '{key}'")
        for key in texts:
            values[key] = self.localized_text(path, texts[key], line_of(texts, key), key)
        return Texts(values)

    def load_lexicon(self, path: Path) -> Lexicon:
        data = self.read(path)
        if data is None or not self.keys(
            path, data, ["synonyms", "stopwords", "language_markers"], ["compounds", "fillers"]
        ):
            return Lexicon()
        synonyms: dict[str, str] = {}
        table = self.mapping(path, data["synonyms"], line_of(data, "synonyms"), "synonyms")
        for canonical, variants in (table or {}).items():
            line = line_of(table, canonical)
            what = f"a synonym of '{canonical}'"
            for text in self.texts(path, self.sequence(path, variants, line, what), what):
                if synonyms.get(text.casefold(), canonical) != canonical:
                    self.problem(path, line, f"'{text}' is a synonym of two words")
                synonyms[text.casefold()] = str(canonical)
        parts_line = line_of(data, "compounds")
        parts = self.sequence(path, data.get("compounds", LineList()), parts_line, "compounds")
        stopwords = self.localized_list(
            path, data["stopwords"], line_of(data, "stopwords"), "stopwords"
        )
        markers = self.localized_list(
            path, data["language_markers"], line_of(data, "language_markers"), "language_markers"
        )
        fillers_line = line_of(data, "fillers")
        fillers = self.sequence(path, data.get("fillers", LineList()), fillers_line, "fillers")
        return Lexicon(
            fillers=tuple(f.casefold() for f in self.texts(path, fillers, "a filler")),
            synonyms=synonyms,
            compound_parts=frozenset(p.casefold() for p in self.texts(path, parts, "compounds")),
            stopwords=frozenset(word.casefold() for words in stopwords.values() for word in words),
            language_markers={
                language: frozenset(w.casefold() for w in words)
                for language, words in markers.items()
            },
        )

    def load_topics(
        self, sources: Mapping[str, Source]
    ) -> tuple[tuple[Topic, ...], dict[str, Entry], list[tuple[Path, int, str, str]]]:
        topics: list[Topic] = []
        entries: dict[str, Entry] = {}
        follow_up_refs: list[tuple[Path, int, str, str]] = []
        placed: dict[str, tuple[Path, int]] = {}  # where each entry is
        phrased: dict[str, tuple[str, Path, int]] = {}  # a phrasing's words: entry, file, line
        paths = sorted((self.root / "faq").glob("*.yaml"))
        if not paths:
            self.problem(self.root / "faq", 0, "no topic files (faq/*.yaml)")
        for path in paths:
            data = self.read(path)
            if data is None or not self.keys(path, data, ["topic", "entries"]):
                continue
            topic_data = self.mapping(path, data["topic"], line_of(data, "topic"), "topic")
            if topic_data is None or not self.keys(path, topic_data, ["id", "title"]):
                continue
            topic_id = self.identifier(path, topic_data["id"], topic_data.line, "topic id")
            title = self.localized_text(
                path, topic_data["title"], line_of(topic_data, "title"), "topic title"
            )
            if topic_id is None:
                continue
            if any(topic.id == topic_id for topic in topics):
                self.problem(path, topic_data.line, f"duplicate topic id '{topic_id}'")
            items = self.sequence(path, data["entries"], line_of(data, "entries"), "entries")
            entry_ids: list[str] = []
            for index, item in enumerate(items or []):
                line = line_of(items, index)
                entry = self.entry(path, item, line, topic_id, sources, follow_up_refs)
                if entry is None:
                    continue
                if entry.id in entries:
                    first = placed[entry.id]
                    where = f"{first[0].name}:{first[1]}"
                    self.problem(path, line, f"duplicate entry id '{entry.id}' (first at {where})")
                    continue
                entries[entry.id] = entry
                placed[entry.id] = (path, line)
                entry_ids.append(entry.id)
                if self.with_labelled:  # an editor's check, like the labelled questions
                    self.phrasings_once(path, item, entry.id, phrased)
            topics.append(Topic(topic_id, title, tuple(entry_ids)))
        return tuple(topics), entries, follow_up_refs

    def phrasings_once(
        self, path: Path, item: Any, entry_id: str, phrased: dict[str, tuple[str, Path, int]]
    ) -> None:
        """A question leads to one answer: the same phrasing under two entries is a slip."""
        for phrasings in (item.get("questions") or {}).values():
            for index, phrasing in enumerate(phrasings if isinstance(phrasings, list) else []):
                line = line_of(phrasings, index)
                # Case and spacing aside (folding all 4,000 cost a third of the loading).
                words = " ".join(str(phrasing).casefold().rstrip(" ?!.").split())
                owner, where, at = phrased.setdefault(words, (entry_id, path, line))
                if owner != entry_id:
                    self.problem(
                        path,
                        line,
                        f"phrasing '{phrasing}' is also one of entry '{owner}' "
                        f"({where.name}:{at}): a question leads to one answer",
                    )

    def entry(
        self,
        path: Path,
        item: Any,
        line: int,
        topic_id: str,
        sources: Mapping[str, Source],
        follow_up_refs: list[tuple[Path, int, str, str]],
    ) -> Entry | None:
        item = self.mapping(path, item, line, "an entry")
        required = ["id", "questions", "answer", "sources", "confidence"]
        if item is None or not self.keys(path, item, required, ["keywords", "follow_ups"]):
            return None
        entry_id = self.identifier(path, item["id"], item.line, "entry id")
        questions = self.localized_list(
            path, item["questions"], line_of(item, "questions"), "questions"
        )
        answer = self.localized_text(path, item["answer"], line_of(item, "answer"), "answer")
        self.check_dates(path, item["answer"], answer, "answer")
        source_list = self.sequence(path, item["sources"], line_of(item, "sources"), "sources")
        if not source_list:
            self.problem(path, line_of(item, "sources"), f"entry '{entry_id}' has no source")
        cited = []
        for index, source_id in enumerate(source_list or []):
            if source_id in sources:
                cited.append(sources[source_id])
            else:
                where = line_of(source_list, index)
                self.problem(path, where, f"unknown source '{source_id}'")
        try:
            confidence = Confidence(item["confidence"])
        except ValueError:
            allowed = ", ".join(c.value for c in Confidence)
            line = line_of(item, "confidence")
            self.problem(path, line, f"confidence must be one of: {allowed}")
            confidence = Confidence.CONFIRMED
        keywords = self.sequence(
            path, item.get("keywords", LineList()), line_of(item, "keywords"), "keywords"
        )
        follow_ups = self.sequence(
            path, item.get("follow_ups", LineList()), line_of(item, "follow_ups"), "follow_ups"
        )
        if follow_ups is not None and len(follow_ups) > MAX_FOLLOW_UPS:
            line = line_of(item, "follow_ups")
            self.problem(path, line, f"at most {MAX_FOLLOW_UPS} follow-ups")
        if entry_id is None or set(questions) != set(LANGUAGES) or set(answer) != set(LANGUAGES):
            return None
        for target in follow_ups or []:
            follow_up_refs.append((path, line_of(item, "follow_ups"), entry_id, str(target)))
        return Entry(
            id=entry_id,
            topic_id=topic_id,
            questions=questions,
            answer=answer,
            keywords=tuple(self.texts(path, keywords, "a keyword")),
            sources=tuple(cited),
            confidence=confidence,
            follow_ups=tuple(str(target) for target in follow_ups or []),
        )

    def load_replies(self, path: Path, kind: EntryKind, entries: dict[str, Entry]) -> None:
        """Small talk, or questions about other subjects than STO: short replies without a
        source, in an optional file whose list is named like the kind."""
        data = self.read(path, required=False)
        if data is None or not self.keys(path, data, [kind.value]):
            return
        keys = ["id", "questions", "answer"], ["keywords", "names", "sources_of_previous"]
        for item in self.records(path, data, kind.value, f"a {kind.value} item", *keys):
            entry_id = self.identifier(path, item["id"], item.line, f"{kind.value} id")
            questions = self.localized_list(
                path, item["questions"], line_of(item, "questions"), "questions"
            )
            answer = self.localized_text(path, item["answer"], line_of(item, "answer"), "answer")
            keywords = self.sequence(
                path, item.get("keywords", LineList()), line_of(item, "keywords"), "keywords"
            )
            names = self.sequence(
                path, item.get("names", LineList()), line_of(item, "names"), "names"
            )
            if entry_id is None or len(questions) < 2 or len(answer) < 2:
                continue
            if entry_id in entries:
                self.problem(path, item.line, f"duplicate entry id '{entry_id}'")
                continue
            entries[entry_id] = Entry(
                entry_id,
                kind.value,
                questions,
                answer,
                keywords=tuple(self.texts(path, keywords, "a keyword")),
                kind=kind,
                names=tuple(self.texts(path, names, "a name")),
                sources_of_previous=item.get("sources_of_previous") is True,
            )

    def load_coverage(self, path: Path, entries: Mapping[str, Entry]) -> dict[str, tuple[str, ...]]:
        """Which entries tell each numbered fact of the fact sheet (optional file)."""
        data = self.read(path, required=False)
        coverage: dict[str, tuple[str, ...]] = {}
        for fact, value in (data or {}).items():
            line = line_of(data, fact)
            if not FACT_PATTERN.match(fact):
                self.problem(path, line, f"'{fact}' is not a fact number like \"7.10\"")
                continue
            if isinstance(value, LineDict):
                if self.keys(path, value, ["not-told"]):
                    self.text(path, value["not-told"], line, f"{fact}: not-told")
                coverage[fact] = ()
                continue
            told = self.sequence(path, value, line, f"{fact}: the entries that tell it")
            if not told:
                self.problem(path, line, f"{fact}: list the entries or write {{not-told: why}}")
                continue
            for index, entry_id in enumerate(told):
                if entry_id not in entries or not entries[entry_id].topical:
                    where = line_of(told, index)
                    self.problem(path, where, f"{fact}: entry '{entry_id}' does not exist")
            coverage[fact] = tuple(str(entry_id) for entry_id in told)
        return coverage

    def load_decision(self, path: Path) -> Decision | None:
        """The answer/suggest/fallback decision fitted by `sto-bot kb fit`."""
        if not path.exists():
            self.problem(path, 0, "file is missing: run 'sto-bot kb fit' to make it")
            return None
        data = self.read(path)
        if data is None or not self.keys(
            path, data, ["bias", "features", "thresholds"], ["fitted"]
        ):
            return None
        try:
            return Decision.from_mapping(data)
        except (KeyError, TypeError, ValueError) as error:
            self.problem(
                path, data.line, f"not a fitted decision ({error!r}): run 'sto-bot kb fit'"
            )
            return None

    def check_eval(
        self, path: Path, entries: Mapping[str, Entry], coverage: Mapping[str, tuple[str, ...]]
    ) -> None:
        data = self.read(path)
        if data is None or not self.keys(path, data, ["questions"]):
            return
        keys = ["q"], ["expect", "facts", "style"]
        for item in self.records(path, data, "questions", "an eval question", *keys):
            self.text(path, item["q"], item.line, "q")
            if ("expect" in item) == ("facts" in item):
                self.problem(path, item.line, "give either expect (an entry or none) or facts")
                continue
            expected = item.get("expect", "none")
            for expect in expected if isinstance(expected, list) else [expected]:
                if expect != "none" and expect not in entries:
                    message = f"expect '{expect}' is not an entry id (or 'none')"
                    self.problem(path, item.line, message)
            if expected == []:
                self.problem(path, item.line, "expect lists no entry")
            facts = item.get("facts", [])
            if "facts" in item and (not isinstance(facts, list) or not facts):
                self.problem(path, item.line, 'facts must be a list like ["7.10"]')
                continue
            for fact in facts:
                if not isinstance(fact, str):
                    # YAML reads 7.10 as the number 7.1.
                    self.problem(path, item.line, f'fact {fact} must be in quotes: "{fact}"')
                elif fact not in coverage:
                    self.problem(path, item.line, f"fact '{fact}' is not in coverage.yaml")
            if facts and all(not coverage.get(str(fact)) for fact in facts):
                self.problem(path, item.line, "no entry tells these facts: nothing can be right")


@dataclass(frozen=True, slots=True)
class Labelled:
    """An evaluation question and the entries that would answer it right (none: out of scope)."""

    question: str
    accept: frozenset[str]
    in_scope: bool  # False: about something else than STO, nothing should answer it
    style: str = ""


def load_eval(path: Path, coverage: Mapping[str, tuple[str, ...]]) -> list[Labelled]:
    """Labelled questions of an eval file or folder. A question names its entry (`expect`) or
    the facts a right answer tells (`facts`), which coverage.yaml turns into entries."""
    paths = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    labelled: list[Labelled] = []
    for file in paths:
        data = load_yaml(file)
        for item in data["questions"]:
            if "facts" in item:
                accept = frozenset(e for fact in item["facts"] for e in coverage[str(fact)])
                in_scope = True
            else:  # an entry, a list of entries that would each be right, or none
                expect = item["expect"]
                accept = frozenset(map(str, expect if isinstance(expect, list) else [expect]))
                in_scope = accept != {"none"}
                accept = accept if in_scope else frozenset()
            style = str(item.get("style", ""))
            labelled.append(Labelled(str(item["q"]), accept, in_scope, style))
    return labelled
