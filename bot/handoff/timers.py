"""The hand-off timers of the Rasa server: post the cards of new hand-offs (the action server
only writes them down) and remind the support group of hand-offs nobody took in time.

Several servers may run these loops: each card and each reminder is claimed in the database
first (:mod:`shop.handoffs`), so each is posted once.
"""

from __future__ import annotations

import asyncio
import logging

from analytics.reports.handoff_card import context_card
from bot.handoff import delivery, relay
from bot.handoff.slack_client import client, support_channel
from shop import handoffs, settings
from shop.store import session_scope

log = logging.getLogger(__name__)

CARD_POLL_SECONDS = 1.0
# After a failed round (the shop database or Slack down): wait longer, log less.
FAILED_ROUND_PAUSE_SECONDS = 15.0
REMINDER_POLL_SECONDS = 20.0
REMINDER = (
    "{group} ticket #{ticket} has waited over {minutes} minutes for a colleague: press *Take over* "
    "on the card to answer the customer."
)


def _claim_card(handoff_id: int) -> tuple[str, dict] | None:
    with session_scope() as session:
        token = handoffs.claim_card(session, handoff_id)
        if token is None:
            return None
        view = handoffs.get(session, handoff_id)
        assert view is not None
        card = context_card(session, view)
    return token, card


def _attach(handoff_id: int, channel: str, ts: str, token: str) -> bool:
    with session_scope() as session:
        return handoffs.attach_thread(session, handoff_id, channel, ts, token)


def _release(handoff_id: int, token: str) -> None:
    with session_scope() as session:
        handoffs.release_card(session, handoff_id, token)


def _get(handoff_id: int) -> handoffs.HandoffView | None:
    with session_scope() as session:
        return handoffs.get(session, handoff_id)


def _pending_cards() -> list[handoffs.HandoffView]:
    with session_scope() as session:
        return handoffs.without_card(session)


async def post_cards() -> int:
    """Posts the context card of every hand-off that has none yet; how many were posted."""
    channel = support_channel()
    if not channel:
        return 0
    posted = 0
    for pending in await asyncio.to_thread(_pending_cards):
        claimed = await asyncio.to_thread(_claim_card, pending.id)
        if claimed is None:
            continue
        token, card = claimed
        try:
            ts = await client().post(channel, card["text"], blocks=card["blocks"])
        except Exception:
            log.exception("could not post the card of hand-off %s", pending.id)
            await asyncio.to_thread(_release, pending.id, token)
            continue
        if await asyncio.to_thread(_attach, pending.id, channel, ts, token):
            posted += 1
            view = await asyncio.to_thread(_get, pending.id)
            if view is not None:
                await relay.post_unposted(view)
    return posted


def _due(minutes: int) -> list[handoffs.HandoffView]:
    with session_scope() as session:
        return handoffs.due_reminders(session, minutes)


def _claim_reminder(handoff_id: int) -> bool:
    with session_scope() as session:
        return handoffs.mark_reminded(session, handoff_id)


async def remind() -> int:
    """Posts a reminder in the thread of each hand-off waiting longer than the SLA."""
    if not support_channel():
        return 0
    minutes = settings.HANDOFF_SLA_MINUTES.number(minimum=1)
    group_id = settings.SLACK_SUPPORT_GROUP.get()
    group = f"<!subteam^{group_id}>" if group_id else "<!here>"
    sent = 0
    for handoff in await asyncio.to_thread(_due, minutes):
        if not await asyncio.to_thread(_claim_reminder, handoff.id):
            continue
        text = REMINDER.format(group=group, ticket=handoff.ticket_id, minutes=minutes)
        try:
            await client().post(str(handoff.slack_channel), text, thread_ts=handoff.thread_ts)
            sent += 1
        except Exception:
            log.exception("could not remind about hand-off %s", handoff.id)
    return sent


async def run_forever() -> None:
    """The loop the Slack channel starts with the server: cards and waiting replies of connected
    customers every second, reminders every 20 seconds; a failing round is logged and the loop
    goes on."""
    rounds = 0
    while True:
        try:
            await post_cards()
            await delivery.flush_waiting()
            if rounds % int(REMINDER_POLL_SECONDS / CARD_POLL_SECONDS) == 0:
                await remind()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("hand-off timers failed; trying again")
            await asyncio.sleep(FAILED_ROUND_PAUSE_SECONDS)
        rounds += 1
        await asyncio.sleep(CARD_POLL_SECONDS)
