"""Forecast accuracy: MASE, sMAPE, interval coverage, and rolling-origin backtests."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from analytics.forecasting.methods import Forecaster


def seasonal_naive_mae(y: np.ndarray, season: int = 7) -> float:
    """Mean absolute in-sample error of the seasonal-naive forecast: MASE's denominator."""
    y = np.asarray(y, dtype=float)
    if len(y) <= season:
        return math.nan
    return float(np.mean(np.abs(y[season:] - y[:-season])))


def mase(actual, forecast, scale: float) -> float:
    """Mean absolute error divided by ``scale`` (nan when the scale is zero or unknown)."""
    if not scale or not math.isfinite(scale):
        return math.nan
    return float(np.mean(np.abs(np.asarray(actual) - np.asarray(forecast)))) / scale


def smape(actual, forecast) -> float:
    """Symmetric MAPE in percent (0–200): mean of 200·|F−A| / (|A|+|F|).

    A day where both actual and forecast are zero is a perfect forecast and counts as 0, not as
    0/0. On sparse series sMAPE is harsh (any forecast on a zero day scores 200), which is why
    methods are compared by MASE.
    """
    a = np.abs(np.asarray(actual, dtype=float))
    f = np.abs(np.asarray(forecast, dtype=float))
    num = 2.0 * np.abs(np.asarray(forecast, dtype=float) - np.asarray(actual, dtype=float))
    den = a + f
    terms = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    return float(100.0 * terms.mean())


def coverage(actual, lo, hi) -> float:
    """Share of actual values inside ``[lo, hi]``."""
    a = np.asarray(actual, dtype=float)
    return float(np.mean((a >= np.asarray(lo)) & (a <= np.asarray(hi))))


@dataclass
class Metrics:
    """Backtest accuracy of one method on one series (averaged over the origins)."""

    mase: float
    smape: float
    mae: float
    coverage80: float
    coverage95: float
    origins: int
    points: int

    def to_dict(self) -> dict:
        """Plain floats with ``None`` for undefined values (JSON and SQL JSON columns)."""
        return {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in asdict(self).items()
        }


def origins_for(n: int, origins: int, test_days: int, min_train: int) -> list[int]:
    """Training lengths of the rolling origins (newest last) that leave ``min_train`` days."""
    cuts = [n - k * test_days for k in range(origins, 0, -1)]
    return [c for c in cuts if c >= min_train]


def backtest(
    y: np.ndarray,
    make_forecaster: Callable[[], Forecaster],
    *,
    origins: int = 3,
    test_days: int = 28,
    min_train: int = 28,
    season: int = 7,
    window: int = 365,
) -> Metrics | None:
    """Rolling-origin backtest: fit on the past, forecast ``test_days``, score, move on.

    The test windows are the last ``origins × test_days`` days, back to back. MASE at each origin
    is scaled by the seasonal-naive MAE of that origin's training window (its last ``window``
    days), then averaged; sMAPE and coverage pool all test days. Returns None when the series is
    too short for even one origin. A forecaster that fails to fit at an origin raises.
    """
    y = np.asarray(y, dtype=float)
    cuts = origins_for(len(y), origins, test_days, min_train)
    if not cuts:
        return None
    actual: list[np.ndarray] = []
    mean: list[np.ndarray] = []
    lo80: list[np.ndarray] = []
    hi80: list[np.ndarray] = []
    lo95: list[np.ndarray] = []
    hi95: list[np.ndarray] = []
    mases: list[float] = []
    for cut in cuts:
        train, test = y[:cut], y[cut : cut + test_days]
        fc = make_forecaster().fit(train).predict(len(test))
        mases.append(mase(test, fc["mean"], seasonal_naive_mae(train[-window:], season)))
        actual.append(test)
        for acc, col in (
            (mean, "mean"),
            (lo80, "lo80"),
            (hi80, "hi80"),
            (lo95, "lo95"),
            (hi95, "hi95"),
        ):
            acc.append(fc[col].to_numpy())
    a, m = np.concatenate(actual), np.concatenate(mean)
    finite = [v for v in mases if math.isfinite(v)]
    return Metrics(
        mase=float(np.mean(finite)) if finite else math.nan,
        smape=smape(a, m),
        mae=float(np.mean(np.abs(a - m))),
        coverage80=coverage(a, np.concatenate(lo80), np.concatenate(hi80)),
        coverage95=coverage(a, np.concatenate(lo95), np.concatenate(hi95)),
        origins=len(cuts),
        points=len(a),
    )
