"""A promotion asked for in words: known phrases give exact terms, unclear ones the right
question (shop.promotions.request, plain Python)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from shop.promotions.request import DEFAULT_DAYS, UnclearRequest, parse_promotion_request

NOW = dt.datetime(2026, 12, 6, 9, 30)  # a Sunday
LABELS = {
    0: "Clothing enthusiasts — 3 orders/month, 3,000/month",
    1: "Electronics enthusiasts — 2 orders/month, 2,000/month",
    2: "Home enthusiasts — 1 order/month, 1,500/month",
    3: "Lapsed customers",
    4: "New customers",
    5: "Mixed shoppers (home) — 1 order/month, 400/month",
    6: "Mixed shoppers (mixed) — 1 order/month, 300/month",
}


def parse(text: str):
    return parse_promotion_request(text, LABELS, NOW)


def test_the_issue_example():
    r = parse("create a 10% offer on kitchenware for the at-risk segment for two weeks")
    assert (r.reward_kind, r.reward_value) == ("percent", Decimal("10"))
    assert r.categories == ("home",)
    assert r.segments == (3,)
    assert r.read_as == {3: "at-risk segment"}
    assert (r.starts_at, r.ends_at, r.window_given) == (NOW, NOW + dt.timedelta(days=14), True)
    assert (r.budget, r.global_cap) == (None, None)


def test_a_fixed_amount_until_the_end_of_the_month():
    r = parse("make a £5 off offer for new customers until the end of the month")
    assert (r.reward_kind, r.reward_value, r.categories) == ("fixed", Decimal("5"), ())
    assert r.segments == (4,)
    assert r.ends_at == dt.datetime(2027, 1, 1)


@pytest.mark.parametrize(
    "text, kind, value, segments, categories, ends",
    [
        ("set up a 15% discount on electronics for electronics enthusiasts", "percent", "15",
         (1,), ("electronics",), NOW + dt.timedelta(days=DEFAULT_DAYS)),
        ("give lapsed customers 10 percent off for a month", "percent", "10", (3,), (),
         NOW + dt.timedelta(days=30)),
        ("create an offer of 5% on food for segments 0 and 2 for 10 days", "percent", "5",
         (0, 2), ("food",), NOW + dt.timedelta(days=10)),
        ("launch 20 pounds off for mixed shoppers until friday", "fixed", "20", (5, 6), (),
         dt.datetime(2026, 12, 12)),
        ("12.5% off clothing and beauty for the clothing enthusiasts until 24 December",
         "percent", "12.5", (0,), ("beauty", "clothing"), dt.datetime(2026, 12, 25)),
        ("new promotion: 8% off for everyone this week", "percent", "8", (0, 1, 2, 3, 4, 5, 6),
         (), dt.datetime(2026, 12, 7)),
        ("€3 off groceries for new customers until the end of next month", "fixed", "3", (4,),
         ("food",), dt.datetime(2027, 2, 1)),
        ("10% for the inactive customers until jan 5", "percent", "10", (3,), (),
         dt.datetime(2027, 1, 6)),
    ],
)  # fmt: skip
def test_known_phrases_give_exact_terms(text, kind, value, segments, categories, ends):
    r = parse(text)
    assert (r.reward_kind, r.reward_value) == (kind, Decimal(value))
    assert r.segments == segments
    assert r.categories == categories
    assert r.ends_at == ends


def test_budget_and_cap_are_read_when_given():
    r = parse("10% off home for lapsed customers, budget of £500, capped at 200 uses")
    assert (r.budget, r.global_cap) == (Decimal("500"), 200)
    assert (r.reward_value, r.categories, r.segments) == (Decimal("10"), ("home",), (3,))


def test_no_window_gets_the_default_and_says_so():
    r = parse("10% off for lapsed customers")
    assert r.ends_at == NOW + dt.timedelta(days=DEFAULT_DAYS)
    assert r.window_given is False


@pytest.mark.parametrize(
    "text, reason, says",
    [
        ("create an offer on kitchenware for lapsed customers", "no_reward", "percentage"),
        ("make a £5 off offer for champions until the end of the month", "unknown_segment",
         '"champions"'),
        ("10% off for segment 9", "unknown_segment", "no segment 9"),
        ("10% off jewellery for lapsed customers", "unknown_category", '"jewellery"'),
        ("create a 10% offer on kitchenware", "no_segment", "Which customers"),
        ("10% and £5 off for lapsed customers", "two_rewards", "10%, £5"),
        ("10% off for lapsed customers for 500 days", "bad_window", "1 to 366"),
        ("10% off for lapsed customers until 31 february", "bad_window", "no day 31"),
    ],
)  # fmt: skip
def test_what_cannot_be_read_gets_a_question_not_a_guess(text, reason, says):
    with pytest.raises(UnclearRequest) as err:
        parse(text)
    assert err.value.reason == reason
    assert says in str(err.value)


def test_an_unknown_segment_answer_lists_the_shops_segments():
    with pytest.raises(UnclearRequest) as err:
        parse("10% off for champions")
    assert "0 Clothing enthusiasts" in str(err.value) and "3 Lapsed customers" in str(err.value)


def test_no_segmentation_yet():
    with pytest.raises(UnclearRequest) as err:
        parse_promotion_request("10% off for lapsed customers", {}, NOW)
    assert err.value.reason == "no_segmentation"
