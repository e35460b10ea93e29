"""Forecasting jobs on the store: one SKU on demand, every SKU for a run, and the evaluation.

Data is loaded once in the calling process; only each SKU's bounded demand series (at most
``ForecastConfig.history_days`` numbers) travels to the worker processes, and each series costs a
bounded amount of work, so a run grows linearly with the number of SKUs.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
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
from analytics.data import data_end, load_products, load_purchases
from analytics.forecasting.artifact import build_artifact
from analytics.forecasting.methods import COLUMNS, SeasonalNaive, average_demand_interval
from analytics.forecasting.selection import ForecastConfig, SeriesResult, forecast_series
from analytics.forecasting.series import (
    daily_matrix,
    last_full_day,
    product_series,
    series_starts,
)
from analytics.inventory import find_product
from shop.errors import NoData, ShopbotError
from shop.store import session_scope
from shop.store.models import AnalyticsRun, Forecast, utcnow

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

# Each worker runs one small model at a time; letting BLAS spawn threads on top of two worker
# processes only makes them fight over the two cores.
_WORKER_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


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

    def weekly_forecast(self) -> pd.DataFrame:
        """Forecast summed per 7-day block from the first forecast day: mean and a 95% upper
        bound treating days as independent (sqrt of summed squared half-widths)."""
        f = self.forecast.reset_index(drop=True)
        block = np.arange(len(f)) // 7
        half = ((f["hi95"] - f["mean"]) ** 2).groupby(block).sum() ** 0.5
        out = pd.DataFrame(
            {
                "start": [self.forecast.index[i * 7] for i in range(block.max() + 1)],
                "days": f.groupby(block).size(),
                "mean": f["mean"].groupby(block).sum(),
                "hi95": f["mean"].groupby(block).sum() + half,
            }
        )
        return out

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
            "notes": self.notes,
        }


def forecast_sku(
    engine: Engine, sku: str, horizon: int = 28, *, config: ForecastConfig | None = None
) -> SkuForecast:
    """The demand forecast for one SKU, computed now from the store.

    Takes a few seconds on the demo shop (it reads the order lines of the history window and
    fits the models); a chat should answer from the trained artifact (:func:`lookup`) instead.
    Raises NotFound for an unknown SKU and NoData for a product that never sold.
    """
    config = _with_horizon(config, horizon)
    product = find_product(load_products(engine), sku)
    sku = str(product["sku"])
    pid = int(product["product_id"])
    no_sales = NoData(f"SKU {sku} has no sales yet, so there is nothing to forecast")
    end = data_end(engine)
    if end is None:
        raise no_sales
    purchases, first, last = _load_window(engine, end, config)
    matrix = daily_matrix(purchases[purchases["product_id"] == pid], first, last)
    start = series_starts(engine, matrix, [pid])[pid]
    if start is None:
        raise no_sales
    history = product_series(matrix, pid, start)
    result = forecast_series(sku, history.to_numpy(), config)
    return SkuForecast(
        sku=sku,
        product_id=pid,
        name=str(product["name"]),
        method=result.method,
        detail=result.detail,
        kind=result.kind,
        reason=result.reason,
        history=history,
        forecast=_dated(result, last),
        backtest=result.metrics_dict(),
        data_end=end,
        notes=result.notes,
    )


def _load_window(engine: Engine, end: dt.datetime, config: ForecastConfig):
    """Order lines of the bounded history window, and the window's first and last full day."""
    since = dt.datetime.combine(end.date() - dt.timedelta(days=config.history_days), dt.time())
    purchases = load_purchases(engine, since=since)
    last = last_full_day(end, purchases["placed_at"])
    first = last - dt.timedelta(days=config.history_days - 1)
    return purchases, first, last


def _with_horizon(config: ForecastConfig | None, horizon: int) -> ForecastConfig:
    if horizon < 1 or horizon > 366:
        raise ShopbotError(f"the horizon must be between 1 and 366 days, not {horizon}")
    config = config or ForecastConfig()
    if config.horizon == horizon:
        return config
    return ForecastConfig(**{**config.to_dict(), "horizon": horizon})


def _dated(result: SeriesResult, last: dt.date) -> pd.DataFrame:
    days = pd.date_range(last + dt.timedelta(days=1), periods=len(result.forecast["mean"]))
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


def _load_tasks(engine: Engine, config: ForecastConfig):
    """Loads the store once: the tasks, product facts and the time span of the run."""
    end = data_end(engine)
    if end is None:
        raise NoData(
            "there are no orders in the store yet — import transactions "
            "(`shopbot import transactions FILE`) or build the demo shop (`shopbot setup-demo`)"
        )
    products = load_products(engine)
    active = products[products["active"]]
    purchases, _first, last = _load_window(engine, end, config)
    matrix = daily_matrix(purchases, _first, last)
    starts = series_starts(engine, matrix, [int(p) for p in active["product_id"]])
    selling = active[[starts[int(p)] is not None for p in active["product_id"]]]
    if selling.empty:
        raise NoData("no active product has any sales yet, so there is nothing to forecast")
    tasks, facts = [], {}
    for row in selling.itertuples(index=False):
        pid = int(row.product_id)
        start = starts[pid]
        assert start is not None  # ``selling`` has only products with a first sale
        hist = product_series(matrix, pid, start)
        tasks.append(SkuTask(str(row.sku), hist.to_numpy()))
        facts[str(row.sku)] = {
            "product_id": pid,
            "name": str(row.name),
            "history_start": hist.index[max(0, len(hist) - 56)].date(),
            "history": hist.to_numpy()[-56:],
        }
    return end, last, tasks, facts


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


def _warm_up() -> int:
    """Nothing: submitting it makes a worker import this module (statsmodels and all) early."""
    return os.getpid()


def _executor(n_jobs: int):
    """The reusable worker pool (None for in-process work), already importing its modules.

    The warm-up tasks run while the parent loads the store, so the workers' start-up (a few
    seconds of imports) is not added to the run.
    """
    n_jobs = n_jobs if n_jobs > 0 else (os.cpu_count() or 1)
    if n_jobs == 1:
        return None
    from joblib.externals.loky import get_reusable_executor

    executor = get_reusable_executor(max_workers=n_jobs, env=_WORKER_ENV, timeout=120)
    for _ in range(n_jobs):
        executor.submit(_warm_up)
    return executor


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


def _forecast_store(engine: Engine, config: ForecastConfig, n_jobs: int, progress):
    """Loads the store once and forecasts every SKU: (end, last day, facts, results, load s)."""
    started = time.perf_counter()
    executor = _executor(n_jobs)  # the workers start while the store loads
    end, last, tasks, facts = _load_tasks(engine, config)
    loaded = time.perf_counter() - started
    return end, last, facts, _run_tasks(tasks, config, executor, n_jobs, progress), loaded


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
    for kind, model in (("smooth", "sarima"), ("intermittent", None)):
        wins = total = 0
        for r in results.values():
            if r.kind != kind:
                continue
            name = model or next(
                (n for n in r.backtest if n not in ("sarima", "seasonal_naive")), None
            )
            m, b = r.backtest.get(name) if name else None, r.backtest.get("seasonal_naive")
            if m is None or b is None or not (math.isfinite(m.mase) and math.isfinite(b.mase)):
                continue
            total += 1
            wins += m.mase < b.mase
        beats[kind] = {"skus": total, "share": _json_number(wins / total) if total else None}
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

    Writes one ``AnalyticsRun(kind="forecast")`` (parameters, aggregate backtest metrics, counts
    per chosen method) and one ``Forecast`` row per product and day. ``progress(done, total)`` is
    called as SKUs finish. Raises NoData when there is nothing to forecast.
    """
    started_wall, started = utcnow(), time.perf_counter()
    config = _with_horizon(config, horizon)
    version = version or artifacts.new_version()
    end, last, facts, results, load_seconds = _forecast_store(engine, config, n_jobs, progress)
    seconds = time.perf_counter() - started
    metrics = {
        **aggregate_metrics(results),
        "seconds": round(seconds, 2),
        "load_seconds": round(load_seconds, 2),
    }
    params = {
        **config.to_dict(),
        "n_jobs": n_jobs,
        "data_end": end.isoformat(),
        "first_day": (last + dt.timedelta(days=1)).isoformat(),
    }
    first_day = last + dt.timedelta(days=1)
    days = [first_day + dt.timedelta(days=i) for i in range(config.horizon)]
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
        data_end=end,
        first_day=first_day,
        horizon=config.horizon,
        results=results,
        products=facts,
        metrics=metrics,
        params=params,
        seconds=seconds,
    )


def evaluate_forecast(
    engine: Engine,
    *,
    origins: int = 3,
    test_days: int = 28,
    n_jobs: int = 2,
    compare_all: bool = True,
    progress: Progress | None = None,
) -> dict:
    """Backtest metrics over every active product with sales, stored nowhere.

    With ``compare_all`` (default) SARIMA, the intermittent method and the seasonal-naive baseline
    are backtested on every series (slower than a forecast run, which backtests only the two
    candidates for each kind of series). Returns aggregates, the share of SKUs where the model
    beats the baseline, and per-SKU metrics.
    """
    started = time.perf_counter()
    config = ForecastConfig(origins=origins, test_days=test_days, compare_all=compare_all)
    end, _last, _facts, results, _load = _forecast_store(engine, config, n_jobs, progress)
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
        "data_end": end.isoformat(),
        "config": config.to_dict(),
        **aggregate_metrics(results),
        "seconds": round(time.perf_counter() - started, 2),
        "per_sku": per_sku,
    }
