"""``shopbot evaluate inventory``: the reorder policy replayed on every series, fed by shopbot's
forecasts and by seasonal naive, over the same recent weeks (see ``inventory_replay``).

For each series the weeks before the replay are what shopbot sees first: the method is chosen by
the usual backtests there, and the interval calibration is learned from those backtests pooled
over all series. Then, at every review, both forecasters are refitted on the demand up to that
day and set the order-up-to level for the service level; the replay counts what the stock would
have done. Nothing is stored.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy.engine import Engine

from analytics.data import load_products
from analytics.forecasting.adida import Adida
from analytics.forecasting.calibrated import calibrate, calibration_group, pooled_records
from analytics.forecasting.demand import load_window, product_histories
from analytics.forecasting.intervals import (
    MIN_RECORDS,
    WINDOWS,
    in_window,
    quantiles,
    upper_level,
    window_name,
)
from analytics.forecasting.methods import FitFailed, Intermittent, Sarima, SeasonalNaive
from analytics.forecasting.selection import GRID, ForecastConfig, forecast_series, weekly_config
from analytics.inventory import DEFAULT_REVIEW_DAYS, DEFAULT_SERVICE_LEVEL, service_z
from analytics.inventory_replay import ReplayResult, replay
from shop.errors import NoData

DEFAULT_LEAD_DAYS = 7  # for series without a known lead time (e.g. ratings as demand)
MEMORY_WEEKS = 8  # how far back the recalibration at each review looks


@dataclass
class ReplayTask:
    sku: str
    history: np.ndarray  # demand before the replay
    future: np.ndarray  # the replayed demand
    lead: int  # steps
    method: str = ""
    kind: str = ""

    @property
    def group(self) -> str:
        """The calibration group whose levels the replay recalibrates it with."""
        return calibration_group(self.kind, self.method)


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
    if method == "yearly":
        try:
            return config.yearly_model().fit(y)
        except FitFailed:
            method = "seasonal_naive"
    if method in ("tsb", "sba"):
        return Intermittent(method, window=config.window).fit(y)
    if method == "adida":
        return Adida(window=config.window).fit(y)
    return SeasonalNaive(config.season, config.window).fit(y)


def _choose(tasks: Sequence[ReplayTask], config: ForecastConfig) -> list:
    """Pass one (in a worker): each series' method chosen by backtests before the replay."""
    return [forecast_series(t.sku, t.history, config) for t in tasks]


@dataclass
class ReplayPlan:
    """Phase one of a series' replay (in a worker): at every review, the quantiles (at GRID) of
    the lead-time-plus-review total under shopbot's model and under seasonal naive, and where
    the total that then happened fell in shopbot's distribution (``u_low`` = P(total < actual);
    NaN when the window runs past the replay)."""

    sku: str
    group: str  # calibration group: the levels it is recalibrated with
    lead: int
    shopbot: np.ndarray  # (reviews, GRID)
    naive: np.ndarray  # (reviews, GRID)
    u_low: np.ndarray  # (reviews,)


def _plan_series(task: ReplayTask, config: ForecastConfig, review: int) -> ReplayPlan:
    steps = max(1, task.lead + review)
    shop, naive, u = [], [], []
    model = None
    for start in range(0, len(task.future), review):
        y = np.concatenate([task.history, task.future[:start]])
        model = _refit(task.method, config, y, model)
        totals = model.sample_paths(steps, config.n_paths, seed=start).sum(axis=1)
        shop.append(quantiles(totals, GRID))
        naive_totals = SeasonalNaive(config.season, config.window).fit(y)
        naive.append(
            quantiles(naive_totals.sample_paths(steps, config.n_paths, start).sum(1), GRID)
        )
        window = task.future[start : start + steps]
        u.append(float(np.mean(totals < window.sum())) if len(window) == steps else np.nan)
    return ReplayPlan(task.sku, task.group, task.lead, np.array(shop), np.array(naive), np.array(u))


def _plan_batch(tasks, config, review) -> list[ReplayPlan]:
    return [_plan_series(t, config, review) for t in tasks]


def _replay_all(
    tasks: list[ReplayTask],
    plans: list[ReplayPlan],
    records: dict[str, np.ndarray],
    service_level: float,
    review: int,
    step_days: int,
    memory_steps: int,
) -> tuple[list[tuple[str, dict[str, ReplayResult]]], list[dict]]:
    """Phase two: the order-up-to levels review by review, shopbot's at the level calibrated on
    what is known by then — the backtests before the replay and the lead-time totals of earlier
    reviews that have already happened (the last ``memory_steps``), pooled per calibration group
    and window, as a weekly ``shopbot train`` would recalibrate — and the naive policy's at the
    nominal level; then each policy replayed."""
    reviews = plans[0].shopbot.shape[0] if plans else 0
    group = [(p.group, window_name((p.lead + review) * step_days)) for p in plans]
    known_at = [np.arange(reviews) * review + p.lead + review for p in plans]
    levels: dict[str, list[float]] = {p.sku: [] for p in plans}
    trace = []
    for c in range(reviews):
        now = c * review
        by_group: dict[tuple[str, str], float] = {}
        for cal_group, name in sorted(set(group)):
            rec = records.get(cal_group)
            base = []
            if rec is not None and len(rec) and now < memory_steps:
                base = list(rec[in_window(rec, WINDOWS[name]), 1])
            seen = [
                plan.u_low[(at <= now) & (now - at < memory_steps) & np.isfinite(plan.u_low)]
                for plan, g, at in zip(plans, group, known_at)
                if g == (cal_group, name)
            ]
            u = np.concatenate([np.asarray(base, dtype=float), *seen])
            ok = len(u) >= MIN_RECORDS
            by_group[(cal_group, name)] = upper_level(u, service_level) if ok else service_level
        for plan, g in zip(plans, group):
            levels[plan.sku].append(by_group[g])
        trace.append({"review": c, **{f"{k}/{w}": round(v, 4) for (k, w), v in by_group.items()}})
    out = []
    for task, plan in zip(tasks, plans):
        ours = [np.interp(lv, GRID, row) for lv, row in zip(levels[plan.sku], plan.shopbot)]
        naive = [np.interp(service_level, GRID, row) for row in plan.naive]
        out.append(
            (
                task.sku,
                {
                    "shopbot": replay(task.future, np.array(ours), lead=task.lead, review=review),
                    "seasonal_naive": replay(
                        task.future, np.array(naive), lead=task.lead, review=review
                    ),
                },
            )
        )
    return out, trace


def _map(fn, tasks: list, n_jobs: int, *args) -> list:
    """``fn(batch, *args)`` over small batches of ``tasks``, in worker processes when n_jobs > 1
    (the forecasting jobs' pool), concatenated in order."""
    from analytics.forecasting.cluster import executor as make_executor

    size = max(1, min(8, len(tasks) // (max(n_jobs, 1) * 4) or 1))
    batches = [tasks[i : i + size] for i in range(0, len(tasks), size)]
    executor, _workers = make_executor(n_jobs)
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
    until: dt.datetime | None = None,
) -> dict:
    """Replays the reorder policy on every series with shopbot's forecasts and with seasonal
    naive (see the module docstring). ``lead_days``: one lead time for every series (default:
    each product's, or 7 days where unknown). ``until``: replay the weeks before this time, as
    if the data ended there."""
    started = time.perf_counter()
    service_z(service_level)
    config = weekly_config() if freq == "W" else ForecastConfig()
    step = config.step_days
    replay_steps = replay_weeks * 7 // step
    review = max(1, math.ceil(review_days / step))
    window = load_window(engine, config, source, extra_steps=replay_steps, until=until)
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
    plans = _map(_plan_batch, tasks, n_jobs, config, review)
    memory = MEMORY_WEEKS * 7 // step
    replays, trace = _replay_all(
        tasks, plans, pooled_records(results), service_level, review, step, memory
    )
    rows = [r for _, r in replays]
    kinds = {t.sku: t.kind for t in tasks}
    by_kind = {
        kind: _summary([r for sku, r in replays if kinds[sku] == kind], service_level)
        for kind in sorted(set(kinds.values()))
    }
    return {
        "source": source,
        "data_end": window.end.isoformat(),
        "freq": freq,
        "service_level": service_level,
        "replay": {
            "weeks": replay_weeks,
            "steps": replay_steps,
            "review_steps": review,
            "step_days": step,
            "lead_days": lead_days or ("per product" if source == "orders" else DEFAULT_LEAD_DAYS),
        },  # fmt: skip
        "series": len(tasks),
        "methods": {
            m: sum(1 for t in tasks if t.method == m) for m in sorted({t.method for t in tasks})
        },
        "overall": _summary(rows, service_level),
        "by_kind": by_kind,
        "calibration": cal.to_dict(),
        "recalibration": {"memory_weeks": MEMORY_WEEKS, "levels_by_review": trace},
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
