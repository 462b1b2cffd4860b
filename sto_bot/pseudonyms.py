"""Stand-ins for user and chat ids in log lines: stable within a deployment, not reversible."""

from __future__ import annotations

import hashlib
import secrets

_key = secrets.token_bytes(32)  # until the process sets a key of its own


def set_key(secret: str) -> None:
    """Derive the key from a secret the deployment keeps (the bot token): the same user gets
    the same pseudonym across restarts, and nobody without the secret can reverse it."""
    global _key
    _key = hashlib.sha256(b"sto-bot log pseudonyms\0" + secret.encode()).digest()


def pseudonym(value: object) -> str:
    """A short stand-in for an id (a user id, a chat id, a conversation key) in a log line."""
    if value is None:
        return "-"
    return hashlib.blake2b(str(value).encode(), key=_key, digest_size=6).hexdigest()
