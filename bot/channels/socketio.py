"""The storefront's socket.io channel: Rasa's, plus a polite apology instead of silence.

Two fixes to Rasa 3.6's ``SocketIOInput`` that the storefront widget needs:

- ``session_request`` awaits ``sio.enter_room``: python-socketio 5.10+ made it a coroutine and
  Rasa calls it without ``await`` (RasaHQ/rasa#13027), so with ``session_persistence`` the socket
  never joined its session's room and never received a reply. Session ids are also checked here
  (short, plain characters), and a missing or malformed one is replaced by a new random id.
- Custom payloads are sent as ``{"custom": payload}`` (the REST channel's shape): Rasa's socket.io
  output passes the payload as keyword arguments to ``sio.emit``, so any payload without exactly
  emit's parameter names (``{"type": "product_cards", ...}``) raised a TypeError.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint

from bot.channels.guard import handle_or_apologise

SESSION_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")


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

        # Replaces Rasa's handler of the same event (python-socketio keeps one per event).
        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: str, data: Any) -> None:
            session_id = data.get("session_id") if isinstance(data, dict) else None
            if not isinstance(session_id, str) or not SESSION_ID.fullmatch(session_id):
                session_id = uuid.uuid4().hex
            if self.session_persistence:
                await sio.enter_room(sid, session_id, namespace=self.namespace)
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)

        return bp
