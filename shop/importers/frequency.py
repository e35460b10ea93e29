"""Whether a shop's history is recorded per day or per week."""

from __future__ import annotations

import pandas as pd

# Share of the days with events that must fall on one weekday for the data to count as weekly.
WEEKLY_SHARE = 0.95
MIN_WEEKS = 8


def detect_frequency(times: pd.Series) -> str:
    """ "W" when at least 95% of the distinct days with events (and 8 or more of them) fall on
    the same weekday — a file of weekly totals, each dated on its week's first or last day —
    else "D"."""
    days = pd.to_datetime(pd.Series(times)).dt.normalize().drop_duplicates()
    if len(days) < MIN_WEEKS:
        return "D"
    share = days.dt.weekday.value_counts(normalize=True).iloc[0]
    return "W" if share >= WEEKLY_SHARE else "D"
