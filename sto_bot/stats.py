"""The editors' report: what users asked, what was answered, missed and rated, how the check
and the handovers went, per week. Counts only, plus the question texts that are still within
retention: no names and no ids."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from rapidfuzz import fuzz

from sto_bot.knowledge import KnowledgeBase
from sto_bot.models import ConversationKey, Event, Handover
from sto_bot.text import Normaliser

SIMILAR = 80  # how alike (0-100) two questions' words must be to count as one question
TOP = 10  # rows in each list
# A week's counts of questions, by language and by how they were answered.
COUNTED = ("questions", "dutch", "english", "sure", "likely", "suggested", "unanswered")
WORDINGS_SHOWN = 3  # other wordings shown under a group


@dataclass(frozen=True, slots=True)
class WeekFigures:
    """One ISO week's questions, by language and by how they were answered, and its users."""

    week: str  # "2026-W48"
    questions: int = 0
    dutch: int = 0
    english: int = 0
    sure: int = 0
    likely: int = 0
    suggested: int = 0
    unanswered: int = 0
    users: int = 0


@dataclass(frozen=True, slots=True)
class EntryFigures:
    """How often an entry was answered, and how its answers were rated."""

    entry: str
    title: str
    answered: int
    helpful: int
    not_helpful: int


@dataclass(frozen=True, slots=True)
class QuestionGroup:
    """One question asked in several ways: its most common wording, how often, and others."""

    question: str
    count: int
    wordings: tuple[str, ...] = ()
    entry: str | None = None  # the entry it most likely belongs to, where one was offered


@dataclass(frozen=True, slots=True)
class Report:
    """Everything `sto-bot stats` shows, for the days from `since` up to `until`."""

    since: date
    until: date
    weeks: tuple[WeekFigures, ...]
    users: int
    entries: tuple[EntryFigures, ...]
    unanswered: tuple[QuestionGroup, ...]
    not_helpful: tuple[QuestionGroup, ...]
    checks_started: int
    checks_finished: int
    verdicts: dict[str, int] = field(default_factory=dict)
    handovers_opened: int = 0
    handovers_picked_up: int = 0
    helpful_total: int = 0  # every 👍 of the period, of any answer
    not_helpful_total: int = 0
    sought: tuple[QuestionGroup, ...] = ()  # what users were looking for, after a 👎
    suggested: tuple[QuestionGroup, ...] = ()  # answered with "bedoelt u…?": half a miss
    minutes_to_pick_up: float | None = None  # the median
    pick_up_minutes: tuple[float, ...] = ()  # each handover's

    @property
    def total(self) -> WeekFigures:
        """All weeks together."""
        sums = {name: sum(getattr(week, name) for week in self.weeks) for name in COUNTED}
        return WeekFigures("total", users=self.users, **sums)

    def as_json(self) -> dict[str, Any]:
        """The report as plain data (`stats --format json`)."""
        data = asdict(self)
        # The last day, as `--until` names it and the text shows it (`until` is the day after).
        last_day = self.until - timedelta(days=1)
        data["since"], data["until"] = self.since.isoformat(), last_day.isoformat()
        data["total"] = asdict(self.total)
        return data


class Activity(Protocol):
    """What the report reads of the store (the Store does it)."""

    async def events_between(
        self, since: datetime, until: datetime
    ) -> list[tuple[ConversationKey, datetime, Event]]:
        """Every conversation's events in [since, until)."""
        ...

    async def handovers(self) -> list[Handover]:
        """Every handover."""
        ...


async def read_report(
    store: Activity,
    knowledge: KnowledgeBase,
    since: date,
    until: date,
    leave_out: frozenset[ConversationKey] = frozenset(),
) -> Report:
    """The report of the days from `since` up to (not including) `until`, read from `store`;
    questions compared by their normalised words."""
    start, end = (datetime.combine(day, datetime.min.time()) for day in (since, until))
    normaliser = Normaliser(knowledge.lexicon)
    return build_report(
        await store.events_between(start, end),
        await store.handovers(),
        knowledge,
        since,
        until,
        normalise=lambda text: " ".join(normaliser.tokens(text)),
        leave_out=leave_out,
    )


def build_report(
    events: Iterable[tuple[ConversationKey, datetime, Event]],
    handovers: Sequence[Handover],
    knowledge: KnowledgeBase,
    since: date,
    until: date,
    *,
    normalise: Callable[[str], str],
    leave_out: frozenset[ConversationKey] = frozenset(),
) -> Report:
    """Count `events` (of the conversations not left out: the consultants' chat) and the
    handovers opened from `since` up to `until`; `normalise` makes questions comparable."""
    tally = _Tally()
    for key, at, event in events:
        if key not in leave_out:
            tally.add(key, at, event)
    opened = [h for h in handovers if since <= h.created_at.date() < until]
    picked = [h for h in opened if h.picked_up_at is not None]
    waits = [(h.picked_up_at - h.created_at).total_seconds() / 60 for h in picked if h.picked_up_at]
    titles = {entry.id: entry.title("nl") for entry in knowledge.entries.values()}
    outcomes = knowledge.check.outcomes
    return Report(
        since=since,
        until=until,
        weeks=tuple(tally.week(week) for week in _weeks(since, until)),
        users=len(tally.users),
        entries=tuple(
            EntryFigures(entry, titles.get(entry, entry), count, *tally.ratings(entry))
            for entry, count in tally.answered.most_common(TOP)
        ),
        unanswered=group_questions(tally.unanswered, normalise, tally.offered)[:TOP],
        suggested=group_questions(tally.suggested, normalise, tally.offered)[:TOP],
        not_helpful=group_questions(tally.disliked, normalise, tally.rated)[:TOP],
        helpful_total=sum(tally.helpful.values()),
        not_helpful_total=sum(tally.not_helpful.values()),
        sought=group_questions(tally.sought, normalise, tally.rated)[:TOP],
        checks_started=tally.kinds["check_started"],
        checks_finished=tally.kinds["check_result"],
        verdicts={
            (outcomes[o].title["nl"] if o in outcomes else o): n
            for o, n in tally.verdicts.most_common()
        },
        handovers_opened=len(opened),
        handovers_picked_up=len(picked),
        minutes_to_pick_up=round(statistics.median(waits), 1) if waits else None,
        pick_up_minutes=tuple(round(wait, 1) for wait in waits),
    )


class _Tally:
    """Counts as the events go by."""

    def __init__(self) -> None:
        self.weeks: dict[str, Counter[str]] = defaultdict(Counter)
        self.week_users: dict[str, set[ConversationKey]] = defaultdict(set)
        self.users: set[ConversationKey] = set()
        self.kinds: Counter[str] = Counter()
        self.answered: Counter[str] = Counter()
        self.helpful: Counter[str] = Counter()
        self.not_helpful: Counter[str] = Counter()
        self.verdicts: Counter[str] = Counter()
        self.unanswered: list[str] = []
        self.suggested: list[str] = []
        self.disliked: list[str] = []
        self.offered: dict[str, str] = {}  # a question -> the entry first offered for it
        self.rated: dict[str, str] = {}  # a question rated 👎, or a note -> the rated entry
        self.sought: list[str] = []  # what users were looking for, after a 👎

    def add(self, key: ConversationKey, at: datetime, event: Event) -> None:
        week = _week_of(at.date())
        self.kinds[event.kind] += 1
        if event.kind in ("question", "answered", "check_started"):  # a user of the assistant
            self.users.add(key)
            self.week_users[week].add(key)
        data = event.data
        if event.kind == "question":
            self._question(week, data)
        elif event.kind == "answered" and data.get("entry"):
            self.answered[str(data["entry"])] += 1
        elif event.kind == "feedback":
            helpful = bool(data.get("helpful"))
            (self.helpful if helpful else self.not_helpful)[str(data.get("entry"))] += 1
            if not helpful and data.get("question"):
                self.disliked.append(str(data["question"]))
                self.rated[str(data["question"])] = str(data.get("entry"))
        elif event.kind == "feedback_note" and data.get("text"):
            self.sought.append(str(data["text"]))
            self.rated[str(data["text"])] = str(data.get("entry"))
        elif event.kind == "check_result":
            self.verdicts[str(data.get("outcome"))] += 1

    def _question(self, week: str, data: dict[str, Any]) -> None:
        counts = self.weeks[week]
        counts["questions"] += 1
        counts[{"nl": "dutch", "en": "english"}.get(str(data.get("language")), "other")] += 1
        status, text = data.get("status"), str(data.get("text", ""))
        suggestions = data.get("suggestions") or []
        if status == "answer":
            counts["likely" if data.get("certainty") == "likely" else "sure"] += 1
            self.answered[str(data.get("entry"))] += 1
        elif status == "suggest":
            counts["suggested"] += 1
            self.suggested.append(text)
        else:
            counts["unanswered"] += 1
            self.unanswered.append(text)
        if suggestions and text:
            self.offered.setdefault(text, str(suggestions[0]))

    def week(self, week: str) -> WeekFigures:
        counts = self.weeks.get(week, Counter())
        figures = {name: counts[name] for name in COUNTED}
        return WeekFigures(week, users=len(self.week_users.get(week, ())), **figures)

    def ratings(self, entry: str) -> tuple[int, int]:
        return self.helpful[entry], self.not_helpful[entry]


def group_questions(
    questions: Sequence[str],
    normalise: Callable[[str], str],
    offered: dict[str, str] | None = None,
) -> tuple[QuestionGroup, ...]:
    """The same question asked several ways is one group: most asked first, each under its
    most common wording, with the entry most often offered for it."""
    groups: list[tuple[str, Counter[str]]] = []  # (normalised words, wordings and counts)
    for text, count in Counter(q.strip() for q in questions if q.strip()).most_common():
        words = normalise(text) or text.casefold()
        for head, wordings in groups:
            if _alike(words, head):
                wordings[text] += count
                break
        else:
            groups.append((words, Counter({text: count})))
    result = []
    for _, wordings in groups:
        ordered = [text for text, _ in wordings.most_common()]
        entries = Counter(
            (offered or {})[text] for text in ordered if text in (offered or {})
        ).most_common(1)
        result.append(
            QuestionGroup(
                ordered[0],
                sum(wordings.values()),
                tuple(ordered[1 : 1 + WORDINGS_SHOWN]),
                entries[0][0] if entries else None,
            )
        )
    return tuple(sorted(result, key=lambda g: -g.count))


def _alike(words: str, head: str) -> bool:
    """Whether two normalised questions are the same question in other words."""
    if min(len(words.split()), len(head.split())) < 3:
        # Short ones ("penvoerder", "taak penvoerder") must have the same words, give or
        # take a typo: one word in common is not one question.
        return fuzz.token_sort_ratio(words, head) >= 90
    if fuzz.token_sort_ratio(words, head) >= SIMILAR:
        return True
    # A few words more or less ("wanneer sluit de aanvraag" and "… voor STO precies") is the
    # same question; one word in common is not.
    shorter = min(len(words.split()), len(head.split()))
    return shorter >= 2 and fuzz.token_set_ratio(words, head) >= 95


def _week_of(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _weeks(since: date, until: date) -> list[str]:
    """The ISO weeks that the days from `since` up to `until` fall in, in order."""
    weeks: list[str] = []
    day = since
    while day < until:
        if _week_of(day) not in weeks:
            weeks.append(_week_of(day))
        day += timedelta(days=1)
    return weeks


def report_text(report: Report) -> str:
    """The report as plain text for a terminal (`stats`)."""
    total = report.total
    last_day = report.until - timedelta(days=1)
    lines = [f"STO-assistent: what users asked, {report.since} to {last_day}", ""]
    header = f"{'week':<9} {'questions':>9} {'nl':>4} {'en':>4} {'sure':>5} {'likely':>6} "
    header += f"{'did-you-mean':>12} {'unanswered':>10} {'users':>5}"
    lines.append(header)
    for week in (*report.weeks, total):
        lines.append(
            f"{week.week:<9} {week.questions:>9} {week.dutch:>4} {week.english:>4} "
            f"{week.sure:>5} {week.likely:>6} {week.suggested:>12} {week.unanswered:>10} "
            f"{week.users:>5}"
        )
    if total.questions:
        shares = [
            f"{100 * n / total.questions:.0f} % {name}"
            for name, n in (
                ("answered sure", total.sure),
                ("likely", total.likely),
                ("did you mean", total.suggested),
                ("unanswered", total.unanswered),
            )
        ]
        lines.append("share: " + ", ".join(shares))
    lines += ["", "Most asked (answered; 👍 / 👎)"]
    lines += [
        f"{e.answered:>5}  {e.helpful:>3} / {e.not_helpful:<3} {e.title}" for e in report.entries
    ]
    lines += _groups("Unanswered questions (alike ones together)", report.unanswered)
    lines += _groups('Answered with "bedoelt u…?" (the choice offered first)', report.suggested)
    lines += _groups(
        f"Answers rated not helpful, by question ({report.helpful_total} 👍, "
        f"{report.not_helpful_total} 👎 in all)",
        report.not_helpful,
    )
    lines += _groups("What users were looking for, after a 👎", report.sought)
    verdicts = ", ".join(f"{title} {n}" for title, n in report.verdicts.items()) or "none"
    lines += [
        "",
        f"Check: {report.checks_started} started, {report.checks_finished} finished; "
        f"verdicts: {verdicts}",
        f"Handovers: {report.handovers_opened} opened, {report.handovers_picked_up} picked up"
        + (
            f", median {report.minutes_to_pick_up:g} minutes to pick-up"
            if report.minutes_to_pick_up is not None
            else ""
        ),
    ]
    return "\n".join(lines) + "\n"


def _groups(title: str, groups: Sequence[QuestionGroup]) -> list[str]:
    lines = ["", title]
    if not groups:
        return [*lines, "  none"]
    for group in groups:
        belongs = f"  [{group.entry}?]" if group.entry else ""
        lines.append(f"{group.count:>5}  {group.question}{belongs}")
        lines += [f"         also: {wording}" for wording in group.wordings]
    return lines
