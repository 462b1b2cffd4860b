"""Load and validate the YAML knowledge base into frozen objects.

Every problem is collected with its file and line, so `sto-bot kb check` can list them all at once
and an editor can fix them without reading Python.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from enum import StrEnum
from pathlib import Path
from typing import Any

from sto_bot.choices import OptionWords, read_option_words
from sto_bot.commands import Commands, read_commands
from sto_bot.decision import Decision
from sto_bot.dialog import Tree, read_tree
from sto_bot.intents import FollowUps, Intents, read_intents
from sto_bot.models import LANGUAGES, Language
from sto_bot.yaml_lines import LineDict, LineList, YamlProblem, line_of, load_yaml

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")
PLACEHOLDER = re.compile(r"\{([a-z0-9-]+)\}")
FACT_PATTERN = re.compile(r"^\d{1,2}\.[0-9a-z-]+$")
DATE_STATES = ("before", "during", "after")
MAX_FOLLOW_UPS = 3


class EntryKind(StrEnum):
    """What an entry is for: a question about STO, small talk, or something other than STO."""

    TOPIC = "topic"
    SMALLTALK = "smalltalk"
    ELSEWHERE = "elsewhere"  # other subsidies, the clock, the weather: answered as out of scope


class Confidence(StrEnum):
    """How firmly the sources back an answer."""

    CONFIRMED = "confirmed"
    INFERRED = "inferred"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in the knowledge base, at a file and line."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class KnowledgeError(Exception):
    """The knowledge base has problems; `problems` lists every one."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        first = problems[0] if problems else "unknown problem"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{first}{more}")


@dataclass(frozen=True, slots=True)
class Source:
    """A document an answer cites."""

    id: str
    title: str
    url: str


@dataclass(frozen=True, slots=True)
class Entry:
    """One question the assistant can answer, with its phrasings and sourced answer."""

    id: str
    topic_id: str
    questions: Mapping[Language, tuple[str, ...]]
    answer: Mapping[Language, str]
    keywords: tuple[str, ...] = ()
    sources: tuple[Source, ...] = ()
    confidence: Confidence = Confidence.CONFIRMED
    follow_ups: tuple[str, ...] = ()
    kind: EntryKind = EntryKind.TOPIC

    @property
    def smalltalk(self) -> bool:
        """Whether this is small talk ("hallo", "wie ben jij?"), matched word for word."""
        return self.kind is EntryKind.SMALLTALK

    @property
    def topical(self) -> bool:
        """Whether this entry answers a question about STO."""
        return self.kind is EntryKind.TOPIC

    def title(self, language: Language) -> str:
        """The entry's first phrasing: how it is labelled on a button."""
        return self.questions[language][0]


@dataclass(frozen=True, slots=True)
class Topic:
    """A group of entries, browsable with /onderwerpen."""

    id: str
    title: Mapping[Language, str]
    entry_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DatedFact:
    """A date or period whose wording depends on today: before, during or after it."""

    id: str
    start: datetime | None
    end: datetime | None
    start_has_time: bool
    end_has_time: bool
    text: Mapping[str, Mapping[Language, str]]

    def state(self, now: datetime) -> str:
        """Which of before / during / after applies at `now`."""
        closes = None
        if self.end is not None:
            # A date without a time lasts the whole day: a deadline "on 1 October" still holds then.
            closes = self.end if self.end_has_time else _end_of_day(self.end)
        if self.start is not None and now < self.start:
            return "before"
        if closes is None:
            return "after"
        if now > closes:
            return "after"
        return "during" if self.start is not None else "before"


def _end_of_day(moment: datetime) -> datetime:
    return datetime.combine(moment.date(), time(23, 59, 59))


@dataclass(frozen=True, slots=True)
class Lexicon:
    """What the normaliser knows about words: synonyms, compound parts, stop words."""

    synonyms: Mapping[str, str] = field(default_factory=dict)
    compound_parts: frozenset[str] = frozenset()
    stopwords: frozenset[str] = frozenset()
    language_markers: Mapping[Language, frozenset[str]] = field(default_factory=dict)
    # How sentences start that carry no question: greetings, introductions, thanks.
    fillers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Texts:
    """The assistant's own texts, per key and language."""

    values: Mapping[str, Mapping[Language, str]]

    def get(self, key: str, language: Language, **fields: object) -> str:
        """The text for `key` in `language`, with `{field}` placeholders filled in."""
        template = self.values[key][language]
        return template.format_map(fields) if fields else template

    def table(self, key: str, language: Language) -> dict[str, str]:
        """A text of "key=label" lines as a mapping."""
        pairs = (line.split("=", 1) for line in self.get(key, language).splitlines())
        return {name.strip(): label.strip() for name, label in pairs}


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    """The whole validated knowledge base."""

    root: Path
    topics: tuple[Topic, ...]
    entries: Mapping[str, Entry]
    sources: Mapping[str, Source]
    dates: Mapping[str, DatedFact]
    lexicon: Lexicon
    texts: Texts
    check: Tree
    commands: Commands
    option_words: OptionWords  # words that pick an option on screen
    intents: Intents  # what people ask for in their own words
    # Fact number of the fact sheet ("7.10") -> the entries that tell it (empty: not told).
    coverage: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    decision: Decision | None = None  # fitted by `sto-bot kb fit`

    def topic(self, topic_id: str) -> Topic | None:
        """The topic with this id, if there is one."""
        return next((topic for topic in self.topics if topic.id == topic_id), None)


# Texts the code asks for; texts.yaml must define each of them in every language.
REQUIRED_TEXTS = frozenset(
    {
        "welcome",
        "help",
        "fallback",
        "fallback_off_topic",
        "likely_intro",
        "also_asked",
        "suggest_intro",
        "none_of_these",
        "none_of_these_reply",
        "topics_intro",
        "topic_intro",
        "topics_button",
        "consultant_button",
        "handover_consent",
        "handover_consent_yes",
        "handover_consent_no",
        "handover_declined",
        "handover_skip",
        "handover_ask_organisation",
        "handover_ask_role",
        "handover_roles",
        "handover_ask_region",
        "handover_ask_contact",
        "handover_contacts",
        "handover_ask_email",
        "handover_ask_phone",
        "handover_bad_email",
        "handover_bad_phone",
        "handover_pick_contact",
        "handover_ask_question",
        "handover_intake_cancelled",
        "handover_sent",
        "handover_when",
        "handover_waiting_ack",
        "handover_already",
        "handover_picked_up",
        "handover_from_consultant",
        "handover_closed",
        "handover_back",
        "handover_cancelled",
        "handover_none_open",
        "handover_fallback_offer",
        "handover_summary",
        "handover_not_given",
        "handover_no_check",
        "handover_no_questions",
        "handover_unanswered_count",
        "handover_depends",
        "handover_thread_forgotten_telegram",
        "my_data_intro",
        "result_running",
        "handover_check_under_way",
        "storage_full",
        "storage_full_later",
        "privacy_chat_id_telegram",
        "privacy_chat_id_console",
        "privacy_consultants_telegram",
        "privacy_consultants_console",
        "my_data_empty",
        "my_data_tables",
        "my_data_file",
        "handover_thread_forgotten_console",
        "handover_bands",
        "handover_contact_telegram",
        "handover_pick",
        "handover_close",
        "handover_thread_picked_up",
        "handover_thread_message",
        "handover_thread_closed",
        "handover_thread_back",
        "handover_thread_cancelled",
        "handover_reminder",
        "handover_not_allowed",
        "handover_list_heading",
        "handover_list_empty",
        "handover_list_line",
        "handover_statuses",
        "handover_unknown",
        "handover_usage",
        "handover_usage_reply_telegram",
        "handover_usage_reply_console",
        "handover_is_over",
        "handover_taken",
        "handover_sent_to_user",
        "empty_prompt",
        "too_long_note",
        "inferred_note",
        "unknown_note",
        "source_line",
        "language_set",
        "language_usage",
        "unknown_command",
        "expired_button",
        "internal_error",
        "invalid_input",
        "month_names",
        "check_button",
        "ask_button",
        "ask_prompt",
        "check_back",
        "check_stop_button",
        "check_progress",
        "check_stopped",
        "check_not_running",
        "check_continue_or_restart",
        "check_continue",
        "check_restart",
        "check_resume_note",
        "check_changed",
        "verdict_met",
        "verdict_attention",
        "verdict_depends",
        "criteria_heading",
        "status_met",
        "status_not_met",
        "status_unknown",
        "notes_heading",
        "steps_heading",
        "result_none",
        "result_intro",
        "answers_heading",
        "privacy",
        "forget_confirm",
        "forget_yes",
        "forget_no",
        "forgotten",
        "forget_cancelled",
        "text_only",
        "name_source_telegram",
        "name_source_console",
        "handover_reply_chat",
        "handover_reply_email",
        "handover_reply_phone",
        "how_to_reply_telegram",
        "how_to_reply_console",
        "thread_reply_telegram",
        "thread_reply_console",
        "choose_number",
        "where_check",
        "where_waiting",
        "where_with_consultant",
        "where_intake",
        "cancel_button",
        "leave_button",
        "a_consultant",
        "console_goodbye",
    }
)


def default_knowledge_dir() -> Path:
    """The knowledge shipped with the package (installed), or the repository's own (checkout)."""
    installed = Path(__file__).resolve().parent / "knowledge"
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parent.parent / "knowledge"


def load_knowledge(root: Path, *, decision: bool = True) -> KnowledgeBase:
    """Load and validate every knowledge file under `root`; KnowledgeError lists all problems.
    Without `decision` the fitted decision is left out (for `kb fit`, which makes it anew)."""
    return KnowledgeLoader(root, decision=decision).load()


class KnowledgeLoader:
    """Reads the files one by one, collecting problems instead of stopping at the first."""

    def __init__(self, root: Path, *, decision: bool = True) -> None:
        self.root = root
        self.with_decision = decision
        self.problems: list[Problem] = []
        self.dates: dict[str, DatedFact] = {}

    def problem(self, path: Path, line: int, message: str) -> None:
        self.problems.append(Problem(path, line, message))

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
        self.load_replies(self.root / "smalltalk.yaml", EntryKind.SMALLTALK, entries)
        self.load_replies(self.root / "elsewhere.yaml", EntryKind.ELSEWHERE, entries)
        coverage = self.load_coverage(self.root / "coverage.yaml", entries)
        decision = self.load_decision(self.root / "decision.yaml") if self.with_decision else None
        for path, line, entry_id, target in follow_up_refs:
            if target not in entries or not entries[target].topical:
                self.problem(path, line, f"entry '{entry_id}': follow-up '{target}' does not exist")
        for folder in ("eval", "holdout"):
            for path in sorted((self.root / folder).glob("*.yaml")):
                self.check_eval(path, entries, coverage)
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

    # -- shared shape checks -------------------------------------------------------------

    def read(self, path: Path, required: bool = True) -> LineDict | None:
        if not path.exists():
            if required:
                self.problem(path, 0, "file is missing")
            return None
        try:
            data = load_yaml(path)
        except YamlProblem as error:
            self.problem(error.path, error.line, error.message)
            return None
        if not isinstance(data, LineDict):
            self.problem(path, 1, "expected a mapping at the top of the file")
            return None
        return data

    def keys(
        self, path: Path, data: LineDict, required: Iterable[str], optional: Iterable[str] = ()
    ) -> bool:
        ok = True
        allowed = set(required) | set(optional)
        for key in data:
            if key not in allowed:
                hint = ", ".join(sorted(allowed))
                self.problem(path, line_of(data, key), f"unknown key '{key}' (allowed: {hint})")
                ok = False
        for key in required:
            if key not in data:
                self.problem(path, data.line, f"missing key '{key}'")
                ok = False
        return ok

    def mapping(self, path: Path, value: Any, line: int, what: str) -> LineDict | None:
        if isinstance(value, LineDict):
            return value
        self.problem(path, line, f"{what} must be a mapping")
        return None

    def sequence(self, path: Path, value: Any, line: int, what: str) -> LineList | None:
        if isinstance(value, LineList):
            return value
        self.problem(path, line, f"{what} must be a list")
        return None

    def records(
        self,
        path: Path,
        data: LineDict,
        key: str,
        what: str,
        required: Iterable[str],
        optional: Iterable[str] = (),
    ) -> Iterator[LineDict]:
        """The mappings listed under `key` that have their required keys and no unknown one;
        each fault is reported at its own line."""
        items = self.sequence(path, data[key], line_of(data, key), key)
        for index, item in enumerate(items or []):
            record = self.mapping(path, item, line_of(items, index), what)
            if record is not None and self.keys(path, record, required, optional):
                yield record

    def text(self, path: Path, value: Any, line: int, what: str) -> str | None:
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, bool):
            # YAML reads a bare yes, no, on or off as true/false.
            self.problem(
                path, line, f"{what}: a bare yes/no/on/off is read as true/false; put it in quotes"
            )
            return None
        self.problem(path, line, f"{what} must be a non-empty text")
        return None

    def check_dates(
        self,
        path: Path,
        where: Any,
        texts: Mapping[Language, str],
        what: str,
        line: int | None = None,
    ) -> None:
        """Report each {date} placeholder in `texts` that dates.yaml does not define, at its
        language's line in `where` (or at `line`)."""
        for language, text in texts.items():
            for name in PLACEHOLDER.findall(text):
                if name not in self.dates:
                    line = line if line is not None else line_of(where, language)
                    self.problem(path, line, f"{what} ({language}): unknown date '{{{name}}}'")

    def texts(self, path: Path, items: LineList | None, what: str) -> list[str]:
        """The valid texts of a list, each problem reported at its own item's line."""
        items = items or LineList()
        found = (self.text(path, item, line_of(items, i), what) for i, item in enumerate(items))
        return [text for text in found if text is not None]

    def identifier(self, path: Path, value: Any, line: int, what: str) -> str | None:
        if isinstance(value, str) and ID_PATTERN.match(value):
            return value
        self.problem(path, line, f"{what} '{value}' must be lower-case letters, digits and '-'")
        return None

    def localized_text(self, path: Path, value: Any, line: int, what: str) -> dict[Language, str]:
        data = self.mapping(path, value, line, what)
        if data is None or not self.keys(path, data, LANGUAGES):
            return {}
        result: dict[Language, str] = {}
        for language in LANGUAGES:
            text = self.text(path, data[language], line_of(data, language), f"{what} ({language})")
            if text is not None:
                result[language] = text
        return result

    def localized_list(
        self, path: Path, value: Any, line: int, what: str
    ) -> dict[Language, tuple[str, ...]]:
        data = self.mapping(path, value, line, what)
        if data is None or not self.keys(path, data, LANGUAGES):
            return {}
        result: dict[Language, tuple[str, ...]] = {}
        for language in LANGUAGES:
            items = self.sequence(path, data[language], line_of(data, language), what)
            if items is None:
                continue
            if not items:
                self.problem(path, line_of(data, language), f"{what} ({language}) is empty")
            result[language] = tuple(self.texts(path, items, f"{what} ({language})"))
        return result

    # -- the files -----------------------------------------------------------------------

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
        self.keys(path, texts, REQUIRED_TEXTS)
        for key in texts:
            if key in REQUIRED_TEXTS:
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
                    self.problem(path, line, f"duplicate entry id '{entry.id}'")
                    continue
                entries[entry.id] = entry
                entry_ids.append(entry.id)
            topics.append(Topic(topic_id, title, tuple(entry_ids)))
        return tuple(topics), entries, follow_up_refs

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
        keys = ["id", "questions", "answer"], ["keywords"]
        for item in self.records(path, data, kind.value, f"a {kind.value} item", *keys):
            entry_id = self.identifier(path, item["id"], item.line, f"{kind.value} id")
            questions = self.localized_list(
                path, item["questions"], line_of(item, "questions"), "questions"
            )
            answer = self.localized_text(path, item["answer"], line_of(item, "answer"), "answer")
            keywords = self.sequence(
                path, item.get("keywords", LineList()), line_of(item, "keywords"), "keywords"
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
