"""Secrets and users' words kept out of the log, whichever channel runs.

Its own module, without python-telegram-bot: every command installs the filter, and `sto-bot
ask` should not pay for importing the Telegram library it never uses."""

from __future__ import annotations

import logging


class SecretFilter(logging.Filter):
    """Keeps secrets and users' words out of every log record: the bot token (httpx logs
    request URLs, which hold it), the webhook secret, and at DEBUG the parameters and results
    of Bot API calls that python-telegram-bot logs (they hold message texts and the secret)."""

    def __init__(self, *secrets: str) -> None:
        super().__init__()
        self.secrets = [secret for secret in secrets if secret]

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record's message and arguments; every record is kept."""
        args = record.args
        call = isinstance(args, tuple) and args and record.name.startswith("telegram")
        if call and isinstance(args, tuple) and any(w in str(record.msg) for w in _API_CALL_LOGS):
            record.args = (args[0], "<not logged: may hold users' texts>")
        message = record.getMessage()
        if any(secret in message for secret in self.secrets):
            for secret in self.secrets:
                message = message.replace(secret, "<secret>")
            record.msg = message
            record.args = None
        return True


# python-telegram-bot's DEBUG lines that carry a call's parameters or return value.
_API_CALL_LOGS = ("parameters", "return value")


def protect_secrets(*secrets: str) -> None:
    """Keep the token, the webhook secret and users' texts out of every log line."""
    secret_filter = SecretFilter(*secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(secret_filter)
    # httpx logs each request URL at INFO, and the URL contains the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
