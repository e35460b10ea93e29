"""Demand forecasting per SKU: SARIMA, seasonal naive and TSB, chosen per SKU by backtest.

Public API (see each function's docstring):

- :func:`forecast_sku` — one SKU now, for the CLI and the chat (``SkuForecast``).
- :func:`run_forecasts` — every active SKU with sales, in parallel, stored as one run
  (``ForecastReport``, whose ``artifact`` the train command saves for serving).
- :func:`evaluate_forecast` — backtest metrics of every method on every SKU.
- :func:`lookup` — one SKU's entry in a loaded serving artifact.
- The estimators (``Sarima``, ``SeasonalNaive``, ``Intermittent``), all with
  ``fit(y) -> self`` and ``predict(horizon) -> frame[mean, lo80, hi80, lo95, hi95]``.
"""

from analytics.forecasting.artifact import lookup
from analytics.forecasting.backtest import Metrics, backtest, coverage, mase, smape
from analytics.forecasting.jobs import (
    ForecastReport,
    SkuForecast,
    aggregate_metrics,
    evaluate_forecast,
    forecast_sku,
    run_forecasts,
)
from analytics.forecasting.methods import Intermittent, Sarima, SeasonalNaive
from analytics.forecasting.selection import ForecastConfig, SeriesResult, forecast_series
from analytics.forecasting.series import daily_matrix, last_full_day, product_series, weekly

__all__ = [
    "ForecastConfig",
    "ForecastReport",
    "Intermittent",
    "Metrics",
    "Sarima",
    "SeasonalNaive",
    "SeriesResult",
    "SkuForecast",
    "aggregate_metrics",
    "backtest",
    "coverage",
    "daily_matrix",
    "evaluate_forecast",
    "forecast_series",
    "forecast_sku",
    "last_full_day",
    "lookup",
    "mase",
    "product_series",
    "run_forecasts",
    "smape",
    "weekly",
]
