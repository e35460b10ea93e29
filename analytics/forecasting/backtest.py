"""Forecast accuracy: MASE, RMSSE, scaled pinball loss, sMAPE, interval coverage, and
rolling-origin backtests (which also collect the records the interval calibration learns from)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from analytics.forecasting.intervals import backtest_records
from analytics.forecasting.methods import Forecaster

# The quantile levels of the forecast frame's columns (for the pinball loss).
QUANTILE_COLUMNS = {"lo95": 0.025, "lo80": 0.10, "hi80": 0.90, "hi95": 0.975}


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


def naive_scale(y: np.ndarray, squared: bool = False) -> float:
    """Mean absolute (or squared) one-step change of ``y``: the scale of RMSSE and of the scaled
    pinball loss (M5 competition), defined on intermittent series where MASE's seasonal scale
    is often zero."""
    y = np.asarray(y, dtype=float)
    if len(y) < 2:
        return math.nan
    d = np.diff(y)
    return float(np.mean(d**2) if squared else np.mean(np.abs(d)))


def rmsse(actual, forecast, scale_sq: float) -> float:
    """Root mean squared error scaled by the naive one-step squared change (nan if zero)."""
    if not scale_sq or not math.isfinite(scale_sq):
        return math.nan
    e = np.asarray(actual, dtype=float) - np.asarray(forecast, dtype=float)
    return float(math.sqrt(np.mean(e**2) / scale_sq))


def pinball(actual, quantile, tau: float) -> float:
    """Mean pinball (quantile) loss of ``quantile`` as the ``tau`` quantile of ``actual``."""
    e = np.asarray(actual, dtype=float) - np.asarray(quantile, dtype=float)
    return float(np.mean(np.maximum(tau * e, (tau - 1) * e)))


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
    rmsse: float = math.nan
    spl: float = math.nan  # scaled pinball loss, mean over the four interval ends
    # Calibration records per origin (see intervals.RECORD_FIELDS); not part of to_dict().
    records: list[np.ndarray] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict:
        """Plain floats with ``None`` for undefined values (JSON and SQL JSON columns)."""
        return {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in asdict(self).items()
            if k != "records"
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
    n_paths: int = 0,
    step_days: int = 1,
) -> Metrics | None:
    """Rolling-origin backtest: fit on the past, forecast ``test_days``, score, move on.

    The test windows are the last ``origins × test_days`` days, back to back. MASE at each origin
    is scaled by the seasonal-naive MAE of that origin's training window (its last ``window``
    days), then averaged, and so are RMSSE and the scaled pinball loss (scaled by the training
    window's one-step changes); sMAPE and coverage pool all test days. With ``n_paths`` each
    origin also draws that many sample paths and keeps calibration records
    (``Metrics.records``, one array per origin). Returns None when the series is too short for
    even one origin. A forecaster that fails to fit at an origin raises.
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
    rmsses: list[float] = []
    spls: list[float] = []
    records: list[np.ndarray] = []
    for k, cut in enumerate(cuts):
        train, test = y[:cut], y[cut : cut + test_days]
        model = make_forecaster().fit(train)
        fc = model.predict(len(test))
        mases.append(mase(test, fc["mean"], seasonal_naive_mae(train[-window:], season)))
        rmsses.append(rmsse(test, fc["mean"], naive_scale(train[-window:], squared=True)))
        scale = naive_scale(train[-window:])
        if scale and math.isfinite(scale):
            loss = [pinball(test, fc[c], tau) for c, tau in QUANTILE_COLUMNS.items()]
            spls.append(float(np.mean(loss)) / scale)
        if n_paths:
            paths = model.sample_paths(len(test), n_paths, seed=k)
            bounds = {c: fc[c].to_numpy() for c in QUANTILE_COLUMNS}
            records.append(backtest_records(paths, test, bounds, step_days))
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

    def avg(values: list[float]) -> float:
        finite = [v for v in values if math.isfinite(v)]
        return float(np.mean(finite)) if finite else math.nan

    return Metrics(
        mase=avg(mases),
        smape=smape(a, m),
        mae=float(np.mean(np.abs(a - m))),
        coverage80=coverage(a, np.concatenate(lo80), np.concatenate(hi80)),
        coverage95=coverage(a, np.concatenate(lo95), np.concatenate(hi95)),
        origins=len(cuts),
        points=len(a),
        rmsse=avg(rmsses),
        spl=avg(spls),
        records=records,
    )
