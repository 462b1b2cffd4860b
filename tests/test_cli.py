"""The `sto-bot` command line as DESIGN §2 fixes it."""

from __future__ import annotations

import json

from conftest import run_cli

from sto_bot.loader import default_knowledge_dir, load_eval, load_knowledge


def test_ask_json_follows_the_contract() -> None:
    result = run_cli("ask", "--json", "Wat is een penvoerder?")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    keys = {"status", "certainty", "entry", "score", "text", "suggestions", "source"}
    assert set(record) == keys
    assert record["status"] == "answer" and record["entry"] == "penvoerder"
    assert record["certainty"] == "sure"
    assert 0 <= record["score"] <= 100
    assert record["source"]["url"].startswith("https://")


def test_ask_batch_answers_every_line_in_order() -> None:
    questions = ["Wat is een penvoerder?", "", "xqzv plorp", "regio", "What is a penvoerder?"]
    stdin = "\n".join(questions).encode() + b"\n\xff\xfe\n"
    result = run_cli("ask", "--json", "-", stdin=stdin)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [r["status"] for r in records] == [
        "answer",
        "fallback",
        "fallback",
        "suggest",
        "answer",
        "fallback",
    ]
    assert records[0]["entry"] == records[4]["entry"] == "penvoerder"
    assert all(r["entry"] is None and r["source"] is None for r in records[1:4])
    assert 2 <= len(records[3]["suggestions"]) <= 3


def test_ask_in_text_mode_prints_the_answer_and_its_source() -> None:
    result = run_cli("ask", "Wat", "is", "een", "penvoerder?")
    out = result.stdout.decode()
    assert "bevoegd gezag" in out and "Bron: " in out


def test_ask_with_today_and_lang() -> None:
    result = run_cli("ask", "--lang", "en", "--today", "2024-09-15", "aanvraagperiode")
    assert "is open until 1 October 2024, 16:00" in result.stdout.decode()


def test_a_bad_date_is_a_usage_error() -> None:
    result = run_cli("ask", "--today", "28-11-2026", "penvoerder")
    assert result.returncode == 2
    assert b"2026-11-28" in result.stderr


def test_a_malformed_environment_variable_fails_with_one_line_naming_it() -> None:
    result = run_cli("ask", "penvoerder", env={"LOG_LEVEL": "LOUD"})
    assert result.returncode == 2
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "LOG_LEVEL" in lines[0]


def test_kb_eval_prints_the_figures() -> None:
    result = run_cli("kb", "eval")
    out = result.stdout.decode()
    # The shipped set, the holdout and the blind sets, each with its figures and calibration.
    names = ["eval:", "holdout/questions.yaml:"]
    holdout = default_knowledge_dir() / "holdout"
    names += [f"holdout/{path.name}:" for path in sorted(holdout.glob("blind*.yaml"))]
    assert len(names) >= 3 and all(name in out for name in names)
    for figure in ("right at once ", "within one tap", "answered wrongly", "of which sure"):
        assert out.count(figure) >= len(names), figure
    assert "right at once by style: english" in out  # the sets written from the fact sheet
    assert out.count("out of scope answered") == len(names) == out.count("calibration")
    # The exit code says whether every set meets its targets, and the last line says which not.
    last = out.strip().splitlines()[-1]
    if result.returncode == 0:
        assert last == "every set meets its targets"
    else:
        assert result.returncode == 1 and last.startswith("below a target: ")


def test_answers_are_the_same_in_every_process() -> None:
    """Hash randomisation (a set's order) must not change an answer between two runs."""
    knowledge = load_knowledge(default_knowledge_dir())
    questions = [item.question for item in load_eval(knowledge.root / "eval", knowledge.coverage)]
    stdin = "\n".join(questions).encode() + b"\n"
    outputs = {
        run_cli("ask", "--json", "-", stdin=stdin, env={"PYTHONHASHSEED": seed}).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1
