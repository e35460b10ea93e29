"""The store on SQLite and PostgreSQL: migrations, round trips, constraints."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, inspect, select
from sqlalchemy.exc import IntegrityError

from shop.store import migrate, session_scope
from shop.store.models import (
    Base,
    Customer,
    Inventory,
    Order,
    OrderItem,
    Product,
    Rating,
    Return,
    Shipment,
)

pytestmark = []


def _shop(session):
    c = Customer(email="ada@example.com", name="Ada Lovelace", country="UK")
    p = Product(
        sku="CLO-0042", name="Blue linen shirt", category="clothing", price=Decimal("39.90")
    )
    session.add_all([c, p])
    session.flush()
    o = Order(
        order_number=104233,
        customer_id=c.id,
        email=c.email,
        status="shipped",
        placed_at=dt.datetime(2026, 11, 1, 10, 0),
        shipped_at=dt.datetime(2026, 11, 2, 9, 0),
        carrier="DHL",
        tracking_number="JD0146000012345",
        total=Decimal("79.80"),
    )
    o.items.append(OrderItem(product_id=p.id, quantity=2, unit_price=Decimal("39.90")))
    o.shipments.append(
        Shipment(
            carrier="DHL",
            tracking_number="JD0146000012345",
            status="in_transit",
            estimated_delivery=dt.date(2026, 11, 5),
        )
    )
    session.add_all([o, Inventory(product_id=p.id, on_hand=12, on_order=5, lead_time_days=10)])
    session.add(
        Rating(customer_id=c.id, product_id=p.id, rating=5, rated_at=dt.datetime(2026, 11, 6))
    )
    return c, p, o


def test_round_trip(any_engine):
    with session_scope(any_engine) as s:
        _shop(s)
    with session_scope(any_engine) as s:
        order = s.execute(select(Order).where(Order.order_number == 104233)).scalar_one()
        assert order.customer.email == "ada@example.com"
        assert order.total == Decimal("79.80")
        assert [(i.product.sku, i.quantity, i.unit_price) for i in order.items] == [
            ("CLO-0042", 2, Decimal("39.90"))
        ]
        assert order.shipments[0].estimated_delivery == dt.date(2026, 11, 5)
        inv = s.get(Inventory, order.items[0].product_id)
        assert (inv.on_hand, inv.on_order, inv.lead_time_days) == (12, 5, 10)


def test_one_return_per_order_line(any_engine):
    with session_scope(any_engine) as s:
        _, _, o = _shop(s)
        s.flush()
        item_id, order_id = o.items[0].id, o.id
        s.add(Return(rma_number="RMA-000001", order_id=order_id, order_item_id=item_id, quantity=1))
    with pytest.raises(IntegrityError):
        with session_scope(any_engine) as s:
            s.add(
                Return(
                    rma_number="RMA-000002", order_id=order_id, order_item_id=item_id, quantity=1
                )
            )
    with session_scope(any_engine) as s:
        assert s.scalar(select(func.count()).select_from(Return)) == 1


@pytest.mark.parametrize(
    "bad",
    [
        lambda c, p: Rating(customer_id=c.id, product_id=p.id, rating=6),
        lambda c, p: Order(
            order_number=1, customer_id=c.id, status="lost", placed_at=dt.datetime(2026, 1, 1)
        ),
        lambda c, p: Product(sku="CLO-0042", name="duplicate sku", price=1),
    ],
    ids=["rating-out-of-range", "unknown-order-status", "duplicate-sku"],
)
def test_constraints_reject_bad_rows(any_engine, bad):
    with session_scope(any_engine) as s:
        c = Customer(email="x@example.com")
        p = Product(sku="CLO-0042", name="shirt", price=10)
        s.add_all([c, p])
    with pytest.raises(IntegrityError):
        with session_scope(any_engine) as s:
            c = s.execute(select(Customer)).scalar_one()
            p = s.execute(select(Product)).scalar_one()
            s.add(bad(c, p))


def test_failed_unit_of_work_writes_nothing(any_engine):
    with pytest.raises(RuntimeError):
        with session_scope(any_engine) as s:
            s.add(Customer(email="ghost@example.com"))
            s.flush()
            raise RuntimeError("boom")
    with session_scope(any_engine) as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 0


def test_migrations_match_models(any_engine):
    with any_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_migrations_down_and_up(any_engine):
    assert migrate.is_up_to_date(any_engine)
    migrate.downgrade(any_engine, "base")
    assert migrate.current_revision(any_engine) is None
    assert set(inspect(any_engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(any_engine)
    assert migrate.current_revision(any_engine) == migrate.head_revision()
    assert {"orders", "returns", "ratings", "reorder_advice"} <= set(
        inspect(any_engine).get_table_names()
    )
