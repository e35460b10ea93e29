"""Calendar of the demo shop: how busy each day is, and which promotion runs on it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

# Monday .. Sunday: weekends are busier.
WEEKDAY_FACTOR = np.array([0.92, 0.90, 0.93, 0.97, 1.03, 1.22, 1.16])
# Mid-month level, January .. December: November/December peak, summer dip.
MONTH_FACTOR = np.array([0.93, 0.86, 0.95, 1.00, 0.97, 0.85, 0.79, 0.81, 0.95, 1.03, 1.32, 1.50])


@dataclass(frozen=True)
class Promotion:
    """A promotion window: every order in it may use ``code`` for ``discount`` off."""

    code: str
    start: dt.date
    end: dt.date  # inclusive
    uplift: float
    discount: float


def promotions_for_year(year: int) -> list[Promotion]:
    """The shop's yearly promotions: new-year sale, spring sale, summer sale, Black Friday week-end."""
    yy = year % 100
    nov1 = dt.date(year, 11, 1)
    thanksgiving = nov1 + dt.timedelta(days=(3 - nov1.weekday()) % 7 + 21)
    black_friday = thanksgiving + dt.timedelta(days=1)
    return [
        Promotion(f"NEWYEAR{yy:02d}", dt.date(year, 1, 2), dt.date(year, 1, 7), 1.25, 0.10),
        Promotion(f"SPRING{yy:02d}", dt.date(year, 3, 20), dt.date(year, 3, 26), 1.35, 0.15),
        Promotion(f"SUMMER{yy:02d}", dt.date(year, 7, 10), dt.date(year, 7, 16), 1.30, 0.15),
        Promotion(
            f"BLACKFRIDAY{yy:02d}", black_friday, black_friday + dt.timedelta(days=3), 2.0, 0.20
        ),
    ]


@dataclass
class Calendar:
    """Per-day arrays over the window: ``dates``, relative ``intensity`` (mean 1) and promotions."""

    start: dt.date
    dates: pd.DatetimeIndex
    intensity: np.ndarray  # float, mean 1 over the window
    promo_index: np.ndarray  # int, -1 when no promotion runs that day
    promotions: list[Promotion]

    @property
    def days(self) -> int:
        return len(self.dates)


def _month_level(dates: pd.DatetimeIndex) -> np.ndarray:
    """The yearly profile, interpolated between mid-months so there are no steps at month ends."""
    pos = (dates.month.to_numpy() - 1) + (
        dates.day.to_numpy() - 15.5
    ) / dates.days_in_month.to_numpy()
    lo = np.floor(pos).astype(int)
    frac = pos - lo
    return MONTH_FACTOR[lo % 12] * (1 - frac) + MONTH_FACTOR[(lo + 1) % 12] * frac


def build_calendar(end_date: dt.date, days: int, rng: np.random.Generator) -> Calendar:
    """The ``days`` days before ``end_date`` (which is excluded: it is "today", not yet sold)."""
    start = end_date - dt.timedelta(days=days)
    dates = pd.date_range(start, periods=days, freq="D")
    level = WEEKDAY_FACTOR[dates.weekday.to_numpy()] * np.asarray(_month_level(dates))
    promo_index = np.full(days, -1, dtype=np.int64)
    promotions: list[Promotion] = []
    for year in range(start.year, end_date.year + 1):
        for promo in promotions_for_year(year):
            lo = (promo.start - start).days
            hi = (promo.end - start).days + 1
            if hi <= 0 or lo >= days:
                continue
            promo_index[max(lo, 0) : min(hi, days)] = len(promotions)
            level[max(lo, 0) : min(hi, days)] *= promo.uplift
            promotions.append(promo)
    # Day-to-day noise (weather, news) so that demand series are not perfectly smooth.
    level = level * rng.lognormal(0.0, 0.06, size=days)
    return Calendar(start, dates, level / level.mean(), promo_index, promotions)
