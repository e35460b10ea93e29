"""Promotions drafted from words, on a real database: the draft and its preview, Confirm makes it
live exactly once (also when two confirmations race), Cancel discards it, expired and unknown
drafts are refused politely."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from analytics.reports.promotion_draft import CANCEL, CONFIRM, draft_blocks
from shop.promotions.drafts import cancel_draft, confirm_draft, create_draft, preview
from shop.promotions.errors import InvalidPromotion
from shop.promotions.request import parse_promotion_request
from shop.promotions.targeting import segment_labels
from shop.store import session_scope
from shop.store.promotion_models import Promotion
from support.race import race
from support.shop_data import build_shop, code_count, store_segments

NOW = dt.datetime(2026, 12, 6, 9, 30)


@pytest.fixture
def shop(engine):
    return _shop(engine)


def _shop(engine):
    ids = build_shop(engine)
    store_segments(engine, {ids["ada"]: (0, "Lapsed customers"),
                            ids["bob"]: (1, "Home enthusiasts — 1 order/month, 1,500/month")})  # fmt: skip
    return ids


def _draft(engine, text="create a 10% offer on kitchenware for the at-risk segment for two weeks"):
    with session_scope(engine) as s:
        request = parse_promotion_request(text, segment_labels(s), NOW)
        draft = create_draft(s, request, NOW)
        draft.created_at = NOW
        return preview(s, draft, request)


def _status(engine, promotion_id):
    with session_scope(engine) as s:
        p = s.get(Promotion, promotion_id)
        return None if p is None else p.status


def test_a_draft_and_its_preview(engine, shop):
    view = _draft(engine)
    assert _status(engine, view.id) == "draft"
    assert view.name == "lapsed-10pct-home-20261206"
    assert (view.reward, view.where) == ("10% off", "on home")
    assert view.segments == ('Lapsed customers (for "at-risk segment")',)
    assert view.eligible == 1  # Ada
    assert (view.starts_at, view.ends_at) == (NOW, NOW + dt.timedelta(days=14))
    assert (view.per_customer_cap, view.global_cap, view.budget) == (1, 1, None)
    assert dict(view.lines())["Caps"] == "1 use per customer, 1 uses in all, no budget"
    assert code_count(engine, view.id) == 0
    # The same request again gets a name of its own.
    assert _draft(engine).name == "lapsed-10pct-home-20261206-2"


@pytest.mark.parametrize(
    "text, says",
    [
        ("150% off for the lapsed customers", "a percentage reward is more than 0 and at most 100"),
        ("10% off for lapsed customers, budget of £0", "the budget must be more than 0"),
        ("10% off for lapsed customers, capped at 0 uses", "the global cap must be at least 1"),
    ],
)
def test_terms_out_of_bounds_are_refused_where_every_promotion_is_checked(engine, shop, text, says):
    with pytest.raises(InvalidPromotion, match=says):
        _draft(engine, text)
    with session_scope(engine) as s:
        assert s.execute(select(func.count()).select_from(Promotion)).scalar() == 0


def test_the_slack_preview_has_the_terms_and_both_buttons(engine, shop):
    view = _draft(engine)
    message = draft_blocks(view, "/confirm", "/cancel")
    header, fields, actions, _ = message["blocks"]
    assert header["text"]["text"] == "Draft promotion lapsed-10pct-home-20261206"
    texts = [f["text"] for f in fields["fields"]]
    assert texts[0] == "*Reward*\n10% off on home"
    assert texts[2].startswith("*Eligible now*\n1 customers")
    assert [(b["action_id"], b["value"]) for b in actions["elements"]] == [
        (CONFIRM, "/confirm"),
        (CANCEL, "/cancel"),
    ]


def test_confirm_makes_it_live_once(engine, shop):
    view = _draft(engine)
    with session_scope(engine) as s:
        first = confirm_draft(s, view.id, NOW + dt.timedelta(minutes=5))
    assert first.outcome == "activated" and first.codes == 1
    assert first.message().startswith(f"{view.name} is live: 1 customers got a personal code")
    assert _status(engine, view.id) == "active" and code_count(engine, view.id) == 1
    with session_scope(engine) as s:
        again = confirm_draft(s, view.id, NOW + dt.timedelta(minutes=6))
    assert again.outcome == "already_active"
    assert "already live (confirmed at 06 Dec 09:35 UTC)" in again.message()
    assert code_count(engine, view.id) == 1
    with session_scope(engine) as s:
        assert cancel_draft(s, view.id).outcome == "live_not_cancelled"
    assert _status(engine, view.id) == "active"


def test_cancel_discards_the_draft_and_a_later_click_is_answered(engine, shop):
    view = _draft(engine)
    with session_scope(engine) as s:
        decision = cancel_draft(s, view.id)
    assert decision.outcome == "cancelled" and view.name in decision.message()
    assert _status(engine, view.id) is None
    with session_scope(engine) as s:
        assert confirm_draft(s, view.id, NOW).outcome == "unknown"
        assert cancel_draft(s, view.id).outcome == "unknown"
        assert s.execute(select(func.count()).select_from(Promotion)).scalar() == 0


def test_an_expired_draft_is_not_confirmed(engine, shop):
    view = _draft(engine)
    with session_scope(engine) as s:
        late = confirm_draft(s, view.id, NOW + dt.timedelta(hours=25))
    assert late.outcome == "expired" and "expired" in late.message()
    assert _status(engine, view.id) == "draft" and code_count(engine, view.id) == 0


def test_two_confirmations_racing_activate_once(any_engine):
    _shop(any_engine)
    view = _draft(any_engine)

    def confirm(_):
        with session_scope(any_engine) as s:
            return confirm_draft(s, view.id, NOW).outcome

    outcomes = race(2, confirm)
    assert sorted(outcomes) == ["activated", "already_active"], outcomes
    assert code_count(any_engine, view.id) == 1
