"""The shop's tables (SQLAlchemy 1.4 declarative, written in the 2.0 style).

Schema changes go through Alembic migrations in ``shop/store/migrations``; a test
checks that the migrations and these models agree.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import declarative_base, relationship

# Explicit constraint names so that Alembic migrations are portable (SQLite batch mode needs them).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

if TYPE_CHECKING:  # SQLAlchemy 1.4 ships no types: describe the declarative base to mypy

    class Base:
        metadata: Any
        __table__: Any

        def __init__(self, **kwargs: Any) -> None: ...

else:
    Base = declarative_base(metadata=MetaData(naming_convention=NAMING_CONVENTION))

CATEGORIES = ("clothing", "electronics", "home", "beauty", "food")
CATEGORY_CODES = {
    "clothing": "CLO",
    "electronics": "EL",
    "home": "HOM",
    "beauty": "BEA",
    "food": "FOO",
}

ORDER_STATUSES = ("pending", "paid", "shipped", "delivered", "cancelled")
SHIPMENT_STATUSES = ("label_created", "in_transit", "out_for_delivery", "delivered", "exception")
RETURN_STATUSES = ("requested", "approved", "received", "refunded", "rejected")
EVENT_KINDS = ("view", "cart", "purchase")
TICKET_KINDS = ("handoff", "complaint")
HANDOFF_STATES = ("bot", "waiting", "agent", "resolved")
# to_customer: a staff reply or a notice for the customer (the outbox until delivered);
# to_thread: a customer's message posted to the Slack thread; note: staff-only, never relayed.
HANDOFF_DIRECTIONS = ("to_customer", "to_thread", "note")


def utcnow() -> dt.datetime:
    """Naive UTC now: every timestamp in the store is naive UTC."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Customer(Base):
    __tablename__ = "customers"

    id = Column(Integer, primary_key=True)
    # Identifier from an imported file (e.g. Online Retail's CustomerID); null for demo customers.
    external_id = Column(String(64), unique=True)
    email = Column(String(254), unique=True)
    name = Column(String(200))
    country = Column(String(80))
    created_at = Column(DateTime, nullable=False, default=utcnow)
    # Planted group of the demo shop ("A".."E", "churned", "new"); only used to evaluate segmentation.
    demo_group = Column(String(16))

    orders = relationship("Order", back_populates="customer")


class Product(Base):
    __tablename__ = "products"

    id = Column(Integer, primary_key=True)
    sku = Column(String(32), nullable=False, unique=True)
    name = Column(String(300), nullable=False)
    category = Column(String(40), nullable=False, default="other")
    brand = Column(String(100))
    price = Column(Numeric(10, 2), nullable=False)
    active = Column(Boolean, nullable=False, default=True)
    description = Column(Text)
    created_at = Column(DateTime, nullable=False, default=utcnow)

    inventory = relationship("Inventory", back_populates="product", uselist=False)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending','paid','shipped','delivered','cancelled')", name="status"
        ),
        Index("ix_orders_customer_placed", "customer_id", "placed_at"),
    )

    id = Column(Integer, primary_key=True)
    order_number = Column(Integer, nullable=False, unique=True)
    customer_id = Column(Integer, ForeignKey("customers.id"), nullable=False)
    # The address the confirmation went to; guests prove ownership with it.
    email = Column(String(254))
    status = Column(String(16), nullable=False, default="pending")
    placed_at = Column(DateTime, nullable=False)
    paid_at = Column(DateTime)
    shipped_at = Column(DateTime)
    delivered_at = Column(DateTime)
    cancelled_at = Column(DateTime)
    carrier = Column(String(40))
    tracking_number = Column(String(64))
    total = Column(Numeric(12, 2), nullable=False, default=0)
    promo_code = Column(String(40))
    # Where the order came from: "demo", "import:<file sha256 prefix>", "web".
    source = Column(String(80), nullable=False, default="web")

    customer = relationship("Customer", back_populates="orders")
    items = relationship("OrderItem", back_populates="order", cascade="all, delete-orphan")
    shipments = relationship("Shipment", back_populates="order", cascade="all, delete-orphan")


class OrderItem(Base):
    __tablename__ = "order_items"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id = Column(Integer, primary_key=True)
    order_id = Column(
        Integer, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True
    )
    product_id = Column(Integer, ForeignKey("products.id"), nullable=False, index=True)
    quantity = Column(Integer, nullable=False)
    unit_price = Column(Numeric(10, 2), nullable=False)

    order = relationship("Order", back_populates="items")
    product = relationship("Product")


class Shipment(Base):
    __tablename__ = "shipments"

    id = Column(Integer, primary_key=True)
    order_id = Column(
        Integer, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True
    )
    carrier = Column(String(40), nullable=False)
    tracking_number = Column(String(64), nullable=False)
    status = Column(String(20), nullable=False, default="label_created")
    shipped_at = Column(DateTime)
    estimated_delivery = Column(Date)
    delivered_at = Column(DateTime)
    last_location = Column(String(120))

    order = relationship("Order", back_populates="shipments")


class Return(Base):
    __tablename__ = "returns"
    __table_args__ = (
        # One return per order line: this is what makes "asking twice" and concurrent
        # requests produce exactly one RMA.
        UniqueConstraint("order_item_id", name="uq_returns_order_item_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id = Column(Integer, primary_key=True)
    rma_number = Column(String(20), nullable=False, unique=True)
    order_id = Column(Integer, ForeignKey("orders.id"), nullable=False, index=True)
    order_item_id = Column(Integer, ForeignKey("order_items.id"), nullable=False)
    quantity = Column(Integer, nullable=False)
    reason = Column(String(500))
    status = Column(String(16), nullable=False, default="requested")
    created_at = Column(DateTime, nullable=False, default=utcnow)
    updated_at = Column(DateTime, nullable=False, default=utcnow)

    order = relationship("Order")
    item = relationship("OrderItem")


class Inventory(Base):
    __tablename__ = "inventory"

    product_id = Column(Integer, ForeignKey("products.id"), primary_key=True)
    on_hand = Column(Integer, nullable=False, default=0)
    on_order = Column(Integer, nullable=False, default=0)
    lead_time_days = Column(Integer, nullable=False, default=7)
    safety_stock = Column(Integer, nullable=False, default=0)
    reorder_point = Column(Integer, nullable=False, default=0)
    updated_at = Column(DateTime, nullable=False, default=utcnow)

    product = relationship("Product", back_populates="inventory")


class Rating(Base):
    __tablename__ = "ratings"
    __table_args__ = (
        UniqueConstraint("customer_id", "product_id", name="uq_ratings_customer_product"),
        CheckConstraint("rating >= 1 AND rating <= 5", name="rating_range"),
    )

    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customers.id"), nullable=False, index=True)
    product_id = Column(Integer, ForeignKey("products.id"), nullable=False, index=True)
    rating = Column(Float, nullable=False)
    rated_at = Column(DateTime, nullable=False, default=utcnow)


class Event(Base):
    __tablename__ = "events"

    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customers.id"), index=True)
    product_id = Column(Integer, ForeignKey("products.id"), nullable=False, index=True)
    kind = Column(String(16), nullable=False)
    occurred_at = Column(DateTime, nullable=False, default=utcnow)


class SupportTicket(Base):
    __tablename__ = "support_tickets"

    id = Column(Integer, primary_key=True)
    kind = Column(String(16), nullable=False)
    customer_id = Column(Integer, ForeignKey("customers.id"))
    order_id = Column(Integer, ForeignKey("orders.id"))
    conversation_id = Column(String(200), index=True)
    channel = Column(String(40))
    subject = Column(String(300))
    transcript = Column(Text)
    status = Column(String(16), nullable=False, default="open")
    created_at = Column(DateTime, nullable=False, default=utcnow)


class Handoff(Base):
    """A conversation handed to the team: its Slack thread, who owns it, and its timings.

    ``state``: waiting (no one took it yet), agent (``assignee`` answers), resolved (the bot
    answers again); bot is the state of a conversation that was never handed off."""

    __tablename__ = "handoffs"
    __table_args__ = (
        CheckConstraint("state IN ('bot','waiting','agent','resolved')", name="state"),
        UniqueConstraint("slack_channel", "thread_ts", name="uq_handoffs_thread"),
        Index("ix_handoffs_conversation_state", "conversation_id", "state"),
    )

    id = Column(Integer, primary_key=True)
    ticket_id = Column(Integer, ForeignKey("support_tickets.id"), nullable=False, unique=True)
    conversation_id = Column(String(200), nullable=False)
    # The customer's channel ("rest", "socketio"): how staff replies reach them.
    channel = Column(String(40))
    reason = Column(String(300))
    # What a guest proved (e-mail and order number), for the context card; null when signed in.
    guest_email = Column(String(254))
    guest_order = Column(Integer)
    slack_channel = Column(String(40))
    thread_ts = Column(String(32))
    state = Column(String(16), nullable=False, default="waiting")
    assignee = Column(String(40))
    assignee_name = Column(String(100))
    opened_at = Column(DateTime, nullable=False, default=utcnow)
    first_response_at = Column(DateTime)
    resolved_at = Column(DateTime)
    reminded_at = Column(DateTime)
    outcome = Column(String(40))


class HandoffMessage(Base):
    """One message relayed between a customer and a Slack thread, keyed so that each is
    delivered exactly once: ``key`` is Slack's ``ts`` for thread messages, the customer
    message's id for customer messages. Undelivered ``to_customer`` rows are the outbox."""

    __tablename__ = "handoff_messages"
    __table_args__ = (
        UniqueConstraint("handoff_id", "direction", "key", name="uq_handoff_messages_key"),
        CheckConstraint("direction IN ('to_customer','to_thread','note')", name="direction"),
        Index("ix_handoff_messages_outbox", "conversation_id", "delivered_at"),
    )

    id = Column(Integer, primary_key=True)
    handoff_id = Column(
        Integer, ForeignKey("handoffs.id", ondelete="CASCADE"), nullable=False, index=True
    )
    conversation_id = Column(String(200), nullable=False)
    direction = Column(String(16), nullable=False)
    key = Column(String(120), nullable=False)
    author = Column(String(100))
    text = Column(Text, nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    # to_thread: the ts Slack gave the posted copy; to_customer: when it reached the customer.
    slack_ts = Column(String(32))
    delivered_at = Column(DateTime)


class LookupFailure(Base):
    """A guest's failed attempt to prove an order (or a return) is theirs, counted by e-mail, by
    order number and by client address to slow down guessing (``shop.access``). The keys are
    hashes of the values, not the values."""

    __tablename__ = "lookup_failures"
    __table_args__ = (
        Index("ix_lookup_failures_email_key_at", "email_key", "at"),
        Index("ix_lookup_failures_order_key_at", "order_key", "at"),
        Index("ix_lookup_failures_client_key_at", "client_key", "at"),
    )

    id = Column(Integer, primary_key=True)
    at = Column(DateTime, nullable=False, index=True)
    email_key = Column(String(32))
    order_key = Column(String(32))
    client_key = Column(String(32))


class ImportBatch(Base):
    """One imported file: makes re-importing the same file a no-op and keeps its report."""

    __tablename__ = "import_batches"
    __table_args__ = (UniqueConstraint("kind", "sha256", name="uq_import_batches_kind_sha256"),)

    id = Column(Integer, primary_key=True)
    kind = Column(String(20), nullable=False)
    filename = Column(String(500), nullable=False)
    sha256 = Column(String(64), nullable=False)
    imported_at = Column(DateTime, nullable=False, default=utcnow)
    report = Column(JSON)


# ---- analytics results -------------------------------------------------------------------------


class AnalyticsRun(Base):
    """One run of an analytics job: when, which model version, with which parameters and metrics."""

    __tablename__ = "analytics_runs"

    id = Column(Integer, primary_key=True)
    kind = Column(
        String(20), nullable=False, index=True
    )  # segments | forecast | reorder | recommender
    model_version = Column(String(64), nullable=False)
    started_at = Column(DateTime, nullable=False, default=utcnow)
    finished_at = Column(DateTime)
    params = Column(JSON)
    metrics = Column(JSON)


class CustomerSegment(Base):
    __tablename__ = "customer_segments"

    run_id = Column(Integer, ForeignKey("analytics_runs.id", ondelete="CASCADE"), primary_key=True)
    customer_id = Column(Integer, ForeignKey("customers.id"), primary_key=True)
    segment = Column(Integer, nullable=False)
    label = Column(String(100), nullable=False)


class SegmentProfile(Base):
    __tablename__ = "segment_profiles"

    run_id = Column(Integer, ForeignKey("analytics_runs.id", ondelete="CASCADE"), primary_key=True)
    segment = Column(Integer, primary_key=True)
    label = Column(String(100), nullable=False)
    size = Column(Integer, nullable=False)
    favourite_category = Column(String(40))
    purchases_per_month = Column(Float)
    spend_per_month = Column(Float)
    recency_days = Column(Float)


class Forecast(Base):
    __tablename__ = "forecasts"

    run_id = Column(Integer, ForeignKey("analytics_runs.id", ondelete="CASCADE"), primary_key=True)
    product_id = Column(Integer, ForeignKey("products.id"), primary_key=True)
    day = Column(Date, primary_key=True)
    method = Column(String(40), nullable=False)
    mean = Column(Float, nullable=False)
    lo80 = Column(Float)
    hi80 = Column(Float)
    lo95 = Column(Float)
    hi95 = Column(Float)


class ReorderAdvice(Base):
    __tablename__ = "reorder_advice"

    run_id = Column(Integer, ForeignKey("analytics_runs.id", ondelete="CASCADE"), primary_key=True)
    product_id = Column(Integer, ForeignKey("products.id"), primary_key=True)
    on_hand = Column(Integer, nullable=False)
    on_order = Column(Integer, nullable=False)
    lead_time_days = Column(Integer, nullable=False)
    service_level = Column(Float, nullable=False)
    lead_time_demand = Column(Float, nullable=False)
    safety_stock = Column(Float, nullable=False)
    reorder_point = Column(Float, nullable=False)
    order_quantity = Column(Integer, nullable=False)
    days_of_cover = Column(Float)
    stockout_date = Column(Date)
    reorder_now = Column(Boolean, nullable=False)
    method = Column(String(40))


# The promotion and experiment tables live in their own module, on the same Base.
from shop.store import promotion_models  # noqa: E402,F401
