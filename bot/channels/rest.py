"""The customers' REST channel: Rasa's REST channel with the request checked first.

Rasa's own REST channel lets the caller choose ``input_channel`` in the body (so a customer could
claim to be on the staff's Slack channel), passes any metadata through, and files messages
without a sender under the shared id "default". This one answers 400 to anything that is not
``{"sender": str, "message": str, "metadata"?: object}``, always says it is "rest", drops
metadata keys that only trusted channels may set, adds the client's address (for counting
guests' failed order look-ups), and files the conversation under ``rest:<sender>``: every channel
has its own conversation ids, so no REST sender can reach a Slack, console or web conversation.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from asyncio import CancelledError
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import identity
from bot.channels.guard import handle_or_apologise
from bot.handoff import delivery

log = logging.getLogger(__name__)

MAX_SENDER_LENGTH = 128
# NLU time grows with the text: 5,000 characters take about a second, 100,000 several minutes of
# a blocked server. Every channel applies this limit.
MAX_MESSAGE_LENGTH = 5000
# A message body is a few KB at most; anything far larger is refused before it is parsed.
MAX_BODY_BYTES = 64 * 1024
# Set by our channels (Slack from signed requests; every channel the client's address) and our
# tracker store; never accepted from a customer.
TRUSTED_METADATA_KEYS = frozenset(
    {
        "slack_user",
        "event_id",
        "out_channel",
        "thread_id",
        "users",
        identity.CLIENT_ADDRESS_KEY,
        identity.SESSION_CUSTOMER_KEY,
    }
)


# Control characters other than tab and line breaks, and UTF-16 surrogates that JSON can carry
# unpaired ("\\ud800"): PostgreSQL refuses NUL in text and no UTF-8 encoder takes a lone surrogate.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class RequestError(ValueError):
    """The request body is not a valid message; str() says why, ``status`` is the HTTP status."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class MessageTooLong(RequestError):
    """The message text is longer than MAX_MESSAGE_LENGTH."""


def conversation_id(channel: str, sender: str) -> str:
    """The id a conversation of ``sender`` on ``channel`` is kept under ("rest:abc"): senders of
    different channels can never name each other's conversations."""
    return f"{channel}:{sender}"


def replies_to(sender: str, collector: CollectingOutputChannel) -> list[dict[str, Any]]:
    """The collected replies addressed as the client named itself (``sender``, not the
    channel's conversation id)."""
    return [dict(reply, recipient_id=sender) for reply in collector.messages]


def clean_text(text: str) -> str:
    """``text`` without control characters (tab and line breaks stay) and with unpaired
    surrogates replaced by U+FFFD, so it can be stored in any database."""
    return _SURROGATE.sub("\ufffd", _CONTROL.sub("", text))


def check_message_text(message: Any) -> str:
    """The cleaned message text, or RequestError when it is not a string of the allowed size."""
    error = f"'message' must be a string of at most {MAX_MESSAGE_LENGTH} characters"
    if not isinstance(message, str):
        raise RequestError(error)
    if len(message) > MAX_MESSAGE_LENGTH:
        raise MessageTooLong(error)
    return clean_text(message)


def check_metadata(metadata: Any) -> dict[str, Any]:
    """The metadata without the keys only trusted channels may set, or RequestError."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise RequestError("'metadata' must be an object")
    return {k: v for k, v in metadata.items() if k not in TRUSTED_METADATA_KEYS}


def check_sender(sender: Any) -> str:
    """``sender`` if it is a usable REST sender id, else RequestError."""
    if (
        not isinstance(sender, str)
        or not sender.strip()
        or len(sender) > MAX_SENDER_LENGTH
        or clean_text(sender) != sender
    ):
        raise RequestError(
            f"'sender' must be a non-empty string of at most {MAX_SENDER_LENGTH} characters "
            "without control characters"
        )
    return sender


def parse_message(raw: bytes) -> tuple[str, str, dict[str, Any]]:
    """(sender, message, metadata) from a REST request body, or RequestError."""
    if len(raw or b"") > MAX_BODY_BYTES:
        raise RequestError(f"the body is larger than {MAX_BODY_BYTES // 1024} KB", status=413)
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # deep nesting: RecursionError
        raise RequestError("the body must be JSON") from None
    if not isinstance(body, dict):
        raise RequestError('the body must be an object like {"sender": "…", "message": "…"}')
    sender = check_sender(body.get("sender"))
    return sender, check_message_text(body.get("message")), check_metadata(body.get("metadata"))


class ShopRestInput(RestInput):
    """REST channel for customers and scripts (``POST /webhooks/rest/webhook``)."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        bp = Blueprint("shop_rest_webhook", __name__)

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                sender, text, metadata = parse_message(request.body)
            except RequestError as err:
                return response.json({"error": str(err)}, status=err.status)
            metadata[identity.CLIENT_ADDRESS_KEY] = identity.client_address(
                request.ip, request.headers.get("x-forwarded-for")
            )
            collector = CollectingOutputChannel()
            message = UserMessage(
                text,
                collector,
                conversation_id("rest", sender),
                input_channel="rest",
                metadata=metadata,
            )
            try:
                await handle_or_apologise(on_new_message, message)
            except CancelledError:
                log.error("REST message from %s timed out", sender)
            return response.json(replies_to(sender, collector))

        @bp.route("/outbox", methods=["POST"])
        async def outbox(request: Request) -> HTTPResponse:
            """What the team wrote since the client last asked (``{"sender": …}``): a REST
            client polls this while its conversation is handed off (the webhook answers a
            message, it cannot push; and asking the shop database on every message would make
            every answer wait for it)."""
            try:
                body = json.loads(request.body or b"")
                sender = body.get("sender") if isinstance(body, dict) else None
                check_sender(sender)
            except (ValueError, UnicodeDecodeError, RecursionError):
                return response.json({"error": "the body must be JSON"}, status=400)
            except RequestError as err:
                return response.json({"error": str(err)}, status=err.status)
            return response.json(await _from_colleagues(sender))

        return bp


async def _from_colleagues(sender: str) -> list[dict[str, Any]]:
    """The REST sender's waiting messages from the team (each handed out once); none when the
    shop database cannot be reached (they wait for the next poll)."""
    try:
        waiting = await asyncio.to_thread(delivery.drain, conversation_id("rest", sender))
    except Exception:
        log.exception("could not read the outbox of %s", sender)
        return []
    return [
        {"recipient_id": sender, "text": m.text, **({"agent": m.author} if m.author else {})}
        for m in waiting
    ]
