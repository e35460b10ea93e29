"""Hand-offs to the team: a conversation's Slack thread, who owns it, and every message relayed.

The rules that make relaying exact live here, in the database, so they hold across retries,
restarts and several servers:

- a take-over is one conditional UPDATE (``state = 'waiting'``): two staff pressing *Take over*
  at once give one owner;
- every relayed message is a row keyed by (hand-off, direction, key), inserted with
  ``ON CONFLICT DO NOTHING``: Slack's ``ts`` (or the customer message's id) delivered twice is
  relayed once;
- replies for the customer wait in the outbox (undelivered ``to_customer`` rows) until a channel
  claims them (:func:`claim_delivery`, again a conditional UPDATE).
"""

from __future__ import annotations

import datetime as dt
import secrets
import statistics
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from shop.store.models import Handoff, HandoffMessage, SupportTicket, utcnow

OPEN_STATES = ("waiting", "agent")


@dataclass(frozen=True)
class HandoffView:
    """A hand-off as the channels and the staff reports see it."""

    id: int
    ticket_id: int
    conversation_id: str
    channel: str | None
    state: str
    reason: str | None
    customer_id: int | None
    guest_email: str | None
    guest_order: int | None
    slack_channel: str | None
    thread_ts: str | None
    assignee: str | None
    assignee_name: str | None
    opened_at: dt.datetime
    first_response_at: dt.datetime | None
    resolved_at: dt.datetime | None


def _view(session: Session, row: Handoff) -> HandoffView:
    ticket = session.get(SupportTicket, row.ticket_id)
    return HandoffView(
        id=row.id,
        ticket_id=row.ticket_id,
        conversation_id=row.conversation_id,
        channel=row.channel,
        state=row.state,
        reason=row.reason,
        customer_id=ticket.customer_id if ticket is not None else None,
        guest_email=row.guest_email,
        guest_order=row.guest_order,
        slack_channel=row.slack_channel,
        thread_ts=row.thread_ts,
        assignee=row.assignee,
        assignee_name=row.assignee_name,
        opened_at=row.opened_at,
        first_response_at=row.first_response_at,
        resolved_at=row.resolved_at,
    )


def open_handoff(
    session: Session,
    *,
    ticket_id: int,
    conversation_id: str,
    channel: str | None,
    reason: str,
    guest_email: str | None = None,
    guest_order: int | None = None,
    now: dt.datetime | None = None,
) -> int:
    """The id of a new hand-off (state ``waiting``) of the conversation, for ``ticket_id``."""
    row = Handoff(
        ticket_id=ticket_id,
        conversation_id=conversation_id[:200],
        channel=(channel or None) and channel[:40],
        reason=(reason or "")[:300],
        guest_email=guest_email,
        guest_order=guest_order,
        state="waiting",
        opened_at=now or utcnow(),
    )
    session.add(row)
    session.flush()
    return row.id


def get(session: Session, handoff_id: int) -> HandoffView | None:
    row = session.get(Handoff, handoff_id)
    return _view(session, row) if row is not None else None


def by_thread(session: Session, slack_channel: str, thread_ts: str) -> HandoffView | None:
    """The hand-off whose card starts the thread ``thread_ts`` in ``slack_channel``, or None."""
    row = session.execute(
        select(Handoff).where(
            Handoff.slack_channel == slack_channel, Handoff.thread_ts == thread_ts
        )
    ).scalar_one_or_none()
    return _view(session, row) if row is not None else None


def active_for_conversation(session: Session, conversation_id: str) -> HandoffView | None:
    """The conversation's open (waiting or agent) hand-off, the newest if several, or None."""
    row = (
        session.execute(
            select(Handoff)
            .where(Handoff.conversation_id == conversation_id, Handoff.state.in_(OPEN_STATES))
            .order_by(Handoff.id.desc())
        )
        .scalars()
        .first()
    )
    return _view(session, row) if row is not None else None


def without_card(session: Session) -> list[HandoffView]:
    """Open hand-offs whose context card has not been posted yet (oldest first)."""
    rows = session.execute(
        select(Handoff)
        .where(Handoff.state.in_(OPEN_STATES), Handoff.thread_ts.is_(None))
        .order_by(Handoff.id)
    ).scalars()
    return [_view(session, r) for r in rows]


def claim_card(session: Session, handoff_id: int) -> str | None:
    """A token that reserves posting the hand-off's card for the caller (None: it has a card or
    another server is posting it). Pass it to :func:`attach_thread` or :func:`release_card`."""
    token = "claim-" + secrets.token_hex(8)
    result = session.execute(
        update(Handoff)
        .where(Handoff.id == handoff_id, Handoff.thread_ts.is_(None))
        .values(thread_ts=token)
    )
    return token if result.rowcount else None


def attach_thread(
    session: Session, handoff_id: int, slack_channel: str, thread_ts: str, token: str
) -> bool:
    """Records where the card claimed with ``token`` was posted; False if the claim was lost."""
    result = session.execute(
        update(Handoff)
        .where(Handoff.id == handoff_id, Handoff.thread_ts == token)
        .values(slack_channel=slack_channel, thread_ts=thread_ts)
    )
    return bool(result.rowcount)


def release_card(session: Session, handoff_id: int, token: str) -> None:
    """Gives up a claim (posting failed): the card is tried again later."""
    session.execute(
        update(Handoff)
        .where(Handoff.id == handoff_id, Handoff.thread_ts == token)
        .values(thread_ts=None)
    )


def unposted_to_thread(session: Session, handoff_id: int) -> list[Outgoing]:
    """Customer messages of the hand-off not yet copied to its thread (said before the card)."""
    return _outgoing(
        session,
        HandoffMessage.handoff_id == handoff_id,
        HandoffMessage.direction == "to_thread",
        HandoffMessage.slack_ts.is_(None),
    )


@dataclass(frozen=True)
class TakeOver:
    """The outcome of pressing *Take over*: ``taken`` (now yours), ``yours`` (already was),
    ``other`` (someone else owns it: ``assignee_name``), ``closed`` (resolved or unknown)."""

    outcome: str
    assignee: str | None = None
    assignee_name: str | None = None


def take_over(
    session: Session, handoff_id: int, user: str, name: str, now: dt.datetime | None = None
) -> TakeOver:
    """Assigns a waiting hand-off to ``user``, atomically: of two at once, one wins."""
    result = session.execute(
        update(Handoff)
        .where(Handoff.id == handoff_id, Handoff.state == "waiting")
        .values(
            state="agent",
            assignee=user,
            assignee_name=name[:100],
            first_response_at=now or utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount:
        return TakeOver("taken", user, name)
    row = session.get(Handoff, handoff_id, populate_existing=True)
    if row is None or row.state not in OPEN_STATES:
        return TakeOver("closed")
    if row.assignee == user:
        return TakeOver("yours", user, row.assignee_name)
    return TakeOver("other", row.assignee, row.assignee_name)


def resolve(
    session: Session,
    handoff_id: int,
    by: str,
    outcome: str = "resolved",
    now: dt.datetime | None = None,
) -> bool:
    """Closes an open hand-off (the bot answers again) and its ticket, which records who closed
    it and how; False if it was not open."""
    now = now or utcnow()
    result = session.execute(
        update(Handoff)
        .where(Handoff.id == handoff_id, Handoff.state.in_(OPEN_STATES))
        .values(state="resolved", resolved_at=now, outcome=outcome[:40])
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:
        return False
    row = session.get(Handoff, handoff_id, populate_existing=True)
    ticket = session.get(SupportTicket, row.ticket_id) if row is not None else None
    if ticket is not None:
        ticket.status = "resolved"
        ticket.transcript = (
            f"{ticket.transcript or ''}\n[{now:%Y-%m-%d %H:%M} UTC] {outcome} by {by}"
        ).lstrip("\n")
    return True


# ---- the ledger of relayed messages, and the customer's outbox ---------------------------------


def record_message(
    session: Session,
    handoff: HandoffView,
    direction: str,
    key: str,
    text: str,
    author: str | None = None,
    now: dt.datetime | None = None,
) -> int | None:
    """The id of the new ledger row, or None when (hand-off, direction, key) was recorded
    before: the caller then relays nothing."""
    values: dict[str, Any] = dict(
        handoff_id=handoff.id,
        conversation_id=handoff.conversation_id,
        direction=direction,
        key=key[:120],
        author=(author or None) and author[:100],
        text=text,
        created_at=now or utcnow(),
    )
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(HandoffMessage)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["handoff_id", "direction", "key"])
    )
    result = session.execute(statement)
    if not result.rowcount:
        return None
    return session.execute(
        select(HandoffMessage.id).where(
            HandoffMessage.handoff_id == handoff.id,
            HandoffMessage.direction == direction,
            HandoffMessage.key == values["key"],
        )
    ).scalar_one()


def set_thread_copy(session: Session, message_id: int, slack_ts: str) -> None:
    """Keeps the ts Slack gave a customer's message posted to the thread."""
    session.execute(
        update(HandoffMessage).where(HandoffMessage.id == message_id).values(slack_ts=slack_ts)
    )


@dataclass(frozen=True)
class Outgoing:
    """A message waiting for the customer."""

    id: int
    text: str
    author: str | None


def outbox(session: Session, conversation_id: str) -> list[Outgoing]:
    """The conversation's undelivered messages for the customer, oldest first."""
    return _outgoing(
        session,
        HandoffMessage.conversation_id == conversation_id,
        HandoffMessage.direction == "to_customer",
        HandoffMessage.delivered_at.is_(None),
    )


def _outgoing(session: Session, *conditions) -> list[Outgoing]:
    """The relayed messages matching ``conditions``, oldest first."""
    rows = session.execute(
        select(HandoffMessage.id, HandoffMessage.text, HandoffMessage.author)
        .where(*conditions)
        .order_by(HandoffMessage.id)
    ).all()
    return [Outgoing(r.id, r.text, r.author) for r in rows]


def conversations_waiting(session: Session) -> list[str]:
    """The conversations with messages waiting for the customer."""
    rows = session.execute(
        select(HandoffMessage.conversation_id)
        .where(HandoffMessage.direction == "to_customer", HandoffMessage.delivered_at.is_(None))
        .distinct()
    ).scalars()
    return list(rows)


def claim_delivery(session: Session, message_id: int, now: dt.datetime | None = None) -> bool:
    """Marks an outbox message delivered; False if another delivery claimed it first."""
    result = session.execute(
        update(HandoffMessage)
        .where(HandoffMessage.id == message_id, HandoffMessage.delivered_at.is_(None))
        .values(delivered_at=now or utcnow())
    )
    return bool(result.rowcount)


# ---- timers and staff reports -----------------------------------------------------------------


def due_reminders(
    session: Session, sla_minutes: int, now: dt.datetime | None = None
) -> list[HandoffView]:
    """Waiting hand-offs with a card, older than the SLA, not yet reminded about."""
    cutoff = (now or utcnow()) - dt.timedelta(minutes=sla_minutes)
    rows = session.execute(
        select(Handoff).where(
            Handoff.state == "waiting",
            Handoff.thread_ts.is_not(None),
            Handoff.reminded_at.is_(None),
            Handoff.opened_at <= cutoff,
        )
    ).scalars()
    return [_view(session, r) for r in rows]


def mark_reminded(session: Session, handoff_id: int, now: dt.datetime | None = None) -> bool:
    """Claims the reminder of a hand-off (False: another server sent it)."""
    result = session.execute(
        update(Handoff)
        .where(Handoff.id == handoff_id, Handoff.reminded_at.is_(None))
        .values(reminded_at=now or utcnow())
    )
    return bool(result.rowcount)


def open_handoffs(session: Session) -> list[HandoffView]:
    """Every waiting or taken hand-off, oldest first."""
    rows = session.execute(
        select(Handoff).where(Handoff.state.in_(OPEN_STATES)).order_by(Handoff.opened_at)
    ).scalars()
    return [_view(session, r) for r in rows]


@dataclass(frozen=True)
class WeekStats:
    """Hand-offs opened in the week starting ``week`` (a Monday)."""

    week: dt.date
    count: int
    resolved: int
    median_first_response_min: float | None
    median_resolution_min: float | None


def _median_minutes(spans: list[dt.timedelta]) -> float | None:
    return round(statistics.median(s.total_seconds() / 60 for s in spans), 1) if spans else None


def weekly_stats(
    session: Session, weeks: int = 8, now: dt.datetime | None = None
) -> list[WeekStats]:
    """Per week (the last ``weeks``, oldest first): count, and the median minutes to the first
    response (a colleague took over) and to resolution, of the hand-offs opened that week."""
    today = (now or utcnow()).date()
    first_week = today - dt.timedelta(days=today.weekday() + 7 * (weeks - 1))
    rows = session.execute(
        select(Handoff.opened_at, Handoff.first_response_at, Handoff.resolved_at).where(
            Handoff.opened_at >= dt.datetime.combine(first_week, dt.time())
        )
    ).all()
    by_week: dict[dt.date, list[Any]] = {
        first_week + dt.timedelta(days=7 * i): [] for i in range(weeks)
    }
    for row in rows:
        day = row.opened_at.date()
        by_week.setdefault(day - dt.timedelta(days=day.weekday()), []).append(row)
    stats = []
    for week, items in sorted(by_week.items()):
        responses = [r.first_response_at - r.opened_at for r in items if r.first_response_at]
        resolutions = [r.resolved_at - r.opened_at for r in items if r.resolved_at]
        stats.append(
            WeekStats(
                week=week,
                count=len(items),
                resolved=len(resolutions),
                median_first_response_min=_median_minutes(responses),
                median_resolution_min=_median_minutes(resolutions),
            )
        )
    return stats
