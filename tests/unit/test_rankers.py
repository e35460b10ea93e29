"""The recommender's rankers, splits and validation: known answers on planted data."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from analytics.recommendation import rankers
from analytics.recommendation.metrics import mean_ranking_metrics, topn_metrics
from analytics.recommendation.ranking import (
    ServedRanker,
    choose_ranker,
    evaluate_scores,
    holdout_mask,
    recency_rank,
)
from analytics.recommendation.splits import random_split


def paired_matrix(n_users: int = 400, n_pairs: int = 30, seed: int = 0):
    """Products come in pairs (2j, 2j+1) bought together; each customer buys 3 whole pairs
    and one random single product. Popularity is flat by construction."""
    rng = np.random.default_rng(seed)
    users, items = [], []
    for u in range(n_users):
        for j in rng.choice(n_pairs, 3, replace=False):
            users += [u, u]
            items += [2 * j, 2 * j + 1]
        users.append(u)
        items.append(int(rng.integers(2 * n_pairs)))
    return rankers.binary_matrix(np.array(users), np.array(items), (n_users, 2 * n_pairs))


def test_ease_recovers_planted_co_purchases():
    x = paired_matrix()
    ease = rankers.Ease(lam=10.0).fit(x)
    partner = np.arange(x.shape[1]) ^ 1  # 2j <-> 2j+1
    # Every product's largest EASE weight points at its planted partner ...
    assert (np.argmax(ease.b_, axis=1) == partner[ease.items_]).all()
    # ... and a customer holding one product of a pair gets the other first.
    for i in (0, 7, 30, 59):
        row = rankers.binary_matrix(np.array([0]), np.array([i]), (1, x.shape[1]))
        assert int(np.argmax(ease.scores(row, np.array([0]))[0])) == partner[i]
    idx, val = ease.neighbours(3)
    assert (idx[:, 0] == partner).all() and (val[:, 0] > 0).all()


def test_ease_leaves_rare_products_out_of_its_block_and_below_the_rest():
    x = paired_matrix()
    ease = rankers.Ease(lam=10.0, max_items=20).fit(x)
    assert len(ease.items_) == 20
    s = ease.scores(x[:5], np.arange(5))
    outside = np.setdiff1d(np.arange(x.shape[1]), ease.items_)
    assert (s[:, outside].max(axis=1) < s[:, ease.items_].min(axis=1)).all()


@pytest.mark.parametrize(
    "ranker", [rankers.ItemKNN(k=5), rankers.ImplicitMF("als", factors=32, iterations=15)]
)
def test_neighbour_and_factor_rankers_find_the_partner(ranker):
    x = paired_matrix()
    ranker.fit(x)
    s = np.asarray(ranker.scores(x, np.arange(x.shape[0])), dtype=float)
    s[x.nonzero()] = -np.inf
    # Customers whose random single product broke a pair should get its partner on top.
    hits = total = 0
    for u in range(x.shape[0]):
        own = x[u].indices
        lonely = [i for i in own if (i ^ 1) not in own]
        if lonely:
            total += 1
            hits += int(np.argmax(s[u])) == (lonely[0] ^ 1)
    assert hits / total > 0.7


def test_holdout_mask_by_protocol():
    users = np.array([0, 0, 0, 0, 1, 1, 2, 3, 3, 3, 3, 3, 3, 3, 3])
    first = np.arange(len(users), dtype=float)[::-1]  # later rows are older
    t = holdout_mask(users, first, "temporal", 0.25)
    # user 0: 4 products -> 1 held out, the newest (row 0); user 1: 2 -> 1 (row 4);
    # user 2: one product -> none; user 3: 8 -> 2, the two newest (rows 7 and 8).
    assert np.flatnonzero(t).tolist() == [0, 4, 7, 8]
    r = holdout_mask(users, first, "random", 0.25, seed=3)
    assert np.bincount(users[r], minlength=4).tolist() == [1, 1, 0, 2]
    draws = {tuple(np.flatnonzero(holdout_mask(users, first, "random", 0.25, s))) for s in range(8)}
    assert len(draws) > 1  # random really is random across seeds
    with pytest.raises(ValueError):
        holdout_mask(users, first, "sideways", 0.25)


def test_random_split_removes_every_interaction_with_a_held_out_product():
    t = pd.Timestamp("2025-01-01")
    purchases = pd.DataFrame(
        {
            "order_id": np.arange(40),
            "customer_id": np.repeat([1, 2, 3, 4], 10),
            "product_id": np.tile(np.arange(10), 4),
            "placed_at": [t + dt.timedelta(days=d) for d in range(40)],
        }
    )
    ratings = purchases[["customer_id", "product_id"]].assign(
        rating=4.0, rated_at=t + dt.timedelta(days=50)
    )
    train_p, train_r, test = random_split(purchases, ratings, 0.25, seed=0)
    assert test.groupby("customer_id").size().tolist() == [2, 2, 2, 2]  # round(2.5) = 2
    held = set(zip(test.customer_id, test.product_id))
    assert not held & set(zip(train_p.customer_id, train_p.product_id))
    assert not held & set(zip(train_r.customer_id, train_r.product_id))
    assert len(train_p) == len(train_r) == 32


def test_vectorised_metrics_equal_the_per_list_ones():
    rng = np.random.default_rng(0)
    top = np.array([rng.choice(50, 10, replace=False) for _ in range(30)])
    rel_users, rel_items = [], []
    for u in range(30):
        for i in rng.choice(50, int(rng.integers(1, 15)), replace=False):
            rel_users.append(u)
            rel_items.append(i)
    relevant = rankers.binary_matrix(np.array(rel_users), np.array(rel_items), (30, 50))
    fast = topn_metrics(top, relevant, 10, n_items=50)
    slow = mean_ranking_metrics(
        [(top[u].tolist(), relevant[u].indices.tolist()) for u in range(30)], 10
    )
    for key in ("precision@10", "recall@10", "ndcg@10", "hit_rate@10"):
        assert fast[key] == pytest.approx(slow[key])
    assert fast["coverage"] == len(np.unique(top)) / 50


def test_validation_prefers_structure_to_popularity_and_never_sees_the_test():
    x = paired_matrix(seed=1)
    users, items = x.nonzero()
    first = np.random.default_rng(0).random(len(users))
    choice = choose_ranker(users, items, first, x.shape, protocol="random", random_state=0)
    # An item-to-item ranker (the time-local EASE is plain EASE on 7-product histories).
    assert choice.name.split("@")[0] in ("ease", "local_ease") or choice.name == "item_knn"
    pop = choice.validation["popularity"]["ndcg@10"]
    assert choice.validation[choice.name]["ndcg@10"] > 2 * pop
    # Scoring by the planted partner alone is what a perfect ranker would do: EASE gets close.
    held = holdout_mask(users, first, "random", 0.2, 0)
    x_fit = rankers.binary_matrix(users[~held], items[~held], x.shape)
    x_val = rankers.binary_matrix(users[held], items[held], x.shape)
    partner = rankers.binary_matrix(np.arange(x.shape[1]), np.arange(x.shape[1]) ^ 1,
                                    (x.shape[1],) * 2)  # fmt: skip
    oracle = evaluate_scores(lambda r: (x_fit[r] @ partner).toarray(), x_fit, x_val)
    ease = choice.validation[choice.name]
    assert ease["recall@10"] >= 0.9 * oracle["recall@10"]


def test_recency_rank_by_hand():
    users = np.array([0, 0, 0, 1, 1])
    times = np.array([5.0, 9.0, 1.0, 3.0, 2.0])
    assert recency_rank(users, times).tolist() == [1, 0, 2, 0, 1]


def test_validation_weighs_recent_history_when_tastes_drift():
    """Each customer buys 8 products of one block, then 4 of the next: what comes next is in the
    newer block, so the temporal validation should prefer recent history."""
    rng = np.random.default_rng(0)
    n_blocks, size = 10, 12
    users, items, times = [], [], []
    for u in range(500):
        first = int(rng.integers(n_blocks))
        picks = [(first, 8), ((first + 1) % n_blocks, 6)]
        t = 0
        for block, n in picks:
            for i in rng.choice(size, n, replace=False):
                users.append(u)
                items.append(block * size + int(i))
                times.append(t)
                t += 1
    users_a, items_a = np.array(users), np.array(items)
    choice = choose_ranker(users_a, items_a, np.array(times, dtype=float),
                           (500, n_blocks * size), protocol="temporal")  # fmt: skip
    assert choice.half_life is not None, choice.name
    plain = choice.validation[choice.name]["ndcg@10"] if choice.name in choice.validation else 0
    chosen = max(v["ndcg@10"] for v in choice.validation.values())
    assert chosen > plain


def test_rated_ease_follows_what_the_customer_liked():
    x = paired_matrix()
    ease = rankers.RatedEase(lam=10.0).fit(x)  # every pair rated 5: the same as 0/1 EASE
    np.testing.assert_allclose(ease.b_, rankers.Ease(lam=10.0).fit(x).b_)
    served = ServedRanker.from_fitted("rated_ease@10", ease, 0.0)
    assert served.rated
    history = np.array([0, 10])  # partners: 1 and 11
    liked_first = served.scores(0, history, ratings=np.array([5.0, 1.0]))
    liked_second = served.scores(0, history, ratings=np.array([1.0, 5.0]))
    assert liked_first[1] > liked_first[11] and liked_second[11] > liked_second[1]
    reasons = served.contributions(history, np.array([1, 11]), ratings=np.array([5.0, 1.0]))
    assert reasons is not None and reasons[0, 0] > reasons[1, 1] > 0
    # A 0/1 ranker ignores ratings.
    plain = ServedRanker.from_fitted("ease@10", rankers.Ease(lam=10.0).fit(x), 0.0)
    np.testing.assert_allclose(plain.scores(0, history, ratings=np.array([5.0, 1.0])),
                               plain.scores(0, history, ratings=np.array([1.0, 5.0])))  # fmt: skip


def noisy_pairs(n_users: int = 400, n_pairs: int = 30, seed: int = 0):
    """Each customer rates 3 planted pairs 5 stars and 4 random products 1 star."""
    rng = np.random.default_rng(seed)
    users, items, ratings = [], [], []
    for u in range(n_users):
        for j in rng.choice(n_pairs, 3, replace=False):
            users += [u, u]
            items += [2 * j, 2 * j + 1]
            ratings += [5.0, 5.0]
        for i in rng.choice(2 * n_pairs, 4, replace=False):
            if (u, int(i)) not in set(zip(users[-10:], items[-10:])):
                users.append(u)
                items.append(int(i))
                ratings.append(1.0)
    return np.array(users), np.array(items), np.array(ratings), (n_users, 2 * n_pairs)


def test_validation_weighs_ratings_when_low_ones_are_noise():
    users, items, ratings, shape = noisy_pairs()
    first = np.random.default_rng(0).random(len(users))
    choice = choose_ranker(users, items, first, shape, protocol="random", ratings=ratings,
                           with_mf=False)  # fmt: skip
    assert choice.name.startswith("rated_ease@"), choice.name
    val = choice.validation
    best_plain = max(v["ndcg@10"] for k, v in val.items() if k.startswith("ease@"))
    assert val[choice.name]["ndcg@10"] > best_plain
    # Without ratings every pair weighs the same: the rated candidates equal the 0/1 ones.
    same = choose_ranker(users, items, first, shape, protocol="temporal", with_mf=False)
    assert same.validation["rated_ease@200"] == same.validation["ease@200"]


def test_random_validation_averages_several_splits(monkeypatch):
    from analytics.recommendation import ranking

    x = paired_matrix(n_users=120, seed=2)
    users, items = x.nonzero()
    first = np.zeros(len(users))
    args = dict(protocol="random", with_mf=False)
    assert ranking.validation_folds("random") > 1 and ranking.validation_folds("temporal") == 1
    chosen = choose_ranker(users, items, first, x.shape, random_state=0, **args)
    both = chosen.validation
    label = chosen.name + (f"+recency{chosen.half_life:g}" if chosen.half_life else "")
    label += f"+popularity×{chosen.prior_weight:g}" if chosen.prior_weight else ""
    assert both[label]["splits"] == 3 and both[label]["ndcg@10"] == max(
        v["ndcg@10"] for v in both.values() if v["splits"] == 3
    )
    monkeypatch.setattr(ranking, "RANDOM_VALIDATION_FOLDS", 1)
    runs = [choose_ranker(users, items, first, x.shape, random_state=s, **args).validation
            for s in range(3)]  # fmt: skip
    # The first split's shortlist (and plain EASE, the baseline) is scored on every split and
    # averaged, the rest on the first only.
    top = sorted(runs[0], key=lambda lbl: -runs[0][lbl]["ndcg@10"])[: ranking.SHORTLIST]
    assert {k for k, v in both.items() if v["splits"] == 3} == set(top) | set(
        ranking.BASELINE_LABELS
    )
    for label, v in both.items():
        mean = np.mean([r[label]["ndcg@10"] for r in runs[: v["splits"]]])
        assert v["ndcg@10"] == pytest.approx(mean)
    assert len({r["ease@200"]["ndcg@10"] for r in runs}) > 1  # the splits differ


def sessions(n_users: int = 300, n_groups: int = 15, per_user: int = 5, seed: int = 0):
    """Products come in groups (3g, 3g+1, 3g+2): every customer with a group has all three, the
    first two taken up one right after the other, the third long before. Over whole histories
    3g is as often with 3g+1 as with 3g+2; only the time order tells them apart."""
    rng = np.random.default_rng(seed)
    users, items, times = [], [], []
    for u in range(n_users):
        groups = rng.choice(n_groups, per_user, replace=False)
        sequence = [3 * g + 2 for g in groups]  # the far ones first
        for g in groups:
            sequence += [3 * g, 3 * g + 1]
        users += [u] * len(sequence)
        items += sequence
        times += list(range(len(sequence)))
    users_a, items_a = np.array(users), np.array(items)
    shape = (n_users, 3 * n_groups)
    x = rankers.binary_matrix(users_a, items_a, shape)
    order = rankers.order_matrix(users_a, items_a, recency_rank(users_a, np.array(times)), shape)
    return x, order


def test_local_ease_tells_what_was_taken_up_together_from_what_was_ever_had():
    x, order = sessions()
    local = rankers.LocalEase(lam=10.0, scale=2.0).fit(x, order)
    plain = rankers.Ease(lam=10.0).fit(x)
    for g in range(15):
        row = rankers.binary_matrix(np.array([0]), np.array([3 * g]), (1, x.shape[1]))
        near, far = 3 * g + 1, 3 * g + 2
        s_local = local.scores(row, np.array([0]))[0]
        s_plain = plain.scores(row, np.array([0]))[0]
        assert int(np.argmax(s_local)) == near
        assert s_local[near] > 2 * s_local[far] > 0
        # Plain EASE cannot tell them apart: both always come with 3g.
        assert s_plain[near] == pytest.approx(s_plain[far], rel=0.05)
    # Served as EASE is: the same scores from a history.
    served = ServedRanker.from_fitted("local_ease@10", local, 0.0)
    row = rankers.binary_matrix(np.array([0, 0]), np.array([0, 9]), (1, x.shape[1]))
    np.testing.assert_allclose(served.scores(0, np.array([0, 9])),
                               local.scores(row, np.array([0]))[0], rtol=1e-5)  # fmt: skip


def test_local_ease_with_a_wide_scale_is_plain_ease():
    x, order = sessions(n_users=80)
    wide = rankers.LocalEase(lam=10.0, scale=1e9).fit(x, order)
    np.testing.assert_allclose(wide.b_, rankers.Ease(lam=10.0).fit(x).b_, atol=1e-5)


def test_local_ease_needs_the_order_and_computes_one_gram_per_data(monkeypatch):
    x, order = sessions(n_users=50)
    with pytest.raises(ValueError, match="time order"):
        rankers.LocalEase().fit(x)
    with pytest.raises(ValueError, match="time order"):
        rankers.LocalEase().fit(x, order[:, :3])
    calls = []
    real = rankers._local_gram
    monkeypatch.setattr(rankers, "_local_gram", lambda *a: calls.append(1) or real(*a))
    memo = rankers.GramMemo()
    fits = [rankers.LocalEase(lam=lam, scale=2.0, memo=memo).fit(x, order) for lam in (1, 10)]
    assert len(calls) == 1 and not np.allclose(fits[0].b_, fits[1].b_)
    again = rankers.LocalEase(lam=1, scale=2.0, memo=memo).fit(x, order)
    np.testing.assert_array_equal(again.b_, fits[0].b_)  # the memo's Gram is not altered by λ
    rankers.LocalEase(lam=1, scale=2.0, memo=memo).fit(x.copy(), order.copy())
    rankers.LocalEase(lam=1, scale=3.0, memo=memo).fit(x.copy(), order.copy())
    assert len(calls) == 3  # other data, another scale: computed again
