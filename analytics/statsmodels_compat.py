"""Makes statsmodels 0.13 importable next to pandas 2 (import this before any statsmodels module).

statsmodels 0.13.1 (held there by Rasa's ``packaging<21`` pin) does ``from pandas import
Int64Index`` at import time; pandas 2 removed that class, so a plain ``import statsmodels.tsa...``
fails with ImportError. In pandas 2 every integer index is a plain ``pd.Index`` with an integer
dtype, which is exactly what statsmodels' ``NumericIndex`` checks mean, so we lend it that name
for the duration of the import and take it back afterwards (``is_int_index`` and friends catch the
ImportError of their own late imports). Only numpy arrays are passed to statsmodels here, which
keeps us off its pandas-date-index code paths (they use ``Index.is_monotonic``, also gone).
"""

from __future__ import annotations

import pandas as pd


def _import_statsmodels_compat() -> None:
    try:
        import statsmodels.compat.pandas  # noqa: F401
    except ImportError:
        if hasattr(pd, "Int64Index"):
            raise
        pd.Int64Index = pd.Index
        try:
            import statsmodels.compat.pandas  # noqa: F401
        finally:
            del pd.Int64Index


_import_statsmodels_compat()
