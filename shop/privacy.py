"""A customer's data on request (export, erasure) and the shop's retention of what it keeps.

Every function takes a session opened by the caller and returns what it found or changed, so
the ``shopbot privacy`` commands can report it. Conversations themselves live in the Rasa
tracker store, not here (``bot.server.conversations``); the support tickets here name the
conversations they came from.

Erasure keeps what the shop must keep for its books and anonymises the rest: the customer's
name, e-mail, country and imported id are removed, their orders' e-mail (a guest's proof of an
order) too; their ratings, browsing events and segment memberships are deleted; the transcripts
and subjects of their tickets, and the conversations they name, are removed, and so are the
messages relayed between them and the team in their hand-offs (with the reason and the e-mail a
guest gave), the offers shown to them and their unused codes (``shop.promotions.privacy``).
Orders, order lines, returns and redemptions stay, attached to the anonymous customer.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, selectinload

from shop.access import purge_failures
from shop.promotions.privacy import erase_offers, export_offers
from shop.store.models import (
    Customer,
    CustomerSegment,
    Event,
    Handoff,
    HandoffMessage,
    Order,
    OrderItem,
    Rating,
    Return,
    SupportTicket,
    utcnow,
)
from shop.text import iso, money

REMOVED_TRANSCRIPT = "(transcript removed)"


def purge(session: Session, *, days: int, now: dt.datetime | None = None) -> dict[str, int]:
    """Removes what is older than ``days``: ticket transcripts (and their subjects, which quote
    the customer) and failed look-ups that no longer count. Returns how many of each."""
    now = now or utcnow()
    cutoff = now - dt.timedelta(days=days)
    result = session.execute(
        update(SupportTicket)
        .where(SupportTicket.created_at < cutoff, SupportTicket.transcript != REMOVED_TRANSCRIPT)
        .values(transcript=REMOVED_TRANSCRIPT, subject=SupportTicket.kind)
        .execution_options(synchronize_session=False)
    )
    return {
        "ticket_transcripts": int(result.rowcount or 0),
        "handoff_messages": _forget_handoffs(session, Handoff.opened_at < cutoff),
        "lookup_failures": purge_failures(session, now),
    }


def _forget_handoffs(session: Session, which: Any) -> int:
    """Deletes the relayed messages of the hand-offs ``which`` selects and clears what the
    customer said or gave in them (reason, e-mail); how many messages were deleted."""
    ids = select(Handoff.id).where(which).scalar_subquery()
    deleted = session.execute(
        delete(HandoffMessage)
        .where(HandoffMessage.handoff_id.in_(ids))
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Handoff)
        .where(which, Handoff.reason.is_not(None))
        .values(reason=None, guest_email=None)
        .execution_options(synchronize_session=False)
    )
    return int(deleted.rowcount or 0)


def _customer_handoffs(customer_id: int) -> Any:
    return Handoff.ticket_id.in_(
        select(SupportTicket.id).where(SupportTicket.customer_id == customer_id).scalar_subquery()
    )


def ticket_conversations(session: Session, customer_id: int) -> set[str]:
    """The conversation ids of the customer's support tickets."""
    rows = session.execute(
        select(SupportTicket.conversation_id).where(SupportTicket.customer_id == customer_id)
    ).scalars()
    return {row for row in rows if row}


def export_customer(session: Session, customer_id: int) -> dict[str, Any]:
    """Everything the shop database holds about the customer, as JSON-ready values."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        return {}
    orders = (
        session.execute(
            select(Order)
            .where(Order.customer_id == customer_id)
            .options(selectinload(Order.items).joinedload(OrderItem.product))
            .order_by(Order.placed_at)
        )
        .scalars()
        .all()
    )
    returns = session.execute(
        select(Return)
        .join(Order, Return.order_id == Order.id)
        .where(Order.customer_id == customer_id)
    ).scalars()
    tickets = session.execute(
        select(SupportTicket).where(SupportTicket.customer_id == customer_id)
    ).scalars()
    ratings = session.execute(select(Rating).where(Rating.customer_id == customer_id)).scalars()
    events = session.execute(select(Event).where(Event.customer_id == customer_id)).scalars()
    segments = session.execute(
        select(CustomerSegment).where(CustomerSegment.customer_id == customer_id)
    ).scalars()
    relayed = session.execute(
        select(HandoffMessage)
        .join(Handoff, HandoffMessage.handoff_id == Handoff.id)
        .where(_customer_handoffs(customer_id))
        .order_by(HandoffMessage.id)
    ).scalars()
    return {
        "customer": {
            "id": customer.id,
            "external_id": customer.external_id,
            "email": customer.email,
            "name": customer.name,
            "country": customer.country,
            "created_at": iso(customer.created_at),
        },
        "orders": [
            {
                "order_number": o.order_number,
                "email": o.email,
                "status": o.status,
                "placed_at": iso(o.placed_at),
                "total": money(o.total),
                "promo_code": o.promo_code,
                "lines": [
                    {"sku": i.product.sku, "name": i.product.name, "quantity": i.quantity}
                    for i in o.items
                ],
            }
            for o in orders
        ],
        "returns": [
            {
                "rma_number": r.rma_number,
                "quantity": r.quantity,
                "reason": r.reason,
                "status": r.status,
                "created_at": iso(r.created_at),
            }
            for r in returns
        ],
        "support_tickets": [
            {
                "id": t.id,
                "kind": t.kind,
                "conversation_id": t.conversation_id,
                "subject": t.subject,
                "transcript": t.transcript,
                "status": t.status,
                "created_at": iso(t.created_at),
            }
            for t in tickets
        ],
        "handoff_messages": [
            {
                "conversation_id": m.conversation_id,
                "direction": m.direction,
                "author": m.author,
                "text": m.text,
                "created_at": iso(m.created_at),
            }
            for m in relayed
        ],
        "ratings": [{"product_id": r.product_id, "rating": r.rating} for r in ratings],
        "events": [
            {"product_id": e.product_id, "kind": e.kind, "occurred_at": iso(e.occurred_at)}
            for e in events
        ],
        "segments": [
            {"run_id": s.run_id, "segment": s.segment, "label": s.label} for s in segments
        ],
        **export_offers(session, customer_id),
    }


def erase_customer(session: Session, customer_id: int) -> dict[str, int]:
    """Anonymises the customer and deletes their personal data (see the module docstring);
    returns how many rows of each kind were changed or deleted."""
    changed: dict[str, int] = {}

    def count(name: str, result: Any) -> None:
        changed[name] = int(result.rowcount or 0)

    count(
        "customer",
        session.execute(
            update(Customer)
            .where(Customer.id == customer_id)
            .values(name=None, email=None, country=None, external_id=None)
            .execution_options(synchronize_session=False)
        ),
    )
    count(
        "order_emails",
        session.execute(
            update(Order)
            .where(Order.customer_id == customer_id, Order.email.is_not(None))
            .values(email=None)
            .execution_options(synchronize_session=False)
        ),
    )
    changed["handoff_messages"] = _forget_handoffs(session, _customer_handoffs(customer_id))
    count(
        "ticket_transcripts",
        session.execute(
            update(SupportTicket)
            .where(SupportTicket.customer_id == customer_id)
            .values(transcript=REMOVED_TRANSCRIPT, subject=SupportTicket.kind, conversation_id=None)
            .execution_options(synchronize_session=False)
        ),
    )
    for name, table in (("ratings", Rating), ("events", Event), ("segments", CustomerSegment)):
        count(name, session.execute(delete(table).where(table.customer_id == customer_id)))
    changed.update(erase_offers(session, customer_id))
    return changed
