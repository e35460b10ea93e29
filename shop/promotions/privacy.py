"""A customer's offers on request: what export shows, and what erasure removes.

Erasure deletes the exposures, experiment assignments and unused codes (behavioural and
marketing data); redemptions stay with the orders they discounted (the shop's books), and the
consent ledger stays so that the anonymous customer is never offered anything again.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from shop.store.promotion_models import (
    ExperimentAssignment,
    Exposure,
    OfferConsent,
    Promotion,
    PromotionCode,
    PromotionRedemption,
)
from shop.text import iso, money


def export_offers(session: Session, customer_id: int) -> dict[str, Any]:
    """The customer's codes, offers shown, redemptions and consent choices."""
    codes = session.execute(
        select(Promotion.name, PromotionCode.code, PromotionCode.uses)
        .join(Promotion, PromotionCode.promotion_id == Promotion.id)
        .where(PromotionCode.customer_id == customer_id)
    ).all()
    exposures = session.execute(
        select(Exposure).where(Exposure.customer_id == customer_id).order_by(Exposure.at)
    ).scalars()
    redemptions = session.execute(
        select(PromotionRedemption).where(PromotionRedemption.customer_id == customer_id)
    ).scalars()
    consents = session.execute(
        select(OfferConsent)
        .where(OfferConsent.customer_id == customer_id)
        .order_by(OfferConsent.at)
    ).scalars()
    return {
        "codes": [{"promotion": n, "code": c, "uses": u} for n, c, u in codes],
        "offers_shown": [
            {
                "promotion_id": e.promotion_id,
                "experiment_id": e.experiment_id,
                "arm": e.arm,
                "channel": e.channel,
                "at": iso(e.at),
            }
            for e in exposures
        ],  # fmt: skip
        "redemptions": [
            {
                "promotion_id": r.promotion_id,
                "order_id": r.order_id,
                "discount": money(r.discount),
                "at": iso(r.redeemed_at),
            }
            for r in redemptions
        ],  # fmt: skip
        "offer_consents": [
            {"choice": c.choice, "reason": c.reason, "source": c.source, "at": iso(c.at)}
            for c in consents
        ],
    }


def erase_offers(session: Session, customer_id: int) -> dict[str, int]:
    """Rows deleted: exposures, experiment assignments, unused codes."""
    used = select(PromotionRedemption.code_id).where(PromotionRedemption.customer_id == customer_id)
    removed = {}
    for name, statement in (
        ("offer_exposures", delete(Exposure).where(Exposure.customer_id == customer_id)),
        (
            "experiment_assignments",
            delete(ExperimentAssignment).where(ExperimentAssignment.customer_id == customer_id),
        ),
        (
            "promotion_codes",
            delete(PromotionCode).where(
                PromotionCode.customer_id == customer_id, PromotionCode.id.not_in(used)
            ),
        ),
    ):
        statement = statement.execution_options(synchronize_session=False)
        removed[name] = int(session.execute(statement).rowcount or 0)
    return removed
