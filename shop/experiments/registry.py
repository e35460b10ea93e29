"""Experiments in the store: create, start, stop, and record exposures with the arm."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shop.errors import NotFound, ShopbotError
from shop.experiments.assignment import arm_for, check_arms
from shop.store.models import utcnow
from shop.store.promotion_models import (
    EXPERIMENT_METRICS,
    Experiment,
    ExperimentAssignment,
    Exposure,
)

GUARDRAILS = ("returns", "complaints", "handoffs", "discount_cost")


class InvalidExperiment(ShopbotError):
    """An experiment that cannot be created or changed as asked; the message says why."""


def create_experiment(
    session: Session,
    *,
    key: str,
    arms: list[dict[str, Any]],
    metric: str,
    mde: float,
    sample_size_per_arm: int,
    hypothesis: str = "",
    guardrails: list[str] | None = None,
    baseline: float | None = None,
    min_days: int = 7,
    attribution_days: int = 14,
) -> Experiment:
    """The new experiment (a draft; `start_experiment` opens it)."""
    key = (key or "").strip()
    if not key or len(key) > 60:
        raise InvalidExperiment("an experiment needs a key of 1 to 60 characters")
    if session.execute(select(Experiment.id).where(Experiment.key == key)).first():
        raise InvalidExperiment(f"an experiment with key {key!r} exists already")
    if metric not in EXPERIMENT_METRICS:
        raise InvalidExperiment(f"the primary metric is one of {', '.join(EXPERIMENT_METRICS)}")
    rails = list(guardrails or [])
    unknown = [g for g in rails if g not in GUARDRAILS]
    if unknown:
        raise InvalidExperiment(
            f"unknown guardrails {', '.join(unknown)}; choose from {', '.join(GUARDRAILS)}"
        )
    if min_days < 7:
        raise InvalidExperiment("an experiment runs at least one weekly cycle (min_days >= 7)")
    try:
        checked = check_arms(arms)
    except ValueError as err:
        raise InvalidExperiment(str(err)) from None
    experiment = Experiment(
        key=key,
        hypothesis=hypothesis,
        status="draft",
        unit="customer",
        arms=checked,
        metric=metric,
        guardrails=rails,
        baseline=baseline,
        mde=float(mde),
        sample_size_per_arm=int(sample_size_per_arm),
        min_days=int(min_days),
        attribution_days=int(attribution_days),
    )
    session.add(experiment)
    session.flush()
    return experiment


def get_experiment(session: Session, key: str) -> Experiment:
    """The experiment with that key; NotFound otherwise."""
    found = session.execute(select(Experiment).where(Experiment.key == key)).scalar_one_or_none()
    if found is None:
        raise NotFound(f"There is no experiment {key!r}. `shopbot experiment list` shows them.")
    return found


def start_experiment(session: Session, key: str, now: dt.datetime | None = None) -> Experiment:
    experiment = get_experiment(session, key)
    if experiment.status != "draft":
        raise InvalidExperiment(f"experiment {key!r} is {experiment.status}; only a draft starts")
    experiment.status = "running"
    experiment.started_at = now or utcnow()
    session.flush()
    return experiment


def stop_experiment(session: Session, key: str, now: dt.datetime | None = None) -> Experiment:
    experiment = get_experiment(session, key)
    if experiment.status != "running":
        raise InvalidExperiment(f"experiment {key!r} is {experiment.status}, not running")
    experiment.status = "stopped"
    experiment.stopped_at = now or utcnow()
    session.flush()
    return experiment


def assign(session: Session, experiment: Experiment, customer_id: int) -> ExperimentAssignment:
    """The customer's stored assignment, made by hash on first use (and then kept)."""
    found = session.get(ExperimentAssignment, (experiment.id, customer_id))
    if found is not None:
        return found
    row = ExperimentAssignment(
        experiment_id=experiment.id,
        customer_id=customer_id,
        arm=arm_for(experiment.key, customer_id, experiment.arms),
        assigned_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:  # assigned concurrently: the same hash gave the same arm
        found = session.get(ExperimentAssignment, (experiment.id, customer_id))
        assert found is not None
        return found
    return row


def expose(
    session: Session,
    experiment: Experiment,
    customer_id: int,
    *,
    channel: str = "chat",
    now: dt.datetime | None = None,
) -> str:
    """The customer's arm, after recording the exposure (the first one starts their window)."""
    now = now or utcnow()
    if experiment.status != "running":
        raise InvalidExperiment(f"experiment {experiment.key!r} is {experiment.status}")
    assignment = assign(session, experiment, customer_id)
    if assignment.exposed_at is None:
        assignment.exposed_at = now
    promotion_id = next(
        (a.get("promotion_id") for a in experiment.arms if a["name"] == assignment.arm), None
    )
    session.add(
        Exposure(
            customer_id=customer_id,
            promotion_id=promotion_id,
            experiment_id=experiment.id,
            arm=assignment.arm,
            channel=channel,
            at=now,
        )
    )
    session.flush()
    return assignment.arm
