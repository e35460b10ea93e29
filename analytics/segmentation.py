"""Customer segmentation: RFM + category-share features, K-means with k chosen by silhouette.

The pieces, from data to stored results:

* :func:`rfm_features` turns order lines into one row of features per customer who bought
  something, *as of* the newest order in the data (not the wall clock, so imported history works).
* :class:`Segmenter` is a scikit-learn-shaped estimator: parameters in ``__init__``, learned state
  in attributes ending in ``_``, ``fit(features) -> self``, ``predict(features)``. It profiles and
  names every segment ("Electronics enthusiasts — 2 orders/month, 2,000/month").
* :func:`run_segmentation` fits on the store and writes an ``AnalyticsRun`` with its
  ``CustomerSegment`` and ``SegmentProfile`` rows in one transaction; :func:`latest_segments` reads
  the newest stored run back (chat and staff answers never refit).
* :func:`evaluate_segments` measures a fit: silhouette, and on the demo shop the agreement with the
  planted customer groups (adjusted Rand index, contingency, purity).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial.distance import cdist
from sklearn.base import BaseEstimator
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler
from sqlalchemy import insert, select
from sqlalchemy.engine import Engine
from threadpoolctl import threadpool_limits

from analytics import artifacts
from analytics.data import data_end, load_customers, load_purchases
from analytics.demo import PLANTED_GROUPS
from analytics.errors import NoData
from analytics.store import session_scope
from analytics.store.models import (
    CATEGORIES,
    AnalyticsRun,
    CustomerSegment,
    SegmentProfile,
    utcnow,
)

DAYS_PER_MONTH = 365.25 / 12
# A customer's rates are measured over at least one month: a first order placed yesterday is
# "1 order per month", not "30 orders per month".
MIN_SPAN_DAYS = DAYS_PER_MONTH

SHARE_CATEGORIES = (*CATEGORIES, "other")
SHARE_COLUMNS = tuple(f"share_{c}" for c in SHARE_CATEGORIES)
RFM_COLUMNS = ("recency_days", "frequency", "monetary")
FEATURE_COLUMNS = (*RFM_COLUMNS, *SHARE_COLUMNS)

# Fewer customers than this cannot be segmented meaningfully.
MIN_CUSTOMERS = 10
# Above this many customers, candidate k are compared on a random subsample of this size, and the
# silhouette is computed on a fixed-size sample: both are what keep 100,000 customers fast.
SELECTION_SAMPLE = 10_000
SILHOUETTE_SAMPLE = 4_000
N_INIT = 10
# K-means' OpenMP threads spin at every barrier: on a busy machine (training next to the servers,
# tests in parallel) two threads ran 20-40x slower than one. These fits are small; one thread is
# fast and predictable.
THREADS = 1

# Naming thresholds (per segment medians).
LAPSED_DAYS = 90.0  # no order for three months
NEW_TENURE_DAYS = 60.0  # first order less than two months ago
ENTHUSIAST_SHARE = 0.5  # half of the spend goes to one category

# The demo shop's planted groups and their favourite category (design.md, "Demo shop").
PLANTED_FAVOURITES = {group: fav for group, (fav, _rate, _spend) in PLANTED_GROUPS.items()}


# ---- features ----------------------------------------------------------------------------------


def rfm_features(
    purchases: pd.DataFrame,
    customers: pd.DataFrame | None = None,
    as_of: dt.datetime | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Per-customer features (indexed by customer_id) for every customer with a purchase.

    Columns:

    * ``recency_days``: days from the customer's last order to ``as_of``.
    * ``frequency``: orders per month over the customer's *active span*, i.e. from their first
      order to ``as_of`` (at least one month). Measuring to ``as_of`` rather than to the last order
      means a customer who stopped buying sees their rate fall, and customers who joined late are
      not penalised for the months before they existed (a fixed window would do that).
    * ``monetary``: spend per month over the same span.
    * ``share_<category>``: share of the customer's spend per category (clothing, electronics,
      home, beauty, food; any other category counts as ``other``); they sum to 1.
    * ``orders``, ``spend``, ``tenure_days`` (first order to ``as_of``): descriptive, used to
      profile and name segments, not as clustering features.

    ``purchases`` is :func:`analytics.data.load_purchases`' frame (order_id, customer_id, category,
    amount, placed_at). ``as_of`` defaults to the newest ``placed_at``; later lines are ignored.
    With ``customers`` (:func:`analytics.data.load_customers`), only those customers are kept and
    ``result.attrs["customers_without_purchases"]`` counts the ones left out.
    """
    if as_of is None:
        as_of = purchases["placed_at"].max() if len(purchases) else None
    keep = np.ones(len(purchases), dtype=bool)
    if as_of is not None:
        as_of = pd.Timestamp(as_of)
        keep &= (purchases["placed_at"] <= as_of).to_numpy()
    if customers is not None:
        keep &= purchases["customer_id"].isin(customers["customer_id"]).to_numpy()
    columns = [*FEATURE_COLUMNS, "orders", "spend", "tenure_days"]
    if not keep.any():
        out = pd.DataFrame(columns=columns, dtype="float64")
        out.index = pd.Index([], name="customer_id", dtype="int64")
        out.attrs["customers_without_purchases"] = 0 if customers is None else len(customers)
        return out

    # Plain numpy on factorised ids: a pandas groupby per statistic re-hashes millions of rows.
    def col(name: str) -> np.ndarray:
        values = purchases[name].to_numpy()
        return values if keep.all() else values[keep]

    codes, ids = pd.factorize(col("customer_id"), sort=True)
    n = len(ids)
    amount = col("amount").astype("float64")
    when = pd.to_datetime(col("placed_at")).to_numpy("datetime64[ns]").view("int64")
    order_id = col("order_id")
    spend = np.bincount(codes, weights=amount, minlength=n)
    sorted_lines = False
    if np.issubdtype(order_id.dtype, np.number):
        step, id_step = np.diff(when), np.diff(order_id)
        sorted_lines = bool(np.all((step > 0) | ((step == 0) & (id_step >= 0))))
    if sorted_lines:
        # Sorted by (placed_at, order_id), as load_purchases gives it: a customer's first and last
        # lines hold their first and last times, and an order's lines are adjacent. O(n).
        customer = pd.Series(codes)
        first, last = np.empty(n, dtype="int64"), np.empty(n, dtype="int64")
        is_first = ~customer.duplicated(keep="first").to_numpy()
        is_last = ~customer.duplicated(keep="last").to_numpy()
        first[codes[is_first]] = when[is_first]
        last[codes[is_last]] = when[is_last]
        first_line = np.concatenate(([True], id_step != 0))
    else:
        by_customer = np.argsort(codes, kind="stable")
        starts = np.concatenate(([0], np.cumsum(np.bincount(codes, minlength=n))[:-1]))
        first = np.minimum.reduceat(when[by_customer], starts)
        last = np.maximum.reduceat(when[by_customer], starts)
        # An order's lines share its customer, so counting each order id once counts orders.
        first_line = ~pd.Series(order_id).duplicated().to_numpy()
    orders = np.bincount(codes[first_line], minlength=n)

    cat_codes, cat_names = pd.factorize(col("category"))
    other = len(SHARE_CATEGORIES) - 1
    slot = np.array(
        [CATEGORIES.index(c) if c in CATEGORIES else other for c in cat_names], dtype="int64"
    )
    # Missing categories factorise to -1: they count as "other".
    cat_slot = np.where(cat_codes >= 0, slot[np.maximum(cat_codes, 0)], other)
    width = len(SHARE_CATEGORIES)
    by_category = np.bincount(codes * width + cat_slot, weights=amount, minlength=n * width)
    by_category = by_category.reshape(n, width)
    with np.errstate(invalid="ignore", divide="ignore"):
        # A customer whose lines are all free has no spend to share out: all shares 0.
        shares = np.where(spend[:, None] > 0, by_category / spend[:, None], 0.0)

    day_ns = 86_400 * 10**9
    as_of_ns = as_of.value
    tenure_days = (as_of_ns - first) / day_ns
    months = np.maximum(tenure_days, MIN_SPAN_DAYS) / DAYS_PER_MONTH
    out = pd.DataFrame(
        {
            "recency_days": (as_of_ns - last) / day_ns,
            "frequency": orders / months,
            "monetary": spend / months,
            **{name: shares[:, i] for i, name in enumerate(SHARE_COLUMNS)},
            "orders": orders.astype("int64"),
            "spend": spend,
            "tenure_days": tenure_days,
        },
        index=pd.Index(np.asarray(ids, dtype="int64"), name="customer_id"),
    )
    if customers is not None:
        out.attrs["customers_without_purchases"] = int(
            (~customers["customer_id"].isin(out.index)).sum()
        )
    return out


# ---- the estimator -----------------------------------------------------------------------------


class Segmenter(BaseEstimator):
    """K-means customer segments on log-scaled, standardised RFM and category-share features.

    Parameters: ``k`` (number of segments; ``None`` chooses it by silhouette over ``k_range``),
    ``k_range`` (inclusive bounds), ``random_state`` (same seed, same segments).

    k is chosen on a random subsample of at most ``SELECTION_SAMPLE`` customers (each candidate
    fitted with ``N_INIT`` starts, scored by silhouette on ``SILHOUETTE_SAMPLE`` of them); the
    winner's centres are then refined on every customer. Small data uses everyone throughout.

    Learned: ``k_``, ``labels_`` (segment per fitted customer; segment 0 is the largest),
    ``customer_ids_``, ``silhouette_`` (of the final fit), ``silhouette_by_k_`` (every k tried),
    ``profiles_`` (one row per segment, see :meth:`profile`), ``segment_labels_`` (segment ->
    readable, unique name), ``scaler_``, ``kmeans_``, ``feature_names_in_``.
    """

    def __init__(
        self,
        k: int | None = None,
        k_range: tuple[int, int] = (2, 8),
        random_state: int = 0,
    ):
        self.k = k
        self.k_range = k_range
        self.random_state = random_state

    # -- fitting
    def _matrix(self, features: pd.DataFrame) -> np.ndarray:
        missing = [c for c in FEATURE_COLUMNS if c not in features.columns]
        if missing:
            raise ValueError(f"features lack {', '.join(missing)} — build them with rfm_features()")
        x = features.loc[:, list(FEATURE_COLUMNS)].to_numpy(dtype="float64", copy=True)
        # Recency, frequency and spend are heavy-tailed: log1p keeps big spenders from
        # owning whole clusters (the clip only guards hand-made frames with negative values).
        x[:, :3] = np.log1p(np.clip(x[:, :3], 0.0, None))
        return x

    def _candidate_ks(self, n: int) -> list[int]:
        if self.k is not None:
            k = int(self.k)
            if k < 2:
                raise ValueError(f"k must be at least 2, got {k}")
            if k >= n:
                raise NoData(
                    f"cannot make {k} segments from {n} customers — ask for fewer segments "
                    "or add more orders"
                )
            return [k]
        lo, hi = (int(v) for v in self.k_range)
        if lo < 2 or hi < lo:
            raise ValueError(f"k_range must be (lo, hi) with 2 <= lo <= hi, got {self.k_range}")
        return list(range(lo, min(hi, n - 1) + 1))

    def fit(self, features: pd.DataFrame) -> Segmenter:
        """Self, fitted: segments, scores, profiles and labels learned from ``features``."""
        with threadpool_limits(limits=THREADS):
            return self._fit(features)

    def _fit(self, features: pd.DataFrame) -> Segmenter:
        n = len(features)
        if n < MIN_CUSTOMERS:
            raise NoData(
                f"only {n} customer(s) have purchases; segmentation needs at least "
                f"{MIN_CUSTOMERS} — import more orders (`shopbot import transactions FILE`) or "
                "build the demo shop (`shopbot setup-demo`)"
            )
        ks = self._candidate_ks(n)
        x = self._matrix(features)
        self.scaler_ = StandardScaler().fit(x)
        z = self.scaler_.transform(x)
        rng = np.random.default_rng(self.random_state)
        # Candidates are compared on a subsample (everyone when small); the silhouette uses a
        # fixed-size sample inside it, the same rows for every k so that their scores compare,
        # and its distance matrix is computed once.
        sel_idx = _sample(rng, n, SELECTION_SAMPLE)
        sil_pos = _sample(rng, len(sel_idx), SILHOUETTE_SAMPLE)  # positions within sel_idx
        sil_idx = sel_idx[sil_pos]
        distances = cdist(z[sil_idx], z[sil_idx])

        z_sel = z[sel_idx]
        fits: dict[int, KMeans] = {}
        scores: dict[int, float] = {}
        for k in ks:
            fits[k] = self._kmeans(k).fit(z_sel)
            scores[k] = _silhouette(distances, fits[k].labels_[sil_pos])
        # Undefined scores never win; on a tie, fewer segments do.
        chosen_k = max(ks, key=lambda k: (np.nan_to_num(scores[k], nan=-np.inf), -k))
        if len(ks) > 1 and not np.isfinite(scores[chosen_k]):
            raise NoData(
                "the customers' purchase patterns are all alike, so there are no segments to "
                "find — add more varied order data"
            )
        if len(sel_idx) == n:
            kmeans = fits[chosen_k]
        else:
            # Ranking k needs the shape, not every customer: refine the winner's centres on
            # everyone (one Lloyd run from the best of N_INIT starts on the subsample).
            kmeans = KMeans(
                n_clusters=chosen_k,
                init=fits[chosen_k].cluster_centers_,
                n_init=1,
                random_state=self.random_state,
            ).fit(z)
        self.silhouette_by_k_ = scores
        found = len(np.unique(kmeans.labels_))
        if found < chosen_k:
            raise NoData(
                f"the customers have only {found} distinct purchase pattern(s), too few for "
                f"{chosen_k} segments — ask for fewer segments or add more varied order data"
            )

        self.kmeans_ = kmeans
        self.k_ = chosen_k
        self.feature_names_in_ = np.array(FEATURE_COLUMNS, dtype=object)
        self.n_features_in_ = len(FEATURE_COLUMNS)
        # K-means numbers clusters arbitrarily; renumber by size (largest first, ties by centre)
        # so that "segment 0" means the same thing from run to run.
        raw = kmeans.labels_
        sizes = np.bincount(raw, minlength=chosen_k)
        order = sorted(
            range(chosen_k), key=lambda c: (-sizes[c], tuple(kmeans.cluster_centers_[c]))
        )
        self.segment_of_cluster_ = np.empty(chosen_k, dtype="int64")
        self.segment_of_cluster_[order] = np.arange(chosen_k)
        self.labels_ = self.segment_of_cluster_[raw]
        self.customer_ids_ = features.index.to_numpy()
        self.silhouette_ = _silhouette(distances, self.labels_[sil_idx])
        self.inertia_ = float(kmeans.inertia_)
        self.profiles_ = self.profile(features, self.labels_)
        self.segment_labels_ = {int(s): str(label) for s, label in self.profiles_["label"].items()}
        return self

    def _kmeans(self, k: int) -> KMeans:
        return KMeans(n_clusters=k, n_init=N_INIT, random_state=self.random_state)

    def _check_fitted(self) -> None:
        if not hasattr(self, "kmeans_"):
            raise ValueError("this Segmenter is not fitted yet — call fit(features) first")

    def transform(self, features: pd.DataFrame) -> np.ndarray:
        """The standardised feature matrix the clustering works on."""
        self._check_fitted()
        return self.scaler_.transform(self._matrix(features))

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """The segment (0..k_-1) of each row of ``features``."""
        self._check_fitted()
        with threadpool_limits(limits=THREADS):
            return self.segment_of_cluster_[self.kmeans_.predict(self.transform(features))]

    def label_of(self, segment: int) -> str:
        """The readable name of ``segment``."""
        self._check_fitted()
        return self.segment_labels_[int(segment)]

    @staticmethod
    def profile(features: pd.DataFrame, segments: np.ndarray | pd.Series) -> pd.DataFrame:
        """One row per segment: size, share of customers, favourite category and its share, median
        purchases/spend per month, recency and tenure (days), mean category shares, and a label."""
        f = features.assign(_segment=np.asarray(segments))
        g = f.groupby("_segment", sort=True)
        prof = pd.DataFrame(
            {
                "size": g.size(),
                "purchases_per_month": g["frequency"].median(),
                "spend_per_month": g["monetary"].median(),
                "recency_days": g["recency_days"].median(),
                "tenure_days": g["tenure_days"].median() if "tenure_days" in f else np.nan,
            }
        )
        prof["customer_share"] = prof["size"] / prof["size"].sum()
        shares = g[list(SHARE_COLUMNS)].mean()
        prof = prof.join(shares)
        share_values = shares.to_numpy()
        prof["favourite_category"] = [SHARE_CATEGORIES[i] for i in share_values.argmax(axis=1)]
        prof["favourite_share"] = share_values.max(axis=1)
        prof.index.name = "segment"
        prof.index = prof.index.astype("int64")
        prof["label"] = _unique_labels(prof)
        return prof

    def segments_frame(self) -> pd.DataFrame:
        """The fitted customers: customer_id, segment, label."""
        self._check_fitted()
        return pd.DataFrame(
            {
                "customer_id": self.customer_ids_,
                "segment": self.labels_,
                "label": [self.segment_labels_[s] for s in self.labels_],
            }
        )


def _sample(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """Sorted row indices: all of them when n <= size, else a random subset of ``size``."""
    if n <= size:
        return np.arange(n)
    return np.sort(rng.choice(n, size=size, replace=False))


def _silhouette(distances: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette of ``labels`` given their pairwise ``distances``; NaN for one cluster.

    Same definition as sklearn's silhouette_score (a point alone in its cluster scores 0), but
    one matrix product per k instead of recomputing the distances.
    """
    _, codes, counts = np.unique(labels, return_inverse=True, return_counts=True)
    n, n_clusters = len(codes), len(counts)
    if n_clusters < 2 or n_clusters >= n:
        return float("nan")
    onehot = np.zeros((n, n_clusters))
    onehot[np.arange(n), codes] = 1.0
    sums = distances @ onehot  # sum of distances from each point to each cluster
    own = counts[codes]
    a = sums[np.arange(n), codes] / np.maximum(own - 1, 1)
    mean_to = sums / counts
    mean_to[np.arange(n), codes] = np.inf
    b = mean_to.min(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.where(own > 1, (b - a) / np.maximum(a, b), 0.0)
    return float(np.nan_to_num(s, nan=0.0).mean())


# ---- names for segments -----------------------------------------------------------------------


def _round_sig(value: float, digits: int = 2) -> float:
    if value <= 0 or not math.isfinite(value):
        return 0.0
    return round(value, digits - 1 - int(math.floor(math.log10(value))))


def format_money(value: float) -> str:
    """``value`` rounded to two significant figures with thousands separators ("2,000")."""
    rounded = _round_sig(value)
    return f"{rounded:,.0f}" if rounded >= 10 else f"{rounded:,.1f}"


def format_rate(per_month: float) -> str:
    """A purchase rate a person reads at a glance: "3 orders/week", "2 orders/month"."""
    per_week = per_month * 12 / 52
    # Weekly once that reads as at least "1 a week" (design.md's reference groups speak so).
    if per_week >= 0.95:
        value, unit = per_week, "week"
    else:
        value, unit = per_month, "month"
    text = f"{value:.0f}" if value >= 1.5 else f"{value:.1f}".removesuffix(".0")
    noun = "order" if text == "1" else "orders"
    return f"{text} {noun}/{unit}"


def _base_label(row: pd.Series) -> tuple[str, str]:
    """(name, detail) of one profile row: a lapsed, new, enthusiast or mixed segment."""
    detail = (
        f"{format_rate(row['purchases_per_month'])}, {format_money(row['spend_per_month'])}/month"
    )
    if row["recency_days"] >= LAPSED_DAYS:
        return "Lapsed customers", f"last order ~{row['recency_days']:.0f} days ago"
    if np.isfinite(row["tenure_days"]) and row["tenure_days"] <= NEW_TENURE_DAYS:
        return "New customers", detail
    if row["favourite_share"] >= ENTHUSIAST_SHARE:
        return f"{row['favourite_category'].capitalize()} enthusiasts", detail
    return "Mixed shoppers", detail


def _unique_labels(profiles: pd.DataFrame) -> list[str]:
    """A readable, unique label per profile row ("Electronics enthusiasts — 2 orders/month,
    2,000/month", "Lapsed customers"); names that repeat are told apart by category, then spend."""
    parts = [_base_label(row) for _, row in profiles.iterrows()]
    names = [name for name, _ in parts]
    counts = pd.Series(names).value_counts()
    labels = []
    for (name, detail), (_, row) in zip(parts, profiles.iterrows(), strict=True):
        if counts[name] == 1 and name in ("Lapsed customers", "New customers"):
            labels.append(name)
        elif counts[name] == 1 or name.endswith("enthusiasts"):
            labels.append(f"{name} — {detail}")
        else:
            mostly = row["favourite_share"] >= ENTHUSIAST_SHARE
            labels.append(f"{name} ({row['favourite_category'] if mostly else 'mixed'}) — {detail}")
    # Last resort when rounding makes two labels identical: number them.
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    if len(set(out)) != len(out):  # a numbered label collided with a real one
        out = [f"{label} [segment {i}]" for i, label in zip(profiles.index, out, strict=True)]
    return [label[:100] for label in out]


# ---- running on the store ----------------------------------------------------------------------


@dataclass
class SegmentationReport:
    """What one segmentation run produced (and where it was stored)."""

    run_id: int
    model_version: str
    as_of: dt.datetime
    n_customers: int
    customers_without_purchases: int
    profiles: list[dict[str, Any]]
    model: Segmenter = field(repr=False)

    @property
    def k(self) -> int:
        """The number of segments."""
        return self.model.k_

    @property
    def silhouette(self) -> float:
        """The silhouette of the stored segmentation."""
        return self.model.silhouette_

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: run id, model version, as-of time, k, silhouette(s), counts, segments."""
        return {
            "run_id": self.run_id,
            "model_version": self.model_version,
            "as_of": self.as_of.isoformat(),
            **_scores(self.model),
            "customers": self.n_customers,
            "customers_without_purchases": self.customers_without_purchases,
            "segments": self.profiles,
        }

    def format(self) -> str:
        """The segment table a shop manager reads, with the run it came from."""
        head = (
            f"Customer segments — run {self.run_id} (model {self.model_version}), as of "
            f"{self.as_of:%Y-%m-%d}: {self.n_customers:,} customers in {self.k} segments "
            f"(silhouette {self.silhouette:.2f})"
        )
        lines = [head, "", format_profiles(self.profiles)]
        if self.customers_without_purchases:
            lines += [
                "",
                f"{self.customers_without_purchases:,} customer(s) without purchases were not "
                "segmented.",
            ]
        return "\n".join(lines)


def format_profiles(profiles: list[Mapping[str, Any]]) -> str:
    """A plain-text table of segment profiles (one line per segment)."""
    header = ("seg", "label", "customers", "favourite", "purchases/month", "spend/month", "recency")
    rows = [
        (
            str(p["segment"]),
            str(p["label"]),
            f"{p['size']:,}",
            str(p["favourite_category"]),
            f"{p['purchases_per_month']:.1f}",
            f"{p['spend_per_month']:,.0f}",
            f"{p['recency_days']:.0f} day{'' if round(p['recency_days']) == 1 else 's'}",
        )
        for p in profiles
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    right = {0, 2, 4, 5, 6}

    def line(cells):
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def _num(value: Any) -> float | None:
    """A JSON-safe float (NaN -> None), rounded for reading."""
    value = float(value)
    return None if not math.isfinite(value) else round(value, 4)


def _scores(model: Segmenter) -> dict[str, Any]:
    """JSON-ready k, silhouette and silhouette per k of a fitted model."""
    return {
        "k": model.k_,
        "silhouette": _num(model.silhouette_),
        "silhouette_by_k": {str(k): _num(v) for k, v in model.silhouette_by_k_.items()},
    }


def _profile_dicts(profiles: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for segment, row in profiles.iterrows():
        out.append(
            {
                "segment": int(segment),
                "label": str(row["label"]),
                "size": int(row["size"]),
                "customer_share": _num(row["customer_share"]),
                "favourite_category": str(row["favourite_category"]),
                "favourite_share": _num(row["favourite_share"]),
                "purchases_per_month": _num(row["purchases_per_month"]),
                "spend_per_month": _num(row["spend_per_month"]),
                "recency_days": _num(row["recency_days"]),
                "tenure_days": _num(row["tenure_days"]),
                "category_shares": {c: _num(row[f"share_{c}"]) for c in SHARE_CATEGORIES},
            }
        )
    return out


def _load_features(engine: Engine) -> tuple[pd.DataFrame, pd.DataFrame, dt.datetime]:
    purchases = load_purchases(engine)
    if purchases.empty:
        raise NoData(
            "there are no purchases in the database to segment — build the demo shop "
            "(`shopbot setup-demo`) or import orders (`shopbot import transactions FILE`)"
        )
    customers = load_customers(engine)
    as_of = data_end(engine) or purchases["placed_at"].max()
    as_of = pd.Timestamp(as_of).to_pydatetime()
    return rfm_features(purchases, customers, as_of), customers, as_of


def run_segmentation(
    engine: Engine,
    *,
    k: int | None = None,
    version: str | None = None,
    random_state: int = 0,
) -> SegmentationReport:
    """The report of a new segmentation of the store's customers, stored as one run.

    Writes one ``AnalyticsRun`` (kind "segments"), a ``CustomerSegment`` row per segmented
    customer and a ``SegmentProfile`` row per segment, all in one transaction. Raises
    :class:`NoData` when there are no purchases or too few customers to segment.
    """
    started = utcnow()
    features, _customers, as_of = _load_features(engine)
    model = Segmenter(k=k, random_state=random_state).fit(features)
    version = version or artifacts.new_version()
    profiles = _profile_dicts(model.profiles_)
    without = int(features.attrs.get("customers_without_purchases", 0))
    metrics = {
        **_scores(model),
        "inertia": _num(model.inertia_),
        "customers": len(features),
        "customers_without_purchases": without,
        # SegmentProfile has no columns for these; kept here so latest_segments() can show them.
        "category_shares": {str(p["segment"]): p["category_shares"] for p in profiles},
        "tenure_days": {str(p["segment"]): p["tenure_days"] for p in profiles},
        "customer_share": {str(p["segment"]): p["customer_share"] for p in profiles},
        "favourite_share": {str(p["segment"]): p["favourite_share"] for p in profiles},
    }
    params = {
        "k": k,
        "k_range": list(model.k_range),
        "random_state": random_state,
        "as_of": as_of.isoformat(),
        "features": list(FEATURE_COLUMNS),
        "frequency": "orders per month from first order to as_of (at least one month)",
    }
    seg = model.segments_frame()
    with session_scope(engine) as session:
        run = AnalyticsRun(
            kind="segments",
            model_version=version,
            started_at=started,
            params=params,
            metrics=metrics,
        )
        session.add(run)
        session.flush()
        run_id = run.id
        session.execute(
            insert(CustomerSegment),
            [
                {"run_id": run_id, "customer_id": int(c), "segment": int(s), "label": lab}
                for c, s, lab in zip(seg["customer_id"], seg["segment"], seg["label"], strict=True)
            ],
        )
        session.add_all(
            SegmentProfile(
                run_id=run_id,
                segment=p["segment"],
                label=p["label"],
                size=p["size"],
                favourite_category=p["favourite_category"],
                purchases_per_month=p["purchases_per_month"],
                spend_per_month=p["spend_per_month"],
                recency_days=p["recency_days"],
            )
            for p in profiles
        )
        run.finished_at = utcnow()
    return SegmentationReport(
        run_id=run_id,
        model_version=version,
        as_of=as_of,
        n_customers=len(features),
        customers_without_purchases=without,
        profiles=profiles,
        model=model,
    )


def _newest_run(stmt):
    """``stmt`` restricted to the newest finished segmentation run."""
    return (
        stmt.where(AnalyticsRun.kind == "segments", AnalyticsRun.finished_at.is_not(None))
        .order_by(AnalyticsRun.finished_at.desc(), AnalyticsRun.id.desc())
        .limit(1)
    )


def latest_segments(engine: Engine) -> dict[str, Any] | None:
    """The newest stored segmentation (run, k, silhouette, segment profiles), or None if none.

    Same shape as :meth:`SegmentationReport.to_dict`, plus ``started_at``/``finished_at``.
    """
    with session_scope(engine) as session:
        run = session.execute(_newest_run(select(AnalyticsRun))).scalar_one_or_none()
        if run is None:
            return None
        rows = (
            session.execute(
                select(SegmentProfile)
                .where(SegmentProfile.run_id == run.id)
                .order_by(SegmentProfile.segment)
            )
            .scalars()
            .all()
        )
        metrics = dict(run.metrics or {})
        params = dict(run.params or {})

        def extra(name: str, segment: int) -> Any:
            return (metrics.get(name) or {}).get(str(segment))

        segments = [
            {
                "segment": r.segment,
                "label": r.label,
                "size": r.size,
                "customer_share": extra("customer_share", r.segment),
                "favourite_category": r.favourite_category,
                "favourite_share": extra("favourite_share", r.segment),
                "purchases_per_month": r.purchases_per_month,
                "spend_per_month": r.spend_per_month,
                "recency_days": r.recency_days,
                "tenure_days": extra("tenure_days", r.segment),
                "category_shares": extra("category_shares", r.segment),
            }
            for r in rows
        ]
        return {
            "run_id": run.id,
            "model_version": run.model_version,
            "started_at": run.started_at.isoformat() if run.started_at else None,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "as_of": params.get("as_of"),
            "k": metrics.get("k", len(segments)),
            "silhouette": metrics.get("silhouette"),
            "silhouette_by_k": metrics.get("silhouette_by_k"),
            "customers": metrics.get("customers", sum(s["size"] for s in segments)),
            "customers_without_purchases": metrics.get("customers_without_purchases"),
            "segments": segments,
        }


def customer_segment(engine: Engine, customer_id: int) -> dict[str, Any] | None:
    """The customer's segment in the newest stored run ({run_id, segment, label}), or None."""
    with session_scope(engine) as session:
        run_id = session.execute(_newest_run(select(AnalyticsRun.id))).scalar_one_or_none()
        if run_id is None:
            return None
        row = session.execute(
            select(CustomerSegment.segment, CustomerSegment.label).where(
                CustomerSegment.run_id == run_id, CustomerSegment.customer_id == customer_id
            )
        ).one_or_none()
        if row is None:
            return None
        return {"run_id": run_id, "segment": row.segment, "label": row.label}


# ---- evaluation --------------------------------------------------------------------------------


def planted_agreement(
    segments: pd.Series,
    groups: pd.Series,
    labels: Mapping[int, str] | None = None,
    favourites: Mapping[int, str] | None = None,
) -> dict[str, Any]:
    """How fitted segments match planted groups A–E: ARI, purity and where each group landed.

    ``segments`` and ``groups`` are aligned per customer; only customers in groups A–E count for
    the ARI and purity. Customers of other groups (churned, new, noise, …) are summarised
    separately under ``other_groups``.
    """
    df = pd.DataFrame({"segment": np.asarray(segments), "group": np.asarray(groups, dtype=object)})
    planted = df[df["group"].isin(list(PLANTED_FAVOURITES))]
    if planted.empty:
        return {"ari": None, "purity": None, "customers": 0, "groups": {}, "other_groups": {}}
    table = pd.crosstab(planted["group"], planted["segment"])
    groups_out = {}
    for group, row in table.iterrows():
        dominant = int(row.idxmax())
        groups_out[str(group)] = {
            "customers": int(row.sum()),
            "planted_favourite": PLANTED_FAVOURITES[str(group)],
            "dominant_segment": dominant,
            "dominant_label": (labels or {}).get(dominant),
            "dominant_favourite": (favourites or {}).get(dominant),
            "share_in_dominant": _num(row.max() / row.sum()),
            "segments": {str(int(s)): int(c) for s, c in row.items() if c},
        }
    others = {}
    for group, sub in df[~df["group"].isin(list(PLANTED_FAVOURITES))].groupby(
        df["group"].fillna("(none)")
    ):
        counts = sub["segment"].value_counts()
        others[str(group)] = {
            "customers": int(len(sub)),
            "dominant_segment": int(counts.index[0]),
            "dominant_label": (labels or {}).get(int(counts.index[0])),
            "share_in_dominant": _num(counts.iloc[0] / len(sub)),
        }
    return {
        "customers": int(len(planted)),
        "ari": _num(adjusted_rand_score(planted["group"], planted["segment"])),
        # Cluster purity: each segment counts the planted group most of its members come from.
        "purity": _num(table.max(axis=0).sum() / table.to_numpy().sum()),
        "groups": groups_out,
        "other_groups": others,
    }


def _evaluate_fit(model: Segmenter, features: pd.DataFrame, customers: pd.DataFrame) -> dict:
    out: dict[str, Any] = {
        **_scores(model),
        "segments": [
            {
                key: p[key]
                for key in (
                    "segment",
                    "label",
                    "size",
                    "favourite_category",
                    "purchases_per_month",
                    "spend_per_month",
                    "recency_days",
                )
            }
            for p in _profile_dicts(model.profiles_)
        ],
    }
    groups = customers.set_index("customer_id")["demo_group"].reindex(features.index)
    if groups.notna().any():
        out["planted"] = planted_agreement(
            pd.Series(model.labels_, index=features.index),
            groups,
            labels=model.segment_labels_,
            favourites=model.profiles_["favourite_category"].to_dict(),
        )
    else:
        out["planted"] = None
    return out


def evaluate_segments(engine: Engine, *, k: int | None = None, random_state: int = 0) -> dict:
    """Quality of a fresh segmentation of the store (nothing is stored).

    Gives the silhouette and k; when customers carry a ``demo_group`` (the demo shop), also the
    adjusted Rand index against the planted groups A–E with a contingency summary. When k was
    chosen by silhouette and is not 5, the same is reported for k=5 under ``at_k5``.
    """
    features, customers, as_of = _load_features(engine)
    model = Segmenter(k=k, random_state=random_state).fit(features)
    result: dict[str, Any] = {
        "as_of": as_of.isoformat(),
        "customers": len(features),
        "customers_without_purchases": int(features.attrs.get("customers_without_purchases", 0)),
        "k_requested": k,
        **_evaluate_fit(model, features, customers),
    }
    if k is None and model.k_ != len(PLANTED_FAVOURITES) and result["planted"] is not None:
        model5 = Segmenter(k=len(PLANTED_FAVOURITES), random_state=random_state).fit(features)
        result["at_k5"] = _evaluate_fit(model5, features, customers)
    return result


def format_evaluation(result: Mapping[str, Any]) -> str:
    """A readable summary of :func:`evaluate_segments`' result."""
    lines = [
        f"Segmentation of {result['customers']:,} customers as of {result['as_of'][:10]}",
    ]

    def block(title: str, r: Mapping[str, Any]) -> None:
        sil = r["silhouette"]
        by_k = ", ".join(
            f"k={k}: {v:.3f}" if v is not None else f"k={k}: n/a"
            for k, v in r["silhouette_by_k"].items()
        )
        lines.append("")
        lines.append(f"{title}: k={r['k']}, silhouette {sil:.3f}" if sil is not None else title)
        lines.append(f"  silhouette by k: {by_k}")
        lines.append(format_profiles(r["segments"]))
        planted = r.get("planted")
        if planted and planted.get("ari") is not None:
            lines.append(
                f"  planted groups A–E ({planted['customers']:,} customers): "
                f"adjusted Rand index {planted['ari']:.3f}, purity {planted['purity']:.3f}"
            )
            for g, info in planted["groups"].items():
                ok = "ok" if info["dominant_favourite"] == info["planted_favourite"] else "MISMATCH"
                lines.append(
                    f"    {g} ({info['planted_favourite']}): {info['share_in_dominant']:.0%} in "
                    f"segment {info['dominant_segment']} ({info['dominant_label']}) [{ok}]"
                )
            for g, info in planted["other_groups"].items():
                lines.append(
                    f"    {g}: {info['customers']:,} customers, {info['share_in_dominant']:.0%} in "
                    f"segment {info['dominant_segment']} ({info['dominant_label']})"
                )
        elif planted is None:
            lines.append(
                "  (no planted demo groups in this database: only the silhouette is known)"
            )

    block("Chosen" if result.get("k_requested") is None else "Requested", result)
    if "at_k5" in result:
        block("With k=5", result["at_k5"])
    return "\n".join(lines)
