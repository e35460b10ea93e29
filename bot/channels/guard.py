"""Never leave a customer in silence: when a turn produced no reply (the action server is down,
the database is unreachable, an action crashed), say so politely."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage

log = logging.getLogger(__name__)

APOLOGY = "Sorry, something went wrong on our side. Please try again in a moment."
PAUSED_NOTICE = (
    "Your conversation is with our support team now; a member of the team will get back to you."
)


async def _is_paused(sender_id: str) -> bool:
    try:
        from sanic import Sanic

        agent = Sanic.get_app().ctx.agent
        tracker = await agent.tracker_store.retrieve(sender_id)
        return bool(tracker and tracker.is_paused())
    except Exception:  # no app/agent (tests) or tracker store down: treat as not paused
        log.debug("could not check whether %s is paused", sender_id, exc_info=True)
        return False


async def handle_or_apologise(
    on_new_message: Callable[[UserMessage], Awaitable[Any]], message: UserMessage
) -> None:
    """Runs the turn; if nothing was sent back, sends an apology (or the hand-off notice)."""
    out = message.output_channel
    original = out.send_response
    sent = 0

    async def counting(recipient_id: str, msg: dict[str, Any]) -> None:
        nonlocal sent
        sent += 1
        await original(recipient_id, msg)

    out.send_response = counting  # type: ignore[method-assign]
    failed = False
    try:
        await on_new_message(message)
    except Exception:
        failed = True
        log.exception("turn for %s failed", message.sender_id)
    finally:
        out.send_response = original  # type: ignore[method-assign]
    if sent:
        return
    notice = PAUSED_NOTICE if not failed and await _is_paused(message.sender_id) else APOLOGY
    try:
        await original(message.sender_id, {"text": notice})
    except Exception:
        log.exception("could not send the apology to %s", message.sender_id)
