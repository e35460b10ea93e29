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

from analytics.forecasting.adida import Adida
from analytics.forecasting.backtest import Metrics, backtest
from analytics.forecasting.intervals import quantiles
from analytics.forecasting.methods import (
    COLUMNS,
    FitFailed,
    Forecaster,
    Intermittent,
    Sarima,
    SeasonalNaive,
    average_demand_interval,
)
from analytics.forecasting.yearly import YearlyAnalog


@dataclass(frozen=True)
class ForecastConfig:
    """Settings shared by every series of a run (all bounded, so the cost per series is too).

    Lengths are in steps: days with ``freq="D"``, weeks with ``freq="W"`` (see
    :func:`weekly_config`)."""

    horizon: int = 28
    season: int = 7
    window: int = 365  # days of history a model is fitted on
    origins: int = 3  # rolling backtest origins …
    test_days: int = 28  # … each forecasting this many days
    min_train: int = 28  # an origin needs at least this much history before it
    min_sarima_days: int = 56  # shorter series are not worth a SARIMA
    adi_threshold: float = 1.32  # Syntetos–Boylan: above it a series counts as intermittent
    intermittent_method: str = "tsb"  # the smoothing method tried on intermittent series …
    try_adida: bool = True  # … and ADIDA beside it
    compare_all: bool = False  # evaluation: backtest every method on every series
    freq: str = "D"  # D: daily steps; W: weekly steps
    n_paths: int = 500  # sample paths per forecast (interval of totals, calibration records)
    yearly: bool = True  # smooth series with ~1.5 years of history also try the yearly analog
    yearly_origins: int = 182  # past origins (days) its interval errors come from

    @property
    def history_days(self) -> int:
        """Steps of history a run needs: the fitting window (or what the yearly analog needs,
        if longer) before the oldest backtest origin."""
        return max(self.window, self.yearly_days) + self.origins * self.test_days

    @property
    def yearly_min_steps(self) -> int:
        """Steps the yearly analog needs at least before an origin: a year, its level window,
        and the horizon after its fewest past origins (0 when it is off)."""
        if not self.yearly:
            return 0
        return self.yearly_model().min_length(max(self.horizon, self.test_days))

    @property
    def yearly_days(self) -> int:
        """Steps of history the yearly analog reads before an origin: its minimum and
        ``yearly_origins`` more past origins for its errors (0 when it is off)."""
        if not self.yearly:
            return 0
        return self.yearly_min_steps + self.yearly_origins // self.step_days

    def yearly_model(self) -> YearlyAnalog:
        step = self.step_days
        return YearlyAnalog(
            364 // step, 56 // step, self.yearly_origins // step, self.season, 21 // step
        )

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @property
    def step_days(self) -> int:
        return 7 if self.freq == "W" else 1


def weekly_config(horizon_weeks: int = 8, **overrides) -> ForecastConfig:
    """Settings for weekly series: a week is one step; no seasonal terms (a year would be 52
    steps), so the baseline is the naive "next week sells what this week sold"."""
    base = dict(
        horizon=horizon_weeks, season=1, window=156, origins=3, test_days=4, min_train=13,
        min_sarima_days=26, freq="W",
    )  # fmt: skip
    return ForecastConfig(**{**base, **overrides})


# The models of each kind of series, each backtested against seasonal naive (the baseline).
MODELS = {"smooth": ("sarima", "yearly"), "intermittent": ("tsb", "sba", "adida")}

# Quantile levels at which each forecast's sample paths are summarised for serving (every
# 0.5%); the calibrated levels are read off this grid by interpolation.
GRID = np.linspace(0.0, 1.0, 201)


@dataclass
class SeriesResult:
    """What a worker sends back for one series."""

    key: str
    method: str  # chosen method name: sarima | yearly | seasonal_naive | tsb | sba | adida
    detail: str  # e.g. "SARIMA(1,0,1)(0,1,1)[7] AIC 1748.2"
    kind: str  # smooth | intermittent
    reason: str  # why this method was chosen
    adi: float
    forecast: dict[str, np.ndarray]  # COLUMNS -> arrays of length horizon
    backtest: dict[str, Metrics | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # Quantiles (at GRID) of the forecast's sample paths: each step, each whole week from the
    # first step, and the running total after each step (rows), for calibrated serving.
    grid_daily: np.ndarray | None = None
    grid_weeks: np.ndarray | None = None
    grid_cumulative: np.ndarray | None = None
    seconds: float = 0.0  # wall time
    cpu_seconds: float = 0.0  # CPU time of the worker (wall time inflates when cores are shared)

    def metrics_dict(self) -> dict[str, dict | None]:
        return {k: (m.to_dict() if m else None) for k, m in self.backtest.items()}


def _score(m: Metrics | None, intermittent: bool = False) -> float:
    """Lower is better: MASE (RMSSE for intermittent series, where MASE rewards forecasting
    zero), or MAE when that is undefined (a flat training window)."""
    if m is None:
        return math.inf
    value = m.rmsse if intermittent else m.mase
    return value if math.isfinite(value) else m.mae


def path_grids(model: Forecaster, horizon: int, n: int, week: int) -> dict[str, np.ndarray]:
    """The GRID quantiles of a fitted model's sample paths: per step, per block of ``week``
    steps, and of the running total."""
    paths = model.sample_paths(horizon, n, seed=0)
    blocks = [paths[:, i : i + week].sum(axis=1) for i in range(0, horizon, week)]
    return {
        "grid_daily": quantiles(paths, GRID).T.astype(np.float32),
        "grid_weeks": quantiles(np.stack(blocks, axis=1), GRID).T.astype(np.float32),
        "grid_cumulative": quantiles(np.cumsum(paths, axis=1), GRID).T.astype(np.float32),
    }


def forecast_series(key: str, y: np.ndarray, config: ForecastConfig) -> SeriesResult:
    """Backtest the candidates on ``y`` (daily units, oldest first) and forecast with the best.

    Candidates: SARIMA vs seasonal naive for smooth series (and the yearly analog beside SARIMA
    when the history holds a year and more before every backtest origin: the better of the two
    by backtest MASE is the model), TSB (or SBA) vs seasonal naive for intermittent ones
    (``compare_all`` backtests all of them everywhere, for evaluation). The model
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
        n_paths=config.n_paths,
        step_days=config.step_days,
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
        if config.try_adida:
            fitted["adida"] = Adida(window=config.window).fit(y)
            scores["adida"] = backtest(y, lambda: Adida(window=config.window), **bt)
    if want_sarima:
        try:
            sarima = Sarima(config.season, config.window).fit(y)
            sarima.predict(config.horizon)  # an explosive fit is caught here, not later
            fitted[sarima.name] = sarima
            scores[sarima.name] = backtest(y, sarima.fixed, **bt)
        except (FitFailed, ValueError, np.linalg.LinAlgError) as exc:
            fitted.pop("sarima", None)
            notes.append(f"SARIMA not used: {exc}")
    # The yearly analog where every backtest origin has the history it needs.
    oldest = len(y) - config.origins * config.test_days
    if want_sarima and config.yearly and oldest >= config.yearly_min_steps:
        try:
            fitted["yearly"] = config.yearly_model().fit(y)
            fitted["yearly"].predict(config.horizon)  # enough past origins for its errors
            scores["yearly"] = backtest(y, config.yearly_model, **bt)
        except (FitFailed, ValueError) as exc:
            fitted.pop("yearly", None)
            scores.pop("yearly", None)
            notes.append(f"yearly analog not used: {exc}")

    # The candidate(s) for this kind of series, against the baseline.
    if intermittent:
        names = [config.intermittent_method] + (["adida"] if config.try_adida else [])
        names = [n for n in names if n in fitted]
        model_name = min(names, key=lambda n: _score(scores.get(n), True), default="tsb")
    else:  # SARIMA or the yearly analog, whichever backtests better
        names = [n for n in MODELS["smooth"] if n in fitted]
        model_name = min(names, key=lambda n: _score(scores.get(n)), default="sarima")
    measure = "RMSSE" if intermittent else "MASE"
    model_score = _score(scores.get(model_name), intermittent)
    base_score = _score(scores[baseline.name], intermittent)
    if model_name in fitted and scores.get(model_name) is None:
        chosen = model_name
        reason = "history too short to backtest; default method for this kind of series"
    elif model_name in fitted and model_score < base_score:
        chosen = model_name
        reason = f"backtest {measure} {model_score:.3f} beats seasonal naive {base_score:.3f}"
        if model_name == "yearly" and "sarima" in fitted:
            reason += f" and sarima {_score(scores.get('sarima')):.3f}"
    else:
        chosen = baseline.name
        if model_name in fitted:
            reason = (
                f"seasonal naive backtest {measure} {base_score:.3f} is no worse than "
                f"{model_name} {model_score:.3f}"
            )
        elif model_name == "sarima" and len(y) < config.min_sarima_days:
            reason = f"history too short for SARIMA ({len(y)} days, needs {config.min_sarima_days})"
        else:
            reason = f"{model_name} could not be fitted to this series"

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = fitted[chosen].predict(config.horizon)
        grids = path_grids(fitted[chosen], config.horizon, config.n_paths, 7 // config.step_days)
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
        **grids,
        seconds=time.perf_counter() - started,
        cpu_seconds=time.process_time() - cpu_started,
    )
