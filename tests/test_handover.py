"""Handing over to a consultant: consent, intake, summary, the thread, and back to the bot."""

from __future__ import annotations

import html
import logging
from datetime import datetime, timedelta

import pytest

from sto_bot.assistant import Assistant
from sto_bot.dates import add_office_hours
from sto_bot.handover import Consultants
from sto_bot.intake import valid_email, valid_phone
from sto_bot.knowledge import KnowledgeBase
from sto_bot.models import (
    STRICTEST_LIMITS,
    ConversationKey,
    HandoverStatus,
    IncomingMessage,
    Recipient,
    Reply,
)
from sto_bot.store import Store

SUMMARY_LIMIT = STRICTEST_LIMITS.message_chars  # what the summary must fit, HTML-escaped
USER = ConversationKey("test", "director")
DESK = ConversationKey("test", "consultants")
ANNA = "501"  # a consultant's user id
MONDAY_MORNING = datetime(2026, 11, 30, 9, 30)
TRICKY = 'Kan <b>dit</b> & *dat* _ook_ [link](x) `code`? 5 < 6 > 4 "ja"'


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(MONDAY_MORNING)


@pytest.fixture
def assistant(knowledge: KnowledgeBase, store: Store, clock: Clock) -> Assistant:
    consultants = Consultants(ids=frozenset({ANNA}), chat=DESK)
    return Assistant(knowledge, store=store, clock=clock, consultants=consultants)


def seen(replies: list[Reply]) -> list[Reply]:
    """The replies shown in the sender's own chat (the others go through the outbox)."""
    return [r for r in replies if r.recipient is Recipient.USER and r.to is None]


async def say(assistant: Assistant, text: str) -> list[Reply]:
    message = IncomingMessage(USER, text=text, user_name="Jan de Vries", user_id="900")
    return seen(await assistant.handle(message))


async def press(assistant: Assistant, choice: str) -> list[Reply]:
    message = IncomingMessage(USER, choice=choice, user_name="Jan de Vries", user_id="900")
    return seen(await assistant.handle(message))


async def consultant(
    assistant: Assistant,
    *,
    text: str | None = None,
    choice: str | None = None,
    reply_to: str | None = None,
    user_id: str = ANNA,
) -> list[Reply]:
    message = IncomingMessage(
        DESK, text=text, choice=choice, user_name="Anna Bakker", user_id=user_id, reply_to=reply_to
    )
    return seen(await assistant.handle(message))


async def for_consultants(store: Store) -> list[str]:
    """Deliver (and return) what waits for the consultants' chat; record message ids."""
    texts = []
    for delivery in await store.undelivered(recipient=Recipient.CONSULTANTS):
        texts.append(delivery.reply.text)
        await store.delivered(delivery.id, sent=[f"desk:{delivery.id}"])
    return texts


async def for_user(store: Store) -> list[str]:
    """Deliver (and return) the messages queued for the user by someone else."""
    texts = []
    for delivery in await store.undelivered(key=USER, recipient=Recipient.USER):
        texts.append(delivery.reply.text)
        await store.delivered(delivery.id)
    return texts


async def check_that_depends(assistant: Assistant) -> None:
    """A check ending in "hangt af van" (co-financing unknown)."""
    version = assistant.knowledge.check.version
    await say(assistant, "/check")
    steps = "wie:vmbo leerwegen:ja regio:ja penvoerder:ja regiotype:techniekluw mbo:ja po:nee"
    for step in [*steps.split(), "cofinanciering:weet-niet", "themas:ja"]:
        await press(assistant, f"chk:{version}:{step}")


async def hand_over(assistant: Assistant, question: str = TRICKY) -> list[Reply]:
    """Consent and a full intake."""
    await say(assistant, "/adviseur")
    await press(assistant, "ho:yes")
    await say(assistant, "Het Techcollege <Noord> & Co")
    await press(assistant, "ho:role:directeur")
    await say(assistant, "Groningen")
    await say(assistant, "jan@techcollege.nl")
    return await say(assistant, question)


# -- consent and intake ---------------------------------------------------------------------


async def test_consent_says_what_is_shared_with_whom_and_no_shares_nothing(
    assistant: Assistant, store: Store
) -> None:
    [consent] = await say(assistant, "/adviseur")
    assert "STO-adviseurs" in consent.text and "Jan de Vries" in consent.text
    assert "samenvatting" in consent.text and "check" in consent.text
    assert [o.id for o in consent.options] == ["ho:yes", "ho:no"]
    [declined] = await press(assistant, "ho:no")
    assert "niets gedeeld" in declined.text and "DUS-I" in declined.text
    assert await store.handovers() == []
    assert await store.undelivered(recipient=Recipient.CONSULTANTS) == []


async def test_every_intake_step_can_be_skipped(assistant: Assistant, store: Store) -> None:
    await say(assistant, "/adviseur")
    replies = await press(assistant, "ho:yes")
    for _ in range(5):
        assert replies[-1].options[-1].id == "ho:skip", replies[-1].text
        replies = await press(assistant, "ho:skip")
    assert "doorgezet" in replies[-1].text
    [handover] = await store.handovers()
    assert handover.status is HandoverStatus.OPEN
    assert "niet opgegeven" in handover.summary


async def test_email_and_phone_are_validated(assistant: Assistant, store: Store) -> None:
    await say(assistant, "/adviseur")
    await press(assistant, "ho:yes")
    await press(assistant, "ho:skip")
    await press(assistant, "ho:skip")
    await press(assistant, "ho:skip")
    await press(assistant, "ho:contact:phone")
    [problem] = await say(assistant, "bel me maar")
    assert "geen geldig telefoonnummer" in problem.text
    [next_question] = await say(assistant, "06-1234 5678")
    assert "Vraag 5 van 5" in next_question.text
    await say(assistant, "Hoe zit het met de cofinanciering?")
    [handover] = await store.handovers()
    assert "0612345678" in handover.summary


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("jan@school.nl", True),
        ("j.de.vries+sto@mail.example.org", True),
        ("jan@", False),
        ("jan school.nl", False),
        ("@school.nl", False),
        ("jan@school", False),
    ],
)
def test_email_addresses(text: str, valid: bool) -> None:
    assert (valid_email(text) is not None) is valid


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("06 12345678", "0612345678"),
        ("+31 20 123 4567", "+31201234567"),
        ("0031 6 1234 5678", "+31612345678"),
        ("(020) 123-4567", "0201234567"),
        ("+32 2 123 45 67", "+3221234567"),
        ("12345", None),
        ("0612345", None),
        ("bel me", None),
        ("+31 06 12345678", None),
    ],
)
def test_phone_numbers(text: str, number: str | None) -> None:
    assert valid_phone(text) == number


async def test_a_question_typed_at_the_consent_step_is_answered_and_consent_asked_again(
    assistant: Assistant,
) -> None:
    await say(assistant, "/adviseur")
    replies = await say(assistant, "Wat is een penvoerder?")
    assert "bevoegd gezag" in replies[0].text
    # One list of options, the consent's own first.
    assert [o.id for o in replies[-1].options][:2] == ["ho:yes", "ho:no"]


async def test_annuleer_during_the_intake_shares_nothing(
    assistant: Assistant, store: Store
) -> None:
    await say(assistant, "/adviseur")
    await press(assistant, "ho:yes")
    [stopped] = await say(assistant, "/annuleer")
    assert "niets gedeeld" in stopped.text
    assert await store.handovers() == []
    [answer] = await say(assistant, "Wat is een penvoerder?")
    assert "bevoegd gezag" in answer.text


async def test_two_fallbacks_in_a_row_offer_a_consultant(assistant: Assistant) -> None:
    first = await say(assistant, "xqzv plorp wibble")
    assert len(first) == 1
    second = await say(assistant, "blorf snazzle quux")
    assert "adviseur" in second[-1].text
    assert "ho:offer" in [o.id for o in second[-1].options]
    [consent] = await press(assistant, "ho:offer")
    assert [o.id for o in consent.options] == ["ho:yes", "ho:no"]


async def test_questions_about_other_subjects_do_not_count_as_unanswered(
    assistant: Assistant,
) -> None:
    """Told honestly that it is not about STO, the user needs no consultant for that."""
    for question in ["Wie wint het WK voetbal?", "Hoe vraag ik een lerarenbeurs aan?"]:
        replies = await say(assistant, question)
        assert len(replies) == 1 and "alleen vragen over STO" in replies[0].text


async def test_a_check_that_depends_offers_a_consultant(assistant: Assistant) -> None:
    version = assistant.knowledge.check.version
    await say(assistant, "/check")
    steps = "wie:vmbo leerwegen:ja regio:ja penvoerder:ja regiotype:techniekluw mbo:ja po:nee"
    for step in [*steps.split(), "cofinanciering:weet-niet"]:
        await press(assistant, f"chk:{version}:{step}")
    [verdict] = await press(assistant, f"chk:{version}:themas:ja")
    assert "ho:offer" in [o.id for o in verdict.options]


# -- the summary ------------------------------------------------------------------------------


async def test_the_summary_tells_who_the_check_and_the_unanswered_questions(
    assistant: Assistant, store: Store
) -> None:
    await check_that_depends(assistant)
    await say(assistant, "Wat is een penvoerder?")
    await say(assistant, "Wie wint het WK voetbal?")
    replies = await hand_over(assistant)
    assert "doorgezet" in replies[-1].text and "werkdagen" in replies[-1].text
    [summary] = await for_consultants(store)
    assert "#1" in summary and "Jan de Vries" in summary
    assert "Schoolleider of directeur" in summary and "Het Techcollege <Noord> & Co" in summary
    assert "Groningen" in summary and "jan@techcollege.nl" in summary and "Nederlands" in summary
    assert TRICKY in summary  # the user's own words, unchanged
    assert "Hangt af van: " in summary and "❓" in summary
    assert "Een vmbo-school" in summary  # a check answer as the user saw it
    assert '"Wat is een penvoerder?" → penvoerder (beantwoord)' in summary
    unanswered = [line for line in summary.splitlines() if "WK voetbal" in line]
    assert unanswered and unanswered[0].startswith("⚠️") and "NIET BEANTWOORD" in unanswered[0]
    [handover] = await store.handovers()
    assert handover.summary == summary


async def test_a_check_where_nothing_was_known_is_summarised_as_such(
    assistant: Assistant, store: Store
) -> None:
    """Review: "weet ik niet" throughout was headed "U bent de aanvrager…" for the consultant."""
    replies = await say(assistant, "/check")
    while any(o.id.endswith(":weet-niet") for o in replies[-1].options):
        weet_niet = next(o.id for o in replies[-1].options if o.id.endswith(":weet-niet"))
        replies = await press(assistant, weet_niet)
    await hand_over(assistant)
    [summary] = await for_consultants(store)
    assert "Nog niets bekend" in summary and "aanvrager" not in summary


async def test_a_long_summary_is_shortened_to_fit_one_message(
    assistant: Assistant, store: Store
) -> None:
    for number in range(15):
        await say(assistant, f"Vraag {number}: " + "& <lange> vraag over de regeling " * 20)
    await hand_over(assistant, question="<&> " * 3000)
    [summary] = await for_consultants(store)
    assert len(html.escape(summary, quote=False)) <= SUMMARY_LIMIT
    assert "Vraag 14" in summary  # the latest questions are kept
    assert "Jan de Vries" in summary and "Hangt af van" not in summary


# -- the thread -------------------------------------------------------------------------------


async def test_pick_up_reply_answer_close_and_back_to_the_bot(
    assistant: Assistant, store: Store
) -> None:
    await hand_over(assistant)
    await for_consultants(store)
    state = await store.load(USER)
    assert state.handover is not None and state.handover.status is HandoverStatus.OPEN

    await consultant(assistant, choice="ho:pick:1")
    [picked] = await for_user(store)
    assert "Anna" in picked and "Bakker" not in picked
    notes = await for_consultants(store)
    assert any("opgepakt door Anna" in note for note in notes)

    await consultant(assistant, text="Goedemiddag, ik bel u morgen.", reply_to="desk:1")
    assert await for_user(store) == ["Anna (adviseur): Goedemiddag, ik bel u morgen."]

    assert await say(assistant, "Prima, dank u! <3") == []  # to the person, not the matcher
    assert await for_consultants(store) == ["#1, Jan de Vries: Prima, dank u! <3"]
    assert [e.kind for _, e in await store.events(USER)][-1] != "question"

    await consultant(assistant, choice="ho:close:1")
    [closed] = await for_user(store)
    assert "afgerond" in closed
    assert (await store.load(USER)).handover is None
    [answer] = await say(assistant, "Wat is een penvoerder?")
    assert "bevoegd gezag" in answer.text
    handover = await store.handover(1)
    assert handover is not None and handover.status is HandoverStatus.CLOSED
    assert handover.picked_up_by == "Anna" and handover.closed_at is not None
    authors = [message.author for message in handover.thread]
    assert "user" in authors and "consultant:Anna" in authors


async def test_waiting_users_are_told_their_message_was_added(
    assistant: Assistant, store: Store
) -> None:
    await hand_over(assistant)
    [ack] = await say(assistant, "Nog een detail: we zitten in regio Noord.")
    assert "/annuleer" in ack.text
    assert any("regio Noord" in text for text in await for_consultants(store))


async def test_terug_asks_the_assistant_while_the_question_waits(
    assistant: Assistant, store: Store, knowledge: KnowledgeBase, clock: Clock
) -> None:
    """Outside office hours a question may wait for a day: meanwhile the assistant answers,
    the question stays, and whoever picks it up is talked to again."""
    await hand_over(assistant)
    await for_consultants(store)
    [aside] = await say(assistant, "terug")
    assert "praat weer met de assistent" in aside.text and "#1" in aside.text
    [answer] = await say(assistant, "Wat is een penvoerder?")
    assert "bevoegd gezag" in answer.text
    assert await for_consultants(store) == []  # the question is not the consultants' to read
    assert (await store.handover(1)).status is HandoverStatus.OPEN  # type: ignore[union-attr]
    # Remembered with the conversation: after a restart the assistant still answers.
    assert (await store.load(USER)).aside == (1, HandoverStatus.OPEN, 0)
    restarted = Assistant(knowledge, store=store, clock=clock, consultants=assistant.consultants)
    replies = await say(restarted, "Hoeveel cofinanciering is nodig?")
    assert "ligt nog bij de STO-adviseurs" in replies[0].text and "10%" in replies[-1].text
    assert await for_consultants(store) == []
    [added] = await say(assistant, "/adviseur")
    assert "toegevoegd" in added.text
    await say(assistant, "Nog een detail: we zitten in regio Noord.")
    assert any("regio Noord" in text for text in await for_consultants(store))
    await say(assistant, "/terug")
    await consultant(assistant, text="Goedemiddag, ik kijk ernaar.", reply_to="desk:1")
    assert (await for_user(store))[-1] == "Anna (adviseur): Goedemiddag, ik kijk ernaar."
    assert await say(assistant, "Fijn, dank u") == []  # to Anna now, not the matcher
    assert (await for_consultants(store))[-1] == "#1, Jan de Vries: Fijn, dank u"


async def test_annuleer_withdraws_or_ends_and_terug_asks_the_assistant_in_between(
    assistant: Assistant, store: Store
) -> None:
    await hand_over(assistant)
    [told] = await say(assistant, "/annuleer")
    assert "ingetrokken" in told.text
    assert (await store.handovers())[0].status is HandoverStatus.CANCELLED
    await hand_over(assistant)
    await consultant(assistant, text="/oppakken 2")
    await for_consultants(store)
    await for_user(store)
    # /terug asks the assistant in between; the conversation stays open, and Anna knows.
    [back] = await say(assistant, "/terug")
    assert "assistent" in back.text and "blijft open" in back.text
    assert any("tussendoor" in note for note in await for_consultants(store))
    assert (await store.handover(2)).status is HandoverStatus.PICKED_UP  # type: ignore[union-attr]
    [answer] = await say(assistant, "Wat is een penvoerder?")
    assert "bevoegd gezag" in answer.text
    [again] = await say(assistant, "/terug")  # told once: Anna hears nothing new
    assert "blijft open" in again.text and await for_consultants(store) == []
    await consultant(assistant, text="/antwoord 2 Heeft u de penvoerder al gesproken?")
    assert await for_user(store) == ["Anna (adviseur): Heeft u de penvoerder al gesproken?"]
    # Anna wrote after the user stepped aside: the reply is hers, not the matcher's.
    assert await say(assistant, "ja, vorige week") == []
    assert (await for_consultants(store))[-1] == "#2, Jan de Vries: ja, vorige week"
    [ended] = await say(assistant, "/annuleer")
    assert "beëindigd" in ended.text
    assert (await store.handover(2)).status is HandoverStatus.CLOSED  # type: ignore[union-attr]
    [none] = await say(assistant, "/annuleer")
    assert "geen vraag" in none.text


async def test_ja_or_1_to_a_consultant_is_a_message_not_a_button(
    assistant: Assistant, store: Store
) -> None:
    """The only button under "Uw vraag is doorgezet" withdraws the question: a typed "oké"
    must not press it, nor may "ja" to the consultant's question end the conversation."""
    await hand_over(assistant)
    await for_consultants(store)
    for text in ("oké", "ja", "1"):
        await say(assistant, text)
    assert (await store.handover(1)).status is HandoverStatus.OPEN  # type: ignore[union-attr]
    added = (await for_consultants(store))[-3:]
    assert added == [f"#1, Jan de Vries: {text}" for text in ("oké", "ja", "1")]
    [withdrawn] = await say(assistant, "intrekken")  # its own word still presses it
    assert "ingetrokken" in withdrawn.text
    await hand_over(assistant)
    await consultant(assistant, text="/antwoord 2 Heeft u de penvoerder al gesproken?")
    await say(assistant, "/start")  # shows "Terug naar de assistent" as the only button
    assert await say(assistant, "ja") == []  # for Anna, not the button "Terug naar de assistent"
    assert (await for_consultants(store))[-1] == "#2, Jan de Vries: ja"
    assert (await store.handover(2)).status is HandoverStatus.PICKED_UP  # type: ignore[union-attr]


async def test_old_buttons_and_the_check_wait_while_a_person_is_on_the_line(
    assistant: Assistant, store: Store
) -> None:
    """Typed "1" or "ja" goes to the consultant, not to the buttons of an earlier answer, nor
    to a check that was under way."""
    await say(assistant, "/check")
    await say(assistant, "1")  # a vmbo school: the check waits at its second question
    await hand_over(assistant)
    await say(assistant, "/terug")
    await say(assistant, "Wat is een penvoerder?")  # its answer has buttons [1] [2] [3]
    await consultant(assistant, text="/oppakken 1")
    for text in ("1", "ja"):
        assert await say(assistant, text) == []
    assert (await for_consultants(store))[-2:] == ["#1, Jan de Vries: 1", "#1, Jan de Vries: ja"]
    check = (await store.load(USER)).check
    assert check is not None and len(check.answers) == 1  # "ja" answered nothing there


async def test_terug_in_the_intake_goes_one_question_back_and_from_the_consent_out(
    assistant: Assistant,
) -> None:
    await say(assistant, "/adviseur")
    [left] = await say(assistant, "terug")  # from the consent: back to where one was
    assert "niets gedeeld" in left.text and "Mag ik dit delen?" not in left.text
    await say(assistant, "/adviseur")
    await press(assistant, "ho:yes")
    [first] = await say(assistant, "terug")
    assert "Mag ik dit delen?" in first.text
    await press(assistant, "ho:yes")
    await say(assistant, "Het Techcollege")
    await press(assistant, "ho:role:directeur")
    [region] = await say(assistant, "Zwolle?")  # a hesitant answer, not a question
    assert "Vraag 4 van 5" in region.text
    await press(assistant, "ho:contact:email")
    [contact] = await say(assistant, "terug")  # from the address to the ways of contact
    assert "Vraag 4 van 5" in contact.text


async def test_help_in_the_consultants_chat_tells_their_commands(assistant: Assistant) -> None:
    """Newcomer: /help there gave the users' help (/check, /vergeet) and none of theirs."""
    [reply] = await consultant(assistant, text="/help")
    assert "/oppakken N" in reply.text and "/antwoord N" in reply.text
    assert "/check" not in reply.text
    assert "naar niemand" not in reply.text  # asked for: nothing went astray


async def test_text_typed_in_the_consultants_chat_is_said_to_reach_no_one(
    assistant: Assistant,
) -> None:
    """Editors' newcomer: a consultant's plain text got only the help, and they believed the
    user had read it."""
    [reply] = await consultant(assistant, text="hallo carla, ja ook voor een vakcollege")
    assert reply.text.startswith("Dit bericht is naar niemand gegaan")
    assert "/antwoord N" in reply.text


async def test_users_commands_do_nothing_in_the_consultants_chat(assistant: Assistant) -> None:
    """The consultants' chat is no user's conversation: /check there started a check for the
    whole group, /annuleer answered as if a user had asked."""
    for command in ("/check", "/annuleer", "/vergeet", "/mijngegevens"):
        [reply] = await consultant(assistant, text=command)
        assert reply.text.startswith("Dat is een commando voor gebruikers"), command
        assert "/oppakken N" in reply.text and not reply.options


async def test_a_consultant_can_work_by_command(assistant: Assistant, store: Store) -> None:
    await hand_over(assistant)
    [listing] = await consultant(assistant, text="/overdrachten")
    assert "#1" in listing.text and "Jan de Vries" in listing.text
    [details] = await consultant(assistant, text="/overdracht 1")
    assert "Groningen" in details.text and [o.id for o in details.options] == [
        "ho:pick:1",
        "ho:close:1",
    ]
    replies = await consultant(assistant, text="/antwoord 1 Ik Kijk Er Even Naar.")
    assert "Doorgestuurd naar Jan de Vries" in replies[-1].text
    assert (await for_user(store))[-1] == "Anna (adviseur): Ik Kijk Er Even Naar."
    [unknown] = await consultant(assistant, text="/overdracht 99")
    assert "bestaat niet" in unknown.text
    [huge] = await consultant(assistant, text="/oppakken 99999999999999999999")  # > 2**63
    assert "bestaat niet" in huge.text
    await consultant(assistant, text="/afronden 1")
    [gone] = await consultant(assistant, text="/overdrachten")
    assert "geen open overdrachten" in gone.text


async def test_others_are_refused_consultant_commands_and_forged_buttons(
    assistant: Assistant, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    await hand_over(assistant)
    await for_consultants(store)
    caplog.set_level(logging.WARNING)
    for text in ("/overdrachten", "/overdracht 1", "/oppakken 1", "/antwoord 1 hoi"):
        [refused] = await say(assistant, text)
        assert "Niet toegestaan" in refused.text, text
    [forged] = await press(assistant, "ho:pick:1")
    assert "Niet toegestaan" in forged.text
    [intruder] = await consultant(
        assistant, text="Ik ben geen adviseur", reply_to="desk:1", user_id="666"
    )
    assert "Niet toegestaan" in intruder.text
    assert (await store.handover(1)).status is HandoverStatus.OPEN  # type: ignore[union-attr]
    assert await for_user(store) == []
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 6


# -- office hours and reminders ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (datetime(2026, 11, 30, 9, 30), datetime(2026, 11, 30, 11, 30)),  # Monday morning
        (datetime(2026, 11, 30, 16, 0), datetime(2026, 12, 1, 10, 0)),  # over the night
        (datetime(2026, 11, 28, 12, 0), datetime(2026, 11, 30, 11, 0)),  # Saturday
        (datetime(2026, 12, 4, 18, 0), datetime(2026, 12, 7, 11, 0)),  # Friday evening
        (datetime(2026, 12, 1, 7, 0), datetime(2026, 12, 1, 11, 0)),  # before opening
    ],
)
def test_two_office_hours_later(start: datetime, expected: datetime) -> None:
    assert add_office_hours(start, 2) == expected


async def test_an_unpicked_handover_is_reminded_once_after_two_office_hours(
    assistant: Assistant, store: Store, clock: Clock
) -> None:
    await hand_over(assistant)
    await for_consultants(store)
    clock.now = MONDAY_MORNING + timedelta(hours=1, minutes=59)
    assert len(await assistant.remind()) == 0
    clock.now = MONDAY_MORNING + timedelta(hours=2)
    assert len(await assistant.remind()) == 1
    [reminder] = await for_consultants(store)
    assert "Herinnering" in reminder and "#1" in reminder
    clock.now += timedelta(hours=3)
    assert len(await assistant.remind()) == 0


async def test_forgetting_removes_the_handover_too(assistant: Assistant, store: Store) -> None:
    await hand_over(assistant)
    await say(assistant, "/vergeet")
    [gone] = await press(assistant, "forget:yes")
    assert "verwijderd" in gone.text
    assert await store.handovers() == []
    # Only a note for the consultants stays: kept under their chat, not the user's.
    [note] = await store.undelivered(recipient=Recipient.CONSULTANTS)
    assert note.key == DESK and "#1" in note.reply.text and "Jan" not in note.reply.text
    assert await store.undelivered(key=USER) == []
    assert (await store.load(USER)).handover is None
    [answer] = await say(assistant, "Wat is een penvoerder?")
    assert "bevoegd gezag" in answer.text


async def test_a_summary_of_hostile_fields_still_fits_one_message(
    assistant: Assistant, store: Store
) -> None:
    """Every field full of characters that grow when escaped (< becomes &lt;)."""
    hostile = "<&" * 250
    message = IncomingMessage(USER, text="/adviseur", user_name="<" * 128, user_id="900")
    await assistant.handle(message)
    await press(assistant, "ho:yes")
    for _ in range(3):  # organisation, role (typed), region
        await say(assistant, hostile)
    await press(assistant, "ho:contact:telegram")
    await say(assistant, hostile)
    [summary] = await for_consultants(store)
    assert len(html.escape(summary, quote=False)) <= SUMMARY_LIMIT
    assert summary.startswith("Overdracht #1")


async def test_handover_numbers_are_never_reused(assistant: Assistant, store: Store) -> None:
    await hand_over(assistant)
    await say(assistant, "/vergeet")
    await press(assistant, "forget:yes")
    await hand_over(assistant)
    [handover] = await store.handovers()
    assert handover.number == 2 and await store.handover(1) is None
