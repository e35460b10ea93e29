"""The storefront's socket.io channel: Rasa's, plus a polite apology instead of silence."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint

from bot.channels.guard import handle_or_apologise


class ShopSocketIOInput(SocketIOInput):
    """Socket.IO for the storefront widget (metadata ``customData`` carries the session token)."""

    @classmethod
    def name(cls) -> str:
        return "socketio"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        async def guarded(message: UserMessage) -> None:
            await handle_or_apologise(on_new_message, message)

        return super().blueprint(guarded)
