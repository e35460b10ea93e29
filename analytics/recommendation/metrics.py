"""Top-N ranking metrics with binary relevance: precision, recall and NDCG at k."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def precision_at_k(ranked: Sequence, relevant: Iterable, k: int = 10) -> float:
    """Hits in the first ``k`` divided by ``k`` (a short list is not rewarded for being short)."""
    rel = set(relevant)
    return sum(1 for x in ranked[:k] if x in rel) / k


def recall_at_k(ranked: Sequence, relevant: Iterable, k: int = 10) -> float:
    """Hits in the first ``k`` divided by the number of relevant items (0 when there are none)."""
    rel = set(relevant)
    if not rel:
        return 0.0
    return sum(1 for x in ranked[:k] if x in rel) / len(rel)


def ndcg_at_k(ranked: Sequence, relevant: Iterable, k: int = 10) -> float:
    """DCG of the first ``k`` (gain 1/log2(rank+1)) over the best possible DCG for this user."""
    rel = set(relevant)
    if not rel:
        return 0.0
    dcg = sum(1.0 / math.log2(r + 2) for r, x in enumerate(ranked[:k]) if x in rel)
    ideal = sum(1.0 / math.log2(r + 2) for r in range(min(len(rel), k)))
    return dcg / ideal


def mean_ranking_metrics(
    lists: Iterable[tuple[Sequence, Iterable]], k: int = 10
) -> dict[str, float | int]:
    """precision@k, recall@k, ndcg@k and hit_rate@k averaged over (ranked, relevant) pairs."""
    n = 0
    p = r = g = h = 0.0
    for ranked, relevant in lists:
        rel = set(relevant)
        n += 1
        p += precision_at_k(ranked, rel, k)
        r += recall_at_k(ranked, rel, k)
        g += ndcg_at_k(ranked, rel, k)
        h += 1.0 if any(x in rel for x in ranked[:k]) else 0.0
    if n == 0:
        return {
            f"precision@{k}": 0.0,
            f"recall@{k}": 0.0,
            f"ndcg@{k}": 0.0,
            f"hit_rate@{k}": 0.0,
            "users": 0,
        }
    return {
        f"precision@{k}": p / n,
        f"recall@{k}": r / n,
        f"ndcg@{k}": g / n,
        f"hit_rate@{k}": h / n,
        "users": n,
    }


def topn_metrics(top, relevant, k: int = 10, n_items: int | None = None) -> dict[str, float | int]:
    """precision@k, recall@k, ndcg@k, hit_rate@k and catalogue coverage (share of products that
    appear in any list) of ``top`` (users × k product positions, best first) against the rows of
    ``relevant`` (a scipy CSR matrix, users × products, nonzero = relevant), all at once."""
    import numpy as np

    top = np.asarray(top)[:, :k]
    n = top.shape[0]
    if n == 0:
        return {**mean_ranking_metrics([], k), "coverage": 0.0}
    rows = np.repeat(np.arange(n), top.shape[1])
    hits = (np.asarray(relevant[rows, top.ravel()]).ravel() != 0).reshape(top.shape).astype(float)
    n_rel = np.diff(relevant.indptr).astype(np.float64)
    gains = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.cumsum(gains)[np.clip(n_rel.astype(int), 1, k) - 1]
    ok = n_rel > 0
    return {
        f"precision@{k}": float(hits.sum(axis=1).mean() / k),
        f"recall@{k}": float(np.where(ok, hits.sum(axis=1) / np.maximum(n_rel, 1), 0).mean()),
        f"ndcg@{k}": float(np.where(ok, (hits * gains).sum(axis=1) / ideal, 0).mean()),
        f"hit_rate@{k}": float((hits.sum(axis=1) > 0).mean()),
        "users": int(n),
        "coverage": float(len(np.unique(top)) / n_items) if n_items else 0.0,
    }
