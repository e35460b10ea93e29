"""Per-customer outcomes of an experiment read from the store: only exposed customers count, each
over the attribution window that starts at their first exposure."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.store.models import Order, Return, SupportTicket
from shop.store.promotion_models import Experiment, ExperimentAssignment, PromotionRedemption

Outcomes = dict[str, dict[str, list[float]]]  # arm → metric → one value per exposed customer
METRICS = ("conversion", "revenue", "redemption", "returns", "complaints", "handoffs",
           "discount_cost", "pre_spend")  # fmt: skip
# The covariate for CUPED: what the customer spent in the days before their first exposure.
PRE_PERIOD_DAYS = 90


def load_outcomes(
    session: Session,
    experiment: Experiment,
    *,
    customers: set[int] | None = None,
    now: dt.datetime | None = None,
) -> Outcomes:
    """Outcomes per arm and metric for the exposed customers (optionally only ``customers``).

    Conversion: an order (not cancelled) in the window; revenue: those orders' totals less their
    discounts; redemption: a code used in the window; returns / complaints / hand-offs: at least
    one in the window; discount cost: the discounts given in the window; pre-period spend (for
    CUPED): order totals in the ``PRE_PERIOD_DAYS`` before the first exposure.
    """
    rows = session.execute(
        select(ExperimentAssignment.customer_id, ExperimentAssignment.arm,
               ExperimentAssignment.exposed_at)
        .where(ExperimentAssignment.experiment_id == experiment.id,
               ExperimentAssignment.exposed_at.is_not(None))
    ).all()  # fmt: skip
    window = dt.timedelta(days=experiment.attribution_days)
    pre_period = dt.timedelta(days=PRE_PERIOD_DAYS)
    exposed = {c: (arm, at) for c, arm, at in rows if customers is None or c in customers}
    if not exposed:
        return {str(a["name"]): {m: [] for m in METRICS} for a in experiment.arms}
    first = min(at for _, at in exposed.values())
    ids = list(exposed)

    def in_window(customer: int, when: dt.datetime) -> bool:
        start = exposed[customer][1]
        return start <= when < start + window and (now is None or when <= now)

    values: dict[int, dict[str, float]] = {c: dict.fromkeys(METRICS, 0.0) for c in ids}
    discounts: dict[int, float] = defaultdict(float)
    for chunk in _chunks(ids):
        for c, order_id, discount, at in session.execute(
            select(PromotionRedemption.customer_id, PromotionRedemption.order_id,
                   PromotionRedemption.discount, PromotionRedemption.redeemed_at)
            .where(PromotionRedemption.customer_id.in_(chunk),
                   PromotionRedemption.redeemed_at >= first)
        ):  # fmt: skip
            if in_window(c, at):
                values[c]["redemption"] = 1.0
                values[c]["discount_cost"] += float(discount)
                discounts[order_id] += float(discount)
        for c, order_id, total, at in session.execute(
            select(Order.customer_id, Order.id, Order.total, Order.placed_at).where(
                Order.customer_id.in_(chunk),
                Order.placed_at >= first - pre_period,
                Order.status != "cancelled",
            )
        ):
            if exposed[c][1] - pre_period <= at < exposed[c][1]:
                values[c]["pre_spend"] += float(total)
            if in_window(c, at):
                values[c]["conversion"] = 1.0
                values[c]["revenue"] += float(total) - discounts.get(order_id, 0.0)
        for c, at in session.execute(
            select(Order.customer_id, Return.created_at)
            .join(Order, Return.order_id == Order.id)
            .where(Order.customer_id.in_(chunk), Return.created_at >= first)
        ):
            if in_window(c, at):
                values[c]["returns"] = 1.0
        for c, kind, at in session.execute(
            select(SupportTicket.customer_id, SupportTicket.kind, SupportTicket.created_at).where(
                SupportTicket.customer_id.in_(chunk), SupportTicket.created_at >= first
            )
        ):
            if in_window(c, at):
                values[c]["complaints" if kind == "complaint" else "handoffs"] = 1.0
    out: Outcomes = {str(a["name"]): {m: [] for m in METRICS} for a in experiment.arms}
    for c, (arm, _) in exposed.items():
        for m in METRICS:
            out.setdefault(arm, {k: [] for k in METRICS})[m].append(values[c][m])
    return out


def _chunks(ids: list[int], size: int = 900):
    for i in range(0, len(ids), size):
        yield ids[i : i + size]
