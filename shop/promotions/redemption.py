"""Using a code on an order: every refusal has a clear reason, and the usage is checked and
counted atomically.

Two conditional UPDATEs do the counting — the code's uses below the per-customer cap, the
promotion active, under its global cap and within its budget — inside a savepoint, so two orders
racing for the last use see exactly one success: the loser's UPDATE matches no row (PostgreSQL
re-checks the condition after the winner commits; SQLite takes the write lock first with
``begin_write``) and the savepoint is rolled back, leaving the caller's transaction usable.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from shop.promotions.codes import normalise_code
from shop.promotions.errors import CodeRefused
from shop.store.db import begin_write
from shop.store.models import Order, OrderItem, utcnow
from shop.store.promotion_models import Promotion, PromotionCode, PromotionRedemption

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Redeemed:
    code: str
    promotion: str
    order_number: int
    discount: Decimal


def _status_refusal(promotion: Promotion, code: str, now: dt.datetime) -> CodeRefused | None:
    if promotion.status == "draft":
        return CodeRefused("not_active", code)
    if promotion.status in ("paused", "ended"):
        return CodeRefused(promotion.status, code)
    if now < promotion.starts_at:
        return CodeRefused("not_started", code, starts=f"{promotion.starts_at:%d %B %Y}")
    if now >= promotion.ends_at:
        return CodeRefused("expired", code, ends=f"{promotion.ends_at:%d %B %Y}")
    return None


def discount_for(promotion: Promotion, items: list[OrderItem]) -> Decimal:
    """The discount the promotion gives on these order lines (0 when none qualifies)."""
    cats = set(promotion.categories or [])
    base = sum(
        (
            Decimal(str(i.unit_price)) * i.quantity
            for i in items
            if not cats or i.product.category in cats
        ),
        Decimal("0"),
    )
    value = Decimal(str(promotion.reward_value))
    if promotion.reward_kind == "percent":
        return (base * value / 100).quantize(CENT)
    return min(value, base).quantize(CENT)


def redeem_code(
    session: Session,
    code_text: str,
    customer_id: int,
    order_number: int,
    now: dt.datetime | None = None,
) -> Redeemed:
    """The redemption of ``code_text`` on the customer's order; CodeRefused with the reason."""
    now = now or utcnow()
    code = normalise_code(code_text)
    begin_write(session)
    row = session.execute(
        select(PromotionCode).where(PromotionCode.code == code)
    ).scalar_one_or_none()
    if row is None:
        raise CodeRefused("unknown", code)
    if row.customer_id != customer_id:
        raise CodeRefused("not_yours", code)
    promotion = session.get(Promotion, row.promotion_id)
    refusal = _status_refusal(promotion, code, now)
    if refusal:
        raise refusal
    order = session.execute(
        select(Order)
        .where(Order.order_number == order_number, Order.customer_id == customer_id)
        .options(selectinload(Order.items).selectinload(OrderItem.product))
    ).scalar_one_or_none()
    if order is None:
        raise CodeRefused("unknown", code) from None
    if order.status == "cancelled":
        raise CodeRefused("order_closed", code, status=order.status)
    if order.promo_code:
        raise CodeRefused("order_has_code", code)
    discount = discount_for(promotion, list(order.items))
    if discount <= 0:
        raise CodeRefused(
            "no_eligible_items", code, categories=" and ".join(promotion.categories or [])
        )
    with session.begin_nested():  # a refusal below rolls back to here
        used = session.execute(
            update(PromotionCode)
            .where(PromotionCode.id == row.id, PromotionCode.uses < promotion.per_customer_cap)
            .values(uses=PromotionCode.uses + 1)
            .execution_options(synchronize_session=False)
        )
        if used.rowcount != 1:
            raise CodeRefused("used", code)
        counted = session.execute(
            update(Promotion)
            .where(
                Promotion.id == promotion.id,
                Promotion.status == "active",
                (Promotion.global_cap.is_(None)) | (Promotion.redemptions < Promotion.global_cap),
                (Promotion.budget.is_(None)) | (Promotion.spent + discount <= Promotion.budget),
            )
            .values(redemptions=Promotion.redemptions + 1, spent=Promotion.spent + discount)
            .execution_options(synchronize_session=False)
        )
        if counted.rowcount != 1:
            session.refresh(promotion)
            refusal = _status_refusal(promotion, code, now)
            if refusal:
                raise refusal
            if promotion.global_cap is not None and promotion.redemptions >= promotion.global_cap:
                raise CodeRefused("exhausted", code)
            raise CodeRefused("budget_spent", code)
        session.add(
            PromotionRedemption(
                promotion_id=promotion.id,
                code_id=row.id,
                customer_id=customer_id,
                order_id=order.id,
                discount=discount,
                redeemed_at=now,
            )
        )
        order.promo_code = code
        try:
            session.flush()
        except IntegrityError:  # another code was used on this order at the same moment
            raise CodeRefused("order_has_code", code) from None
    return Redeemed(code, promotion.name, order.order_number, discount)
