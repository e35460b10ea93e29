"""Experiment statistics with known answers: planted effects are recovered within their
intervals, no effect declares nothing, A/A tests are quiet, a broken split trips the SRM check."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from analytics.experiments.design import sample_size_per_arm
from analytics.experiments.stats import holm, srm_p_value, two_proportions, welch
from analytics.experiments.verdict import Plan, decide
from shop.experiments.assignment import arm_for, bucket

ARMS = [{"name": "control", "weight": 0.5}, {"name": "offer", "weight": 0.5}]


def _plan(n=600, guardrails=("returns",), arms=ARMS, min_days=7):
    return Plan(arms=arms, metric="conversion", guardrails=list(guardrails),
                sample_size_per_arm=n, min_days=min_days)  # fmt: skip


def _binary(rng, n, rate):
    return (rng.random(n) < rate).astype(float).tolist()


def _outcomes(rng, n_c, n_t, conv_c, conv_t, ret_c=0.05, ret_t=0.05):
    return {
        "control": {"conversion": _binary(rng, n_c, conv_c), "returns": _binary(rng, n_c, ret_c)},
        "offer": {"conversion": _binary(rng, n_t, conv_t), "returns": _binary(rng, n_t, ret_t)},
    }


# ---- assignment ----------------------------------------------------------------------------------


def test_assignment_is_deterministic_and_follows_the_weights():
    arms = [{"name": "a", "weight": 0.2}, {"name": "b", "weight": 0.8}]
    first = [arm_for("kitchen", c, arms) for c in range(20000)]
    assert first == [arm_for("kitchen", c, arms) for c in range(20000)]
    assert first.count("a") / 20000 == pytest.approx(0.2, abs=0.01)
    # Another experiment key shuffles customers independently.
    other = [arm_for("garden", c, arms) for c in range(20000)]
    both_a = sum(x == y == "a" for x, y in zip(first, other, strict=True)) / 20000
    assert both_a == pytest.approx(0.04, abs=0.006)
    assert all(0 <= bucket("kitchen", c) < 1 for c in range(1000))


def test_changing_weights_moves_only_the_slice_that_changed_hands():
    before = [{"name": "control", "weight": 0.5}, {"name": "offer", "weight": 0.5}]
    after = [{"name": "control", "weight": 0.6}, {"name": "offer", "weight": 0.4}]
    moved = [c for c in range(20000) if arm_for("k", c, before) != arm_for("k", c, after)]
    assert len(moved) / 20000 == pytest.approx(0.10, abs=0.006)
    assert all(arm_for("k", c, before) == "offer" and 0.5 <= bucket("k", c) < 0.6 for c in moved)


# ---- design and tests ----------------------------------------------------------------------------


def test_sample_size_matches_the_textbook_formula():
    h = 2 * np.arcsin(np.sqrt(0.16)) - 2 * np.arcsin(np.sqrt(0.10))
    # Arcsine-transformed rates have variance 1/n, so the difference of two arms has 2/n.
    expected = 2 * ((stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) / h) ** 2
    assert sample_size_per_arm("conversion", 0.10, 0.06) == int(np.ceil(expected))
    # A smaller effect needs more customers; revenue uses Cohen's d (t-test power).
    assert sample_size_per_arm("conversion", 0.10, 0.02) > 3000
    assert sample_size_per_arm("revenue", 50.0, 10.0) == pytest.approx(394, abs=2)
    with pytest.raises(ValueError):
        sample_size_per_arm("conversion", 0.1, 0)


def test_two_proportions_and_welch_against_references():
    c = two_proportions("conversion", 100, 1000, 130, 1000)
    assert c.lift == pytest.approx(0.03)
    se = np.sqrt(0.1 * 0.9 / 1000 + 0.13 * 0.87 / 1000)
    assert (c.ci_low, c.ci_high) == pytest.approx((0.03 - 1.959964 * se, 0.03 + 1.959964 * se))
    from statsmodels.stats.proportion import proportions_ztest

    assert c.p_value == pytest.approx(proportions_ztest([130, 100], [1000, 1000])[1])
    rng = np.random.default_rng(1)
    a, b = rng.normal(50, 10, 300), rng.normal(53, 20, 200)
    w = welch("revenue", a, b)
    assert w.p_value == pytest.approx(stats.ttest_ind(b, a, equal_var=False).pvalue)
    assert w.ci_low < w.lift < w.ci_high
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    from statsmodels.stats.multitest import multipletests

    ps = np.random.default_rng(2).random(7) ** 3
    assert holm(list(ps)) == pytest.approx(list(multipletests(ps, method="holm")[1]))


# ---- verdicts with known answers -----------------------------------------------------------------


def test_planted_uplift_is_recovered_within_its_interval():
    hits = 0
    for seed in range(50):
        rng = np.random.default_rng(seed)
        v = decide(_plan(), _outcomes(rng, 1500, 1500, 0.10, 0.16), days=14)
        c = v.primary[0]
        hits += c.ci_low <= 0.06 <= c.ci_high
        assert v.state == "winner" and v.winner == "offer", (seed, v.message)
    assert hits >= 44  # a 95 % interval covers the planted +6 points about 95 % of the time


def test_a_worse_offer_makes_control_the_winner():
    v = decide(_plan(), _outcomes(np.random.default_rng(3), 1500, 1500, 0.16, 0.10), days=14)
    assert (v.state, v.winner) == ("winner", "control")


def test_zero_effect_declares_nothing():
    v = decide(_plan(), _outcomes(np.random.default_rng(5), 1500, 1500, 0.12, 0.12), days=14)
    assert v.state == "no_difference" and v.winner is None
    assert v.primary[0].ci_low < 0 < v.primary[0].ci_high


def test_a_a_tests_declare_a_difference_at_most_five_percent_of_the_time():
    declared = 0
    p_values = []
    for seed in range(1000):
        rng = np.random.default_rng(10_000 + seed)
        v = decide(_plan(n=800), _outcomes(rng, 800, 800, 0.12, 0.12), days=14)
        declared += v.state == "winner" or bool(v.guardrail_harm)
        p_values.append(v.primary[0].p_value)
    assert declared / 1000 <= 0.05
    # The raw p-values are uniform under no effect: the test is neither anti-conservative nor dead.
    assert stats.kstest(p_values, "uniform").pvalue > 0.001
    assert 0.02 <= np.mean(np.array(p_values) < 0.05) <= 0.08


def test_a_broken_60_40_split_trips_srm_and_hides_the_verdict():
    v = decide(_plan(), _outcomes(np.random.default_rng(7), 1200, 800, 0.10, 0.16), days=14)
    assert v.state == "srm" and v.winner is None and v.primary == []
    assert v.srm_p is not None and v.srm_p < 1e-6
    # The same counts under a planned 60/40 split are fine.
    assert srm_p_value([1200, 800], [0.6, 0.4]) == pytest.approx(1.0)


def test_no_winner_before_the_planned_size_and_duration():
    rng = np.random.default_rng(11)
    strong = _outcomes(rng, 1500, 1500, 0.10, 0.20)
    early = decide(_plan(n=2000), strong, days=14)
    assert early.state == "collecting" and early.winner is None
    assert early.primary[0].lift > 0.05  # interim estimate shown, without a verdict
    too_soon = decide(_plan(n=1000), strong, days=6.5)
    assert too_soon.state == "collecting"
    stopped = decide(_plan(n=2000), strong, days=14, running=False)
    assert stopped.state == "not_enough_data"
    tiny = decide(_plan(), _outcomes(rng, 5, 5, 0.1, 0.1), days=1)
    assert tiny.state == "collecting" and tiny.srm_p is None


def test_harmed_guardrail_is_reported():
    covered = 0
    for seed in range(40):
        rng = np.random.default_rng(500 + seed)
        outcomes = _outcomes(rng, 1500, 1500, 0.12, 0.12, ret_c=0.05, ret_t=0.12)
        v = decide(_plan(), outcomes, days=14)
        assert v.guardrail_harm == ["offer: returns"], seed
        covered += v.guardrails[0].ci_low <= 0.07 <= v.guardrails[0].ci_high
    assert covered >= 34  # the planted +7 points of returns inside the 95 % interval


def test_cuped_narrows_the_revenue_interval_and_keeps_the_planted_effect():
    plan = Plan(arms=ARMS, metric="revenue", guardrails=[], sample_size_per_arm=500)
    covered, ratios = 0, []
    for seed in range(40):
        rng = np.random.default_rng(900 + seed)
        out = {}
        for arm, effect in (("control", 0.0), ("offer", 5.0)):
            pre = rng.gamma(2.0, 50.0, 1000)  # what each customer spent before
            revenue = 0.8 * pre + rng.normal(0, 30, 1000) + effect
            out[arm] = {"revenue": revenue.tolist(), "pre_spend": pre.tolist()}
        with_cuped = decide(plan, out, days=14).primary[0]
        plain = decide(plan, {a: {"revenue": m["revenue"]} for a, m in out.items()}, days=14)
        plain_c = plain.primary[0]
        assert with_cuped.test == "welch+cuped" and plain_c.test == "welch"
        covered += with_cuped.ci_low <= 5.0 <= with_cuped.ci_high
        ratios.append((with_cuped.ci_high - with_cuped.ci_low) / (plain_c.ci_high - plain_c.ci_low))
    # The pre-period explains 3200 of the 4100 units of variance: the interval shrinks to about
    # sqrt(900 / 4100) = 0.47 of its width.
    assert covered >= 35
    assert max(ratios) < 0.6 and np.mean(ratios) == pytest.approx(0.47, abs=0.03)
