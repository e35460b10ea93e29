"""``shopbot experiment report KEY``: the experiment's design, its state and lift with the interval,
the guardrails — overall and per segment of the newest segmentation."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from analytics.experiments.outcomes import load_outcomes
from analytics.experiments.verdict import Plan, Verdict, decide
from shop.experiments.registry import get_experiment
from shop.promotions.targeting import customer_segments
from shop.store.models import utcnow
from shop.store.promotion_models import Experiment


def plan_of(experiment: Experiment) -> Plan:
    return Plan(
        arms=experiment.arms,
        metric=experiment.metric,
        guardrails=list(experiment.guardrails or []),
        sample_size_per_arm=experiment.sample_size_per_arm,
        min_days=experiment.min_days,
    )


def days_running(experiment: Experiment, now: dt.datetime) -> float:
    if experiment.started_at is None:
        return 0.0
    end = min(now, experiment.stopped_at or now)
    return max(0.0, (end - experiment.started_at).total_seconds() / 86400)


def experiment_report(
    session: Session, key: str, *, now: dt.datetime | None = None, by_segment: bool = False
) -> dict[str, Any]:
    """JSON-ready report: design, overall verdict, and (``by_segment``) a verdict per segment."""
    now = now or utcnow()
    experiment = get_experiment(session, key)
    plan = plan_of(experiment)
    days = days_running(experiment, now)
    running = experiment.status == "running"
    overall = decide(plan, load_outcomes(session, experiment, now=now), days=days, running=running)
    report: dict[str, Any] = {
        "key": experiment.key,
        "hypothesis": experiment.hypothesis,
        "status": experiment.status,
        "arms": experiment.arms,
        "metric": experiment.metric,
        "guardrail_metrics": list(experiment.guardrails or []),
        "mde": experiment.mde,
        "sample_size_per_arm": experiment.sample_size_per_arm,
        "min_days": experiment.min_days,
        "attribution_days": experiment.attribution_days,
        "design": "fixed horizon: no verdict before the planned sample size per arm and the "
        "minimum duration; Holm across the primary metric and the guardrails",
        **overall.to_dict(),
    }
    if by_segment:
        members: dict[str, set[int]] = {}
        for customer, label in customer_segments(session).items():
            members.setdefault(label, set()).add(customer)
        report["segments"] = {}
        for label, ids in sorted(members.items()):
            outcomes = load_outcomes(session, experiment, customers=ids, now=now)
            if any(values[plan.metric] for values in outcomes.values()):  # segments exposed only
                verdict = decide(plan, outcomes, days=days, running=running)
                report["segments"][label] = verdict.to_dict()
    return report


def _line(c: dict[str, Any]) -> str:
    rel = "" if c["relative_lift"] is None else f" ({c['relative_lift']:+.1%})"
    p = c["p_adjusted"] if c["p_adjusted"] is not None else c["p_value"]
    return (
        f"  {c['metric']:<14} control {c['control_mean']:.4g} → {c['treatment_mean']:.4g}: "
        f"lift {c['lift']:+.4g}{rel}, 95% CI [{c['ci_low']:+.4g}, {c['ci_high']:+.4g}], "
        f"adj. p {p:.3g}"
    )


def _verdict_lines(v: dict[str, Any]) -> list[str]:
    lines = [f"state: {v['state']} — {v['message']}"]
    lines.append("customers exposed: " + ", ".join(f"{a} {n}" for a, n in v["counts"].items()))
    lines += [_line(c) for c in v["primary"] + v["guardrails"]]
    return lines


def format_report(report: dict[str, Any]) -> str:
    """The report as staff read it."""
    arms = ", ".join(f"{a['name']} {a['weight']:.0%}" for a in report["arms"])
    lines = [
        f"Experiment {report['key']} ({report['status']}): {report['hypothesis'] or ''}".rstrip(),
        f"arms: {arms}; primary: {report['metric']}; guardrails: "
        f"{', '.join(report['guardrail_metrics']) or 'none'}",
        f"planned: {report['sample_size_per_arm']} customers per arm (MDE {report['mde']:g}), "
        f"at least {report['min_days']} days; day {report['days']:.0f}",
        *_verdict_lines(report),
    ]
    for label, v in (report.get("segments") or {}).items():
        lines += ["", f"segment {label}:", *("  " + x for x in _verdict_lines(v))]
    return "\n".join(lines)


__all__ = ["Verdict", "experiment_report", "format_report"]
