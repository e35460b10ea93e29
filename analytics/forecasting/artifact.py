"""The forecast serving artifact: everything the chat needs about a SKU's forecast, precomputed.

``shopbot train`` saves :attr:`ForecastReport.artifact` with ``VersionWriter.save("forecasts", …)``;
the action server loads it once and answers with :func:`lookup`, never refitting. Shape (plain
Python types, JSON-compatible once dates are strings)::

    {
      "kind": "forecasts", "version": str, "run_id": int, "data_end": "ISO time",
      "first_day": "YYYY-MM-DD", "horizon": 28, "step_days": 1 (7: weekly),
      "params": {...}, "metrics": {..., "calibration": {...}},
      "skus": {
        "CLO-0042": {
          "product_id": 17, "name": "…", "method": "sarima", "detail": "SARIMA(…)…",
          "kind": "smooth", "reason": "…",
          "mean": [28 floats], "lo80": […], "hi80": […], "lo95": […], "hi95": […],
          "backtest": {"sarima": {"mase", "rmsse", "spl", "smape", "mae", "coverage80",
                                  "coverage95", "origins", "points"}, "seasonal_naive": {…}},
          "weeks": [{"mean", "lo80", "hi80", "lo95", "hi95"}, …],  # each week's total
          "cumulative": {"0.95": [28 floats], …},  # upper quantiles of the running total
          "history": {"start": "YYYY-MM-DD", "units": [56 floats: the last 8 weeks]},
        }, …
      },
    }
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from analytics.forecasting.methods import COLUMNS
from shop.errors import NotFound

if TYPE_CHECKING:
    from analytics.forecasting.jobs import ForecastReport


def build_artifact(report: ForecastReport) -> dict:
    """The artifact dict for a finished run (see the module docstring for its shape)."""
    skus = {}
    for sku, res in sorted(report.results.items()):
        facts = report.products[sku]
        skus[sku] = {
            "product_id": facts["product_id"],
            "name": facts["name"],
            "method": res.method,
            "detail": res.detail,
            "kind": res.kind,
            "reason": res.reason,
            **{c: [round(float(v), 3) for v in res.forecast[c]] for c in COLUMNS},
            "backtest": res.metrics_dict(),
            # Calibrated intervals of each week's total and upper quantiles of the running
            # total (service level -> one value per step), from the joint sample paths.
            "weeks": [
                {k: round(float(v), 3) for k, v in w.items()}
                for w in report.served.get(sku, {}).get("weeks", [])
            ],
            "cumulative": {
                level: [round(float(v), 3) for v in values]
                for level, values in report.served.get(sku, {}).get("cumulative", {}).items()
            },
            "history": {
                "start": facts["history_start"].isoformat(),
                "units": [float(v) for v in facts["history"]],
            },
        }
    return {
        "kind": "forecasts",
        "version": report.version,
        "run_id": report.run_id,
        "data_end": report.data_end.isoformat(),
        "first_day": report.first_day.isoformat(),
        "horizon": report.horizon,
        "step_days": report.step_days,
        "params": report.params,
        "metrics": report.metrics,
        "skus": skus,
    }


def lookup(artifact: dict, sku: str) -> dict:
    """One SKU's entry plus its forecast ``days`` (ISO dates); NotFound if it has no forecast."""
    key = (sku or "").strip().upper()
    entry = artifact.get("skus", {}).get(key)
    if entry is None:
        raise NotFound(
            f"no forecast for SKU {key or '(empty)'} — check the code (e.g. CLO-0042); products "
            "without sales have no forecast"
        )
    first = dt.date.fromisoformat(artifact["first_day"])
    step = int(artifact.get("step_days", 1))
    days = [(first + dt.timedelta(days=i * step)).isoformat() for i in range(len(entry["mean"]))]
    return {"sku": key, "days": days, **entry}
