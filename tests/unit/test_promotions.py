"""Promotions on a real database: codes, targeting, consent, and redemption (atomic)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from shop.promotions.admin import create_promotion, describe, get_promotion, set_status
from shop.promotions.codes import issue_codes, normalise_code
from shop.promotions.consent import opted_out, record_choice
from shop.promotions.errors import CodeRefused, InvalidPromotion
from shop.promotions.redemption import redeem_code
from shop.promotions.targeting import eligible_customer_ids
from shop.store import session_scope
from shop.store.models import Order
from shop.store.promotion_models import PromotionCode, PromotionRedemption
from support.race import race
from support.shop_data import build_shop, store_segments

NOW = dt.datetime(2026, 11, 20, 12, 0)
START, END = dt.datetime(2026, 11, 15), dt.datetime(2026, 11, 29)


def _segments(engine, ids):
    """A stored segmentation: Ada is "At risk home lovers" (0), Bob "Loyal regulars" (1)."""
    store_segments(engine, {ids["ada"]: (0, "At risk home lovers"),
                            ids["bob"]: (1, "Loyal regulars")})  # fmt: skip


def _promotion(engine, name="home10", *, segments=("at risk", "loyal"), activate=True, **kw):
    terms = dict(
        target={"segments": list(segments)},
        reward_kind="percent",
        reward_value=10,
        categories=["home"],
        starts_at=START,
        ends_at=END,
    )
    terms.update(kw)
    with session_scope(engine) as s:
        p = create_promotion(s, name=name, **terms)
        if activate:
            set_status(s, p.id, "active", now=NOW)
        issue_codes(s, p, now=NOW)
        return {c.customer_id: c.code for c in _codes(s, p.id)}


def _codes(session, promotion_id):
    return session.execute(
        select(PromotionCode).where(PromotionCode.promotion_id == promotion_id)
    ).scalars()


@pytest.fixture
def shop(engine):
    ids = build_shop(engine)
    _segments(engine, ids)
    return ids


def _redeem(engine, code, customer, order, now=NOW):
    with session_scope(engine) as s:
        return redeem_code(s, code, customer, order, now=now)


def _refusal(engine, code, customer, order, now=NOW) -> CodeRefused:
    with pytest.raises(CodeRefused) as err:
        _redeem(engine, code, customer, order, now)
    return err.value


# ---- creating, targeting, codes ----------------------------------------------------------------


def test_codes_are_unique_unguessable_and_one_per_eligible_customer(engine, shop):
    codes = _promotion(engine)
    assert set(codes) == {shop["ada"], shop["bob"]}
    assert len(set(codes.values())) == 2
    for code in codes.values():
        assert re.fullmatch(r"SB-[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}", code)
    with session_scope(engine) as s:  # issuing again adds nobody
        assert issue_codes(s, get_promotion(s, "home10"), now=NOW) == 0
    # Typed loosely by a customer, it is still the same code.
    assert normalise_code(codes[shop["ada"]].lower().replace("-", " ")) == codes[shop["ada"]]


def test_many_codes_never_collide(engine, shop):
    from shop.promotions.codes import new_code

    assert len({new_code() for _ in range(20000)}) == 20000


def test_segment_target_and_opt_out(engine, shop):
    _promotion(engine, segments=("at risk",))
    with session_scope(engine) as s:
        p = get_promotion(s, "home10")
        assert eligible_customer_ids(s, p, NOW) == {shop["ada"]}
        # A number names a segment by number only (not every label with that digit in it).
        p.target = {"segments": ["1"]}
        assert eligible_customer_ids(s, p, NOW) == {shop["bob"]}
        p.target = {"segments": ["at risk"]}
        record_choice(s, shop["ada"], "opt_out", reason="too many e-mails", now=NOW)
    with session_scope(engine) as s:
        assert opted_out(s, shop["ada"])
        assert eligible_customer_ids(s, get_promotion(s, "home10"), NOW) == set()
        record_choice(s, shop["ada"], "opt_in", now=NOW + dt.timedelta(days=1))
    with session_scope(engine) as s:
        assert not opted_out(s, shop["ada"])


def test_rule_target_on_rfm(engine, shop):
    # Ada ordered on 19 Nov (recent), Bob's orders are from 1 Nov.
    with session_scope(engine) as s:
        p = create_promotion(
            s, name="winback", target={"rule": {"recency_days_min": 10}}, reward_kind="fixed",
            reward_value=5, starts_at=START, ends_at=END,
        )  # fmt: skip
        assert eligible_customer_ids(s, p, NOW) == {shop["bob"]}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"reward_value": 0}, "more than 0"),
        ({"reward_value": 150}, "at most 100"),
        ({"ends_at": START}, "must end after it starts"),
        ({"categories": ["garden"]}, "unknown categories garden"),
        ({"target": {"segments": ["vip"]}}, "no segment matches 'vip'"),
        ({"target": {"rule": {"age_min": 3}}}, "unknown: age_min"),
        ({"global_cap": 0}, "at least 1"),
    ],
)
def test_bad_promotions_are_refused_clearly(engine, shop, change, message):
    terms = dict(
        name="bad", target={"segments": ["loyal"]}, reward_kind="percent", reward_value=10,
        starts_at=START, ends_at=END,
    )  # fmt: skip
    terms.update(change)
    with pytest.raises(InvalidPromotion, match=message):
        with session_scope(engine) as s:
            p = create_promotion(s, **terms)
            issue_codes(s, p, now=NOW)


def test_status_moves(engine, shop):
    _promotion(engine, activate=False)
    with session_scope(engine) as s:
        assert set_status(s, "home10", "active", now=NOW).status == "active"
        assert set_status(s, "home10", "paused", now=NOW).status == "paused"
        assert set_status(s, "home10", "active", now=NOW).status == "active"
        assert set_status(s, "home10", "ended", now=NOW).status == "ended"
        with pytest.raises(InvalidPromotion, match="an ended promotion stays ended"):
            set_status(s, "home10", "active", now=NOW)


# ---- redemption ----------------------------------------------------------------------------------


def test_redeem_gives_discount_on_the_categories_only(engine, shop):
    codes = _promotion(engine)
    # Order 104240: kettle 45.00 + 3 mugs 12.50 (home) and a shirt 39.90 (clothing).
    done = _redeem(engine, codes[shop["ada"]], shop["ada"], 104240)
    assert done.discount == Decimal("8.25")
    with session_scope(engine) as s:
        info = describe(s, get_promotion(s, "home10"))
        assert (info["redemptions"], info["spent"], info["codes"]) == (1, 8.25, 2)
        order = s.execute(select(Order).where(Order.order_number == 104240)).scalar_one()
        assert order.promo_code == codes[shop["ada"]]


def test_refusals_have_clear_reasons(engine, shop):
    codes = _promotion(engine)
    ada, bob = shop["ada"], shop["bob"]
    assert _refusal(engine, "SB-AAAA-BBBB-CCCC", ada, 104240).reason == "unknown"
    other = _refusal(engine, codes[ada], bob, 104301)
    assert other.reason == "not_yours"
    assert "belongs to another account" in str(other)
    expired = _refusal(engine, codes[ada], ada, 104240, now=END)
    assert (expired.reason, str(expired)) == (
        "expired", f"The code {codes[ada]} expired on 29 November 2026."
    )  # fmt: skip
    assert _refusal(engine, codes[ada], ada, 104240, now=START - dt.timedelta(1)).reason == (
        "not_started"
    )
    # 104233 holds only a shirt: nothing in "home".
    none = _refusal(engine, codes[ada], ada, 104233)
    assert (none.reason, str(none)) == (
        "no_eligible_items", f"The code {codes[ada]} only applies to home, and this order has none."
    )  # fmt: skip
    with session_scope(engine) as s:
        set_status(s, "home10", "paused", now=NOW)
    assert _refusal(engine, codes[ada], ada, 104240).reason == "paused"
    with session_scope(engine) as s:
        set_status(s, "home10", "active", now=NOW)
    _redeem(engine, codes[ada], ada, 104240)
    assert _refusal(engine, codes[ada], ada, 104300).reason == "used"
    with session_scope(engine) as s:
        set_status(s, "home10", "ended", now=NOW)
    assert _refusal(engine, codes[bob], bob, 104301).reason == "ended"
    with session_scope(engine) as s:  # nothing of the refused attempts was written
        assert s.execute(select(func.count()).select_from(PromotionRedemption)).scalar() == 1


def test_global_cap_and_budget(engine, shop):
    capped = _promotion(engine, "capped", global_cap=1)
    _redeem(engine, capped[shop["ada"]], shop["ada"], 104240)
    assert _refusal(engine, capped[shop["bob"]], shop["bob"], 104301).reason == "exhausted"
    # Budget 10: Ada's 1.25 (one mug) and Bob's 4.50 (a kettle) both fit.
    budget = _promotion(engine, "budget", budget=10)
    _redeem(engine, budget[shop["ada"]], shop["ada"], 104300)
    assert _redeem(engine, budget[shop["bob"]], shop["bob"], 104301).discount == Decimal("4.50")
    with session_scope(engine) as s:
        assert describe(s, get_promotion(s, "budget"))["spent"] == pytest.approx(5.75)


def test_budget_spent(engine, shop):
    codes = _promotion(engine, "tiny", budget=5)
    _redeem(engine, codes[shop["bob"]], shop["bob"], 104301)  # 4.50
    refused = _refusal(engine, codes[shop["ada"]], shop["ada"], 104240)  # 8.25 > 0.50 left
    assert refused.reason == "budget_spent"


def test_one_code_per_order(engine, shop):
    first = _promotion(engine, "first")
    second = _promotion(engine, "second")
    _redeem(engine, first[shop["ada"]], shop["ada"], 104240)
    assert _refusal(engine, second[shop["ada"]], shop["ada"], 104240).reason == "order_has_code"


def test_last_use_of_a_code_under_concurrent_orders(any_engine):
    ids = build_shop(any_engine)
    _segments(any_engine, ids)
    codes = _promotion(any_engine)
    ada = ids["ada"]
    orders = [104240, 104300]

    results = race(2, lambda i: _redeem(any_engine, codes[ada], ada, orders[i]))
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(refused) == 1 and isinstance(refused[0], CodeRefused), results
    assert refused[0].reason == "used"
    with session_scope(any_engine) as s:
        assert s.execute(select(func.count()).select_from(PromotionRedemption)).scalar() == 1
        assert (
            s.execute(select(PromotionCode.uses).where(PromotionCode.code == codes[ada])).scalar()
            == 1
        )
        assert describe(s, get_promotion(s, "home10"))["redemptions"] == 1


def test_last_redemption_under_the_global_cap_under_concurrent_orders(any_engine):
    ids = build_shop(any_engine)
    _segments(any_engine, ids)
    codes = _promotion(any_engine, global_cap=1)
    who = [(ids["ada"], 104240), (ids["bob"], 104301)]

    results = race(2, lambda i: _redeem(any_engine, codes[who[i][0]], *who[i]))
    refused = [r for r in results if isinstance(r, Exception)]
    assert [getattr(r, "reason", r) for r in refused] == ["exhausted"], results
    with session_scope(any_engine) as s:
        assert s.execute(select(func.count()).select_from(PromotionRedemption)).scalar() == 1
        assert describe(s, get_promotion(s, "home10"))["redemptions"] == 1


# ---- offering the code in the chat ---------------------------------------------------------------


def _exposures(engine):
    from shop.store.promotion_models import Exposure

    with session_scope(engine) as s:
        return s.execute(select(Exposure.customer_id, Exposure.promotion_id, Exposure.arm)).all()


def test_offer_once_then_never_after_no_more_offers(engine, shop):
    from shop.promotions.offers import offer_for

    codes = _promotion(engine)
    with session_scope(engine) as s:
        offer = offer_for(s, shop["ada"], now=NOW)
    assert offer.code == codes[shop["ada"]]
    assert offer.text == (
        f"By the way: you have 10% off home until 28 November, with your personal code "
        f'{codes[shop["ada"]]} at checkout. Say "no more offers" if you\'d rather not get these.'
    )
    with session_scope(engine) as s:
        assert offer_for(s, shop["ada"], now=NOW) is None  # once
    assert _exposures(engine) == [(shop["ada"], 1, None)]
    with session_scope(engine) as s:
        record_choice(s, shop["bob"], "opt_out", reason="said no more offers", now=NOW)
    with session_scope(engine) as s:
        assert offer_for(s, shop["bob"], now=NOW) is None
        assert offer_for(s, shop["ada"], now=END) is None  # expired
    assert len(_exposures(engine)) == 1


def test_offer_in_an_experiment_follows_the_arm(engine, shop):
    from shop.experiments.assignment import arm_for
    from shop.experiments.registry import create_experiment, start_experiment
    from shop.promotions.offers import offer_for

    _promotion(engine)
    arms = [{"name": "control", "weight": 1}, {"name": "offer", "weight": 1, "promotion_id": 1}]
    with session_scope(engine) as s:
        create_experiment(s, key="kitchen", arms=arms, metric="conversion", mde=0.05,
                          sample_size_per_arm=100)  # fmt: skip
        start_experiment(s, "kitchen", now=NOW)
    shown = {}
    for who in ("ada", "bob"):
        with session_scope(engine) as s:
            shown[who] = offer_for(s, shop[who], now=NOW)
    for who in ("ada", "bob"):
        arm = arm_for("kitchen", shop[who], arms)
        assert (shown[who] is not None) == (arm == "offer"), (who, arm)
    assert sorted(_exposures(engine)) == sorted(
        (shop[w], 1 if arm_for("kitchen", shop[w], arms) == "offer" else None,
         arm_for("kitchen", shop[w], arms)) for w in ("ada", "bob")
    )  # fmt: skip
    with session_scope(engine) as s:  # exposed once: later moments show nothing more
        assert offer_for(s, shop["ada"], now=NOW) is None


def test_export_and_erase_cover_the_customers_offers(engine, shop):
    from shop.privacy import erase_customer, export_customer
    from shop.promotions.offers import offer_for
    from shop.store.promotion_models import Exposure, OfferConsent

    codes = _promotion(engine)
    other = _promotion(engine, "other")
    _redeem(engine, codes[shop["ada"]], shop["ada"], 104240)
    with session_scope(engine) as s:
        offer_for(s, shop["ada"], now=NOW)  # "other" is offered (home10 is used up)
        record_choice(s, shop["ada"], "opt_out", reason="no more offers", now=NOW)
    with session_scope(engine) as s:
        data = export_customer(s, shop["ada"])
    assert sorted(c["code"] for c in data["codes"]) == sorted(
        [codes[shop["ada"]], other[shop["ada"]]]
    )
    assert [(e["promotion_id"], e["channel"]) for e in data["offers_shown"]] == [(2, "chat")]
    assert [r["discount"] for r in data["redemptions"]] == ["8.25"]
    assert [(c["choice"], c["reason"]) for c in data["offer_consents"]] == [
        ("opt_out", "no more offers")
    ]  # noqa: E501
    with session_scope(engine) as s:
        removed = erase_customer(s, shop["ada"])
    assert (removed["offer_exposures"], removed["promotion_codes"]) == (1, 1)
    with session_scope(engine) as s:
        left = s.execute(select(PromotionCode.code).where(PromotionCode.customer_id == shop["ada"]))
        assert left.scalars().all() == [codes[shop["ada"]]]  # kept: it discounted an order
        assert s.execute(select(Exposure.id)).all() == []
        assert s.execute(select(OfferConsent.choice)).scalars().all() == ["opt_out"]
        assert s.execute(select(func.count()).select_from(PromotionRedemption)).scalar() == 1


def test_two_codes_racing_for_one_order_give_one_redemption(any_engine):
    ids = build_shop(any_engine)
    _segments(any_engine, ids)
    first, second = _promotion(any_engine, "first"), _promotion(any_engine, "second")
    ada = ids["ada"]
    codes = [first[ada], second[ada]]

    results = race(2, lambda i: _redeem(any_engine, codes[i], ada, 104240))
    refused = [r for r in results if isinstance(r, Exception)]
    assert [getattr(r, "reason", r) for r in refused] == ["order_has_code"], results
    with session_scope(any_engine) as s:
        assert s.execute(select(func.count()).select_from(PromotionRedemption)).scalar() == 1
        assert (
            sum(describe(s, get_promotion(s, n))["redemptions"] for n in ("first", "second")) == 1
        )
