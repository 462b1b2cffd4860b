"""Settings from environment variables, validated, with errors that name the variable and fix."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sto_bot.handover import DEFAULT_REMINDER_HOURS, Consultants
from sto_bot.loader import default_knowledge_dir
from sto_bot.models import ConversationKey

DEFAULT_API_URL = "https://api.telegram.org"
_SECRET = re.compile(r"[A-Za-z0-9_-]{16,256}")
DEFAULT_RETENTION_DAYS = 180
RETENTION = "STO_BOT_RETENTION_DAYS"


class ConfigError(Exception):
    """A missing or malformed environment variable; the message names it and the fix."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the process reads from its environment."""

    knowledge_dir: Path
    database: Path
    log_level: int | None  # None: the command's own default
    telegram_token: str | None = None
    telegram_api_url: str = DEFAULT_API_URL
    consultant_chat_id: int | None = None
    consultant_ids: frozenset[int] = frozenset()
    admin_ids: frozenset[int] = frozenset()
    webhook_url: str | None = None
    webhook_secret: str | None = None
    port: int = 8080
    retention_days: int = DEFAULT_RETENTION_DAYS
    reminder_hours: int = DEFAULT_REMINDER_HOURS  # office hours before a handover is reminded
    editors_chat_id: int | None = None  # where the weekly digest goes (None: no digest)
    digest_weekday: int = 1  # ISO: 1 is Monday
    digest_hour: int = 9  # Dutch time

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and validate the environment (os.environ unless given)."""
        env = dict(os.environ if environ is None else environ)

        def value(name: str) -> str | None:
            text = env.get(name, "").strip()
            return text or None

        knowledge = value("STO_BOT_KNOWLEDGE")
        knowledge_dir = Path(knowledge).expanduser() if knowledge else default_knowledge_dir()
        if knowledge and not knowledge_dir.is_dir():
            raise ConfigError(
                f"STO_BOT_KNOWLEDGE={knowledge} is not a folder: point it at a knowledge folder "
                "or unset it to use the shipped knowledge"
            )
        database = value("STO_BOT_DB")
        api_url = (value("TELEGRAM_API_URL") or DEFAULT_API_URL).rstrip("/")
        if not api_url.startswith(("http://", "https://")):
            raise ConfigError("TELEGRAM_API_URL must start with http:// or https://")
        webhook_url = value("WEBHOOK_URL")
        if webhook_url and not webhook_url.startswith("https://"):
            raise ConfigError("WEBHOOK_URL must be an https:// address that Telegram can reach")
        webhook_secret = value("WEBHOOK_SECRET")
        if webhook_url and not webhook_secret:
            # Without it anyone who finds the URL can post updates as any user, a consultant too.
            raise ConfigError(
                "WEBHOOK_URL is set without WEBHOOK_SECRET: set WEBHOOK_SECRET to a random "
                "string of 16-256 letters, digits, _ or - (e.g. `openssl rand -hex 32`)"
            )
        if webhook_secret and not _SECRET.fullmatch(webhook_secret):
            raise ConfigError(
                "WEBHOOK_SECRET must be 16-256 characters, each a letter, digit, _ or - "
                "(Telegram allows only these; a short secret can be guessed)"
            )
        return cls(
            knowledge_dir=knowledge_dir,
            database=Path(database).expanduser() if database else default_database(env),
            log_level=_log_level(value("LOG_LEVEL")),
            telegram_token=value("TELEGRAM_BOT_TOKEN"),
            telegram_api_url=api_url,
            consultant_chat_id=_integer(value("CONSULTANT_CHAT_ID"), "CONSULTANT_CHAT_ID"),
            consultant_ids=_id_list(value("CONSULTANT_IDS"), "CONSULTANT_IDS"),
            admin_ids=_id_list(value("ADMIN_IDS"), "ADMIN_IDS"),
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
            port=_integer(value("PORT"), "PORT", low=1, high=65535) or 8080,
            retention_days=_integer(
                value("STO_BOT_RETENTION_DAYS"), "STO_BOT_RETENTION_DAYS", low=1
            )
            or DEFAULT_RETENTION_DAYS,
            editors_chat_id=_integer(value("EDITORS_CHAT_ID"), "EDITORS_CHAT_ID"),
            digest_weekday=_integer(value("DIGEST_WEEKDAY"), "DIGEST_WEEKDAY", low=1, high=7) or 1,
            digest_hour=_default(_integer(value("DIGEST_HOUR"), "DIGEST_HOUR", low=0, high=23), 9),
            reminder_hours=_integer(
                value("HANDOVER_REMINDER_HOURS"), "HANDOVER_REMINDER_HOURS", low=1, high=40
            )
            or DEFAULT_REMINDER_HOURS,
        )

    def consultants(
        self,
        channel: str,
        *,
        chat: ConversationKey | None = None,
        ids: frozenset[str] | None = None,
    ) -> Consultants:
        """The consultants as the core knows them, for a channel's conversation keys: by
        default CONSULTANT_CHAT_ID and CONSULTANT_IDS; a channel with a consultants' chat of
        its own (the terminal) names it and who types there."""
        configured = self.consultant_chat_id
        if chat is None and configured is not None:
            chat = ConversationKey(channel, str(configured))
        return Consultants(
            ids=ids if ids is not None else frozenset(str(n) for n in self.consultant_ids),
            chat=chat,
            reminder_hours=self.reminder_hours,
        )


def default_database(env: Mapping[str, str]) -> Path:
    """A database file in the user's data directory (XDG_DATA_HOME or ~/.local/share)."""
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "sto-bot" / "sto-bot.sqlite3"


def _log_level(text: str | None) -> int | None:
    if text is None:
        return None
    level = logging.getLevelName(text.upper())
    if not isinstance(level, int):
        raise ConfigError(f"LOG_LEVEL={text} is not a level: use DEBUG, INFO, WARNING or ERROR")
    return level


def _default(number: int | None, default: int) -> int:
    """A setting's number, or its default when it is not set (0 is a number)."""
    return default if number is None else number


def _integer(
    text: str | None, name: str, low: int | None = None, high: int | None = None
) -> int | None:
    if text is None:
        return None
    try:
        number = int(text)
    except ValueError:
        raise ConfigError(f"{name}={text} is not a whole number: set it to a number") from None
    if (low is not None and number < low) or (high is not None and number > high):
        raise ConfigError(f"{name}={text} is out of range ({low}..{high if high else ''})")
    return number


def _id_list(text: str | None, name: str) -> frozenset[int]:
    if text is None:
        return frozenset()
    ids = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if not part.lstrip("-").isdigit():
            raise ConfigError(
                f"{name} holds '{part}', which is not a Telegram user id: "
                "use comma-separated numbers, e.g. 12345,67890"
            )
        ids.add(int(part))
    return frozenset(ids)
