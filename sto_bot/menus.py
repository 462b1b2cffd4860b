"""What the assistant offers where a user may not know what to type: the main menu, help,
the topic lists; all made from the knowledge base."""

from __future__ import annotations

from sto_bot import eligibility
from sto_bot.answers import AskResult
from sto_bot.buttons import OFFER_CONSULTANT, TOPIC_LIST
from sto_bot.knowledge import KnowledgeBase
from sto_bot.matcher import MAX_CHOICES
from sto_bot.models import Band, Language, Option, Reply

ASK = "menu:ask"
NONE_OF_THESE = "menu:none"


class Menus:
    """Menus and topic lists in either language."""

    def __init__(self, knowledge: KnowledgeBase) -> None:
        self.knowledge = knowledge
        self.texts = knowledge.texts

    def menu(self, language: Language) -> tuple[Option, ...]:
        """The main menu: ask, the check, the topics, a consultant."""
        return (
            Option(ASK, self.texts.get("ask_button", language)),
            Option(eligibility.START, self.texts.get("check_button", language)),
            self.topics_option(language),
            Option(OFFER_CONSULTANT, self.texts.get("consultant_button", language)),
        )

    def help_options(self, language: Language, topic_id: str | None = None) -> tuple[Option, ...]:
        """What to offer where help is needed: the topics (or the one a keyword named) and a
        consultant."""
        topic = self.knowledge.topic(topic_id) if topic_id else None
        return (
            Option(f"topic:{topic.id}", topic.title[language])
            if topic is not None
            else self.topics_option(language),
            Option(OFFER_CONSULTANT, self.texts.get("consultant_button", language)),
        )

    def answer_reply(self, result: AskResult, in_check: bool = False) -> Reply:
        """An answer with what it offers next, "bedoelt u…?" with its choices (`in_check`,
        none of them leads back to the check), or a fallback with the way to the topics and a
        consultant."""
        language = result.language
        if result.status is Band.ANSWER:
            # The other question of the message and a likely answer's runners-up come first.
            offered = [*result.suggestions]
            offered += [s for s in result.follow_ups if s not in offered]
            options = tuple(Option(f"ask:{s.entry}", s.question) for s in offered[:MAX_CHOICES])
            return Reply(result.text, options)
        if result.status is Band.SUGGEST:
            options = tuple(Option(f"ask:{s.entry}", s.question) for s in result.suggestions)
            none = Option(
                NONE_OF_THESE,
                self.texts.get("none_of_these_check", language)
                if in_check
                else self.texts.get("none_of_these", language),
            )
            return Reply(result.text, (*options, none))
        return Reply(result.text, self.help_options(language, result.topic))

    def topics_option(self, language: Language) -> Option:
        """The button to the list of topics."""
        return Option(TOPIC_LIST, self.texts.get("topics_button", language))

    def topic_list(self, language: Language) -> Reply:
        """/onderwerpen: every topic as a button."""
        options = tuple(
            Option(f"topic:{topic.id}", topic.title[language]) for topic in self.knowledge.topics
        )
        return Reply(self.texts.get("topics_intro", language), options)

    def topic_questions(self, topic_id: str, language: Language) -> Reply:
        """One topic's questions as buttons, and the way back to the topics."""
        topic = self.knowledge.topic(topic_id)
        assert topic is not None
        options = tuple(
            Option(f"ask:{entry_id}", self.knowledge.entries[entry_id].title(language))
            for entry_id in topic.entry_ids
        )
        text = self.texts.get("topic_intro", language, title=topic.title[language])
        return Reply(text, (*options, self.topics_option(language)))

    @staticmethod
    def lists_a_topic(options: tuple[Option, ...]) -> bool:
        """Whether these options are a topic's questions with the way back to the topics."""
        return (
            bool(options)
            and options[-1].id == TOPIC_LIST
            and all(option.id.startswith("ask:") for option in options[:-1])
        )

    def help_text(self, language: Language) -> str:
        """/help: how it works, every command from the command table, what one can type."""
        commands = self.knowledge.commands.help_lines(language)
        return self.texts.get("help", language, commands=commands)

    def on_choice(self, choice: str, language: Language) -> Reply | None:
        """A button of the menus and lists: the topics, one topic, "ask a question", "none of
        these"; None for any other button."""
        kind, _, value = choice.partition(":")
        if choice == TOPIC_LIST:
            return self.topic_list(language)
        if kind == "topic" and self.knowledge.topic(value) is not None:
            return self.topic_questions(value, language)
        if choice == ASK:
            return Reply(self.texts.get("ask_prompt", language))
        if choice == NONE_OF_THESE:
            return Reply(
                self.texts.get("none_of_these_reply", language), self.help_options(language)
            )
        return None
