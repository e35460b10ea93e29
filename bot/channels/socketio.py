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

And what keeps one visitor out of another's conversation:

- Session ids are made and signed here (a random part and an HMAC of it, keyed from
  ``SHOPBOT_SESSION_SECRET``); ``session_request`` resumes a session only with an id this server
  signed, and binds it to the connection: ``user_uttered`` is taken for the bound session only,
  whatever id a client writes. A socket joins only its own session's room.
- Conversations are kept under ``web:<session id>``, apart from every other channel's.
- ``end_session`` ends the bound conversation (Rasa's ``Restarted`` is appended, so what it knew,
  the e-mail and order a guest gave, is gone) and confirms a new session. The widget sends it at
  sign-in, sign-out and "End chat", so the next person on a shared browser starts afresh.
- The client's address (for counting guests' failed order look-ups) is what the connection saw.

Replies of a colleague who took the conversation over (``bot.handoff``) are pushed to the
session's room while one of its connections is open, and wait in the outbox otherwise: a widget
that resumes its session (``session_request``) receives them then.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint

from bot import identity
from bot.channels.guard import end_conversation, handle_or_apologise
from bot.channels.rest import (
    MAX_MESSAGE_LENGTH,
    MessageTooLong,
    RequestError,
    check_message_text,
    check_metadata,
    conversation_id,
)
from bot.handoff import delivery
from shop import settings

log = logging.getLogger(__name__)

SESSION_ID = re.compile(r"[0-9a-f]{32}-[A-Za-z0-9_-]{22}")
CHANNEL = "web"
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


def _session_key() -> bytes:
    """The key session ids are signed with: derived from ``SHOPBOT_SESSION_SECRET`` (so ids
    survive a restart), else random for this process."""
    secret = settings.SESSION_SECRET.get()
    if not secret:
        return _PROCESS_KEY
    return hmac.new(secret.encode(), b"shopbot socket.io session ids", hashlib.sha256).digest()


_PROCESS_KEY = secrets.token_bytes(32)


def _signature(random_part: str) -> str:
    digest = hmac.new(_session_key(), random_part.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:22]


def new_session_id() -> str:
    """A fresh session id: 32 random hex digits, a dash and their signature."""
    random_part = uuid.uuid4().hex
    return f"{random_part}-{_signature(random_part)}"


def is_signed_session_id(value: Any) -> bool:
    """True for a session id this server (or one with the same secret) made."""
    if not isinstance(value, str) or not SESSION_ID.fullmatch(value):
        return False
    random_part, signature = value.split("-", 1)
    return hmac.compare_digest(signature, _signature(random_part))


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
        # Per open connection (removed at disconnect): its session, and the client's address.
        self.bound: dict[str, str] = {}
        self.clients: dict[str, str | None] = {}
        namespace = self.namespace

        def connected(conversation: str) -> bool:
            return any(conversation_id(CHANNEL, s) == conversation for s in self.bound.values())

        async def push(conversation: str, text: str, author: str | None) -> None:
            await sio.emit(
                self.bot_message_evt,
                {"text": text, "agent": author} if author else {"text": text},
                room=conversation,
                namespace=namespace,
            )

        delivery.register(CHANNEL, delivery.Pusher(present=connected, send=push))

        # These replace Rasa's handlers of the same events (python-socketio keeps one per event).
        # Clients may emit an event with no data or several values: hence ``*args``.
        @sio.on("connect", namespace=namespace)
        async def connect(sid: str, environ: dict, *_: Any) -> bool:
            request = environ.get("sanic.request")
            peer = getattr(request, "ip", None)
            forwarded = request.headers.get("x-forwarded-for") if request is not None else None
            self.clients[sid] = identity.client_address(peer, forwarded)
            return True

        @sio.on("disconnect", namespace=namespace)
        async def disconnect(sid: str, *_: Any) -> None:
            self.bound.pop(sid, None)
            self.clients.pop(sid, None)

        @sio.on("session_request", namespace=namespace)
        async def session_request(sid: str, *args: Any) -> None:
            data = args[0] if args else None
            session_id = data.get("session_id") if isinstance(data, dict) else None
            if not self.session_persistence or not is_signed_session_id(session_id):
                session_id = new_session_id()
            previous = self.bound.get(sid)
            if previous and previous != session_id:
                await sio.leave_room(sid, conversation_id(CHANNEL, previous), namespace=namespace)
            self.bound[sid] = session_id
            await sio.enter_room(sid, conversation_id(CHANNEL, session_id), namespace=namespace)
            await sio.emit("session_confirm", session_id, room=sid, namespace=namespace)
            # What the team wrote while the customer was away (never in the way of the session).
            try:
                await delivery.flush(conversation_id(CHANNEL, session_id))
            except Exception:
                log.exception("could not deliver what waits for %s", session_id)

        @sio.on("end_session", namespace=namespace)
        async def end_session(sid: str, *_: Any) -> None:
            # One handler ends the old conversation and starts the new one: python-socketio runs
            # a client's events concurrently, so two events could be handled out of order.
            previous = self.bound.pop(sid, None)
            if previous is not None:
                conversation = conversation_id(CHANNEL, previous)
                await sio.leave_room(sid, conversation, namespace=namespace)
                await end_conversation(conversation)
            session_id = self.bound[sid] = new_session_id()
            await sio.enter_room(sid, conversation_id(CHANNEL, session_id), namespace=namespace)
            await sio.emit("session_confirm", session_id, room=sid, namespace=namespace)

        @sio.on(self.user_message_evt, namespace=namespace)
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
                    namespace=namespace,
                )
                return
            output = SocketIOOutput(sio, self.bot_message_evt)
            await guarded(
                UserMessage(text, output, sender_id, input_channel=self.name(), metadata=metadata)
            )

        return bp

    def parse_uttered(self, sid: str, args: tuple[Any, ...]) -> tuple[str, str, dict[str, Any]]:
        """(conversation id, message, metadata) of a ``user_uttered`` event, or RequestError.

        The conversation is the session bound to this connection by ``session_request``; a
        message naming another session id is refused."""
        if len(args) != 1 or not isinstance(args[0], dict):
            raise RequestError('send an object like {"session_id": "…", "message": "…"}')
        data = args[0]
        bound = self.bound.get(sid)
        if bound is None or data.get("session_id") != bound:
            raise RequestError("'session_id' must be the id confirmed by session_confirm")
        metadata = data.get(self.metadata_key)
        if isinstance(metadata, str):  # Rasa's widget may send it JSON-encoded
            try:
                metadata = json.loads(metadata)
            except (ValueError, RecursionError):
                raise RequestError("'metadata' must be an object") from None
        metadata = check_metadata(metadata)
        metadata[identity.CLIENT_ADDRESS_KEY] = self.clients.get(sid)
        return conversation_id(CHANNEL, bound), check_message_text(data.get("message")), metadata
