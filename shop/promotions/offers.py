"""Offering a signed-in customer their code at a natural moment: once per promotion, never after
"no more offers", recorded as an exposure. In an experiment the customer's arm decides: control
is recorded as exposed at the same moment but shown nothing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.experiments.registry import expose
from shop.promotions.admin import last_day, reward_text
from shop.promotions.consent import opted_out
from shop.store.models import utcnow
from shop.store.promotion_models import (
    Experiment,
    ExperimentAssignment,
    Exposure,
    Promotion,
    PromotionCode,
)

STOP_HINT = 'Say "no more offers" if you\'d rather not get these.'


@dataclass(frozen=True)
class Offer:
    promotion: str
    code: str
    text: str


def offer_text(promotion: Promotion, code: str) -> str:
    """What the customer reads: the reward, where it applies, until when, the code."""
    off = reward_text(promotion.reward_kind, promotion.reward_value)
    where = f" {' and '.join(promotion.categories)}" if promotion.categories else " your next order"
    until = last_day(promotion.ends_at)
    return (
        f"By the way: you have {off}{where} until {until:%d %B}, with your personal code "
        f"{code} at checkout. {STOP_HINT}"
    )


def _experiment_for(session: Session, promotion_id: int) -> Experiment | None:
    for experiment in session.execute(
        select(Experiment).where(Experiment.status == "running").order_by(Experiment.id)
    ).scalars():
        if any(a.get("promotion_id") == promotion_id for a in experiment.arms):
            return experiment
    return None


def _has_room(promotion: Promotion) -> bool:
    full = promotion.global_cap is not None and promotion.redemptions >= promotion.global_cap
    spent = promotion.budget is not None and promotion.spent >= promotion.budget
    return not full and not spent


def offer_for(
    session: Session, customer_id: int, *, channel: str = "chat", now: dt.datetime | None = None
) -> Offer | None:
    """The offer to show the customer now (recorded as an exposure), or None."""
    now = now or utcnow()
    if opted_out(session, customer_id):
        return None
    rows = session.execute(
        select(Promotion, PromotionCode)
        .join(PromotionCode, PromotionCode.promotion_id == Promotion.id)
        .where(
            PromotionCode.customer_id == customer_id,
            PromotionCode.uses < Promotion.per_customer_cap,
            Promotion.status == "active",
            Promotion.starts_at <= now,
            Promotion.ends_at > now,
        )
        .order_by(Promotion.id.desc())
    ).all()
    for promotion, code in rows:
        if not _has_room(promotion):
            continue
        experiment = _experiment_for(session, promotion.id)
        if experiment is not None:
            done = session.get(ExperimentAssignment, (experiment.id, customer_id))
            if done is not None and done.exposed_at is not None:
                continue  # offered (or held back, in control) once already
            arm = expose(session, experiment, customer_id, channel=channel, now=now)
            chosen = next(a for a in experiment.arms if a["name"] == arm)
            if chosen.get("promotion_id") != promotion.id:
                return None  # control: exposed at this moment, shown nothing
        else:
            seen = session.execute(
                select(Exposure.id).where(
                    Exposure.customer_id == customer_id, Exposure.promotion_id == promotion.id
                )
            ).first()
            if seen:
                continue
            session.add(
                Exposure(
                    customer_id=customer_id, promotion_id=promotion.id, channel=channel, at=now
                )
            )
            session.flush()
        return Offer(promotion.name, code.code, offer_text(promotion, code.code))
    return None
