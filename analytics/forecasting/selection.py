"""One series in, one forecast out: backtest the candidate methods, keep the better one.

This is the unit of work shipped to worker processes, so it takes and returns plain data
(numpy arrays, dataclasses) and never touches the database.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from analytics.forecasting.backtest import Metrics, backtest
from analytics.forecasting.methods import (
    COLUMNS,
    FitFailed,
    Forecaster,
    Intermittent,
    Sarima,
    SeasonalNaive,
    average_demand_interval,
)


@dataclass(frozen=True)
class ForecastConfig:
    """Settings shared by every series of a run (all bounded, so the cost per series is too)."""

    horizon: int = 28
    season: int = 7
    window: int = 365  # days of history a model is fitted on
    origins: int = 3  # rolling backtest origins …
    test_days: int = 28  # … each forecasting this many days
    min_train: int = 28  # an origin needs at least this much history before it
    min_sarima_days: int = 56  # shorter series are not worth a SARIMA
    adi_threshold: float = 1.32  # Syntetos–Boylan: above it a series counts as intermittent
    intermittent_method: str = "tsb"
    compare_all: bool = False  # evaluation: backtest every method on every series

    @property
    def history_days(self) -> int:
        """Days of history a run needs: the fitting window before the oldest backtest origin."""
        return self.window + self.origins * self.test_days

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class SeriesResult:
    """What a worker sends back for one series."""

    key: str
    method: str  # chosen method name: sarima | seasonal_naive | tsb | sba
    detail: str  # e.g. "SARIMA(1,0,1)(0,1,1)[7] AIC 1748.2"
    kind: str  # smooth | intermittent
    reason: str  # why this method was chosen
    adi: float
    forecast: dict[str, np.ndarray]  # COLUMNS -> arrays of length horizon
    backtest: dict[str, Metrics | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0  # wall time
    cpu_seconds: float = 0.0  # CPU time of the worker (wall time inflates when cores are shared)

    def metrics_dict(self) -> dict[str, dict | None]:
        return {k: (m.to_dict() if m else None) for k, m in self.backtest.items()}


def _score(m: Metrics | None) -> float:
    """Lower is better: MASE, or MAE when MASE is undefined (a flat training window)."""
    if m is None:
        return math.inf
    return m.mase if math.isfinite(m.mase) else m.mae


def forecast_series(key: str, y: np.ndarray, config: ForecastConfig) -> SeriesResult:
    """Backtest the candidates on ``y`` (daily units, oldest first) and forecast with the best.

    Candidates: SARIMA vs seasonal naive for smooth series, TSB (or SBA) vs seasonal naive for
    intermittent ones (``compare_all`` backtests all three everywhere, for evaluation). The model
    must beat the baseline's backtest MASE to be used; if it fails to fit, the baseline is used
    and a note says why.
    """
    started, cpu_started = time.perf_counter(), time.process_time()
    y = np.asarray(y, dtype=float)[-config.history_days :]
    adi = average_demand_interval(y, config.window, config.season)
    intermittent = adi > config.adi_threshold
    kind = "intermittent" if intermittent else "smooth"
    bt = dict(
        origins=config.origins,
        test_days=config.test_days,
        min_train=config.min_train,
        season=config.season,
        window=config.window,
    )
    notes: list[str] = []
    fitted: dict[str, Forecaster] = {}
    scores: dict[str, Metrics | None] = {}

    baseline = SeasonalNaive(config.season, config.window).fit(y)
    fitted[baseline.name] = baseline
    scores[baseline.name] = backtest(y, lambda: SeasonalNaive(config.season, config.window), **bt)

    want_sarima = (not intermittent or config.compare_all) and len(y) >= config.min_sarima_days
    want_intermittent = intermittent or config.compare_all
    if want_intermittent:
        method = config.intermittent_method
        model = Intermittent(method, window=config.window).fit(y)
        fitted[method] = model
        scores[method] = backtest(y, lambda: Intermittent(method, window=config.window), **bt)
    if want_sarima:
        try:
            sarima = Sarima(config.season, config.window).fit(y)
            sarima.predict(config.horizon)  # an explosive fit is caught here, not later
            fitted[sarima.name] = sarima
            scores[sarima.name] = backtest(y, sarima.fixed, **bt)
        except (FitFailed, ValueError, np.linalg.LinAlgError) as exc:
            fitted.pop("sarima", None)
            notes.append(f"SARIMA not used: {exc}")

    # The candidate for this kind of series, against the baseline.
    model_name = config.intermittent_method if intermittent else "sarima"
    if model_name in fitted and scores.get(model_name) is None:
        chosen = model_name
        reason = "history too short to backtest; default method for this kind of series"
    elif model_name in fitted and _score(scores[model_name]) < _score(scores[baseline.name]):
        chosen = model_name
        reason = (
            f"backtest MASE {_score(scores[model_name]):.3f} beats seasonal naive "
            f"{_score(scores[baseline.name]):.3f}"
        )
    else:
        chosen = baseline.name
        if model_name in fitted:
            reason = (
                f"seasonal naive backtest MASE {_score(scores[baseline.name]):.3f} is no worse "
                f"than {model_name} {_score(scores[model_name]):.3f}"
            )
        elif model_name == "sarima" and len(y) < config.min_sarima_days:
            reason = f"history too short for SARIMA ({len(y)} days, needs {config.min_sarima_days})"
        else:
            reason = f"{model_name} could not be fitted to this series"

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = fitted[chosen].predict(config.horizon)
    return SeriesResult(
        key=key,
        method=chosen,
        detail=getattr(fitted[chosen], "detail_", chosen),
        kind=kind,
        reason=reason,
        adi=adi,
        forecast={c: frame[c].to_numpy() for c in COLUMNS},
        backtest=scores,
        notes=notes,
        seconds=time.perf_counter() - started,
        cpu_seconds=time.process_time() - cpu_started,
    )
