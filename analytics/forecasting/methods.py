"""Demand forecasters with one small interface: ``fit(y) -> self``, ``predict(horizon) -> frame``.

Every ``predict`` returns a frame indexed by step (0 = the first day after the data) with the
columns ``mean, lo80, hi80, lo95, hi95``, all non-negative (demand cannot be negative).
``y`` is a demand series (units per day, or per week with ``season=1``) as a numpy array, oldest
first. ``sample_paths(horizon, n, seed)`` draws ``n`` joint future paths (n × horizon) from the
fitted model: sums over a path's days are what the interval of a week's, a month's or a lead
time's total comes from (``analytics.forecasting.intervals``).
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Protocol

import numpy as np
import pandas as pd
from scipy.stats import kruskal

# statsmodels only through the shim that makes it importable next to pandas 2.
from analytics.forecasting._compat import SARIMAX, kpss

COLUMNS = ["mean", "lo80", "hi80", "lo95", "hi95"]
Z80 = 1.2815515655446004  # norm.ppf(0.90): an 80% central interval
Z95 = 1.959963984540054  # norm.ppf(0.975): a 95% central interval


class Forecaster(Protocol):
    """What every method here is: fitted on a daily series, then asked for a horizon."""

    @property
    def name(self) -> str: ...

    def fit(self, y) -> Forecaster: ...

    def predict(self, horizon: int) -> pd.DataFrame: ...

    def sample_paths(self, horizon: int, n: int = 500, seed: int = 0) -> np.ndarray: ...


class FitFailed(RuntimeError):
    """A model could not be fitted to this series (the caller falls back to another method)."""


def forecast_frame(mean, lo80, hi80, lo95, hi95) -> pd.DataFrame:
    """A forecast frame with every column clipped at zero and intervals containing the mean."""
    mean = np.clip(np.asarray(mean, dtype=float), 0.0, None)
    lo80 = np.minimum(np.clip(np.asarray(lo80, dtype=float), 0.0, None), mean)
    lo95 = np.minimum(np.clip(np.asarray(lo95, dtype=float), 0.0, None), lo80)
    hi80 = np.maximum(np.asarray(hi80, dtype=float), mean)
    hi95 = np.maximum(np.asarray(hi95, dtype=float), hi80)
    return pd.DataFrame(
        {"mean": mean, "lo80": lo80, "hi80": hi80, "lo95": lo95, "hi95": hi95},
        index=pd.RangeIndex(len(mean), name="step"),
    )


def _as_series(y) -> np.ndarray:
    y = np.asarray(y, dtype=float)
    if y.ndim != 1 or len(y) == 0:
        raise ValueError("a forecaster needs a non-empty 1-D demand series")
    if not np.all(np.isfinite(y)):
        raise ValueError("the demand series has missing or infinite values")
    return y


# ---- seasonal naive ------------------------------------------------------------------------------


class SeasonalNaive:
    """Tomorrow sells what the same weekday sold last week.

    Intervals are empirical: for a step ``k`` weeks ahead, quantiles of the in-sample ``k``-week
    differences ``y[t] - y[t-7k]`` over the last ``window`` days (exactly the errors this method
    made in the past at that distance); ``sqrt(k)``-scaled one-week differences when the history
    is too short for that.
    """

    name = "seasonal_naive"
    _QUANTILES = (0.025, 0.10, 0.90, 0.975)

    def __init__(self, season: int = 7, window: int = 365):
        self.season = season
        self.window = window

    def fit(self, y) -> SeasonalNaive:
        y = _as_series(y)[-self.window :]
        self.period_ = self.season if len(y) > self.season else 1
        self.y_ = y
        self.detail_ = f"seasonal naive (lag {self.period_})"
        return self

    def _error_quantiles(self, k: int) -> np.ndarray:
        lag = k * self.period_
        if len(self.y_) > lag + self.period_:  # at least one week of k-week differences
            return np.quantile(self.y_[lag:] - self.y_[:-lag], self._QUANTILES)
        one = self.y_[self.period_ :] - self.y_[: -self.period_] if len(self.y_) > 1 else [0.0]
        return np.quantile(one, self._QUANTILES) * math.sqrt(k)

    def predict(self, horizon: int) -> pd.DataFrame:
        m = self.period_
        steps = np.arange(horizon)
        mean = self.y_[-m:][steps % m]
        weeks = steps // m + 1
        per_k = {k: self._error_quantiles(k) for k in np.unique(weeks)}
        q = np.array([per_k[k] for k in weeks])
        return forecast_frame(mean, mean + q[:, 1], mean + q[:, 2], mean + q[:, 0], mean + q[:, 3])

    def sample_paths(self, horizon: int, n: int = 500, seed: int = 0) -> np.ndarray:
        """The seasonal random walk ``y[t] = y[t-m] + e``, with ``e`` drawn from the in-sample
        one-season differences: each weekday's errors add up week after week."""
        rng = np.random.default_rng(seed)
        m = self.period_
        steps = np.arange(horizon)
        diffs = self.y_[m:] - self.y_[:-m] if len(self.y_) > m else np.zeros(1)
        weeks = steps // m
        shocks = rng.choice(diffs, size=(n, weeks.max() + 1, m))
        walk = np.cumsum(shocks, axis=1)[:, weeks, steps % m]
        return np.clip(self.y_[-m:][steps % m] + walk, 0.0, None)


# ---- intermittent demand -------------------------------------------------------------------------


class Intermittent:
    """TSB (Teunter–Syntetos–Babai) or SBA for sparse demand: demand probability × demand size.

    TSB smooths the probability of a sale every day, so a product that stops selling fades to
    zero; its smoothing constants (size ``alpha``, probability ``beta``) are picked from a small
    grid by in-sample one-step squared error unless given. SBA (Croston with the Syntetos–Boylan
    bias correction) smooths sizes and intervals only at sales, with fixed constants. The
    forecast is flat. Intervals are quantiles of one day's demand under the fitted model: zero
    with probability ``1 - p``, otherwise a size drawn from the sizes seen in the last ``window``
    days, rescaled to the smoothed size (exact quantiles of that mixture, no sampling).
    """

    ALPHAS = (0.02, 0.05, 0.1, 0.2, 0.3)
    BETAS = (0.01, 0.02, 0.05, 0.1, 0.2)
    BURN_IN = 28  # days before the one-step errors count

    def __init__(
        self,
        variant: str = "tsb",
        alpha: float | None = None,
        beta: float | None = None,
        window: int = 365,
    ):
        if variant not in ("tsb", "sba"):
            raise ValueError("variant must be 'tsb' or 'sba'")
        self.variant = variant
        self.alpha = alpha
        self.beta = beta
        self.window = window

    @property
    def name(self) -> str:
        return self.variant

    def _tsb(self, y: np.ndarray, nz: np.ndarray) -> tuple[float, float, float, float]:
        """(p, z, alpha, beta) after running TSB over ``y`` for every grid pair at once."""
        alphas = [self.alpha] if self.alpha is not None else self.ALPHAS
        betas = [self.beta] if self.beta is not None else self.BETAS
        a, b = (g.ravel() for g in np.meshgrid(alphas, betas))
        p = np.full(a.shape, len(nz) / len(y))
        z = np.full(a.shape, float(nz.mean()))
        sse = np.zeros(a.shape)
        for t, v in enumerate(y):
            if t >= self.BURN_IN:
                sse += (v - p * z) ** 2
            if v > 0:
                p += b * (1.0 - p)
                z += a * (v - z)
            else:
                p -= b * p
        best = int(np.argmin(sse))
        return float(p[best]), float(z[best]), float(a[best]), float(b[best])

    def fit(self, y) -> Intermittent:
        y = _as_series(y)[-self.window :]
        nz = y[y > 0]
        if len(nz) == 0:
            self.prob_, self.size_, self.sizes_ = 0.0, 0.0, np.zeros(1)
            self.level_ = 0.0
            self.detail_ = f"{self.variant.upper()} (no sales in the window)"
            return self
        if self.variant == "tsb":
            p, z, self.alpha_, self.beta_ = self._tsb(y, nz)
            level = p * z
        else:
            a = self.alpha if self.alpha is not None else 0.1
            b = self.beta if self.beta is not None else 0.1
            self.alpha_, self.beta_ = a, b
            z, interval, since = float(nz[0]), len(y) / len(nz), 0
            for v in y:
                since += 1
                if v > 0:
                    z += a * (v - z)
                    interval += b * (since - interval)
                    since = 0
            p = min(1.0, 1.0 / interval)
            level = (1.0 - b / 2.0) * z / interval
        self.prob_, self.size_ = float(p), float(z)
        self.level_ = float(level)
        # Sizes rescaled so that the interval distribution agrees with the smoothed size.
        self.sizes_ = np.sort(nz * (self.level_ / self.prob_ / nz.mean())) if self.prob_ else nz
        self.detail_ = (
            f"{self.variant.upper()} (p={self.prob_:.2f}, size={self.size_:.2f}, "
            f"alpha={self.alpha_:g}, beta={self.beta_:g})"
        )
        return self

    def _quantile(self, q: float) -> float:
        p = self.prob_
        if p <= 0 or q <= 1.0 - p:
            return 0.0
        return float(np.quantile(self.sizes_, min(1.0, (q - (1.0 - p)) / p)))

    def sample_paths(self, horizon: int, n: int = 500, seed: int = 0) -> np.ndarray:
        """Independent days: a sale with probability ``p``, its size drawn from the sizes seen."""
        rng = np.random.default_rng(seed)
        sold = rng.random((n, horizon)) < self.prob_
        return np.where(sold, rng.choice(self.sizes_, size=(n, horizon)), 0.0)

    def predict(self, horizon: int) -> pd.DataFrame:
        ones = np.ones(horizon)
        q = {a: self._quantile(a) for a in (0.025, 0.10, 0.90, 0.975)}
        return forecast_frame(
            self.level_ * ones, q[0.10] * ones, q[0.90] * ones, q[0.025] * ones, q[0.975] * ones
        )


# ---- SARIMA --------------------------------------------------------------------------------------


def weekly_effect_pvalue(y: np.ndarray, season: int = 7) -> float:
    """p-value of "demand does not depend on the weekday" (Kruskal–Wallis on the series minus its
    centred 7-day moving average, grouped by position in the week); 1.0 for short series."""
    n = len(y)
    if n < 4 * season:
        return 1.0
    half = season // 2
    trend = np.convolve(y, np.ones(season) / season, mode="valid")
    detrended = y[half : n - half] - trend
    pos = np.arange(half, n - half) % season
    groups = [detrended[pos == k] for k in range(season)]
    if np.ptp(detrended) == 0:
        return 1.0
    return float(kruskal(*groups).pvalue)


def choose_differencing(
    y: np.ndarray, season: int = 7, seasonal_diff: int | None = None
) -> tuple[int, int]:
    """``(d, D)``: weekly differencing when there is a weekday effect (unless ``seasonal_diff``
    says), then a KPSS test on the (differenced) series for d.

    The weekday test is a significance test (p < 0.01) rather than auto.arima's "seasonal
    strength > 0.64": daily demand is noisy, so a clear weekly pattern can be small next to the
    day-to-day noise, and the undifferenced alternative (a seasonal AR term) lets the pattern
    fade within a few weeks (simulated weekly pattern, level 20/day: 16% MAPE vs 2%).
    """
    if season <= 1:
        D = 0
    elif seasonal_diff is None:
        D = int(weekly_effect_pvalue(y, season) < 0.01)
    else:
        D = int(seasonal_diff)
    z = y[season:] - y[:-season] if D else y
    d = 0
    if np.ptp(z) > 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # KPSS warns when the p-value is outside its table
            try:
                d = int(kpss(z, regression="c", nlags="auto")[1] < 0.05)
            except (ValueError, np.linalg.LinAlgError, OverflowError):
                d = 0
    return d, D


class Sarima:
    """SARIMA with weekly seasonality on daily demand, orders chosen by AIC over a small grid.

    Differencing is decided first (a weekday-effect test for ``D``, KPSS for ``d``; see
    :func:`choose_differencing`) because AIC values of models with different differencing are
    not comparable; then the non-seasonal ``(p, q)`` in ``arma_grid`` are fitted, with a seasonal
    MA(1) if ``D == 1`` (a weekly profile that is smoothed, not fading) or a seasonal AR(1) if
    ``D == 0``, and the lowest AIC wins. Only the last ``window`` days are used, so the cost per
    series is bounded. Pass ``order``/``seasonal_order`` (e.g. from :meth:`fixed`) to skip the
    search — the backtests do, re-fitting the chosen orders at each origin from warm starting
    values instead of searching again.
    """

    name = "sarima"

    def __init__(
        self,
        season: int = 7,
        window: int = 365,
        arma_grid: tuple[tuple[int, int], ...] = ((1, 0), (0, 1), (1, 1)),
        order: tuple[int, int, int] | None = None,
        seasonal_order: tuple[int, int, int, int] | None = None,
        start_params: np.ndarray | None = None,
        maxiter: int = 50,
        seasonal_diff: int | None = None,
    ):
        self.season = season
        self.window = window
        self.arma_grid = arma_grid
        self.order = order
        self.seasonal_order = seasonal_order
        self.start_params = start_params
        self.maxiter = maxiter
        self.seasonal_diff = seasonal_diff

    def _model(self, y, order, seasonal_order, simple_differencing):
        return SARIMAX(
            y,
            order=order,
            seasonal_order=seasonal_order,
            trend="n",
            simple_differencing=simple_differencing,
            concentrate_scale=True,
        )

    def _fit_one(self, y, order, seasonal_order, start_params=None):
        # Estimation runs on the differenced series (a state vector about half the size, so about
        # twice as fast); with d and D fixed across the grid the AICs stay comparable.
        with warnings.catch_warnings():
            # Convergence and starting-value warnings are expected on short, noisy demand
            # series; a fit that truly fails raises or yields non-finite numbers, checked below.
            warnings.simplefilter("ignore")
            res = self._model(y, order, seasonal_order, True).fit(
                start_params=start_params,
                disp=False,
                maxiter=self.maxiter,
                cov_type="none",
                low_memory=True,
                # Looser than statsmodels' default (factr=100): a log-likelihood change below
                # ~1e-5 relative moves neither the AIC ranking nor the forecast visibly, and it
                # halves the iterations (a warm-started backtest refit needs two to four).
                factr=1e10,
                pgtol=1e-4,
            )
        if not np.isfinite(res.llf) or not np.all(np.isfinite(res.params)):
            raise FitFailed(f"non-finite fit for SARIMA{order}{seasonal_order}")
        return res

    def _integrated(self, y, res, order, seasonal_order):
        """Results that forecast levels, not differences: the full model run with the estimates."""
        if order[1] + seasonal_order[1] == 0:
            return res
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self._model(y, order, seasonal_order, False).filter(
                res.params, cov_type="none", low_memory=True
            )

    def fit(self, y) -> Sarima:
        y = _as_series(y)[-self.window :]
        if len(y) < max(4 * self.season + 2, 12):
            raise FitFailed("too short for a SARIMA")
        if np.ptp(y) == 0:
            raise FitFailed("constant series")
        if self.order is not None and self.seasonal_order is not None:
            candidates: list[tuple[Any, Any]] = [(tuple(self.order), tuple(self.seasonal_order))]
        else:
            d, D = choose_differencing(y, self.season, self.seasonal_diff)
            if self.season <= 1:  # weekly data: no seasonal terms (a year is 52 steps)
                seasonal = (0, 0, 0, 0)
            else:
                seasonal = (0, 1, 1, self.season) if D else (1, 0, 0, self.season)
            candidates = [((p, d, q), seasonal) for p, q in self.arma_grid]
        # Without differencing the series is demeaned instead of estimating a constant: the
        # optimiser then converges in a fraction of the iterations (intercept and AR terms are
        # badly scaled against each other).
        self.offset_ = float(y.mean()) if candidates[0][0][1] + candidates[0][1][1] == 0 else 0.0
        y = y - self.offset_
        best, errors = None, []
        for order, seasonal in candidates:
            start = self.start_params if len(candidates) == 1 else None
            try:
                res = self._fit_one(y, order, seasonal, start)
            except (FitFailed, ValueError, np.linalg.LinAlgError) as exc:
                errors.append(str(exc))
                continue
            if best is None or res.aic < best[0].aic:
                best = (res, order, seasonal)
        if best is None:
            raise FitFailed("; ".join(errors) or "no SARIMA fit")
        res, self.order_, self.seasonal_order_ = best
        self.aic_ = float(res.aic)
        self.params_ = np.asarray(res.params)
        self.result_ = self._integrated(y, res, self.order_, self.seasonal_order_)
        self.ymax_ = float(y.max()) + self.offset_
        p, d, q = self.order_
        P, D, Q, m = self.seasonal_order_
        self.detail_ = f"SARIMA({p},{d},{q})({P},{D},{Q})[{m}] AIC {self.aic_:.1f}"
        return self

    def fixed(self) -> Sarima:
        """An unfitted copy with this fit's orders and warm-start parameters (for backtests)."""
        return Sarima(
            season=self.season,
            window=self.window,
            order=self.order_,
            seasonal_order=self.seasonal_order_,
            start_params=self.params_,
            maxiter=self.maxiter,
        )

    def predict(self, horizon: int) -> pd.DataFrame:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fc = self.result_.get_forecast(horizon)
            mean = np.asarray(fc.predicted_mean, dtype=float) + self.offset_
            se = np.sqrt(np.asarray(fc.var_pred_mean, dtype=float))
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(se))):
            raise FitFailed("non-finite SARIMA forecast")
        # An explosive fit (far beyond anything ever sold) is a failed fit, not a forecast.
        if mean.max() > 10 * max(self.ymax_, 1.0):
            raise FitFailed("explosive SARIMA forecast")
        return forecast_frame(
            mean, mean - Z80 * se, mean + Z80 * se, mean - Z95 * se, mean + Z95 * se
        )

    def sample_paths(self, horizon: int, n: int = 500, seed: int = 0) -> np.ndarray:
        """Gaussian paths of the fitted model: the mean forecast plus the shocks filtered by the
        model's impulse responses (ψ weights), so errors carry over from day to day as the
        model says; clipped at zero."""
        rng = np.random.default_rng(seed)
        mean = self.predict(horizon)["mean"].to_numpy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            psi = np.asarray(self.result_.impulse_responses(steps=horizon - 1)).ravel()[:horizon]
        sigma = math.sqrt(max(float(self.result_.scale), 0.0))
        lags = np.subtract.outer(np.arange(horizon), np.arange(horizon))
        weights = np.where(lags >= 0, psi[np.clip(lags, 0, horizon - 1)], 0.0)
        return np.clip(mean + sigma * rng.standard_normal((n, horizon)) @ weights.T, 0.0, None)


# Weeks of history needed before a day of the week without any sale counts as a closed day.
CLOSED_DAY_MIN_WEEKS = 8


def average_demand_interval(y, window: int = 365, season: int = 7) -> float:
    """Trading days per day-with-a-sale over the last ``window`` days (inf when nothing sold).

    Above 1.32 (the Syntetos–Boylan boundary between smooth/erratic and intermittent/lumpy
    demand) a series counts as intermittent; on daily data that is roughly a quarter or more of
    the days without a sale.

    A day of the week (position modulo ``season``) without a single sale in at least
    ``CLOSED_DAY_MIN_WEEKS`` weeks is a day the shop does not trade, not missing demand, and is
    not counted: Online Retail, for one, never sells on Saturdays, and counting those days made a
    product sold on 80% of the trading days look intermittent (and get a flat forecast).
    """
    y = np.asarray(y, dtype=float)[-window:]
    sold = y > 0
    nonzero = int(np.count_nonzero(sold))
    if nonzero == 0:
        return math.inf
    days = len(y)
    if season > 1 and len(y) >= CLOSED_DAY_MIN_WEEKS * season:
        phase = np.arange(len(y)) % season
        closed = np.bincount(phase, weights=sold, minlength=season) == 0
        days -= int(closed[phase].sum())
    return days / nonzero
