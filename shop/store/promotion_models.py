"""Tables of promotions and experiments: offers, per-customer codes, redemptions, exposures, the
offer consent ledger, experiments and their assignments (migration 0003).

Registered on the same ``Base`` as ``shop.store.models`` (which imports this module at its end),
so Alembic and the migration test see them.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)

from shop.store.models import Base, utcnow

PROMOTION_STATUSES = ("draft", "active", "paused", "ended")
REWARD_KINDS = ("percent", "fixed")
EXPERIMENT_STATUSES = ("draft", "running", "stopped")
EXPERIMENT_METRICS = ("conversion", "revenue", "redemption")


class Promotion(Base):
    """An offer for a target (segments of the newest segmentation or a rule on RFM features)."""

    __tablename__ = "promotions"
    __table_args__ = (
        CheckConstraint("status IN ('draft','active','paused','ended')", name="status"),
        CheckConstraint("reward_kind IN ('percent','fixed')", name="reward_kind"),
        CheckConstraint("reward_value > 0", name="reward_positive"),
        CheckConstraint("per_customer_cap >= 1", name="per_customer_cap_positive"),
        CheckConstraint("redemptions >= 0", name="redemptions_not_negative"),
    )

    id = Column(Integer, primary_key=True)
    name = Column(String(120), nullable=False, unique=True)
    status = Column(String(10), nullable=False, default="draft")
    # {"segments": ["At risk", ...]} or {"rule": {"recency_days_min": 90, ...}}
    target = Column(JSON, nullable=False)
    reward_kind = Column(String(10), nullable=False)
    reward_value = Column(Numeric(10, 2), nullable=False)
    categories = Column(JSON)  # null: the whole order; else a list of product categories
    starts_at = Column(DateTime, nullable=False)
    ends_at = Column(DateTime, nullable=False)
    global_cap = Column(Integer)  # redemptions over all customers; null: no cap
    per_customer_cap = Column(Integer, nullable=False, default=1)
    budget = Column(Numeric(12, 2))  # total discount that may be given; null: no budget
    redemptions = Column(Integer, nullable=False, default=0)
    spent = Column(Numeric(12, 2), nullable=False, default=0)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    updated_at = Column(DateTime, nullable=False, default=utcnow)


class PromotionCode(Base):
    """One customer's code for one promotion: unguessable, unique, counted when used."""

    __tablename__ = "promotion_codes"
    __table_args__ = (
        UniqueConstraint(
            "promotion_id", "customer_id", name="uq_promotion_codes_promotion_customer"
        ),
        CheckConstraint("uses >= 0", name="uses_not_negative"),
    )

    id = Column(Integer, primary_key=True)
    code = Column(String(40), nullable=False, unique=True)
    promotion_id = Column(
        Integer, ForeignKey("promotions.id", ondelete="CASCADE"), nullable=False, index=True
    )
    customer_id = Column(Integer, ForeignKey("customers.id"), nullable=False, index=True)
    uses = Column(Integer, nullable=False, default=0)
    created_at = Column(DateTime, nullable=False, default=utcnow)


class PromotionRedemption(Base):
    """An order that used a code, with the discount it got (one redemption per order)."""

    __tablename__ = "promotion_redemptions"

    id = Column(Integer, primary_key=True)
    promotion_id = Column(Integer, ForeignKey("promotions.id"), nullable=False, index=True)
    code_id = Column(Integer, ForeignKey("promotion_codes.id"), nullable=False, index=True)
    customer_id = Column(Integer, ForeignKey("customers.id"), nullable=False, index=True)
    order_id = Column(Integer, ForeignKey("orders.id"), nullable=False, unique=True)
    discount = Column(Numeric(12, 2), nullable=False)
    redeemed_at = Column(DateTime, nullable=False, default=utcnow)


class Exposure(Base):
    """A customer was shown an offer (or, in an experiment's control arm, would have been)."""

    __tablename__ = "exposures"
    __table_args__ = (Index("ix_exposures_customer_at", "customer_id", "at"),)

    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customers.id"), nullable=False)
    promotion_id = Column(Integer, ForeignKey("promotions.id"), index=True)
    experiment_id = Column(Integer, ForeignKey("experiments.id"), index=True)
    arm = Column(String(40))
    channel = Column(String(40))  # storefront, rest, simulation, ...
    at = Column(DateTime, nullable=False, default=utcnow)


class OfferConsent(Base):
    """The consent ledger: each row is a customer's choice about offers; the newest one counts."""

    __tablename__ = "offer_consents"
    __table_args__ = (
        CheckConstraint("choice IN ('opt_out','opt_in')", name="choice"),
        Index("ix_offer_consents_customer_at", "customer_id", "at"),
    )

    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customers.id"), nullable=False)
    choice = Column(String(10), nullable=False)
    reason = Column(String(300))
    source = Column(String(40))  # chat, cli, staff
    at = Column(DateTime, nullable=False, default=utcnow)


class Experiment(Base):
    """An A/B test: arms with weights, a primary metric, guardrails and its planned size."""

    __tablename__ = "experiments"
    __table_args__ = (
        CheckConstraint("status IN ('draft','running','stopped')", name="status"),
        CheckConstraint("metric IN ('conversion','revenue','redemption')", name="metric"),
    )

    id = Column(Integer, primary_key=True)
    key = Column(String(60), nullable=False, unique=True)
    hypothesis = Column(Text)
    status = Column(String(10), nullable=False, default="draft")
    unit = Column(String(20), nullable=False, default="customer")
    # [{"name": "control", "weight": 0.5, "promotion_id": null}, {"name": "offer", ...}]
    arms = Column(JSON, nullable=False)
    metric = Column(String(20), nullable=False, default="conversion")
    guardrails = Column(JSON, nullable=False)  # ["returns", "complaints", "handoffs", ...]
    baseline = Column(Float)  # expected control conversion rate, or revenue standard deviation
    mde = Column(Float, nullable=False)  # minimum detectable effect (absolute)
    sample_size_per_arm = Column(Integer, nullable=False)
    min_days = Column(Integer, nullable=False, default=7)
    attribution_days = Column(Integer, nullable=False, default=14)
    started_at = Column(DateTime)
    stopped_at = Column(DateTime)
    created_at = Column(DateTime, nullable=False, default=utcnow)


class ExperimentAssignment(Base):
    """The arm a customer is in (decided once by hash, kept) and when they were first exposed."""

    __tablename__ = "experiment_assignments"

    experiment_id = Column(
        Integer, ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id = Column(Integer, ForeignKey("customers.id"), primary_key=True)
    arm = Column(String(40), nullable=False)
    assigned_at = Column(DateTime, nullable=False, default=utcnow)
    exposed_at = Column(DateTime)
