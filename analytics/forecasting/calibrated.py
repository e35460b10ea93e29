"""A forecast's served intervals: its sample-path quantiles read at the calibrated levels.

:func:`pooled_records` gathers the backtest records of the chosen methods per calibration group
(:func:`calibration_group`: the kind of series, or the method when it is not the kind's own
model), :func:`calibrate` learns the levels from them, and :func:`served_intervals` turns one
series' path quantiles (``SeriesResult.grid_*``) into calibrated daily intervals, weekly-total
intervals and the running-total quantiles the reorder point plans with.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from analytics.forecasting.intervals import (
    LOWER_TAUS,
    RECORD_FIELDS,
    UPPER_TAUS,
    Calibration,
    coverage_table,
)
from analytics.forecasting.selection import GRID, SeriesResult

INTERVALS = {"lo95": 0.025, "lo80": 0.1, "hi80": 0.9, "hi95": 0.975}


def calibration_group(kind: str, method: str) -> str:
    """The group whose levels a forecast (of this kind, by this method) is served at: its kind
    (smooth / intermittent) when the kind's own model forecasts it (SARIMA; TSB, SBA or ADIDA),
    else the method: the yearly analog's series and the series where seasonal naive backtested
    better form groups of their own. Their paths are far from the models' in width (seasonal
    naive's random walk covers 99% where 80% is promised on MovieLens; the yearly analog's cover
    too little), so levels learned on a mix of them fit neither."""
    own = method == "sarima" if kind == "smooth" else method != "seasonal_naive"
    return kind if own else method


def pooled_records(
    results: dict[str, SeriesResult], origins: slice = slice(None)
) -> dict[str, np.ndarray]:
    """Per calibration group: the chosen methods' backtest records of the origins selected by
    ``origins`` (e.g. ``slice(None, -1)``: all but the newest)."""
    out: dict[str, list[np.ndarray]] = {}
    for r in results.values():
        records = _chosen_records(r)
        if records:
            out.setdefault(calibration_group(r.kind, r.method), []).extend(records[origins])
    return {
        k: np.concatenate(v) if v else np.zeros((0, len(RECORD_FIELDS))) for k, v in out.items()
    }


def calibrate(results: dict[str, SeriesResult]) -> Calibration:
    """The calibration learned from every backtest origin of every series."""
    return Calibration.fit(pooled_records(results))


def held_out_coverage(results: dict[str, SeriesResult]) -> dict:
    """Coverage before and after calibration, honestly: levels learned on the older backtest
    origins, coverage measured on the newest (per kind and window; see ``coverage_table``); and,
    ``rolling``, on every origin from the second, each with the levels learned on the origins
    before it, pooled. One origin is one draw of whatever moved every series that period at
    once; the rolling figure averages over as many periods as the backtest has."""
    n_origins = max((len(_chosen_records(r)) for r in results.values()), default=0)
    cal = Calibration.fit(pooled_records(results, slice(None, -1)))
    rolling = [
        coverage_table(
            pooled_records(results, test), Calibration.fit(pooled_records(results, older))
        )
        for older, test in rolling_splits(n_origins)
    ]
    return {
        "method": "levels learned on every backtest origin but the newest; coverage measured on "
        "the newest origin's days, weeks and whole test window",
        "calibration": cal.to_dict(),
        "coverage": coverage_table(pooled_records(results, slice(-1, None)), cal),
        "rolling": {"test_origins": len(rolling), "coverage": pool_tables(rolling)},
    }


def rolling_splits(n_origins: int) -> list[tuple[slice, slice]]:
    """(calibration origins, test origin) for each origin but the oldest, counted from the newest:
    every series' newest origin is the same period (the data's end), while a series with a
    shorter history has fewer old ones, so the k-th newest is the same period for all of them."""
    return [(slice(None, -k), slice(-k, -k + 1 or None)) for k in range(n_origins - 1, 0, -1)]


def _chosen_records(result: SeriesResult) -> list:
    """The chosen method's backtest records, one array per origin, oldest first."""
    m = result.backtest.get(result.method)
    return list(m.records) if m is not None and m.records else []


def pool_tables(tables: list[dict]) -> dict:
    """Coverage tables (``coverage_table``) of several test origins as one: per kind and window,
    the records added up and each share weighted by the records of the origins that have it."""
    sums: dict = {}
    for table in tables:
        for kind, windows in table.items():
            for window, row in windows.items():
                into = sums.setdefault((kind, window), {"records": [0, 0]})
                into["records"][0] += row["records"]
                for key, value in row.items():
                    if key != "records" and value is not None:
                        total = into.setdefault(key, [0.0, 0])
                        total[0] += value * row["records"]
                        total[1] += row["records"]
    out: dict = {}
    for (kind, window), into in sums.items():
        row = {"records": into.pop("records")[0]}
        row |= {key: (s / n if n else None) for key, (s, n) in into.items()}
        out.setdefault(kind, {})[window] = row
    return out


def _at(grid_row: np.ndarray, level: float) -> float:
    return float(np.interp(level, GRID, grid_row))


def served_intervals(
    result: SeriesResult, cal: Calibration | None, step_days: int = 1
) -> dict[str, Any]:
    """Calibrated intervals of one forecast: ``daily`` (columns lo80 … hi95 per step),
    ``weeks`` (per whole week: mean and interval of its total), ``cumulative`` (service level
    → upper quantile of the total demand from the first step through each step)."""
    if result.grid_daily is None or result.grid_weeks is None or result.grid_cumulative is None:
        return {}
    cal = cal or Calibration()

    def level(days: int, tau: float) -> float:
        return cal.level(calibration_group(result.kind, result.method), days, tau)

    daily = {
        col: [_at(row, level(step_days, tau)) for row in result.grid_daily]
        for col, tau in INTERVALS.items()
    }
    mean = np.asarray(result.forecast["mean"], dtype=float)
    week = max(1, 7 // step_days)
    weeks = []
    for b, row in enumerate(result.grid_weeks):
        days = min(week, len(mean) - b * week) * step_days
        entry = {"mean": float(mean[b * week : (b + 1) * week].sum())}
        entry |= {col: _at(row, level(days, tau)) for col, tau in INTERVALS.items()}
        weeks.append(entry)
    cumulative = {
        f"{tau:g}": [
            _at(row, level((i + 1) * step_days, tau))
            for i, row in enumerate(result.grid_cumulative)
        ]
        for tau in UPPER_TAUS
    }
    return {"daily": daily, "weeks": weeks, "cumulative": cumulative}


__all__ = [
    "LOWER_TAUS",
    "calibrate",
    "calibration_group",
    "held_out_coverage",
    "pool_tables",
    "pooled_records",
    "rolling_splits",
    "served_intervals",
]
