"""Never leave a customer in silence: when a turn produced no reply (the action server is down,
the database is unreachable, an action crashed), say so politely.

Either way the customer is asked to try again, so the failed turn must not count:

- A turn that raised was not recorded (Rasa saves the conversation once, at the end of the turn),
  so whatever it said before failing will not be remembered: a REST reply then carries only the
  apology, and streaming channels send the apology after it.
- A turn that ended in silence was recorded, action failures included (Rasa logs an action whose
  call failed as executed), and so was a turn in which an action apologised itself (its database
  was down: the actions say :data:`shop.errors.APOLOGY` too). Such a turn is deleted from the
  conversation store where the store can do that (:mod:`bot.server.tracker_store`), otherwise a "yes"
  sent again to "Shall I register the return?" would find the question already answered.

The customer's next try then continues the conversation where it really was.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from bot.server.tracker_store import fail_loudly, primary_store
from shop.errors import APOLOGY

log = logging.getLogger(__name__)


PAUSED_NOTICE = (
    "Your conversation is with our support team now; a member of the team will get back to you."
)


def _agent() -> Any:
    """The running Rasa agent, or None (no Sanic app, e.g. in unit tests)."""
    try:
        from sanic import Sanic

        return Sanic.get_app().ctx.agent
    except Exception:
        return None


async def _is_paused(sender_id: str) -> bool:
    try:
        tracker = await _agent().tracker_store.retrieve(sender_id)
        return bool(tracker and tracker.is_paused())
    except Exception:  # no app/agent (tests) or tracker store down: treat as not paused
        log.debug("could not check whether %s is paused", sender_id, exc_info=True)
        return False


async def _relayed_to_colleague(message: UserMessage) -> bool:
    """Relays a paused conversation's message to its hand-off thread; True when a colleague owns
    the conversation (then the bot stays silent)."""
    from bot.handoff.relay import customer_message

    try:
        state = await customer_message(message.sender_id, message.message_id, message.text or "")
    except Exception:
        log.exception("could not relay the message of %s to its hand-off", message.sender_id)
        return False
    return state == "agent"


async def _forget_turn(message: UserMessage) -> None:
    """Deletes the turn of ``message`` from its conversation, if the store can (and no newer
    message came in meanwhile)."""
    agent = _agent()
    forget = getattr(primary_store(getattr(agent, "tracker_store", None)), "forget_turn", None)
    if forget is None:
        return
    try:
        async with agent.lock_store.lock(message.sender_id):
            await forget(message.sender_id, message.message_id)
    except Exception:
        log.exception("could not forget the failed turn of %s", message.sender_id)


async def end_conversation(sender_id: str) -> None:
    """Ends the conversation ``sender_id``: Rasa's ``Restarted`` is appended, so everything it
    knew (a guest's e-mail and order number) is forgotten. A conversation with no events, or no
    running agent, is left alone."""
    from rasa.shared.core.events import Restarted

    agent = _agent()
    if agent is None:
        return
    try:
        async with agent.lock_store.lock(sender_id):
            tracker = await agent.tracker_store.retrieve(sender_id)
            if tracker is None or not tracker.events:
                return
            tracker.update(Restarted())
            await agent.tracker_store.save(tracker)
    except Exception:
        log.exception("could not end the conversation %s", sender_id)


async def handle_or_apologise(
    on_new_message: Callable[[UserMessage], Awaitable[Any]], message: UserMessage
) -> None:
    """Runs the turn; if it failed or sent nothing back, sends an apology (or, for a paused
    conversation, the hand-off notice)."""
    agent = _agent()
    if agent is not None:
        fail_loudly(agent.tracker_store)
    out = message.output_channel
    collected_before = len(out.messages) if isinstance(out, CollectingOutputChannel) else 0
    original = out.send_response
    sent = 0
    apologised = False

    async def counting(recipient_id: str, msg: dict[str, Any]) -> None:
        nonlocal sent, apologised
        sent += 1
        apologised = apologised or msg.get("text") == APOLOGY
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
    if sent and not failed:
        if apologised:  # an action failed and said so: the retry it asks for must work
            await _forget_turn(message)
        return
    if failed and isinstance(out, CollectingOutputChannel):
        del out.messages[collected_before:]  # the turn was not recorded: take back what it said
    paused = not failed and await _is_paused(message.sender_id)
    if not failed and not paused:
        await _forget_turn(message)
    if paused and await _relayed_to_colleague(message):
        return  # a colleague answers in their own time; the bot says nothing
    try:
        await original(message.sender_id, {"text": PAUSED_NOTICE if paused else APOLOGY})
    except Exception:
        log.exception("could not send the apology to %s", message.sender_id)
