"""statsmodels' time-series models, imported after the pandas 2 compatibility fix
(``analytics.statsmodels_compat``)."""

from __future__ import annotations

import analytics.statsmodels_compat  # noqa: F401  (must run before any statsmodels import)

# isort: split
from statsmodels.tsa.statespace.sarimax import SARIMAX
from statsmodels.tsa.stattools import kpss

__all__ = ["SARIMAX", "kpss"]
