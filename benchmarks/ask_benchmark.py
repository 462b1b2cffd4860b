"""How fast `sto-bot ask --json -` answers: end to end, per question, and beside bare rapidfuzz.

Run from the repository root with the project's virtual environment:

    .venv/bin/python benchmarks/ask_benchmark.py [--questions N] [--limit-seconds S]

Prints Markdown results tables; exits 1 when the end-to-end run takes longer than the limit or
`Assistant.ask`'s p99 is over its limit, 2 when the command failed or printed something other than
one JSON answer per question. `--scale 10` also runs everything on a copy of the knowledge with
ten times the phrasings (generated: reordered, shortened and with a made-up word each), to show
how the cost grows with the knowledge.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import cycle, islice
from pathlib import Path

import yaml
from rapidfuzz import fuzz, process, utils

from sto_bot.assistant import Assistant
from sto_bot.knowledge import KnowledgeBase
from sto_bot.loader import default_knowledge_dir, load_knowledge

EVAL_DIR = Path(__file__).resolve().parent.parent / "knowledge" / "eval"
EXIT_TOO_SLOW = 1
EXIT_BROKEN = 2


@dataclass(frozen=True, slots=True)
class EndToEnd:
    """One run of the real command over all questions on stdin."""

    seconds: float
    statuses: Counter[str]


@dataclass(frozen=True, slots=True)
class Latencies:
    """Per-question timings of one way of answering, in nanoseconds."""

    name: str
    nanoseconds: tuple[int, ...]

    def percentile(self, percent: float) -> float:
        """The nearest-rank percentile in microseconds."""
        ordered = sorted(self.nanoseconds)
        rank = max(math.ceil(percent / 100 * len(ordered)), 1)
        return ordered[rank - 1] / 1000

    def total_ms(self) -> float:
        """All timings added up, in milliseconds."""
        return sum(self.nanoseconds) / 1_000_000


class BrokenRun(Exception):
    """The command failed or its output does not match the questions."""


def eval_questions(folder: Path = EVAL_DIR) -> list[str]:
    """The labelled questions of every eval file, in file order."""
    questions: list[str] = []
    for path in sorted(folder.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        questions.extend(str(item["q"]) for item in data["questions"])
    return questions


def build_questions(count: int, folder: Path = EVAL_DIR) -> list[str]:
    """`count` questions by cycling the eval questions (one line each)."""
    labelled = [" ".join(q.split()) for q in eval_questions(folder)]
    if not labelled:
        raise BrokenRun(f"no questions found in {folder}/*.yaml")
    return list(islice(cycle(labelled), count))


def scaled_knowledge(factor: int, target: Path) -> Path:
    """A copy of the shipped knowledge whose entries have `factor` times their phrasings."""
    root = target / "knowledge"
    shutil.copytree(default_knowledge_dir(), root)
    for path in sorted((root / "faq").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for number, entry in enumerate(data["entries"]):
            for language, questions in entry["questions"].items():
                grown = list(questions)
                for copy in range(1, factor):
                    for index, question in enumerate(questions):
                        words = question.split()
                        turned = words[copy % len(words) :] + words[: copy % len(words)]
                        if copy % 3 == 0 and len(turned) > 2:
                            turned = turned[:-1]
                        grown.append(" ".join([*turned, f"woord{number}x{copy}x{index}"]))
                entry["questions"][language] = grown
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return root


def run_end_to_end(questions: Sequence[str], knowledge_dir: Path | None = None) -> EndToEnd:
    """Time `python -m bot ask --json -` with all questions on stdin, start-up included."""
    stdin = "".join(f"{q}\n" for q in questions).encode("utf-8")
    env = dict(os.environ)
    env.pop("STO_BOT_KNOWLEDGE", None)  # the shipped knowledge, as in the in-process runs
    if knowledge_dir is not None:
        env["STO_BOT_KNOWLEDGE"] = str(knowledge_dir)
    command = [sys.executable, "-m", "bot", "ask", "--json", "-"]
    with tempfile.TemporaryDirectory() as workdir:
        start = time.perf_counter()
        done = subprocess.run(command, input=stdin, capture_output=True, cwd=workdir, env=env)
        seconds = time.perf_counter() - start
    if done.returncode != 0:
        error = done.stderr.decode("utf-8", "replace").strip()
        raise BrokenRun(f"{' '.join(command)} exited with {done.returncode}: {error}")
    lines = done.stdout.decode("utf-8").splitlines()
    if len(lines) != len(questions):
        raise BrokenRun(f"expected {len(questions)} JSON lines, got {len(lines)}")
    statuses: Counter[str] = Counter()
    for number, line in enumerate(lines, start=1):
        record = json.loads(line)
        if not isinstance(record, dict) or "status" not in record:
            raise BrokenRun(f"line {number} has no 'status': {line[:80]}")
        statuses[str(record["status"])] += 1
    return EndToEnd(seconds, statuses)


def phrasings(knowledge: KnowledgeBase) -> list[str]:
    """Every phrasing of every entry: its questions in both languages and its keywords."""
    texts: list[str] = []
    for entry in knowledge.entries.values():
        for questions in entry.questions.values():
            texts.extend(questions)
        texts.extend(entry.keywords)
    return texts


def time_each(name: str, questions: Sequence[str], answer: Callable[[str], object]) -> Latencies:
    """Call `answer` once per question and keep each call's duration."""
    timings: list[int] = []
    for question in questions:
        start = time.perf_counter_ns()
        answer(question)
        timings.append(time.perf_counter_ns() - start)
    return Latencies(name, tuple(timings))


def measure_in_process(
    questions: Sequence[str], knowledge_dir: Path | None = None
) -> list[Latencies]:
    """Per-question latency of `Assistant.ask` and of a bare rapidfuzz extractOne."""
    knowledge = load_knowledge(knowledge_dir or default_knowledge_dir())
    assistant = Assistant(knowledge)
    choices = phrasings(knowledge)

    def bare(question: str) -> object:
        return process.extractOne(
            question, choices, scorer=fuzz.WRatio, processor=utils.default_process
        )

    return [
        time_each("`Assistant.ask` (in process)", questions, assistant.ask),
        time_each(f"bare rapidfuzz `extractOne` ({len(choices)} phrasings)", questions, bare),
    ]


def report(
    end_to_end: EndToEnd,
    latencies: Sequence[Latencies],
    count: int,
    limit: float,
    title: str = "the shipped knowledge",
) -> str:
    """The results as Markdown tables."""
    verdict = "pass" if end_to_end.seconds <= limit else "FAIL"
    statuses = ", ".join(f"{n} {status}" for status, n in sorted(end_to_end.statuses.items()))
    lines = [
        f"### {title}",
        "",
        f"End to end: `sto-bot ask --json -`, {count} questions, start-up included",
        "",
        "| wall time (s) | limit (s) | result | questions/s | statuses |",
        "|---:|---:|:---|---:|:---|",
        f"| {end_to_end.seconds:.2f} | {limit:.2f} | {verdict}"
        f" | {count / end_to_end.seconds:,.0f} | {statuses} |",
        "",
        f"Per question, in process, same {count} questions",
        "",
        "| measurement | p50 (µs) | p99 (µs) | max (µs) | total (ms) |",
        "|:---|---:|---:|---:|---:|",
    ]
    for timing in latencies:
        lines.append(
            f"| {timing.name} | {timing.percentile(50):,.0f} | {timing.percentile(99):,.0f}"
            f" | {timing.percentile(100):,.0f} | {timing.total_ms():,.0f} |"
        )
    return "\n".join(lines)


def positive_int(text: str) -> int:
    """An argparse type for a whole number of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not at least 1")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--questions", type=positive_int, default=1000, metavar="N")
    parser.add_argument("--limit-seconds", type=float, default=3.0, metavar="S")
    parser.add_argument("--limit-p99-ms", type=float, default=2.0, metavar="MS")
    parser.add_argument(
        "--scale",
        type=positive_int,
        default=1,
        metavar="K",
        help="also run on K times the phrasings (generated)",
    )
    args = parser.parse_args(argv)
    try:
        questions = build_questions(args.questions)
        end_to_end = run_end_to_end(questions)
    except BrokenRun as error:
        print(f"ask_benchmark: {error}", file=sys.stderr)
        return EXIT_BROKEN
    latencies = measure_in_process(questions)
    print(report(end_to_end, latencies, len(questions), args.limit_seconds))
    p99_ms = latencies[0].percentile(99) / 1000
    too_slow = end_to_end.seconds > args.limit_seconds or p99_ms > args.limit_p99_ms
    reference = latencies[1].percentile(50) / 1000
    print(
        f"\n`Assistant.ask` p99 {p99_ms:.2f} ms (limit {args.limit_p99_ms:.2f} ms), "
        f"{p99_ms / reference:.2f} of one bare `extractOne` (p50, same run)"
    )
    if args.scale > 1:
        with tempfile.TemporaryDirectory() as workdir:
            scaled = scaled_knowledge(args.scale, Path(workdir))
            try:
                scaled_run = run_end_to_end(questions, scaled)
            except BrokenRun as error:
                print(f"ask_benchmark: {error}", file=sys.stderr)
                return EXIT_BROKEN
            scaled_latencies = measure_in_process(questions, scaled)
            count = len(phrasings(load_knowledge(scaled)))
        title = f"{args.scale} times the phrasings ({count} phrasings and keywords)"
        print()
        print(report(scaled_run, scaled_latencies, len(questions), math.inf, title))
        growth = scaled_latencies[0].percentile(50) / latencies[0].percentile(50)
        wall = scaled_run.seconds / end_to_end.seconds
        print(
            f"\nRatio to the shipped knowledge: end to end {wall:.2f}x,"
            f" `Assistant.ask` p50 {growth:.2f}x"
        )
    return EXIT_TOO_SLOW if too_slow else 0


if __name__ == "__main__":
    raise SystemExit(main())
