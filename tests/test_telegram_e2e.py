"""End to end: the real `python -m bot run` process against the fake Bot API server.

Every test starts the bot as a separate process, as an operator would, and talks to it only
through FakeTelegram (updates in, API calls out) and, in webhook mode, over HTTP. Nothing is
mocked. The `start_bot` fixture always stops what it started (SIGTERM, wait, then SIGKILL).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from fake_telegram import Call, FakeTelegram

from bot.telegram_app import split_text
from sto_bot.assistant import Assistant
from sto_bot.config import DEFAULT_RETENTION_DAYS
from sto_bot.delivery import Pace
from sto_bot.knowledge import KnowledgeBase
from sto_bot.models import Band, Changes, ConversationKey, ConversationState, Option, Reply
from sto_bot.privacy import privacy_text
from sto_bot.sqlite_store import SqliteStore

JSON = dict[str, Any]

TOKEN = "123456:TEST-TOKEN-secret"
TOKEN_SECRET = TOKEN.split(":", 1)[1]
CHAT = 4242
START_TIMEOUT = 30.0  # process start (imports, knowledge) plus the first answer
REPLY_TIMEOUT = 20.0
MAX_TEXT = 4096
# The command menu, in this order.
# The Dutch command menu, as knowledge/commands.yaml declares it (the test reads it there too).
COMMANDS = ["start", "help", "onderwerpen", "check", "resultaat", "stop", "adviseur", "annuleer"]
COMMANDS += ["terug", "taal", "privacy", "mijngegevens", "vergeet"]
MENU = ["menu:ask", "chk:start", "topic:all", "ho:offer"]
# Five messages whose replies are all different, so a chat's replies show their order.
SCRIPT = ["/help", "/privacy", "/onderwerpen", "/taal en", "/start"]
ANSWERED_QUESTION = "Hoeveel cofinanciering is nodig?"
# Environment variables of the bot that a developer's shell must not leak into a test.
_BOT_VARIABLES = ("STO_BOT", "LOG_", "TELEGRAM_", "WEBHOOK_", "CONSULTANT_", "ADMIN_IDS", "PORT")
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#[0-9]+|#x[0-9a-fA-F]+);")


# ---------------------------------------------------------------------------------------------
# The bot process


class BotProcess:
    """One `python -m bot run` process; its stderr (the log) goes to a file."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path, log_path: Path) -> None:
        self.log_path = log_path
        self._log_file: IO[bytes] = log_path.open("wb")
        self.popen = subprocess.Popen(
            args,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._log_file,
        )

    @property
    def running(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        """Everything the process logged so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM and wait for the exit code; SIGKILL (and fail) if it does not stop in time."""
        if self.running:
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"the bot did not stop within {timeout}s of SIGTERM; log:\n{self.log()}"
            ) from None
        finally:
            self._log_file.close()

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as in a crash."""
        if self.running:
            self.popen.kill()
        self.popen.wait(10)
        self._log_file.close()

    def stop(self) -> None:
        """Whatever happened in the test: SIGTERM, wait, then SIGKILL."""
        if self.running:
            self.popen.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(10)
        self.kill()


StartBot = Callable[..., BotProcess]


def bot_environment(**overrides: str | None) -> dict[str, str]:
    """The parent's environment without the bot's own variables, then `overrides` (None: unset)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_BOT_VARIABLES)}
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    """The fake Bot API; only the test token is accepted. Checks every HTML text sent."""
    with FakeTelegram(token=TOKEN) as server:
        yield server
        for call in server.calls():
            if call.params.get("parse_mode") == "HTML" and isinstance(call.params.get("text"), str):
                problems = html_problems(call.params["text"])
                assert not problems, f"{call.method} sent invalid HTML: {problems}"


@pytest.fixture
def start_bot(fake: FakeTelegram, tmp_path: Path) -> Iterator[StartBot]:
    """Start the real bot against `fake`; every process started is stopped at the end."""
    started: list[BotProcess] = []

    def start(**env: str | None) -> BotProcess:
        """Start one more process (on the same database); `env` adds (or, None, unsets) vars."""
        environment = bot_environment(
            **{
                "TELEGRAM_API_URL": fake.url,
                "TELEGRAM_BOT_TOKEN": TOKEN,
                "STO_BOT_DB": str(tmp_path / "sto-bot.sqlite3"),
                **env,
            }
        )
        log_path = tmp_path / f"bot-{len(started) + 1}.log"
        process = BotProcess([sys.executable, "-m", "bot", "run"], environment, tmp_path, log_path)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


# ---------------------------------------------------------------------------------------------
# Helpers


def html_problems(text: str) -> list[str]:
    """What Telegram's HTML parser would refuse in a text (the bot sends no tags at all)."""
    rest = _ENTITY.sub("", text)
    return [f"bare {char!r}" for char in "<>&" if char in rest]


def sends(fake: FakeTelegram, chat_id: int) -> list[Call]:
    """Every sendMessage attempt for a chat, failed ones included."""
    return [c for c in fake.calls("sendMessage") if c.params.get("chat_id") == chat_id]


def wait_sent(
    fake: FakeTelegram, chat_id: int, count: int, timeout: float = REPLY_TIMEOUT
) -> list[JSON]:
    """Wait until at least `count` messages were delivered to a chat; return them all."""
    return fake.wait_for(
        lambda: found if len(found := fake.sent(chat_id)) >= count else [], timeout
    )


def wait_ok(fake: FakeTelegram, method: str, test: Callable[[Call], bool]) -> Call:
    """Wait for a successful call of `method` that passes `test`."""
    found = fake.wait_for(
        lambda: next((c for c in fake.calls(method) if c.ok and test(c)), None), REPLY_TIMEOUT
    )
    assert found is not None
    return found


def fetched(polls: list[Call]) -> set[int]:
    """The ids of the updates that getUpdates calls handed out."""
    return {u["update_id"] for c in polls if c.ok and c.response for u in c.response["result"]}


def buttons(message: JSON) -> list[tuple[str, str]]:
    """(label, callback_data) of a message's inline keyboard, row by row."""
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [(button["text"], button["callback_data"]) for row in rows for button in row]


def press(fake: FakeTelegram, chat_id: int, message: JSON, label: str) -> str:
    """Press the button with `label` on a message the bot sent; returns the query id."""
    data = dict(buttons(message))[label]
    update = fake.push_callback(chat_id, data, message["message_id"])
    query_id: str = update["callback_query"]["id"]
    return query_id


def assert_pressed(fake: FakeTelegram, chat_id: int, message: JSON, label: str, query: str) -> None:
    """The press was answered and the pressed message now shows the choice, keyboard gone."""
    wait_ok(fake, "answerCallbackQuery", lambda c: c.params.get("callback_query_id") == query)
    edit = wait_ok(
        fake,
        "editMessageText",
        lambda c: (
            c.params.get("chat_id") == chat_id
            and c.params.get("message_id") == message["message_id"]
        ),
    )
    shown, mark, choice = edit.params["text"].rpartition("\n\n✓ ")
    assert mark and html.unescape(choice) == label
    # The fake hands the bot a message's HTML source as its text (Telegram: the plain text), so
    # the escaped text in the edit unescapes to that source.
    assert html.unescape(shown) == message["text"]
    assert "reply_markup" not in edit.params
    current = fake.message(chat_id, message["message_id"])
    assert current is not None and "reply_markup" not in current


def escaped(text: str) -> str:
    return html.escape(text, quote=False)


RETENTION = DEFAULT_RETENTION_DAYS


def script_replies(knowledge: KnowledgeBase) -> list[str]:
    """What the bot sends, in order, for the messages of SCRIPT in a new chat."""
    texts = knowledge.texts
    return [
        escaped(texts.get("help", "nl", commands=knowledge.commands.help_lines("nl"))),
        escaped(
            privacy_text(texts, ConversationKey("telegram", "1"), "nl", DEFAULT_RETENTION_DAYS)
        ),
        escaped(texts.get("topics_intro", "nl")),
        escaped(texts.get("language_set", "en")),
        escaped(texts.get("welcome", "en")),
    ]


def info_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if " INFO " in line]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# ---------------------------------------------------------------------------------------------
# Conversations


def test_start_shows_the_menu_and_a_question_is_answered_with_its_source(
    fake: FakeTelegram, start_bot: StartBot, assistant: Assistant
) -> None:
    assert assistant.ask(ANSWERED_QUESTION).status is Band.ANSWER
    start_bot()
    fake.push_text(CHAT, "/start")
    [welcome] = wait_sent(fake, CHAT, 1, timeout=START_TIMEOUT)
    assert welcome["text"].startswith("Welkom bij de STO-assistent")
    assert [data for _, data in buttons(welcome)] == MENU

    fake.push_text(CHAT, ANSWERED_QUESTION)
    answer = wait_sent(fake, CHAT, 2)[1]
    assert sends(fake, CHAT)[-1].params["parse_mode"] == "HTML"
    assert "Bron:" in answer["text"] and "cofinanciering" in answer["text"]
    *follow_ups, helpful, not_helpful = buttons(answer)
    assert all(data.startswith("ask:") for _, data in follow_ups)
    assert helpful[1].startswith("fb:up:") and not_helpful[1].startswith("fb:down:")

    # A follow-up button answers its question at once.
    label = buttons(answer)[0][0]
    query = press(fake, CHAT, answer, label)
    follow_up = wait_sent(fake, CHAT, 3)[2]
    assert "Bron:" in follow_up["text"]
    assert_pressed(fake, CHAT, answer, label, query)


def test_the_command_menu_is_registered_in_dutch_english_and_by_default(
    fake: FakeTelegram, start_bot: StartBot, knowledge: KnowledgeBase
) -> None:
    start_bot()
    registered = fake.wait_for(
        lambda: (calls := [c for c in fake.calls("setMyCommands") if c.ok]) and len(calls) >= 3,
        START_TIMEOUT,
    )
    assert registered
    by_language = {c.params.get("language_code"): c.params for c in fake.calls("setMyCommands")}
    assert set(by_language) == {"nl", "en", None}
    # The menu and /help come from the same table: every command of one is in the other.
    for language in ("nl", "en"):
        menu = [c["command"] for c in by_language[language]["commands"]]
        assert menu == [name for name, _ in knowledge.commands.menu(language)]
        help_text = knowledge.commands.help_lines(language)
        assert all(f"/{name} - " in help_text for name in menu)
    for params in by_language.values():
        assert params.get("scope", {"type": "default"}) == {"type": "default"}
    assert [c["command"] for c in by_language["nl"]["commands"]] == COMMANDS
    assert by_language[None]["commands"] == by_language["nl"]["commands"]  # Dutch by default
    assert by_language["en"]["commands"] != by_language["nl"]["commands"]

    # Every command in the menu is one the bot knows.
    unknown = escaped(knowledge.texts.get("unknown_command", "nl"))
    chats = range(7001, 7001 + len(COMMANDS))
    for chat_id, command in zip(chats, COMMANDS, strict=True):
        fake.push_text(chat_id, f"/{command}")
    for chat_id, command in zip(chats, COMMANDS, strict=True):
        for reply in wait_sent(fake, chat_id, 1):
            assert reply["text"] != unknown, command


def test_the_check_is_completed_with_buttons(fake: FakeTelegram, start_bot: StartBot) -> None:
    start_bot()
    # From the main menu: the "check" button opens the check; one answer gives a verdict.
    fake.push_text(CHAT, "/start")
    [welcome] = wait_sent(fake, CHAT, 1, timeout=START_TIMEOUT)
    check_label = next(label for label, data in buttons(welcome) if data == "chk:start")
    queries = [query := press(fake, CHAT, welcome, check_label)]
    question = wait_sent(fake, CHAT, 3)[2]
    assert question["text"].startswith("Vraag 1: Namens wie")
    assert_pressed(fake, CHAT, welcome, check_label, query)

    queries.append(query := press(fake, CHAT, question, "Een mbo-instelling"))
    verdict = wait_sent(fake, CHAT, 4)[3]
    assert verdict["text"].startswith("Een mbo-instelling is partner")
    assert_pressed(fake, CHAT, question, "Een mbo-instelling", query)

    # The whole way as a vmbo school: press the first answer of every question.
    walker = CHAT + 1
    fake.push_text(walker, "/check")
    sent = wait_sent(fake, walker, 2)
    for _ in range(15):
        question = sent[-1]
        answers = [label for label, data in buttons(question) if data.count(":") == 3]
        if not answers:
            break
        queries.append(query := press(fake, walker, question, answers[0]))
        sent = wait_sent(fake, walker, len(sent) + 1)
        assert_pressed(fake, walker, question, answers[0], query)
    assert "Voorwaarden:" in sent[-1]["text"] and "✅" in sent[-1]["text"], sent[-1]["text"]
    assert len(sent) >= 6  # an introduction, at least four questions, the verdict

    # Every button press was answered, exactly once.
    acknowledged = fake.calls("answerCallbackQuery")
    assert sorted(c.params["callback_query_id"] for c in acknowledged) == sorted(queries)
    assert all(c.ok for c in acknowledged)

    # The deep link t.me/<bot>?start=check opens the check as well.
    linked = CHAT + 2
    fake.push_text(linked, "/start check")
    assert wait_sent(fake, linked, 2)[1]["text"].startswith("Vraag 1: Namens wie")


# ---------------------------------------------------------------------------------------------
# Delivery: rate limits, server errors, blocked users


def test_a_429_is_waited_out_and_the_reply_arrives_once(
    fake: FakeTelegram, start_bot: StartBot
) -> None:
    fake.fail_next("getUpdates", 429, retry_after=1)
    # 409: another instance still polls (the old one, during a deploy); not a reason to crash.
    fake.fail_next("getUpdates", 409)
    fake.fail_next("sendMessage", 429, retry_after=1)
    bot = start_bot()
    fake.push_text(CHAT, "/help")
    wait_sent(fake, CHAT, 1, timeout=START_TIMEOUT)
    time.sleep(1.0)  # long enough for a second (wrong) delivery to show
    attempts = sends(fake, CHAT)
    assert [c.status for c in attempts] == [429, 200]
    assert attempts[1].at - attempts[0].at >= 0.9  # retry_after was respected
    assert len(fake.sent(CHAT)) == 1
    polls = fake.calls("getUpdates")
    assert [c.status for c in polls[:3]] == [429, 409, 200]
    assert polls[1].at - polls[0].at >= 0.9
    assert bot.terminate() == 0


def test_server_errors_are_retried_and_a_blocked_chat_is_not(
    fake: FakeTelegram, start_bot: StartBot
) -> None:
    blocked, other = CHAT + 1, CHAT + 2
    fake.fail_next("sendMessage", 500, times=2)
    bot = start_bot()
    fake.push_text(CHAT, "/help")
    wait_sent(fake, CHAT, 1, timeout=START_TIMEOUT)
    assert [c.status for c in sends(fake, CHAT)] == [500, 500, 200]

    fake.fail_next("sendMessage", 403)
    fake.push_text(blocked, "/help")
    fake.wait_for(lambda: [c for c in sends(fake, blocked) if c.status == 403])
    fake.push_text(other, "/help")
    fake.push_text(CHAT, "/privacy")
    wait_sent(fake, other, 1)
    wait_sent(fake, CHAT, 2)
    time.sleep(1.0)  # a retry (back-off 0.5 s) would have come by now
    assert len(sends(fake, blocked)) == 1
    assert fake.sent(blocked) == []
    assert len(fake.sent(CHAT)) == 2 and len(fake.sent(other)) == 1

    # The user unblocks the bot and writes again: answered as usual.
    fake.push_text(blocked, "/privacy")
    wait_sent(fake, blocked, 1)
    assert bot.terminate() == 0
    log = bot.log()
    assert "blocked the bot" in log and "stopped cleanly" in log


# ---------------------------------------------------------------------------------------------
# Crash and load


def test_kill_9_mid_burst_then_restart_answers_every_update_exactly_once(
    fake: FakeTelegram, start_bot: StartBot, knowledge: KnowledgeBase
) -> None:
    chats = list(range(2001, 2011))
    expected = script_replies(knowledge)
    # Start and wait for the bot to be up, so that the burst is handled at full speed.
    first = start_bot()
    fake.push_text(1, "/help")
    wait_sent(fake, 1, 1, timeout=START_TIMEOUT)

    def push_round(index: int) -> set[int]:
        return {int(fake.push_text(chat_id, SCRIPT[index])["update_id"]) for chat_id in chats}

    def polled_after(update_ids: set[int]) -> Call | None:
        """The bot's getUpdates call that confirms these updates, once it has come."""
        return next(
            (
                c
                for c in fake.calls("getUpdates")
                if int(c.params.get("offset") or 0) > max(update_ids)
            ),
            None,
        )

    push_round(0)
    push_round(1)
    fake.wait_for(lambda: len(fake.sent()) >= 11)
    # From now on every send is held for 2 s and then fails, as if Telegram stalled: the
    # kill cannot land between a message reaching Telegram and the bot noting it as sent, the
    # one moment no bot can get right (Telegram's sendMessage is not idempotent). Each chat
    # makes at most two attempts before the kill: one fault each is enough, two to be sure.
    fake.delay_next("sendMessage", 2.0, times=2 * len(chats))
    fake.fail_next("sendMessage", 500, times=2 * len(chats))
    frozen = time.monotonic()
    round_2 = push_round(2)
    fake.wait_for(lambda: polled_after(round_2))
    # The getUpdates after the next one stalls too: what that next one fetches is in the
    # bot's inbox, unhandled (its chats wait for their sends), and Telegram will send it again.
    fake.delay_next("getUpdates", 1.0)
    fake.fail_next("getUpdates", 500)
    round_3 = push_round(3)
    fake.wait_for(lambda: fetched(fake.calls("getUpdates")) & round_3)
    fake.wait_for(lambda: polled_after(fetched(fake.calls("getUpdates"))))
    push_round(4)
    time.sleep(0.3)  # sends that got through before the freeze are noted as sent by now
    delivered_before = len(fake.sent()) - 1
    first.kill()
    assert 10 <= delivered_before <= 20 and fake.pending_updates(), "the kill came too late"
    # Let the held calls of the dead process end (as failures) before starting again.
    fake.wait_for(lambda: all(c.status is not None for c in fake.calls()), 10)
    late = [c for c in fake.calls("sendMessage") if c.at > frozen and c.ok]
    assert not late, "a send got through after the freeze: the machine is too slow for the test"
    polls_before = len(fake.calls("getUpdates"))
    fetched_before = fetched(fake.calls("getUpdates"))

    second = start_bot()
    fake.wait_for(lambda: all(len(fake.sent(c)) >= len(SCRIPT) for c in chats), 40)
    time.sleep(1.0)  # duplicates, if any, would arrive now
    for chat_id in chats:
        assert fake.sent_messages(chat_id) == expected, chat_id
    assert fake.pending_updates() == []
    # Telegram did send some updates twice, and the inbox kept them from a second answer.
    assert fetched(fake.calls("getUpdates")[polls_before:]) & fetched_before
    assert second.terminate() == 0
    resumed = re.search(r"resuming (\d+) updates and (\d+) replies", second.log())
    assert resumed is not None
    assert int(resumed[1]) >= 1 and int(resumed[2]) >= 1  # unhandled updates, unsent replies


def test_200_users_each_get_their_5_replies_in_order(
    fake: FakeTelegram, start_bot: StartBot, knowledge: KnowledgeBase
) -> None:
    users = list(range(10_000, 10_200))
    expected = script_replies(knowledge)
    bot = start_bot()
    for text in SCRIPT:
        for user in users:
            fake.push_text(user, text)
    total = len(users) * len(SCRIPT)
    started = time.monotonic()
    # Polled, not fake.wait_for: that would copy every sent message at each of ~3000 calls.
    deadline = started + 120
    while len(fake.calls("sendMessage")) < total and time.monotonic() < deadline:
        time.sleep(0.25)
    elapsed = time.monotonic() - started
    assert len(fake.calls("sendMessage")) >= total, f"not all answered in {elapsed:.0f} s"
    time.sleep(0.5)
    assert len(fake.calls("sendMessage")) == total  # no retries, no duplicates
    for user in users:
        assert fake.sent_messages(user) == expected, user
    assert bot.terminate() == 0
    print(f"{total} updates answered in {elapsed:.1f} s")


# ---------------------------------------------------------------------------------------------
# What the bot answers and what it ignores


def test_edits_stickers_photos_and_groups(
    fake: FakeTelegram, start_bot: StartBot, knowledge: KnowledgeBase
) -> None:
    group = -987654
    text_only = escaped(knowledge.texts.get("text_only", "nl"))
    bot = start_bot()
    fake.push_text(CHAT, "/help")
    wait_sent(fake, CHAT, 1, timeout=START_TIMEOUT)
    edit = fake.push_edited_text(CHAT, "/privacy")
    fake.push_sticker(CHAT)
    fake.push_photo(CHAT, caption="Wat is een penvoerder?")
    sent = wait_sent(fake, CHAT, 3)
    assert [m["text"] for m in sent[1:]] == [text_only, text_only]

    plain = fake.push_text(group, ANSWERED_QUESTION, user_id=77)
    other_bot = fake.push_text(group, "/help@some_other_bot", user_id=77)
    fake.push_text(group, "/help@sto_test_bot", user_id=77)
    [help_reply] = wait_sent(fake, group, 1)
    commands = knowledge.commands.help_lines("nl")
    assert help_reply["text"] == escaped(knowledge.texts.get("help", "nl", commands=commands))
    # A reply to the bot's own message in a group is meant for the bot.
    fake.push_text(
        group, ANSWERED_QUESTION, user_id=77, reply_to_message_id=help_reply["message_id"]
    )
    answer = wait_sent(fake, group, 2)[1]
    assert "Bron:" in answer["text"]

    time.sleep(0.5)
    assert len(fake.sent(CHAT)) == 3 and len(fake.sent(group)) == 2
    assert bot.terminate() == 0
    log = bot.log()
    for update in (edit, plain, other_bot):
        assert f"update {update['update_id']} ignored" in log


def test_html_special_characters_never_break_a_reply(
    fake: FakeTelegram, start_bot: StartBot, knowledge: KnowledgeBase
) -> None:
    bot = start_bot()
    fake.push_text(CHAT, "/frobnicate <b>&")
    [unknown] = wait_sent(fake, CHAT, 1, timeout=START_TIMEOUT)
    assert unknown["text"] == escaped(knowledge.texts.get("unknown_command", "nl"))
    fake.push_text(CHAT, "Hoeveel <b>cofinanciering</b> & is nodig?")
    fake.push_text(CHAT, "<i>&amp; </i> <<>>&&")
    wait_sent(fake, CHAT, 3)
    assert bot.terminate() == 0
    assert "refused" not in bot.log()  # the fixture also checks every text is valid HTML


async def test_a_reply_longer_than_a_message_is_split_with_the_keyboard_last(
    fake: FakeTelegram, start_bot: StartBot, tmp_path: Path
) -> None:
    paragraphs = [f"Alinea {n}: <b>vet</b> & zo " + "woord " * 120 for n in range(1, 30)]
    long_text = "\n\n".join(paragraphs)
    assert len(escaped(long_text)) > 2 * MAX_TEXT
    # A reply waiting in the outbox, as a crash leaves it; the bot delivers it at start-up.
    store = await SqliteStore.open(tmp_path / "sto-bot.sqlite3")
    key = ConversationKey("telegram", str(CHAT))
    reply = Reply(long_text, (Option("topic:all", "Onderwerpen"),))
    changes = Changes(key, ConversationState(), outbox=[reply])
    await store.commit(key, changes, datetime.now(UTC))
    await store.close()

    bot = start_bot()
    await fake.wait_for_async(lambda: len(fake.sent(CHAT)) >= 3, START_TIMEOUT)
    await asyncio.sleep(0.3)  # a chunk too many would have come by now
    chunks = fake.sent(CHAT)
    assert all(len(chunk["text"]) <= MAX_TEXT for chunk in chunks)
    assert [bool(buttons(chunk)) for chunk in chunks] == [False] * (len(chunks) - 1) + [True]
    assert buttons(chunks[-1]) == [("Onderwerpen", "topic:all")]
    assert "\n\n".join(chunk["text"] for chunk in chunks) == escaped(long_text)
    assert await asyncio.to_thread(bot.terminate) == 0


def test_split_text_cuts_at_paragraphs_then_lines_then_words() -> None:
    assert split_text("kort") == ["kort"]
    paragraphs = ["a" * 3000, "b" * 3000, "c" * 1000]
    assert split_text("\n\n".join(paragraphs)) == ["a" * 3000, "b" * 3000 + "\n\n" + "c" * 1000]
    lines = "\n".join(["regel " * 100] * 20)
    chunks = split_text(lines)
    assert len(chunks) > 1 and all(len(c) <= MAX_TEXT for c in chunks)
    assert " ".join(chunks).split() == lines.split()
    words = "woord " * 2000
    assert all(len(c) <= MAX_TEXT for c in split_text(words))
    assert " ".join(split_text(words)).split() == words.split()
    unbroken = "x" * 10_000
    assert "".join(split_text(unbroken)) == unbroken
    assert all(len(c) <= MAX_TEXT for c in split_text(unbroken))


def test_split_text_never_cuts_an_html_entity_in_two() -> None:
    # Without a space to cut at, a cut at the limit must not fall inside "&amp;".
    for offset in range(6):
        text = escaped("x" * (MAX_TEXT - offset) + "&" * 50 + "y" * 100)
        chunks = split_text(text)
        assert "".join(chunks) == text
        for chunk in chunks:
            assert len(chunk) <= MAX_TEXT
            assert not html_problems(chunk), (offset, chunk[-10:])


# ---------------------------------------------------------------------------------------------
# Stopping and logging


def test_sigterm_finishes_the_reply_in_flight_and_exits_cleanly(
    fake: FakeTelegram, start_bot: StartBot
) -> None:
    bot = start_bot()
    fake.push_text(CHAT, "/help")
    wait_sent(fake, CHAT, 1, timeout=START_TIMEOUT)
    fake.delay_next("sendMessage", 1.0)
    fake.push_text(CHAT, "/privacy")
    fake.wait_for(lambda: len(sends(fake, CHAT)) == 2)
    assert bot.terminate() == 0
    assert len(fake.sent(CHAT)) == 2  # the reply on its way was not dropped
    log = bot.log()
    assert "stopped cleanly" in log
    assert "Traceback" not in log


def test_the_log_has_one_line_per_update_and_neither_token_nor_text(
    fake: FakeTelegram, start_bot: StartBot
) -> None:
    user = 55512345
    question = "Hoeveel cofinanciering is nodig voor ons plan?"
    bot = start_bot()
    updates = [fake.push_text(CHAT, question, user_id=user, first_name="Geheimnaam")]
    first = wait_sent(fake, CHAT, 1, timeout=START_TIMEOUT)[0]
    updates.append(
        fake.push_callback(CHAT, buttons(first)[0][1], first["message_id"], user_id=user)
    )
    updates.append(fake.push_sticker(CHAT, user_id=user))
    updates.append(fake.push_edited_text(CHAT, "bewerkt", user_id=user))
    wait_sent(fake, CHAT, 3)
    time.sleep(0.3)
    assert bot.terminate() == 0
    log = bot.log()
    assert "stopped cleanly" in log
    assert TOKEN not in log and TOKEN_SECRET not in log
    info = info_lines(log)
    for update in updates:
        mentions = [line for line in info if re.search(rf"\bupdate {update['update_id']}\b", line)]
        assert len(mentions) == 1, (update["update_id"], mentions)
    for secret in (question, "Geheimnaam", str(user), first["text"][:40]):
        assert not [line for line in info if secret in line], secret


def test_even_a_debug_log_keeps_the_token_out(fake: FakeTelegram, start_bot: StartBot) -> None:
    fake.fail_next("sendMessage", 502)
    bot = start_bot(LOG_LEVEL="DEBUG")
    fake.push_text(CHAT, "/start")
    [welcome] = wait_sent(fake, CHAT, 1, timeout=START_TIMEOUT)
    fake.push_callback(CHAT, "topic:all", welcome["message_id"])
    wait_sent(fake, CHAT, 2)
    assert bot.terminate() == 0
    log = bot.log()
    assert " DEBUG " in log and "stopped cleanly" in log
    offending = [line for line in log.splitlines() if TOKEN in line or TOKEN_SECRET in line]
    assert offending == []
    # Nor what the user typed or was told: python-telegram-bot logs call parameters at DEBUG.
    words = ("/start", welcome["text"][:30])
    assert [line for line in log.splitlines() if any(w in line for w in words)] == []


# ---------------------------------------------------------------------------------------------
# Webhook mode


def test_webhook_mode_registers_serves_health_and_checks_the_secret(
    fake: FakeTelegram, start_bot: StartBot
) -> None:
    port = free_port()
    hook = f"http://127.0.0.1:{port}/telegram-hook"
    secret = "s3cret-0123456789abcdef"
    bot = start_bot(
        WEBHOOK_URL="https://example.test/telegram-hook", WEBHOOK_SECRET=secret, PORT=str(port)
    )
    fake.wait_for(lambda: fake.webhook, START_TIMEOUT)
    assert fake.webhook["url"] == "https://example.test/telegram-hook"
    assert fake.webhook["secret_token"] == secret
    with httpx.Client(trust_env=False, timeout=10) as client:
        assert client.get(f"http://127.0.0.1:{port}/healthz").status_code == 200

    update = fake.build_text_update(CHAT, "/help")
    assert fake.post_update_to(hook, update, secret).status_code == 200
    wait_sent(fake, CHAT, 1)
    # Telegram redelivers when it missed our 200: answered once all the same.
    assert fake.post_update_to(hook, update, secret).status_code == 200

    # A body that is not an update object is refused as such, not with a 500.
    header = {"X-Telegram-Bot-Api-Secret-Token": secret}
    with httpx.Client(trust_env=False, timeout=10) as client:
        for body in ("[]", '"x"', "{}", '{"update_id": "7"}', "not json"):
            assert client.post(hook, content=body, headers=header).status_code == 400, body

    intruder = CHAT + 1
    wrong = fake.build_text_update(intruder, "/help")
    assert fake.post_update_to(hook, wrong, "geraden").status_code == 403
    assert fake.post_update_to(hook, wrong).status_code == 403
    time.sleep(1.0)
    assert fake.sent(intruder) == []
    assert len(fake.sent(CHAT)) == 1
    assert fake.calls("getUpdates") == []
    assert bot.terminate() == 0
    assert "stopped cleanly" in bot.log()


# ---------------------------------------------------------------------------------------------
# Start-up errors


def test_a_webhook_without_a_secret_is_refused_with_one_line_naming_the_fix(
    tmp_path: Path,
) -> None:
    """Without a secret anyone could post updates as a consultant: the bot does not start."""
    env = bot_environment(
        STO_BOT_DB=str(tmp_path / "sto-bot.sqlite3"),
        TELEGRAM_BOT_TOKEN=TOKEN,
        WEBHOOK_URL="https://example.test/hook",
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "WEBHOOK_SECRET" in line and "openssl rand" in line


def test_without_a_token_run_exits_2_with_one_line_naming_the_fix(tmp_path: Path) -> None:
    env = bot_environment(STO_BOT_DB=str(tmp_path / "sto-bot.sqlite3"))
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert "TELEGRAM_BOT_TOKEN" in lines[0] and "BotFather" in lines[0]


def test_a_refused_token_exits_2_without_showing_it(fake: FakeTelegram, tmp_path: Path) -> None:
    wrong = "654321:WRONG-token-value"
    env = bot_environment(
        TELEGRAM_API_URL=fake.url,
        TELEGRAM_BOT_TOKEN=wrong,
        STO_BOT_DB=str(tmp_path / "sto-bot.sqlite3"),
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    stderr = result.stderr.decode()
    assert "TELEGRAM_BOT_TOKEN" in stderr.strip().splitlines()[-1]
    assert "WRONG-token-value" not in stderr


# ---------------------------------------------------------------------------------------------
# Handover to a consultant

DESK = -1_001_555_000_001  # the consultants' group
ANNA = 7001  # a consultant
DIRECTOR = 4343
TRICKY = "Mag <b>dit</b> & *dat* _ook_ [zo](x) `echt`? 3 < 4 > 2"


def consultant_env() -> dict[str, str]:
    return {"CONSULTANT_CHAT_ID": str(DESK), "CONSULTANT_IDS": f"{ANNA},7002"}


def say(fake: FakeTelegram, text: str, **extra: Any) -> None:
    fake.push_text(DIRECTOR, text, first_name="Jan", last_name="de Vries", **extra)


def tap(fake: FakeTelegram, data: str) -> None:
    """A button press (on a placeholder message: its data is what counts)."""
    fake.push_callback(DIRECTOR, data, 10_000, user_id=DIRECTOR, first_name="Jan")


def sent_text(message: JSON) -> str:
    """What the user reads: the HTML source unescaped."""
    return html.unescape(message["text"])


def intake(fake: FakeTelegram, knowledge: KnowledgeBase) -> None:
    """A check that depends, an unanswered question, then consent and the whole intake."""
    version = knowledge.check.version
    say(fake, "/check")
    steps = "wie:vmbo leerwegen:ja regio:ja penvoerder:ja regiotype:techniekluw mbo:ja po:nee"
    for step in [*steps.split(), "cofinanciering:weet-niet", "themas:ja"]:
        tap(fake, f"chk:{version}:{step}")
    say(fake, "Wie wint het WK voetbal?")
    say(fake, "/adviseur")
    tap(fake, "ho:yes")
    say(fake, "Het Techcollege <Noord> & Co")
    tap(fake, "ho:role:directeur")
    say(fake, "Groningen")
    say(fake, "jan@techcollege.nl")


def test_handover_to_a_consultant_and_back(
    fake: FakeTelegram, start_bot: StartBot, knowledge: KnowledgeBase
) -> None:
    """Acceptance: consent, intake, summary, picked up, both ways, closed, back to the bot."""
    start_bot(**consultant_env())
    intake(fake, knowledge)
    say(fake, TRICKY)
    [summary] = wait_sent(fake, DESK, 1)
    text = sent_text(summary)
    assert text.startswith("Overdracht #1: Jan de Vries")
    assert TRICKY in text and "Het Techcollege <Noord> & Co" in text  # unchanged, valid HTML
    assert "Hangt af van: " in text and "Een vmbo-school" in text  # verdict and labels
    assert any(line.startswith("⚠️") and "WK voetbal" in line for line in text.splitlines())
    assert buttons(summary) == [("Oppakken", "ho:pick:1"), ("Afgerond", "ho:close:1")]
    told = fake.wait_for(lambda: [m for m in fake.sent(DIRECTOR) if "doorgezet" in m["text"]])
    assert "werkdagen" in told[0]["text"] and "herinnering" in told[0]["text"]

    fake.push_callback(DESK, "ho:pick:1", summary["message_id"], user_id=ANNA, first_name="Anna")
    picked = fake.wait_for(
        lambda: [m for m in fake.sent(DIRECTOR) if "heeft uw vraag opgepakt" in m["text"]]
    )
    assert sent_text(picked[0]).startswith("Anna, STO-adviseur")
    fake.push_text(
        DESK,
        "Goedemorgen Jan, ik bel u <morgen> om 10 uur.",
        user_id=ANNA,
        first_name="Anna",
        reply_to_message_id=summary["message_id"],
    )
    relayed = fake.wait_for(lambda: [m for m in fake.sent(DIRECTOR) if "(adviseur)" in m["text"]])
    assert sent_text(relayed[0]) == "Anna (adviseur): Goedemorgen Jan, ik bel u <morgen> om 10 uur."

    say(fake, "Prima, tot morgen & bedankt!")
    answer = fake.wait_for(lambda: [m for m in fake.sent(DESK) if "tot morgen" in m["text"]])
    assert sent_text(answer[0]) == "#1, Jan de Vries: Prima, tot morgen & bedankt!"
    assert answer[0]["reply_to_message"]["message_id"] == summary["message_id"]  # one thread
    note = next(m for m in fake.sent(DESK) if "opgepakt door Anna" in m["text"])
    assert buttons(note) == [("Afgerond", "ho:close:1")]
    fake.push_callback(DESK, "ho:close:1", note["message_id"], user_id=ANNA, first_name="Anna")
    fake.wait_for(lambda: [m for m in fake.sent(DIRECTOR) if "afgerond" in m["text"]])
    say(fake, ANSWERED_QUESTION)
    back = fake.wait_for(lambda: [m for m in fake.sent(DIRECTOR) if "Bron:" in m["text"]])
    assert "10%" in back[-1]["text"]  # the matcher answers again


def test_a_handover_survives_refusals_and_a_kill_and_arrives_once(
    fake: FakeTelegram, start_bot: StartBot, knowledge: KnowledgeBase
) -> None:
    """Acceptance: 403 from the consultants' chat, then 429, then success: one summary; and a
    process killed between storing and sending delivers it after the restart."""
    fake.fail_next("sendMessage", 403, chat_id=DESK)
    fake.fail_next("sendMessage", 429, retry_after=1, chat_id=DESK)
    first = start_bot(**consultant_env())
    intake(fake, knowledge)
    say(fake, "Eerste vraag")
    wait_sent(fake, DESK, 1, timeout=30)
    attempts = [c for c in fake.calls("sendMessage") if c.params.get("chat_id") == DESK]
    assert [c.status for c in attempts] == [403, 429, 200]

    say(fake, "/annuleer")
    wait_sent(fake, DESK, 2)
    # The bot is removed from the consultants' chat: the next summary is stored, not sent,
    # when the process dies.
    fake.fail_next("sendMessage", 403, chat_id=DESK, times=2)
    say(fake, "/adviseur")
    tap(fake, "ho:yes")
    for _ in range(5):
        tap(fake, "ho:skip")
    fake.wait_for(lambda: [c for c in fake.calls("sendMessage") if c.status == 403][1:], 20)
    first.kill()
    assert len(fake.sent(DESK)) == 2
    start_bot(**consultant_env())
    fake.wait_for(lambda: len(fake.sent(DESK)) >= 3, 30)
    time.sleep(2.0)
    summaries = [sent_text(m).split(":")[0] for m in fake.sent(DESK)]
    assert summaries == ["Overdracht #1", "#1", "Overdracht #2"]


def test_others_are_refused_consultant_commands_and_forged_buttons(
    fake: FakeTelegram, start_bot: StartBot, knowledge: KnowledgeBase
) -> None:
    """Acceptance: a user who is not a consultant is refused, and the attempt is logged."""
    bot = start_bot(**consultant_env())
    intake(fake, knowledge)
    say(fake, "Mijn vraag")
    [summary] = wait_sent(fake, DESK, 1)
    before = len(fake.sent(DIRECTOR))
    say(fake, "/overdrachten")
    tap(fake, "ho:pick:1")  # a forged button in the user's own chat
    fake.push_callback(DESK, "ho:pick:1", summary["message_id"], user_id=9999, first_name="Eve")
    refused = fake.wait_for(
        lambda: [m for m in fake.sent() if "Niet toegestaan" in m["text"]] or None
    )
    fake.wait_for(lambda: len([m for m in fake.sent() if "Niet toegestaan" in m["text"]]) >= 3)
    assert refused
    assert not any("heeft uw vraag opgepakt" in m["text"] for m in fake.sent(DIRECTOR)[before:])
    log = bot.log()
    assert log.count("refused") >= 3 and "not a consultant" in log


# ---------------------------------------------------------------------------------------------
# Privacy and bad input


def test_my_data_comes_as_a_file_and_forgetting_deletes_our_messages_in_the_desk(
    fake: FakeTelegram, start_bot: StartBot, knowledge: KnowledgeBase, tmp_path: Path
) -> None:
    """/mijngegevens sends a JSON file; /vergeet after a handover answered deletes the bot's
    recent messages about the user in the consultants' group, tells them, and leaves nothing
    of the user in the running bot's database files."""
    start_bot(**consultant_env())
    intake(fake, knowledge)
    say(fake, "Graag uitleg over de Zeekoeiregeling")
    [summary] = wait_sent(fake, DESK, 1)
    fake.push_text(
        DESK,
        "Dag Jan, dit is mijn antwoord over de Zeekoeiregeling.",
        user_id=ANNA,
        first_name="Anna",
        reply_to_message_id=summary["message_id"],
    )
    fake.wait_for(
        lambda: [m for m in fake.sent(DIRECTOR) if "(adviseur)" in m.get("text", "")],
        REPLY_TIMEOUT,
    )

    say(fake, "/mijngegevens")
    [upload] = fake.wait_for(lambda: fake.calls("sendDocument"), REPLY_TIMEOUT)
    document = upload.files["document"]
    assert str(DIRECTOR) in (document.filename or "")
    data = json.loads(document.data)
    assert data["handovers"][0]["data"]["organisation"] == "Het Techcollege <Noord> & Co"

    said = len(fake.sent(DESK))
    say(fake, "/vergeet")
    tap(fake, "forget:yes")
    fake.wait_for(
        lambda: [m for m in fake.sent(DIRECTOR) if "verwijderd" in m.get("text", "")],
        REPLY_TIMEOUT,
    )
    note = fake.wait_for(
        lambda: [m for m in fake.sent(DESK)[said:] if "/vergeet" in m["text"]], REPLY_TIMEOUT
    )
    assert "#1" in note[0]["text"]
    deleted = {int(c.params["message_id"]) for c in fake.calls("deleteMessage") if c.ok}
    assert summary["message_id"] in deleted
    assert fake.message(DESK, summary["message_id"]) is None  # gone from the group
    database = tmp_path / "sto-bot.sqlite3"
    for file in tmp_path.glob(f"{database.name}*"):
        content = file.read_bytes()
        assert b"Zeekoeiregeling" not in content and b"Techcollege" not in content, file.name


def test_a_message_that_cannot_be_stored_as_is_does_not_stop_the_bot(
    fake: FakeTelegram, start_bot: StartBot
) -> None:
    """A lone surrogate in a text (valid JSON, not valid UTF-8) is cleaned: that user gets an
    answer, others too, and a restart does not die on it."""
    first = start_bot()
    fake.push_text(CHAT, "Hallo \ud800 wat is een penvoerder?")
    fake.push_text(CHAT + 1, "/help")
    wait_sent(fake, CHAT, 1, timeout=START_TIMEOUT)
    wait_sent(fake, CHAT + 1, 1)
    assert first.terminate() == 0
    start_bot()
    fake.push_text(CHAT + 2, "/help")
    wait_sent(fake, CHAT + 2, 1, timeout=START_TIMEOUT)
    assert len(fake.sent(CHAT)) == 1  # answered once, not again after the restart


def test_a_consultant_answering_from_the_terminal_reaches_the_user_without_a_restart(
    fake: FakeTelegram, start_bot: StartBot, knowledge: KnowledgeBase, tmp_path: Path
) -> None:
    """A reply queued by `sto-bot chat --consultant` on the same database is sent by the
    running bot within seconds."""
    start_bot(**consultant_env())
    intake(fake, knowledge)
    say(fake, "Mijn vraag voor de adviseur")
    wait_sent(fake, DESK, 1)
    env = bot_environment(STO_BOT_DB=str(tmp_path / "sto-bot.sqlite3"))
    console = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--consultant", "--name", "Bea"],
        input="/antwoord 1 Hallo Jan, groet uit de terminal\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert console.returncode == 0, console.stderr
    relayed = fake.wait_for(
        lambda: [m for m in fake.sent(DIRECTOR) if "groet uit de terminal" in m.get("text", "")],
        timeout=15,
    )
    assert len(relayed) == 1
    time.sleep(4)  # another look at the outbox sends nothing twice
    assert len([m for m in fake.sent(DIRECTOR) if "groet uit" in m.get("text", "")]) == 1


# ---------------------------------------------------------------------------------------------
# Faults the bot survives


@pytest.mark.parametrize(
    ("method", "status"),
    [
        ("getMe", 502),
        ("getMe", 429),
        ("getMe", 500),
        ("deleteWebhook", 500),
        ("deleteWebhook", 429),
    ],
)
def test_a_fault_at_start_up_is_retried(
    fake: FakeTelegram, start_bot: StartBot, method: str, status: int
) -> None:
    """One 5xx or 429 on getMe or deleteWebhook does not stop the bot: it retries and serves."""
    fake.fail_next(method, status, times=2)
    bot = start_bot()
    fake.push_text(CHAT, "/help")
    wait_sent(fake, CHAT, 1, timeout=START_TIMEOUT)
    assert bot.running
    assert len([c for c in fake.calls(method) if not c.ok]) == 2


def test_sigterm_during_an_outage_exits_within_seconds_and_keeps_the_reply(
    fake: FakeTelegram, start_bot: StartBot
) -> None:
    """Telegram refuses every send: SIGTERM still ends the bot at once (exit 0), and the
    reply it could not send is sent after the next start, once."""
    first = start_bot()
    fake.push_text(CHAT, "/start")
    wait_sent(fake, CHAT, 1, timeout=START_TIMEOUT)
    fake.fail_next("sendMessage", 502, times=10_000)
    fake.push_text(CHAT, "/help")
    fake.wait_for(lambda: [c for c in fake.calls("sendMessage") if not c.ok], REPLY_TIMEOUT)
    started = time.monotonic()
    assert first.terminate(timeout=20) == 0
    assert time.monotonic() - started < 15
    fake.clear_faults()
    start_bot()
    sent = wait_sent(fake, CHAT, 2, timeout=START_TIMEOUT)
    time.sleep(1.0)
    assert len(fake.sent(CHAT)) == 2 and "/privacy" in sent[1]["text"]


def test_a_write_lock_held_by_another_process_is_waited_out(
    fake: FakeTelegram, start_bot: StartBot, tmp_path: Path
) -> None:
    """Another process holding the write lock for longer than SQLite's busy time-out makes
    the bot wait, not exit; reads and exports go on meanwhile."""
    database = tmp_path / "sto-bot.sqlite3"
    bot = start_bot()
    fake.push_text(CHAT, "/start")
    wait_sent(fake, CHAT, 1, timeout=START_TIMEOUT)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time; db = sqlite3.connect(sys.argv[1], isolation_level=None);"
            " db.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(8);"
            " db.execute('COMMIT')",
            str(database),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    fake.push_text(CHAT, "/help")
    env = bot_environment(STO_BOT_DB=str(database))
    export = subprocess.run(
        [sys.executable, "-m", "bot", "handovers", "export", "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert export.returncode == 0, export.stderr  # reading needs no write lock
    assert holder.wait(30) == 0
    wait_sent(fake, CHAT, 2, timeout=REPLY_TIMEOUT)
    assert bot.running
    assert bot.log().count("locked by another process") == 1


def test_a_429_on_a_button_answer_is_no_error_and_the_press_counts(
    fake: FakeTelegram, start_bot: StartBot
) -> None:
    bot = start_bot()
    fake.push_text(CHAT, "/start")
    [welcome] = wait_sent(fake, CHAT, 1, timeout=START_TIMEOUT)
    fake.fail_next("answerCallbackQuery", 429, retry_after=1)
    fake.push_callback(CHAT, "topic:all", welcome["message_id"])
    wait_sent(fake, CHAT, 2)
    assert bot.terminate() == 0
    assert "never retrieved" not in bot.log() and "Traceback" not in bot.log()


async def test_a_full_disk_is_told_once_and_the_message_answered_when_there_is_room(
    fake: FakeTelegram, knowledge: KnowledgeBase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLITE_FULL (the database may not grow, a real SQLite error): the bot keeps running,
    tells the user once, does not confirm the update, and answers it once there is room."""
    from bot import telegram_app
    from sto_bot.config import Settings

    settings = Settings.from_env(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": fake.url,
            "STO_BOT_DB": str(tmp_path / "sto-bot.sqlite3"),
        }
    )
    store = await SqliteStore.open(settings.database)
    assistant = Assistant(knowledge, store=store)
    channel = telegram_app.TelegramChannel(
        telegram_app.make_bot(settings), assistant, settings, Pace(full_retry=0.5)
    )
    running = asyncio.create_task(channel.run())
    try:
        fake.push_text(CHAT, "/start")
        await fake.wait_for_async(lambda: len(fake.sent(CHAT)) >= 1, START_TIMEOUT)
        database = store._database
        pages = await database.run(lambda db: db.execute("PRAGMA page_count").fetchone()[0])
        await database.run(lambda db: db.execute(f"PRAGMA max_page_count = {pages}").fetchall())
        fake.push_text(CHAT, "Wat is een penvoerder? " + "echt " * 2000)
        told = await fake.wait_for_async(
            lambda: [m for m in fake.sent(CHAT) if "storing" in m["text"]], REPLY_TIMEOUT
        )
        await asyncio.sleep(1.5)  # tried again meanwhile: told only once
        assert len(told) == 1 and len([m for m in fake.sent(CHAT) if "storing" in m["text"]]) == 1
        await database.run(lambda db: db.execute("PRAGMA max_page_count = 1073741823").fetchall())
        await fake.wait_for_async(
            lambda: [m for m in fake.sent(CHAT) if "bevoegd gezag" in m["text"]], REPLY_TIMEOUT
        )
        assert not running.done()
    finally:
        channel.stop()
        await asyncio.wait_for(running, 20)
        await store.close()


def test_a_slow_send_is_waited_for_and_sent_once(fake: FakeTelegram, start_bot: StartBot) -> None:
    """Telegram takes 17 s to answer a sendMessage it did accept: the bot waits for the answer
    instead of sending the message again."""
    start_bot()
    fake.push_text(CHAT, "/start")
    wait_sent(fake, CHAT, 1, timeout=START_TIMEOUT)
    fake.delay_next("sendMessage", 17.0)
    fake.push_text(CHAT, "/privacy")
    wait_sent(fake, CHAT, 2, timeout=40)
    time.sleep(2.0)  # a second copy would have come by now
    assert [m["text"][:14] for m in fake.sent(CHAT)].count("Wat bewaar ik?") == 1


def test_an_unreachable_telegram_is_retried_with_one_line_each_and_sigterm_stops_it(
    tmp_path: Path,
) -> None:
    """A wrong TELEGRAM_API_URL (nothing listens): one log line per attempt naming the URL,
    no traceback, and SIGTERM ends the bot with exit code 0."""
    url = f"http://127.0.0.1:{free_port()}"
    env = bot_environment(
        STO_BOT_DB=str(tmp_path / "sto-bot.sqlite3"), TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_URL=url
    )
    bot = BotProcess([sys.executable, "-m", "bot", "run"], env, tmp_path, tmp_path / "bot.log")
    deadline = time.monotonic() + START_TIMEOUT
    while bot.log().count(f"Bot API call to {url} failed") < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert bot.terminate() == 0
    log = bot.log()
    assert log.count(f"Bot API call to {url} failed") >= 2 and "Traceback" not in log


def test_sighup_and_herlaad_reload_the_knowledge_without_losing_an_update(
    fake: FakeTelegram, start_bot: StartBot, tmp_path: Path
) -> None:
    """An editor changes an answer and sends SIGHUP: the new answer is served at once, by the
    same process, and a question asked meanwhile is answered too. A broken file leaves the old
    knowledge serving; the log and /herlaad (for admins only) name the problem's file and line."""
    import shutil

    from sto_bot.loader import default_knowledge_dir

    knowledge = tmp_path / "knowledge"
    shutil.copytree(default_knowledge_dir(), knowledge)
    faq = knowledge / "faq" / "aanvragers.yaml"
    admin = 777
    bot = start_bot(STO_BOT_KNOWLEDGE=str(knowledge), ADMIN_IDS=str(admin))
    fake.push_text(CHAT, "Wat is een penvoerder?")
    [first] = wait_sent(fake, CHAT, 1, timeout=START_TIMEOUT)
    assert "bevoegd gezag" in first["text"] and "Kwalibrator" not in first["text"]

    text = faq.read_text(encoding="utf-8")
    old = "De penvoerder is het bevoegd gezag (schoolbestuur)"
    faq.write_text(text.replace(old, "Kwalibrator-3311: " + old, 1), encoding="utf-8")
    bot.popen.send_signal(signal.SIGHUP)
    fake.push_text(CHAT, "Wat is cofinanciering?")  # arrives while the knowledge reloads
    fake.wait_for(lambda: "knowledge reloaded" in bot.log(), REPLY_TIMEOUT)
    fake.push_text(CHAT, "Wat is een penvoerder?")
    replies = wait_sent(fake, CHAT, 3)
    assert "cofinanciering" in replies[1]["text"].casefold()
    assert "Kwalibrator-3311" in replies[2]["text"]

    faq.write_text(text.replace("  - id: penvoerder", "  - id: [penvoerder", 1), encoding="utf-8")
    bot.popen.send_signal(signal.SIGHUP)
    fake.wait_for(lambda: "knowledge not reloaded" in bot.log(), REPLY_TIMEOUT)
    assert f"{faq}:" in bot.log()  # the problem, at its file and line
    fake.push_text(CHAT, "Wat is een penvoerder?")
    assert "Kwalibrator-3311" in wait_sent(fake, CHAT, 4)[3]["text"]  # the old one serves

    fake.push_text(CHAT, "/herlaad")  # not an admin
    assert "adviseur" in wait_sent(fake, CHAT, 5)[4]["text"].casefold()
    fake.push_text(admin, "/herlaad", user_id=admin)
    [told] = wait_sent(fake, admin, 1)
    assert "niet geladen" in told["text"] and "aanvragers.yaml:" in told["text"]
    faq.write_text(text, encoding="utf-8")
    fake.push_text(admin, "/herlaad", user_id=admin)
    assert "opnieuw geladen" in wait_sent(fake, admin, 2)[1]["text"]

    fake.push_text(admin, "/stats", user_id=admin)  # this week's report, as a file
    if importlib.util.find_spec("plotly") is not None:
        sent = wait_ok(fake, "sendDocument", lambda c: str(c.params.get("chat_id")) == str(admin))
        assert sent.ok
    else:
        assert "what users asked" in wait_sent(fake, admin, 3)[2]["text"]
    fake.push_text(CHAT, "/stats")  # not an admin
    assert "adviseur" in wait_sent(fake, CHAT, 6)[5]["text"].casefold()
    assert bot.terminate() == 0
