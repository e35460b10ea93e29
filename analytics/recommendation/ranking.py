"""The served ranker, chosen on a validation split of the training data (never the test data).

Candidates: EASE at a few regularisations (on 0/1 and on rating-weighted histories, and on
time-local co-occurrence: :class:`rankers.LocalEase`), item-kNN,
implicit ALS and BPR, popularity, each alone and blended with the popularity prior; EASE and
item-kNN also with a customer's recent products weighing more (a product's weight halves every
``h`` products bought after it). Each is fitted on
the training customers' earlier (or a random part of their) products and scored on the rest by
NDCG@10; the best is refitted on all the training data and served (:class:`ServedRanker`).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable

import numpy as np
from scipy import sparse

from analytics.recommendation import rankers
from analytics.recommendation.metrics import topn_metrics

log = logging.getLogger(__name__)

PROTOCOLS = ("temporal", "random")
EASE_LAMBDAS = (50.0, 200.0, 800.0)
PRIOR_WEIGHTS = (0.0, 0.1, 0.3)
RECENCY_HALF_LIVES = (None, 5.0, 20.0)  # in products, newest first; None: all weigh the same
VALIDATION_FRACTION = 0.2
RANDOM_VALIDATION_FOLDS = 3  # random validation splits averaged (the temporal one is unique)
SHORTLIST = 6  # candidates the first split keeps for the further ones
BASELINE_LABELS = tuple(f"ease@{lam:g}" for lam in EASE_LAMBDAS)  # scored on every split


def holdout_mask(
    users: np.ndarray,
    first_at: np.ndarray,
    protocol: str,
    fraction: float,
    seed: int = 0,
) -> np.ndarray:
    """Which (user, item) pairs to hold out, per user: ``temporal`` = the latest ``fraction`` by
    first interaction, ``random`` = a random ``fraction``; at least one pair for users with two
    or more, none for users with one (they would have no history left)."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, not {protocol!r}")
    n = len(users)
    rng = np.random.default_rng(seed)
    if protocol == "temporal":
        key = np.asarray(first_at, dtype=np.float64)
    else:
        key = rng.random(n)
    # Tie-break on a random draw so equal times do not always favour low item ids.
    order = np.lexsort((rng.random(n), key, users))
    u = users[order]
    size = np.bincount(u)[u]
    starts = np.r_[0, np.flatnonzero(np.diff(u)) + 1]
    pos = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    n_test = np.where(size >= 2, np.maximum(1, np.round(size * fraction)), 0).astype(int)
    mask = np.zeros(n, dtype=bool)
    mask[order] = pos >= size - n_test
    return mask


def recency_rank(users: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Per pair: how many of the same user's pairs are newer (0 = the newest)."""
    n = len(users)
    order = np.lexsort((-np.asarray(times, dtype=np.float64), users))
    u = users[order]
    starts = np.r_[0, np.flatnonzero(np.diff(u)) + 1] if n else np.zeros(0, dtype=int)
    pos = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    rank = np.empty(n, dtype=np.float64)
    rank[order] = pos
    return rank


def recency_weights(rank: np.ndarray, half_life: float | None) -> np.ndarray:
    """0.5 ** (rank / half_life): the weight of a history item (1 for all without half-life)."""
    if not half_life:
        return np.ones(len(rank))
    return np.power(0.5, np.asarray(rank, dtype=np.float64) / half_life)


def _minmax_rows(s: np.ndarray) -> np.ndarray:
    lo = s.min(axis=1, keepdims=True)
    hi = s.max(axis=1, keepdims=True)
    span = np.where(hi > lo, hi - lo, 1.0)
    return (s - lo) / span


def candidates(
    random_state: int = 0, with_mf: bool = True
) -> dict[str, Callable[[], rankers.Ranker]]:
    """The rankers the served one is chosen from, by name (``ease@200`` = EASE with λ 200)."""
    out: dict[str, Callable[[], rankers.Ranker]] = {
        f"ease@{lam:g}": functools.partial(rankers.Ease, lam=lam) for lam in EASE_LAMBDAS
    }
    out |= {
        f"rated_ease@{lam:g}": functools.partial(rankers.RatedEase, lam=lam) for lam in EASE_LAMBDAS
    }
    memo = rankers.GramMemo()  # one local Gram for every λ fitted on the same data
    out |= {
        f"local_ease@{lam:g}": functools.partial(rankers.LocalEase, lam=lam, memo=memo)
        for lam in EASE_LAMBDAS
    }
    out["item_knn"] = lambda: rankers.ItemKNN()
    if with_mf and implicit_available():
        out["als"] = lambda: rankers.ImplicitMF("als", random_state=random_state)
        out["bpr"] = lambda: rankers.ImplicitMF(
            "bpr", iterations=100, learning_rate=0.01, random_state=random_state
        )
    out["popularity"] = lambda: rankers.Popularity()
    return out


def implicit_available() -> bool:
    try:
        import implicit  # noqa: F401
    except ImportError:
        return False
    return True


def evaluate_scores(
    scorer: Callable[[np.ndarray], np.ndarray],
    x_train: sparse.csr_matrix,
    x_test: sparse.csr_matrix,
    k: int = 10,
    batch: int = 512,
) -> dict:
    """Top-k metrics of ``scorer(users) -> scores`` for every user with held-out products;
    products in ``x_train`` are never counted as recommendations."""
    return evaluate_variants(scorer, {"": None}, x_train, x_test, k, batch)[""]


def evaluate_variants(
    scorer: Callable[[np.ndarray], np.ndarray],
    variants: dict[str, Callable[[np.ndarray], np.ndarray] | None],
    x_train: sparse.csr_matrix,
    x_test: sparse.csr_matrix,
    k: int = 10,
    batch: int = 512,
) -> dict[str, dict]:
    """{name: :func:`evaluate_scores` of ``variant(scorer(users))``} (None: the scores as they
    are), scoring each batch of users once for all the variants."""
    users = np.flatnonzero(np.diff(x_test.indptr) > 0)
    tops: dict[str, list] = {name: [] for name in variants}
    for start in range(0, len(users), batch):
        rows = users[start : start + batch]
        raw = scorer(rows)
        seen = x_train[rows]
        at = (np.repeat(np.arange(len(rows)), np.diff(seen.indptr)), seen.indices)
        for name, variant in variants.items():
            s = np.array(raw if variant is None else variant(raw), dtype=np.float64, copy=True)
            s[at] = -np.inf
            tops[name].append(rankers.top_k_rows(s, k)[0])
    relevant = x_test[users]
    return {
        name: topn_metrics(
            np.concatenate(t) if t else np.zeros((0, k), dtype=np.int32),
            relevant,
            k,
            n_items=x_train.shape[1],
        )  # fmt: skip
        for name, t in tops.items()
    }


@dataclasses.dataclass
class Choice:
    """The validation's verdict: the ranker, the popularity-prior weight and every score."""

    name: str
    prior_weight: float
    validation: dict  # candidate -> metrics on the validation split
    protocol: str
    half_life: float | None = None  # recency weighting of the history (EASE, item-kNN)


def validation_folds(protocol: str) -> int:
    """How many validation splits the choice averages over: the temporal hold-out is the same
    split whatever the seed, random ones differ, and one of them alone is noisy (on MovieLens
    latest-small the NDCG@10 order of EASE's λ changes from seed to seed)."""
    return RANDOM_VALIDATION_FOLDS if protocol == "random" else 1


def choose_ranker(
    users: np.ndarray,
    items: np.ndarray,
    first_at: np.ndarray,
    shape: tuple[int, int],
    *,
    protocol: str = "temporal",
    random_state: int = 0,
    with_mf: bool = True,
    k: int = 10,
    ratings: np.ndarray | None = None,
) -> Choice:
    """Fits every candidate on validation splits of the (user, item) pairs and returns the one
    with the best NDCG@k averaged over the splits (ties: the earlier candidate), with the best
    popularity-prior weight and recency half-life. Every candidate is scored on the first split,
    the ``SHORTLIST`` best of it on the others too, and only they can be chosen then; plain
    EASE at every λ is always scored on every split, since the evaluation's EASE baseline takes
    the λ this validation prefers (:data:`BASELINE_LABELS`). ``ratings`` (one per pair, 1–5)
    feed the rankers that use them; without, every pair is a 5."""
    fold = functools.partial(_validate_fold, users, items, first_at, shape, protocol=protocol,
                             with_mf=with_mf, k=k, ratings=ratings)  # fmt: skip
    first, labels = fold(seed=random_state)
    n_folds = validation_folds(protocol)
    key = f"ndcg@{k}"
    short = sorted(first, key=lambda lbl: -first[lbl][key])[:SHORTLIST] if n_folds > 1 else first
    short = list(short) + [lbl for lbl in BASELINE_LABELS if lbl in first and lbl not in short]
    folds = [first] + [fold(seed=random_state + f, only=set(short))[0] for f in range(1, n_folds)]
    results: dict[str, dict] = {}
    best: tuple[float, str, float, float | None] | None = None
    for label, (name, w, h) in labels.items():
        runs = [fold[label] for fold in folds if label in fold]
        results[label] = {m: float(np.mean([r[m] for r in runs])) for m in runs[0]}
        results[label] |= {"users": int(runs[0]["users"]), "splits": len(runs)}
        score = results[label][key]
        if label in short and (best is None or score > best[0] + 1e-12):
            best = (score, name, w, h)
    if best is None:
        return Choice("popularity", 0.0, results, protocol)
    return Choice(best[1], best[2], results, protocol, best[3])


def _validate_fold(
    users: np.ndarray,
    items: np.ndarray,
    first_at: np.ndarray,
    shape: tuple[int, int],
    *,
    protocol: str,
    seed: int,
    with_mf: bool,
    k: int,
    ratings: np.ndarray | None,
    only: set[str] | None = None,
) -> tuple[dict[str, dict], dict[str, tuple[str, float, float | None]]]:
    """({label: metrics}, {label: (candidate, prior weight, half-life)}) on one validation split
    (``seed`` draws it for the random protocol and seeds the factor models); ``only``: just
    these labels."""
    held = holdout_mask(users, first_at, protocol, VALIDATION_FRACTION, seed)
    value = _values(ratings, len(users))[~held]
    x_fit = rankers.binary_matrix(users[~held], items[~held], shape)
    x_rated = sparse.csr_matrix((value, (users[~held], items[~held])), shape=shape)
    x_val = rankers.binary_matrix(users[held], items[held], shape)
    pop = np.asarray(x_fit.sum(axis=0), dtype=np.float64).ravel()
    pop = pop / pop.max() if pop.max() > 0 else pop
    rank = recency_rank(users[~held], first_at[~held])
    x_order = rankers.order_matrix(users[~held], items[~held], rank, shape)
    results: dict[str, dict] = {}
    labels: dict[str, tuple[str, float, float | None]] = {}
    for name, make in candidates(seed, with_mf).items():
        if only is not None and not any(lbl.split("+")[0] == name for lbl in only):
            continue
        try:
            model = _fit(make(), x_rated, x_fit, x_order)
        except (ValueError, np.linalg.LinAlgError, MemoryError) as exc:
            log.warning("validation: %s could not be fitted: %s", name, exc)
            continue
        by_history = isinstance(model, (rankers.Ease, rankers.ItemKNN))
        for h in RECENCY_HALF_LIVES if by_history else (None,):
            weights = recency_weights(rank, h) * (value if _uses_ratings(model) else 1.0)
            x_w = sparse.csr_matrix((weights, (users[~held], items[~held])), shape=shape)
            variants: dict[str, Callable[[np.ndarray], np.ndarray] | None] = {}
            for w in PRIOR_WEIGHTS if name != "popularity" else (0.0,):
                label = name + (f"+recency{h:g}" if h else "") + (f"+popularity×{w:g}" if w else "")
                if only is None or label in only:
                    variants[label] = functools.partial(_with_prior, pop, w) if w else None
                    labels[label] = (name, w, h)
            if variants:
                scorer = functools.partial(_raw_scores, model, x_w)
                results |= evaluate_variants(scorer, variants, x_fit, x_val, k)
    return results, labels


def _with_prior(pop: np.ndarray, w: float, s: np.ndarray) -> np.ndarray:
    return _minmax_rows(s) + w * pop


def _raw_scores(model: rankers.Ranker, x_w: sparse.csr_matrix, rows: np.ndarray) -> np.ndarray:
    return model.scores(x_w[rows], rows)


def _values(ratings: np.ndarray | None, n: int) -> np.ndarray:
    return rankers.rating_weights(np.full(n, rankers.RATING_MAX) if ratings is None else ratings)


def _uses_ratings(model) -> bool:
    return bool(getattr(model, "uses_ratings", False))


def _fit(model, x_rated: sparse.csr_matrix, x_binary: sparse.csr_matrix,
         x_order: sparse.csr_matrix):  # fmt: skip
    """``model`` fitted on the matrix it reads (rated or 0/1), with the time order if it uses it."""
    x = x_rated if _uses_ratings(model) else x_binary
    return model.fit(x, x_order) if getattr(model, "uses_order", False) else model.fit(x)


def make_ranker(name: str, random_state: int = 0):
    """An unfitted ranker for a candidate name from :func:`candidates`."""
    return candidates(random_state)[name]()


@dataclasses.dataclass
class ServedRanker:
    """A fitted ranker kept as plain numpy arrays for serving (no ``implicit`` at load time).

    ``kind``: ``ease`` (``items`` = product positions in the EASE block, ``weights`` = its
    matrix), ``factors`` (``users`` × ``items_f`` factor matrices), ``neighbours`` (a sparse
    product × product similarity) or ``popularity``. ``rated``: the history's items weigh by
    their rating (:func:`rankers.rating_weights`), as the ranker was fitted.
    """

    name: str
    kind: str
    prior_weight: float
    n_items: int
    half_life: float | None = None
    ease_items: np.ndarray | None = None
    ease_pos: np.ndarray | None = None
    ease_b: np.ndarray | None = None
    user_factors: np.ndarray | None = None
    item_factors: np.ndarray | None = None
    similarity: sparse.csr_matrix | None = None
    counts: np.ndarray | None = None
    rated: bool = False

    @classmethod
    def from_fitted(cls, name: str, model, prior_weight: float) -> ServedRanker:
        n_items = getattr(model, "n_items_", None)
        if isinstance(model, rankers.Ease):
            pos = np.full(model.n_items_, -1, dtype=np.int64)
            pos[model.items_] = np.arange(len(model.items_))
            return cls(name, "ease", prior_weight, model.n_items_, ease_items=model.items_,
                       ease_pos=pos, ease_b=model.b_, rated=model.uses_ratings)  # fmt: skip
        if isinstance(model, rankers.ImplicitMF):
            n_items = model.item_factors_.shape[0]
            return cls(name, "factors", prior_weight, n_items,
                       user_factors=model.user_factors_, item_factors=model.item_factors_)  # fmt: skip
        if isinstance(model, rankers.ItemKNN):
            return cls(name, "neighbours", prior_weight, model.sim_.shape[0],
                       similarity=model.sim_)  # fmt: skip
        counts = model.counts_
        return cls(name, "popularity", prior_weight, n_items or len(counts), counts=counts)

    def _weights(
        self, history: np.ndarray, rank: np.ndarray | None, ratings: np.ndarray | None
    ) -> np.ndarray:
        weights = recency_weights(rank if rank is not None else np.zeros(len(history)),
                                  self.half_life)  # fmt: skip
        if self.rated and ratings is not None:
            weights = weights * rankers.rating_weights(ratings)
        return weights

    def scores(
        self,
        u: int,
        history: np.ndarray,
        rank: np.ndarray | None = None,
        ratings: np.ndarray | None = None,
    ) -> np.ndarray:
        """Raw scores of every product for customer position ``u`` with these history items
        (``rank``: how many newer items each has, for the recency weighting; ``ratings``: their
        1–5 ratings, for a ``rated`` ranker)."""
        weights = self._weights(history, rank, ratings)
        if self.kind == "ease":
            assert self.ease_pos is not None and self.ease_b is not None
            assert self.ease_items is not None
            rows = self.ease_pos[history]
            ok = rows >= 0
            kept = np.einsum("i,ij->j", weights[ok], self.ease_b[rows[ok]].astype(np.float64))
            # Products outside the EASE block rank below every product in it.
            out = np.full(self.n_items, kept.min() - 1.0 if len(kept) else 0.0)
            out[self.ease_items] = kept
            return out
        if self.kind == "factors":
            assert self.user_factors is not None and self.item_factors is not None
            # einsum rather than a BLAS matvec: BLAS threads waking up cost milliseconds here.
            return np.einsum("ij,j->i", self.item_factors, self.user_factors[u]).astype(np.float64)
        if self.kind == "neighbours":
            assert self.similarity is not None
            return np.asarray(weights @ self.similarity[history], dtype=np.float64).ravel()
        assert self.counts is not None
        return np.asarray(self.counts, dtype=np.float64)

    def contributions(
        self,
        history: np.ndarray,
        targets: np.ndarray,
        rank: np.ndarray | None = None,
        ratings: np.ndarray | None = None,
    ) -> np.ndarray | None:
        """(history, targets) weights of each history item towards each target, for "because
        you bought …" reasons; None when the ranker has no such item-to-item weights."""
        weights = self._weights(history, rank, ratings)[:, None]
        return None if (raw := self._pair_weights(history, targets)) is None else weights * raw

    def _pair_weights(self, history: np.ndarray, targets: np.ndarray) -> np.ndarray | None:
        if self.kind == "ease":
            assert self.ease_pos is not None and self.ease_b is not None
            out = np.zeros((len(history), len(targets)))
            rows, cols = self.ease_pos[history], self.ease_pos[targets]
            ok_r, ok_c = rows >= 0, cols >= 0
            out[np.ix_(ok_r, ok_c)] = self.ease_b[np.ix_(rows[ok_r], cols[ok_c])]
            return out
        if self.kind == "neighbours":
            assert self.similarity is not None
            return self.similarity[history][:, targets].toarray()
        return None


def fit_served(
    users: np.ndarray,
    items: np.ndarray,
    first_at: np.ndarray,
    shape: tuple[int, int],
    *,
    ranker: str = "auto",
    protocol: str = "temporal",
    random_state: int = 0,
    ratings: np.ndarray | None = None,
) -> tuple[ServedRanker, Choice | None]:
    """The served ranker fitted on every pair: ``ranker="auto"`` chooses it on a validation
    split (:func:`choose_ranker`), a candidate name (e.g. ``ease@200``) fixes it. ``ratings``
    (one per pair) as in :func:`choose_ranker`."""
    choice = None
    prior_weight, half_life = 0.0, None
    if ranker == "auto":
        choice = choose_ranker(users, items, first_at, shape, protocol=protocol,
                               random_state=random_state, ratings=ratings)  # fmt: skip
        ranker, prior_weight, half_life = choice.name, choice.prior_weight, choice.half_life
    x_rated = sparse.csr_matrix((_values(ratings, len(users)), (users, items)), shape=shape)
    x_order = rankers.order_matrix(users, items, recency_rank(users, first_at), shape)
    model = _fit(make_ranker(ranker, random_state), x_rated,
                 rankers.binary_matrix(users, items, shape), x_order)  # fmt: skip
    served = ServedRanker.from_fitted(ranker, model, prior_weight)
    served.half_life = half_life
    return served, choice
