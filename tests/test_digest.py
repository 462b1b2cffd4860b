"""The editors' weekly digest: at its weekday and hour, once per week, also after a restart."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sto_bot.assistant import Assistant
from sto_bot.config import ConfigError, Settings
from sto_bot.digest import Digest
from sto_bot.knowledge import KnowledgeBase
from sto_bot.models import ConversationKey, IncomingMessage
from sto_bot.sqlite_store import SqliteStore

EDITORS = ConversationKey("telegram", "-200777")
MONDAY = datetime(2026, 11, 30, 8, 59)


class Clock:
    def __init__(self) -> None:
        self.now = MONDAY - timedelta(days=3)

    def __call__(self) -> datetime:
        return self.now


async def test_the_digest_comes_once_a_week_at_its_hour(
    knowledge: KnowledgeBase, tmp_path: Path
) -> None:
    path = tmp_path / "digest.sqlite3"
    clock = Clock()
    store = await SqliteStore.open(path)
    assistant = Assistant(knowledge, store=store, clock=clock)
    for user, text in (("a", "hoe laat vertrekt de trein"), ("b", "Hoe laat vertrekt de trein?")):
        await assistant.handle(IncomingMessage(ConversationKey("test", user), text=text))
    await assistant.handle(
        IncomingMessage(ConversationKey("test", "a"), text="Wat is een penvoerder?")
    )
    digest = Digest(lambda: knowledge, store, clock, EDITORS, weekday=1, hour=9)
    clock.now = MONDAY
    assert await digest.due() == []  # 8:59: not yet
    clock.now = MONDAY + timedelta(minutes=1)
    [sent] = await digest.due()
    assert sent.key == EDITORS
    assert "3 vragen van 2 gebruikers" in sent.reply.text
    assert "2× hoe laat vertrekt de trein" in sent.reply.text
    clock.now += timedelta(hours=5)
    assert await digest.due() == []  # once per week
    await store.close()

    store = await SqliteStore.open(path)  # a restart the same day: still sent once
    digest = Digest(lambda: knowledge, store, clock, EDITORS, weekday=1, hour=9)
    assert await digest.due() == []
    clock.now = MONDAY + timedelta(days=7, hours=1)
    clock.now = MONDAY + timedelta(days=7, hours=-1)  # down at the moment, back later
    assert await digest.due() == []
    clock.now = MONDAY + timedelta(days=8)  # Tuesday: sent now, not a week late
    [next_week] = await digest.due()
    assert "0 vragen" in next_week.reply.text and "(geen)" in next_week.reply.text
    await store.close()


def test_the_digest_settings_are_checked(tmp_path: Path) -> None:
    env = {"STO_BOT_DB": str(tmp_path / "x.sqlite3")}
    settings = Settings.from_env({**env, "EDITORS_CHAT_ID": "-200777", "DIGEST_HOUR": "0"})
    assert (settings.editors_chat_id, settings.digest_weekday, settings.digest_hour) == (
        -200777,
        1,
        0,
    )
    for name, value in (("DIGEST_WEEKDAY", "8"), ("DIGEST_HOUR", "24"), ("EDITORS_CHAT_ID", "x")):
        try:
            Settings.from_env({**env, name: value})
        except ConfigError as error:
            assert name in str(error)
        else:
            raise AssertionError(f"{name}={value} was accepted")
