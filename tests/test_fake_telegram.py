"""The fake Bot API server, exercised with real python-telegram-bot objects (no mocks)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from fake_telegram import Call, FakeTelegram, TelegramApiError
from telegram import Bot as PtbBot
from telegram import (
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)

TOKEN = "123:ABC"
CHAT = 4242


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[PtbBot]:
    async with PtbBot(token=TOKEN, base_url=f"{fake.url}/bot") as real_bot:
        yield real_bot


def _keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("Ja", callback_data="check:yes")],
            [InlineKeyboardButton("Bron", url="https://example.org/sto")],
        ]
    )


def _retry_after_seconds(error: RetryAfter) -> float:
    value = error.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


async def test_get_me_returns_the_bot_user(fake: FakeTelegram, bot: PtbBot) -> None:
    me = await bot.get_me()
    assert me.is_bot and me.id == 123 and me.username == "sto_test_bot"
    assert bot.username == "sto_test_bot"  # initialize() called getMe as well
    assert [c.method for c in fake.calls("getme")] == ["getMe", "getMe"]
    assert all(c.ok and c.token == TOKEN for c in fake.calls())


async def test_send_message_is_recorded_with_decoded_reply_markup(
    fake: FakeTelegram, bot: PtbBot
) -> None:
    first = await bot.send_message(CHAT, "Welkom", reply_markup=_keyboard())
    second = await bot.send_message(CHAT, "123", disable_notification=True)

    method, params = fake.last_call("sendMessage")
    assert method == "sendMessage"
    assert params == {"chat_id": CHAT, "text": "123", "disable_notification": True}
    sent = fake.calls("sendMessage")[0].params
    assert sent["chat_id"] == CHAT
    assert sent["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "Ja", "callback_data": "check:yes"}],
            [{"text": "Bron", "url": "https://example.org/sto"}],
        ]
    }
    assert isinstance(first, Message) and first.reply_markup == _keyboard()
    assert first.chat.id == CHAT and first.chat.type == "private" and first.text == "Welkom"
    assert first.from_user is not None and first.from_user.id == 123
    assert second.message_id == first.message_id + 1 and second.reply_markup is None
    assert fake.sent_messages() == ["Welkom", "123"]
    assert fake.sent_messages(CHAT) == ["Welkom", "123"] and fake.sent_messages(1) == []


async def test_reply_keyboards_are_not_echoed(bot: PtbBot) -> None:
    message = await bot.send_message(CHAT, "Kies", reply_markup=ReplyKeyboardMarkup([["a"]]))
    assert message.reply_markup is None


async def test_get_updates_returns_pushed_updates_and_offset_confirms(
    fake: FakeTelegram, bot: PtbBot
) -> None:
    prompt = await bot.send_message(CHAT, "Vraag?", reply_markup=_keyboard())
    fake.push_text(CHAT, "/start@sto_test_bot nl", first_name="Anna", username="anna")
    fake.push_callback(CHAT, "check:yes")  # pressed on the bot's latest message

    updates = await bot.get_updates(timeout=0)
    assert all(isinstance(u, Update) for u in updates) and len(updates) == 2
    text, press = updates
    assert press.update_id == text.update_id + 1
    assert text.message is not None and text.message.text == "/start@sto_test_bot nl"
    assert text.message.parse_entities() and text.message.entities[0].type == "bot_command"
    assert text.message.entities[0].length == len("/start@sto_test_bot")
    assert text.effective_user is not None and text.effective_user.first_name == "Anna"
    assert text.effective_user.username == "anna" and text.effective_chat is not None
    assert text.effective_chat.id == CHAT and text.message.message_id > prompt.message_id

    query = press.callback_query
    assert query is not None and query.data == "check:yes" and query.chat_instance
    assert query.from_user.id == CHAT
    assert isinstance(query.message, Message) and query.message.message_id == prompt.message_id
    assert query.message.reply_markup == _keyboard()
    assert await query.answer("ok") is True  # real PTB shortcut, through the fake
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query.id)

    assert await bot.get_updates(offset=text.update_id + 1, timeout=0) == (press,)
    assert fake.confirmed_offset == text.update_id + 1
    assert await bot.get_updates(offset=press.update_id + 1, timeout=0) == ()
    assert fake.confirmed_offset == press.update_id + 1 and fake.pending_updates() == []


async def test_other_update_kinds_parse_as_real_updates(fake: FakeTelegram, bot: PtbBot) -> None:
    original = fake.push_text(CHAT, "hallo")
    fake.push_edited_text(CHAT, "hallo!")
    fake.push_sticker(CHAT, "🙂")
    fake.push_photo(CHAT, caption="/scan")
    fake.push_raw({"message": {**original["message"], "message_id": 99, "text": "raw"}})
    edited, sticker, photo, raw = (await bot.get_updates())[1:]
    assert edited.edited_message is not None and edited.edited_message.text == "hallo!"
    assert edited.edited_message.message_id == original["message"]["message_id"]
    assert edited.edited_message.edit_date is not None
    assert sticker.message is not None and sticker.message.sticker is not None
    assert sticker.message.sticker.emoji == "🙂"
    assert photo.message is not None and len(photo.message.photo) == 2
    assert photo.message.caption == "/scan" and photo.message.caption_entities
    assert raw.message is not None and raw.message.text == "raw"
    assert raw.update_id == photo.update_id + 1


async def test_limit_and_negative_offset(fake: FakeTelegram, bot: PtbBot) -> None:
    for n in range(5):
        fake.push_text(CHAT, f"m{n}")
    assert [u.message.text for u in await bot.get_updates(limit=2) if u.message] == ["m0", "m1"]
    assert [u.message.text for u in await bot.get_updates(offset=-1) if u.message] == ["m4"]
    assert len(fake.pending_updates()) == 1


async def test_long_polling_returns_early_when_an_update_arrives(
    fake: FakeTelegram, bot: PtbBot
) -> None:
    pusher = threading.Timer(0.3, fake.push_text, args=(CHAT, "eindelijk"))
    started = time.monotonic()
    pusher.start()
    try:
        updates = await bot.get_updates(timeout=10)
    finally:
        pusher.join()
    elapsed = time.monotonic() - started
    assert 0.25 <= elapsed < 2, elapsed
    assert [u.message.text for u in updates if u.message] == ["eindelijk"]


async def test_long_polling_waits_for_the_timeout(fake: FakeTelegram, bot: PtbBot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == ()
    assert 0.9 <= time.monotonic() - started < 3
    assert fake.last_call("getUpdates").params["timeout"] == 1


async def test_a_newer_get_updates_supersedes_a_waiting_one(
    fake: FakeTelegram, bot: PtbBot
) -> None:
    waiting = asyncio.create_task(bot.get_updates(timeout=5))
    await fake.wait_for_calls_async("getUpdates", 1)
    async with PtbBot(token=TOKEN, base_url=fake.base_url) as second_instance:
        assert await second_instance.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates"):
        await waiting


# PTB 22.2+ warns (even inside RetryAfter itself) that retry_after will become a timedelta.
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_429_raises_retry_after_then_recovers(fake: FakeTelegram, bot: PtbBot) -> None:
    fake.fail_next("sendMessage", 429, retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(CHAT, "te snel")
    assert _retry_after_seconds(caught.value) == 7
    failed = fake.last_call("sendMessage")
    assert failed.status == 429 and failed.response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 7",
        "parameters": {"retry_after": 7},
    }
    await bot.send_message(CHAT, "nu wel")
    assert fake.sent_messages(CHAT) == ["nu wel"]  # only successful sends count


async def test_403_and_400_raise_forbidden_and_bad_request(fake: FakeTelegram, bot: PtbBot) -> None:
    fake.fail_next("sendMessage", 403)
    fake.fail_next("editMessageText", 400, description="Bad Request: message to edit not found")
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(CHAT, "hallo")
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=CHAT, message_id=1)


async def test_fail_next_times_and_server_errors(fake: FakeTelegram, bot: PtbBot) -> None:
    fake.fail_next("sendChatAction", 500, times=2)
    fake.fail_next("sendChatAction", 502)
    for _ in range(3):
        with pytest.raises(NetworkError) as caught:
            await bot.send_chat_action(CHAT, "typing")
        assert not isinstance(caught.value, TimedOut)
    assert await bot.send_chat_action(CHAT, "typing") is True
    assert [c.status for c in fake.calls("sendChatAction")] == [500, 500, 502, 200]


async def test_delay_next_with_a_short_read_timeout_times_out(
    fake: FakeTelegram, bot: PtbBot
) -> None:
    fake.delay_next("sendMessage", 1.0)
    started = time.monotonic()
    with pytest.raises(TimedOut):
        await bot.send_message(CHAT, "traag", read_timeout=0.2)
    assert time.monotonic() - started < 0.9
    await bot.send_message(CHAT, "snel", read_timeout=0.2)  # the delay was used up
    assert fake.sent_messages(CHAT)[-1] == "snel"


async def test_unknown_method_gives_an_error(fake: FakeTelegram, bot: PtbBot) -> None:
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("fooBar", api_kwargs={"x": 1})
    call = fake.last_call("fooBar")
    assert call.params == {"x": 1} and call.status == 404
    async with httpx.AsyncClient() as client:
        answer = await client.post(f"{fake.url}/bot{TOKEN}/fooBar")
    assert answer.status_code == 404
    assert answer.json() == {
        "ok": False,
        "error_code": 404,
        "description": "Not Found: method not found",
    }


async def test_editing_follows_telegram_rules(fake: FakeTelegram, bot: PtbBot) -> None:
    message = await bot.send_message(CHAT, "Stap 1", reply_markup=_keyboard())
    edited = await bot.edit_message_text("Stap 2", chat_id=CHAT, message_id=message.message_id)
    assert isinstance(edited, Message) and edited.text == "Stap 2"
    assert edited.reply_markup is None and edited.edit_date is not None  # keyboard removed
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("Stap 2", chat_id=CHAT, message_id=message.message_id)
    with_markup = await bot.edit_message_reply_markup(
        chat_id=CHAT, message_id=message.message_id, reply_markup=_keyboard()
    )
    assert isinstance(with_markup, Message) and with_markup.reply_markup == _keyboard()
    stored = fake.message(CHAT, message.message_id)
    assert stored is not None and stored["text"] == "Stap 2"
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("?", chat_id=CHAT, message_id=999)
    too_long = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="d" * 65)]])
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await bot.send_message(CHAT, "knop", reply_markup=too_long)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(CHAT, "x" * 4097)


async def test_commands_webhook_and_small_methods(fake: FakeTelegram, bot: PtbBot) -> None:
    commands = [BotCommand("start", "Begin"), BotCommand("check", "Subsidiecheck")]
    assert await bot.set_my_commands(commands) is True
    assert await bot.set_my_commands([BotCommand("help", "Hulp")], language_code="en")
    assert await bot.get_my_commands() == tuple(commands)
    assert await bot.get_my_commands(language_code="en") == (BotCommand("help", "Hulp"),)
    assert await bot.get_my_commands(scope=BotCommandScopeChat(CHAT)) == ()
    assert fake.calls("setMyCommands")[0].params["commands"][1] == {
        "command": "check",
        "description": "Subsidiecheck",
    }

    fake.push_text(CHAT, "oud")
    hook = "https://bot.example.org/telegram"
    assert await bot.set_webhook(hook, secret_token="s3cret", allowed_updates=["message"])
    info = await bot.get_webhook_info()
    assert info.url == hook and info.pending_update_count == 1
    assert fake.webhook["secret_token"] == "s3cret"
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()
    assert await bot.delete_webhook(drop_pending_updates=True) is True
    assert (await bot.get_webhook_info()).url == "" and fake.pending_updates() == []

    assert await bot.log_out() is True and await bot.close() is True


async def test_allowed_updates_filters_later_updates(fake: FakeTelegram, bot: PtbBot) -> None:
    await bot.send_message(CHAT, "menu", reply_markup=_keyboard())
    assert await bot.get_updates(timeout=0, allowed_updates=["callback_query"]) == ()
    fake.push_text(CHAT, "genegeerd")
    fake.push_callback(CHAT, "check:yes")
    updates = await bot.get_updates(timeout=0)
    assert [u.callback_query.data for u in updates if u.callback_query] == ["check:yes"]
    assert len(updates) == 1 and len(fake.filtered_updates()) == 1


async def test_json_and_multipart_bodies_are_decoded(fake: FakeTelegram, bot: PtbBot) -> None:
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            f"{fake.url}/bot{TOKEN}/sendMessage",
            json={
                "chat_id": CHAT,
                "text": "json",
                "reply_markup": json.dumps(_keyboard().to_dict()),
            },
        )
    assert answer.json()["result"]["reply_markup"] == _keyboard().to_dict()
    assert fake.last_call("sendMessage").params["reply_markup"] == _keyboard().to_dict()

    def send_document(call: Call) -> dict[str, Any]:
        upload = call.files["document"]
        return {
            "message_id": 77,
            "chat": {"id": call.params["chat_id"], "type": "private", "first_name": "T"},
            "date": int(time.time()),
            "caption": call.params["caption"],
            "document": {
                "file_id": "BQAC",
                "file_unique_id": "AgAD",
                "file_name": upload.filename,
                "file_size": len(upload.data),
            },
        }

    fake.register("sendDocument", send_document)
    content = b"\x00\x01binary\r\n\xff" * 10
    sent = await bot.send_document(CHAT, content, filename="plan.pdf", caption="42")
    assert sent.document is not None and sent.document.file_name == "plan.pdf"
    call = fake.last_call("sendDocument")
    assert call.params["caption"] == "42" and call.params["chat_id"] == CHAT
    assert call.files["document"].data == content

    def refuse(call: Call) -> None:
        raise TelegramApiError(403, "Forbidden: bot can't initiate conversation with a user")

    fake.register("sendDocument", refuse)
    with pytest.raises(Forbidden, match="initiate conversation"):
        await bot.send_document(CHAT, b"x", filename="a.txt")


async def test_wrong_token_is_unauthorized() -> None:
    async with FakeTelegram(token=TOKEN) as fake:
        with pytest.raises(InvalidToken):
            await PtbBot(token="999:WRONG", base_url=fake.base_url).initialize()
        assert fake.last_call("getMe").status == 401


async def test_stop_answers_a_pending_long_poll_at_once(fake: FakeTelegram, bot: PtbBot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await fake.wait_for_calls_async("getUpdates", 1)
    started = time.monotonic()
    await asyncio.to_thread(fake.stop)
    assert time.monotonic() - started < 2 and not fake.running
    with contextlib.suppress(NetworkError):  # or the connection is cut: it ends promptly either way
        assert await asyncio.wait_for(poll, 2) == ()


def test_sync_use_wait_helpers_and_webhook_post() -> None:
    received: list[tuple[dict[str, str], bytes]] = []

    class Webhook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers), body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
    serving = threading.Thread(target=receiver.serve_forever, kwargs={"poll_interval": 0.05})
    serving.start()
    hook = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    try:
        with FakeTelegram() as fake:
            threading.Timer(
                0.1,
                httpx.post,
                args=(f"{fake.url}/bot{TOKEN}/sendMessage",),
                kwargs={"data": {"chat_id": str(CHAT), "text": "sync"}},
            ).start()
            assert fake.wait_for_calls("sendMessage", 1, timeout=3)[0].params["text"] == "sync"
            assert fake.wait_for(lambda: fake.sent_messages(CHAT), timeout=3) == ["sync"]
            with pytest.raises(TimeoutError, match="sendMessage->200"):
                fake.wait_for_calls("sendMessage", 2, timeout=0.2)

            update = fake.build_text_update(CHAT, "/start")
            answer = fake.post_update_to(hook, update, secret_token="s3cret")
            assert answer.status_code == 200
            headers, body = received[-1]
            assert headers["X-Telegram-Bot-Api-Secret-Token"] == "s3cret"
            assert json.loads(body) == update and fake.pending_updates() == []
            Update.de_json(json.loads(body), None)  # valid Update JSON

            fake.push_text(CHAT, "via webhook")
            httpx.post(f"{fake.url}/bot{TOKEN}/setWebhook", data={"url": hook})
            assert fake.deliver_to_webhook() == [200] and fake.pending_updates() == []
            assert json.loads(received[-1][1])["message"]["text"] == "via webhook"
            assert "X-Telegram-Bot-Api-Secret-Token" not in received[-1][0]
        with pytest.raises(RuntimeError):
            _ = fake.url
    finally:
        receiver.shutdown()
        receiver.server_close()
        serving.join()
