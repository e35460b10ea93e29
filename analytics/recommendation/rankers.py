"""Top-N rankers over a binary customer × product matrix, all with one shape.

``fit(x) -> self`` learns from ``x`` (scipy CSR, customers × products, 1 where the customer
interacted with the product); ``scores(x_rows, users) -> (len(users), products)`` scores every
product for the customers at positions ``users`` whose histories are the rows ``x_rows``. Higher
is better; the caller removes what the customer already has.

- :class:`Popularity` — distinct customers per product.
- :class:`ItemKNN` — cosine similarity between products, the ``k`` nearest kept per product.
- :class:`Ease` — EASE (Steck 2019): the closed-form item-item regression
  ``B = I − P · diag(1/diag(P))``, ``P = (XᵀX + λI)⁻¹``, with a zero diagonal. Only the
  ``max_items`` most popular products with at least ``min_count`` customers enter the inverse
  (its cost grows with the cube of their number); the rest score below every kept product.
- :class:`RatedEase` — EASE on the customers' ratings scaled to (0, 1] instead of 0/1.
- :class:`LocalEase` — EASE on *time-local* co-occurrence: two products count together by how
  close they are in the customer's own order of interactions (``exp(-distance / scale)``), so
  what customers take up together, rather than ever, shapes the weights.
- :class:`ImplicitMF` — ALS or BPR matrix factorisation from the ``implicit`` package.

Rankers with ``uses_ratings`` True are fitted and scored on the rating-weighted matrix (see
:func:`rating_weights`); the others on the 0/1 one. Rankers with ``uses_order`` True are also
given ``order``: a matrix with x's pattern holding each pair's place in its customer's time order
plus one (:func:`order_matrix`).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from scipy import sparse
from threadpoolctl import threadpool_limits


class Ranker(Protocol):
    """What every ranker here is (see the module docstring)."""

    def fit(self, x: sparse.csr_matrix) -> Ranker: ...

    def scores(self, x_rows: sparse.csr_matrix, users: np.ndarray) -> np.ndarray: ...


def binary_matrix(
    users: np.ndarray, items: np.ndarray, shape: tuple[int, int]
) -> sparse.csr_matrix:
    """The 0/1 CSR matrix with a 1 at every (user, item) pair (duplicates count once)."""
    x = sparse.csr_matrix((np.ones(len(users), dtype=np.float32), (users, items)), shape=shape)
    x.data[:] = 1.0
    return x


def order_matrix(
    users: np.ndarray, items: np.ndarray, rank: np.ndarray, shape: tuple[int, int]
) -> sparse.csr_matrix:
    """The CSR matrix with ``rank + 1`` at every (user, item) pair: ``rank`` is the pair's place
    in its customer's time order (any order-preserving numbers; ``ranking.recency_rank``)."""
    return sparse.csr_matrix(
        (np.asarray(rank, dtype=np.float64) + 1.0, (users, items)), shape=shape
    )


RATING_MAX = 5.0


def rating_weights(ratings: np.ndarray) -> np.ndarray:
    """A rating's weight for the rankers that use ratings: rating / 5 (a 5 counts fully, a 1 a
    fifth); a purchase's implicit rating (4.0–5.0, ``signal.implicit_rating``) counts the same."""
    return np.clip(np.asarray(ratings, dtype=np.float64), 0.0, RATING_MAX) / RATING_MAX


def top_k_rows(m: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``m``: the column indices and values of its ``k`` largest entries, best first."""
    k = max(1, min(k, m.shape[1]))
    idx = np.argpartition(-m, k - 1, axis=1)[:, :k]
    val = np.take_along_axis(m, idx, axis=1)
    order = np.argsort(-val, axis=1, kind="stable")
    return (
        np.take_along_axis(idx, order, axis=1).astype(np.int32),
        np.take_along_axis(val, order, axis=1).astype(np.float32),
    )


class Popularity:
    """Products ranked by how many customers have them."""

    name = "popularity"

    def fit(self, x: sparse.csr_matrix) -> Popularity:
        self.counts_ = np.asarray(x.sum(axis=0), dtype=np.float64).ravel()
        return self

    def scores(self, x_rows: sparse.csr_matrix, users: np.ndarray) -> np.ndarray:
        return np.tile(self.counts_, (x_rows.shape[0], 1))


class ItemKNN:
    """Item-based nearest neighbours: a customer's score for a product is the sum of its cosine
    similarities to the products in their history, over the ``k`` nearest neighbours of each."""

    name = "item_knn"

    def __init__(self, k: int = 50, block: int = 1024):
        self.k = k
        self.block = block

    def fit(self, x: sparse.csr_matrix) -> ItemKNN:
        xt = x.T.tocsr()
        norm = np.sqrt(np.asarray(x.sum(axis=0), dtype=np.float64).ravel())
        n = x.shape[1]
        rows, cols, vals = [], [], []
        for start in range(0, n, self.block):
            stop = min(start + self.block, n)
            co = (xt[start:stop] @ x).toarray().astype(np.float64)
            denom = np.outer(norm[start:stop], norm) + 1e-12
            sim = co / denom
            sim[np.arange(stop - start), np.arange(start, stop)] = 0.0
            idx, val = top_k_rows(sim, self.k)
            keep = val > 0
            rows.append(np.repeat(np.arange(start, stop), idx.shape[1])[keep.ravel()])
            cols.append(idx.ravel()[keep.ravel()])
            vals.append(val.ravel()[keep.ravel()])
        self.sim_ = sparse.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
        )
        return self

    def scores(self, x_rows: sparse.csr_matrix, users: np.ndarray) -> np.ndarray:
        return np.asarray((x_rows @ self.sim_).todense())


class Ease:
    """EASE: a shallow auto-encoder with a closed form (see the module docstring).

    ``lam`` is the L2 regularisation; callers choose it on a validation split
    (:func:`analytics.recommendation.ranking.choose_ranker`).
    """

    name = "ease"
    uses_ratings = False

    def __init__(self, lam: float = 200.0, max_items: int = 2500, min_count: int = 2):
        self.lam = lam
        self.max_items = max_items
        self.min_count = min_count

    def fit(self, x: sparse.csr_matrix) -> Ease:
        self._choose_items(x)
        xk = x[:, self.items_]
        return self._solve((xk.T @ xk).toarray().astype(np.float64))

    def _choose_items(self, x: sparse.csr_matrix) -> None:
        counts = np.diff(x.tocsc().indptr).astype(np.float64)  # customers per product
        eligible = np.flatnonzero(counts >= self.min_count)
        if len(eligible) > self.max_items:
            eligible = eligible[np.argsort(-counts[eligible], kind="stable")[: self.max_items]]
        self.items_ = np.sort(eligible)
        self.n_items_ = x.shape[1]

    def _solve(self, gram: np.ndarray) -> Ease:
        """The zero-diagonal closed form from the Gram matrix of the kept products."""
        gram[np.diag_indices_from(gram)] += self.lam
        with threadpool_limits(2, "blas"):
            p = np.linalg.inv(gram)
        b = -p / np.diag(p)
        np.fill_diagonal(b, 0.0)
        self.b_ = b.astype(np.float32)
        return self

    def scores(self, x_rows: sparse.csr_matrix, users: np.ndarray) -> np.ndarray:
        out = np.zeros((x_rows.shape[0], self.n_items_), dtype=np.float64)
        if len(self.items_):
            kept = np.asarray(x_rows[:, self.items_] @ self.b_, dtype=np.float64)
            # Products outside the EASE block rank below every product in it.
            out[:] = kept.min(axis=1, keepdims=True) - 1.0
            out[:, self.items_] = kept
        return out

    def neighbours(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(index, weight) arrays of shape (products, k): per product its ``k`` largest EASE
        weights towards other products, in product positions; for serving from a history."""
        k = max(1, min(k, len(self.items_) - 1)) if len(self.items_) > 1 else 1
        idx = np.zeros((self.n_items_, k), dtype=np.int32)
        val = np.zeros((self.n_items_, k), dtype=np.float32)
        if len(self.items_) > 1:
            local, weight = top_k_rows(self.b_, k)
            idx[self.items_] = self.items_[local]
            val[self.items_] = np.maximum(weight, 0.0)
        return idx, val


class RatedEase(Ease):
    """EASE fitted on ratings / 5 (:func:`rating_weights`) instead of 0/1, and scored from a
    history weighted the same way: what a customer rated low says less about what they will
    have next than what they rated high, and the Gram matrix learns from the liked pairs most.
    Relevance is unchanged: any product the customer has next counts, whatever its rating."""

    name = "rated_ease"
    uses_ratings = True


class LocalEase(Ease):
    """EASE whose Gram matrix counts two products of a customer by how close they are in the
    customer's time order: ``Σ_u x_ua · x_ub · exp(−|pos_a − pos_b| / scale)`` (pairs more than
    ``3 · scale`` apart are left out; each product with itself counts fully). Plain EASE counts
    every pair of a history alike, so a customer's film of 1996 and one of 2018 teach as much as
    two watched the same week; here what is taken up together counts most. Scored like EASE, from
    the whole history. Needs ``order`` (:func:`order_matrix`) to fit."""

    name = "local_ease"
    uses_order = True

    def __init__(
        self, lam: float = 200.0, scale: float = 30.0, memo: GramMemo | None = None, **kwargs
    ):
        super().__init__(lam=lam, **kwargs)
        self.scale = scale
        self.memo = memo

    def fit(self, x: sparse.csr_matrix, order: sparse.csr_matrix | None = None) -> LocalEase:
        if order is None or order.nnz != x.nnz:
            raise ValueError("LocalEase needs each pair's place in its customer's time order")
        self._choose_items(x)
        self._solve(self._local_gram(x, order))
        return self

    def _local_gram(self, x: sparse.csr_matrix, order: sparse.csr_matrix) -> np.ndarray:
        if self.memo is not None:
            return self.memo.get((x, order), (self.scale, self.items_.tobytes()),
                                 lambda: _local_gram(x, order, self.items_, self.scale))  # fmt: skip
        return _local_gram(x, order, self.items_, self.scale)


class GramMemo:
    """The last Gram matrix computed, for rankers fitted one after another on the same data
    (the validation fits :class:`LocalEase` at several λ on one split): it keeps its input
    matrices alive and matches them by identity, its parameters by value, and hands out copies."""

    def __init__(self) -> None:
        self._inputs: tuple = ()
        self._params: tuple = ()
        self._gram: np.ndarray | None = None

    def get(self, inputs: tuple, params: tuple, compute) -> np.ndarray:
        same = (
            params == self._params
            and len(inputs) == len(self._inputs)
            and all(a is b for a, b in zip(inputs, self._inputs))
        )
        if not same or self._gram is None:
            self._inputs, self._params, self._gram = inputs, params, compute()
        return self._gram.copy()


_PAIR_CHUNK = 4_000_000  # pairs gathered before they are added up (bounds the memory)


def _local_gram(
    x: sparse.csr_matrix, order: sparse.csr_matrix, items: np.ndarray, scale: float
) -> np.ndarray:
    """:class:`LocalEase`'s Gram matrix over the products ``items`` (see there)."""
    n = len(items)
    col = np.full(x.shape[1], -1, dtype=np.int64)
    col[items] = np.arange(n)
    xc, oc = x.tocoo(), order.tocoo()
    # Both matrices have one pattern: align their entries by (row, column).
    xs, os_ = np.lexsort((xc.col, xc.row)), np.lexsort((oc.col, oc.row))
    rows, cols = xc.row[xs], col[xc.col[xs]]
    values, pos = xc.data[xs].astype(np.float64), oc.data[os_].astype(np.float64)
    keep = cols >= 0
    seq = np.lexsort((pos[keep], rows[keep]))  # each customer's products in time order
    rows, cols, values, pos = rows[keep][seq], cols[keep][seq], values[keep][seq], pos[keep][seq]
    gram = np.zeros(n * n)
    gram += np.bincount(cols * n + cols, weights=values * values, minlength=n * n)
    pairs: list[np.ndarray] = []
    weights: list[np.ndarray] = []

    def add_up() -> None:
        if pairs:
            gram[:] += np.bincount(np.concatenate(pairs), np.concatenate(weights), n * n)
            pairs.clear()
            weights.clear()

    reach, gathered = 3.0 * scale, 0
    for d in range(1, len(rows)):
        gap = pos[d:] - pos[:-d]
        near = np.flatnonzero((rows[:-d] == rows[d:]) & (gap <= reach))
        if not len(near):
            break  # within a customer, products only grow further apart with d
        a, b = cols[near], cols[near + d]
        w = np.exp(-gap[near] / scale) * values[near] * values[near + d]
        pairs += [a * n + b, b * n + a]
        weights += [w, w]
        gathered += 2 * len(near)
        if gathered >= _PAIR_CHUNK:
            add_up()
            gathered = 0
    add_up()
    return gram.reshape(n, n)


class ImplicitMF:
    """Implicit-feedback matrix factorisation (``implicit``'s ALS or BPR), one thread.

    ``alpha`` scales the confidence of an observed pair in ALS (1 + alpha); BPR ignores it.
    """

    def __init__(
        self,
        kind: str = "als",
        factors: int = 64,
        regularization: float = 0.05,
        iterations: int = 15,
        alpha: float = 1.0,
        learning_rate: float = 0.01,
        random_state: int = 0,
    ):
        if kind not in ("als", "bpr"):
            raise ValueError("kind must be 'als' or 'bpr'")
        self.kind = kind
        self.factors = factors
        self.regularization = regularization
        self.iterations = iterations
        self.alpha = alpha
        self.learning_rate = learning_rate
        self.random_state = random_state

    @property
    def name(self) -> str:
        return self.kind

    def fit(self, x: sparse.csr_matrix) -> ImplicitMF:
        from implicit.als import AlternatingLeastSquares
        from implicit.bpr import BayesianPersonalizedRanking

        common = dict(
            factors=self.factors,
            regularization=self.regularization,
            iterations=self.iterations,
            random_state=self.random_state,
            num_threads=1,
        )
        # implicit checks the BLAS thread count when a model is made: make it inside the limit.
        with threadpool_limits(1, "blas"):
            if self.kind == "als":
                model = AlternatingLeastSquares(alpha=self.alpha, **common)
            else:
                model = BayesianPersonalizedRanking(learning_rate=self.learning_rate, **common)
            model.fit(x.astype(np.float32).tocsr(), show_progress=False)
        self.user_factors_ = np.asarray(model.user_factors, dtype=np.float32)
        self.item_factors_ = np.asarray(model.item_factors, dtype=np.float32)
        return self

    def scores(self, x_rows: sparse.csr_matrix, users: np.ndarray) -> np.ndarray:
        return self.user_factors_[users] @ self.item_factors_.T
