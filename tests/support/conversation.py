"""Talking to a running assistant in tests: one conversation per :class:`Chat`, and how the polite
apology looks (the channel guard's and the actions' wording both contain ``SORRY_MARK``)."""

from __future__ import annotations

import urllib.error
import uuid

SORRY_MARK = "something went wrong on our side"


def texts_of(replies: list[dict]) -> str:
    """The texts of the bot's replies, one per line."""
    return "\n".join(r.get("text") or "" for r in replies)


def is_apology(replies: list[dict]) -> bool:
    """True when the bot said it failed and asked to try again."""
    return any(SORRY_MARK in (r.get("text") or "").lower() for r in replies)


def buttons(replies: list[dict]) -> list[dict]:
    return [b for r in replies for b in r.get("buttons") or []]


class Chat:
    """One conversation (its own sender id) over REST, as a guest or a signed-in customer.

    ``server`` picks one of the assistant's Rasa servers (each message may pick another)."""

    def __init__(self, assistant, customer_id: int | None = None, server: int = 0):
        self.a = assistant
        self.sender = "fault-" + uuid.uuid4().hex[:12]
        self.server = server
        self.metadata = (
            {"session_token": assistant.token_for(customer_id)} if customer_id is not None else None
        )

    def say(self, text: str, server: int | None = None, timeout: float = 120) -> list[dict]:
        return self.a.say(
            text,
            sender=self.sender,
            metadata=self.metadata,
            timeout=timeout,
            server=self.server if server is None else server,
        )

    def texts(self, text: str, server: int | None = None) -> str:
        return texts_of(self.say(text, server=server))

    def user_texts(self, server: int = 0) -> list[str]:
        """The user messages in the conversation's tracker, in order (Rasa's HTTP API)."""
        events = self.a.tracker(self.sender, server=server)["events"]
        return [e.get("text") for e in events if e.get("event") == "user"]


def http_error_text(err: urllib.error.HTTPError) -> str:
    """``HTTP <code>: <body start>`` for a failed request (for assertion messages)."""
    try:
        body = err.read()[:300].decode("utf-8", "replace")
    except Exception:
        body = ""
    return f"HTTP {err.code}: {body}"
