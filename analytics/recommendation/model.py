"""The fitted recommender: the served top-N ranker (``ranking``), a surprise rating model and item
co-occurrence, served from numpy arrays (no pandas, no database in :meth:`Recommender.recommend`)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from analytics.recommendation import signal as sigmod
from analytics.recommendation.ranking import ServedRanker, fit_served, recency_rank
from analytics.recommendation.rating_model import ALGORITHMS, RatingModel
from shop.errors import NoData, NotFound


@dataclasses.dataclass(frozen=True)
class Recommendation:
    """One recommended product and why it was chosen."""

    sku: str
    name: str
    price: float
    category: str
    score: float
    reason: str
    product_id: int

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# How much a customer's taste (or popularity) orders the products that meet a stated need.
NEED_TASTE_WEIGHT = 0.3


class Recommender(RatingModel):
    """Top-N product recommendations for a shop's customers.

    Parameters are set here; :meth:`fit` learns the state kept in attributes ending in ``_``.

    algorithm: "svd" or "knn" (surprise SVD or item-based KNNBaseline) for the rating model.
    n_neighbors: item neighbours kept per product for co-occurrence scoring and :meth:`similar`.
    cooc_shrink: added to the Jaccard denominator so that pairs seen by few customers count less.
    ranker: the served top-N ranker: "auto" (chosen on a validation split of the training data
        among EASE on 0/1 or rating-weighted histories, item-kNN, ALS, BPR and popularity, see
        ``ranking``), a candidate name such as "ease@200", or "blend" (the co-occurrence/surprise/popularity blend below).
    validation: how "auto" holds out validation products: "temporal" (each customer's latest)
        or "random".
    weight_cooc, weight_model, weight_pop: the "blend" ranker's weights (each scaled to [0, 1]).
    half_life_days: a history item's weight halves every this many days before ``now``.
    popularity_days: the window for "popular now".
    """

    def __init__(
        self,
        algorithm: str = "svd",
        *,
        n_factors: int = 50,
        n_epochs: int = 20,
        knn_k: int = 40,
        knn_min_k: int = 1,
        n_neighbors: int = 100,
        cooc_shrink: float = 5.0,
        weight_cooc: float = 0.8,
        weight_model: float = 0.1,
        weight_pop: float = 0.1,
        half_life_days: float | None = 180.0,
        popularity_days: int = 90,
        random_state: int = 0,
        ranker: str = "auto",
        validation: str = "temporal",
    ):
        self.algorithm = algorithm
        self.ranker = ranker
        self.validation = validation
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.knn_k = knn_k
        self.knn_min_k = knn_min_k
        self.n_neighbors = n_neighbors
        self.cooc_shrink = cooc_shrink
        self.weight_cooc = weight_cooc
        self.weight_model = weight_model
        self.weight_pop = weight_pop
        self.half_life_days = half_life_days
        self.popularity_days = popularity_days
        self.random_state = random_state

    def get_params(self) -> dict:
        """The constructor parameters, so a model can be re-created with another algorithm."""
        return {
            name: getattr(self, name)
            for name in (
                "algorithm", "n_factors", "n_epochs", "knn_k", "knn_min_k", "n_neighbors",
                "cooc_shrink", "weight_cooc", "weight_model", "weight_pop", "half_life_days",
                "popularity_days", "random_state", "ranker", "validation",
            )
        }  # fmt: skip

    # ---- fitting -------------------------------------------------------------------------------

    def fit(
        self,
        purchases: pd.DataFrame,
        ratings: pd.DataFrame,
        products: pd.DataFrame,
        *,
        segments: pd.DataFrame | None = None,
        now: dt.datetime | None = None,
    ) -> Recommender:
        """Learns from ``analytics.data`` frames; returns self.

        ``segments`` (customer_id, segment, label) drives the cold start of customers without
        history; ``now`` (default: the newest interaction) anchors recency and popularity.
        """
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"unknown algorithm {self.algorithm!r}: use one of {ALGORITHMS}")
        if products.empty:
            raise NoData("no products in the database — import or create products first")
        ev = sigmod.events(purchases, ratings)
        known = set(products["product_id"].astype("int64"))
        ev = ev[ev["product_id"].isin(known)]
        if ev.empty:
            raise NoData(
                "no ratings and no purchases to learn from — import transactions or ratings "
                "(`shopbot import …`) or build the demo shop (`shopbot setup-demo`)"
            )
        sig = sigmod.build_signal(ev)
        self.now_ = pd.Timestamp(now) if now is not None else ev["at"].max()
        self.signal_summary_ = sigmod.summary(sig)
        self._fit_catalog(products)
        self._fit_history(sig)
        self._fit_popularity(ev, segments)
        self._fit_cooccurrence()
        self._fit_ranker(sig)
        self._fit_model(sig)
        self.version_: str | None = None
        self.metrics_: dict | None = None
        return self

    def _fit_catalog(self, products: pd.DataFrame) -> None:
        products = products.sort_values("product_id")
        self.product_ids_ = products["product_id"].to_numpy(dtype=np.int64)
        self.item_index_ = {int(p): i for i, p in enumerate(self.product_ids_)}
        self.skus_ = products["sku"].astype(str).tolist()
        self.sku_index_ = {s: i for i, s in enumerate(self.skus_)}
        self.names_ = products["name"].astype(str).tolist()
        self.prices_ = products["price"].to_numpy(dtype=np.float64)
        self.categories_ = products["category"].fillna("other").astype(str).tolist()
        # Category filters are case-insensitive: codes are keyed by the lower-cased name.
        cats = sorted({c.lower() for c in self.categories_})
        self.category_codes_ = {c: k for k, c in enumerate(cats)}
        self.item_category_ = np.array(
            [self.category_codes_[c.lower()] for c in self.categories_], dtype=np.int32
        )
        self.available_ = np.ones(len(self.product_ids_), dtype=bool)
        self.active_ = self.in_stock_ = self.stocked_ = self.available_
        self.stock_known_ = True
        self.update_stock(products)

    def _fit_history(self, sig: pd.DataFrame) -> None:
        cust = sig["customer_id"].to_numpy(dtype=np.int64)
        customers = np.unique(cust)
        self.customer_ids_ = customers
        self.customer_index_ = {int(c): u for u, c in enumerate(customers)}
        users = np.searchsorted(customers, cust)
        items = np.searchsorted(self.product_ids_, sig["product_id"].to_numpy(dtype=np.int64))
        rating = sig["rating"].to_numpy(dtype=np.float64)
        age = (self.now_ - pd.to_datetime(sig["last_at"])).dt.total_seconds().to_numpy() / 86400.0
        decay = (
            np.power(0.5, np.clip(age, 0, None) / self.half_life_days)
            if self.half_life_days
            else np.ones(len(sig))
        )
        # sig is sorted by customer, so the rows of one customer are contiguous: a CSR layout.
        counts = np.bincount(users, minlength=len(customers))
        self.hist_indptr_ = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.hist_items_ = items
        self.hist_rating_ = rating
        self.hist_affinity_ = rating / 5.0 * decay
        self.hist_bought_ = sig["bought"].to_numpy(dtype=bool)
        # How many of the customer's products came after each one (0 = the newest).
        first = pd.to_datetime(sig["first_at"]).to_numpy(dtype="datetime64[ns]").astype(np.int64)
        self.hist_recency_ = recency_rank(users, first)
        self._users = users  # training only; dropped after fit

    def _popularity(self, ev: pd.DataFrame) -> np.ndarray:
        # Distinct customers in the recent window; all-time distinct customers break ties (< 1).
        n = len(self.product_ids_)
        pairs = ev[["customer_id", "product_id"]].drop_duplicates()
        alltime = np.zeros(n)
        if len(pairs):
            idx = pairs["product_id"].map(self.item_index_).to_numpy(dtype=np.int64)
            alltime = np.bincount(idx, minlength=n).astype(np.float64)
        start = self.now_ - pd.Timedelta(days=self.popularity_days)
        recent_pairs = ev.loc[ev["at"] > start, ["customer_id", "product_id"]].drop_duplicates()
        recent = np.zeros(n)
        if len(recent_pairs):
            idx = recent_pairs["product_id"].map(self.item_index_).to_numpy(dtype=np.int64)
            recent = np.bincount(idx, minlength=n).astype(np.float64)
        return recent + alltime / (alltime.max() + 1.0)

    def _fit_popularity(self, ev: pd.DataFrame, segments: pd.DataFrame | None) -> None:
        self.popularity_ = self._popularity(ev)
        top = self.popularity_.max()
        self.pop_norm_ = self.popularity_ / top if top > 0 else self.popularity_
        self.segment_of_: dict[int, int] = {}
        self.segment_labels_: dict[int, str] = {}
        self.segment_popularity_: dict[int, np.ndarray] = {}
        self.segment_prior_: dict[int, np.ndarray] = {}
        if segments is None or segments.empty:
            return
        seg = segments[["customer_id", "segment", "label"]]
        self.segment_of_ = {int(c): int(s) for c, s in zip(seg["customer_id"], seg["segment"])}
        self.segment_labels_ = {
            int(s): str(lbl)
            for s, lbl in seg.drop_duplicates("segment")[["segment", "label"]].values
        }
        seg_ev = ev.merge(seg[["customer_id", "segment"]], on="customer_id")
        for s, grp in seg_ev.groupby("segment"):
            self.segment_popularity_[int(s)] = self._popularity(grp)
        self.segment_prior_ = {
            s: pop / pop.max() for s, pop in self.segment_popularity_.items() if pop.max() > 0
        }

    def _prior(self, customer_id: int) -> tuple[np.ndarray, str | None]:
        """(popularity scaled to [0, 1], segment label): the customer's segment's bestsellers when
        the stored segmentation knows them, else the shop's (label None)."""
        seg = self.segment_of_.get(customer_id)
        prior = self.segment_prior_.get(seg) if seg is not None else None
        if seg is None or prior is None:
            return self.pop_norm_, None
        return prior, self.segment_labels_.get(seg, f"segment {seg}")

    def _fit_cooccurrence(self) -> None:
        n_items = len(self.product_ids_)
        n_users = len(self.customer_ids_)
        x = sparse.csr_matrix(
            (np.ones(len(self.hist_items_)), (self._users, self.hist_items_)),
            shape=(n_users, n_items),
        )
        co = (x.T @ x).tocsr()
        degree = np.asarray(x.sum(axis=0)).ravel()
        k = max(1, min(self.n_neighbors, n_items - 1))
        nbr_idx = np.zeros((n_items, k), dtype=np.int32)
        nbr_sim = np.zeros((n_items, k), dtype=np.float32)
        block = 512
        for start in range(0, n_items, block):
            rows = np.arange(start, min(start + block, n_items))
            c = co[rows].toarray()
            # Jaccard: customers who have both / customers who have either (shrunk for rare pairs).
            union = degree[rows, None] + degree[None, :] - c + self.cooc_shrink
            sim = np.divide(c, union, out=np.zeros_like(c), where=union > 0)
            sim[np.arange(len(rows)), rows] = 0.0
            top = np.argpartition(-sim, k - 1, axis=1)[:, :k] if k < n_items else None
            if top is None:
                top = np.tile(np.arange(n_items), (len(rows), 1))[:, :k]
            top_sim = np.take_along_axis(sim, top, axis=1)
            order = np.argsort(-top_sim, axis=1, kind="stable")
            nbr_idx[rows] = np.take_along_axis(top, order, axis=1)
            nbr_sim[rows] = np.take_along_axis(top_sim, order, axis=1)
        self.nbr_idx_ = nbr_idx
        self.nbr_sim_ = nbr_sim

    def _fit_ranker(self, sig: pd.DataFrame) -> None:
        self.ranker_ = self.ranker
        self.served_: ServedRanker | None = None
        self.ranker_validation_: dict | None = None
        if self.ranker == "blend":
            return
        first = pd.to_datetime(sig["first_at"]).to_numpy(dtype="datetime64[ns]").astype(np.int64)
        shape = (len(self.customer_ids_), len(self.product_ids_))
        self.served_, choice = fit_served(
            self._users, self.hist_items_, first, shape, ranker=self.ranker,
            protocol=self.validation, random_state=self.random_state, ratings=self.hist_rating_,
        )  # fmt: skip
        h, w = self.served_.half_life, self.served_.prior_weight
        self.ranker_ = (
            self.served_.name
            + (f"+recency{h:g}" if h else "")
            + (f"+popularity×{w:g}" if w else "")
        )
        if choice is not None:
            self.ranker_validation_ = {
                "protocol": choice.protocol,
                "chosen": choice.name,
                "prior_weight": choice.prior_weight,
                "recency_half_life": choice.half_life,
                "candidates": choice.validation,
            }

    # ---- serving state -------------------------------------------------------------------------

    def update_stock(self, products: pd.DataFrame | None = None, *, available=None) -> Recommender:
        """Refreshes what may be recommended without refitting; returns self.

        ``products``: a frame like ``analytics.data.load_products`` (product_id or sku; on_hand,
        on_order, active, and optionally name, price). ``available``: or a set of product ids in
        stock. Products unknown to the model are ignored (they need a refit to be recommended).

        Out-of-stock products are never recommended, except when the shop has no stock figures
        at all (no active product with anything on hand or on order, as right after importing
        only sales): then stock is unknown rather than zero, every active product may be
        recommended and ``stock_known_`` is False so callers can say so.
        """
        n = len(self.product_ids_)
        # Models saved before these arrays existed only have available_: start from it.
        seed = self.available_
        active = getattr(self, "active_", seed).copy()
        in_stock = getattr(self, "in_stock_", seed).copy()
        stocked = getattr(self, "stocked_", seed).copy()
        prices, names = self.prices_.copy(), list(self.names_)
        known = getattr(self, "stock_known_", True)
        if products is not None:
            key = "product_id" if "product_id" in products.columns else "sku"
            index = self.item_index_ if key == "product_id" else self.sku_index_
            for row in products.itertuples(index=False):
                value = getattr(row, key)
                i = index.get(value if key == "sku" else int(value))
                if i is None:
                    continue
                on_hand = getattr(row, "on_hand", 1)
                on_hand = 0 if on_hand is None or on_hand != on_hand else on_hand
                on_order = getattr(row, "on_order", 0)
                on_order = 0 if on_order is None or on_order != on_order else on_order
                active[i] = bool(getattr(row, "active", True))
                in_stock[i] = on_hand > 0
                stocked[i] = on_hand > 0 or on_order > 0
                price = getattr(row, "price", None)
                if price is not None and price == price:
                    prices[i] = float(price)
                name = getattr(row, "name", None)
                if name is not None:
                    names[i] = str(name)
            known = bool((stocked & active).any())
        if available is not None:
            # An explicit set of in-stock ids is a stock figure, even an empty one.
            ids = {int(p) for p in available}
            in_stock = np.array([int(p) in ids for p in self.product_ids_], dtype=bool)
            stocked, active, known = in_stock.copy(), np.ones(n, dtype=bool), True
        avail = (active & in_stock) if known else active.copy()
        # Swap in new arrays, so a concurrent recommend() sees old or new state, never a mix.
        self.active_, self.in_stock_, self.stocked_ = active, in_stock, stocked
        self.available_, self.prices_, self.names_ = avail, prices, names
        self.stock_known_ = known
        return self

    # ---- scoring -------------------------------------------------------------------------------

    def _recency(self, u: int) -> np.ndarray | None:
        rank = getattr(self, "hist_recency_", None)
        return None if rank is None else rank[self.hist_indptr_[u] : self.hist_indptr_[u + 1]]

    def _ratings(self, u: int) -> np.ndarray:
        """The customer's 1–5 rating of each history item (explicit, or implicit from orders)."""
        return self.hist_rating_[self.hist_indptr_[u] : self.hist_indptr_[u + 1]]

    def _history(self, u: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = self.hist_indptr_[u], self.hist_indptr_[u + 1]
        return self.hist_items_[a:b], self.hist_affinity_[a:b]

    def _cooc_scores(self, items: np.ndarray, affinity: np.ndarray) -> np.ndarray:
        contrib = affinity[:, None] * self.nbr_sim_[items]
        return np.bincount(
            self.nbr_idx_[items].ravel(), weights=contrib.ravel(), minlength=len(self.product_ids_)
        )

    def _components(self, u: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        items, affinity = self._history(u)
        return items, affinity, self._cooc_scores(items, affinity), self._model_scores(u)

    @staticmethod
    def _minmax(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if not mask.any():
            return np.zeros_like(x)
        lo, hi = x[mask].min(), x[mask].max()
        return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)

    def _served_scores(
        self, u: int, items: np.ndarray, unseen: np.ndarray, prior: np.ndarray
    ) -> np.ndarray:
        """The served ranker's scores for customer position ``u`` (history ``items``), blended
        with the popularity ``prior`` by the weight the validation chose (scaled over
        ``unseen``)."""
        served = getattr(self, "served_", None)
        assert served is not None
        raw = served.scores(u, items, self._recency(u), self._ratings(u))
        if not served.prior_weight:
            return raw
        return self._minmax(raw, unseen) + served.prior_weight * prior

    def rank_scores(
        self, u: int, mode: str, candidates: np.ndarray, *, model_scores: np.ndarray | None = None
    ) -> np.ndarray:
        """Scores of all items for customer position ``u`` under ``mode`` ("served", "blend",
        "model", "cooc", "popularity", "segment_popularity"); only ``candidates`` (a bool mask)
        are comparable."""
        if mode == "popularity":
            return self.popularity_
        prior, _ = self._prior(int(self.customer_ids_[u]))
        if mode == "segment_popularity":
            return prior + 1e-9 * self.pop_norm_
        items, affinity = self._history(u)
        if mode == "cooc":
            return self._cooc_scores(items, affinity) + 1e-9 * self.pop_norm_
        if mode == "served" and getattr(self, "served_", None) is not None:
            return self._served_scores(u, items, candidates, prior)
        model = self._model_scores(u) if model_scores is None else model_scores
        if mode == "model":
            return model
        cooc = self._cooc_scores(items, affinity)
        return (
            self.weight_cooc * self._minmax(cooc, candidates)
            + self.weight_model * self._minmax(model, candidates)
            + self.weight_pop * prior
        )

    # ---- serving -------------------------------------------------------------------------------

    def _mask(self, category: str | None, exclude: Iterable) -> np.ndarray | None:
        mask = self.available_.copy()
        if category is not None:
            code = self.category_codes_.get(category.lower())
            if code is None:
                return None
            mask &= self.item_category_ == code
        for x in exclude:
            i = (
                self.item_index_.get(int(x))
                if isinstance(x, (int, np.integer))
                else self.sku_index_.get(x)
            )
            if i is not None:
                mask[i] = False
        return mask

    @staticmethod
    def _top(scores: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
        cand = np.flatnonzero(mask)
        if len(cand) == 0 or n <= 0:
            return cand[:0]
        s = scores[cand]
        if len(cand) > n:
            part = np.argpartition(-s, n - 1)[:n]
            cand, s = cand[part], s[part]
        # Stable tie-break on position so results are deterministic.
        return cand[np.lexsort((cand, -s))]

    def _make(self, i: int, score: float, reason: str) -> Recommendation:
        return Recommendation(
            sku=self.skus_[i],
            name=self.names_[i],
            price=float(self.prices_[i]),
            category=self.categories_[i],
            score=round(float(score), 6),
            reason=reason,
            product_id=int(self.product_ids_[i]),
        )

    def popular(self, n: int = 10, category: str | None = None) -> list[Recommendation]:
        """The ``n`` most popular products in stock (recent distinct buyers), optionally in one
        category."""
        mask = self._mask(category, ())
        if mask is None:
            return []
        days = self.popularity_days
        return [
            self._make(i, self.pop_norm_[i], f"popular: bestseller of the last {days} days")
            for i in self._top(self.popularity_, mask, n)
        ]

    def recommend(
        self,
        customer_id: int,
        n: int = 10,
        *,
        category: str | None = None,
        exclude: Iterable = (),
    ) -> list[Recommendation]:
        """Up to ``n`` products for the customer, best first: never one they already bought or
        rated, never out of stock (see ``update_stock`` for a shop without stock figures) or
        inactive; ``exclude`` takes more SKUs or product ids.
        Customers without history get their segment's popular products, then overall ones."""
        mask = self._mask(category, exclude)
        if mask is None:
            return []
        u = self.customer_index_.get(int(customer_id))
        if u is None:
            return self._cold_start(int(customer_id), mask, n)
        items, affinity = self._history(u)
        mask[items] = False
        # Scaled over everything the customer has not had, so that stock, category and exclude
        # only remove products and never reorder the rest.
        unseen = np.ones(len(self.product_ids_), dtype=bool)
        unseen[items] = False
        prior, segment = self._prior(int(customer_id))
        if getattr(self, "served_", None) is not None:
            score = self._served_scores(u, items, unseen, prior)
            top = self._top(score, mask, n)
            return [
                self._make(i, score[i], reason)
                for i, reason in zip(top, self._served_reasons(u, items, top, segment))
            ]
        cooc = self._cooc_scores(items, affinity)
        model = self._model_scores(u)
        parts = (
            self.weight_cooc * self._minmax(cooc, unseen),
            self.weight_model * self._minmax(model, unseen),
            self.weight_pop * prior,
        )
        score = parts[0] + parts[1] + parts[2]
        top = self._top(score, mask, n)
        because = self._because(items, affinity, top)
        out = []
        for t, i in enumerate(top):
            best = int(np.argmax([parts[0][i], parts[1][i], parts[2][i]]))
            if best == 0 and because[t] >= 0:
                reason = self._because_text(u, items, int(because[t]))
            elif best == 1:
                reason = f"predicted to suit your taste ({np.clip(model[i], 1, 5):.1f}/5)"
            else:
                reason = self._popular_text(segment)
            out.append(self._make(i, score[i], reason))
        return out

    def recommend_for_need(
        self,
        relevance: dict[str, float],
        customer_id: int | None = None,
        n: int = 10,
        *,
        need: str = "that",
        taste_weight: float = NEED_TASTE_WEIGHT,
    ) -> list[Recommendation]:
        """Up to ``n`` in-stock products among ``relevance`` (SKU -> how well it meets the need,
        from ``by_need.CatalogueIndex``), best first: the need's score blended with the
        customer's taste (the served ranker; popularity for a guest or a new customer) by
        ``taste_weight``. A known customer is not offered what they already bought."""
        mask = np.zeros(len(self.product_ids_), dtype=bool)
        need_score = np.zeros(len(self.product_ids_))
        for sku, similarity in relevance.items():
            i = self.sku_index_.get(sku)
            if i is not None:
                mask[i] = True
                need_score[i] = similarity
        mask &= self.available_
        u = None if customer_id is None else self.customer_index_.get(int(customer_id))
        if u is not None:
            items, _ = self._history(u)
            mask[items] = False
            taste = self.rank_scores(u, "served", mask)
        else:
            taste = self.popularity_
        if not mask.any():
            return []
        score = (1 - taste_weight) * self._minmax(need_score, mask) + taste_weight * self._minmax(
            np.asarray(taste, dtype=float), mask
        )
        reason = f"matches “{need}”" + (" and your taste" if u is not None else "")
        return [self._make(i, score[i], reason) for i in self._top(score, mask, n)]

    def _because_text(self, u: int, items: np.ndarray, h: int) -> str:
        j = int(items[h])
        verb = "bought" if self.hist_bought_[self.hist_indptr_[u] + h] else "rated"
        return f"because you {verb} {self.names_[j]} ({self.skus_[j]})"

    def _popular_text(self, segment: str | None) -> str:
        if segment is not None:
            return f"popular with customers like you ({segment})"
        return f"popular: bestseller of the last {self.popularity_days} days"

    def _served_reasons(
        self, u: int, items: np.ndarray, top: np.ndarray, segment: str | None
    ) -> list[str]:
        """Why each of ``top`` was chosen: the history item that added most to its score (EASE
        or item-kNN weights), the taste factors (ALS/BPR), or popularity."""
        served = self.served_
        assert served is not None
        contrib = (
            served.contributions(items, top, self._recency(u), self._ratings(u))
            if len(items)
            else None
        )
        out = []
        for t in range(len(top)):
            if contrib is not None and len(items) and contrib[:, t].max() > 0:
                out.append(self._because_text(u, items, int(np.argmax(contrib[:, t]))))
            elif served.kind == "factors":
                out.append("chosen by customers with tastes like yours")
            else:
                out.append(self._popular_text(segment))
        return out

    def _because(self, items: np.ndarray, affinity: np.ndarray, top: np.ndarray) -> np.ndarray:
        """Per product in ``top``: the position in ``items`` (the customer's history) that added
        most to its co-occurrence score, or -1 if none did."""
        slot = np.full(len(self.product_ids_), -1, dtype=np.int64)
        slot[top] = np.arange(len(top))
        target = slot[self.nbr_idx_[items]]  # (history, neighbours): index into top or -1
        hist, _ = np.nonzero(target >= 0)
        t = target[target >= 0]
        contrib = (affinity[:, None] * self.nbr_sim_[items])[target >= 0]
        best = np.full(len(top), -1, dtype=np.int64)
        if len(t):
            # Sort by (top slot, contribution, earliest history first) and keep the last row of
            # each slot: its maximum, the earliest history item on ties (like argmax).
            order = np.lexsort((-hist, contrib, t))
            last = np.r_[t[order][1:] != t[order][:-1], True]
            keep = order[last]
            best[t[keep]] = np.where(contrib[keep] > 0, hist[keep], -1)
        return best

    def _cold_start(self, customer_id: int, mask: np.ndarray, n: int) -> list[Recommendation]:
        seg_norm, label = self._prior(customer_id)
        if label is None:
            return [
                self._make(i, self.pop_norm_[i], "popular: bestseller right now (new customer)")
                for i in self._top(self.popularity_, mask, n)
            ]
        # Segment bestsellers first, then the overall ones fill the rest.
        score = seg_norm + 1e-6 * self.pop_norm_
        out = []
        for i in self._top(score, mask, n):
            if seg_norm[i] > 0:
                reason = f"popular with customers like you ({label})"
            else:
                reason = "popular: bestseller right now"
            out.append(self._make(i, score[i], reason))
        return out

    def similar(self, sku: str, n: int = 5) -> list[Recommendation]:
        """Up to ``n`` in-stock products most often bought by the same customers as ``sku``; when
        it has too few neighbours, the category's bestsellers fill the list."""
        i = self.sku_index_.get(sku)
        if i is None:
            i = self.sku_index_.get(sku.upper())
        if i is None:
            raise NotFound(f"no product {sku} — check the SKU (like CLO-0042)")
        out: list[Any] = []
        seen = {i}
        name = self.names_[i]
        for j, s in zip(self.nbr_idx_[i], self.nbr_sim_[i]):
            if len(out) == n or s <= 0:
                break
            if self.available_[j] and j not in seen:
                seen.add(int(j))
                out.append(self._make(int(j), s, f"often bought by customers who bought {name}"))
        if len(out) < n:
            mask = self.available_ & (self.item_category_ == self.item_category_[i])
            mask[list(seen)] = False
            for j in self._top(self.popularity_, mask, n - len(out)):
                out.append(self._make(j, 0.0, f"bestseller in {self.categories_[i]}"))
        return out
