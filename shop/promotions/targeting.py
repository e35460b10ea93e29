"""Who a promotion is for: segments of the newest segmentation, or a rule on RFM features;
customers who said "no more offers" are never targeted."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shop.promotions.consent import opted_out_ids
from shop.promotions.errors import InvalidPromotion
from shop.store.models import AnalyticsRun, CustomerSegment, Order, utcnow
from shop.store.promotion_models import Promotion

# Rule keys: RFM features over the last year of (not cancelled) orders.
RULE_KEYS = {
    "recency_days_min",
    "recency_days_max",
    "orders_min",
    "orders_max",
    "spend_min",
    "spend_max",
}
RFM_WINDOW_DAYS = 365


def check_target(target: dict[str, Any]) -> dict[str, Any]:
    """``target`` if well formed ({"segments": [...]} or {"rule": {...}}), else InvalidPromotion."""
    if set(target) == {"segments"}:
        segments = target["segments"]
        if not segments or not all(isinstance(s, (str, int)) and str(s).strip() for s in segments):
            raise InvalidPromotion("name at least one segment (its label, part of it, or number)")
        return {"segments": [str(s).strip() for s in segments]}
    if set(target) == {"rule"}:
        rule = target["rule"]
        unknown = set(rule) - RULE_KEYS
        if not rule or unknown:
            raise InvalidPromotion(
                f"a rule uses {', '.join(sorted(RULE_KEYS))}; unknown: {', '.join(sorted(unknown))}"
            )
        try:
            return {"rule": {k: float(v) for k, v in rule.items()}}
        except (TypeError, ValueError):
            raise InvalidPromotion("rule limits must be numbers") from None
    raise InvalidPromotion('a target is {"segments": [...]} or {"rule": {...}}')


def latest_segment_run(session: Session) -> int | None:
    """The id of the newest segmentation run, or None."""
    return session.execute(
        select(func.max(AnalyticsRun.id)).where(AnalyticsRun.kind == "segments")
    ).scalar_one_or_none()


def segment_labels(session: Session) -> dict[int, str]:
    """Segment number → label of the newest segmentation (empty if none)."""
    run = latest_segment_run(session)
    if run is None:
        return {}
    rows = session.execute(
        select(CustomerSegment.segment, CustomerSegment.label)
        .where(CustomerSegment.run_id == run)
        .distinct()
    )
    return {int(seg): label for seg, label in rows}


def customer_segments(session: Session) -> dict[int, str]:
    """Customer id → segment label of the newest segmentation (empty if none)."""
    run = latest_segment_run(session)
    if run is None:
        return {}
    rows = session.execute(
        select(CustomerSegment.customer_id, CustomerSegment.label).where(
            CustomerSegment.run_id == run
        )
    )
    return {int(c): label for c, label in rows}


def matching_segments(session: Session, wanted: list[str]) -> dict[int, str]:
    """The newest run's segments named by ``wanted``: a number, or a label or part of one."""
    labels = segment_labels(session)
    if not labels:
        raise InvalidPromotion("no segmentation is stored yet: run `shopbot segments` first")
    found: dict[int, str] = {}
    for want in wanted:
        hits = {
            seg: label
            for seg, label in labels.items()
            if (want == str(seg) if want.isdigit() else want.lower() in label.lower())
        }
        if not hits:
            raise InvalidPromotion(
                f"no segment matches {want!r}; the segments are: "
                + "; ".join(f"{seg}: {label}" for seg, label in sorted(labels.items()))
            )
        found.update(hits)
    return found


def _rfm(session: Session, now: dt.datetime) -> dict[int, tuple[float, int, float]]:
    """Customer id → (days since last order, orders, spend) over the last year."""
    since = now - dt.timedelta(days=RFM_WINDOW_DAYS)
    rows = session.execute(
        select(
            Order.customer_id,
            func.max(Order.placed_at),
            func.count(Order.id),
            func.coalesce(func.sum(Order.total), 0),
        )
        .where(Order.status != "cancelled", Order.placed_at >= since, Order.placed_at <= now)
        .group_by(Order.customer_id)
    )
    return {
        int(c): ((now - last).total_seconds() / 86400, int(n), float(spend))
        for c, last, n, spend in rows
    }


def _rule_ids(session: Session, rule: dict[str, float], now: dt.datetime) -> set[int]:
    def within(value: float, name: str) -> bool:
        lo, hi = rule.get(f"{name}_min"), rule.get(f"{name}_max")
        return (lo is None or value >= lo) and (hi is None or value <= hi)

    return {
        c
        for c, (recency, orders, spend) in _rfm(session, now).items()
        if within(recency, "recency_days") and within(orders, "orders") and within(spend, "spend")
    }


def eligible_customer_ids(
    session: Session, promotion: Promotion, now: dt.datetime | None = None
) -> set[int]:
    """The customers the promotion targets, less those who asked for no more offers."""
    now = now or utcnow()
    target = promotion.target or {}
    if "segments" in target:
        segs = matching_segments(session, target["segments"])
        run = latest_segment_run(session)
        ids = set(
            session.execute(
                select(CustomerSegment.customer_id).where(
                    CustomerSegment.run_id == run, CustomerSegment.segment.in_(list(segs))
                )
            ).scalars()
        )
    else:
        ids = _rule_ids(session, target.get("rule", {}), now)
    return ids - opted_out_ids(session)
