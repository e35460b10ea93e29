"""``shopbot evaluate inventory``: the reorder policy replayed on every series, fed by shopbot's
forecasts and by seasonal naive, over the same recent weeks (see ``inventory_replay``).

For each series the weeks before the replay are what shopbot sees first: the method is chosen by
the usual backtests there, and the interval calibration is learned from those backtests pooled
over all series. Then, at every review, both forecasters are refitted on the demand up to that
day and set the order-up-to level for the service level; the replay counts what the stock would
have done. Nothing is stored.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy.engine import Engine

from analytics.data import load_products
from analytics.forecasting.adida import Adida
from analytics.forecasting.calibrated import calibrate
from analytics.forecasting.demand import load_window, product_histories
from analytics.forecasting.intervals import Calibration
from analytics.forecasting.methods import FitFailed, Intermittent, Sarima, SeasonalNaive
from analytics.forecasting.selection import ForecastConfig, forecast_series, weekly_config
from analytics.inventory import DEFAULT_REVIEW_DAYS, DEFAULT_SERVICE_LEVEL, service_z
from analytics.inventory_replay import ReplayResult, order_up_to, replay
from shop.errors import NoData

DEFAULT_LEAD_DAYS = 7  # for series without a known lead time (e.g. ratings as demand)


@dataclass
class ReplayTask:
    sku: str
    history: np.ndarray  # demand before the replay
    future: np.ndarray  # the replayed demand
    lead: int  # steps
    method: str = ""
    kind: str = ""


def _refit(method: str, config: ForecastConfig, y: np.ndarray, previous=None):
    """The chosen method refitted on ``y`` (SARIMA keeps the orders of its first fit)."""
    if method == "sarima":
        try:
            model = (
                previous.fixed()
                if isinstance(previous, Sarima)
                else Sarima(config.season, config.window)
            )
            return model.fit(y)
        except (FitFailed, ValueError, np.linalg.LinAlgError):
            method = "seasonal_naive"
    if method in ("tsb", "sba"):
        return Intermittent(method, window=config.window).fit(y)
    if method == "adida":
        return Adida(window=config.window).fit(y)
    return SeasonalNaive(config.season, config.window).fit(y)


def _choose(tasks: Sequence[ReplayTask], config: ForecastConfig) -> list:
    """Pass one (in a worker): each series' method chosen by backtests before the replay."""
    return [forecast_series(t.sku, t.history, config) for t in tasks]


def _replay_series(
    task: ReplayTask,
    config: ForecastConfig,
    cal: Calibration,
    service_level: float,
    review: int,
) -> dict[str, ReplayResult]:
    levels: dict[str, list[float]] = {"shopbot": [], "seasonal_naive": []}
    model = None
    for start in range(0, len(task.future), review):
        y = np.concatenate([task.history, task.future[:start]])
        model = _refit(task.method, config, y, model)
        common = dict(lead=task.lead, review=review, service_level=service_level,
                      step_days=config.step_days, seed=start)  # fmt: skip
        levels["shopbot"].append(
            order_up_to(model, calibration=cal, kind=task.kind, **common)  # type: ignore[arg-type]
        )
        naive = SeasonalNaive(config.season, config.window).fit(y)
        levels["seasonal_naive"].append(order_up_to(naive, **common))  # type: ignore[arg-type]
    return {
        name: replay(task.future, np.array(s), lead=task.lead, review=review)
        for name, s in levels.items()
    }


def _replay_batch(tasks, config, cal, service_level, review) -> list[tuple[str, dict]]:
    return [(t.sku, _replay_series(t, config, cal, service_level, review)) for t in tasks]


def _map(fn, tasks: list, n_jobs: int, *args) -> list:
    """``fn(batch, *args)`` over small batches of ``tasks``, in worker processes when n_jobs > 1
    (the forecasting jobs' pool), concatenated in order."""
    from analytics.forecasting.jobs import _executor

    size = max(1, min(8, len(tasks) // (max(n_jobs, 1) * 4) or 1))
    batches = [tasks[i : i + size] for i in range(0, len(tasks), size)]
    executor = _executor(n_jobs)
    if executor is None:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            return [x for b in batches for x in fn(b, *args)]
    futures = [executor.submit(fn, b, *args) for b in batches]
    return [x for f in futures for x in f.result()]


def _summary(rows: list[dict], service_level: float) -> dict:
    out: dict = {}
    for name in ("shopbot", "seasonal_naive"):
        res = [r[name] for r in rows]
        demand = sum(x.demand for x in res)
        cycles = sum(x.cycles for x in res)
        out[name] = {
            "fill_rate": round(sum(x.served for x in res) / demand, 4) if demand else None,
            "cycle_service": round(1 - sum(x.cycles_with_stockout for x in res) / cycles, 4)
            if cycles
            else None,
            "stockout_steps": int(sum(x.stockout_steps for x in res)),
            "avg_on_hand": round(float(np.mean([x.avg_on_hand for x in res])), 3),
            "series_reaching_target_fill_rate": round(
                float(np.mean([x.fill_rate >= service_level for x in res])), 4
            ),
        }
    ours = [r["shopbot"] for r in rows]
    naive = [r["seasonal_naive"] for r in rows]
    less = [a.avg_on_hand < b.avg_on_hand for a, b in zip(ours, naive)]
    both = [
        a.fill_rate >= service_level and a.avg_on_hand < b.avg_on_hand for a, b in zip(ours, naive)
    ]
    out["comparison"] = {
        "series_with_less_stock_than_naive": round(float(np.mean(less)), 4),
        "series_at_target_with_less_stock_than_naive": round(float(np.mean(both)), 4),
        "stock_ratio": round(
            sum(a.avg_on_hand for a in ours) / max(sum(b.avg_on_hand for b in naive), 1e-9), 4
        ),
    }
    return out


def evaluate_inventory(
    engine: Engine,
    *,
    service_level: float = DEFAULT_SERVICE_LEVEL,
    replay_weeks: int = 12,
    review_days: int = DEFAULT_REVIEW_DAYS,
    lead_days: int | None = None,
    freq: str = "D",
    source: str = "orders",
    min_units: float = 0.0,
    n_jobs: int = 2,
    max_series: int | None = None,
) -> dict:
    """Replays the reorder policy on every series with shopbot's forecasts and with seasonal
    naive (see the module docstring). ``lead_days``: one lead time for every series (default:
    each product's, or 7 days where unknown)."""
    started = time.perf_counter()
    service_z(service_level)
    config = weekly_config() if freq == "W" else ForecastConfig()
    step = config.step_days
    replay_steps = replay_weeks * 7 // step
    review = max(1, math.ceil(review_days / step))
    window = load_window(engine, config, source, extra_steps=replay_steps)
    products = load_products(engine)
    active = products[products["active"]].set_index("product_id")
    histories = product_histories(engine, window, [int(p) for p in active.index], config, min_units)
    tasks = []
    for pid, hist in sorted(histories.items()):
        y = hist.to_numpy()
        if len(y) < replay_steps + config.min_train + config.test_days:
            continue
        known = active.loc[pid, "lead_time_days"] if source == "orders" else None
        days = lead_days or (int(known) if known and known == known else DEFAULT_LEAD_DAYS)
        tasks.append(ReplayTask(str(active.loc[pid, "sku"]), y[:-replay_steps],
                                y[-replay_steps:], max(0, math.ceil(days / step))))  # fmt: skip
    if max_series is not None:
        tasks = tasks[:max_series]
    if not tasks:
        raise NoData(
            f"no series long enough to replay {replay_weeks} weeks after a backtest — use fewer "
            "--weeks or a shop with a longer history"
        )
    chosen = _map(_choose, tasks, n_jobs, config)
    results = {r.key: r for r in chosen}
    for t in tasks:
        t.method, t.kind = results[t.sku].method, results[t.sku].kind
    cal = calibrate(results)
    replays = _map(_replay_batch, tasks, n_jobs, config, cal, service_level, review)
    rows = [r for _, r in replays]
    kinds = {t.sku: t.kind for t in tasks}
    by_kind = {
        kind: _summary([r for sku, r in replays if kinds[sku] == kind], service_level)
        for kind in sorted(set(kinds.values()))
    }
    return {
        "source": source,
        "freq": freq,
        "service_level": service_level,
        "replay": {
            "weeks": replay_weeks,
            "steps": replay_steps,
            "review_steps": review,
            "step_days": step,
            "lead_days": lead_days or "per product",
        },  # fmt: skip
        "series": len(tasks),
        "methods": {
            m: sum(1 for t in tasks if t.method == m) for m in sorted({t.method for t in tasks})
        },
        "overall": _summary(rows, service_level),
        "by_kind": by_kind,
        "calibration": cal.to_dict(),
        "seconds": round(time.perf_counter() - started, 2),
        "per_sku": [
            {
                "sku": sku,
                "method": results[sku].method,
                "kind": kinds[sku],
                **{name: res.to_dict() for name, res in r.items()},
            }
            for sku, r in replays
        ],  # fmt: skip
    }
