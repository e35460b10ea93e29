"""The relay between a customer's chat and the hand-off's Slack thread (runs in the Rasa server).

- Customer → thread: a paused conversation's message is recorded (keyed by its message id) and
  posted to the thread; while a colleague owns the conversation the bot says nothing.
- Thread → customer: the owner's replies (keyed by Slack's ``ts``, so retries and duplicate
  events relay once) go to the outbox, into the conversation (as bot messages carrying the
  colleague's name and the ``ts``) and out to the customer (:mod:`bot.handoff.delivery`).
  ``note:`` messages stay in the thread.
- Buttons: *Take over* (allow-listed staff only; one owner), *Resolve → back to bot* (Rasa's
  ``ConversationResumed`` is appended and the bot greets the customer back), *Internal note*.
"""

from __future__ import annotations

import asyncio
import html
import logging
from dataclasses import dataclass
from typing import Any

from analytics.reports.handoff_card import NOTE, RESOLVE, TAKE_OVER
from analytics.reports.slack import escape
from bot.handoff import delivery
from bot.handoff.slack_client import client
from bot.identity import allowed_slack_users
from shop import handoffs
from shop.store import session_scope

log = logging.getLogger(__name__)

JOINED = "{name} from the team has joined the chat."
WELCOME_BACK = (
    "Thanks for waiting! You're back with the shop assistant: ask me anything about your orders, "
    "returns or our products."
)
NOTE_PREFIX = "note:"
NOT_STAFF = "Only colleagues on the staff list can answer hand-offs."
TAKEN_BY = "{name} has already taken this conversation over."
CLOSED = "This hand-off is already resolved."
NOTE_HINT = "Write your note in this thread starting with `note:`: it stays with the team."
ONLY_OWNER = "{name} answers this customer; press Take over first if you should."
BUTTONS = frozenset({TAKE_OVER, RESOLVE, NOTE})


def _db(fn, *args, **kwargs):
    """Runs ``fn(session, *args)`` in one transaction (called in a worker thread)."""
    with session_scope() as session:
        return fn(session, *args, **kwargs)


async def _in_db(fn, *args, **kwargs):
    return await asyncio.to_thread(_db, fn, *args, **kwargs)


# ---- the conversation in Rasa's tracker store --------------------------------------------------


async def append_events(conversation_id: str, events: list[Any]) -> None:
    """Appends Rasa events to the conversation, under its lock (as a turn would)."""
    from bot.channels.guard import _agent

    agent = _agent()
    if agent is None:
        return
    try:
        async with agent.lock_store.lock(conversation_id):
            tracker = await agent.tracker_store.retrieve(conversation_id)
            if tracker is None:
                return
            for event in events:
                tracker.update(event)
            await agent.tracker_store.save(tracker)
    except Exception:
        log.exception("could not record the hand-off in conversation %s", conversation_id)


def _said(text: str, author: str | None, ts: str | None) -> Any:
    from rasa.shared.core.events import BotUttered

    return BotUttered(text, metadata={"handoff_agent": author, "slack_ts": ts})


async def to_customer(handoff: handoffs.HandoffView, key: str, text: str, author: str | None):
    """Stores a message for the customer once (by ``key``), records it in the conversation and
    delivers it if they are connected. False when ``key`` was relayed before."""
    if await _in_db(handoffs.record_message, handoff, "to_customer", key, text, author) is None:
        return False
    await append_events(handoff.conversation_id, [_said(text, author, key)])
    await delivery.flush(handoff.conversation_id)
    return True


# ---- customer → thread ---------------------------------------------------------------------------


async def customer_message(conversation_id: str, message_id: str | None, text: str) -> str | None:
    """Relays a message of a paused conversation to its hand-off's thread; the hand-off's state
    (``waiting``/``agent``), or None when the conversation has no open hand-off."""
    handoff = await _in_db(handoffs.active_for_conversation, conversation_id)
    if handoff is None:
        return None
    key = message_id or f"text:{hash(text)}"
    row = await _in_db(handoffs.record_message, handoff, "to_thread", key, text, "customer")
    if row is not None and handoff.slack_channel and handoff.thread_ts and _is_thread(handoff):
        await _post_customer_text(handoff, row, text)
    return handoff.state


def _is_thread(handoff: handoffs.HandoffView) -> bool:
    return bool(handoff.thread_ts) and not str(handoff.thread_ts).startswith("claim-")


async def _post_customer_text(handoff: handoffs.HandoffView, row: int, text: str) -> None:
    try:
        ts = await client().post(
            str(handoff.slack_channel), f"Customer: {escape(text)}", thread_ts=handoff.thread_ts
        )
    except Exception:
        log.exception("could not post to the thread of hand-off %s", handoff.id)
        return  # left unposted: posted again with the next card/timer round
    await _in_db(handoffs.set_thread_copy, row, ts)


async def post_unposted(handoff: handoffs.HandoffView) -> None:
    """Posts the customer's messages that arrived before the thread existed."""
    for message in await _in_db(handoffs.unposted_to_thread, handoff.id):
        await _post_customer_text(handoff, message.id, message.text)


# ---- thread → customer ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ThreadMessage:
    """A person's reply in a hand-off thread of the support channel."""

    user: str
    channel: str
    thread_ts: str
    ts: str
    text: str


async def staff_message(message: ThreadMessage) -> None:
    """Relays an allow-listed colleague's thread reply to the customer (once per ``ts``)."""
    handoff = await _in_db(handoffs.by_thread, message.channel, message.thread_ts)
    if handoff is None or handoff.state not in handoffs.OPEN_STATES:
        return
    text = html.unescape(message.text).strip()
    if text.lower().startswith(NOTE_PREFIX):
        await _in_db(handoffs.record_message, handoff, "note", message.ts, text, message.user)
        return
    if message.user not in allowed_slack_users():
        await client().tell(message.channel, message.user, NOT_STAFF, message.thread_ts)
        return
    if handoff.state == "waiting" or handoff.assignee != message.user:
        # Answering a waiting customer takes it over; someone else's customer is not answered.
        taken = await take_over(handoff, message.user, message.channel)
        if taken is None or taken.assignee != message.user:
            return
    name = await client().user_name(message.user)
    await to_customer(handoff, message.ts, text, name)


# ---- buttons -------------------------------------------------------------------------------------


async def take_over(
    handoff: handoffs.HandoffView, user: str, channel: str
) -> handoffs.TakeOver | None:
    """Assigns the hand-off to ``user`` (if allowed and free), tells the customer who joined."""
    if user not in allowed_slack_users():
        await client().tell(channel, user, NOT_STAFF, handoff.thread_ts)
        return None
    name = await client().user_name(user)
    result = await _in_db(handoffs.take_over, handoff.id, user, name)
    if result.outcome == "taken":
        await to_customer(handoff, f"joined:{user}", JOINED.format(name=name), name)
        await _thread_note(handoff, f"<@{user}> took this conversation over.")
    elif result.outcome == "other":
        await client().tell(
            channel, user, ONLY_OWNER.format(name=result.assignee_name), handoff.thread_ts
        )
    elif result.outcome == "closed":
        await client().tell(channel, user, CLOSED, handoff.thread_ts)
    return result


async def resolve(handoff: handoffs.HandoffView, user: str, channel: str) -> bool:
    """Closes the hand-off and hands the conversation back to the bot."""
    from rasa.shared.core.constants import ACTION_LISTEN_NAME
    from rasa.shared.core.events import ActionExecuted, ConversationResumed

    if user not in allowed_slack_users():
        await client().tell(channel, user, NOT_STAFF, handoff.thread_ts)
        return False
    name = await client().user_name(user)
    if not await _in_db(handoffs.resolve, handoff.id, name, "resolved"):
        await client().tell(channel, user, CLOSED, handoff.thread_ts)
        return False
    # Back to where the bot waits for the customer: without ``action_listen`` after the pause,
    # the dialogue policies would read the next message as following the hand-off action.
    await append_events(
        handoff.conversation_id, [ConversationResumed(), ActionExecuted(ACTION_LISTEN_NAME)]
    )
    await to_customer(handoff, "resolved", WELCOME_BACK, None)
    await _thread_note(handoff, f"Resolved by <@{user}>: the bot answers this customer again.")
    return True


async def button(action_id: str, value: str, user: str, channel: str) -> None:
    """What a hand-off card's button does (the request's signature was checked)."""
    try:
        handoff_id = int(value)
    except (TypeError, ValueError):
        return
    handoff = await _in_db(handoffs.get, handoff_id)
    if handoff is None:
        return
    if action_id == TAKE_OVER:
        await take_over(handoff, user, channel)
    elif action_id == RESOLVE:
        await resolve(handoff, user, channel)
    elif action_id == NOTE:
        await client().tell(channel, user, NOTE_HINT, handoff.thread_ts)


async def _thread_note(handoff: handoffs.HandoffView, text: str) -> None:
    if not (handoff.slack_channel and _is_thread(handoff)):
        return
    try:
        await client().post(str(handoff.slack_channel), text, thread_ts=handoff.thread_ts)
    except Exception:
        log.exception("could not post to the thread of hand-off %s", handoff.id)
