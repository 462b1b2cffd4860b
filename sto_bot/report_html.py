"""The editors' report as one self-contained HTML page (no network needed to open it), readable
on a phone: charts where a picture beats a table (weekly volume by band, verdicts, time to
pick-up), drawn by Plotly (the optional extra `sto-bot[reports]`), and tables for the rest."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sto_bot.stats import QuestionGroup, Report

INSTALL_HINT = "the HTML report needs Plotly: pip install 'sto-bot[reports]'"
BANDS = (  # (field, label, colour): answered sure to unanswered
    ("sure", "answered (sure)", "#2e7d32"),
    ("likely", "answered (likely)", "#81c784"),
    ("suggested", "did you mean…?", "#ffb300"),
    ("unanswered", "unanswered", "#e53935"),
)
STYLE = """
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 60rem; padding: 1rem;
       color: #222; line-height: 1.4; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { text-align: left; padding: 0.3rem 0.5rem; border-bottom: 1px solid #ddd;
         vertical-align: top; }
td.n, th.n { text-align: right; white-space: nowrap; }
.scroll { overflow-x: auto; } .chart { width: 100%; min-height: 20rem; }
.also { color: #666; font-size: 0.85rem; }
"""


class ReportsNotInstalled(Exception):
    """Plotly is missing: the HTML report cannot be drawn (the text and JSON ones can)."""


def report_html(report: Report) -> str:
    """The whole page."""
    try:
        import plotly.graph_objects as go
    except ImportError:
        raise ReportsNotInstalled(INSTALL_HINT) from None
    weeks = [week.week for week in report.weeks]
    volume = go.Figure(
        [
            go.Bar(name=label, x=weeks, y=[getattr(w, field) for w in report.weeks], marker_color=c)
            for field, label, c in BANDS
        ],
        layout={"barmode": "stack", "title": "Questions per week, by how they were answered"},
    )
    verdicts = go.Figure(
        go.Bar(x=list(report.verdicts.values()), y=list(report.verdicts), orientation="h"),
        layout={"title": "Check verdicts", "yaxis": {"automargin": True}},
    )
    waits = go.Figure(
        go.Histogram(x=list(report.pick_up_minutes), nbinsx=12),
        layout={"title": "Minutes until a consultant picked up", "xaxis": {"title": "minutes"}},
    )
    charts = [_chart(volume, first=True)]  # Plotly's script comes with the first chart
    charts.append(
        _chart(verdicts, first=False)
        if report.verdicts
        else "<p>No check was finished in this period.</p>"
    )
    charts.append(
        _chart(waits, first=False)
        if report.pick_up_minutes
        else "<p>No handover was picked up in this period.</p>"
    )
    total = report.total
    period = f"{report.since} – {report.until - timedelta(days=1)}"
    summary = (
        f"{total.questions} questions from {report.users} users; "
        f"{report.checks_started} checks started, {report.checks_finished} finished; "
        f"{report.handovers_opened} handovers, {report.handovers_picked_up} picked up"
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>STO-assistent report {_e(period)}</title><style>{STYLE}</style></head><body>",
        f"<h1>STO-assistent: what users asked</h1><p>{_e(period)}. {_e(summary)}.</p>",
        charts[0],
        _table(
            ["week", "questions", "nl", "en", "users"],
            [_row(w.week, w.questions, w.dutch, w.english, w.users) for w in report.weeks],
        ),
        "<h2>Most asked</h2>",
        _table(
            ["question", "answered", "helpful", "not helpful"],
            [_row(e.title, e.answered, e.helpful, e.not_helpful) for e in report.entries],
        ),
        "<h2>Unanswered questions (alike ones together)</h2>",
        _groups(report.unanswered),
        "<h2>Answered with “bedoelt u…?” (the choice offered first)</h2>",
        _groups(report.suggested),
        f"<h2>Answers rated not helpful ({report.helpful_total} 👍, "
        f"{report.not_helpful_total} 👎 in all)</h2>",
        _groups(report.not_helpful),
        "<h2>What users were looking for, after a 👎</h2>",
        _groups(report.sought),
        "<h2>The check</h2>",
        charts[1],
        "<h2>Handovers</h2>",
        charts[2],
        "</body></html>",
    ]
    return "\n".join(parts)


def _chart(figure: Any, first: bool) -> str:
    """A figure as a responsive block; Plotly's script is inlined once, with the first."""
    figure.update_layout(margin={"l": 40, "r": 10, "t": 50, "b": 40}, legend={"orientation": "h"})
    drawn: str = figure.to_html(
        full_html=False,
        include_plotlyjs=first,
        default_width="100%",
        default_height="22rem",
        config={"responsive": True, "displaylogo": False},
    )
    return f'<div class="chart">{drawn}</div>'


def _e(value: object) -> str:
    """Text as HTML: users' questions may hold anything."""
    return html.escape(str(value), quote=True)


def _table(header: Sequence[str], rows: Sequence[str]) -> str:
    """A table of rows already written as HTML (see _row)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(rows) or f'<tr><td colspan="{len(header)}">none</td></tr>'
    return f'<div class="scroll"><table><tr>{head}</tr>{body}</table></div>'


def _row(*cells: object) -> str:
    """A row: numbers right-aligned, everything else as (escaped) text."""
    return (
        "<tr>"
        + "".join(
            f'<td class="n">{cell}</td>' if isinstance(cell, int) else f"<td>{_e(cell)}</td>"
            for cell in cells
        )
        + "</tr>"
    )


def _groups(groups: Sequence[QuestionGroup]) -> str:
    """Grouped questions: the most common wording, the others below it, and the count."""
    rows = []
    for group in groups:
        notes = [*group.wordings, *([f"likely: {group.entry}"] if group.entry else [])]
        below = "".join(f'<br><span class="also">{_e(note)}</span>' for note in notes)
        rows.append(
            f'<tr><td>{_e(group.question)}{below}</td><td class="n">{group.count}</td></tr>'
        )
    return _table(["question (and other wordings)", "times"], rows)
