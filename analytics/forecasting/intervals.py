"""Intervals of totals (a week, a month, a lead time) from sample paths, calibrated on backtests.

The sum of daily bounds is not a bound of the sum: a week's 95% interval must come from the
distribution of the week's total, which the methods give as joint sample paths
(``Forecaster.sample_paths``). Each interval is a pair of quantiles of such totals.

Calibration (quantile recalibration, conformal style): in the rolling-origin backtests every
actual total is compared with the paths drawn at that origin, giving ``u_low = P(total < actual)``
and ``u_high = P(total <= actual)`` under the forecast. An upper bound at nominal level ``t``
covers the actual when ``u_low < t``; a lower one when ``u_high >= t``. So the level that makes an
upper bound cover a share ``tau`` of the backtest actuals is the ``tau``-th order statistic of
``u_low`` (with the conformal ``(n + 1)`` correction), and likewise below. The levels are learned
per kind of series (smooth / intermittent) and window (day, week, month) and served as quantiles
of the paths at those levels. Discrete demand (many zero days) makes some coverages unreachable
exactly; the calibrated bound then covers at least the target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

# Quantile levels the forecasts are served at: the 80% and 95% central intervals' ends, and the
# upper one-sided levels the reorder point may plan for (service levels).
LOWER_TAUS = (0.025, 0.1)
UPPER_TAUS = (0.8, 0.9, 0.95, 0.975, 0.99)
WINDOWS = {"day": 1, "week": 7, "month": 28}
# A record: (window days, u_low, u_high, 80% covered by summed daily bounds, 95% likewise).
RECORD_FIELDS = ("days", "u_low", "u_high", "sum80", "sum95")
MIN_RECORDS = 30  # fewer backtest actuals than this for a kind and window: no calibration


def window_name(days: int) -> str:
    """The calibrated window closest to ``days`` on a log scale (a 10-day lead time → week)."""
    return min(WINDOWS, key=lambda w: abs(math.log(max(days, 1)) - math.log(WINDOWS[w])))


def pit(samples: np.ndarray, actual: float) -> tuple[float, float]:
    """(P(X < actual), P(X <= actual)) under the sample distribution ``samples``."""
    return float(np.mean(samples < actual)), float(np.mean(samples <= actual))


def backtest_records(
    paths: np.ndarray, actual: np.ndarray, daily_bounds: dict, step_days: int = 1
) -> np.ndarray:
    """The calibration records of one backtest origin: every step, every whole week and the
    whole test window (see RECORD_FIELDS; lengths in days, a step being ``step_days``);
    ``daily_bounds`` has the method's own per-step ``lo80`` … ``hi95``, to score the old practice
    of adding them up."""
    h = len(actual)
    week = max(1, 7 // step_days)
    blocks = [(d, 1) for d in range(h)]
    if week > 1:
        blocks += [(w, week) for w in range(0, h - week + 1, week)]
    if h > week:
        blocks.append((0, h))
    rows = []
    for start, steps in blocks:
        sl = slice(start, start + steps)
        total = float(actual[sl].sum())
        lo, hi = pit(paths[:, sl].sum(axis=1), total)
        summed = {c: float(np.sum(daily_bounds[c][sl])) for c in ("lo80", "hi80", "lo95", "hi95")}
        rows.append(
            (
                steps * step_days,
                lo,
                hi,
                summed["lo80"] <= total <= summed["hi80"],
                summed["lo95"] <= total <= summed["hi95"],
            )
        )
    return np.array(rows, dtype=float).reshape(-1, len(RECORD_FIELDS))


def upper_level(u_low: np.ndarray, tau: float) -> float:
    """The smallest nominal level t with (n+1)-corrected share of u_low < t at least tau."""
    n = len(u_low)
    rank = min(n, math.ceil((n + 1) * tau))
    return float(min(1.0, np.sort(u_low)[rank - 1] + 1e-9))


def lower_level(u_high: np.ndarray, tau: float) -> float:
    """The largest nominal level t with (n+1)-corrected share of u_high < t at most tau."""
    n = len(u_high)
    rank = math.floor((n + 1) * tau)
    if rank < 1:
        return 0.0
    return float(np.sort(u_high)[min(rank, n) - 1])


def coverage(records: np.ndarray, level_lo: float, level_hi: float) -> float | None:
    """Share of records whose actual lies within the bounds at nominal levels (lo, hi)."""
    if len(records) == 0:
        return None
    inside = (records[:, 2] >= level_lo) & (records[:, 1] < level_hi)
    return float(inside.mean())


@dataclass
class Calibration:
    """Nominal quantile levels that make the backtest intervals cover what they promise, per
    (kind, window); a missing pair means "serve the nominal level" (too few records)."""

    levels: dict[str, dict[str, dict[float, float]]] = field(default_factory=dict)
    records: dict[str, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def fit(cls, records_by_kind: dict[str, np.ndarray]) -> Calibration:
        out = cls()
        for kind, rec in records_by_kind.items():
            for window, days in WINDOWS.items():
                r = rec[in_window(rec, days)] if len(rec) else rec
                out.records.setdefault(kind, {})[window] = len(r)
                if len(r) < MIN_RECORDS:
                    continue
                lv = {t: lower_level(r[:, 2], t) for t in LOWER_TAUS}
                lv |= {t: upper_level(r[:, 1], t) for t in UPPER_TAUS}
                # The 95% interval's upper level 0.975 is also served as 1 - 0.025 below.
                out.levels.setdefault(kind, {})[window] = lv
        return out

    def level(self, kind: str, days: int, tau: float) -> float:
        """The nominal level to serve for quantile ``tau`` of a ``days``-long total."""
        table = self.levels.get(kind, {}).get(window_name(days))
        if not table:
            return tau
        if tau in table:
            return table[tau]
        # A level between two calibrated ones (e.g. a 92% service level): interpolate.
        taus = sorted(t for t in table if t > 0.5) if tau > 0.5 else sorted(table)
        shift = np.interp(tau, taus, [table[t] - t for t in taus])
        return float(np.clip(tau + shift, 0.0, 1.0))

    def to_dict(self) -> dict:
        return {
            "levels": {
                k: {w: {f"{t:g}": round(v, 4) for t, v in lv.items()} for w, lv in ws.items()}
                for k, ws in self.levels.items()
            },
            "records": self.records,
        }


def in_window(records: np.ndarray, days: int) -> np.ndarray:
    """Rows of ``records`` whose window is calibrated as ``days`` (see :func:`window_name`)."""
    names = np.array([window_name(int(d)) for d in records[:, 0]])
    return names == window_name(days)


def coverage_table(records_by_kind: dict[str, np.ndarray], cal: Calibration | None) -> dict:
    """Per kind and window: 80%/95% coverage of path intervals at nominal levels (``before``),
    at ``cal``'s levels (``after``) and of summed daily bounds (``summed_daily``)."""
    out: dict = {}
    for kind, rec in records_by_kind.items():
        for window, days in WINDOWS.items():
            r = rec[in_window(rec, days)] if len(rec) else rec
            row: dict = {"records": len(r)}
            for pct, lo, hi, col in ((80, 0.1, 0.9, 3), (95, 0.025, 0.975, 4)):
                row[f"before{pct}"] = coverage(r, lo, hi)
                if cal is not None:
                    row[f"after{pct}"] = coverage(
                        r, cal.level(kind, days, lo), cal.level(kind, days, hi)
                    )
                if window != "day" and len(r):
                    row[f"summed_daily{pct}"] = float(r[:, col].mean())
            out.setdefault(kind, {})[window] = row
    return out


def quantiles(samples: np.ndarray, levels) -> np.ndarray:
    """Quantiles of ``samples`` (along axis 0) at ``levels`` (the "higher" method, so a bound is
    a value the paths reach; non-negative demand stays non-negative)."""
    return np.quantile(samples, np.clip(levels, 0.0, 1.0), axis=0, method="higher")


def calibration_from_dict(d: dict | None) -> Calibration | None:
    """The :class:`Calibration` saved by ``Calibration.to_dict`` (None for None)."""
    if not d:
        return None
    levels = {
        k: {w: {float(t): float(v) for t, v in lv.items()} for w, lv in ws.items()}
        for k, ws in d.get("levels", {}).items()
    }
    return Calibration(levels=levels, records=d.get("records", {}))
