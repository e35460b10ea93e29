"""The segmenter: K-means on log-scaled, standardised features, k chosen by silhouette."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial.distance import cdist
from sklearn.base import BaseEstimator
from sklearn.cluster import KMeans
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from analytics.segmentation.features import FEATURE_COLUMNS, SHARE_CATEGORIES, SHARE_COLUMNS
from analytics.segmentation.profiles import unique_labels
from shop.errors import NoData

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
        prof["label"] = unique_labels(prof)
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
