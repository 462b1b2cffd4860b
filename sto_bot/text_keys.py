"""The text keys the code asks for, collected from the code itself (so no list is kept by
hand): `texts.yaml` must define each of them, which `sto-bot kb check` reports otherwise."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

PACKAGES = ("sto_bot", "bot")
WORDINGS = ("telegram", "console")  # ConversationKey.wording: how a channel is talked about
# The values a key built in code ("handover_ask_{step}") is completed with; a test checks
# that every prefix the code builds is listed here, so each built key is required too.
BUILT: dict[str, tuple[str, ...]] = {
    "handover_ask_": ("organisation", "region", "email", "phone", "question"),
    "handover_bad_": ("email", "phone"),
    "handover_reply_": ("chat", "email", "phone"),
    "status_": ("met", "not_met", "unknown"),
    **dict.fromkeys(
        (
            "handover_thread_forgotten_",
            "handover_usage_reply_",
            "how_to_reply_",
            "name_source_",
            "privacy_chat_id_",
            "privacy_consultants_",
            "thread_reply_",
        ),
        WORDINGS,
    ),
}
# A call that fetches a text by its key (texts.get, texts.table, and the consultants' _nl)
# with the key as a literal; an f-string key ("handover_ask_{step}") counts as a prefix.
_ASKED = re.compile(r"""(?:texts\.get|texts\.table|\b_nl)\(\s*(f?)["']([a-z0-9_]+)(\{?)""")


@cache
def text_keys() -> tuple[frozenset[str], frozenset[str]]:
    """(the keys the code asks for by name, the prefixes of keys it builds), from the source
    files of the installed packages (empty where they are not shipped as source)."""
    keys: set[str] = set()
    prefixes: set[str] = set()
    root = Path(__file__).resolve().parent.parent
    for package in PACKAGES:
        for path in sorted((root / package).glob("*.py")):
            for f_string, key, brace in _ASKED.findall(path.read_text(encoding="utf-8")):
                (prefixes if f_string and brace else keys).add(key)
    return frozenset(keys), frozenset(prefixes)


def required_texts() -> frozenset[str]:
    """Every text key the code may ask for: by name, and each key it builds from a prefix."""
    keys, prefixes = text_keys()
    built = {prefix + value for prefix in prefixes for value in BUILT.get(prefix, ())}
    return keys | built


def missing_texts(defined: set[str] | frozenset[str]) -> list[str]:
    """The keys the code may ask for that `defined` lacks."""
    return sorted(required_texts() - defined)
