"""The verdict of an experiment from per-customer outcomes, with an explicit state.

Fixed-horizon design, not sequential: estimates are shown while collecting, but no arm is
declared the winner before every arm has its planned sample size and the experiment has run its
minimum duration (at least one weekly cycle). Looking daily therefore cannot inflate false
positives: only the one look at the planned horizon decides. A sample-ratio mismatch
(chi-square p < 0.001) hides every comparison, because a broken assignment makes them untrustworthy.

States: ``collecting`` · ``not_enough_data`` · ``srm`` · ``no_difference`` · ``winner``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analytics.experiments.stats import (
    SRM_ALPHA,
    Comparison,
    cuped,
    holm,
    srm_p_value,
    two_proportions,
    welch,
)

ALPHA = 0.05
BINARY = {"conversion", "redemption", "returns", "complaints", "handoffs"}
# Guardrails where an increase is harm.
HARM_IF_UP = {"returns", "complaints", "handoffs", "discount_cost"}
MIN_UNITS_PER_ARM = 20
# Continuous metrics adjusted with the pre-period spend (CUPED) when the outcomes carry it.
PRE_PERIOD = "pre_spend"
CUPED_METRICS = {"revenue"}


@dataclass
class Plan:
    """What the verdict needs to know of the experiment's design."""

    arms: Sequence[Mapping[str, Any]]  # [{"name": ..., "weight": ...}], the first is control
    metric: str
    guardrails: Sequence[str]
    sample_size_per_arm: int
    min_days: int = 7


@dataclass
class Verdict:
    state: str
    message: str
    counts: dict[str, int]
    srm_p: float | None
    days: float
    primary: list[Comparison] = field(default_factory=list)  # one per treatment arm
    guardrails: list[Comparison] = field(default_factory=list)
    guardrail_harm: list[str] = field(default_factory=list)
    winner: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "message": self.message,
            "winner": self.winner,
            "counts": self.counts,
            "srm_p": self.srm_p,
            "days": round(self.days, 2),
            "primary": [c.to_dict() for c in self.primary],
            "guardrails": [c.to_dict() for c in self.guardrails],
            "guardrail_harm": self.guardrail_harm,
        }


def _compare(metric: str, control: Any, treatment: Any) -> Comparison:
    if metric in BINARY:
        return two_proportions(
            metric, int(control.sum()), len(control), int(treatment.sum()), len(treatment),
            alpha=ALPHA,
        )  # fmt: skip
    return welch(metric, control, treatment, alpha=ALPHA)


def decide(
    plan: Plan,
    outcomes: Mapping[str, Mapping[str, Sequence[float]]],
    *,
    days: float,
    running: bool = True,
) -> Verdict:
    """The verdict for per-customer ``outcomes[arm][metric]`` (exposed customers only)."""
    names = [str(a["name"]) for a in plan.arms]
    counts = {n: len(outcomes.get(n, {}).get(plan.metric, ())) for n in names}
    base = Verdict("collecting", "", counts, None, days)
    if min(counts.values()) < MIN_UNITS_PER_ARM:
        base.state = "collecting" if running else "not_enough_data"
        base.message = f"Too few exposed customers to compare yet ({', '.join(f'{n}: {c}' for n, c in counts.items())})."
        return base
    base.srm_p = srm_p_value([counts[n] for n in names], [float(a["weight"]) for a in plan.arms])
    if base.srm_p < SRM_ALPHA:
        base.state = "srm"
        base.message = (
            f"Sample-ratio mismatch (p = {base.srm_p:.2g}): the arms' sizes do not match their "
            "weights, so the assignment or the exposure logging is broken. No verdict until fixed."
        )
        return base
    control = names[0]
    tests: list[tuple[str, Comparison]] = []
    for arm in names[1:]:
        for metric in [plan.metric, *plan.guardrails]:
            xs = np.asarray(outcomes[control][metric], dtype=float)
            ys = np.asarray(outcomes[arm][metric], dtype=float)
            pre = (outcomes[control].get(PRE_PERIOD), outcomes[arm].get(PRE_PERIOD))
            if metric in CUPED_METRICS and pre[0] and pre[1]:
                xs, ys = cuped(xs, ys, pre[0], pre[1])
                c = _compare(metric, xs, ys)
                tests.append((arm, Comparison(**{**c.__dict__, "test": "welch+cuped"})))
            else:
                tests.append((arm, _compare(metric, xs, ys)))
    adjusted = holm([c.p_value for _, c in tests])
    done = [
        (arm, Comparison(**{**c.__dict__, "p_adjusted": p}))
        for (arm, c), p in zip(tests, adjusted, strict=True)
    ]
    base.primary = [c for _, c in done if c.metric == plan.metric]
    base.guardrails = [c for _, c in done if c.metric != plan.metric]
    reached = min(counts.values()) >= plan.sample_size_per_arm and days >= plan.min_days
    if not reached:
        base.state = "collecting" if running else "not_enough_data"
        base.message = (
            f"Collecting: {min(counts.values())} of {plan.sample_size_per_arm} customers per arm, "
            f"day {days:.0f} of at least {plan.min_days}. Estimates are interim; no verdict yet."
        )
        return base
    base.guardrail_harm = [
        f"{arm}: {c.metric}"
        for arm, c in done
        if c.metric in HARM_IF_UP
        and c.metric != plan.metric
        and c.lift > 0
        and (c.p_adjusted or 1) < ALPHA
    ]
    significant = [
        (arm, c) for arm, c in done if c.metric == plan.metric and (c.p_adjusted or 1) < ALPHA
    ]
    if not significant:
        base.state = "no_difference"
        base.message = f"No detectable difference in {plan.metric} between the arms."
    else:
        best_arm, best = max(significant, key=lambda ac: ac[1].lift)
        winner = best_arm if best.lift > 0 else control
        base.state, base.winner = "winner", winner
        base.message = (
            f"{winner} wins on {plan.metric}: lift of {best_arm} {best.lift:+.4g} (95% CI "
            f"{best.ci_low:+.4g} to {best.ci_high:+.4g}, Holm-adjusted p = {best.p_adjusted:.2g})."
        )
    if base.guardrail_harm:
        base.message += " Guardrail harmed: " + ", ".join(base.guardrail_harm) + "."
    return base
