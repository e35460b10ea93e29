"""Forecasting jobs on the store: one SKU on demand, every SKU for a run, and the evaluation.

Data is loaded once in the calling process; only each SKU's bounded demand series (at most
``ForecastConfig.history_days`` numbers) travels to the worker processes, and each series costs a
bounded amount of work, so a run grows linearly with the number of SKUs.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import as_completed
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import insert
from sqlalchemy.engine import Engine

from analytics import artifacts
from analytics.data import load_products
from analytics.forecasting.artifact import build_artifact
from analytics.forecasting.calibrated import calibrate, held_out_coverage, served_intervals
from analytics.forecasting.cluster import executor as _executor
from analytics.forecasting.demand import DemandWindow, load_window, product_histories
from analytics.forecasting.intervals import Calibration, calibration_from_dict
from analytics.forecasting.methods import (
    COLUMNS,
    SeasonalNaive,
    average_demand_interval,
    forecast_frame,
)
from analytics.forecasting.selection import (
    MODELS,
    ForecastConfig,
    SeriesResult,
    forecast_series,
    weekly_config,
)
from analytics.inventory import find_product
from shop.errors import NoData, ShopbotError
from shop.store import session_scope
from shop.store.models import AnalyticsRun, Forecast, utcnow

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


# ---- one SKU ------------------------------------------------------------------------------------


@dataclass
class SkuForecast:
    """A forecast for one product, with how it was chosen and how good it was in backtests."""

    sku: str
    product_id: int
    name: str
    method: str  # chosen method: sarima | seasonal_naive | tsb
    detail: str  # e.g. "SARIMA(1,0,1)(0,1,1)[7] AIC 1748.2"
    kind: str  # smooth | intermittent
    reason: str
    history: pd.Series  # daily units up to the last full day
    forecast: pd.DataFrame  # index: day; columns mean, lo80, hi80, lo95, hi95
    backtest: dict[str, dict | None]  # method -> mase, smape, mae, coverage80/95, origins, points
    data_end: dt.datetime
    notes: list[str] = field(default_factory=list)
    freq: str = "D"
    # Per whole week from the first forecast day: mean and the 80%/95% interval of the week's
    # total, from the joint sample paths (not the sum of daily bounds).
    weeks: list[dict] = field(default_factory=list)
    calibrated: bool = False

    def weekly_forecast(self) -> pd.DataFrame:
        """One row per week: start, steps, mean and the interval of the week's total."""
        step = 1 if self.freq == "W" else 7
        rows = [
            {"start": self.forecast.index[i * step], "days": min(step, len(self.forecast) - i * step)
             * (7 if self.freq == "W" else 1), **w}
            for i, w in enumerate(self.weeks)
        ]  # fmt: skip
        return pd.DataFrame(rows)

    def to_dict(self, history_days: int = 56) -> dict:
        """JSON-ready: the last ``history_days`` of history, the forecast per day, the backtests."""
        hist = self.history.iloc[-history_days:]
        return {
            "sku": self.sku,
            "product_id": self.product_id,
            "name": self.name,
            "method": self.method,
            "detail": self.detail,
            "kind": self.kind,
            "reason": self.reason,
            "data_end": self.data_end.isoformat(),
            "history": {
                "start": hist.index[0].date().isoformat() if len(hist) else None,
                "units": [float(v) for v in hist.to_numpy()],
            },
            "forecast": [
                {"day": day.date().isoformat(), **{c: round(float(row[c]), 4) for c in COLUMNS}}
                for day, row in self.forecast.iterrows()
            ],
            "backtest": self.backtest,
            "freq": self.freq,
            "weeks": self.weeks,
            "intervals_calibrated": self.calibrated,
            "notes": self.notes,
        }


def forecast_sku(
    engine: Engine,
    sku: str,
    horizon: int = 28,
    *,
    config: ForecastConfig | None = None,
    source: str = "orders",
) -> SkuForecast:
    """The demand forecast for one SKU, computed now from the store (``horizon`` in steps:
    days, or weeks with a weekly ``config``).

    Takes a few seconds on the demo shop (it reads the order lines of the history window and
    fits the models); a chat should answer from the trained artifact (:func:`lookup`) instead.
    Intervals use the calibration of the latest trained forecasts when there are any. Raises
    NotFound for an unknown SKU and NoData for a product that never sold.
    """
    config = _with_horizon(config, horizon)
    product = find_product(load_products(engine), sku)
    sku = str(product["sku"])
    pid = int(product["product_id"])
    window = load_window(engine, config, source)
    history = product_histories(engine, window, [pid], config).get(pid)
    if history is None:
        raise NoData(f"SKU {sku} has no sales yet, so there is nothing to forecast")
    result = forecast_series(sku, history.to_numpy(), config)
    cal = _trained_calibration(config)
    served = _serve(result, cal, config)
    notes = list(result.notes)
    if cal is None:
        notes.append("intervals not calibrated yet: `shopbot train` learns the calibration")
    return SkuForecast(
        sku=sku,
        product_id=pid,
        name=str(product["name"]),
        method=result.method,
        detail=result.detail,
        kind=result.kind,
        reason=result.reason,
        history=history,
        forecast=_dated(result, window, config),
        backtest=result.metrics_dict(),
        data_end=window.end,
        notes=notes,
        freq=config.freq,
        weeks=served.get("weeks", []),
        calibrated=cal is not None,
    )


def _trained_calibration(config: ForecastConfig) -> Calibration | None:
    """The calibration of the latest trained forecasts of the same frequency, if any."""
    try:
        art = artifacts.load("forecasts")
    except ShopbotError:
        return None
    if (art.get("params") or {}).get("freq", "D") != config.freq:
        return None
    return calibration_from_dict((art.get("metrics") or {}).get("calibration"))


def _serve(result: SeriesResult, cal: Calibration | None, config: ForecastConfig) -> dict:
    """Puts the calibrated daily intervals into ``result.forecast``; returns the served
    intervals (weeks, running totals)."""
    served = served_intervals(result, cal, config.step_days)
    if served:
        d = served["daily"]
        frame = forecast_frame(result.forecast["mean"], d["lo80"], d["hi80"], d["lo95"], d["hi95"])
        result.forecast = {c: frame[c].to_numpy() for c in COLUMNS}
    return served


def _with_horizon(config: ForecastConfig | None, horizon: int) -> ForecastConfig:
    if horizon < 1 or horizon > 366:
        raise ShopbotError(f"the horizon must be between 1 and 366 days, not {horizon}")
    config = config or ForecastConfig()
    if config.horizon == horizon:
        return config
    return ForecastConfig(**{**config.to_dict(), "horizon": horizon})


def _dated(result: SeriesResult, window: DemandWindow, config: ForecastConfig) -> pd.DataFrame:
    days = pd.date_range(
        window.first_forecast_day,
        periods=len(result.forecast["mean"]),
        freq=f"{config.step_days}D",
    )
    frame = pd.DataFrame(result.forecast, index=days)[COLUMNS]
    frame.index.name = "day"
    return frame


# ---- every SKU ----------------------------------------------------------------------------------


@dataclass
class SkuTask:
    """What a worker needs for one SKU: a key and the demand series (nothing else)."""

    sku: str
    y: np.ndarray


@dataclass
class ForecastReport:
    """A finished forecast run: what was stored, how good it was, and the serving artifact."""

    run_id: int | None
    version: str
    data_end: dt.datetime
    first_day: dt.date  # the first forecast day
    horizon: int
    results: dict[str, SeriesResult]  # by SKU
    products: dict[str, dict]  # by SKU: product_id, name, history (last 8 weeks)
    metrics: dict
    params: dict
    seconds: float
    served: dict[str, dict] = field(default_factory=dict)  # by SKU: weeks, cumulative quantiles
    step_days: int = 1

    @property
    def method_counts(self) -> dict[str, int]:
        return dict(Counter(r.method for r in self.results.values()))

    def to_dict(self) -> dict:
        """A compact JSON-ready summary (no per-day numbers): for `shopbot train`'s report."""
        return {
            "run_id": self.run_id,
            "version": self.version,
            "n_skus": len(self.results),
            "data_end": self.data_end.isoformat(),
            "first_day": self.first_day.isoformat(),
            "horizon": self.horizon,
            "seconds": round(self.seconds, 2),
            "methods": self.method_counts,
            "metrics": self.metrics,
        }

    @property
    def artifact(self) -> dict:
        """The compact serving artifact (see :mod:`analytics.forecasting.artifact`)."""
        return build_artifact(self)


def _load_tasks(
    engine: Engine,
    config: ForecastConfig,
    source: str = "orders",
    min_units: float = 0.0,
    until: dt.datetime | None = None,
):
    """Loads the store once: the window, the tasks and the product facts of a run."""
    window = load_window(engine, config, source, until=until)
    products = load_products(engine)
    active = products[products["active"]]
    ids = [int(p) for p in active["product_id"]]
    histories = product_histories(engine, window, ids, config, min_units)
    if not histories:
        raise NoData("no active product has any sales yet, so there is nothing to forecast")
    tasks, facts = [], {}
    keep = max(1, 56 // config.step_days)  # eight weeks of history for charts
    for row in active.itertuples(index=False):
        hist = histories.get(int(row.product_id))
        if hist is None:
            continue
        tasks.append(SkuTask(str(row.sku), hist.to_numpy()))
        facts[str(row.sku)] = {
            "product_id": int(row.product_id),
            "name": str(row.name),
            "history_start": hist.index[max(0, len(hist) - keep)].date(),
            "history": hist.to_numpy()[-keep:],
        }
    return window, tasks, facts


def _work(tasks: Sequence[SkuTask], config: ForecastConfig) -> list[SeriesResult]:
    """Forecasts a batch of series (runs in a worker process)."""
    out = []
    for task in tasks:
        try:
            out.append(forecast_series(task.sku, task.y, config))
        except Exception as exc:  # one odd series must not sink a whole run
            out.append(_fallback(task, config, exc))
    return out


def _fallback(task: SkuTask, config: ForecastConfig, exc: Exception) -> SeriesResult:
    y = task.y if len(task.y) else np.zeros(1)
    frame = SeasonalNaive(config.season, config.window).fit(y).predict(config.horizon)
    return SeriesResult(
        key=task.sku,
        method="seasonal_naive",
        detail="seasonal naive (fallback)",
        kind="unknown",
        reason="forecasting failed; seasonal naive used as a fallback",
        adi=math.nan,
        forecast={c: frame[c].to_numpy() for c in COLUMNS},
        notes=[f"failed: {type(exc).__name__}: {exc}"],
    )


def _batches(tasks: list[SkuTask], config: ForecastConfig, n_jobs: int) -> list[list[SkuTask]]:
    # Longest (costliest) first so the last batches are cheap and both workers finish together;
    # small batches keep the progress bar moving and the load balanced.
    def cost(t: SkuTask) -> tuple[bool, int]:
        sparse = average_demand_interval(t.y, config.window, config.season) > config.adi_threshold
        return (sparse, -len(t.y))

    ordered = sorted(tasks, key=cost)
    size = max(1, min(8, len(ordered) // (n_jobs * 6) or 1))
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]


def _run_tasks(
    tasks: list[SkuTask],
    config: ForecastConfig,
    executor,
    n_jobs: int,
    progress: Progress | None,
) -> dict[str, SeriesResult]:
    total = len(tasks)
    results: dict[str, SeriesResult] = {}
    if progress:
        progress(0, total)
    if executor is None or total == 1:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            for task in tasks:
                results[task.sku] = _work([task], config)[0]
                if progress:
                    progress(len(results), total)
        return results
    batches = _batches(tasks, config, max(1, n_jobs))
    futures = [executor.submit(_work, batch, config) for batch in batches]
    for future in as_completed(futures):
        for res in future.result():
            results[res.key] = res
        if progress:
            progress(len(results), total)
    return results


def _forecast_store(
    engine: Engine,
    config: ForecastConfig,
    n_jobs: int,
    progress,
    source: str = "orders",
    min_units: float = 0.0,
    until: dt.datetime | None = None,
):
    """Loads the store once and forecasts every SKU: (window, facts, results, load seconds)."""
    started = time.perf_counter()
    executor, workers = _executor(n_jobs)  # the workers start while the store loads
    window, tasks, facts = _load_tasks(engine, config, source, min_units, until)
    loaded = time.perf_counter() - started
    return window, facts, _run_tasks(tasks, config, executor, workers, progress), loaded


def _json_number(v) -> float | None:
    return None if v is None or not math.isfinite(v) else round(float(v), 4)


def _summary(values: list[float]) -> dict:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return {"n": 0, "mean": None, "median": None}
    return {
        "n": len(vals),
        "mean": _json_number(float(np.mean(vals))),
        "median": _json_number(float(np.median(vals))),
    }


def aggregate_metrics(results: dict[str, SeriesResult]) -> dict:
    """Backtest metrics over all SKUs: of the chosen methods, of each candidate, and how often the
    model (SARIMA on smooth series, the intermittent method on sparse ones) beat the baseline."""

    def block(pairs):
        pairs = [m for m in pairs if m is not None]
        return {
            "skus": len(pairs),
            "mase": _summary([m.mase for m in pairs]),
            "rmsse": _summary([m.rmsse for m in pairs]),
            "spl": _summary([m.spl for m in pairs]),
            "smape": _summary([m.smape for m in pairs]),
            "coverage80": _summary([m.coverage80 for m in pairs])["mean"],
            "coverage95": _summary([m.coverage95 for m in pairs])["mean"],
        }

    chosen = block(r.backtest.get(r.method) for r in results.values())
    candidates = sorted({name for r in results.values() for name in r.backtest})
    per_method = {
        name: block(r.backtest.get(name) for r in results.values()) for name in candidates
    }
    beats: dict[str, dict] = {}
    for kind in ("smooth", "intermittent"):
        beats[kind] = {}
        for measure in ("mase", "rmsse", "spl"):
            wins = total = 0
            for r in results.values():
                if r.kind != kind:
                    continue
                b = r.backtest.get("seasonal_naive")
                # The kind's model: the better of SARIMA and the yearly analog, or of the
                # intermittent methods, by this measure.
                names = MODELS[kind]
                scored = [
                    getattr(r.backtest[n], measure) for n in names if r.backtest.get(n) is not None
                ]
                scored = [v for v in scored if math.isfinite(v)]
                if b is None or not scored or not math.isfinite(getattr(b, measure)):
                    continue
                total += 1
                wins += min(scored) < getattr(b, measure)
            beats[kind][measure] = _json_number(wins / total) if total else None
            beats[kind]["skus"] = total
        beats[kind]["share"] = beats[kind]["rmsse" if kind == "intermittent" else "mase"]
    return {
        "skus": len(results),
        "methods": dict(Counter(r.method for r in results.values())),
        "kinds": dict(Counter(r.kind for r in results.values())),
        "chosen": chosen,
        "candidates": per_method,
        "model_beats_baseline": beats,
        "failures": sum(
            1 for r in results.values() if any(n.startswith("failed") for n in r.notes)
        ),
        "cpu_seconds": {
            "total": round(sum(r.cpu_seconds for r in results.values()), 2),
            "per_sku_by_kind": {
                kind: _json_number(
                    float(np.mean([r.cpu_seconds for r in results.values() if r.kind == kind]))
                )
                for kind in sorted({r.kind for r in results.values()})
            },
        },
    }


def run_forecasts(
    engine: Engine,
    *,
    horizon: int = 28,
    n_jobs: int = 2,
    version: str | None = None,
    progress: Progress | None = None,
    config: ForecastConfig | None = None,
) -> ForecastReport:
    """Forecasts every active product with sales and stores the run in one transaction.

    The intervals are calibrated on the run's own backtests (``calibrated``): the daily ones
    stored, and the weekly totals and running totals (for the reorder point) in the artifact.
    Writes one ``AnalyticsRun(kind="forecast")`` (parameters, aggregate backtest metrics, the
    calibration, counts per chosen method) and one ``Forecast`` row per product and step.
    ``progress(done, total)`` is called as SKUs finish. Raises NoData when there is nothing to
    forecast.
    """
    started_wall, started = utcnow(), time.perf_counter()
    config = _with_horizon(config, horizon)
    version = version or artifacts.new_version()
    window, facts, results, load_seconds = _forecast_store(engine, config, n_jobs, progress)
    cal = calibrate(results)
    served = {sku: _serve(res, cal, config) for sku, res in results.items()}
    seconds = time.perf_counter() - started
    metrics = {
        **aggregate_metrics(results),
        "calibration": cal.to_dict(),
        "seconds": round(seconds, 2),
        "load_seconds": round(load_seconds, 2),
    }
    first_day = window.first_forecast_day
    params = {
        **config.to_dict(),
        "n_jobs": n_jobs,
        "data_end": window.end.isoformat(),
        "first_day": first_day.isoformat(),
    }
    days = [first_day + dt.timedelta(days=i * config.step_days) for i in range(config.horizon)]
    with session_scope(engine) as session:
        run = AnalyticsRun(
            kind="forecast",
            model_version=version,
            started_at=started_wall,
            finished_at=utcnow(),
            params=params,
            metrics=metrics,
        )
        session.add(run)
        session.flush()
        rows = [
            {
                "run_id": run.id,
                "product_id": facts[sku]["product_id"],
                "day": day,
                "method": res.method,
                **{c: float(res.forecast[c][i]) for c in COLUMNS},
            }
            for sku, res in results.items()
            for i, day in enumerate(days)
        ]
        if rows:
            session.execute(insert(Forecast), rows)
        run_id = run.id
    log.info(
        "forecast run %s: %d SKUs in %.1fs %s", run_id, len(results), seconds, metrics["methods"]
    )
    return ForecastReport(
        run_id=run_id,
        version=version,
        data_end=window.end,
        first_day=first_day,
        horizon=config.horizon,
        results=results,
        products=facts,
        metrics=metrics,
        params=params,
        seconds=seconds,
        served=served,
        step_days=config.step_days,
    )


def evaluate_forecast(
    engine: Engine,
    *,
    origins: int = 3,
    test_days: int | None = None,
    n_jobs: int = 2,
    compare_all: bool = True,
    progress: Progress | None = None,
    freq: str = "D",
    source: str = "orders",
    min_units: float = 0.0,
    until: dt.datetime | None = None,
) -> dict:
    """Backtest metrics over every active product with demand, stored nowhere.

    With ``compare_all`` (default) SARIMA, the intermittent methods (TSB, ADIDA) and the
    seasonal-naive baseline are backtested on every series (slower than a forecast run, which
    backtests only the candidates for each kind of series). Returns aggregates (MASE, RMSSE,
    scaled pinball loss, sMAPE, coverage), the share of SKUs where the model beats the baseline,
    the coverage of daily, weekly and whole-window totals before and after calibration
    (learned on the older origins, measured on the newest), and per-SKU metrics. ``freq`` "W"
    works in weeks (``test_days`` then counts weeks, default 4); ``source`` "ratings" counts
    ratings as demand; ``min_units`` leaves out series with less in the window; ``until``
    backtests as if the data ended then.
    """
    started = time.perf_counter()
    if freq == "W":
        config = weekly_config(origins=origins, test_days=test_days or 4, compare_all=compare_all)
    else:
        config = ForecastConfig(origins=origins, test_days=test_days or 28, compare_all=compare_all)
    window, _facts, results, _load = _forecast_store(
        engine, config, n_jobs, progress, source, min_units, until
    )
    per_sku = [
        {
            "sku": sku,
            "kind": r.kind,
            "chosen": r.method,
            "detail": r.detail,
            "adi": _json_number(r.adi),
            "backtest": r.metrics_dict(),
        }
        for sku, r in sorted(results.items())
    ]
    return {
        "data_end": window.end.isoformat(),
        "source": source,
        "config": config.to_dict(),
        **aggregate_metrics(results),
        "intervals": held_out_coverage(results) if origins > 1 else None,
        "seconds": round(time.perf_counter() - started, 2),
        "per_sku": per_sku,
    }
