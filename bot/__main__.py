"""`sto-bot` / `python -m bot`: parse the command line, configure logging once, start a channel."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import logging
import os
import sqlite3
import sys
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

from telegram.error import InvalidToken

from bot.console import (
    CONSOLE_CONSULTANT,
    CONSULTANTS_CHAT,
    ConsoleChat,
    format_options,
    read_text_line,
)
from bot.telegram_app import CHANNEL as TELEGRAM
from bot.telegram_app import TelegramChannel, make_bot, protect_token
from sto_bot.assistant import AskResult, Assistant
from sto_bot.config import ConfigError, Settings
from sto_bot.dates import Clock, fixed_clock, system_clock
from sto_bot.dialog import check_diagram_markdown, tree_to_dot, tree_to_mermaid
from sto_bot.evaluation import (
    MAX_CONFIDENTLY_WRONG,
    MAX_OUT_OF_SCOPE_ANSWERED,
    MIN_IN_SCOPE_ACCURACY,
    evaluate,
)
from sto_bot.handover import Consultants
from sto_bot.knowledge import KnowledgeBase, KnowledgeError, load_eval, load_knowledge
from sto_bot.models import Band, Handover, HandoverStatus, Language
from sto_bot.store import SqliteStore
from sto_bot.yaml_lines import YamlProblem

EXIT_INVALID = 2


class UsageError(Exception):
    """A problem the user can fix; printed as one line, exit code 2."""


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date like 2026-11-28") from None


def build_parser() -> argparse.ArgumentParser:
    """The command line of DESIGN §2."""
    parser = argparse.ArgumentParser(
        prog="sto-bot", description="STO-assistent: answers about Sterk Techniekonderwijs 2025-2028"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--lang", choices=["nl", "en"], help="reply language (default: follow)")
        sub.add_argument("--today", type=_day, metavar="YYYY-MM-DD", help="fix today's date")

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

    kb = commands.add_parser("kb", help="check and measure the knowledge base")
    kb_commands = kb.add_subparsers(dest="kb_command", required=True, metavar="KB_COMMAND")
    kb_commands.add_parser("check", help="validate all knowledge files")
    evaluate_parser = kb_commands.add_parser("eval", help="score matching on labelled questions")
    evaluate_parser.add_argument("file", nargs="?", type=Path, help="default: knowledge/eval/")
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
    configure_logging(settings, quiet=args.command in ("chat", "ask", "kb"))
    if settings.telegram_token:
        protect_token(settings.telegram_token)
    try:
        if args.command == "kb":
            return run_kb(args, settings)
        if args.command == "handovers":
            return asyncio.run(run_handovers(args, settings))
        knowledge = load_or_explain(settings.knowledge_dir)
        if args.command == "run":
            asyncio.run(run_telegram(knowledge, settings))
            return 0
        clock: Clock = fixed_clock(args.today) if args.today else system_clock
        if args.command == "ask":
            assistant = Assistant(knowledge, clock=clock, language=args.lang)
            return run_ask(assistant, args.question, as_json=args.json, language=args.lang)
        asyncio.run(run_chat(knowledge, settings, clock, args))
        return 0
    except UsageError as error:
        print(f"sto-bot: {error}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        # The reader went away (`sto-bot kb eval | head`): not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


async def run_chat(
    knowledge: KnowledgeBase, settings: Settings, clock: Clock, args: argparse.Namespace
) -> None:
    """The terminal chat, on the same database as the Telegram bot."""
    store = await open_store(settings, clock)
    try:
        assistant = Assistant(
            knowledge,
            store=store,
            clock=clock,
            language=args.lang,
            retention_days=settings.retention_days,
            consultants=Consultants(
                ids=frozenset({CONSOLE_CONSULTANT}),
                chat=CONSULTANTS_CHAT,
                reminder_hours=settings.reminder_hours,
            ),
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
        await chat.run()
    finally:
        await store.close()


async def run_telegram(knowledge: KnowledgeBase, settings: Settings) -> None:
    """`sto-bot run`: the Telegram bot until SIGTERM or SIGINT."""
    if not settings.telegram_token:
        raise UsageError(
            "TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather in Telegram "
            "and set its token in TELEGRAM_BOT_TOKEN"
        )
    store = await open_store(settings, system_clock)
    try:
        assistant = Assistant(
            knowledge,
            store=store,
            retention_days=settings.retention_days,
            consultants=settings.consultants(TELEGRAM),
        )
        channel = TelegramChannel(make_bot(settings), assistant, store, settings)
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
    store = await open_store(settings, system_clock)
    try:
        status = HandoverStatus(args.status) if args.status else None
        handovers = await store.handovers(status)
    finally:
        await store.close()
    records = [handover_record(handover) for handover in handovers]
    if args.handovers_command == "list":
        for record in records:
            print(
                f"#{record['number']}  {record['status']:<10} {record['created_at']}  "
                f"{record['name'] or '-'}  ({record['organisation'] or '-'})"
                + (f"  picked up by {record['picked_up_by']}" if record["picked_up_by"] else "")
            )
        if not records:
            print("no handovers")
        return 0
    if args.format == "json":
        json.dump(records, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return 0
    writer = csv.DictWriter(sys.stdout, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return 0


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


async def open_store(settings: Settings, clock: Clock) -> SqliteStore:
    """Open the database and drop conversation logs past their retention."""
    try:
        store = await SqliteStore.open(settings.database)
    except (OSError, sqlite3.Error, RuntimeError) as error:
        raise UsageError(
            f"cannot open the database {settings.database}: {error} "
            "(set STO_BOT_DB to a writable file)"
        ) from None
    removed = await store.prune(clock() - timedelta(days=settings.retention_days))
    if removed:
        logging.getLogger(__name__).info("removed %d events past their retention", removed)
    return store


def configure_logging(settings: Settings, quiet: bool) -> None:
    """Log to stderr; terminal commands stay quiet unless LOG_LEVEL asks for more."""
    level = settings.log_level or (logging.WARNING if quiet else logging.INFO)
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


def load_or_explain(root: Path) -> KnowledgeBase:
    """Load the knowledge base, or raise one clear line naming the first problem."""
    try:
        return load_knowledge(root)
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
    knowledge = load_or_explain(settings.knowledge_dir)
    if args.kb_command == "graph":
        return run_graph(knowledge, args.format, args.lang, args.output)
    path = args.file or settings.knowledge_dir / "eval"
    try:
        labelled = load_eval(path)
    except (OSError, YamlProblem, KeyError, TypeError) as error:
        raise UsageError(f"cannot read the evaluation questions in {path}: {error}") from None
    for _, expected in labelled:
        if expected is not None and expected not in knowledge.entries:
            raise UsageError(f"{path}: expected entry '{expected}' does not exist")
    report = evaluate(Assistant(knowledge).matcher, labelled)
    print(f"questions: {report.in_scope} in scope, {report.out_of_scope} out of scope")
    print(f"in-scope top-1 accuracy: {report.accuracy:.1%} (target >= {MIN_IN_SCOPE_ACCURACY:.0%})")
    print(
        f"confidently wrong: {report.confidently_wrong_rate:.1%} "
        f"(target <= {MAX_CONFIDENTLY_WRONG:.0%})"
    )
    print(
        f"out of scope answered confidently: {report.out_of_scope_rate:.1%} "
        f"(target <= {MAX_OUT_OF_SCOPE_ANSWERED:.0%})"
    )
    if report.misses:
        print("confusions (expected -> got, band):")
        for miss in report.misses:
            expected = miss.expected or "none"
            print(f"  {expected} -> {miss.got or '-'} [{miss.band.value}]: {miss.question}")
    return 0 if report.meets_targets else 1


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
