"""The tests behind a verdict: SRM chi-square, two-proportion z-test, Welch's t-test (each with
a confidence interval on the absolute lift), and Holm's correction across metrics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

SRM_ALPHA = 0.001


@dataclass(frozen=True)
class Comparison:
    """Treatment against control on one metric: means, lift (treatment − control) and its CI."""

    metric: str
    control_mean: float
    treatment_mean: float
    lift: float
    ci_low: float
    ci_high: float
    p_value: float
    test: str
    p_adjusted: float | None = None

    @property
    def relative_lift(self) -> float | None:
        return None if self.control_mean == 0 else self.lift / self.control_mean

    def to_dict(self) -> dict:
        return {**asdict(self), "relative_lift": self.relative_lift}


def srm_p_value(counts: Sequence[int], weights: Sequence[float]) -> float:
    """Chi-square p-value of the arm sizes against the planned weights (sample-ratio mismatch)."""
    observed = np.asarray(counts, dtype=float)
    w = np.asarray(weights, dtype=float)
    expected = observed.sum() * w / w.sum()
    return float(stats.chisquare(observed, expected).pvalue)


def two_proportions(
    metric: str, x_c: int, n_c: int, x_t: int, n_t: int, *, alpha: float = 0.05
) -> Comparison:
    """Two-proportion z-test (pooled) with a Wald interval on the difference of rates."""
    p_c, p_t = x_c / n_c, x_t / n_t
    diff = p_t - p_c
    pooled = (x_c + x_t) / (n_c + n_t)
    se_pooled = np.sqrt(pooled * (1 - pooled) * (1 / n_c + 1 / n_t))
    p_value = 1.0 if se_pooled == 0 else float(2 * stats.norm.sf(abs(diff) / se_pooled))
    se = np.sqrt(p_c * (1 - p_c) / n_c + p_t * (1 - p_t) / n_t)
    z = stats.norm.ppf(1 - alpha / 2)
    return Comparison(metric, p_c, p_t, diff, diff - z * se, diff + z * se, p_value, "z-test")


def welch(
    metric: str, control: Sequence[float], treatment: Sequence[float], *, alpha: float = 0.05
) -> Comparison:
    """Welch's t-test with the Welch–Satterthwaite interval on the difference of means."""
    a, b = np.asarray(control, dtype=float), np.asarray(treatment, dtype=float)
    diff = float(b.mean() - a.mean())
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = float(np.sqrt(va + vb))
    if se == 0:
        return Comparison(metric, a.mean(), b.mean(), diff, diff, diff, 1.0, "welch")
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    t = stats.t.ppf(1 - alpha / 2, df)
    p_value = float(2 * stats.t.sf(abs(diff) / se, df))
    return Comparison(
        metric, float(a.mean()), float(b.mean()), diff, diff - t * se, diff + t * se, p_value,
        "welch",
    )  # fmt: skip


def cuped(
    control: Sequence[float] | np.ndarray,
    treatment: Sequence[float] | np.ndarray,
    control_pre: Sequence[float],
    treatment_pre: Sequence[float],
) -> tuple[np.ndarray, np.ndarray]:
    """Both arms' values less θ·(pre-period value − its pooled mean) (CUPED).

    θ = cov(pre, value) / var(pre) over both arms pooled. The pre-period value cannot be moved by
    the treatment, so the difference of means stays unbiased while the variance shrinks by the
    share the pre-period explains (1 − ρ²); when the pre-period has no variance nothing changes.
    """
    y = np.concatenate([np.asarray(control, float), np.asarray(treatment, float)])
    x = np.concatenate([np.asarray(control_pre, float), np.asarray(treatment_pre, float)])
    var = x.var(ddof=1)
    theta = 0.0 if var == 0 else float(np.cov(x, y, ddof=1)[0, 1] / var)
    adjusted = y - theta * (x - x.mean())
    return adjusted[: len(control)], adjusted[len(control) :]


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values (the family-wise error across the metrics held at α).

    Written out rather than statsmodels' ``multipletests``, which runs a full garbage collection
    on every call (0.3 s: too slow for the thousands of simulated experiments in the tests).
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * float(p_values[i])))
        adjusted[i] = running
    return adjusted
