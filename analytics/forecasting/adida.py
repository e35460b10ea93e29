"""ADIDA (Nikolopoulos et al. 2011): forecast intermittent demand at a coarser time scale.

The series is summed over non-overlapping buckets (by default as long as the average interval
between sales, so most buckets hold a sale), simple exponential smoothing forecasts the bucket
totals, and the forecast is spread evenly back over the days of a bucket. Aggregation removes
most of the zeros that make daily smoothing unstable.
"""

from __future__ import annotations

import math

import numpy as np

from analytics.forecasting.methods import Intermittent, _as_series


def ses_level(z: np.ndarray, alphas=(0.05, 0.1, 0.2, 0.3, 0.5)) -> tuple[float, float]:
    """(level, alpha) of simple exponential smoothing over ``z``, alpha chosen by in-sample
    one-step squared error."""
    a = np.asarray(alphas, dtype=float)
    level = np.full(a.shape, float(z[0]))
    sse = np.zeros(a.shape)
    for v in z[1:]:
        sse += (v - level) ** 2
        level += a * (v - level)
    best = int(np.argmin(sse)) if len(z) > 1 else 0
    return float(level[best]), float(a[best])


class Adida(Intermittent):
    """ADIDA with SES on bucket totals; intervals and sample paths as for TSB (a sale on a day
    with the probability seen in the window, its size from the sizes seen, scaled to the
    forecast level). ``bucket`` fixes the aggregation (days); None = the average interval
    between sales, rounded, at least 2."""

    def __init__(self, bucket: int | None = None, window: int = 365):
        super().__init__("tsb", window=window)
        self.variant = "adida"
        self.bucket = bucket

    def fit(self, y) -> Adida:
        y = _as_series(y)[-self.window :]
        nz = y[y > 0]
        self.alpha_, self.beta_ = math.nan, math.nan
        if len(nz) == 0:
            self.prob_, self.size_, self.sizes_, self.level_ = 0.0, 0.0, np.zeros(1), 0.0
            self.bucket_ = self.bucket or 1
            self.detail_ = "ADIDA (no sales in the window)"
            return self
        interval = len(y) / len(nz)
        b = int(self.bucket or max(2, round(interval)))
        b = max(1, min(b, len(y)))
        self.bucket_ = b
        usable = len(y) - len(y) % b
        totals = y[len(y) - usable :].reshape(-1, b).sum(axis=1)
        level, self.alpha_ = ses_level(totals)
        self.level_ = max(level, 0.0) / b
        self.prob_ = float(len(nz) / len(y))
        self.size_ = self.level_ / self.prob_
        self.sizes_ = np.sort(nz * (self.level_ / self.prob_ / nz.mean()))
        self.detail_ = f"ADIDA (buckets of {b}, SES alpha={self.alpha_:g}, {self.level_:.2f}/step)"
        return self
