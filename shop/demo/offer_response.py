"""A simulated response to offers with a planted effect per segment (seeded), for the demo shop
and the known-answer tests: an experiment run over it must recover each planted effect.

Each targeted customer is exposed once (through ``shop.experiments.registry.expose``, as the chat
would), converts with the segment's base rate plus its planted uplift when in a treatment arm,
orders one product, and — treated — uses their code through ``redeem_code``, exactly as a real
order would. Converters return the item with the segment's return rate (plus its planted
return uplift when treated): the negative guardrail.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shop.experiments.registry import expose, get_experiment
from shop.promotions.redemption import redeem_code
from shop.promotions.targeting import customer_segments
from shop.store.models import Order, OrderItem, Product, Return
from shop.store.promotion_models import PromotionCode


@dataclass(frozen=True)
class PlantedEffect:
    """What the treatment does in one segment (absolute changes of rates)."""

    base_rate: float = 0.10  # conversion within the window without the offer
    uplift: float = 0.0  # added conversion with the offer
    return_rate: float = 0.10  # share of converters who return the item
    return_uplift: float = 0.0  # added return share with the offer (a harmed guardrail)
    redeem_rate: float = 0.9  # treated converters who use their code


# The demo's plan: +6 points for the first segment named, nothing for the second, more returns
# for the third (see `shopbot experiment simulate`).
DEMO_EFFECTS = (
    PlantedEffect(uplift=0.06),
    PlantedEffect(),
    PlantedEffect(return_uplift=0.40),
)


def simulate_offer_response(
    session: Session,
    experiment_key: str,
    effects: dict[str, PlantedEffect],
    *,
    start: dt.datetime,
    exposure_days: int = 14,
    seed: int = 0,
) -> dict[str, int]:
    """Counts of what was simulated: exposures, orders, redemptions, returns.

    ``effects`` maps segment labels of the newest segmentation to their planted effect; customers
    of other segments are left alone. The experiment must be running.
    """
    rng = random.Random(seed)
    experiment = get_experiment(session, experiment_key)
    control = str(experiment.arms[0]["name"])
    promo_of_arm = {str(a["name"]): a.get("promotion_id") for a in experiment.arms}
    window = experiment.attribution_days
    segments = customer_segments(session)
    customers = sorted(c for c, label in segments.items() if label in effects)
    products = list(
        session.execute(
            select(Product).where(Product.active.is_(True)).order_by(Product.id)
        ).scalars()
    )
    if not products:
        raise ValueError("the shop has no active products to order")
    next_number = (session.execute(select(func.max(Order.order_number))).scalar() or 899999) + 1
    counts = dict(exposures=0, orders=0, redemptions=0, returns=0)
    for customer in customers:
        effect = effects[segments[customer]]
        seen = start + dt.timedelta(minutes=rng.randrange(exposure_days * 24 * 60))
        arm = expose(session, experiment, customer, channel="simulation", now=seen)
        counts["exposures"] += 1
        treated = arm != control
        if rng.random() >= effect.base_rate + (effect.uplift if treated else 0.0):
            continue
        placed = seen + dt.timedelta(minutes=rng.randrange(1, (window - 2) * 24 * 60))
        product = rng.choice(products)
        order = Order(
            order_number=next_number, customer_id=customer, status="delivered",
            placed_at=placed, paid_at=placed, delivered_at=placed + dt.timedelta(days=1),
            total=Decimal(str(product.price)), source="simulation",
        )  # fmt: skip
        next_number += 1
        order.items.append(OrderItem(product_id=product.id, quantity=1, unit_price=product.price))
        session.add(order)
        session.flush()
        counts["orders"] += 1
        promotion_id = promo_of_arm.get(arm)
        if treated and promotion_id and rng.random() < effect.redeem_rate:
            code = session.execute(
                select(PromotionCode.code).where(
                    PromotionCode.promotion_id == promotion_id,
                    PromotionCode.customer_id == customer,
                )
            ).scalar_one_or_none()
            if code is not None:
                redeem_code(session, code, customer, order.order_number, now=placed)
                counts["redemptions"] += 1
        if rng.random() < effect.return_rate + (effect.return_uplift if treated else 0.0):
            session.add(
                Return(
                    rma_number=f"SIM-{order.order_number}", order_id=order.id,
                    order_item_id=order.items[0].id, quantity=1, reason="simulated",
                    status="received", created_at=placed + dt.timedelta(days=1),
                    updated_at=placed + dt.timedelta(days=1),
                )
            )  # fmt: skip
            counts["returns"] += 1
    session.flush()
    return counts
