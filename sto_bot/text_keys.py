"""The text keys the code asks for, collected from the code itself (so no list is kept by
hand): `texts.yaml` must define each of them, which `sto-bot kb check` reports otherwise."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

PACKAGES = ("sto_bot", "bot")
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


def missing_texts(defined: set[str] | frozenset[str]) -> list[str]:
    """The keys the code asks for that `defined` lacks, and a placeholder for each prefix no
    defined key starts with ("handover_ask_…")."""
    keys, prefixes = text_keys()
    missing = sorted(keys - defined)
    missing += sorted(f"{p}…" for p in prefixes if not any(k.startswith(p) for k in defined))
    return missing
