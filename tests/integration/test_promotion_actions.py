"""Offers and experiments in the chat with real rasa_sdk Trackers on a copy of the trained demo
shop: a signed-in customer is offered their code once after recommendations, a guest never;
"no more offers" is stored; staff get the experiment report and pause offers on Slack only."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import shutil

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions import products, promotions
from analytics import serving
from bot.identity import REFUSAL, issue_token
from shop.experiments.registry import create_experiment, start_experiment
from shop.promotions.admin import create_promotion, get_promotion, set_status
from shop.promotions.codes import issue_codes
from shop.promotions.targeting import segment_labels
from shop.store import db, make_engine, session_scope
from shop.store.models import utcnow
from shop.store.promotion_models import Exposure, OfferConsent, PromotionCode
from support.trackers import user_tracker

SECRET = "test-secret-for-promotion-actions-0123"
STAFF = "USTAFF01"


@pytest.fixture
def shop(trained_demo, tmp_path, monkeypatch):
    """A private copy of the trained demo shop with one live offer for every segment."""
    shutil.copy(trained_demo.url.removeprefix("sqlite:///"), tmp_path / "shop.db")
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SHOPBOT_MODELS_DIR", str(trained_demo.models_dir))
    monkeypatch.setenv("SHOPBOT_SESSION_SECRET", SECRET)
    monkeypatch.setenv("SHOPBOT_STAFF_SLACK_USERS", STAFF)
    serving.reset()
    products.reset_catalog_matchers()
    engine = make_engine(url)
    now = utcnow()
    with session_scope(engine) as s:
        everyone = [str(n) for n in segment_labels(s)]
        offer = create_promotion(
            s, name="winter10", target={"segments": everyone}, reward_kind="percent",
            reward_value=10, starts_at=now - dt.timedelta(days=1), ends_at=now + dt.timedelta(days=14),
        )  # fmt: skip
        set_status(s, "winter10", "active")
        issue_codes(s, offer)
        codes = dict(s.execute(select(PromotionCode.customer_id, PromotionCode.code)).all())
    yield {"engine": engine, "codes": codes}
    serving.reset()
    engine.dispose()
    db.dispose_engines()


def tracker(text, *, intent, customer=None, channel="socketio", metadata=None) -> Tracker:
    meta = dict(metadata or {})
    if customer is not None:
        meta["session_token"] = issue_token(customer, secret=SECRET)
    return user_tracker(text, intent=intent, channel=channel, metadata=meta)


def run(action, trk):
    d = CollectingDispatcher()
    events = asyncio.run(action().run(d, trk, {}))
    return events, d.messages


def texts(messages):
    return [m.get("text") or "" for m in messages]


def recommend(customer=None):
    trk = tracker("what would you recommend?", intent="product_recommendation", customer=customer)
    return texts(run(products.ActionRecommendProducts, trk)[1])


def test_signed_in_customer_is_offered_their_code_once(shop):
    customer = min(shop["codes"])
    code = shop["codes"][customer]
    first = recommend(customer)
    assert first[0].startswith("Here are some picks")
    assert first[-1].startswith("By the way: you have 10% off your next order until ")
    assert code in first[-1] and 'Say "no more offers"' in first[-1]
    again = recommend(customer)
    assert not any("SB-" in t for t in again) and again[0].startswith("Here are some picks")
    with session_scope(shop["engine"]) as s:
        seen = s.execute(select(Exposure.customer_id, Exposure.channel)).all()
    assert seen == [(customer, "socketio")]


def test_a_guest_never_sees_a_personal_code(shop):
    answer = recommend()
    assert answer[0].startswith("Here's what's popular")
    assert not any("SB-" in t or "By the way" in t for t in answer)
    with session_scope(shop["engine"]) as s:
        assert s.execute(select(Exposure.id)).all() == []


def test_no_more_offers_is_stored_and_stops_offers_at_once(shop):
    customer = sorted(shop["codes"])[1]
    trk = tracker("no more offers please", intent="stop_offers", customer=customer)
    events, messages = run(promotions.ActionStopOffers, trk)
    assert texts(messages) == [promotions.OPTED_OUT]
    with session_scope(shop["engine"]) as s:
        row = s.execute(select(OfferConsent)).scalar_one()
        assert (row.customer_id, row.choice, row.reason, row.source) == (
            customer, "opt_out", "no more offers please", "chat"
        )  # fmt: skip
    assert not any("SB-" in t for t in recommend(customer))
    guest = run(promotions.ActionStopOffers, tracker("stop offers", intent="stop_offers"))[1]
    assert texts(guest) == [promotions.GUEST_NO_OFFERS]
    with session_scope(shop["engine"]) as s:
        assert len(s.execute(select(OfferConsent.id)).all()) == 1


def slack(text, intent, user=STAFF):
    return tracker(text, intent=intent, channel="slack",
                   metadata={"slack_user": user, "out_channel": "D1"})  # fmt: skip


def test_staff_get_the_experiment_report_with_a_chart_on_slack_only(shop):
    with session_scope(shop["engine"]) as s:
        promotion_id = get_promotion(s, "winter10").id
        create_experiment(
            s, key="winter", metric="conversion", mde=0.05, sample_size_per_arm=500,
            arms=[{"name": "control"}, {"name": "offer", "promotion_id": promotion_id}],
            guardrails=["returns"],
        )  # fmt: skip
        start_experiment(s, "winter")
    for customer in sorted(shop["codes"])[:60]:
        recommend(customer)
    _, messages = run(promotions.ActionExperimentReport,
                      slack("how is the winter experiment doing", "experiment_report"))  # fmt: skip
    payload = messages[0]["custom"]
    assert payload["blocks"][0]["text"]["text"] == "Experiment winter: collecting data"
    assert "Collecting: " in payload["text"] and "of 500 customers per arm" in payload["text"]
    png = base64.b64decode(payload["chart"]["png_b64"])
    assert png.startswith(b"\x89PNG")
    with session_scope(shop["engine"]) as s:
        exposed = s.execute(select(Exposure.arm)).scalars().all()
    assert len(exposed) == 60 and set(exposed) == {"control", "offer"}
    refused = run(
        promotions.ActionExperimentReport,
        slack("how is the winter experiment doing", "experiment_report", user="UX"),
    )
    assert texts(refused[1]) == [REFUSAL]  # fmt: skip


def test_staff_pause_the_offer_and_its_codes_stop(shop):
    refused = run(promotions.ActionPausePromotion, slack("pause it", "pause_promotion", "UX"))
    assert texts(refused[1]) == [REFUSAL]
    rest = tracker("pause it", intent="pause_promotion", channel="rest",
                   metadata={"slack_user": STAFF})  # fmt: skip
    assert texts(run(promotions.ActionPausePromotion, rest)[1]) == [REFUSAL]
    with session_scope(shop["engine"]) as s:
        assert get_promotion(s, "winter10").status == "active"
    done = run(promotions.ActionPausePromotion, slack("pause it", "pause_promotion"))
    assert texts(done[1]) == [
        "Paused winter10: its codes are refused until you resume it "
        "(`shopbot promotion resume winter10`)."
    ]
    with session_scope(shop["engine"]) as s:
        assert get_promotion(s, "winter10").status == "paused"
    assert not any("SB-" in t for t in recommend(min(shop["codes"])))


def test_staff_list_the_promotions_in_play_and_customers_get_the_promo_faq(shop):
    now = utcnow()
    with session_scope(shop["engine"]) as s:
        first, label = min(segment_labels(s).items())
        for name, status, created in (
            ("spring5", "paused", now), ("draft-new", "draft", now),
            ("draft-old", "draft", now - dt.timedelta(days=3)), ("summer", "ended", now),
        ):  # fmt: skip
            p = create_promotion(
                s, name=name, target={"segments": [str(first)]}, reward_kind="fixed", reward_value=5,
                categories=["home"], starts_at=now - dt.timedelta(days=2),
                ends_at=now + dt.timedelta(days=7), budget=500,
            )  # fmt: skip
            p.created_at = created
            if status != "draft":
                set_status(s, name, "active")
                set_status(s, name, status)
    _, messages = run(promotions.ActionPromotionList, slack("which promotions are running?",
                                                            "promotion_list"))  # fmt: skip
    report = messages[0]["custom"]["text"]
    # active first, then paused, then the draft that can still be confirmed; the others counted
    assert "1 active, 1 paused, 1 drafts; 2 ended or expired drafts not shown." in report
    lines = [line.split()[0] for line in report.splitlines() if line.strip()]
    assert lines.index("winter10") < lines.index("spring5") < lines.index("draft-new")
    assert "draft-old" not in lines and "summer" not in lines
    codes = len(shop["codes"])
    winter = next(line for line in report.splitlines() if line.startswith("winter10"))
    assert "10% off" in winter and f"{codes:,}" in winter and winter.endswith("0.00")
    spring = next(line for line in report.splitlines() if line.startswith("spring5"))
    assert "5.00 off on home" in spring and label in spring
    assert spring.endswith("0.00 of 500.00")
    # the console gets the same as text; an unlisted Slack member the refusal
    console = tracker("list promotions", intent="promotion_list", channel="staff")
    assert texts(run(promotions.ActionPromotionList, console)[1])[0].startswith("Promotions")
    refused = run(promotions.ActionPromotionList, slack("list promotions", "promotion_list", "UX"))
    assert texts(refused[1]) == [REFUSAL]
    # a customer whose "any promotions on?" was read as this gets the promo-code FAQ answer
    _, messages = run(promotions.ActionPromotionList,
                      tracker("any promotions running?", intent="promotion_list"))  # fmt: skip
    assert [m.get("response") for m in messages] == ["utter_faq/promo_codes"]


def test_offer_after_an_order_status_answer_for_the_signed_in_owner_only(shop):
    from actions import orders
    from shop.store.models import Order

    with session_scope(shop["engine"]) as s:
        number, customer = s.execute(
            select(Order.order_number, Order.customer_id)
            .where(Order.customer_id.in_(list(shop["codes"])))
            .order_by(Order.id)
            .limit(1)
        ).one()
    trk = tracker(f"where is order #{number}", intent="order_status", customer=customer)
    trk.slots["order_number"] = str(number)
    answer = texts(run(orders.ActionCheckOrderStatus, trk)[1])
    assert f"#{number}" in answer[0] and shop["codes"][customer] in answer[-1]
    guest = tracker(f"where is order #{number}", intent="order_status")
    guest.slots["order_number"] = str(number)
    assert not any("SB-" in t for t in texts(run(orders.ActionCheckOrderStatus, guest)[1]))
