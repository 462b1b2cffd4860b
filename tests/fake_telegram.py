"""A fake Telegram Bot API server on 127.0.0.1 for tests of the real bot (no network, no mocks).

The server runs a stdlib ``ThreadingHTTPServer`` in a background thread, so it serves requests
while a sync test blocks or an async test awaits. Point the bot at ``fake.url`` (it calls
``{url}/bot{token}/{method}``, which is PTB's ``base_url=f"{url}/bot"``)::

    with FakeTelegram() as fake:
        env = {"TELEGRAM_API_URL": fake.url, ...}
        fake.push_text(42, "/start")
        fake.wait_for_calls("sendMessage", 1, timeout=5)
        assert fake.sent_messages(42) == [...]

Requests are parsed the way PTB 22 sends them: ``application/x-www-form-urlencoded`` (or
``multipart/form-data`` when files are uploaded) whose values are strings, with every non-string
value (numbers, booleans, ``reply_markup``, ``commands``, ...) JSON-encoded; JSON bodies are
accepted too. Every call is recorded with its parameters decoded back to Python values.

Deliberately realistic behaviour a bot can trip over: ``editMessageText`` with unchanged content
answers 400 "message is not modified", editing an unknown message answers 400 "message to edit
not found", an edit without ``reply_markup`` removes the inline keyboard, a callback query can be
answered once, ``getUpdates`` answers 409 while a webhook is set or when a newer ``getUpdates``
supersedes a waiting one, callback_data over 64 bytes and texts over 4096 characters are refused.
Only inline keyboards are echoed in a sent Message (as Telegram does).
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import httpx

JSON = dict[str, Any]
T = TypeVar("T")

__all__ = [
    "Call",
    "FakeTelegram",
    "TelegramApiError",
    "UploadedFile",
]

_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z0-9_]+)/?$")
_COMMAND = re.compile(r"^/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")
_BOT_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
_DEFAULT_BOT_ID = 123456789
_FIRST_UPDATE_ID = 10_001
_MAX_TEXT = 4096
_MAX_CALLBACK_DATA = 64
# Parameters whose form value is a plain string and must never be JSON-decoded (a text "123"
# stays "123"); every other form value is tried as JSON, as PTB JSON-encodes non-strings.
_STRING_PARAMS = frozenset(
    {
        "action",
        "business_connection_id",
        "callback_query_id",
        "caption",
        "description",
        "emoji",
        "first_name",
        "inline_message_id",
        "ip_address",
        "language_code",
        "last_name",
        "message_effect_id",
        "name",
        "parse_mode",
        "query",
        "question",
        "secret_token",
        "short_description",
        "text",
        "title",
        "url",
        "username",
    }
)
# What Telegram sends when allowed_updates is an empty list.
_DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request: message can't be processed",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a content and reply markup of the current message"
)
_QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
_WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)


class TelegramApiError(Exception):
    """An error answer of the Bot API; raise it from a handler given to `FakeTelegram.register`."""

    def __init__(
        self, status: int, description: str | None = None, *, retry_after: int | None = None
    ) -> None:
        if status == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            if status == 429:
                description = f"Too Many Requests: retry after {retry_after}"
            else:
                description = _DEFAULT_DESCRIPTIONS.get(status, f"Error {status}")
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> JSON:
        """The JSON body Telegram answers with for this error."""
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str
    data: bytes


@dataclass
class Call:
    """One recorded API call; unpacks as ``method, params = call``.

    ``status`` and ``response`` are filled in once the fake has answered (None while in flight,
    e.g. during a long poll).
    """

    method: str
    params: JSON
    token: str
    files: dict[str, UploadedFile] = field(default_factory=dict)
    http_method: str = "POST"
    status: int | None = None
    response: JSON | None = None
    at: float = field(default_factory=time.monotonic)

    def __iter__(self) -> Iterator[Any]:
        """Unpack as ``(method, params)``."""
        return iter((self.method, self.params))

    @property
    def ok(self) -> bool:
        """Whether the fake answered this call successfully."""
        return self.status == 200


@dataclass(frozen=True)
class _Delay:
    seconds: float


Handler = Callable[[Call], Any]


def _reject_constant(value: str) -> Any:
    raise ValueError(f"not a JSON constant: {value}")


def _decode_form_value(name: str, raw: str) -> Any:
    """Decode one form value as PTB encodes it: strings verbatim, everything else JSON."""
    if name in _STRING_PARAMS:
        return raw
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except ValueError:
        return raw


def _decode_json_value(name: str, value: Any) -> Any:
    """Decode a JSON-body value; nested objects sent as JSON strings are decoded as well."""
    if isinstance(value, str) and name not in _STRING_PARAMS and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _parse_body(content_type: str, body: bytes) -> tuple[JSON, dict[str, UploadedFile]]:
    """Parse a request body (form, multipart or JSON) into decoded params and uploaded files."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    params: JSON = {}
    files: dict[str, UploadedFile] = {}
    if not body.strip():
        return params, files
    if media_type == "application/json":
        loaded = json.loads(body.decode("utf-8"))
        if not isinstance(loaded, dict):
            raise ValueError("JSON body must be an object")
        return {k: _decode_json_value(k, v) for k, v in loaded.items()}, files
    if media_type == "multipart/form-data":
        head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
        message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
        if not isinstance(message, EmailMessage) or not message.is_multipart():
            raise ValueError("can't parse multipart body")
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if not isinstance(name, str):
                continue
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
            filename = part.get_filename()
            if filename is not None or part.get_content_type() != "text/plain":
                files[name] = UploadedFile(filename, part.get_content_type(), data)
            else:
                charset = part.get_content_charset() or "utf-8"
                params[name] = _decode_form_value(name, data.decode(charset))
        return params, files
    # application/x-www-form-urlencoded, or no content type at all
    for name, raw in parse_qsl(body.decode("utf-8"), keep_blank_values=True):
        params[name] = _decode_form_value(name, raw)
    return params, files


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _command_entities(text: str) -> list[JSON]:
    match = _COMMAND.match(text)
    if not match:
        return []
    return [{"type": "bot_command", "offset": 0, "length": _utf16_len(match.group(0))}]


def _update_type(update: JSON) -> str | None:
    return next((key for key in update if key != "update_id"), None)


def _chat_key(chat_id: Any) -> int | str:
    if isinstance(chat_id, bool):
        raise TelegramApiError(400, "Bad Request: chat not found")
    if isinstance(chat_id, int):
        return chat_id
    if isinstance(chat_id, str) and re.fullmatch(r"-?\d+", chat_id.strip()):
        return int(chat_id)
    if isinstance(chat_id, str) and chat_id.startswith("@"):
        return chat_id
    raise TelegramApiError(400, "Bad Request: chat not found")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, fake: FakeTelegram) -> None:
        super().__init__(("127.0.0.1", 0), _RequestHandler)
        self.fake = fake

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return  # a client gave up (time-out, cancelled long poll): not the fake's problem
        super().handle_error(request, client_address)


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"  # one request per connection: nothing lingers after stop()

    def do_POST(self) -> None:
        self._serve("POST")

    def do_GET(self) -> None:
        self._serve("GET")

    def _serve(self, verb: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        content_type = self.headers.get("Content-Type") or ""
        status, payload = self.server.fake._dispatch(verb, self.path, content_type, body)
        try:
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate, as Telegram can send it: escaped
            data = json.dumps(payload).encode("ascii")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (ConnectionError, TimeoutError):
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass


class FakeTelegram:
    """A fake Telegram Bot API server for tests; use as a (sync or async) context manager."""

    def __init__(
        self,
        *,
        bot_username: str = "sto_test_bot",
        bot_first_name: str = "STO-assistent (test)",
        token: str | None = None,
    ) -> None:
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.token = token  # when set, other tokens get 401 Unauthorized
        self._cond = threading.Condition(threading.RLock())
        self._version = 0
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._calls: list[Call] = []
        self._pending: list[JSON] = []
        self._filtered: list[JSON] = []
        self._next_update_id = _FIRST_UPDATE_ID
        self._confirmed_offset = 0
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        # Per method: errors to answer with, each for one chat only or (None) for any call.
        self._faults: dict[str, deque[tuple[TelegramApiError, str | None]]] = {}
        self._delays: dict[str, deque[_Delay]] = {}
        self._custom: dict[str, Handler] = {}
        self._chats: dict[int | str, JSON] = {}
        self._messages: dict[tuple[int | str, int], JSON] = {}
        self._last_message_id: dict[int | str, int] = {}
        self._bot_message_ids: dict[int | str, list[int]] = {}
        self._user_message_ids: dict[int | str, list[int]] = {}
        self._sent: list[JSON] = []
        self._callback_ids: set[str] = set()
        self._answered_callbacks: set[str] = set()
        self._callback_counter = itertools.count(1)
        self._file_counter = itertools.count(1)
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._webhook: JSON = {}
        self._seen_token: str | None = None
        self._builtin: dict[str, Handler] = {
            "getme": self._get_me,
            "logout": self._true,
            "close": self._true,
            "getupdates": self._get_updates,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "sendmessage": self._send_message,
            "senddocument": self._send_document,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "deletemessage": self._delete_message,
            "answercallbackquery": self._answer_callback_query,
            "sendchataction": self._send_chat_action,
        }

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeTelegram:
        """Bind to a free port on 127.0.0.1 and serve in a background thread."""
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-telegram-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: pending long polls answer at once, the port is released."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        with self._cond:
            self._bump()
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    @property
    def running(self) -> bool:
        """Whether the server is serving."""
        return self._server is not None

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        if self._server is None:
            raise RuntimeError("FakeTelegram is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The root URL for TELEGRAM_API_URL, e.g. ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The ``base_url`` for ``telegram.Bot``: ``{url}/bot``."""
        return f"{self.url}/bot"

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> FakeTelegram:
        return self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    # ------------------------------------------------------------------ recorded calls

    def calls(self, method: str | None = None) -> list[Call]:
        """All recorded calls, or those of one method (case-insensitive), in arrival order."""
        with self._cond:
            if method is None:
                return list(self._calls)
            key = method.lower()
            return [c for c in self._calls if c.method.lower() == key]

    def last_call(self, method: str) -> Call:
        """The latest call of a method; AssertionError if there was none."""
        found = self.calls(method)
        if not found:
            raise AssertionError(f"no {method} call; calls: {self._call_summary()}")
        return found[-1]

    def clear_calls(self) -> None:
        """Forget the recorded calls (and the sent-message log)."""
        with self._cond:
            self._calls.clear()
            self._sent.clear()
            self._bump()

    def sent_messages(self, chat_id: int | str | None = None) -> list[str]:
        """Texts of successful sendMessage calls, in order, optionally for one chat."""
        return [m["text"] for m in self.sent(chat_id)]

    def sent(self, chat_id: int | str | None = None) -> list[JSON]:
        """The Message objects returned for successful sendMessage calls, as sent."""
        with self._cond:
            if chat_id is None:
                return copy.deepcopy(self._sent)
            key = _chat_key(chat_id)
            return [copy.deepcopy(m) for m in self._sent if m["chat"]["id"] == key]

    def message(self, chat_id: int | str, message_id: int) -> JSON | None:
        """The current state of a message (after edits), or None if unknown or deleted."""
        with self._cond:
            found = self._messages.get((_chat_key(chat_id), message_id))
            return copy.deepcopy(found) if found is not None else None

    def last_bot_message(self, chat_id: int | str) -> JSON | None:
        """The current state of the latest message the bot sent to a chat."""
        with self._cond:
            key = _chat_key(chat_id)
            for message_id in reversed(self._bot_message_ids.get(key, [])):
                if (key, message_id) in self._messages:
                    return copy.deepcopy(self._messages[(key, message_id)])
            return None

    def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:
        """Block until predicate() is truthy and return its value; TimeoutError after timeout."""
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                version = self._version
            value = predicate()
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"condition not met within {timeout}s; calls: {self._call_summary()}"
                )
            with self._cond:
                if self._version == version:
                    self._cond.wait(min(remaining, 0.05))

    def wait_for_calls(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Block until at least `count` calls of `method` arrived; return them."""
        if count <= 0:
            return self.calls(method)
        return self.wait_for(lambda: self._at_least(method, count), timeout)

    async def wait_for_async(
        self,
        predicate: Callable[[], T],
        timeout: float = 5.0,  # noqa: ASYNC109 - the same signature as wait_for
    ) -> T:
        """Like `wait_for`, without blocking the event loop (for bots running in-process)."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"condition not met within {timeout}s; calls: {self._call_summary()}"
                )
            await asyncio.sleep(0.01)

    async def wait_for_calls_async(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - the same signature as wait_for_calls
    ) -> list[Call]:
        """Like `wait_for_calls`, without blocking the event loop."""
        if count <= 0:
            return self.calls(method)
        return await self.wait_for_async(lambda: self._at_least(method, count), timeout)

    def _at_least(self, method: str, count: int) -> list[Call]:
        found = self.calls(method)
        return found if len(found) >= count else []

    # ------------------------------------------------------------------ fault injection

    def fail_next(
        self,
        method: str,
        status: int,
        *,
        retry_after: int | None = None,
        description: str | None = None,
        times: int = 1,
        chat_id: int | str | None = None,
    ) -> None:
        """Answer the next `times` calls of `method` (to `chat_id` only, if given) with an
        error (429: retry_after default 1)."""
        error = TelegramApiError(status, description, retry_after=retry_after)
        chat = None if chat_id is None else str(chat_id)
        with self._cond:
            queue = self._faults.setdefault(method.lower(), deque())
            queue.extend((error, chat) for _ in range(times))

    def clear_faults(self) -> None:
        """Forget the errors still queued by `fail_next`: the outage is over."""
        with self._cond:
            self._faults.clear()

    def delay_next(self, method: str, seconds: float, times: int = 1) -> None:
        """Hold the answer to the next `times` calls of `method` for `seconds`."""
        with self._cond:
            queue = self._delays.setdefault(method.lower(), deque())
            queue.extend(_Delay(seconds) for _ in range(times))

    def register(self, method: str, handler: Handler) -> None:
        """Answer `method` with handler(call) as result (raise TelegramApiError for errors)."""
        with self._cond:
            self._custom[method.lower()] = handler

    # ------------------------------------------------------------------ updates

    @property
    def confirmed_offset(self) -> int:
        """The highest getUpdates offset the bot confirmed (0 if none)."""
        with self._cond:
            return self._confirmed_offset

    def pending_updates(self) -> list[JSON]:
        """Updates queued and not yet confirmed, in order."""
        with self._cond:
            return copy.deepcopy(self._pending)

    def filtered_updates(self) -> list[JSON]:
        """Updates dropped because their type was not in the bot's allowed_updates."""
        with self._cond:
            return copy.deepcopy(self._filtered)

    @property
    def webhook(self) -> JSON:
        """The webhook the bot set: url, secret_token, allowed_updates, ... ({} if none)."""
        with self._cond:
            return dict(self._webhook)

    def push_raw(self, update: JSON) -> JSON:
        """Queue an update as given (an update_id is assigned if missing); return it."""
        update = copy.deepcopy(update)
        with self._cond:
            if "update_id" not in update:
                update["update_id"] = self._next_update_id
            self._next_update_id = max(self._next_update_id, int(update["update_id"]) + 1)
            self._register_update(update)
            kind = _update_type(update)
            if self._allowed_updates is not None and not self._is_allowed(kind):
                self._filtered.append(update)
            else:
                self._pending.append(update)
            self._bump()
        return copy.deepcopy(update)

    def push_text(
        self,
        chat_id: int,
        text: str,
        user_id: int | None = None,
        *,
        first_name: str = "Test",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "nl",
        reply_to_message_id: int | None = None,
        extra: JSON | None = None,
    ) -> JSON:
        """Queue a text message from a user; a text starting with "/" gets a bot_command entity."""
        return self.push_raw(
            self.build_text_update(
                chat_id,
                text,
                user_id,
                first_name=first_name,
                last_name=last_name,
                username=username,
                language_code=language_code,
                reply_to_message_id=reply_to_message_id,
                extra=extra,
            )
        )

    def push_callback(
        self,
        chat_id: int,
        data: str,
        message_id: int | None = None,
        *,
        user_id: int | None = None,
        first_name: str = "Test",
        username: str | None = None,
        language_code: str | None = "nl",
        message_text: str = "…",
    ) -> JSON:
        """Queue a button press on a bot message (default: the bot's latest message there)."""
        return self.push_raw(
            self.build_callback_update(
                chat_id,
                data,
                message_id,
                user_id=user_id,
                first_name=first_name,
                username=username,
                language_code=language_code,
                message_text=message_text,
            )
        )

    def push_edited_text(
        self,
        chat_id: int,
        text: str,
        message_id: int | None = None,
        user_id: int | None = None,
        *,
        first_name: str = "Test",
        language_code: str | None = "nl",
    ) -> JSON:
        """Queue an edited_message update (default: the user's latest message in the chat)."""
        with self._cond:
            key = _chat_key(chat_id)
            if message_id is None:
                ids = self._user_message_ids.get(key, [])
                if not ids:
                    raise ValueError(f"no user message in chat {chat_id} to edit")
                message_id = ids[-1]
            original = self._messages.get((key, message_id))
            if original is None:
                original = self.build_text_update(
                    chat_id, text, user_id, first_name=first_name, language_code=language_code
                )["message"]
                original["message_id"] = message_id
            message = copy.deepcopy(original)
            message["text"] = text
            message["edit_date"] = int(time.time())
            entities = _command_entities(text)
            message.pop("entities", None)
            if entities:
                message["entities"] = entities
            return self.push_raw({"update_id": self._take_update_id(), "edited_message": message})

    def push_sticker(
        self,
        chat_id: int,
        emoji: str = "👍",
        user_id: int | None = None,
        *,
        first_name: str = "Test",
        language_code: str | None = "nl",
    ) -> JSON:
        """Queue a sticker message from a user."""
        number = next(self._file_counter)
        sticker = {
            "file_id": f"CAACAgIAAxkBAAI{number:08d}sticker",
            "file_unique_id": f"AgAD{number:06d}",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "set_name": "TestStickers",
            "file_size": 24_000,
        }
        return self.push_raw(
            self._user_message_update(
                chat_id, user_id, first_name, None, None, language_code, {"sticker": sticker}
            )
        )

    def push_photo(
        self,
        chat_id: int,
        caption: str | None = None,
        user_id: int | None = None,
        *,
        first_name: str = "Test",
        language_code: str | None = "nl",
    ) -> JSON:
        """Queue a photo message (two PhotoSizes, optional caption) from a user."""
        number = next(self._file_counter)
        photo = [
            {
                "file_id": f"AgACAgQAAxkBAAI{number:08d}s{side}",
                "file_unique_id": f"AQAD{number:06d}{side}",
                "width": side,
                "height": side * 3 // 4,
                "file_size": side * 40,
            }
            for side in (90, 800)
        ]
        content: JSON = {"photo": photo}
        if caption is not None:
            content["caption"] = caption
            entities = _command_entities(caption)
            if entities:
                content["caption_entities"] = entities
        return self.push_raw(
            self._user_message_update(
                chat_id, user_id, first_name, None, None, language_code, content
            )
        )

    def build_text_update(
        self,
        chat_id: int,
        text: str,
        user_id: int | None = None,
        *,
        first_name: str = "Test",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "nl",
        reply_to_message_id: int | None = None,
        extra: JSON | None = None,
    ) -> JSON:
        """Build (not queue) a text-message update with a fresh update_id, e.g. for webhooks."""
        content: JSON = {"text": text}
        entities = _command_entities(text)
        if entities:
            content["entities"] = entities
        if reply_to_message_id is not None:
            with self._cond:
                replied = self._messages.get((_chat_key(chat_id), reply_to_message_id))
            if replied is not None:
                content["reply_to_message"] = copy.deepcopy(replied)
        content.update(extra or {})
        return self._user_message_update(
            chat_id, user_id, first_name, last_name, username, language_code, content
        )

    def build_callback_update(
        self,
        chat_id: int,
        data: str,
        message_id: int | None = None,
        *,
        user_id: int | None = None,
        first_name: str = "Test",
        username: str | None = None,
        language_code: str | None = "nl",
        message_text: str = "…",
    ) -> JSON:
        """Build (not queue) a callback_query update with a fresh update_id and query id."""
        with self._cond:
            key = _chat_key(chat_id)
            if message_id is None:
                latest = self.last_bot_message(chat_id)
                if latest is None:
                    raise ValueError(f"the bot sent no message to chat {chat_id} to press on")
                message = latest
            else:
                found = self._messages.get((key, message_id))
                if found is None:
                    found = {
                        "message_id": message_id,
                        "from": self._bot_user(None),
                        "chat": self._chat(key),
                        "date": int(time.time()),
                        "text": message_text,
                    }
                    self._messages[(key, message_id)] = found
                    self._bot_message_ids.setdefault(key, []).append(message_id)
                message = copy.deepcopy(found)
            query_id = f"{4_000_000_000_000_000_000 + next(self._callback_counter)}"
            user = self._user(chat_id, user_id, first_name, None, username, language_code)
            return {
                "update_id": self._take_update_id(),
                "callback_query": {
                    "id": query_id,
                    "from": user,
                    "message": message,
                    "chat_instance": str(abs(hash(("chat_instance", key))) % 10**18),
                    "data": data,
                },
            }

    def post_update_to(
        self, url: str, update: JSON, secret_token: str | None = None, timeout: float = 10.0
    ) -> httpx.Response:
        """POST an update to a bot's webhook URL as Telegram does (blocking)."""
        headers = {"Content-Type": "application/json"}
        if secret_token is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret_token
        with httpx.Client(trust_env=False, timeout=timeout) as client:
            return client.post(url, content=json.dumps(update).encode("utf-8"), headers=headers)

    async def post_update_to_async(
        self,
        url: str,
        update: JSON,
        secret_token: str | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - an HTTP time-out, as in post_update_to
    ) -> httpx.Response:
        """POST an update to a bot's webhook URL without blocking the event loop."""
        headers = {"Content-Type": "application/json"}
        if secret_token is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret_token
        async with httpx.AsyncClient(trust_env=False, timeout=timeout) as client:
            return await client.post(
                url, content=json.dumps(update).encode("utf-8"), headers=headers
            )

    def deliver_to_webhook(self, timeout: float = 10.0) -> list[int]:
        """POST every pending update to the webhook the bot set; drop those answered 2xx."""
        with self._cond:
            url = self._webhook.get("url")
            secret = self._webhook.get("secret_token")
            pending = copy.deepcopy(self._pending)
        if not url:
            raise RuntimeError("the bot has set no webhook")
        statuses = []
        for update in pending:
            status = self.post_update_to(url, update, secret, timeout).status_code
            statuses.append(status)
            if 200 <= status < 300:
                with self._cond:
                    self._pending = [
                        u for u in self._pending if u["update_id"] != update["update_id"]
                    ]
                    self._bump()
        return statuses

    # ------------------------------------------------------------------ internals

    def _bump(self) -> None:
        self._version += 1
        self._cond.notify_all()

    def _call_summary(self) -> str:
        with self._cond:
            return ", ".join(f"{c.method}->{c.status}" for c in self._calls) or "none"

    def _take_update_id(self) -> int:
        with self._cond:
            update_id = self._next_update_id
            self._next_update_id += 1
            return update_id

    def _next_message_id(self, key: int | str) -> int:
        message_id = self._last_message_id.get(key, 0) + 1
        self._last_message_id[key] = message_id
        return message_id

    def _is_allowed(self, kind: str | None) -> bool:
        allowed = self._allowed_updates
        if allowed is None or kind is None:
            return True
        if not allowed:
            return kind not in _DEFAULT_EXCLUDED_UPDATES
        return kind in allowed

    def _bot_user(self, token: str | None) -> JSON:
        prefix = (token or self.token or self._seen_token or "").split(":", 1)[0]
        return {
            "id": int(prefix) if prefix.isdigit() else _DEFAULT_BOT_ID,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def _user(
        self,
        chat_id: int,
        user_id: int | None,
        first_name: str,
        last_name: str | None,
        username: str | None,
        language_code: str | None,
    ) -> JSON:
        user: JSON = {
            "id": user_id if user_id is not None else (chat_id if chat_id > 0 else 1000),
            "is_bot": False,
            "first_name": first_name,
        }
        if last_name is not None:
            user["last_name"] = last_name
        if username is not None:
            user["username"] = username
        if language_code is not None:
            user["language_code"] = language_code
        return user

    def _chat(self, key: int | str, user: JSON | None = None) -> JSON:
        known = self._chats.get(key)
        if known is not None:
            return copy.deepcopy(known)
        if isinstance(key, str):
            chat: JSON = {"id": -1_001_000_000_001, "type": "channel", "title": key[1:]}
            chat["username"] = key[1:]
        elif key > 0:
            chat = {
                "id": key,
                "type": "private",
                "first_name": (user or {}).get("first_name", "Test"),
            }
            for name in ("last_name", "username"):
                if user and name in user:
                    chat[name] = user[name]
        else:
            kind = "supergroup" if str(key).startswith("-100") else "group"
            chat = {"id": key, "type": kind, "title": "Test group"}
        self._chats[key] = chat
        return copy.deepcopy(chat)

    def _user_message_update(
        self,
        chat_id: int,
        user_id: int | None,
        first_name: str,
        last_name: str | None,
        username: str | None,
        language_code: str | None,
        content: JSON,
    ) -> JSON:
        with self._cond:
            key = _chat_key(chat_id)
            user = self._user(chat_id, user_id, first_name, last_name, username, language_code)
            message: JSON = {
                "message_id": self._next_message_id(key),
                "from": user,
                "chat": self._chat(key, user),
                "date": int(time.time()),
                **content,
            }
            return {"update_id": self._take_update_id(), "message": message}

    def _register_update(self, update: JSON) -> None:
        for kind in ("message", "edited_message"):
            message = update.get(kind)
            if isinstance(message, dict):
                self._remember_message(message, from_bot=False)
        query = update.get("callback_query")
        if isinstance(query, dict) and "id" in query:
            self._callback_ids.add(str(query["id"]))
            if isinstance(query.get("message"), dict):
                self._remember_message(query["message"], from_bot=True)

    def _remember_message(self, message: JSON, *, from_bot: bool) -> None:
        chat = message.get("chat")
        if not isinstance(chat, dict) or "id" not in chat or "message_id" not in message:
            return
        key = _chat_key(chat["id"])
        self._chats.setdefault(key, copy.deepcopy(chat))
        message_id = int(message["message_id"])
        self._last_message_id[key] = max(self._last_message_id.get(key, 0), message_id)
        stored = self._messages.get((key, message_id))
        if stored is None or not from_bot:
            self._messages[(key, message_id)] = copy.deepcopy(message)
        ids = (self._bot_message_ids if from_bot else self._user_message_ids).setdefault(key, [])
        if message_id not in ids:
            ids.append(message_id)

    def _dispatch(
        self, verb: str, raw_path: str, content_type: str, body: bytes
    ) -> tuple[int, JSON]:
        parts = urlsplit(raw_path)
        match = _PATH.match(parts.path)
        if match is None:
            return 404, TelegramApiError(404, "Not Found").payload()
        try:
            params, files = _parse_body(content_type, body)
        except (ValueError, UnicodeDecodeError) as exc:
            return 400, TelegramApiError(400, f"Bad Request: can't parse body: {exc}").payload()
        for name, raw in parse_qsl(parts.query, keep_blank_values=True):
            params.setdefault(name, _decode_form_value(name, raw))
        call = Call(
            method=match["method"],
            params=params,
            token=match["token"],
            files=files,
            http_method=verb,
        )
        with self._cond:
            self._calls.append(call)
            self._seen_token = call.token
            self._bump()
        try:
            result = self._answer(call)
        except TelegramApiError as error:
            status, payload = error.status, error.payload()
        except Exception as exc:  # a bug in a handler: answer like Telegram's 500, keep going
            status, payload = (
                500,
                TelegramApiError(500, f"Internal Server Error: {exc!r}").payload(),
            )
        else:
            status, payload = 200, {"ok": True, "result": result}
        with self._cond:
            call.status, call.response = status, payload
            self._bump()
        return status, payload

    def _answer(self, call: Call) -> Any:
        key = call.method.lower()
        if self.token is not None and call.token != self.token:
            raise TelegramApiError(401, "Unauthorized")
        with self._cond:
            delays = self._delays.get(key)
            delay = delays.popleft() if delays else None
        if delay is not None:
            self._stopping.wait(delay.seconds)
        with self._cond:
            faults = self._faults.get(key) or deque()
            chat = str(call.params.get("chat_id"))
            fault = next((f for f in faults if f[1] is None or f[1] == chat), None)
            if fault is not None:
                faults.remove(fault)
        if fault is not None:
            raise fault[0]
        with self._cond:
            handler = self._custom.get(key) or self._builtin.get(key)
        if handler is None:
            raise TelegramApiError(404, "Not Found: method not found")
        return handler(call)

    # ------------------------------------------------------------------ built-in methods

    def _true(self, call: Call) -> bool:
        return True

    def _get_me(self, call: Call) -> JSON:
        return {
            **self._bot_user(call.token),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _get_updates(self, call: Call) -> list[JSON]:
        params = call.params
        offset = params.get("offset")
        limit = max(1, min(100, int(params.get("limit") or 100)))
        timeout = max(0.0, float(params.get("timeout") or 0))
        deadline = time.monotonic() + timeout
        with self._cond:
            if self._webhook.get("url"):
                raise TelegramApiError(409, _WEBHOOK_CONFLICT)
            self._poll_generation += 1
            generation = self._poll_generation
            self._bump()  # wakes (and so supersedes) an older waiting getUpdates
            if "allowed_updates" in params and isinstance(params["allowed_updates"], list):
                self._allowed_updates = list(params["allowed_updates"])
            if offset is not None:
                self._confirm(int(offset))
            while True:
                if self._pending:
                    return copy.deepcopy(self._pending[:limit])
                if generation != self._poll_generation:
                    raise TelegramApiError(409)
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stopping.is_set():
                    return []
                self._cond.wait(remaining)

    def _confirm(self, offset: int) -> None:
        if offset < 0:
            keep = self._pending[offset:]
            if keep:
                self._confirmed_offset = max(self._confirmed_offset, keep[0]["update_id"])
            self._pending = keep
        else:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
            self._confirmed_offset = max(self._confirmed_offset, offset)

    def _set_webhook(self, call: Call) -> bool:
        url = call.params.get("url")
        if not isinstance(url, str):
            raise TelegramApiError(400, "Bad Request: bad webhook: URL is empty")
        with self._cond:
            if call.params.get("drop_pending_updates"):
                self._pending.clear()
            if not url:
                self._webhook = {}
            else:
                self._webhook = {k: v for k, v in call.params.items() if k != "certificate"}
                if isinstance(call.params.get("allowed_updates"), list):
                    self._allowed_updates = list(call.params["allowed_updates"])
            self._bump()
        return True

    def _delete_webhook(self, call: Call) -> bool:
        with self._cond:
            self._webhook = {}
            if call.params.get("drop_pending_updates"):
                self._pending.clear()
            self._bump()
        return True

    def _get_webhook_info(self, call: Call) -> JSON:
        with self._cond:
            info: JSON = {
                "url": self._webhook.get("url", ""),
                "has_custom_certificate": False,
                "pending_update_count": len(self._pending),
            }
            if self._webhook.get("url"):
                info["max_connections"] = int(self._webhook.get("max_connections") or 40)
                info["ip_address"] = "127.0.0.1"
                if self._allowed_updates is not None:
                    info["allowed_updates"] = list(self._allowed_updates)
            return info

    @staticmethod
    def _commands_key(params: JSON) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    def _set_my_commands(self, call: Call) -> bool:
        commands = call.params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise TelegramApiError(400, "Bad Request: can't parse commands JSON object")
        for command in commands:
            if not isinstance(command, dict) or not _BOT_COMMAND_NAME.match(
                str(command.get("command", ""))
            ):
                raise TelegramApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise TelegramApiError(400, "Bad Request: command description is empty")
        with self._cond:
            self._commands[self._commands_key(call.params)] = copy.deepcopy(commands)
        return True

    def _get_my_commands(self, call: Call) -> list[JSON]:
        with self._cond:
            return copy.deepcopy(self._commands.get(self._commands_key(call.params), []))

    def _delete_my_commands(self, call: Call) -> bool:
        with self._cond:
            self._commands.pop(self._commands_key(call.params), None)
        return True

    @staticmethod
    def _inline_markup(params: JSON) -> JSON | None:
        markup = params.get("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise TelegramApiError(
                400, "Bad Request: can't parse reply keyboard markup JSON object"
            )
        rows = markup.get("inline_keyboard")
        if rows is None:
            return None  # reply keyboards etc. are not part of the returned Message
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise TelegramApiError(400, "Bad Request: can't parse inline keyboard button")
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise TelegramApiError(400, "Bad Request: can't parse inline keyboard button")
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= _MAX_CALLBACK_DATA:
                    raise TelegramApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return copy.deepcopy(markup)

    @staticmethod
    def _check_text(text: Any) -> str:
        if not isinstance(text, str) or not text.strip():
            raise TelegramApiError(400, "Bad Request: message text is empty")
        if len(text) > _MAX_TEXT:
            raise TelegramApiError(400, "Bad Request: message is too long")
        return text

    def _send_message(self, call: Call) -> JSON:
        params = call.params
        if params.get("chat_id") in (None, ""):
            raise TelegramApiError(400, "Bad Request: chat_id is empty")
        key = _chat_key(params["chat_id"])
        text = self._check_text(params.get("text"))
        markup = self._inline_markup(params)
        with self._cond:
            message = self._bot_message(call, key, {"text": text})
            if isinstance(params.get("entities"), list):
                message["entities"] = params["entities"]
            if markup is not None:
                message["reply_markup"] = markup
            reply = params.get("reply_parameters") or {}
            replied_id = params.get("reply_to_message_id") or (
                reply.get("message_id") if isinstance(reply, dict) else None
            )
            if replied_id is not None and (key, int(replied_id)) in self._messages:
                message["reply_to_message"] = copy.deepcopy(self._messages[(key, int(replied_id))])
            return self._keep_sent(key, message)

    def _bot_message(self, call: Call, key: int | str, content: JSON) -> JSON:
        """A new message from the bot in chat `key` (call with the lock held)."""
        return {
            "message_id": self._next_message_id(key),
            "from": self._bot_user(call.token),
            "chat": self._chat(key),
            "date": int(time.time()),
            **content,
        }

    def _keep_sent(self, key: int | str, message: JSON) -> JSON:
        """Remember a message the bot sent (call with the lock held); returns it."""
        self._messages[(key, message["message_id"])] = copy.deepcopy(message)
        self._bot_message_ids.setdefault(key, []).append(message["message_id"])
        self._sent.append(copy.deepcopy(message))
        return message

    def _send_document(self, call: Call) -> JSON:
        params = call.params
        if params.get("chat_id") in (None, ""):
            raise TelegramApiError(400, "Bad Request: chat_id is empty")
        upload = call.files.get("document")
        if upload is None:
            raise TelegramApiError(400, "Bad Request: there is no document in the request")
        key = _chat_key(params["chat_id"])
        with self._cond:
            document = {
                "file_id": f"document-{next(self._file_counter)}",
                "file_unique_id": f"unique-{len(self._sent)}",
                "file_name": upload.filename or "",
                "mime_type": upload.content_type,
                "file_size": len(upload.data),
            }
            return self._keep_sent(key, self._bot_message(call, key, {"document": document}))

    def _editable(self, call: Call) -> JSON | None:
        """The stored message an edit targets, or None for an inline message."""
        params = call.params
        if params.get("inline_message_id"):
            return None
        if params.get("chat_id") in (None, "") or params.get("message_id") in (None, ""):
            raise TelegramApiError(400, "Bad Request: message identifier is not specified")
        key = _chat_key(params["chat_id"])
        message = self._messages.get((key, int(params["message_id"])))
        if message is None:
            raise TelegramApiError(400, "Bad Request: message to edit not found")
        if not message.get("from", {}).get("is_bot"):
            raise TelegramApiError(400, "Bad Request: message can't be edited")
        return message

    def _edit_message_text(self, call: Call) -> JSON | bool:
        text = self._check_text(call.params.get("text"))
        markup = self._inline_markup(call.params)
        with self._cond:
            message = self._editable(call)
            if message is None:
                return True
            if "text" not in message:
                raise TelegramApiError(400, "Bad Request: there is no text in the message to edit")
            if message["text"] == text and message.get("reply_markup") == markup:
                raise TelegramApiError(400, _NOT_MODIFIED)
            message["text"] = text
            message.pop("entities", None)
            if isinstance(call.params.get("entities"), list):
                message["entities"] = call.params["entities"]
            self._set_markup(message, markup)
            return copy.deepcopy(message)

    def _edit_message_reply_markup(self, call: Call) -> JSON | bool:
        markup = self._inline_markup(call.params)
        with self._cond:
            message = self._editable(call)
            if message is None:
                return True
            if message.get("reply_markup") == markup:
                raise TelegramApiError(400, _NOT_MODIFIED)
            self._set_markup(message, markup)
            return copy.deepcopy(message)

    @staticmethod
    def _set_markup(message: JSON, markup: JSON | None) -> None:
        message["edit_date"] = int(time.time())
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup

    def _delete_message(self, call: Call) -> bool:
        with self._cond:
            key = _chat_key(call.params.get("chat_id"))
            if self._messages.pop((key, int(call.params.get("message_id") or 0)), None) is None:
                raise TelegramApiError(400, "Bad Request: message to delete not found")
        return True

    def _answer_callback_query(self, call: Call) -> bool:
        query_id = str(call.params.get("callback_query_id") or "")
        with self._cond:
            if query_id not in self._callback_ids or query_id in self._answered_callbacks:
                raise TelegramApiError(400, _QUERY_TOO_OLD)
            self._answered_callbacks.add(query_id)
        text = call.params.get("text")
        if text is not None and len(str(text)) > 200:
            raise TelegramApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        return True

    def _send_chat_action(self, call: Call) -> bool:
        if call.params.get("chat_id") in (None, ""):
            raise TelegramApiError(400, "Bad Request: chat_id is empty")
        _chat_key(call.params["chat_id"])
        if not call.params.get("action"):
            raise TelegramApiError(400, "Bad Request: action is empty")
        return True
