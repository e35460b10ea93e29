"""How many customers per arm an experiment needs (power 0.8, α 0.05, two-sided; statsmodels)."""

from __future__ import annotations

import math

import analytics.statsmodels_compat  # noqa: F401  (before statsmodels)

# isort: split
from statsmodels.stats.power import NormalIndPower, TTestIndPower
from statsmodels.stats.proportion import proportion_effectsize

ALPHA = 0.05
POWER = 0.8


def sample_size_per_arm(
    metric: str, baseline: float, mde: float, *, alpha: float = ALPHA, power: float = POWER
) -> int:
    """Customers per arm to detect an absolute change of ``mde``.

    For conversion and redemption ``baseline`` is the control rate (Cohen's h on the two rates);
    for revenue it is the standard deviation of revenue per customer (Cohen's d = mde / sd).
    """
    if mde <= 0:
        raise ValueError("the minimum detectable effect must be positive")
    if metric in ("conversion", "redemption"):
        if not 0 < baseline < 1 or not 0 < baseline + mde < 1:
            raise ValueError("a rate and rate + effect must lie strictly between 0 and 1")
        effect = abs(proportion_effectsize(baseline + mde, baseline))
        n = NormalIndPower().solve_power(effect_size=effect, alpha=alpha, power=power, ratio=1.0)
    elif metric == "revenue":
        if baseline <= 0:
            raise ValueError("give the standard deviation of revenue per customer (> 0)")
        n = TTestIndPower().solve_power(
            effect_size=mde / baseline, alpha=alpha, power=power, ratio=1.0
        )
    else:
        raise ValueError(f"unknown metric {metric!r}")
    return int(math.ceil(float(n)))
