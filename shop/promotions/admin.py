"""Creating promotions and moving them through draft → active ⇄ paused → ended."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shop.promotions.errors import InvalidPromotion, PromotionNotFound
from shop.promotions.targeting import check_target, matching_segments
from shop.store.models import CATEGORIES, utcnow
from shop.store.promotion_models import Promotion, PromotionCode

# status → the statuses it may move to (ended is final).
TRANSITIONS = {
    "draft": {"active", "ended"},
    "active": {"paused", "ended"},
    "paused": {"active", "ended"},
    "ended": set(),
}


def _positive_int(value: int | None, name: str) -> int | None:
    if value is None:
        return None
    if int(value) < 1:
        raise InvalidPromotion(f"{name} must be at least 1 (leave it out for no limit)")
    return int(value)


def create_promotion(
    session: Session,
    *,
    name: str,
    target: dict[str, Any],
    reward_kind: str,
    reward_value: Decimal | float | str,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    categories: list[str] | None = None,
    global_cap: int | None = None,
    per_customer_cap: int = 1,
    budget: Decimal | float | str | None = None,
) -> Promotion:
    """The new promotion, as a draft (nothing goes live before `activate`)."""
    name = (name or "").strip()
    if not name:
        raise InvalidPromotion("a promotion needs a name")
    if session.execute(select(Promotion.id).where(Promotion.name == name)).first():
        raise InvalidPromotion(f"a promotion called {name!r} exists already; choose another name")
    if reward_kind not in ("percent", "fixed"):
        raise InvalidPromotion("the reward is a percentage (percent) or an amount (fixed)")
    try:
        value = Decimal(str(reward_value)).quantize(Decimal("0.01"))
        spend = None if budget is None else Decimal(str(budget)).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise InvalidPromotion("the reward and the budget must be numbers") from None
    if value <= 0 or (reward_kind == "percent" and value > 100):
        raise InvalidPromotion("a percentage reward is more than 0 and at most 100")
    if spend is not None and spend <= 0:
        raise InvalidPromotion("the budget must be more than 0 (leave it out for no budget)")
    if ends_at <= starts_at:
        raise InvalidPromotion("the offer must end after it starts")
    cats = None
    if categories:
        cats = sorted({c.strip().lower() for c in categories})
        unknown = [c for c in cats if c not in CATEGORIES and c != "other"]
        if unknown:
            raise InvalidPromotion(
                f"unknown categories {', '.join(unknown)}; the shop's are {', '.join(CATEGORIES)}"
            )
    target = check_target(target)
    if "segments" in target:
        matching_segments(session, target["segments"])  # says which segments exist if none match
    promotion = Promotion(
        name=name,
        status="draft",
        target=target,
        reward_kind=reward_kind,
        reward_value=value,
        categories=cats,
        starts_at=starts_at,
        ends_at=ends_at,
        global_cap=_positive_int(global_cap, "the global cap"),
        per_customer_cap=_positive_int(per_customer_cap, "the per-customer cap") or 1,
        budget=spend,
        redemptions=0,
        spent=Decimal("0"),
    )
    session.add(promotion)
    session.flush()
    return promotion


def get_promotion(session: Session, name_or_id: str | int) -> Promotion:
    """The promotion with that name (or id); PromotionNotFound otherwise."""
    text = str(name_or_id).strip()
    query = select(Promotion).where(Promotion.name == text)
    found = session.execute(query).scalar_one_or_none()
    if found is None and text.isdigit():
        found = session.get(Promotion, int(text))
    if found is None:
        raise PromotionNotFound(name_or_id)
    return found


def set_status(
    session: Session, name_or_id: str | int, status: str, now: dt.datetime | None = None
) -> Promotion:
    """The promotion after moving it to ``status`` (activate, pause, resume, end)."""
    promotion = get_promotion(session, name_or_id)
    if status not in TRANSITIONS[promotion.status]:
        raise InvalidPromotion(
            f"{promotion.name!r} is {promotion.status}; it can't become {status}"
            + (" (an ended promotion stays ended)" if promotion.status == "ended" else "")
        )
    now = now or utcnow()
    if status == "active" and now >= promotion.ends_at:
        raise InvalidPromotion(
            f"{promotion.name!r} ended on {promotion.ends_at:%Y-%m-%d}; create a new one"
        )
    promotion.status = status
    promotion.updated_at = now
    session.flush()
    return promotion


def describe(session: Session, promotion: Promotion) -> dict[str, Any]:
    """JSON-ready facts of a promotion: terms, status, codes issued, redemptions, spend."""
    codes = session.execute(
        select(func.count())
        .select_from(PromotionCode)
        .where(PromotionCode.promotion_id == promotion.id)
    ).scalar_one()
    return {
        "id": promotion.id,
        "name": promotion.name,
        "status": promotion.status,
        "target": promotion.target,
        "reward": {
            "kind": promotion.reward_kind,
            "value": float(promotion.reward_value),
            "categories": promotion.categories,
        },
        "starts_at": promotion.starts_at.isoformat(),
        "ends_at": promotion.ends_at.isoformat(),
        "global_cap": promotion.global_cap,
        "per_customer_cap": promotion.per_customer_cap,
        "budget": None if promotion.budget is None else float(promotion.budget),
        "codes": int(codes),
        "redemptions": promotion.redemptions,
        "spent": float(promotion.spent),
    }


def reward_text(kind: str, value: Decimal) -> str:
    """A reward as people read it: "10% off", "5.00 off"."""
    return f"{float(value):g}% off" if kind == "percent" else f"{value:.2f} off"


def last_day(ends_at: dt.datetime) -> dt.datetime:
    """The last moment a promotion ending at ``ends_at`` (exclusive) is valid: its "until" day."""
    return ends_at - dt.timedelta(seconds=1)


def list_promotions(session: Session) -> list[Promotion]:
    """Every promotion, newest first."""
    return list(session.execute(select(Promotion).order_by(Promotion.id.desc())).scalars())
