"""The offer consent ledger: "no more offers" is kept with its reason and date; the newest choice
of a customer counts."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shop.store.models import utcnow
from shop.store.promotion_models import OfferConsent


def record_choice(
    session: Session,
    customer_id: int,
    choice: str,
    *,
    reason: str | None = None,
    source: str = "chat",
    now: dt.datetime | None = None,
) -> OfferConsent:
    """The ledger row written for ``choice`` ("opt_out": no more offers, "opt_in": offers again)."""
    if choice not in ("opt_out", "opt_in"):
        raise ValueError(f"choice must be opt_out or opt_in, not {choice!r}")
    row = OfferConsent(
        customer_id=customer_id,
        choice=choice,
        reason=(reason or "")[:300] or None,
        source=source,
        at=now or utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def opted_out(session: Session, customer_id: int) -> bool:
    """True when the customer's newest choice is "no more offers"."""
    choice = session.execute(
        select(OfferConsent.choice)
        .where(OfferConsent.customer_id == customer_id)
        .order_by(OfferConsent.at.desc(), OfferConsent.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return choice == "opt_out"


def opted_out_ids(session: Session) -> set[int]:
    """Every customer whose newest choice is "no more offers"."""
    newest = (
        select(OfferConsent.customer_id, func.max(OfferConsent.id).label("id"))
        .group_by(OfferConsent.customer_id)
        .subquery()
    )
    rows = session.execute(
        select(OfferConsent.customer_id)
        .join(newest, OfferConsent.id == newest.c.id)
        .where(OfferConsent.choice == "opt_out")
    ).scalars()
    return set(rows)
