"""Getting messages from the team to the customer's chat, exactly once, even after a pause.

Every such message is first stored in the conversation's outbox (:mod:`shop.handoffs`); a channel
that can push (socket.io) registers here how to tell whether the customer is connected and how
to send, and :func:`flush` delivers what waits, in order, claiming each message before sending
it. The socket.io channel flushes again when a customer's widget reconnects; the REST channel,
which cannot push, hands out what waits with its next answer (:func:`drain`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from shop import handoffs
from shop.store import session_scope

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pusher:
    """How a channel pushes to a conversation: is anyone there, and send (text, author)."""

    present: Callable[[str], bool]
    send: Callable[[str, str, str | None], Awaitable[None]]


_pushers: dict[str, Pusher] = {}
_locks: dict[str, asyncio.Lock] = {}


def register(prefix: str, pusher: Pusher) -> None:
    """Conversations ``<prefix>:…`` are pushed to with ``pusher``."""
    _pushers[prefix] = pusher


def _pusher(conversation_id: str) -> Pusher | None:
    return _pushers.get(conversation_id.split(":", 1)[0])


def _outbox(conversation_id: str) -> list[handoffs.Outgoing]:
    with session_scope() as session:
        return handoffs.outbox(session, conversation_id)


def _claim(message_id: int) -> bool:
    with session_scope() as session:
        return handoffs.claim_delivery(session, message_id)


async def flush(conversation_id: str) -> int:
    """Pushes the conversation's waiting messages while the customer is connected; how many."""
    pusher = _pusher(conversation_id)
    if pusher is None or not pusher.present(conversation_id):
        return 0
    lock = _locks.setdefault(conversation_id, asyncio.Lock())
    sent = 0
    async with lock:  # one flush at a time per conversation keeps the order
        for message in await asyncio.to_thread(_outbox, conversation_id):
            if not pusher.present(conversation_id):
                break  # left meanwhile: the rest waits for the reconnect
            if not await asyncio.to_thread(_claim, message.id):
                continue  # another server delivered it
            await pusher.send(conversation_id, message.text, message.author)
            sent += 1
    if not lock.locked():
        _locks.pop(conversation_id, None)
    return sent


def _waiting() -> list[str]:
    with session_scope() as session:
        return handoffs.conversations_waiting(session)


async def flush_waiting() -> int:
    """Delivers what waits for customers connected to this process (a reply relayed by another
    server or worker, or one that came in while the customer was reconnecting)."""
    sent = 0
    for conversation_id in await asyncio.to_thread(_waiting):
        pusher = _pusher(conversation_id)
        if pusher is not None and pusher.present(conversation_id):
            sent += await flush(conversation_id)
    return sent


def drain(conversation_id: str) -> list[handoffs.Outgoing]:
    """Claims and returns every waiting message of the conversation (channels that cannot push
    hand them out with their next answer). Blocking: call it in a thread."""
    return [m for m in _outbox(conversation_id) if _claim(m.id)]
