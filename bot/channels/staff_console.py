"""The local staff console channel (``POST /webhooks/staff/webhook``), for shops without Slack.

Requests need ``Authorization: Bearer $SHOPBOT_STAFF_CONSOLE_TOKEN``; without that variable the
channel is disabled (503). Replies come back in the response body, like the REST channel.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.guard import handle_or_apologise
from bot.channels.rest import RequestError, conversation_id, parse_message, replies_to
from bot.identity import CONSOLE_CHANNEL
from shop import settings


def _authorised(request: Request) -> bool | None:
    """True/False for a right/wrong token; None when the console is not configured."""
    expected = settings.STAFF_CONSOLE_TOKEN.get() or ""
    if not expected:
        return None
    given = request.headers.get("authorization", "")
    scheme, _, token = given.partition(" ")
    # Sanic decodes header bytes that are not UTF-8 as surrogates: encode them back, don't fail.
    given_token = token.encode("utf-8", "surrogateescape")
    return scheme.lower() == "bearer" and hmac.compare_digest(given_token, expected.encode())


class StaffConsoleOutput(CollectingOutputChannel):
    """Collects the replies under the console's own name, so responses can have staff wording
    (``channel: staff`` in domain.yml) where the customers' would not fit."""

    @classmethod
    def name(cls) -> str:
        return CONSOLE_CHANNEL


class StaffConsoleInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return CONSOLE_CHANNEL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint("staff_console_webhook", __name__)

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            auth = _authorised(request)
            if auth is None:
                return response.json(
                    {
                        "error": f"the staff console is disabled: set {settings.STAFF_CONSOLE_TOKEN.name}"
                    },
                    status=503,
                )
            if not auth:
                return response.json({"error": "missing or wrong staff token"}, status=401)
            try:
                sender, text, metadata = parse_message(request.body)
            except RequestError as err:
                return response.json({"error": str(err)}, status=err.status)
            collector = StaffConsoleOutput()
            message = UserMessage(
                text,
                collector,
                conversation_id(CONSOLE_CHANNEL, sender),
                input_channel=CONSOLE_CHANNEL,
                metadata=metadata,
            )
            await handle_or_apologise(on_new_message, message)
            return response.json(replies_to(sender, collector))

        return bp
