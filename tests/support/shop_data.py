"""A small shop for the store tests: Ada (id 1) and Bob (id 2) and orders in every state."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from shop.store import session_scope
from shop.store.models import Customer, Order, OrderItem, Product, Shipment

ADA = "ada@example.com"
BOB = "bob@example.com"


def _order(customer, number, status, items, **kw):
    order = Order(
        order_number=number,
        customer_id=customer.id,
        email=kw.pop("email", customer.email),
        status=status,
        placed_at=kw.pop("placed_at", dt.datetime(2026, 11, 1, 10, 0)),
        total=sum((p.price * q for p, q in items), Decimal("0")),
        **kw,
    )
    for product, qty in items:
        order.items.append(OrderItem(product_id=product.id, quantity=qty, unit_price=product.price))
    return order


def build_shop(engine) -> dict:
    """A small shop: Ada (id 1) and Bob (id 2) and orders in every state. Returns the ids."""
    with session_scope(engine) as s:
        ada = Customer(email=ADA, name="Ada Lovelace")
        bob = Customer(email=BOB, name="Bob Builder")
        shirt = Product(
            sku="CLO-0042", name="Blue linen shirt", category="clothing", price=Decimal("39.90")
        )
        kettle = Product(
            sku="HOM-0007", name="Blue Enamel Kettle", category="home", price=Decimal("45.00")
        )
        mug = Product(
            sku="HOM-0008", name="Blue Enamel Mug", category="home", price=Decimal("12.50")
        )
        s.add_all([ada, bob, shirt, kettle, mug])
        s.flush()
        shipped = _order(
            ada,
            104233,
            "shipped",
            [(shirt, 2)],
            email="Ada@Example.com",
            paid_at=dt.datetime(2026, 11, 1, 10, 5),
            shipped_at=dt.datetime(2026, 11, 2, 9, 0),
            carrier="DHL",
            tracking_number="JD0146000012345",
        )
        shipped.shipments.append(
            Shipment(
                carrier="DHL",
                tracking_number="JD0146000012345",
                status="in_transit",
                shipped_at=dt.datetime(2026, 11, 2, 9, 0),
                estimated_delivery=dt.date(2026, 11, 5),
            )
        )
        delivered = _order(
            ada,
            104240,
            "delivered",
            [(kettle, 1), (mug, 3), (shirt, 1)],
            placed_at=dt.datetime(2026, 10, 20, 8, 0),
            shipped_at=dt.datetime(2026, 10, 21, 8, 0),
            delivered_at=dt.datetime(2026, 10, 23, 15, 30),
            carrier="UPS",
            tracking_number="1Z999AA10123456784",
        )
        old = _order(
            ada,
            103001,
            "delivered",
            [(kettle, 1)],
            placed_at=dt.datetime(2026, 8, 1, 8, 0),
            delivered_at=dt.datetime(2026, 8, 5, 12, 0),
        )
        paid = _order(ada, 104300, "paid", [(mug, 1)], placed_at=dt.datetime(2026, 11, 19, 8, 0))
        pending = _order(bob, 104301, "pending", [(kettle, 1)])
        bobs_delivered = _order(
            bob, 104302, "delivered", [(kettle, 1)], delivered_at=dt.datetime(2026, 11, 10, 9, 0)
        )
        s.add_all([shipped, delivered, old, paid, pending, bobs_delivered])
        s.flush()
        return {
            "ada": ada.id,
            "bob": bob.id,
            "kettle_line": delivered.items[0].id,
            "mug_line": delivered.items[1].id,
        }


def store_segments(engine, labels: dict[int, tuple[int, str]]) -> int:
    """A stored segmentation run: ``{customer_id: (segment number, label)}``; the run's id."""
    from shop.store.models import AnalyticsRun, CustomerSegment

    with session_scope(engine) as s:
        run = AnalyticsRun(kind="segments", model_version="test")
        s.add(run)
        s.flush()
        s.add_all(
            CustomerSegment(run_id=run.id, customer_id=cid, segment=seg, label=label)
            for cid, (seg, label) in labels.items()
        )
        return run.id


def code_count(engine, promotion_id: int) -> int:
    """How many personal codes a promotion has."""
    from sqlalchemy import func, select

    from shop.store.promotion_models import PromotionCode

    with session_scope(engine) as s:
        return s.execute(
            select(func.count()).select_from(PromotionCode)
            .where(PromotionCode.promotion_id == promotion_id)
        ).scalar()  # fmt: skip
