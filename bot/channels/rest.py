"""The customers' REST channel: Rasa's REST channel with the request checked first.

Rasa's own REST channel lets the caller choose ``input_channel`` in the body (so a customer could
claim to be on the staff's Slack channel), passes any metadata through, and files messages
without a sender under the shared id "default". This one answers 400 to anything that is not
``{"sender": str, "message": str, "metadata"?: object}``, always says it is "rest", and drops
metadata keys that only trusted channels may set.
"""

from __future__ import annotations

import json
import logging
from asyncio import CancelledError
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.guard import handle_or_apologise

log = logging.getLogger(__name__)

MAX_SENDER_LENGTH = 128
MAX_MESSAGE_LENGTH = 5000
# Set by our Slack channel from signed requests; never accepted from a customer.
TRUSTED_METADATA_KEYS = frozenset({"slack_user", "event_id", "out_channel", "thread_id", "users"})


class RequestError(ValueError):
    """The request body is not a valid message; str() says why."""


def parse_message(raw: bytes) -> tuple[str, str, dict[str, Any]]:
    """(sender, message, metadata) from a REST request body, or RequestError."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise RequestError("the body must be JSON") from None
    if not isinstance(body, dict):
        raise RequestError('the body must be an object like {"sender": "…", "message": "…"}')
    sender, message, metadata = body.get("sender"), body.get("message"), body.get("metadata")
    if not isinstance(sender, str) or not sender.strip() or len(sender) > MAX_SENDER_LENGTH:
        raise RequestError(f"'sender' must be a non-empty string of at most {MAX_SENDER_LENGTH}")
    if not isinstance(message, str) or len(message) > MAX_MESSAGE_LENGTH:
        raise RequestError(f"'message' must be a string of at most {MAX_MESSAGE_LENGTH} characters")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise RequestError("'metadata' must be an object")
    metadata = {k: v for k, v in metadata.items() if k not in TRUSTED_METADATA_KEYS}
    return sender, message, metadata


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
                return response.json({"error": str(err)}, status=400)
            collector = CollectingOutputChannel()
            message = UserMessage(text, collector, sender, input_channel="rest", metadata=metadata)
            try:
                await handle_or_apologise(on_new_message, message)
            except CancelledError:
                log.error("REST message from %s timed out", sender)
            return response.json(collector.messages)

        return bp
