"""Webhook mode: Telegram posts updates to us; a health check answers load balancers."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

import tornado.web
from telegram import Bot, Update

from sto_bot.config import Settings
from sto_bot.models import StoreBroken, StoreFull

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class Receiver(Protocol):
    """What the webhook needs of the Telegram channel (TelegramChannel is one)."""

    bot: Bot

    async def receive(self, updates: Sequence[Update]) -> None:
        """Keep the updates (in the inbox) before they are confirmed."""
        ...

    def broken(self, error: StoreBroken) -> None:
        """The database cannot be used: stop."""
        ...

    async def retrying(self, call: Callable[[], Awaitable[Any]]) -> Any:
        """A Bot API call, made until it works."""
        ...


class UpdateHandler(tornado.web.RequestHandler):
    """POST an update: checked, stored in the inbox, then confirmed with 200."""

    def initialize(self, channel: Receiver, secret: str | None) -> None:
        """Tornado passes the channel and the expected secret."""
        self.channel = channel
        self.secret = secret

    async def post(self) -> None:
        """Receive one update; a wrong secret gets 403 and changes nothing."""
        if self.secret is not None:
            given = self.request.headers.get(SECRET_HEADER, "")
            if not hmac.compare_digest(given.encode(), self.secret.encode()):
                log.warning("webhook call with a wrong secret refused")
                self.set_status(403)
                return
        try:
            data = json.loads(self.request.body)
            # An update is an object with a numeric update_id; anything else is refused.
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise TypeError("not an update object")
            update = Update.de_json(data, self.channel.bot)
        except (ValueError, TypeError, KeyError, AttributeError):
            self.set_status(400)
            return
        # Stored before the 200: an update Telegram thinks delivered is never lost.
        try:
            await self.channel.receive([update])
        except StoreFull:
            self.set_status(503)  # Telegram posts it again later
            return
        except StoreBroken as error:
            self.channel.broken(error)
            self.set_status(503)
            return
        self.set_status(200)

    def data_received(self, chunk: bytes) -> None:
        """Bodies are read whole."""


class HealthHandler(tornado.web.RequestHandler):
    """GET /healthz: 200 while the process serves."""

    def get(self) -> None:
        """Say we are alive."""
        self.write("ok")

    def data_received(self, chunk: bytes) -> None:
        """No bodies here."""


async def serve_webhook(channel: Receiver, settings: Settings, stop: asyncio.Event) -> None:
    """Register the webhook with Telegram and serve it on PORT until `stop` is set."""
    assert settings.webhook_url is not None
    path = urlsplit(settings.webhook_url).path or "/"
    handlers: list[Any] = [
        (r"/healthz", HealthHandler),
        (path, UpdateHandler, {"channel": channel, "secret": settings.webhook_secret}),
    ]
    server = tornado.web.Application(handlers).listen(settings.port)
    try:
        url, secret = settings.webhook_url, settings.webhook_secret
        await channel.retrying(
            lambda: channel.bot.set_webhook(
                url,
                secret_token=secret,
                allowed_updates=["message", "edited_message", "callback_query"],
            )
        )
        log.info("webhook mode on port %d", settings.port)
        await stop.wait()
    finally:
        server.stop()
