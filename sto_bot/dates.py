"""Today, and dated facts told relative to it ("opent op…", "is open tot…", "is gesloten op…")."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sto_bot.knowledge import DatedFact, Texts
from sto_bot.models import Language
from sto_bot.shapes import PLACEHOLDER

Clock = Callable[[], datetime]
DUTCH_TIME = ZoneInfo("Europe/Amsterdam")


def system_clock() -> datetime:
    """Now, as a wall-clock time in the Netherlands (the regulation's dates are Dutch times)."""
    return datetime.now(DUTCH_TIME).replace(tzinfo=None)


def fixed_clock(day: date) -> Clock:
    """A clock that always says midday on `day` (for --today and tests)."""
    moment = datetime.combine(day, time(12, 0))
    return lambda: moment


def format_moment(moment: datetime, with_time: bool, language: Language, texts: Texts) -> str:
    """'1 oktober 2024, 16:00' or '1 October 2024' in the given language."""
    months = texts.get("month_names", language).split()
    text = f"{moment.day} {months[moment.month - 1]} {moment.year}"
    return f"{text}, {moment:%H:%M}" if with_time else text


def describe(fact: DatedFact, language: Language, now: datetime, texts: Texts) -> str:
    """The fact's wording for today's state, with its dates filled in."""
    template = fact.text[fact.state(now)][language]
    fields = {
        "start": format_moment(fact.start, fact.start_has_time, language, texts)
        if fact.start
        else "",
        "end": format_moment(fact.end, fact.end_has_time, language, texts) if fact.end else "",
    }
    return template.format_map(fields)


def fill_dates(
    text: str, dates: Mapping[str, DatedFact], language: Language, now: datetime, texts: Texts
) -> str:
    """Replace each {date-id} in `text` by that fact's wording for today."""
    return PLACEHOLDER.sub(lambda m: describe(dates[m.group(1)], language, now, texts), text)


# The consultants work Monday to Friday, 9:00-17:00 Dutch time (public holidays not counted).
OFFICE_DAYS = frozenset(range(5))
OFFICE_OPENS = time(9, 0)
OFFICE_CLOSES = time(17, 0)


def add_office_hours(start: datetime, hours: float) -> datetime:
    """The moment `hours` of office time after `start` (evenings and weekends do not count)."""
    remaining = timedelta(hours=hours)
    moment = start
    while True:
        opens = datetime.combine(moment.date(), OFFICE_OPENS)
        closes = datetime.combine(moment.date(), OFFICE_CLOSES)
        if moment.weekday() not in OFFICE_DAYS or moment >= closes:
            moment = datetime.combine(moment.date() + timedelta(days=1), OFFICE_OPENS)
            continue
        moment = max(moment, opens)
        if remaining <= closes - moment:
            return moment + remaining
        remaining -= closes - moment
        moment = datetime.combine(moment.date() + timedelta(days=1), OFFICE_OPENS)
