"""The surprise rating model inside the recommender: SVD or item-based KNNBaseline, fitted with
surprise and served from numpy arrays (rating estimates, "predicted to suit your taste")."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from shop.errors import NotFound

ALGORITHMS = ("svd", "knn")
ALGORITHM_NAMES = {"svd": "SVD", "knn": "KNNBaseline (item-based, pearson_baseline)"}


def _surprise_algo(algorithm: str, params: dict, random_state: int):
    # Imported here so that unpickling a fitted model for serving never needs surprise's C code.
    from surprise import SVD, KNNBaseline

    if algorithm == "svd":
        return SVD(
            n_factors=params["n_factors"],
            n_epochs=params["n_epochs"],
            random_state=random_state,
        )
    if algorithm == "knn":
        return KNNBaseline(
            k=params["knn_k"],
            min_k=params["knn_min_k"],
            sim_options={"name": "pearson_baseline", "user_based": False},
            verbose=False,
        )
    raise ValueError(f"unknown algorithm {algorithm!r}: use one of {', '.join(ALGORITHMS)}")


def fit_surprise(algorithm: str, sig: pd.DataFrame, params: dict, random_state: int = 0):
    """A surprise algorithm fitted on ``sig`` (columns user, item, rating; raw ids are ints)."""
    from surprise import Dataset, Reader

    data = Dataset.load_from_df(sig[["user", "item", "rating"]], Reader(rating_scale=(1, 5)))
    algo = _surprise_algo(algorithm, params, random_state)
    return algo.fit(data.build_full_trainset())


class RatingModel:
    """The rating-model part of :class:`~analytics.recommendation.model.Recommender` (which
    provides the parameters, the catalogue and the customers' histories)."""

    # Provided by the Recommender (parameters and fitted state).
    algorithm: str
    random_state: int
    knn_k: int
    knn_min_k: int
    customer_ids_: np.ndarray
    customer_index_: dict
    product_ids_: np.ndarray
    sku_index_: dict
    hist_indptr_: np.ndarray
    hist_items_: np.ndarray
    hist_rating_: np.ndarray
    _users: np.ndarray

    def get_params(self) -> dict:
        raise NotImplementedError

    def _history(self, u: int) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _fit_model(self, sig: pd.DataFrame) -> None:
        frame = pd.DataFrame(
            {"user": self._users, "item": self.hist_items_, "rating": sig["rating"].to_numpy()}
        )
        self.algorithm_ = self.algorithm
        self.notes_: list[str] = []
        try:
            algo = fit_surprise(self.algorithm, frame, self.get_params(), self.random_state)
        except ZeroDivisionError:
            # surprise's pearson_baseline divides by zero when the ratings leave no residuals
            # (e.g. every purchase bought once, no explicit ratings): SVD still works.
            self.algorithm_ = "svd"
            self.notes_.append(
                "KNNBaseline's pearson_baseline similarity is undefined on these ratings (no "
                "variation left after the baselines), so SVD was used"
            )
            algo = fit_surprise("svd", frame, self.get_params(), self.random_state)
        ts = algo.trainset
        n_users, n_items = len(self.customer_ids_), len(self.product_ids_)
        # Map surprise's inner ids onto our user/item positions (raw ids are those positions).
        inner_u = np.array([ts.to_raw_uid(i) for i in range(ts.n_users)], dtype=np.int64)
        inner_i = np.array([ts.to_raw_iid(j) for j in range(ts.n_items)], dtype=np.int64)
        self.mu_ = float(ts.global_mean)
        self.bu_ = np.zeros(n_users)
        self.bu_[inner_u] = algo.bu
        self.bi_ = np.zeros(n_items)
        self.bi_[inner_i] = algo.bi
        # SVD fills the factors, KNNBaseline the similarity arrays; the other kind stays None.
        self.pu_: Any = None
        self.qi_: Any = None
        self.knn_sim_: Any = None
        self.knn_items_: Any = None
        self.knn_pos_: Any = None
        if self.algorithm_ == "svd":
            self.pu_ = np.zeros((n_users, algo.pu.shape[1]))
            self.pu_[inner_u] = algo.pu
            self.qi_ = np.zeros((n_items, algo.qi.shape[1]))
            self.qi_[inner_i] = algo.qi
        else:
            # knn_items_: our positions of the items surprise knows, in the order of knn_sim_.
            self.knn_items_ = inner_i
            self.knn_pos_ = np.full(n_items, -1, dtype=np.int64)
            self.knn_pos_[inner_i] = np.arange(len(inner_i))
            self.knn_sim_ = np.asarray(algo.sim, dtype=np.float32)
        del self._users

    def _model_scores(self, u: int) -> np.ndarray:
        """Surprise's rating estimate (unclipped) of every item for customer position ``u``."""
        base = self.mu_ + self.bu_[u] + self.bi_
        if self.algorithm_ == "svd":
            # einsum rather than a BLAS matvec: BLAS threads waking up cost milliseconds here.
            return base + np.einsum("ij,j->i", self.qi_, self.pu_[u])
        items, _ = self._history(u)
        a, b = self.hist_indptr_[u], self.hist_indptr_[u + 1]
        rated = self.knn_pos_[items]
        ok = rated >= 0
        rated, r = rated[ok], self.hist_rating_[a:b][ok]
        if len(rated) == 0:
            return base
        # KNNBaseline.estimate for all items at once: per item, the k rated items most similar
        # to it, positive similarities only, similarity-weighted mean of (rating - baseline).
        # sim is symmetric, so rows of the rated items = columns (contiguous, faster to gather).
        dev = (r - self.mu_ - self.bu_[u] - self.bi_[self.knn_items_[rated]]).astype(np.float32)
        sim = self.knn_sim_[rated]  # (rated, items)
        weights = np.where(sim > 0, sim, np.float32(0))
        n_pos = (weights > 0).sum(axis=0)
        crowded = np.flatnonzero(n_pos > self.knn_k)
        if len(crowded):
            # Only the k most similar count; equal similarities at the k-th place may differ
            # from surprise's choice among them (it keeps the earliest rated).
            block = sim[:, crowded]
            top = np.argpartition(-block, self.knn_k - 1, axis=0)[: self.knn_k]
            keep = np.zeros(block.shape, dtype=bool)
            np.put_along_axis(keep, top, True, axis=0)
            weights[:, crowded] = np.where(keep & (block > 0), block, np.float32(0))
            n_pos[crowded] = (weights[:, crowded] > 0).sum(axis=0)
        sum_sim = weights.sum(axis=0, dtype=np.float64)
        sum_dev = np.einsum("ij,i->j", weights, dev).astype(np.float64)
        sum_dev[n_pos < self.knn_min_k] = 0.0
        adj = np.divide(sum_dev, sum_sim, out=np.zeros_like(sum_dev), where=sum_sim > 0)
        out = base.copy()
        out[self.knn_items_] += adj
        return out

    def predict_rating(self, customer_id: int, sku: str) -> float:
        """The surprise model's rating estimate in [1, 5] (baseline for unknown customers)."""
        i = self.sku_index_.get(sku)
        if i is None:
            raise NotFound(f"no product {sku}")
        u = self.customer_index_.get(int(customer_id))
        if u is None:
            return float(np.clip(self.mu_ + self.bi_[i], 1, 5))
        return float(np.clip(self._model_scores(u)[i], 1, 5))
