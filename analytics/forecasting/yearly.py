"""Yearly analog: next weeks sell what the same weeks sold a year ago, scaled to today's level.

The models in ``methods`` are fitted on at most a year, so none of them knows the yearly pattern
(a holiday peak, a summer dip). With two years of history the same weeks a year earlier do: the
mean for step ``k`` is ``g · s[n - lag + k] · w[k]`` with ``lag`` = 364 days (52 weeks, so
weekdays line up), ``s`` the centred ``smooth``-step mean of the series (a year-ago day alone is
as noisy as yesterday; on the demo's smooth series backtest MASE fell from 0.85 with a week to
0.80 with three), ``w`` the weekday profile of the last ``lag`` steps (mean 1) and ``g`` = the
last ``level`` steps' sum over the same steps a year earlier (growth, which moves slowly, so
the window can be long: 8 weeks), clipped to ``[1/G_MAX, G_MAX]``. A spike shorter than
``smooth`` (a promotion weekend) is spread over its steps: the totals keep it, single days
don't.

Intervals are the errors this very rule made at past origins: at every origin ``t`` of the
history that has a year and a level window before it and ``horizon`` steps after it, the rule's
error path ``y[t:t+h] - mean_t``, scaled by the last ``level`` steps' sum over that sum at
``t``. Sample paths are the mean plus one such path drawn at random (joint across steps, so a
week's total is as wide as the rule's weekly errors were), clipped at zero.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.forecasting.intervals import quantiles
from analytics.forecasting.methods import FitFailed, _as_series, forecast_frame

G_MAX = 3.0  # growth over a year is clipped to [1/3, 3]
MIN_ERROR_ORIGINS = 8  # past origins the intervals need at least


class YearlyAnalog:
    """The same period a year ago × recent growth (see the module docstring).

    ``lag``/``level``/``season``/``smooth`` are in steps: 364/56/7/21 on daily series, 52/8/1/3
    on weekly ones. ``max_origins`` bounds the past origins the errors come from (the newest
    ones), so the cost is bounded.
    """

    name = "yearly"
    _QUANTILES = (0.025, 0.10, 0.90, 0.975)

    def __init__(
        self,
        lag: int = 364,
        level: int = 56,
        max_origins: int = 182,
        season: int = 7,
        smooth: int = 21,
    ):
        self.lag = lag
        self.level = level
        self.max_origins = max_origins
        self.season = season
        self.smooth = smooth

    def min_length(self, horizon: int) -> int:
        """Steps of history a forecast of ``horizon`` steps needs (with its error origins)."""
        return self.lag + self.level + horizon + MIN_ERROR_ORIGINS - 1

    def _growth(self, y: np.ndarray, t: int) -> float:
        """g at origin ``t``: the ``level`` steps before ``t`` over the same steps a year
        earlier."""
        past = float(y[t - self.lag - self.level : t - self.lag].sum())
        if past <= 0:
            raise FitFailed("no demand in the level window a year earlier")
        return float(np.clip(y[t - self.level : t].sum() / past, 1.0 / G_MAX, G_MAX))

    def fit(self, y) -> YearlyAnalog:
        y = _as_series(y)
        if len(y) < self.lag + self.level + MIN_ERROR_ORIGINS:
            raise FitFailed(
                f"too short for a yearly analog ({len(y)} steps, needs "
                f"{self.lag + self.level + MIN_ERROR_ORIGINS})"
            )
        self.y_ = y[-(self.lag + self.level + self.max_origins + self.lag) :]
        kernel = np.ones(self.smooth) / self.smooth
        half = self.smooth // 2  # s[j] = smoothed[j - half]; s is undefined at the ends
        self.smoothed_ = np.convolve(self.y_, kernel, mode="valid")
        self._half = half
        self.growth_ = self._growth(self.y_, len(self.y_))
        self.recent_ = float(self.y_[-self.level :].sum())
        self.detail_ = f"yearly analog (lag {self.lag}, growth {self.growth_:.2f})"
        self._errors: dict[int, np.ndarray] = {}
        return self

    def _rule(self, t: int, horizon: int, g: float) -> np.ndarray:
        """The rule's mean for ``horizon`` steps from origin ``t`` (``y_[:t]`` known)."""
        if horizon > self.lag - self._half:
            raise ValueError(f"a yearly analog forecasts at most {self.lag - self._half} steps")
        j = t - self.lag - self._half
        s = self.smoothed_[j : j + horizon]
        if self.season <= 1:
            return g * s
        year = self.y_[t - self.lag : t]
        mean = year.mean()
        profile = year.reshape(-1, self.season).mean(axis=0) / mean if mean > 0 else 1.0
        return g * s * np.resize(profile, horizon)

    def _mean(self, horizon: int) -> np.ndarray:
        return self._rule(len(self.y_), horizon, self.growth_)

    def errors(self, horizon: int) -> np.ndarray:
        """(origins × horizon) error paths of the rule at past origins, scaled to today's level."""
        if horizon in self._errors:
            return self._errors[horizon]
        y, n = self.y_, len(self.y_)
        first = max(self.lag + self.level, n - horizon - self.max_origins + 1)
        rows = []
        for t in range(first, n - horizon + 1):
            recent = float(y[t - self.level : t].sum())
            try:
                g = self._growth(y, t)
            except FitFailed:
                continue  # nothing sold a year before this origin: no error to learn from
            if recent <= 0:
                continue
            err = y[t : t + horizon] - self._rule(t, horizon, g)
            rows.append(err * (self.recent_ / recent))
        if len(rows) < MIN_ERROR_ORIGINS:
            raise FitFailed(
                f"{len(rows)} past origins for a {horizon}-step yearly analog's errors, "
                f"needs {MIN_ERROR_ORIGINS}"
            )
        self._errors[horizon] = np.array(rows)
        return self._errors[horizon]

    def sample_paths(self, horizon: int, n: int = 500, seed: int = 0) -> np.ndarray:
        rng = np.random.default_rng(seed)
        errors = self.errors(horizon)
        picks = rng.integers(0, len(errors), size=n)
        return np.clip(self._mean(horizon) + errors[picks], 0.0, None)

    def predict(self, horizon: int) -> pd.DataFrame:
        mean = self._mean(horizon)
        q = quantiles(mean + self.errors(horizon), np.array(self._QUANTILES))
        return forecast_frame(mean, q[1], q[2], q[0], q[3])
