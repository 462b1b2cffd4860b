"""Button ids: every id is "namespace:…", and each namespace belongs to one feature."""

from __future__ import annotations

# The namespace of a button id and the feature that answers it. A feature makes ids only in
# its own namespaces; a button that leads into another feature uses that feature's id below.
NAMESPACES = {
    "ask": "an entry's answer (assistant)",
    "topic": "the topic lists (assistant)",
    "menu": "the assistant's own menu and suggestions (assistant)",
    "lang": "the reply language (language_choice)",
    "forget": "deleting one's data (assistant)",
    "chk": "the eligibility check (eligibility, dialog)",
    "ho": "consent, intake and the consultants' desk (handover)",
    "fb": "whether an answer helped (feedback)",
}

TOPIC_LIST = "topic:all"  # the list of topics
OFFER_CONSULTANT = "ho:offer"  # the offer to put the user in touch with a consultant


# Ids of version 0.1 buttons that may still be on a user's screen, and what they are now.
RENAMED = {
    "ask": "menu:ask",
    "none": "menu:none",
    "topics": TOPIC_LIST,
    "consultant": OFFER_CONSULTANT,
    "forget-yes": "forget:yes",
    "forget-no": "forget:no",
    "check": "chk:start",
    "chk-back": "chk:back",
    "chk-stop": "chk:stop",
    "chk-continue": "chk:continue",
    "chk-restart": "chk:restart",
}


def current(option_id: str) -> str:
    """A pressed button's id as this version names it (an old button keeps working)."""
    return RENAMED.get(option_id, option_id)


def namespace(option_id: str) -> str | None:
    """The namespace of a button id, or None when it has none we know."""
    prefix, colon, _ = option_id.partition(":")
    return prefix if colon and prefix in NAMESPACES else None


# Buttons under a handover in the consultants' chat (Oppakken, Afgerond, with its number):
# they stay under the message, because the assistant answers with the handover's new state.
PICK = "ho:pick:"
CLOSE = "ho:close:"
KEPT_KEYBOARDS = (PICK, CLOSE)


def keeps_keyboard(option_id: str) -> bool:
    """Whether a pressed button's message keeps its keyboard (others show the choice made)."""
    return option_id.startswith(KEPT_KEYBOARDS)
