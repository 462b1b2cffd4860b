"""👍 / 👎 under answers: offered once per answer, kept as events, "wat zocht u?" after a 👎,
"dank je, dat hielp" as a 👍; removed by /vergeet and pruned like every event."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from sto_bot.assistant import Assistant
from sto_bot.knowledge import KnowledgeBase
from sto_bot.models import ConversationKey, IncomingMessage, Reply
from sto_bot.store import Store

USER = ConversationKey("test", "ina")


async def say(assistant: Assistant, text: str) -> list[Reply]:
    return await assistant.handle(IncomingMessage(USER, text=text))


async def press(assistant: Assistant, choice: str) -> list[Reply]:
    return await assistant.handle(IncomingMessage(USER, choice=choice))


def rating(reply: Reply) -> tuple[str, str]:
    """The ids of the 👍 and 👎 buttons under an answer."""
    up, down = (o.id for o in reply.options if o.id.startswith("fb:"))
    return up, down


@pytest.fixture
def assistant(knowledge: KnowledgeBase, store: Store) -> Assistant:
    """An assistant on the store under test (SQLite and the memory twin)."""
    return Assistant(knowledge, store=store)


async def feedback(store: Store) -> list[dict[str, object]]:
    return [e.data for _, e in await store.events(USER) if e.kind.startswith("feedback")]


async def test_a_thumbs_up_is_kept_once(assistant: Assistant, store: Store) -> None:
    [answer] = await say(assistant, "Wat is een penvoerder?")
    up, _ = rating(answer)
    [thanks] = await press(assistant, up)
    assert "hielp" in thanks.text
    [again] = await press(assistant, up)
    assert "al beoordeeld" in again.text
    assert await feedback(store) == [
        {"entry": "penvoerder", "helpful": True, "question": "Wat is een penvoerder?"}
    ]


async def test_a_thumbs_down_asks_what_was_sought_keeps_it_and_answers_it(
    assistant: Assistant, store: Store
) -> None:
    [answer] = await say(assistant, "Wat is een penvoerder?")
    _, down = rating(answer)
    [asked] = await press(assistant, down)
    assert "Wat zocht u?" in asked.text
    assert [o.id for o in asked.options] == ["fb:skip", "ho:offer"]
    noted, reply, *_ = await say(assistant, "Wanneer moet de aanvraag binnen zijn?")
    assert "genoteerd" in noted.text  # and then it is answered (or "bedoelt u…?") as usual
    assert "aanvraag" in " ".join([reply.text.casefold(), *(o.id for o in reply.options)])
    kinds = [(d.get("helpful"), d.get("text")) for d in await feedback(store)]
    assert kinds == [(False, None), (None, "Wanneer moet de aanvraag binnen zijn?")]
    # Skipping instead: nothing more is kept, and the next question is just a question.
    [second] = await say(assistant, "Wat is cofinanciering?")
    await press(assistant, rating(second)[1])
    [skipped] = await say(assistant, "overslaan")
    assert "Prima" in skipped.text
    assert len(await feedback(store)) == 3
    # In English the button says "Skip", and "overslaan" still skips (it is no question).
    await say(assistant, "/taal en")
    [third] = await say(assistant, "What is a penvoerder?")
    await press(assistant, rating(third)[1])
    [skipped] = await say(assistant, "overslaan")
    assert "Fine" in skipped.text
    assert [d.get("text") for d in await feedback(store)][-1] is None


async def test_thanks_after_an_answer_counts_as_helpful_and_only_once(
    assistant: Assistant, store: Store
) -> None:
    await say(assistant, "Wat is een penvoerder?")
    [thanks] = await say(assistant, "dank je, dat hielp")
    assert "Fijn dat het hielp" in thanks.text
    [welcome] = await say(assistant, "dank je, dat hielp")  # nothing left to rate
    assert "Fijn dat het hielp" not in welcome.text
    assert [d["helpful"] for d in await feedback(store)] == [True]


async def test_no_rating_under_small_talk_suggestions_or_menus(
    assistant: Assistant, store: Store
) -> None:
    for text in ("hallo", "/start", "/onderwerpen", "subsidie"):
        for reply in await say(assistant, text):
            assert not any(o.id.startswith("fb:") for o in reply.options), (text, reply)


async def test_forgetting_and_retention_remove_the_ratings(
    assistant: Assistant, store: Store
) -> None:
    [answer] = await say(assistant, "Wat is een penvoerder?")
    await press(assistant, rating(answer)[1])
    await say(assistant, "Ik zocht de Zebravlinderregeling")
    assert len(await feedback(store)) == 2
    await store.prune(datetime.now() - timedelta(days=1))  # recent: kept
    assert len(await feedback(store)) == 2
    await store.prune(datetime.now() + timedelta(days=1))  # past the limit: gone
    assert await feedback(store) == []
    [answer] = await say(assistant, "Wat is cofinanciering?")
    await press(assistant, rating(answer)[0])
    await say(assistant, "/vergeet")
    await press(assistant, "forget:yes")
    assert await feedback(store) == []
    assert "Zebravlinder" not in str(await store.export(USER))


async def test_the_privacy_text_tells_that_ratings_are_kept_and_why(assistant: Assistant) -> None:
    [text] = await say(assistant, "/privacy")
    assert "👍/👎" in text.text and "wat u zocht" in text.text
    assert "de redactie ziet" in text.text and "zonder naam" in text.text


async def test_a_complaint_is_no_thanks(assistant: Assistant, store: Store) -> None:
    await say(assistant, "Wat is een penvoerder?")
    for text in ("dat hielp niet", "dat helpt niet echt"):
        said = " ".join(reply.text for reply in await say(assistant, text))
        assert "Fijn dat het hielp" not in said, text
    assert [d.get("helpful") for d in await feedback(store)] == []


async def test_an_old_button_does_not_rate_a_newer_answer(
    assistant: Assistant, store: Store
) -> None:
    """After /vergeet the numbering starts again: the button names its entry as well."""
    [first] = await say(assistant, "Wat is een penvoerder?")
    old_down = rating(first)[1]
    await say(assistant, "/vergeet")
    await press(assistant, "forget:yes")
    [second] = await say(assistant, "Wat is cofinanciering?")
    assert rating(second)[1] != old_down
    [reply] = await press(assistant, old_down)
    assert "al beoordeeld" in reply.text and await feedback(store) == []


async def test_a_thumbs_down_in_the_check_asks_nothing_that_the_next_answer_would_fill(
    assistant: Assistant, store: Store
) -> None:
    await say(assistant, "/check")
    replies = await say(assistant, "Wat is een penvoerder?")
    answer = next(r for r in replies if any(o.id.startswith("fb:") for o in r.options))
    noted, resumed = await press(assistant, rating(answer)[1])
    assert "Wat zocht u?" not in noted.text
    assert "Vraag 1" in resumed.text  # and the check's question is back on screen
    await say(assistant, "ja")  # an answer to the check's question, not a note
    assert [d.get("helpful") for d in await feedback(store)] == [False]
