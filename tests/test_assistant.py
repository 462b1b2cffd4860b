"""Scripted conversations through `Assistant.handle`, the one entry point of the core."""

from __future__ import annotations

from sto_bot.assistant import Assistant
from sto_bot.matcher import Scored
from sto_bot.models import ConversationKey, IncomingMessage, Reply

KEY = ConversationKey("test", "director-1")


async def say(assistant: Assistant, text: str) -> list[Reply]:
    return await assistant.handle(IncomingMessage(KEY, text=text))


async def press(assistant: Assistant, choice: str) -> list[Reply]:
    return await assistant.handle(IncomingMessage(KEY, choice=choice))


async def test_start_welcomes_with_the_main_menu(assistant: Assistant) -> None:
    [reply] = await say(assistant, "/start")
    assert "STO-assistent" in reply.text
    assert [option.id for option in reply.options] == [
        "menu:ask",
        "chk:start",
        "topic:all",
        "ho:offer",
    ]


async def test_an_answer_carries_its_source_and_up_to_three_follow_ups(
    assistant: Assistant,
) -> None:
    [reply] = await say(assistant, "Wat is een penvoerder?")
    assert "bevoegd gezag" in reply.text
    assert "Bron: " in reply.text and "https://" in reply.text
    *follow_ups, helpful, not_helpful = reply.options
    assert 1 <= len(follow_ups) <= 3
    assert all(option.id.startswith("ask:") for option in follow_ups)
    assert (helpful.label, not_helpful.label) == ("👍 Nuttig", "👎 Niet nuttig")


async def test_a_follow_up_button_answers_that_question(assistant: Assistant) -> None:
    [answer] = await say(assistant, "Wat is een penvoerder?")
    follow_up = answer.options[0]
    [reply] = await press(assistant, follow_up.id)
    entry = assistant.knowledge.entries[follow_up.id.removeprefix("ask:")]
    assert entry.answer["nl"][:40] in reply.text


async def test_topics_lead_to_their_questions_and_back(assistant: Assistant) -> None:
    [topics] = await say(assistant, "/onderwerpen")
    budget = next(option for option in topics.options if option.id == "topic:budget")
    [questions] = await press(assistant, budget.id)
    assert "Budget" in questions.text
    assert "ask:cofinanciering" in [option.id for option in questions.options]
    assert questions.options[-1].id == "topic:all"


async def test_unsure_matches_offer_choices_and_none_of_these(assistant: Assistant) -> None:
    assert assistant.ask("regio").status.value == "suggest"
    [reply] = await say(assistant, "regio")
    ids = [option.id for option in reply.options]
    assert 3 <= len(ids) <= 4 and ids[-1] == "menu:none"
    [after] = await press(assistant, "menu:none")
    assert [option.id for option in after.options] == ["topic:all", "ho:offer"]


async def test_fallback_offers_topics_and_a_consultant(assistant: Assistant) -> None:
    [reply] = await say(assistant, "Wat is de hoofdstad van Frankrijk?")
    assert "alleen vragen over STO" in reply.text  # honestly out of scope
    assert [option.id for option in reply.options] == ["topic:all", "ho:offer"]


async def test_replies_follow_the_question_language_until_taal_fixes_it(
    assistant: Assistant,
) -> None:
    [english] = await say(assistant, "What is a penvoerder?")
    assert "Source: " in english.text
    [dutch] = await say(assistant, "Wat is een penvoerder?")
    assert "Bron: " in dutch.text
    [confirmation] = await say(assistant, "/taal en")
    assert "English" in confirmation.text
    [fixed] = await say(assistant, "Wat is een penvoerder?")
    assert "Source: " in fixed.text
    [help_text] = await say(assistant, "/help")
    assert "How it works" in help_text.text


async def test_taal_without_a_language_explains_itself(assistant: Assistant) -> None:
    [reply] = await say(assistant, "/taal klingon")
    assert "/taal nl" in reply.text
    assert [option.id for option in reply.options] == ["lang:nl", "lang:en"]


async def test_empty_and_blank_messages_get_a_friendly_prompt(assistant: Assistant) -> None:
    for text in ["", "   ", "\n\t"]:
        [reply] = await say(assistant, text)
        assert "Ik zie geen vraag" in reply.text


async def test_a_very_long_message_is_answered_on_its_first_part(assistant: Assistant) -> None:
    text = "Wat is een penvoerder? " + "bla " * 2000
    replies = await say(assistant, text)
    assert "eerste deel" in replies[0].text
    assert len(replies) == 2


async def test_an_unknown_button_is_told_expired(assistant: Assistant) -> None:
    for choice in ["ask:does-not-exist", "topic:gone", "garbage"]:
        [reply] = await press(assistant, choice)
        assert "verlopen" in reply.text


async def test_unknown_commands_point_to_help(assistant: Assistant) -> None:
    [reply] = await say(assistant, "/frobnicate")
    assert "/help" in reply.text
    [reply] = await say(assistant, "/help@StoAssistentBot")
    assert "Zo werkt het" in reply.text


async def test_inferred_and_unknown_answers_carry_their_caveat(assistant: Assistant) -> None:
    inferred = assistant.answer_text(assistant.knowledge.entries["meldplicht"], "nl")
    assert "afgeleid" in inferred
    unknown = assistant.answer_text(assistant.knowledge.entries["budget-eigen-regio"], "nl")
    assert "DUS-I" in unknown and "adviseur" in unknown


async def test_a_crash_inside_the_core_becomes_an_apology(assistant: Assistant) -> None:
    def broken(question: str) -> Scored:
        raise RuntimeError("boom")

    assistant.matcher.rank = broken  # type: ignore[method-assign]
    [reply] = await say(assistant, "Wat is een penvoerder?")
    assert "ging iets mis" in reply.text
    assert "boom" not in reply.text and "Traceback" not in reply.text
