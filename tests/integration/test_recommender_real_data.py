"""The recommender on real data: MovieLens latest-small (610 users, 100,836 ratings), read from
``../shared/data`` beside the repository (or ``SHOPBOT_SHARED_DATA``), never copied into it.

Under the project's temporal split (each customer's latest 20% held out) the served ranker,
chosen on a validation split of the training part only, must beat every baseline of the same
run, and EASE (the strongest) by a clear margin: measured 0.137 vs 0.123 precision@10 and 0.156
vs 0.132 NDCG@10 (bench/REPORT.md, "Recommenders × protocols × data sets").
"""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics.recommendation.evaluation import evaluate_recommender
from shop import settings
from shop.importers.ratings import import_ratings

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(settings.SHARED_DATA.get() or ROOT.parent / "shared" / "data")
RATINGS = SHARED / "movielens-latest-small" / "ratings.csv"

pytestmark = pytest.mark.skipif(
    not RATINGS.exists(), reason=f"MovieLens latest-small is not at {RATINGS}"
)


def test_served_ranker_clearly_beats_every_baseline_on_movielens_temporal(engine):
    report = import_ratings(engine, RATINGS)
    assert report.rows_kept == 100_836
    result = evaluate_recommender(engine, protocol="temporal")
    assert result["split"]["held_out_pairs"] == 20_464
    ranking = result["ranking"]
    served = ranking["served"]
    baselines = {k: v for k, v in ranking.items() if k != "served"}
    assert set(baselines) >= {"ease", "item_knn", "popularity", "cooccurrence", "svd"}
    for name, scores in baselines.items():
        assert served["ndcg@10"] > scores["ndcg@10"], name
        assert served["precision@10"] > scores["precision@10"], name
    ease = ranking["ease"]
    assert served["precision@10"] >= 1.05 * ease["precision@10"]
    assert served["ndcg@10"] >= 1.10 * ease["ndcg@10"]
    assert served["recall@10"] >= 1.15 * ease["recall@10"]
