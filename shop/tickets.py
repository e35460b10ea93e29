"""Support tickets: a hand-off to a colleague or a complaint, with the conversation so far."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.store.models import TICKET_KINDS, Customer, Order, SupportTicket, utcnow
from shop.text import parse_order_number


def _transcript_text(transcript: str | Sequence) -> str:
    """The transcript as text: a string as is, or one line per turn ("user: …", "bot: …")."""
    if isinstance(transcript, str):
        return transcript
    lines = []
    for turn in transcript or []:
        if isinstance(turn, str):
            lines.append(turn)
        elif isinstance(turn, dict):
            who = turn.get("speaker") or turn.get("event") or turn.get("role") or "?"
            lines.append(f"{who}: {turn.get('text') or ''}")
        elif isinstance(turn, (tuple, list)) and len(turn) == 2:
            lines.append(f"{turn[0]}: {turn[1]}")
        else:
            lines.append(str(turn))
    return "\n".join(lines)


def open_ticket(
    session: Session,
    *,
    kind: str,
    conversation_id: str,
    channel: str | None = None,
    customer_id: int | None = None,
    order_number: int | str | None = None,
    subject: str,
    transcript: str | Sequence,
) -> int:
    """The id of a new support ticket (hand-off or complaint) with the conversation transcript.

    The order is linked only when it belongs to ``customer_id`` (a verified customer); otherwise
    its number is kept in the subject text, so a guest can't attach someone else's order.
    """
    if kind not in TICKET_KINDS:
        raise ValueError(f"kind must be one of {TICKET_KINDS}, got {kind!r}")
    subject_text = (subject or "").strip() or kind
    if customer_id is not None and session.get(Customer, customer_id) is None:
        # A token for a customer that no longer exists: keep the ticket, drop the dangling link.
        subject_text = f"{subject_text} (unknown customer {customer_id})"
        customer_id = None
    order_id = None
    number = parse_order_number(order_number) if order_number is not None else None
    if number is not None:
        if customer_id is not None:
            order_id = session.execute(
                select(Order.id).where(
                    Order.order_number == number, Order.customer_id == customer_id
                )
            ).scalar_one_or_none()
        if order_id is None and f"#{number}" not in subject_text:
            subject_text = f"{subject_text} (order #{number})"
    ticket = SupportTicket(
        kind=kind,
        customer_id=customer_id,
        order_id=order_id,
        conversation_id=str(conversation_id)[:200],
        channel=(channel or None) and str(channel)[:40],
        subject=subject_text[:300],
        transcript=_transcript_text(transcript),
        status="open",
        created_at=utcnow(),
    )
    session.add(ticket)
    session.flush()
    return ticket.id
