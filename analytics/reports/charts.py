"""PNG charts for staff reports (matplotlib, no display needed)."""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

WIDTH_PX, HEIGHT_PX, DPI = 900, 450, 100


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    plt.close(fig)
    return buf.getvalue()


def _figure():
    fig, ax = plt.subplots(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    fig.subplots_adjust(left=0.09, right=0.98, top=0.88, bottom=0.16)
    ax.grid(alpha=0.3)
    return fig, ax


def forecast_chart(
    title: str,
    history_days: Sequence,
    history_units: Sequence[float],
    days: Sequence,
    mean: Sequence[float],
    lo80: Sequence[float],
    hi80: Sequence[float],
    lo95: Sequence[float],
    hi95: Sequence[float],
) -> bytes:
    """PNG bytes: recent history, the forecast and its 80%/95% intervals."""
    fig, ax = _figure()
    ax.plot(history_days, history_units, color="#444444", lw=1.2, label="sold per day")
    ax.fill_between(days, lo95, hi95, color="#1f77b4", alpha=0.15, label="95% interval")
    ax.fill_between(days, lo80, hi80, color="#1f77b4", alpha=0.3, label="80% interval")
    ax.plot(days, mean, color="#1f77b4", lw=2, label="forecast")
    ax.set_title(title)
    ax.set_ylabel("units per day")
    ax.set_ylim(bottom=0)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    ax.legend(loc="upper left", fontsize=8)
    return _png(fig)


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float], ylabel: str) -> bytes:
    """PNG bytes: a bar chart (e.g. revenue by category or top sellers)."""
    fig, ax = _figure()
    ax.bar(range(len(values)), values, color="#2ca02c")
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels([str(x)[:18] for x in labels], rotation=20, ha="right", fontsize=8)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    return _png(fig)


def lift_chart(title: str, labels: Sequence[str], lifts: Sequence[float],
               lows: Sequence[float], highs: Sequence[float], unit: str) -> bytes:  # fmt: skip
    """PNG bytes: each metric's lift (treatment − control) with its 95% interval around zero."""
    fig, ax = _figure()
    ys = list(range(len(lifts)))
    errors = [[m - lo for m, lo in zip(lifts, lows)], [hi - m for m, hi in zip(lifts, highs)]]
    colours = ["#2ca02c" if lo > 0 else "#d62728" if hi < 0 else "#7f7f7f"
               for lo, hi in zip(lows, highs)]  # fmt: skip
    for y, m, c, lo_err, hi_err in zip(ys, lifts, colours, errors[0], errors[1]):
        ax.errorbar(m, y, xerr=[[lo_err], [hi_err]], fmt="o", color=c, capsize=4)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(ys)
    ax.set_yticklabels([str(x)[:24] for x in labels], fontsize=8)
    ax.set_title(title)
    ax.set_xlabel(unit)
    return _png(fig)
