"""The actions behind creating a promotion in words and asking for offers again, with real
rasa_sdk Trackers on a small shop: staff get a draft and its preview (Block Kit on Slack, text
and buttons on the console), the buttons confirm once or cancel, customers get the refusal; a
customer's "send me offers again" is an opt-in in the ledger."""

from __future__ import annotations

import asyncio
import json

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions import promotions
from bot.identity import REFUSAL, issue_token
from shop.promotions.consent import record_choice
from shop.store import db, session_scope
from shop.store.models import AnalyticsRun, CustomerSegment
from shop.store.promotion_models import OfferConsent, Promotion, PromotionCode
from support.shop_data import build_shop
from support.trackers import user_tracker as tracker

SECRET = "test-secret-for-promotion-drafts-0123456"
STAFF = "USTAFF01"
REQUEST = "create a 10% offer on kitchenware for the at-risk segment for two weeks"


@pytest.fixture
def shop(engine, sqlite_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("SHOPBOT_SESSION_SECRET", SECRET)
    monkeypatch.setenv("SHOPBOT_STAFF_SLACK_USERS", STAFF)
    ids = build_shop(engine)
    with session_scope(engine) as s:
        run = AnalyticsRun(kind="segments", model_version="test")
        s.add(run)
        s.flush()
        s.add(CustomerSegment(run_id=run.id, customer_id=ids["ada"], segment=0,
                              label="Lapsed customers"))  # fmt: skip
    yield ids
    db.dispose_engines()


def staff(text, channel="slack", user=STAFF, choice=None):
    entities = [{"entity": "promotion_choice", "value": choice}] if choice else []
    return tracker(text, intent="create_promotion", channel=channel, entities=entities,
                   metadata={"slack_user": user, "out_channel": "D1"})  # fmt: skip


def run(action, trk):
    d = CollectingDispatcher()
    asyncio.run(action().run(d, trk, {}))
    return d.messages


def _promotions(engine):
    with session_scope(engine) as s:
        return [(p.id, p.status) for p in s.execute(select(Promotion)).scalars()]


def test_staff_on_slack_get_a_draft_with_buttons_that_confirm_once(engine, shop):
    [message] = run(promotions.ActionCreatePromotion, staff(REQUEST))
    custom = message["custom"]
    assert (
        custom["blocks"][0]["text"]["text"]
        == "Draft promotion lapsed-10pct-home-"
        + (custom["blocks"][0]["text"]["text"].rsplit("-", 1)[1])
    )
    [(pid, status)] = _promotions(engine)
    assert status == "draft"
    buttons = next(b for b in custom["blocks"] if b["type"] == "actions")["elements"]
    confirm, cancel = (b["value"] for b in buttons)
    assert confirm == '/create_promotion{"promotion_choice": "confirm %d"}' % pid  # noqa: UP031
    assert cancel == promotions.choice_payload("cancel", pid)

    choice = json.loads(confirm.removeprefix("/create_promotion"))["promotion_choice"]
    [done] = run(promotions.ActionCreatePromotion, staff(confirm, choice=choice))
    assert "is live: 1 customers got a personal code" in done["text"]
    [again] = run(promotions.ActionCreatePromotion, staff(confirm, choice=choice))
    assert "is already live" in again["text"]
    assert _promotions(engine) == [(pid, "active")]
    with session_scope(engine) as s:
        assert len(s.execute(select(PromotionCode.id)).all()) == 1


def test_the_staff_console_gets_text_and_two_buttons(engine, shop):
    [message] = run(promotions.ActionCreatePromotion, staff(REQUEST, channel="staff"))
    assert message["text"].startswith("Draft promotion lapsed-10pct-home-")
    assert "- Eligible now: 1 customers" in message["text"]
    assert [b["title"] for b in message["buttons"]] == ["Confirm", "Cancel"]
    [(pid, _)] = _promotions(engine)
    [done] = run(
        promotions.ActionCreatePromotion, staff("/x", channel="staff", choice=f"cancel {pid}")
    )
    assert done["text"].startswith("Cancelled: the draft lapsed-10pct-home-")
    assert _promotions(engine) == []


def test_unclear_requests_are_asked_about_and_store_nothing(engine, shop):
    [message] = run(promotions.ActionCreatePromotion, staff("10% off for champions"))
    assert message["text"].startswith('I don\'t know a segment called "champions"')
    [message] = run(promotions.ActionCreatePromotion, staff("an offer for lapsed customers"))
    assert message["text"].startswith("What should the offer give?")
    assert _promotions(engine) == []


def test_customers_and_outsiders_get_the_refusal(engine, shop):
    for trk in (
        tracker(REQUEST, intent="create_promotion", channel="socketio"),
        tracker(REQUEST, intent="create_promotion", channel="rest"),
        staff(REQUEST, user="USOMEONE"),
    ):
        assert [m["text"] for m in run(promotions.ActionCreatePromotion, trk)] == [REFUSAL]
    assert _promotions(engine) == []


def test_send_me_offers_again_is_an_opt_in(engine, shop):
    ada = shop["ada"]
    token = {"session_token": issue_token(ada, secret=SECRET)}
    with session_scope(engine) as s:
        record_choice(s, ada, "opt_out", reason="no more offers")

    def again(metadata):
        trk = tracker("send me offers again", intent="resume_offers", channel="socketio",
                      metadata=metadata)  # fmt: skip
        return [m["text"] for m in run(promotions.ActionResumeOffers, trk)]

    assert again(token) == [promotions.OPTED_IN]
    assert again(token) == [promotions.ALREADY_OPTED_IN]
    assert again({}) == [promotions.GUEST_OFFERS]
    with session_scope(engine) as s:
        rows = s.execute(
            select(OfferConsent.choice, OfferConsent.reason).order_by(OfferConsent.id)
        ).all()
    assert rows == [("opt_out", "no more offers"), ("opt_in", "send me offers again")]
