"""Intervals of totals from joint sample paths, their calibration, ADIDA, weekly data, and the
inventory replay: known answers on simulated series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.forecasting.adida import Adida
from analytics.forecasting.calibrated import calibration_group, held_out_coverage
from analytics.forecasting.intervals import Calibration, backtest_records, window_name
from analytics.forecasting.methods import Intermittent, Sarima, SeasonalNaive
from analytics.forecasting.selection import ForecastConfig, forecast_series
from analytics.inventory import advise, total_quantile
from analytics.inventory_replay import replay
from shop.importers.frequency import detect_frequency


def bursty(n: int, seed: int) -> np.ndarray:
    """Daily demand whose weeks are either busy (a sale on half the days) or quiet (one day in
    ten), at random: days of a week move together, which independent daily draws miss."""
    rng = np.random.default_rng(seed)
    busy = np.repeat(rng.random(n // 7 + 1) < 0.5, 7)[:n]
    sold = rng.random(n) < np.where(busy, 0.5, 0.1)
    return sold * (1 + rng.poisson(1.0, n)).astype(float)


@pytest.fixture(scope="module")
def bursty_results():
    config = ForecastConfig(n_paths=400)
    return {f"S{i}": forecast_series(f"S{i}", bursty(300, i), config) for i in range(90)}


def _in_group(results, group: str = "intermittent") -> int:
    """Series calibrated in ``group`` (a series where seasonal naive won is calibrated apart)."""
    return sum(calibration_group(r.kind, r.method) == group for r in results.values())


def test_calibrated_intervals_cover_what_they_promise(bursty_results):
    cov = held_out_coverage(bursty_results)["coverage"]["intermittent"]
    week = cov["week"]
    assert 85 <= _in_group(bursty_results) <= 90
    assert week["records"] == _in_group(bursty_results) * 4
    # Independent daily draws make a week's total too certain: uncalibrated 80% covers far less.
    assert week["before80"] < 0.72, week
    # Levels learned on the older origins, coverage on the newest: within a few points.
    assert abs(week["after80"] - 0.80) <= 0.06, week
    assert abs(week["after95"] - 0.95) <= 0.04, week
    day = cov["day"]
    assert abs(day["after80"] - 0.80) <= 0.06 and day["after95"] >= 0.91, day


def test_rolling_coverage_pools_every_origin_calibrated_on_the_ones_before(bursty_results):
    from analytics.forecasting.calibrated import pool_tables

    held_out = held_out_coverage(bursty_results)
    rolling = held_out["rolling"]
    origins = len(next(iter(bursty_results.values())).backtest["seasonal_naive"].records)
    assert rolling["test_origins"] == origins - 1 >= 2
    week = rolling["coverage"]["intermittent"]["week"]
    assert week["records"] == _in_group(bursty_results) * 4 * (origins - 1)
    assert abs(week["after80"] - 0.80) <= 0.05 and abs(week["after95"] - 0.95) <= 0.03, week
    # The newest origin is one of the pooled ones, calibrated on the same older origins.
    newest = held_out["coverage"]["intermittent"]["week"]
    assert min(newest["after80"], week["after80"]) < 0.9
    # Origins are counted from the newest, the period every series shares: a series with a
    # shorter history (fewer old origins) is tested on the same periods as the others.
    from analytics.forecasting.calibrated import rolling_splits

    long, short = list("ABCD"), list("CD")  # periods of the origins, oldest first
    splits = rolling_splits(4)
    assert [(long[older], long[test]) for older, test in splits] == [
        (["A"], ["B"]), (["A", "B"], ["C"]), (["A", "B", "C"], ["D"])
    ]  # fmt: skip
    assert [(short[older], short[test]) for older, test in splits] == [
        ([], []), ([], ["C"]), (["C"], ["D"])
    ]  # fmt: skip
    # Pooling weighs each origin by its records.
    a = {"k": {"week": {"records": 10, "after80": 1.0, "before80": None}}}
    b = {"k": {"week": {"records": 30, "after80": 0.6, "before80": 0.5}}}
    assert pool_tables([a, b]) == {"k": {"week": {"records": 40, "after80": 0.7, "before80": 0.5}}}


def test_pit_records_and_window_classes():
    paths = np.tile(np.arange(10.0), (1, 1)).T.repeat(14, axis=1)  # 10 paths, 14 days, path i = i
    actual = np.full(14, 4.0)
    bounds = {c: np.full(14, v) for c, v in (("lo80", 3.0), ("hi80", 5.0), ("lo95", 2.0),
                                             ("hi95", 6.0))}  # fmt: skip
    rec = backtest_records(paths, actual, bounds)
    days = rec[:, 0].tolist()
    assert days == [1] * 14 + [7, 7, 14]
    # One day: 4 of the 10 paths are below 4, 5 at or below.
    assert rec[0, 1:3].tolist() == [0.4, 0.5]
    # Summed daily 80% bounds of a week are 21–35 and the week's total 28: covered.
    assert rec[14, 3] == 1.0
    # Nearest on a log scale: 1-2 days count as a day, 3-14 as a week, 15 or more as a month.
    assert [window_name(d) for d in (2, 3, 7, 14, 15, 28, 60)] == [
        "day", "week", "week", "week", "month", "month", "month",
    ]  # fmt: skip


def test_calibration_levels_by_hand():
    # u_low of 9 records: 0.0, 0.1, …, 0.8. A 90% upper bound must exceed the ceil(10 * 0.9) =
    # 9th smallest, 0.8; a 10% lower bound sits at the floor(10 * 0.1) = 1st smallest u_high.
    u = np.arange(9) / 10
    rec = np.column_stack([np.full(40, 7), np.tile(u, 5)[:40], np.tile(u + 0.05, 5)[:40],
                           np.ones(40), np.ones(40)])  # fmt: skip
    cal = Calibration.fit({"smooth": rec})
    assert cal.level("smooth", 7, 0.9) == pytest.approx(0.8, abs=1e-6)
    assert cal.level("smooth", 7, 0.1) == pytest.approx(0.05)
    assert cal.level("smooth", 1, 0.9) == 0.9  # no day records: nominal
    assert cal.level("intermittent", 7, 0.9) == 0.9


def test_adida_by_hand():
    y = np.tile([0.0, 0.0, 6.0], 40)  # a sale of 6 every third day
    m = Adida().fit(y)
    assert m.bucket_ == 3 and m.level_ == pytest.approx(2.0)
    assert m.predict(7)["mean"].tolist() == [2.0] * 7
    paths = m.sample_paths(30, 2000, seed=1)
    assert paths.mean() == pytest.approx(2.0, rel=0.05)
    assert set(np.unique(paths)) <= {0.0, 6.0}


def test_sample_paths_agree_with_each_model():
    rng = np.random.default_rng(3)
    t = np.arange(400)
    y = 40 + 8 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 3, 400)
    sarima = Sarima().fit(y)
    fc = sarima.predict(14)
    paths = sarima.sample_paths(14, 4000, seed=0)
    np.testing.assert_allclose(paths.mean(axis=0), fc["mean"], rtol=0.02)
    se = (fc["hi95"] - fc["mean"]) / 1.96
    np.testing.assert_allclose(paths.std(axis=0), se, rtol=0.1)
    # A pure weekly pattern: seasonal naive's paths repeat it exactly.
    pattern = np.tile([1.0, 2, 3, 4, 5, 6, 7], 10)
    sn = SeasonalNaive().fit(pattern).sample_paths(21, 50, seed=0)
    assert (sn == np.tile(pattern[:7], 3)).all()
    # TSB: a sale with probability p each day, independently.
    tsb = Intermittent("tsb", alpha=0.1, beta=0.1).fit(bursty(300, 1))
    draws = tsb.sample_paths(50, 2000, seed=0)
    assert (draws > 0).mean() == pytest.approx(tsb.prob_, abs=0.01)


def test_weekly_data_is_detected():
    weeks = pd.Series(pd.date_range("2025-01-06", periods=30, freq="7D"))  # Mondays
    assert detect_frequency(weeks) == "W"
    days = pd.Series(pd.date_range("2025-01-06", periods=60, freq="D"))
    assert detect_frequency(days) == "D"
    assert detect_frequency(weeks[:5]) == "D"  # too few to tell


def test_replay_by_hand():
    # Stock starts at S = 10; 2 sold a day; review every 7 days, lead time 2.
    # Days 0-4 sell 10 (stock 8, 6, 4, 2, 0); days 5-8 lose 2 each (8 lost). Day 7 orders 10,
    # arriving on day 9; days 9-13 sell 10. Served 20 of 28: fill rate 5/7.
    r = replay(np.full(14, 2.0), np.array([10.0, 10.0]), lead=2, review=7)
    assert r.fill_rate == pytest.approx(20 / 28)
    assert (r.stockout_steps, r.cycles, r.cycles_with_stockout) == (4, 2, 2)
    assert r.avg_on_hand == pytest.approx((8 + 6 + 4 + 2 + 0 + 8 + 6 + 4 + 2) / 14)
    assert r.ordered == 10
    # With S = 20 (lead-time plus review demand is 18) nothing is ever lost.
    r = replay(np.full(14, 2.0), np.array([20.0, 20.0]), lead=2, review=7)
    assert r.fill_rate == 1.0 and r.cycle_service == 1.0
    # Lead time 0: the order is there for the same day's demand (day 1 refills the 5 sold on
    # day 0, which day 3 sells).
    r = replay(np.array([5.0, 0, 0, 5]), np.array([5.0, 5.0, 5.0, 5.0]), lead=0, review=1)
    assert r.fill_rate == 1.0 and r.ordered == 5


def test_reorder_point_from_the_joint_lead_time_total():
    cumulative = {"0.9": [3.0, 5.0, 7.0, 9.0], "0.95": [4.0, 6.0, 8.0, 10.0]}
    means = np.array([2.0, 2.0, 2.0, 2.0])
    assert total_quantile(cumulative, means, 2, 0.95) == 6.0
    assert total_quantile(cumulative, means, 2, 0.925) == pytest.approx(5.5)
    assert total_quantile(cumulative, means, 2, 0.99) is None  # outside the table
    # Beyond the horizon: mean grows with the repeated forecast, the excess with sqrt(time).
    assert total_quantile(cumulative, means, 16, 0.95) == pytest.approx(32 + 2 * 2)
    a = advise(on_hand=3, on_order=0, lead_time_days=2, means=means, hi95=means,
               first_day=pd.Timestamp("2026-01-01").date(), review_days=2,
               cumulative=cumulative)  # fmt: skip
    assert a.intervals == "joint"
    assert (a.lead_time_demand, a.reorder_point, a.safety_stock) == (4.0, 6.0, 2.0)
    assert a.order_up_to == 10.0 and a.reorder_now and a.order_quantity == 7
