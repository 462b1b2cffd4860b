"""Whether an answer helped: 👍 / 👎 under each answer, "wat zocht u?" after a 👎, and "dank je,
dat hielp" counted as a 👍. Each answer is rated once; what users said is kept as events (so
retention and /vergeet treat it like everything else) for the editors' report."""

from __future__ import annotations

from dataclasses import replace

from sto_bot.buttons import OFFER_CONSULTANT
from sto_bot.knowledge import Texts
from sto_bot.models import Changes, Event, Language, Option, Rateable, Reply
from sto_bot.text import fold

UP = "fb:up:"  # + the answer's number in the conversation, ":", its entry
DOWN = "fb:down:"
SKIP = "fb:skip"
NOTE = "feedback-note:"  # the pending state after a 👎: + the entry, awaiting what was sought
KEPT = 5  # answers that can still be rated: the latest few, so old buttons stay honest
MAX_NOTE_CHARS = 500
# Words that turn "dat hielp" around: such a message is no thanks.
NEGATIONS = frozenset({"niet", "geen", "nauwelijks", "not", "no", "never", "hardly", "nee"})


class Feedback:
    """Offers, records and thanks for feedback on answers."""

    def __init__(self, texts: Texts) -> None:
        self.texts = texts

    def offer(
        self, changes: Changes, entry: str, question: str, language: Language
    ) -> tuple[Option, ...]:
        """The two buttons under an answer, numbered for this conversation and naming the
        entry (a number alone would rate a newer answer once the numbering starts again,
        after /vergeet). `question`: what the user typed ("" for an answer picked from a list)."""
        state = changes.state
        number = state.answers_given + 1
        rateable = (*state.rateable, Rateable(number, entry, question[:MAX_NOTE_CHARS]))
        changes.state = replace(state, answers_given=number, rateable=rateable[-KEPT:])
        return (
            Option(f"{UP}{number}:{entry}", self.texts.get("feedback_up", language)),
            Option(f"{DOWN}{number}:{entry}", self.texts.get("feedback_down", language)),
        )

    @staticmethod
    def negated(text: str) -> bool:
        """Whether a message says the opposite of what its words would ("dat hielp niet")."""
        return not NEGATIONS.isdisjoint(fold(text).split())

    def on_choice(
        self, choice: str, changes: Changes, language: Language, busy: bool
    ) -> list[Reply]:
        """A 👍, a 👎 (then: what were you looking for? unless `busy` with the check or a
        consultant, where the next message means something else), or skipping that question."""
        if choice == SKIP:
            if (changes.state.pending or "").startswith(NOTE):
                changes.state = replace(changes.state, pending=None)
            return [Reply(self.texts.get("feedback_skipped", language))]
        helpful = choice.startswith(UP)
        number, _, entry = choice.removeprefix(UP if helpful else DOWN).partition(":")
        rated = next(
            (r for r in changes.state.rateable if (str(r.number), r.entry) == (number, entry)),
            None,
        )
        if rated is None:  # rated already, or too old to rate
            return [Reply(self.texts.get("feedback_already", language))]
        self._record(changes, rated, helpful)
        if helpful:
            return [Reply(self.texts.get("feedback_thanks", language))]
        if busy or changes.state.pending is not None:  # the next message means something else
            return [Reply(self.texts.get("feedback_noted_down", language))]
        changes.state = replace(changes.state, pending=NOTE + rated.entry)
        options = (
            Option(SKIP, self.texts.get("feedback_skip", language)),
            Option(OFFER_CONSULTANT, self.texts.get("consultant_button", language)),
        )
        return [Reply(self.texts.get("feedback_what_sought", language), options)]

    def thanked(self, changes: Changes, language: Language) -> list[Reply] | None:
        """ "Dank je, dat hielp": a 👍 for the latest answer not rated yet; None when there is
        none (then it is just a thank-you)."""
        if not changes.state.rateable:
            return None
        self._record(changes, changes.state.rateable[-1], helpful=True)
        return [Reply(self.texts.get("feedback_thanks", language))]

    def heard(self, typed: str | None, changes: Changes, language: Language) -> Reply | None:
        """The message after a 👎: typed text is what the user was looking for (kept, and then
        handled as usual); anything else lets the question go. The thanks, if one was kept."""
        pending = changes.state.pending or ""
        if not pending.startswith(NOTE):
            return None
        changes.state = replace(changes.state, pending=None)
        if not typed or typed.startswith("/"):
            return None
        note = {"entry": pending.removeprefix(NOTE), "text": typed[:MAX_NOTE_CHARS]}
        changes.events.append(Event("feedback_note", note))
        return Reply(self.texts.get("feedback_noted", language))

    @staticmethod
    def _record(changes: Changes, rated: Rateable, helpful: bool) -> None:
        """Keep the rating as an event; the answer cannot be rated again."""
        data = {"entry": rated.entry, "helpful": helpful, "question": rated.question}
        changes.events.append(Event("feedback", data))
        left = tuple(r for r in changes.state.rateable if r.number != rated.number)
        changes.state = replace(changes.state, rateable=left)
