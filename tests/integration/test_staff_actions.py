"""Staff actions with real rasa_sdk Trackers against a trained demo shop: who gets answers, and
what the answers contain on Slack (Block Kit + chart) and on the staff console (text)."""

from __future__ import annotations

import asyncio
import base64
import io

import pytest
from PIL import Image
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import handoff_staff, staff
from analytics import serving
from bot.identity import REFUSAL
from shop.store import db

STAFF_USER, OTHER_USER = "USTAFF01", "UOTHER99"
ALL = [
    staff.ActionStockLevel,
    staff.ActionDemandForecast,
    staff.ActionReorderAdvice,
    staff.ActionSegmentReport,
    staff.ActionSalesReport,
    handoff_staff.ActionOpenHandoffs,
    handoff_staff.ActionHandoffStats,
]


@pytest.fixture(autouse=True)
def shop(trained_demo, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", trained_demo.url)
    monkeypatch.setenv("SHOPBOT_MODELS_DIR", str(trained_demo.models_dir))
    monkeypatch.setenv("SHOPBOT_STAFF_SLACK_USERS", f"{STAFF_USER}, UANOTHER")
    serving.reset()
    yield
    serving.reset()
    db.dispose_engines()


def tracker(text, channel, *, metadata=None, entities=None, intent="stock_level") -> Tracker:
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 1.0},
        "entities": entities or [],
        "metadata": metadata or {},
    }
    events = [
        {"event": "action", "name": "action_listen"},
        {
            "event": "user",
            "text": text,
            "parse_data": latest,
            "input_channel": channel,
            "metadata": metadata or {},
        },
    ]
    return Tracker("staff-1", {}, latest, events, False, None, {}, "action_listen")


def run(action, trk):
    d = CollectingDispatcher()
    events = asyncio.run(action().run(d, trk, {}))
    return events, d.messages


def slack(text, user=STAFF_USER, **kw):
    return tracker(text, "slack", metadata={"slack_user": user, "out_channel": "D1"}, **kw)


@pytest.mark.parametrize("action", ALL)
def test_refused_everywhere_but_for_staff(action):
    for trk in (
        tracker("stock of CLO-0002", "rest"),
        tracker("stock of CLO-0002", "socketio", metadata={"slack_user": STAFF_USER}),
        slack("stock of CLO-0002", user=OTHER_USER),
        slack("stock of CLO-0002", user=None),
    ):
        events, messages = run(action, trk)
        assert (
            events == []
            and messages
            == [
                {
                    "text": REFUSAL,
                    "buttons": [],
                    "elements": [],
                    "custom": {},
                    "template": None,
                    "response": None,
                    "image": None,
                    "attachment": None,
                }
            ]
            or [m["text"] for m in messages] == [REFUSAL]
        )
        # no data leaks: only the refusal was said
        assert len(messages) == 1 and not messages[0].get("custom")


def test_stock_on_slack_is_block_kit(trained_demo):
    _, messages = run(staff.ActionStockLevel, slack("How many CLO-0002 do we have?"))
    [msg] = messages
    payload = msg["custom"]
    assert payload["blocks"][0]["text"]["text"].startswith("Stock of CLO-0002")
    fields = {
        f["text"].split("\n")[0]: f["text"].split("\n")[1]
        for f in next(b for b in payload["blocks"] if "fields" in b)["fields"]
    }
    assert {"*On hand*", "*On order*", "*Days of cover*", "*Expected stock-out*"} <= set(fields)
    assert "chart" not in payload and "On hand" in payload["text"]


def test_stock_by_product_name_uses_the_live_catalogue():
    _, messages = run(staff.ActionStockLevel, tracker("stock of the blue enamel kettle", "staff"))
    assert messages[0]["text"].startswith("Stock of HOM-0001 Blue Enamel Kettle")


def test_forecast_on_slack_has_a_real_chart():
    trk = slack(
        "Forecast for EL-1001 next 2 weeks",
        intent="demand_forecast",
        entities=[{"entity": "sku", "value": "EL-1001"}],
    )
    _, [msg] = run(staff.ActionDemandForecast, trk)
    chart = msg["custom"]["chart"]
    img = Image.open(io.BytesIO(base64.b64decode(chart["png_b64"])))
    assert img.format == "PNG" and img.size == (900, 450)
    assert chart["filename"] == "forecast-EL-1001.png"
    table = next(
        b
        for b in msg["custom"]["blocks"]
        if b["type"] == "section" and "```" in b.get("text", {}).get("text", "")
    )
    assert table["text"]["text"].count("\n") >= 3  # header, rule, two weeks


def test_console_gets_plain_text_reports():
    for action, text in (
        (staff.ActionReorderAdvice, "what should I reorder?"),
        (staff.ActionSegmentReport, "show me the customer segments"),
        (staff.ActionSalesReport, "sales last month by category"),
    ):
        _, [msg] = run(action, tracker(text, "staff"))
        assert msg["text"] and not msg.get("custom")
    assert (
        "Customer segments"
        in run(staff.ActionSegmentReport, tracker("segments", "staff"))[1][0]["text"]
    )


def test_unknown_product_and_missing_product_are_explained():
    _, [msg] = run(staff.ActionStockLevel, tracker("stock of ZZ-9999", "staff"))
    assert msg["text"].startswith("no product with SKU ZZ-9999")
    _, [msg] = run(staff.ActionDemandForecast, tracker("forecast please", "staff"))
    assert msg["text"] == staff.WHICH_PRODUCT


def test_forecast_by_product_name_ignores_the_question_words():
    _, [msg] = run(
        staff.ActionDemandForecast,
        tracker(
            "forecast for the blue enamel kettle next 2 weeks", "staff", intent="demand_forecast"
        ),
    )
    assert msg["text"].startswith("Forecast for HOM-0001 Blue Enamel Kettle")
    assert "in 14 days" in msg["text"]


def test_hand_off_questions_answered_on_slack_with_a_chart():
    _, [listing] = run(handoff_staff.ActionOpenHandoffs, slack("open hand-offs"))
    assert "Open hand-offs" in listing["custom"]["text"]
    _, [stats] = run(handoff_staff.ActionHandoffStats, slack("hand-off stats"))
    custom = stats["custom"]
    assert "Hand-off stats" in custom["text"] and "week of" in str(custom["blocks"])
    png = base64.b64decode(custom["chart"]["png_b64"])
    assert Image.open(io.BytesIO(png)).format == "PNG"
