"""The context card a hand-off posts to the support channel (Slack Block Kit): who the customer
is, why they asked, the last turns, and the buttons staff answer with."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from analytics.reports.slack import fit
from shop.handoffs import HandoffView
from shop.store.models import AnalyticsRun, Customer, CustomerSegment, Order, SupportTicket

LAST_TURNS = 8
OPEN_ORDER_STATUSES = ("pending", "paid", "shipped")
TAKE_OVER, RESOLVE, NOTE = "handoff_take", "handoff_resolve", "handoff_note"


def _segment(session: Session, customer_id: int) -> str | None:
    run_id = session.execute(
        select(func.max(AnalyticsRun.id)).where(AnalyticsRun.kind == "segments")
    ).scalar()
    if run_id is None:
        return None
    return session.execute(
        select(CustomerSegment.label).where(
            CustomerSegment.run_id == run_id, CustomerSegment.customer_id == customer_id
        )
    ).scalar_one_or_none()


def _open_orders(session: Session, customer_id: int) -> list[str]:
    rows = session.execute(
        select(Order.order_number, Order.status)
        .where(Order.customer_id == customer_id, Order.status.in_(OPEN_ORDER_STATUSES))
        .order_by(Order.placed_at.desc())
        .limit(5)
    ).all()
    return [f"#{r.order_number} ({r.status})" for r in rows]


def customer_lines(session: Session, handoff: HandoffView) -> list[str]:
    """Who the customer is, as far as they proved it: a signed-in customer's name, segment and
    open orders; for a guest only what they verified (an order's e-mail and number)."""
    if handoff.customer_id is not None:
        customer = session.get(Customer, handoff.customer_id)
        if customer is not None:
            orders = _open_orders(session, customer.id)
            return [
                f"Signed in: {customer.name or 'no name'} (customer {customer.id})",
                f"Segment: {_segment(session, customer.id) or 'not segmented yet'}",
                f"Open orders: {', '.join(orders) if orders else 'none'}",
            ]
    if handoff.guest_email and handoff.guest_order:
        verified = session.execute(
            select(Order.status).where(
                Order.order_number == handoff.guest_order,
                func.lower(Order.email) == handoff.guest_email.lower(),
            )
        ).scalar_one_or_none()
        if verified is not None:
            return [
                f"Guest, verified order #{handoff.guest_order} ({verified}) "
                f"with e-mail {handoff.guest_email}"
            ]
        return [
            f"Guest, not verified (gave e-mail {handoff.guest_email}, order #{handoff.guest_order})"
        ]
    return ["Guest, nothing verified"]


def last_turns(session: Session, handoff: HandoffView, n: int = LAST_TURNS) -> list[str]:
    ticket = session.get(SupportTicket, handoff.ticket_id)
    lines = (ticket.transcript or "").splitlines() if ticket is not None else []
    return lines[-n:]


def buttons(handoff_id: int) -> dict[str, Any]:
    value = str(handoff_id)
    return {
        "type": "actions",
        "block_id": f"handoff-{handoff_id}",
        "elements": [
            {
                "type": "button",
                "action_id": TAKE_OVER,
                "style": "primary",
                "text": {"type": "plain_text", "text": "Take over"},
                "value": value,
            },
            {
                "type": "button",
                "action_id": RESOLVE,
                "text": {"type": "plain_text", "text": "Resolve → back to bot"},
                "value": value,
            },
            {
                "type": "button",
                "action_id": NOTE,
                "text": {"type": "plain_text", "text": "Internal note"},
                "value": value,
            },
        ],
    }


def context_card(session: Session, handoff: HandoffView) -> dict[str, Any]:
    """{"text": fallback, "blocks": [...]} for the support channel; every customer-supplied
    text escaped (no mentions or links can be smuggled in)."""
    who = customer_lines(session, handoff)
    turns = last_turns(session, handoff)
    title = f"Hand-off: ticket #{handoff.ticket_id}"
    transcript = "\n".join(turns) or "(nothing said yet)"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": fit(title, 150)}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*Reason*\n{fit(handoff.reason or '–', 1900)}"},
                {"type": "mrkdwn", "text": "*Customer*\n" + fit("\n".join(who), 1900)},
            ],
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "*Last turns*\n```" + fit(transcript, 2800).replace("```", "'''") + "```",
            },
        },
        buttons(handoff.id),
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "Reply in this thread to answer the customer. Messages starting with "
                    "`note:` stay with the team.",
                }
            ],
        },
    ]
    text = fit(f"{title}: {handoff.reason or ''} ({'; '.join(who)})", 3000)
    return {"text": text, "blocks": blocks}
