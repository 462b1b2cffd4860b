"""`sto-bot` / `python -m bot`: parse the command line, configure logging once, start a channel."""

from __future__ import annotations

import argparse
import asyncio
import csv
import functools
import json
import logging
import os
import sqlite3
import sys
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

import yaml

from bot import db_commands, learn_command, stats_command
from bot.console import (
    CONSOLE_CONSULTANT,
    CONSULTANTS_CHAT,
    ConsoleChat,
    format_options,
    printable,
    read_text_line,
)
from bot.db_commands import DatabaseError, day
from bot.log_secrets import protect_secrets
from sto_bot.answers import AskResult
from sto_bot.assistant import Assistant
from sto_bot.config import ConfigError, Settings
from sto_bot.dates import Clock, fixed_clock, system_clock
from sto_bot.dialog import check_diagram_markdown, tree_to_dot, tree_to_mermaid
from sto_bot.digest import Digest
from sto_bot.evaluation import (
    FOLDS,
    MAX_OUT_OF_SCOPE_ANSWERED,
    MAX_WRONG,
    MAX_WRONG_SURE,
    MIN_RIGHT_AT_ONCE,
    EvalReport,
    evaluate,
    fit_decision,
)
from sto_bot.knowledge import KnowledgeBase
from sto_bot.loader import INSTALLED_KNOWLEDGE, Labelled, load_eval, load_knowledge
from sto_bot.models import (
    Band,
    ConversationKey,
    Handover,
    HandoverStatus,
    Language,
    StoreBroken,
    StoreFull,
)
from sto_bot.report_html import ReportsNotInstalled
from sto_bot.retention import retention
from sto_bot.shapes import KnowledgeError
from sto_bot.sqlite_db import integrity
from sto_bot.sqlite_store import SqliteStore
from sto_bot.yaml_lines import YamlProblem

EXIT_INVALID = 2


class UsageError(Exception):
    """A problem the user can fix; printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    """The command line of DESIGN §2."""
    parser = argparse.ArgumentParser(
        prog="sto-bot", description="STO-assistent: answers about Sterk Techniekonderwijs 2025-2028"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--lang", choices=["nl", "en"], help="reply language (default: follow)")
        sub.add_argument("--today", type=day, metavar="YYYY-MM-DD", help="fix today's date")

    chat = commands.add_parser("chat", help="talk to the assistant in the terminal")
    chat.add_argument("--user", default="local", help="conversation id (default: local)")
    chat.add_argument("--jsonl", action="store_true", help="JSON lines in and out, for scripts")
    chat.add_argument(
        "--consultant",
        action="store_true",
        help="be the consultants' chat: list, pick up, answer and close handovers",
    )
    chat.add_argument("--name", default="Adviseur", help="the consultant's name (--consultant)")
    common(chat)

    ask = commands.add_parser("ask", help="answer one question ('-' reads one per line)")
    ask.add_argument("--json", action="store_true", help="one JSON object per answer")
    common(ask)
    ask.add_argument("question", nargs="+", metavar="QUESTION")

    commands.add_parser(
        "run", help="the Telegram bot: long polling, or a webhook when WEBHOOK_URL is set"
    )

    handovers = commands.add_parser("handovers", help="list or export consultant handovers")
    handover_commands = handovers.add_subparsers(
        dest="handovers_command", required=True, metavar="HANDOVERS_COMMAND"
    )
    listing = handover_commands.add_parser("list", help="one line per handover")
    export = handover_commands.add_parser("export", help="every handover as CSV or JSON")
    for sub in (listing, export):
        sub.add_argument("--status", choices=[s.value for s in HandoverStatus], help="only these")
    export.add_argument("--format", choices=["csv", "json"], default="csv")

    db_commands.add_parser(commands)
    stats_command.add_parser(commands)

    kb = commands.add_parser("kb", help="check and measure the knowledge base")
    kb_commands = kb.add_subparsers(dest="kb_command", required=True, metavar="KB_COMMAND")
    kb_commands.add_parser("check", help="validate all knowledge files")
    evaluate_parser = kb_commands.add_parser("eval", help="score matching on labelled questions")
    evaluate_parser.add_argument(
        "file", nargs="?", type=Path, help="default: the shipped set, the holdout and the blind set"
    )
    evaluate_parser.add_argument("--misses", action="store_true", help="list every miss")
    fit = kb_commands.add_parser(
        "fit", help="fit the answer/suggest/fallback decision on knowledge/eval/"
    )
    fit.add_argument(
        "--check", action="store_true", help="only compare with knowledge/decision.yaml"
    )
    fit.add_argument(
        "--today", type=day, metavar="YYYY-MM-DD", help="fit as of this day (default: today)"
    )
    learn = kb_commands.add_parser("learn", help="phrasings from real questions, one by one")
    learn.add_argument("--since", type=day, metavar="YYYY-MM-DD", help="default: 4 weeks ago")
    graph = kb_commands.add_parser("graph", help="draw the eligibility check as a diagram")
    graph.add_argument("--format", choices=["mermaid", "dot"], default="mermaid")
    graph.add_argument("--lang", choices=["nl", "en"], default="nl", help="label language")
    graph.add_argument("-o", "--output", type=Path, help="write to this file (default: stdout)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        print(f"sto-bot: {error}", file=sys.stderr)
        return EXIT_INVALID
    quiet = args.command in ("chat", "ask", "kb", "db", "handovers", "stats")
    configure_logging(settings, quiet=quiet)
    protect_secrets(settings.telegram_token or "", settings.webhook_secret or "")
    try:
        if args.command == "kb":
            return run_kb(args, settings)
        if args.command == "handovers":
            return asyncio.run(run_handovers(args, settings))
        if args.command == "db":
            opening = functools.partial(open_store, settings)
            return asyncio.run(db_commands.run(args, settings, opening, integrity))
        knowledge = load_or_explain(settings.knowledge_dir, labelled=False)
        if args.command == "run":
            asyncio.run(run_telegram(knowledge, settings))
            return 0
        if args.command == "stats":
            return asyncio.run(run_stats(args, knowledge, settings))
        clock: Clock = fixed_clock(args.today) if args.today else system_clock
        if args.command == "ask":
            assistant = Assistant(knowledge, clock=clock, language=args.lang)
            return run_ask(assistant, args.question, as_json=args.json, language=args.lang)
        asyncio.run(run_chat(knowledge, settings, clock, args))
        return 0
    except (UsageError, DatabaseError, StoreBroken) as error:
        print(f"sto-bot: {error}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        # The reader went away (`sto-bot kb eval | head`): not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


async def open_store(settings: Settings) -> SqliteStore:
    """Open (create, migrate) the database of STO_BOT_DB, with a clear error if it cannot."""
    try:
        return await SqliteStore.open(settings.database)
    except StoreBroken as error:
        raise DatabaseError(str(error)) from None
    except (OSError, sqlite3.Error, RuntimeError, StoreFull) as error:
        raise DatabaseError(
            f"cannot open the database {settings.database}: {error} "
            "(set STO_BOT_DB to a writable file)"
        ) from None


async def open_existing_store(settings: Settings) -> SqliteStore:
    """The database of STO_BOT_DB for a command that only reads it: a missing file is a
    mistyped path, not an empty history (opening would create it)."""
    if not settings.database.exists():
        raise DatabaseError(
            f"no database at {settings.database}: nothing was stored there (check STO_BOT_DB)"
        )
    return await open_store(settings)


async def run_stats(args: argparse.Namespace, knowledge: KnowledgeBase, settings: Settings) -> int:
    """`sto-bot stats`: the editors' report, without the consultants' own chats."""
    from bot.telegram_app import CHANNEL as TELEGRAM  # only here: see run_telegram

    desks = frozenset(
        c for c in (CONSULTANTS_CHAT, settings.consultants(TELEGRAM).chat) if c is not None
    )
    opening = functools.partial(open_existing_store, settings)
    try:
        found = await stats_command.report(args, knowledge, opening, desks, system_clock().date())
    except ValueError as error:
        raise UsageError(str(error)) from None
    try:
        stats_command.write(found, args.format, args.output)
    except ReportsNotInstalled as error:
        raise UsageError(str(error)) from None
    return 0


async def run_chat(
    knowledge: KnowledgeBase, settings: Settings, clock: Clock, args: argparse.Namespace
) -> None:
    """The terminal chat, on the same database as the Telegram bot."""
    store = await open_store(settings)
    try:
        assistant = Assistant(
            knowledge,
            store=store,
            clock=clock,
            language=args.lang,
            retention_days=settings.retention_days,
            consultants=settings.consultants(
                CONSULTANTS_CHAT.channel,
                chat=CONSULTANTS_CHAT,
                ids=frozenset({CONSOLE_CONSULTANT}),
            ),
            admins=frozenset({CONSOLE_CONSULTANT}),  # the terminal's consultant may /herlaad
        )
        chat = ConsoleChat(
            assistant,
            args.user,
            stdin=sys.stdin.buffer,
            stdout=sys.stdout,
            stderr=sys.stderr,
            jsonl=args.jsonl,
            interactive=sys.stdin.isatty(),
            consultant=args.name if args.consultant else None,
        )
        async with retention(store, settings.retention_days, clock):
            await chat.run()
    finally:
        await store.close()


async def run_telegram(knowledge: KnowledgeBase, settings: Settings) -> None:
    """`sto-bot run`: the Telegram bot until SIGTERM or SIGINT."""
    # python-telegram-bot is imported by the commands that use it: it was a third of the
    # start-up of `sto-bot ask` and `sto-bot chat`, which never talk to Telegram.
    from telegram.error import InvalidToken

    from bot.telegram_app import CHANNEL as TELEGRAM
    from bot.telegram_app import LIMITS as TELEGRAM_LIMITS
    from bot.telegram_app import TelegramChannel, make_bot

    if not settings.telegram_token:
        raise UsageError(
            "TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather in Telegram "
            "and set its token in TELEGRAM_BOT_TOKEN"
        )
    store = await open_store(settings)
    try:
        assistant = Assistant(
            knowledge,
            store=store,
            retention_days=settings.retention_days,
            consultants=settings.consultants(TELEGRAM),
            limits=TELEGRAM_LIMITS,
            admins=frozenset(str(number) for number in settings.admin_ids),
        )
        timed = []
        if settings.editors_chat_id is not None:
            editors = ConversationKey(TELEGRAM, str(settings.editors_chat_id))
            desk = assistant.consultants.chat
            digest = Digest(
                lambda: assistant.knowledge,
                store,
                system_clock,
                editors,
                settings.digest_weekday,
                settings.digest_hour,
                leave_out=frozenset({desk} if desk else ()),
            )
            timed.append(digest.due)
        channel = TelegramChannel(make_bot(settings), assistant, settings, timed=timed)
        async with retention(store, settings.retention_days, system_clock):
            await channel.run()
    except InvalidToken:
        raise UsageError(
            "Telegram refused TELEGRAM_BOT_TOKEN: check the token from @BotFather"
        ) from None
    finally:
        await store.close()


EXPORT_FIELDS = (
    "number",
    "status",
    "created_at",
    "picked_up_at",
    "picked_up_by",
    "closed_at",
    "closed_by",
    "name",
    "role",
    "organisation",
    "region",
    "contact",
    "language",
    "question",
    "conversation",
    "summary",
)


async def run_handovers(args: argparse.Namespace, settings: Settings) -> int:
    """`handovers list` and `handovers export`: the handovers for the consultancy's systems."""
    store = await open_store(settings)
    try:
        status = HandoverStatus(args.status) if args.status else None
        handovers = await store.handovers(status)
    finally:
        await store.close()
    records = [handover_record(handover) for handover in handovers]
    if args.handovers_command == "list":
        for record in records:
            line = (
                f"#{record['number']}  {record['status']:<10} {record['created_at']}  "
                f"{record['name'] or '-'}  ({record['organisation'] or '-'})"
                + (f"  picked up by {record['picked_up_by']}" if record["picked_up_by"] else "")
            )
            print(printable(line).replace("\n", " "))
        if not records:
            print("no handovers")
        return 0
    if args.format == "json":
        json.dump(records, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return 0
    writer = csv.DictWriter(sys.stdout, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({name: spreadsheet_safe(value) for name, value in r.items()} for r in records)
    return 0


# What a user typed reaches an operator's spreadsheet: it may not run there.
_FORMULA_START = ("=", "+", "-", "@")


def spreadsheet_safe(value: str | int) -> str | int:
    """A CSV cell a spreadsheet will not run: a leading =, +, -, @ is quoted away; control
    characters other than line breaks become spaces."""
    if not isinstance(value, str):
        return value
    value = printable(value).replace("\t", " ")
    return "'" + value if value.startswith(_FORMULA_START) else value


def handover_record(handover: Handover) -> dict[str, str | int]:
    """One handover as a flat record for CSV and JSON; times in ISO 8601 (Dutch time)."""

    def moment(value: datetime | None) -> str:
        return value.isoformat(timespec="seconds") if value else ""

    data = handover.data
    way, _, value = str(data.get("contact", "")).partition(":")
    return {
        "number": handover.number,
        "status": handover.status.value,
        "created_at": moment(handover.created_at),
        "picked_up_at": moment(handover.picked_up_at),
        "picked_up_by": handover.picked_up_by or "",
        "closed_at": moment(handover.closed_at),
        "closed_by": handover.closed_by or "",
        "name": str(data.get("name", "")),
        "role": str(data.get("role", "")),
        "organisation": str(data.get("organisation", "")),
        "region": str(data.get("region", "")),
        "contact": value or way,
        "language": str(data.get("language", "")),
        "question": str(data.get("question", "")),
        "conversation": str(handover.key),
        "summary": handover.summary,
    }


def configure_logging(settings: Settings, quiet: bool) -> None:
    """Log to stderr; terminal commands stay quiet unless LOG_LEVEL asks for more."""
    level = settings.log_level or (logging.WARNING if quiet else logging.INFO)
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


def load_or_explain(root: Path, *, decision: bool = True, labelled: bool = True) -> KnowledgeBase:
    """Load the knowledge base, or raise one clear line naming the first problem."""
    try:
        return load_knowledge(root, decision=decision, labelled=labelled)
    except KnowledgeError as error:
        count = len(error.problems)
        raise UsageError(
            f"the knowledge base is invalid: {error.problems[0]}"
            f" (run 'sto-bot kb check' to see all {count} problem{'s' if count > 1 else ''})"
        ) from None


def run_ask(
    assistant: Assistant, words: list[str], *, as_json: bool, language: Language | None
) -> int:
    """Answer the question on the command line, or one question per line of stdin for '-'."""
    if words == ["-"]:
        for raw in sys.stdin.buffer:
            result = ask_safely(assistant, read_text_line(raw), language)
            print(render_ask(result, as_json, one_line=True))
            sys.stdout.flush()
        return 0
    print(render_ask(ask_safely(assistant, " ".join(words), language), as_json, one_line=False))
    return 0


def ask_safely(assistant: Assistant, question: str, language: Language | None) -> AskResult:
    """Answer a question; a bug becomes an apology for that one question, not a traceback."""
    try:
        return assistant.ask(question, language)
    except Exception as error:
        debug = logging.getLogger().isEnabledFor(logging.DEBUG)
        logging.getLogger(__name__).error(
            "failed to answer %r: %r", question, error, exc_info=debug
        )
        apology = assistant.texts.get("internal_error", language or "nl")
        return AskResult(Band.FALLBACK, None, 0.0, apology, language or "nl")


def render_ask(result: AskResult, as_json: bool, one_line: bool) -> str:
    """One answer as JSON or as text (on a single line in batch mode)."""
    if as_json:
        return json.dumps(result.as_json(), ensure_ascii=False)
    labels = result.suggestions or result.follow_ups
    text = result.text
    if labels:
        text += "\n" + format_options(suggestion.question for suggestion in labels)
    return " ".join(text.split()) if one_line else text


def run_kb(args: argparse.Namespace, settings: Settings) -> int:
    """`kb check` and `kb eval`."""
    if args.kb_command == "check":
        try:
            knowledge = load_knowledge(settings.knowledge_dir)
        except KnowledgeError as error:
            for problem in error.problems:
                print(problem)
            return 1
        topics = len(knowledge.topics)
        print(f"knowledge OK: {len(knowledge.entries)} entries in {topics} topics")
        return 0
    knowledge = load_or_explain(settings.knowledge_dir, decision=args.kb_command != "fit")
    if args.kb_command == "graph":
        return run_graph(knowledge, args.format, args.lang, args.output)
    if args.kb_command == "fit":
        return run_fit(knowledge, check=args.check, today=args.today)
    if args.kb_command == "learn":
        return run_learn(args, settings, knowledge)
    root = settings.knowledge_dir
    sets = [args.file] if args.file else [root / "eval", *sorted((root / "holdout").glob("*.yaml"))]
    assistant = Assistant(knowledge)
    below = []
    for path in sets:
        report = evaluate(assistant.matcher, read_labelled(path, knowledge))
        name = path.relative_to(root) if path.is_relative_to(root) else path
        print_report(name, report)
        if args.misses or args.file:
            print_misses(report)
        if not report.meets_targets:
            below.append(str(name))
    # The exit code says whether every set meets the targets; say so in words too.
    print(f"below a target: {', '.join(below)}" if below else "every set meets its targets")
    return 1 if below else 0


def run_learn(args: argparse.Namespace, settings: Settings, knowledge: KnowledgeBase) -> int:
    """`kb learn`; afterwards `kb check` and `kb eval` on the changed knowledge."""
    if settings.knowledge_dir.resolve() == INSTALLED_KNOWLEDGE:
        raise UsageError(
            f"the knowledge in {settings.knowledge_dir} is the installed copy, and the next "
            "install would undo what kb learn writes there: set STO_BOT_KNOWLEDGE to the "
            "repository's knowledge folder"
        )
    opening = functools.partial(open_existing_store, settings)
    found = asyncio.run(learn_command.suggestions(knowledge, opening, args.since))

    def after() -> int:
        checked = run_kb(argparse.Namespace(kb_command="check"), settings)
        run_kb(argparse.Namespace(kb_command="eval", file=None, misses=False), settings)
        print("A running bot serves the change after SIGHUP or /herlaad.")
        return checked  # the scores are for reading; only a broken file fails

    return learn_command.run(args, knowledge, found, after)


def read_labelled(path: Path, knowledge: KnowledgeBase) -> list[Labelled]:
    """The labelled questions of an eval file or folder, checked against the knowledge."""
    try:
        labelled = load_eval(path, knowledge.coverage)
    except (OSError, YamlProblem, KeyError, TypeError) as error:
        raise UsageError(f"cannot read the evaluation questions in {path}: {error}") from None
    for item in labelled:
        unknown = sorted(item.accept - set(knowledge.entries))
        if unknown:
            raise UsageError(f"{path}: expected entry '{unknown[0]}' does not exist")
    return labelled


def print_report(name: object, report: EvalReport) -> None:
    """One set's figures and the decision's calibration on it."""
    print(f"{name}: {len(report.in_scope)} in scope, {len(report.out_of_scope)} out of scope")
    print(
        f"  right at once {report.right_at_once:.1%} (target >= {MIN_RIGHT_AT_ONCE:.0%}), "
        f"within one tap {report.within_one_tap:.1%}"
    )
    print(
        f"  answered wrongly {report.wrong:.1%} (target <= {MAX_WRONG:.0%}), "
        f"of which sure {report.wrong_sure:.1%} (target <= {MAX_WRONG_SURE:.0%})"
    )
    print(
        f"  out of scope answered {report.out_of_scope_answered:.1%} "
        f"(target <= {MAX_OUT_OF_SCOPE_ANSWERED:.0%})"
    )
    styles = report.by_style()
    if styles:
        listed = ", ".join(f"{style} {right:.0%} of {count}" for style, count, right in styles)
        print(f"  right at once by style: {listed}")
    print("  calibration: band, questions, top entry right, mean predicted probability")
    for band, count, right, mean in report.calibration():
        print(f"    {band:<8} {count:>4}  {right:>6.1%}  {mean:>5.2f}")


def print_misses(report: EvalReport) -> None:
    """Every miss: what was expected, what came, in which band."""
    for graded in report.misses():
        expected = ",".join(sorted(graded.labelled.accept)) or "none"
        print(
            f"  {expected} -> {graded.top or '-'} [{graded.band_name}]: {graded.labelled.question}"
        )


def run_fit(knowledge: KnowledgeBase, *, check: bool, today: date | None) -> int:
    """`kb fit`: fit the decision on knowledge/eval/ and write knowledge/decision.yaml."""
    labelled = read_labelled(knowledge.root / "eval", knowledge)
    if not labelled:
        raise UsageError(f"no labelled questions in {knowledge.root / 'eval'} to fit on")
    shipped = None
    if check:
        try:
            shipped = load_knowledge(knowledge.root).decision
        except KnowledgeError:
            shipped = None
    # Answers are indexed as read today; a check compares as of the day the file was fitted.
    day = today or (shipped.fitted_on if shipped else None) or system_clock().date()
    matcher = Assistant(knowledge, clock=fixed_clock(day)).matcher
    decision, outcomes = fit_decision(matcher, labelled)
    fitted = decision.as_mapping()
    path = knowledge.root / "decision.yaml"
    if check:
        if shipped is not None and shipped.as_mapping() == fitted:
            print(f"{path} is what the labelled questions give")
            return 0
        print(f"{path} differs from a fit on {len(labelled)} questions: run 'sto-bot kb fit'")
        return 1
    text = DECISION_HEADER + yaml.safe_dump(
        {**fitted, "fitted": {"questions": len(labelled), "folds": FOLDS, "today": day}},
        sort_keys=False,
    )
    try:
        # Written aside and renamed: a bot reading the knowledge never sees half a file.
        partial = path.with_suffix(".yaml.tmp")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror}") from None
    t = decision.thresholds
    print(
        f"fitted on {len(labelled)} questions; thresholds sure {t.sure}, likely {t.likely}, "
        f"suggest {t.suggest}; written to {path}"
    )
    right = sum(
        o.in_scope and o.right and o.topical and o.probability >= t.likely for o in outcomes
    )
    in_scope = sum(o.in_scope for o in outcomes) or 1
    print(f"cross-validated: right at once {right / in_scope:.1%} of {in_scope} in-scope questions")
    return 0


DECISION_HEADER = """\
# The answer / likely / suggest / fallback decision, fitted by `sto-bot kb fit` on the labelled
# questions of knowledge/eval/ (never the holdout). Do not edit by hand: change the questions or
# the knowledge and fit again. P(right) = sigmoid(bias + sum(weight * (feature - mean) / scale)).
"""


def run_graph(knowledge: KnowledgeBase, style: str, language: Language, output: Path | None) -> int:
    """`kb graph`: the check as Mermaid (wrapped in Markdown when written to .md) or DOT."""
    if style == "dot":
        text = tree_to_dot(knowledge.check, language)
    else:
        text = tree_to_mermaid(knowledge.check, language)
        if output is not None and output.suffix == ".md":
            text = check_diagram_markdown(text)
    if output is None:
        sys.stdout.write(text)
        return 0
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot write {output}: {error.strerror}") from None
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
