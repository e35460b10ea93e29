"""Per-customer outcomes read from the store: only exposed customers, only inside their window."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from analytics.experiments.outcomes import load_outcomes
from shop.experiments.registry import create_experiment, expose, get_experiment, start_experiment
from shop.promotions.admin import create_promotion, set_status
from shop.promotions.codes import issue_codes
from shop.promotions.redemption import redeem_code
from shop.store import session_scope
from shop.store.models import AnalyticsRun, CustomerSegment, Order, SupportTicket
from support.shop_data import build_shop

T0 = dt.datetime(2026, 11, 10)


def test_outcomes_count_only_inside_each_customers_window(any_engine):
    engine = any_engine
    ids = build_shop(engine)  # Ada ordered #104300 (a mug, 12.50) on 19 Nov; older ones before
    with session_scope(engine) as s:
        run = AnalyticsRun(kind="segments", model_version="t")
        s.add(run)
        s.flush()
        s.add_all([CustomerSegment(run_id=run.id, customer_id=ids[w], segment=0, label="all")
                   for w in ("ada", "bob")])  # fmt: skip
        p = create_promotion(s, name="p", target={"segments": ["all"]}, reward_kind="fixed",
                             reward_value=5, starts_at=T0, ends_at=T0 + dt.timedelta(days=30))  # fmt: skip
        set_status(s, "p", "active", now=T0)
        issue_codes(s, p, now=T0)
        arms = [{"name": "a", "weight": 1, "promotion_id": p.id},
                {"name": "b", "weight": 1, "promotion_id": p.id}]  # fmt: skip
        create_experiment(s, key="e", arms=arms, metric="revenue", mde=1,
                          sample_size_per_arm=10, attribution_days=7)  # fmt: skip
        start_experiment(s, "e", now=T0)
        exp = get_experiment(s, "e")
        # Ada is exposed on 15 Nov: her order of 19 Nov (one mug, 12.50) counts, the earlier
        # ones do not. Bob is never exposed: he is not analysed at all.
        expose(s, exp, ids["ada"], now=dt.datetime(2026, 11, 15))
        mug_order = s.query(Order).filter_by(order_number=104300).one()
        redeem_code(s, next(c.code for c in p_codes(s, ids["ada"])), ids["ada"], 104300,
                    now=dt.datetime(2026, 11, 19, 9))  # fmt: skip
        assert mug_order.promo_code
        s.add(SupportTicket(kind="complaint", customer_id=ids["ada"],
                            created_at=dt.datetime(2026, 11, 16)))  # fmt: skip
        s.add(SupportTicket(kind="handoff", customer_id=ids["ada"],
                            created_at=dt.datetime(2026, 11, 23)))  # outside 7 days  # fmt: skip
    with session_scope(engine) as s:
        out = load_outcomes(s, get_experiment(s, "e"))
    ada_arm = next(a for a, m in out.items() if m["conversion"])
    other = "b" if ada_arm == "a" else "a"
    assert out[other] == {m: [] for m in out[other]}
    # Spend in the 90 days before her exposure (CUPED's covariate): #104233 (79.80, 1 Nov) and
    # #104240 (122.40, 20 Oct); #103001 of 1 August is older.
    assert out[ada_arm].pop("pre_spend") == [pytest.approx(79.80 + 122.40)]
    assert out[ada_arm] == {
        "conversion": [1.0],
        "revenue": [float(Decimal("12.50") - 5)],
        "redemption": [1.0],
        "returns": [0.0],
        "complaints": [1.0],
        "handoffs": [0.0],
        "discount_cost": [5.0],
    }


def p_codes(session, customer_id):
    from sqlalchemy import select

    from shop.store.promotion_models import PromotionCode

    return session.execute(
        select(PromotionCode).where(PromotionCode.customer_id == customer_id)
    ).scalars()
