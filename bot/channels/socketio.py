"""The storefront's socket.io channel: Rasa's, plus a polite apology instead of silence.

Fixes to Rasa 3.6's ``SocketIOInput`` that the storefront widget needs:

- ``session_request`` awaits ``sio.enter_room``: python-socketio 5.10+ made it a coroutine and
  Rasa calls it without ``await`` (RasaHQ/rasa#13027), so with ``session_persistence`` the socket
  never joined its session's room and never received a reply. Session ids are also checked here
  (short, plain characters), and a missing or malformed one is replaced by a new random id.
- Custom payloads are sent as ``{"custom": payload}`` (the REST channel's shape): Rasa's socket.io
  output passes the payload as keyword arguments to ``sio.emit``, so any payload without exactly
  emit's parameter names (``{"type": "product_cards", ...}``) raised a TypeError.
- ``user_uttered`` is checked like a REST body (an object with a session id, a message string of
  at most ``MAX_MESSAGE_LENGTH`` characters, metadata an object): Rasa's handler crashed on
  anything else and ran any length through the NLU (100,000 characters blocked the server for
  minutes). A refused message gets a polite ``bot_uttered`` reply saying what to do.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint

from bot.channels.guard import handle_or_apologise
from bot.channels.rest import (
    MAX_MESSAGE_LENGTH,
    MessageTooLong,
    RequestError,
    check_message_text,
    check_metadata,
)

log = logging.getLogger(__name__)

SESSION_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
UNREADABLE_MESSAGE = (
    "Sorry, I couldn't read that message. Please type it again; if this keeps happening, "
    "reload the page."
)
TOO_LONG_MESSAGE = (
    f"Sorry, that message is too long for me. Please keep it under {MAX_MESSAGE_LENGTH:,} "
    "characters."
)


def _send_custom_as_message(out: Any) -> None:
    """Makes a socket.io output send custom payloads as ``{"custom": payload}`` messages."""
    if not isinstance(out, SocketIOOutput):
        return

    async def send_custom_json(recipient_id: str, json_message: dict[str, Any], **_: Any) -> None:
        await out._send_message(recipient_id, {"custom": json_message})

    out.send_custom_json = send_custom_json  # type: ignore[method-assign]


class ShopSocketIOInput(SocketIOInput):
    """Socket.IO for the storefront widget (metadata ``customData`` carries the session token)."""

    @classmethod
    def name(cls) -> str:
        return "socketio"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        async def guarded(message: UserMessage) -> None:
            _send_custom_as_message(message.output_channel)
            await handle_or_apologise(on_new_message, message)

        bp = super().blueprint(guarded)
        sio = self.sio
        assert sio is not None  # set by SocketIOInput.blueprint

        # These replace Rasa's handlers of the same events (python-socketio keeps one per event).
        # Clients may emit an event with no data or several values: hence ``*args``.
        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: str, *args: Any) -> None:
            data = args[0] if args else None
            session_id = data.get("session_id") if isinstance(data, dict) else None
            if not isinstance(session_id, str) or not SESSION_ID.fullmatch(session_id):
                session_id = uuid.uuid4().hex
            if self.session_persistence:
                await sio.enter_room(sid, session_id, namespace=self.namespace)
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: str, *args: Any) -> None:
            try:
                sender_id, text, metadata = self.parse_uttered(sid, args)
            except RequestError as err:
                log.info("socket.io message from %s refused: %s", sid, err)
                polite = TOO_LONG_MESSAGE if isinstance(err, MessageTooLong) else UNREADABLE_MESSAGE
                await sio.emit(
                    self.bot_message_evt,
                    {"text": polite, "error": str(err)},
                    room=sid,
                    namespace=self.namespace,
                )
                return
            output = SocketIOOutput(sio, self.bot_message_evt)
            await guarded(
                UserMessage(text, output, sender_id, input_channel=self.name(), metadata=metadata)
            )

        return bp

    def parse_uttered(self, sid: str, args: tuple[Any, ...]) -> tuple[str, str, dict[str, Any]]:
        """(sender id, message, metadata) of a ``user_uttered`` event, or RequestError."""
        if len(args) != 1 or not isinstance(args[0], dict):
            raise RequestError('send an object like {"session_id": "…", "message": "…"}')
        data = args[0]
        if self.session_persistence:
            sender_id = data.get("session_id")
            if not isinstance(sender_id, str) or not SESSION_ID.fullmatch(sender_id):
                raise RequestError("'session_id' must be the id confirmed by session_confirm")
        else:
            sender_id = sid
        metadata = data.get(self.metadata_key)
        if isinstance(metadata, str):  # Rasa's widget may send it JSON-encoded
            try:
                metadata = json.loads(metadata)
            except (ValueError, RecursionError):
                raise RequestError("'metadata' must be an object") from None
        return sender_id, check_message_text(data.get("message")), check_metadata(metadata)
