"""The experiment report as staff read it in Slack or the console ("how is the kitchen
experiment doing?"): state, lift with its interval, guardrails, and a chart."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.engine import Engine

from analytics.experiments.report import experiment_report
from analytics.reports.base import StaffReport, Table
from analytics.reports.charts import lift_chart
from shop.errors import NotFound
from shop.store import session_scope
from shop.store.promotion_models import Experiment

STATES = {
    "collecting": "collecting data",
    "not_enough_data": "not enough data",
    "srm": "sample-ratio mismatch: verdict hidden",
    "no_difference": "no detectable difference",
    "winner": "winner",
}


def experiment_key_in(engine: Engine, text: str) -> str:
    """The experiment the text names (its key as a word), else the only running one."""
    with session_scope(engine) as s:
        rows = s.execute(select(Experiment.key, Experiment.status)).all()
    words = set(re.findall(r"[\w-]+", text.lower()))
    named = [key for key, _ in rows if key.lower() in words]
    if named:
        return max(named, key=len)
    running = [key for key, status in rows if status == "running"]
    if len(running) == 1:
        return running[0]
    if not rows:
        raise NotFound("There are no experiments yet (`shopbot experiment create`).")
    raise NotFound("Which experiment? I know: " + ", ".join(sorted(k for k, _ in rows)) + ".")


def experiment_staff_report(engine: Engine, text: str) -> StaffReport:
    """The report for the experiment named in ``text`` (or the only running one)."""
    key = experiment_key_in(engine, text)
    with session_scope(engine) as s:
        r = experiment_report(s, key)
    comparisons = r["primary"] + r["guardrails"]
    rows = [
        [
            c["metric"],
            f"{c['control_mean']:.4g}",
            f"{c['treatment_mean']:.4g}",
            f"{c['lift']:+.4g}",
            f"[{c['ci_low']:+.4g}, {c['ci_high']:+.4g}]",
            f"{c['p_adjusted']:.3g}",
        ]
        for c in comparisons
    ]
    chart = None
    if comparisons:
        chart = lift_chart(
            f"{key}: lift with 95% interval",
            [c["metric"] for c in comparisons],
            [c["lift"] for c in comparisons],
            [c["ci_low"] for c in comparisons],
            [c["ci_high"] for c in comparisons],
            "treatment − control",
        )
    return StaffReport(
        title=f"Experiment {key}: {STATES[r['state']]}",
        summary=r["message"],
        fields=[
            ("exposed", ", ".join(f"{a} {n:,}" for a, n in r["counts"].items())),
            ("planned", f"{r['sample_size_per_arm']:,} per arm, at least {r['min_days']} days"),
            ("running", f"day {r['days']:.0f}"),
            ("primary metric", r["metric"]),
        ],
        table=Table(
            ["metric", "control", "treatment", "lift", "95% CI", "adj. p"],
            rows,
            ["l", "r", "r", "r", "l", "r"],
        )
        if rows
        else None,  # fmt: skip
        notes=[
            "Fixed horizon: no winner before the planned size and duration; Holm across metrics."
        ],
        chart_png=chart,
        chart_name=f"experiment-{key}.png",
        data=r,
    )
