"""Product recommendations: a top-N ranker chosen by validation (EASE, item-kNN, ALS, BPR or
popularity), a surprise rating model (SVD or item-based KNNBaseline) for rating estimates, item
co-occurrence for "similar to X", popularity for cold starts.

Training signal (one value per customer and product, on surprise's 1–5 scale)
    * an explicit rating (``ratings`` table, 1–5) is used as given; it always wins;
    * a purchase without a rating is an implicit rating: 4.0 for a product ordered in one order,
      +0.5 per further order that contains it, capped at 5.0 (``signal.implicit_rating``);
      cancelled orders do not count (``analytics.data.load_purchases`` drops them);
    * a rating without a purchase (e.g. imported MovieLens data) is used too.
    With purchases but no explicit ratings the model still trains (implicit only) and the metrics
    say so (``signal.note``).

Rating model
    surprise ``SVD`` and ``KNNBaseline`` (``sim_options={"name": "pearson_baseline",
    "user_based": False}``) are compared on the same held-out split by RMSE and MAE; the lower
    RMSE is kept and reported (``metrics["chosen"]``).

Ranking (top-N)
    Rating predictors rank poorly (surprise SVD: P@10 0.07 on MovieLens latest-small, EASE
    0.36), so the list comes from a top-N ranker chosen on a validation split of the training
    data (``ranking.choose_ranker``; the random protocol averages 3 validation splits): EASE
    (closed form, λ 50/200/800) on 0/1 or on rating-weighted histories (rating / 5) or on
    time-local co-occurrence (products counted together by how close they are in each
    customer's time order: ``rankers.LocalEase``), item-kNN,
    implicit ALS and BPR, or popularity, optionally with recent history weighing more and
    blended with the popularity prior (the segment's when the stored segmentation knows the customer). The
    former blend ``0.8 · co-occurrence + 0.1 · surprise estimate + 0.1 · recent popularity``
    stays available as ``ranker="blend"``; co-occurrence (Jaccard between products, the 100
    nearest neighbours kept) still serves ``similar(sku)``. Popularity: distinct customers in
    the last 90 days of the data (all-time breaks ties).

Serving rules
    never a product the customer already bought or rated, never inactive or out of stock
    (``on_hand <= 0``; refresh with ``Recommender.update_stock`` without refitting) — unless the
    shop has no stock figures at all (no active product with anything on hand or on order, as
    right after importing only sales): stock is then unknown, not zero, so any active product may
    be recommended and ``stock_known_`` is False for callers to say so; customers
    without history get their segment's bestsellers (newest stored segmentation), then overall
    ones; ``similar(sku)`` gives co-occurrence neighbours.

Evaluation (``evaluation.evaluate_frames``): the served ranker against popularity, item-kNN,
EASE, ALS, BPR, SVD and co-occurrence on one split, per-customer temporal or random
(``splits``).
"""

from analytics.recommendation.evaluation import (
    evaluate_frames,
    evaluate_recommender,
    load_frames,
    train_recommender,
)
from analytics.recommendation.model import Recommendation, Recommender
from analytics.recommendation.signal import build_signal, implicit_rating

__all__ = [
    "Recommendation",
    "Recommender",
    "build_signal",
    "evaluate_frames",
    "evaluate_recommender",
    "implicit_rating",
    "load_frames",
    "train_recommender",
]
