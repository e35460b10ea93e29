"""The customer actions with real rasa_sdk Trackers on a throwaway SQLite shop.

Asserts the exact events and messages, including the security cases: wrong e-mail, forged or
expired token, someone else's order, the limit on a guest's failed look-ups (kept in the
database, whatever the conversation), cancelling exactly once and asking twice for a return.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.events import ConversationPaused, SlotSet, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select

from actions import common, orders, products, returns, staff, support
from analytics import serving
from bot.identity import REFUSAL, issue_token
from shop.access import Requester
from shop.errors import APOLOGY, InvalidOrderNumber, TooManyAttempts
from shop.orders import get_order
from shop.store import session_scope
from shop.store.models import (
    Customer,
    Handoff,
    Inventory,
    Order,
    OrderItem,
    Product,
    Return,
    Shipment,
    SupportTicket,
    utcnow,
)

ROOT = Path(__file__).resolve().parents[2]
SECRET = "test-secret-for-actions-0123456789"
JANE, BOB = "jane@example.com", "bob@example.com"
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text())
DENIED = (
    "I couldn't find order #{n} with those details. Please check the number on your "
    "confirmation email and the email address you ordered with."
)


# ---- a small shop ------------------------------------------------------------------------------


def _add_order(session, customer, number, status, items, **kw):
    order = Order(
        order_number=number,
        customer_id=customer.id,
        email=customer.email,
        status=status,
        placed_at=kw.pop("placed_at", utcnow() - dt.timedelta(days=20)),
        total=sum((p.price * q for p, q in items), Decimal("0")),
        **kw,
    )
    for product, qty in items:
        order.items.append(OrderItem(product_id=product.id, quantity=qty, unit_price=product.price))
    session.add(order)
    return order


@pytest.fixture
def shop(engine, sqlite_url, monkeypatch, tmp_path):
    """Two customers, three products, four orders; actions use this database."""
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("SHOPBOT_SESSION_SECRET", SECRET)
    # The team is always in: hand-off messages do not depend on when the tests run.
    monkeypatch.setenv("SHOPBOT_SUPPORT_HOURS", "mon-sun 00:00-24:00")
    # No trained analytics: recommendations must degrade politely.
    monkeypatch.setenv("SHOPBOT_MODELS_DIR", str(tmp_path / "no-models"))
    serving.reset()
    products.reset_catalog_matchers()
    now = utcnow()
    with session_scope(engine) as s:
        jane = Customer(email=JANE, name="Jane Doe")
        bob = Customer(email=BOB, name="Bob Roe")
        shirt = Product(
            sku="CLO-0042", name="Blue Linen Shirt", category="clothing", price=Decimal("39.90")
        )
        kettle = Product(
            sku="HOM-0001", name="Blue Enamel Kettle", category="home", price=Decimal("45.00")
        )
        phones = Product(
            sku="EL-1042",
            name="Wireless Headphones",
            category="electronics",
            price=Decimal("89.00"),
        )
        s.add_all([jane, bob, shirt, kettle, phones])
        s.flush()
        s.add_all(
            [
                Inventory(product_id=shirt.id, on_hand=30),
                Inventory(product_id=kettle.id, on_hand=12),
                Inventory(product_id=phones.id, on_hand=0, on_order=20, lead_time_days=7),
            ]
        )
        _add_order(
            s, jane, 104233, "delivered", [(kettle, 1), (shirt, 2)],
            placed_at=now - dt.timedelta(days=12),
            shipped_at=now - dt.timedelta(days=8), delivered_at=now - dt.timedelta(days=5),
            carrier="DHL", tracking_number="JD0146000012345",
        )  # fmt: skip
        _add_order(
            s, jane, 104588, "paid", [(phones, 1)],
            placed_at=now - dt.timedelta(days=1), paid_at=now - dt.timedelta(hours=3),
        )  # fmt: skip
        shipped = _add_order(
            s, bob, 105120, "shipped", [(kettle, 1)], shipped_at=now - dt.timedelta(days=1),
            carrier="UPS", tracking_number="1Z999AA10123456784",
        )  # fmt: skip
        shipped.shipments.append(
            Shipment(
                carrier="UPS",
                tracking_number="1Z999AA10123456784",
                status="in_transit",
                shipped_at=now - dt.timedelta(days=1),
                estimated_delivery=(now + dt.timedelta(days=2)).date(),
            )
        )
        _add_order(
            s, jane, 103877, "delivered", [(shirt, 1)],
            placed_at=now - dt.timedelta(days=70),
            shipped_at=now - dt.timedelta(days=64), delivered_at=now - dt.timedelta(days=60),
        )  # fmt: skip
        ids = {"jane": jane.id, "bob": bob.id, "engine": engine}
    return ids


# ---- trackers and running actions --------------------------------------------------------------


def tracker(
    text: str = "",
    *,
    intent: str = "inform",
    slots: dict | None = None,
    entities: list | None = None,
    metadata: dict | None = None,
    channel: str = "rest",
    history: list | None = None,
    trailing_slots: dict | None = None,
    active_loop: str | None = None,
) -> Tracker:
    """A tracker whose latest user message is ``text`` (events: history, the message, slots)."""
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 1.0},
        "intent_ranking": [{"name": intent, "confidence": 1.0}],
        "entities": entities or [],
        "metadata": metadata or {},
    }
    events = list(history or [])
    events.append({"event": "action", "name": "action_listen"})
    events.append(
        {
            "event": "user",
            "text": text,
            "parse_data": latest,
            "input_channel": channel,
            "metadata": metadata or {},
        }
    )
    events += [{"event": "slot", "name": k, "value": v} for k, v in (trailing_slots or {}).items()]
    all_slots = {**(slots or {}), **(trailing_slots or {})}
    return Tracker(
        "conv-1",
        all_slots,
        latest,
        events,
        False,
        None,
        {"name": active_loop} if active_loop else {},
        "action_listen",
    )


def run(action, trk: Tracker) -> tuple[list, list[dict]]:
    """(events, messages) of running ``action`` on ``trk``."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, trk, DOMAIN))
    return events, dispatcher.messages


def texts(messages: list[dict]) -> list[str]:
    return [m.get("text") for m in messages]


def token(customer_id: int, **kw) -> dict:
    return {"session_token": issue_token(customer_id, secret=kw.pop("secret", SECRET), **kw)}


def asked(action_name: str) -> list[dict]:
    """History in which the bot's last action was ``action_name``."""
    return [{"event": "action", "name": action_name}]


def describe(engine, number: int, requester: Requester) -> str:
    with session_scope(engine) as s:
        return get_order(s, number, requester).describe()


# ---- order status ------------------------------------------------------------------------------


def test_guest_with_the_order_email_gets_status_carrier_and_tracking(engine, shop):
    events, messages = run(
        orders.ActionCheckOrderStatus(),
        tracker("jane@example.com", slots={"order_number": "104233", "email": JANE}),
    )
    assert events == []
    expected = describe(engine, 104233, Requester(email=JANE))
    assert texts(messages) == [expected]
    assert "was delivered on" in expected and "DHL" in expected and "JD0146000012345" in expected


def test_shipped_order_tells_expected_delivery(engine, shop):
    _, messages = run(
        orders.ActionCheckOrderStatus(),
        tracker("", slots={"order_number": "#105120", "email": "BOB@example.com "}),
    )
    assert "UPS" in messages[0]["text"] and "Expected delivery" in messages[0]["text"]


def test_wrong_email_gets_the_same_answer_as_unknown_and_is_counted(shop):
    for number in ("104233", "999999"):
        events, messages = run(
            orders.ActionCheckOrderStatus(),
            tracker("x", slots={"order_number": number, "email": BOB}),
        )
        assert texts(messages) == [DENIED.format(n=number)]
        assert events == [SlotSet("order_number", None), SlotSet("email", None)]
    assert _failures(shop) == 2


def test_signed_in_customer_needs_no_email_but_never_sees_others_orders(engine, shop):
    meta = token(shop["jane"])
    _, messages = run(
        orders.ActionCheckOrderStatus(),
        tracker("where is 104233", slots={"order_number": "104233"}, metadata=meta),
    )
    assert texts(messages) == [describe(engine, 104233, Requester(customer_id=shop["jane"]))]
    events, messages = run(
        orders.ActionCheckOrderStatus(),
        tracker("where is 105120", slots={"order_number": "105120"}, metadata=meta),
    )
    assert texts(messages) == [DENIED.format(n=105120)]
    assert events[0] == SlotSet("order_number", None)
    assert _failures(shop) == 0  # a signed-in customer's token proves who asks: nothing counted


@pytest.mark.parametrize(
    "meta",
    [
        {"session_token": "not-a-token"},
        "forged",
        "expired",
        {"session_token": None},
    ],
)
def test_forged_or_expired_token_is_a_guest(shop, meta):
    if meta == "forged":
        meta = token(shop["jane"], secret="someone-elses-secret-0123456789")
    elif meta == "expired":
        meta = token(shop["jane"], now=time.time() - 7200, ttl_seconds=600)
    trk = tracker("where is 104233", slots={"order_number": "104233"}, metadata=meta)
    _, messages = run(orders.ActionCheckOrderStatus(), trk)
    assert texts(messages) == ["I need your order number and the e-mail address you ordered with."]
    slots = asyncio.run(
        orders.ValidateOrderLookupForm().required_slots(
            ["order_number", "email"], CollectingDispatcher(), trk, DOMAIN
        )
    )
    assert slots == ["order_number", "email"]


def _failures(shop) -> int:
    from shop.store.models import LookupFailure

    with session_scope(shop["engine"]) as s:
        return s.execute(select(func.count()).select_from(LookupFailure)).scalar_one()


def test_a_guests_failures_count_across_conversations_then_lookups_wait(shop):
    """Five wrong guesses by the same guest, each in a new conversation (a new sender id resets
    nothing), and the next look-up, even with the right details, only says when to come back."""
    for i, number in enumerate(("104233", "103877", "999999", "999998", "999997")):
        trk = tracker("x", slots={"order_number": number, "email": BOB})
        trk.sender_id = f"conversation-{i}"
        _, messages = run(orders.ActionCheckOrderStatus(), trk)
        once_more = " You can try once more." if i == 3 else ""
        assert texts(messages)[0].startswith(f"I couldn't find order #{number}")
        assert texts(messages)[0].endswith("address you ordered with." + once_more)
    events, messages = run(
        orders.ActionCheckOrderStatus(),
        tracker("x", slots={"order_number": "105120", "email": BOB}),  # Bob's own order
    )
    assert texts(messages) == [str(TooManyAttempts(1))]
    assert messages[0]["buttons"] == [common.HANDOFF_BUTTON]
    assert events == [SlotSet("order_number", None), SlotSet("email", None)]
    # A signed-in customer is never held up, and the form still asks guests (they may sign in).
    _, messages = run(
        orders.ActionCheckOrderStatus(),
        tracker("x", slots={"order_number": "105120"}, metadata=token(shop["bob"])),
    )
    assert "UPS" in texts(messages)[0]
    slots = asyncio.run(
        orders.ValidateOrderLookupForm().required_slots(
            ["order_number", "email"], CollectingDispatcher(), tracker("x"), DOMAIN
        )
    )
    assert slots == ["order_number", "email"]


def test_the_client_address_counts_too(shop):
    for i in range(5):
        meta = {"client_address": "203.0.113.7"}
        trk = tracker(
            "x", slots={"order_number": "104233", "email": f"guess{i}@example.com"}, metadata=meta
        )
        run(orders.ActionCheckOrderStatus(), trk)
    _, messages = run(
        orders.ActionCheckOrderStatus(),
        tracker(
            "x",
            slots={"order_number": "104233", "email": JANE},
            metadata={"client_address": "203.0.113.7"},
        ),
    )
    assert "try again in" in texts(messages)[0]


def test_lookup_form_validates_and_extracts_order_number_and_email(shop):
    form = orders.ValidateOrderLookupForm()
    events, messages = run(
        form,
        tracker(
            "my order is #104233",
            slots={"requested_slot": "order_number"},
            trailing_slots={"order_number": "#104233"},
            active_loop="order_lookup_form",
        ),
    )
    assert events == [SlotSet("order_number", "104233")]
    assert messages == []
    # A bare e-mail the NLU didn't tag is still understood.
    events, _ = run(
        form,
        tracker(
            "it's Jane@Example.com.",
            slots={"requested_slot": "email", "order_number": "104233"},
            active_loop="order_lookup_form",
        ),
    )
    assert events == [SlotSet("email", JANE)]
    events, messages = run(
        form,
        tracker(
            "jane at example",
            slots={"requested_slot": "email", "order_number": "104233"},
            trailing_slots={"email": "jane at example"},
            active_loop="order_lookup_form",
        ),
    )
    assert events == [SlotSet("email", None)]
    assert texts(messages) == [orders.INVALID_EMAIL]
    events, messages = run(
        form,
        tracker(
            "12345",
            slots={"requested_slot": "order_number"},
            trailing_slots={"order_number": "12345"},
            active_loop="order_lookup_form",
        ),
    )
    assert events == [SlotSet("order_number", None)]
    assert texts(messages) == [str(InvalidOrderNumber("12345"))]


def test_signed_in_form_only_asks_the_order_number(shop):
    trk = tracker("where is my order", metadata=token(shop["jane"]))
    slots = asyncio.run(
        orders.ValidateOrderLookupForm().required_slots(
            ["order_number", "email"], CollectingDispatcher(), trk, DOMAIN
        )
    )
    assert slots == ["order_number"]


# ---- cancel ------------------------------------------------------------------------------------


def _status(engine, number):
    with session_scope(engine) as s:
        order = s.execute(select(Order).where(Order.order_number == number)).scalar_one()
        return order.status, order.cancelled_at


def test_cancel_asks_first_then_cancels_exactly_once(engine, shop):
    meta = token(shop["jane"])
    events, messages = run(
        orders.ActionAskCancelConfirmation(),
        tracker("cancel 104588", slots={"order_number": "104588"}, metadata=meta),
    )
    assert events == [SlotSet("pending_cancel", "104588")]
    assert texts(messages) == [
        "Order #104588 (1 × Wireless Headphones (EL-1042); total 89.00) hasn't shipped yet, so I "
        "can cancel it. Shall I cancel it now? This can't be undone."
    ]
    assert messages[0]["buttons"] == common.YES_NO_BUTTONS
    assert _status(engine, 104588)[0] == "paid"  # asking changes nothing

    confirm = tracker(
        "yes",
        intent="affirm",
        slots={"order_number": "104588", "pending_cancel": "104588"},
        metadata=meta,
        history=asked("action_ask_cancel_confirmation"),
    )
    events, messages = run(orders.ActionCancelOrder(), confirm)
    assert events == [SlotSet("pending_cancel", None)]
    assert texts(messages) == [
        "Done: order #104588 is cancelled. If you already paid, the 89.00 goes back to your "
        "original payment method within 5 working days. You'll get a confirmation e-mail too."
    ]
    status, cancelled_at = _status(engine, 104588)
    assert status == "cancelled" and cancelled_at is not None

    # The same "yes" delivered twice: no second change.
    events, messages = run(orders.ActionCancelOrder(), confirm)
    assert texts(messages)[0].startswith("Order #104588 is already cancelled")
    assert _status(engine, 104588) == (status, cancelled_at)


def test_yes_without_a_question_cancels_nothing(engine, shop):
    trk = tracker(
        "yes",
        intent="affirm",
        slots={"order_number": "104588", "pending_cancel": "104588"},
        metadata=token(shop["jane"]),
        history=asked("utter_greet"),
    )
    events, messages = run(orders.ActionCancelOrder(), trk)
    assert texts(messages) == [orders.NOTHING_TO_CONFIRM]
    assert events == [SlotSet("pending_cancel", None)]
    assert _status(engine, 104588)[0] == "paid"


def test_yes_after_a_rephrase_request_still_confirms(engine, shop):
    # Asked to confirm, the customer wrote something unclear; the fallback asked to rephrase and
    # undid that message (UserUtteranceReverted); then the customer said "yes".
    rephrased = [
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": "hmm?", "parse_data": {"intent": {"name": "nlu_fallback"}}},
        {"event": "action", "name": "action_default_fallback"},
        {"event": "bot", "text": "Sorry, I didn't quite understand."},
        {"event": "rewind"},
    ]
    trk = tracker(
        "yes",
        intent="affirm",
        slots={"order_number": "104588", "pending_cancel": "104588"},
        metadata=token(shop["jane"]),
        history=asked("action_ask_cancel_confirmation") + rephrased,
    )
    events, messages = run(orders.ActionCancelOrder(), trk)
    assert texts(messages)[0].startswith("Done: order #104588 is cancelled.")
    assert _status(engine, 104588)[0] == "cancelled"


def test_cannot_cancel_shipped_or_someone_elses_order(engine, shop):
    _, messages = run(
        orders.ActionAskCancelConfirmation(),
        tracker("cancel", slots={"order_number": "105120", "email": BOB}),
    )
    assert texts(messages) == [
        "Order #105120 has already shipped, so it can't be cancelled any more. Once it arrives "
        "you can return it within 30 days of delivery."
    ]
    events, messages = run(
        orders.ActionAskCancelConfirmation(),
        tracker("cancel", slots={"order_number": "104588"}, metadata=token(shop["bob"])),
    )
    assert texts(messages) == [DENIED.format(n=104588)]
    assert SlotSet("pending_cancel", None) in events
    # Bob can't cancel Jane's order even with a forged pending confirmation.
    _, messages = run(
        orders.ActionCancelOrder(),
        tracker(
            "yes",
            intent="affirm",
            slots={"pending_cancel": "104588"},
            metadata=token(shop["bob"]),
            history=asked("action_ask_cancel_confirmation"),
        ),
    )
    assert texts(messages) == [DENIED.format(n=104588)]
    assert _status(engine, 104588)[0] == "paid"


# ---- returns -----------------------------------------------------------------------------------


def test_bare_order_number_outside_a_form_offers_what_to_do_with_it():
    order = {"order_number": "104233"}
    for trk in (
        tracker("#104233", entities=[{"entity": "order_number", "value": "#104233"}]),
        tracker("it's 104233"),  # the NLU missed the entity: the text is read as the forms do
    ):
        events, messages = run(orders.ActionOfferOrderChoices(), trk)
        assert texts(messages) == ["What would you like to do with order #104233?"]
        assert [b["payload"] for b in messages[0]["buttons"]] == [
            "/order_status" + json.dumps(order),
            "/request_return" + json.dumps(order),
            "/cancel_order" + json.dumps(order),
        ]
        assert events == [SlotSet("order_number", "104233")]


def test_bare_email_or_rma_outside_a_form_is_kept_and_offers_choices():
    trk = tracker(
        "Jane.Doe@Example.com", entities=[{"entity": "email", "value": "Jane.Doe@Example.com"}]
    )
    events, messages = run(orders.ActionOfferOrderChoices(), trk)
    assert texts(messages) == [
        "Thanks, I've noted jane.doe@example.com. What would you like to do?"
    ]
    assert [b["payload"] for b in messages[0]["buttons"]] == [
        "/order_status",
        "/request_return",
        "/cancel_order",
        "/return_status",
    ]
    assert events == [SlotSet("email", "jane.doe@example.com")]

    # An RMA's digits are not an order number.
    events, messages = run(orders.ActionOfferOrderChoices(), tracker("RMA-104233"))
    assert texts(messages) == ["Would you like to know where return RMA-104233 stands?"]
    assert messages[0]["buttons"][0]["payload"] == "/return_status" + json.dumps(
        {"rma_number": "RMA-104233"}
    )
    assert events == [SlotSet("rma_number", "RMA-104233")]

    events, messages = run(orders.ActionOfferOrderChoices(), tracker("the kettle"))
    assert texts(messages) == ["What would you like to do? I can help with an order or a return."]
    assert events == []


def _returns(engine) -> int:
    with session_scope(engine) as s:
        return s.execute(select(func.count()).select_from(Return)).scalar_one()


def test_return_form_checks_the_order_before_asking_for_the_item(shop):
    form = returns.ValidateReturnForm()
    events, messages = run(
        form,
        tracker(
            "jane@example.com",
            slots={"requested_slot": "email", "order_number": "104233"},
            trailing_slots={"email": JANE},
            active_loop="return_form",
        ),
    )
    # (Guests need every slot of the form, so Rasa picks the next one itself.)
    assert events == [SlotSet("email", JANE)]
    assert messages == []
    # Wrong e-mail: counted, both cleared, asked again.
    events, messages = run(
        form,
        tracker(
            "bob@example.com",
            slots={"requested_slot": "email", "order_number": "104233"},
            trailing_slots={"email": BOB},
            active_loop="return_form",
        ),
    )
    assert texts(messages) == [DENIED.format(n=104233)]
    assert events == [SlotSet("email", BOB), SlotSet("order_number", None), SlotSet("email", None)]
    assert _failures(shop) == 1


def test_return_item_buttons_list_the_returnable_lines(shop):
    _, messages = run(
        returns.ActionAskReturnItem(),
        tracker("", slots={"order_number": "104233", "email": JANE}),
    )
    assert texts(messages) == ["Which item would you like to return?"]
    assert messages[0]["buttons"] == [
        {"title": "1 × Blue Enamel Kettle (HOM-0001)", "payload": '/inform{"sku": "HOM-0001"}'},
        {"title": "2 × Blue Linen Shirt (CLO-0042)", "payload": '/inform{"sku": "CLO-0042"}'},
    ]


def test_return_item_by_name_or_sku(shop):
    form = returns.ValidateReturnForm()
    base = {"order_number": "104233", "email": JANE, "requested_slot": "return_item"}
    for said, sku in (("the kettle", "HOM-0001"), ('/inform{"sku": "CLO-0042"}', "CLO-0042")):
        events, _ = run(
            form,
            tracker(
                said, slots=base, trailing_slots={"return_item": said}, active_loop="return_form"
            ),
        )
        assert events == [SlotSet("return_item", sku)]
    events, messages = run(
        form,
        tracker(
            "the blue one",
            slots=base,
            trailing_slots={"return_item": "the blue one"},
            active_loop="return_form",
        ),
    )
    assert events[0] == SlotSet("return_item", None)
    assert texts(messages) == [
        "I couldn't tell which item you mean. Order #104233 contains: 1 × Blue Enamel Kettle "
        "(HOM-0001); 2 × Blue Linen Shirt (CLO-0042)."
    ]


def test_return_confirmed_once_and_asked_twice_gives_one_rma(engine, shop):
    slots = {
        "order_number": "104233",
        "email": JANE,
        "return_item": "HOM-0001",
        "return_reason": "it leaks",
    }
    events, messages = run(returns.ActionAskReturnConfirmation(), tracker("it leaks", slots=slots))
    pending = {"order_number": "104233", "sku": "HOM-0001", "quantity": 1, "reason": "it leaks"}
    assert events == [
        SlotSet("pending_return", json.dumps(pending)),
        SlotSet("return_blocked", None),
    ]
    assert texts(messages) == [
        "Just to confirm: return 1 × Blue Enamel Kettle (HOM-0001) from order #104233, reason: "
        "\u201cit leaks\u201d. Shall I register the return?"
    ]
    assert _returns(engine) == 0

    confirm = tracker(
        "yes",
        intent="affirm",
        slots={**slots, "pending_return": json.dumps(pending)},
        history=asked("action_ask_return_confirmation"),
    )
    events, messages = run(returns.ActionCreateReturn(), confirm)
    with session_scope(engine) as s:
        rma = s.execute(select(Return.rma_number)).scalar_one()
    reset = [SlotSet(name, None) for name in returns.RESET_RETURN]
    assert events == reset + [SlotSet("rma_number", rma)]
    assert messages[0]["text"].startswith(
        f"Your return is registered. Your return number is {rma}."
    )
    assert "prepaid return label" in messages[0]["text"]

    events, messages = run(returns.ActionCreateReturn(), confirm)
    assert _returns(engine) == 1
    assert messages[0]["text"].startswith(
        f"That item already has a return: {rma} (status: requested)."
    )

    # Where does it stand?
    _, messages = run(
        returns.ActionCheckReturnStatus(), tracker("", slots={"rma_number": rma, "email": JANE})
    )
    assert texts(messages) == [
        f"Return {rma} (1 × Blue Enamel Kettle, order #104233): We've registered the return and "
        "are waiting for your parcel."
    ]


def test_nothing_returnable_stops_the_form_and_says_why(engine, shop):
    form = returns.ValidateReturnForm()
    meta = token(shop["jane"])
    events, _ = run(
        form,
        tracker(
            "104588",
            slots={"requested_slot": "order_number"},
            trailing_slots={"order_number": "104588"},
            metadata=meta,
            active_loop="return_form",
        ),
    )
    assert events == [
        SlotSet("order_number", "104588"),
        SlotSet("return_blocked", True),
        SlotSet("requested_slot", None),
    ]
    _, messages = run(
        returns.ActionAskReturnConfirmation(),
        tracker("", slots={"order_number": "104588", "return_blocked": True}, metadata=meta),
    )
    assert texts(messages) == [
        "Order #104588 hasn't been delivered yet, so it can't be returned yet. Once it arrives "
        "you have 30 days to return it."
    ]
    _, messages = run(
        returns.ActionAskReturnConfirmation(),
        tracker("", slots={"order_number": "103877"}, metadata=meta),
    )
    assert "return window for order #103877 closed" in messages[0]["text"]
    assert _returns(engine) == 0


def _start_return(meta: dict, earlier: str, text: str = "I want to return an item", **kw):
    """The return form's validation as Rasa runs it when the form starts: the order number of
    an earlier question is pre-filled."""
    trk = tracker(
        text,
        intent="request_return",
        # As Rasa's activation sends it: the form just made the active loop (after the
        # message), the first empty slot requested, the pre-filled order number.
        slots={"order_number": earlier, "requested_slot": "return_item"},
        trailing_slots={"order_number": earlier},
        metadata=meta,
        active_loop="return_form",
        **kw,
    )
    trk.events.insert(-1, {"event": "active_loop", "name": "return_form"})
    return run(returns.ValidateReturnForm(), trk)


def test_a_return_after_a_status_question_asks_which_order_when_that_one_cannot_be_returned(
    shop,
):
    # "Where is #104588?" (paid, not delivered) … "I want to return an item".
    events, messages = _start_return(token(shop["jane"]), "104588")
    assert texts(messages) == [
        "Order #104588 hasn't been delivered yet, so it can't be returned yet. Once it arrives "
        "you have 30 days to return it. Is the return for another order?"
    ]
    # The earlier order is forgotten and the form asks for the order next.
    assert events[-2:] == [SlotSet("order_number", None), SlotSet("requested_slot", "order_number")]
    assert SlotSet("return_blocked", True) not in events


def test_a_return_after_a_status_question_says_which_order_it_is_for(shop):
    events, messages = _start_return(token(shop["jane"]), "104233")
    assert texts(messages)[0] == (
        "I'll start the return for order #104233, the one we talked about. If it's for another "
        "order, just type that order's number."
    )
    assert SlotSet("order_number", None) not in events
    # The number given in the same message is what the customer means: nothing to point out.
    _, messages = _start_return(
        token(shop["jane"]),
        "104233",
        text="I want to return something from order 104233",
        entities=[{"entity": "order_number", "value": "104233"}],
    )
    assert not any("the one we talked about" in (t or "") for t in texts(messages))
    # Someone else's order carried over is not looked at or named: the form asks for one.
    events, messages = _start_return(token(shop["jane"]), "105120")
    assert SlotSet("order_number", None) in events
    assert not any("105120" in (t or "") for t in texts(messages))


def test_return_status_of_someone_elses_order_is_denied(shop):
    events, messages = run(
        returns.ActionCheckReturnStatus(),
        tracker("", slots={"order_number": "104233"}, metadata=token(shop["bob"])),
    )
    assert texts(messages) == [DENIED.format(n=104233)]
    assert events[0] == SlotSet("rma_number", None)


# ---- products ----------------------------------------------------------------------------------


def test_price_and_availability_from_the_catalogue(shop):
    _, messages = run(
        products.ActionProductInfo(),
        tracker("do you have the Blue Enamel Kettle in stock?", intent="product_search"),
    )
    assert texts(messages) == ["Blue Enamel Kettle (HOM-0001) costs 45.00 and is in stock."]
    _, messages = run(
        products.ActionProductInfo(),
        tracker(
            "is EL-1042 available?",
            intent="product_search",
            entities=[{"entity": "sku", "value": "EL-1042"}],
        ),
    )
    assert texts(messages) == [
        "Wireless Headphones (EL-1042) costs 89.00 but is out of stock right now; more is on its "
        "way, expected in about 7 days."
    ]


def test_unknown_product_asks_for_name_or_code(shop):
    _, messages = run(
        products.ActionProductInfo(), tracker("do you sell submarines?", intent="product_search")
    )
    assert texts(messages) == [
        "I couldn't find that product. Could you give me its name as shown in the shop, or its "
        "product code (like HOM-0001)?"
    ]


def test_new_product_is_found_without_retraining(engine, shop, monkeypatch):
    run(products.ActionProductInfo(), tracker("kettle price", intent="product_search"))
    with session_scope(engine) as s:
        s.add(
            Product(
                sku="HOM-0777", name="Copper Espresso Pot", category="home", price=Decimal("55")
            )
        )
    monkeypatch.setattr(products, "CATALOG_REFRESH_SECONDS", 0.0)
    _, messages = run(products.ActionProductInfo(), tracker("how much is the copper espresso pot?"))
    assert texts(messages)[0].startswith("Copper Espresso Pot (HOM-0777) costs 55.00")


def test_recommendations_without_a_trained_model_apologise(shop):
    events, messages = run(
        products.ActionRecommendProducts(),
        tracker("something for the kitchen", intent="product_recommendation"),
    )
    assert events == []
    assert texts(messages) == [
        "Sorry, I can't make recommendations right now. Please have a look at the bestsellers "
        "on our home page, or ask me about a specific product."
    ]


@pytest.mark.parametrize("channel", ["rest", "socketio"])
def test_product_cards_payload_and_text_fallback(channel):
    class P:
        sku, name, price, category = "HOM-0001", "Blue Enamel Kettle", 45, "home"

    dispatcher = CollectingDispatcher()
    products.send_products(dispatcher, tracker("hi", channel=channel), "Popular right now:", [P()])
    # The widget draws the cards, so it gets no text list; other channels get both.
    if channel == "socketio":
        assert dispatcher.messages[0]["text"] == "Popular right now:"
    else:
        assert (
            dispatcher.messages[0]["text"]
            == "Popular right now:\n• Blue Enamel Kettle (HOM-0001) — 45.00"
        )
    assert dispatcher.messages[1]["custom"] == {
        "type": "product_cards",
        "products": [
            {"sku": "HOM-0001", "name": "Blue Enamel Kettle", "price": "45.00", "category": "home"}
        ],
    }
    assert len(dispatcher.messages) == 2


# ---- complaints, hand-off, fallback ------------------------------------------------------------


def _tickets(engine) -> list[SupportTicket]:
    with session_scope(engine) as s:
        return list(s.execute(select(SupportTicket).order_by(SupportTicket.id)).scalars())


def test_complaint_opens_a_ticket_and_offers_a_return(engine, shop):
    history = [
        {"event": "user", "text": "hi", "input_channel": "rest"},
        {"event": "bot", "text": "Hi! I'm the shop's assistant."},
    ]
    events, messages = run(
        support.ActionLogComplaint(),
        tracker(
            "my order #104233 arrived damaged",
            intent="complaint",
            slots={"email": JANE},
            entities=[{"entity": "order_number", "value": "#104233"}],
            history=history,
        ),
    )
    assert events == []
    [ticket] = _tickets(engine)
    assert ticket.kind == "complaint" and ticket.conversation_id == "conv-1"
    assert ticket.transcript.splitlines() == [
        "customer: hi",
        "bot: Hi! I'm the shop's assistant.",
        "customer: my order #104233 arrived damaged",
    ]
    assert texts(messages) == [
        "I'm really sorry about that — it's not the experience we want you to have. I've recorded "
        f"your complaint as ticket #{ticket.id}, and a colleague will get back to you within one "
        "working day.",
        "Order #104233 is still within the 30-day return window. Would you like to return the item?",
    ]
    assert messages[1]["buttons"][0]["payload"] == '/request_return{"order_number": "104233"}'


def test_complaint_about_someone_elses_order_offers_nothing(engine, shop):
    _, messages = run(
        support.ActionLogComplaint(),
        tracker("order 105120 is broken", intent="complaint", slots={"email": JANE}),
    )
    assert len(messages) == 1 and "ticket #" in messages[0]["text"]
    assert _tickets(engine)[0].order_id is None


def test_handoff_creates_ticket_and_pauses(engine, shop):
    events, messages = run(
        support.ActionHumanHandoff(),
        tracker("talk to a human", intent="human_handoff", metadata=token(shop["jane"])),
    )
    assert events == [ConversationPaused()]
    [ticket] = _tickets(engine)
    assert ticket.kind == "handoff" and ticket.customer_id == shop["jane"]
    assert ticket.channel == "rest"
    assert texts(messages) == [support.HANDOFF_MESSAGE.format(ticket=ticket.id)]
    with session_scope(engine) as s:
        [handoff] = s.execute(select(Handoff)).scalars().all()
        assert (handoff.ticket_id, handoff.state, handoff.channel) == (ticket.id, "waiting", "rest")
        assert handoff.guest_email is None and handoff.thread_ts is None


def test_guest_handoff_keeps_what_the_guest_gave_and_says_when_out_of_hours(
    engine, shop, monkeypatch
):
    # Saturday 18:00 with the default hours: the customer is told when to expect an answer.
    monkeypatch.delenv("SHOPBOT_SUPPORT_HOURS")
    monkeypatch.setattr(support, "utcnow", lambda: dt.datetime(2026, 12, 5, 18, 0))
    _, messages = run(
        support.ActionHumanHandoff(),
        tracker(
            "a person please",
            intent="human_handoff",
            slots={"email": JANE, "order_number": "104233"},
        ),
    )
    [ticket] = _tickets(engine)
    [text] = texts(messages)
    assert text.startswith(support.HANDOFF_MESSAGE.format(ticket=ticket.id))
    assert "expect an answer on Monday at 08:00" in text
    with session_scope(engine) as s:
        [handoff] = s.execute(select(Handoff)).scalars().all()
        assert (handoff.guest_email, handoff.guest_order) == (JANE, 104233)
        assert handoff.reason == "a person please"


def test_two_failed_fallbacks_hand_off_and_core_fallback_asks_to_rephrase(engine, shop):
    events, messages = run(
        support.ActionDefaultFallback(),
        tracker("blargh", intent="nlu_fallback", active_loop="action_two_stage_fallback"),
    )
    assert events == [ConversationPaused()]
    [ticket] = _tickets(engine)
    assert texts(messages) == [
        support.GIVE_UP_MESSAGE + support.HANDOFF_MESSAGE.format(ticket=ticket.id)
    ]
    events, messages = run(support.ActionDefaultFallback(), tracker("hmm"))
    assert events == [UserUtteranceReverted()]
    assert texts(messages) == [support.REPHRASE]


def test_unsure_nlu_offers_likely_intents(shop):
    trk = tracker("cancel where return", intent="nlu_fallback")
    trk.latest_message["intent_ranking"] = [
        {"name": "nlu_fallback", "confidence": 0.6},
        {"name": "cancel_order", "confidence": 0.4},
        {"name": "faq", "confidence": 0.3},
        {"name": "order_status", "confidence": 0.2},
        {"name": "product_search", "confidence": 0.01},
    ]
    _, messages = run(support.ActionDefaultAskAffirmation(), trk)
    # Only real tasks, only those with some confidence; chit-chat is never offered.
    assert messages[0]["buttons"] == [
        {"title": "Cancel an order", "payload": "/cancel_order"},
        {"title": "Track an order", "payload": "/order_status"},
        {"title": "Something else", "payload": "/out_of_scope"},
    ]


def test_unsure_nlu_offers_likely_faq_topics_beside_tasks(shop):
    trk = tracker("how long till it gets to me", intent="nlu_fallback")
    trk.latest_message["intent_ranking"] = [
        {"name": "nlu_fallback", "confidence": 0.7},
        {"name": "faq", "confidence": 0.5},
        {"name": "order_status", "confidence": 0.3},
        {"name": "greet", "confidence": 0.1},
    ]
    trk.latest_message["response_selector"] = {
        "all_retrieval_intents": ["faq"],
        "faq": {
            "ranking": [
                {"intent_response_key": "faq/shipping_time", "confidence": 0.7},
                {"intent_response_key": "faq/international_shipping", "confidence": 0.2},
                {"intent_response_key": "faq/refund_time", "confidence": 0.09},
                {"intent_response_key": "faq/unknown_topic", "confidence": 0.01},
            ]
        },
    }
    _, messages = run(support.ActionDefaultAskAffirmation(), trk)
    # FAQ topics weigh by the FAQ's confidence (0.5 × 0.7 = 0.35, 0.5 × 0.2 = 0.10, 0.045 is
    # below the floor), tasks by their own; a topic's button asks its question.
    assert messages[0]["buttons"] == [
        {"title": "Delivery times", "payload": "how long does shipping take?"},
        {"title": "Track an order", "payload": "/order_status"},
        {"title": "Delivery abroad", "payload": "do you ship internationally?"},
        {"title": "Something else", "payload": "/out_of_scope"},
    ]
    assert len(support.offers(trk.latest_message)) == support.MAX_OFFERS
    # A malformed selector is no reason to fail: the tasks are still offered.
    trk.latest_message["response_selector"] = {"faq": {"ranking": [{"confidence": "x"}]}}
    assert support.offers(trk.latest_message) == [
        {"title": "Track an order", "payload": "/order_status"}
    ]


@pytest.mark.parametrize(
    "channel, metadata",
    [("staff", {}), ("slack", {"slack_user": "UALLOWED"}), ("slack", {"slack_user": "UNOBODY"})],
)
def test_on_the_teams_channels_nobody_is_handed_over_or_paused(engine, shop, channel, metadata):
    events, messages = run(
        support.ActionDefaultFallback(),
        tracker("blargh", intent="nlu_fallback", channel=channel, metadata=metadata,
                active_loop="action_two_stage_fallback"),
    )  # fmt: skip
    assert events == [UserUtteranceReverted()]
    # the staff wording of utter_out_of_scope (domain.yml, channel staff / slack) says the rest
    assert messages[0]["text"] == support.GIVE_UP_MESSAGE.strip()
    assert messages[1]["response"] == "utter_out_of_scope"
    events, messages = run(
        support.ActionHumanHandoff(),
        tracker("talk to a human", intent="human_handoff", channel=channel, metadata=metadata),
    )
    assert events == [] and texts(messages) == [support.STAFF_NO_HANDOFF]
    assert _tickets(engine) == []
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(Handoff)) == 0


def test_gibberish_on_the_teams_channels_gets_the_staff_wording_of_the_rephrase_request(shop):
    trk = tracker("blorp flib", intent="nlu_fallback", channel="staff")
    trk.latest_message["intent_ranking"] = [{"name": "nlu_fallback", "confidence": 0.6},
                                            {"name": "order_status", "confidence": 0.3}]  # fmt: skip
    _, messages = run(support.ActionDefaultAskAffirmation(), trk)
    assert [m.get("response") for m in messages] == ["utter_ask_rephrase"]


def test_unsure_on_the_teams_channels_offers_staff_questions_only(shop):
    trk = tracker("reorder sales thing", intent="nlu_fallback", channel="staff")
    trk.latest_message["intent_ranking"] = [
        {"name": "nlu_fallback", "confidence": 0.6},
        {"name": "faq", "confidence": 0.4},
        {"name": "reorder_advice", "confidence": 0.3},
        {"name": "order_status", "confidence": 0.25},
        {"name": "sales_report", "confidence": 0.2},
    ]
    trk.latest_message["response_selector"] = {
        "faq": {"ranking": [{"intent_response_key": "faq/promo_codes", "confidence": 0.9}]}
    }
    _, messages = run(support.ActionDefaultAskAffirmation(), trk)
    assert messages[0]["buttons"] == [
        {"title": "What to reorder", "payload": "/reorder_advice"},
        {"title": "Sales report", "payload": "/sales_report"},
        {"title": "Something else", "payload": "/out_of_scope"},
    ]
    # the same message from a customer: the customers' tasks and FAQ topics
    titles = [b["title"] for b in support.offers(trk.latest_message)]
    assert titles == ["Promo codes", "Track an order"]


# ---- staff and failures ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "action",
    [
        staff.ActionStockLevel,
        staff.ActionDemandForecast,
        staff.ActionReorderAdvice,
        staff.ActionSegmentReport,
        staff.ActionSalesReport,
    ],
)
def test_staff_actions_refuse_customers(shop, action):
    events, messages = run(action(), tracker("stock of CLO-0042", channel="rest"))
    assert events == [] and texts(messages) == [REFUSAL]
    # Metadata can't make a customer channel a staff one.
    _, messages = run(action(), tracker("x", channel="socketio", metadata={"slack_user": "U1"}))
    assert texts(messages) == [REFUSAL]
    # (What staff get is tested in tests/integration/test_staff_actions.py.)


def test_database_down_gives_an_apology_and_no_events(monkeypatch, tmp_path):
    # The "database file" is a folder: SQLite can't open it, every query fails.
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}")
    for action, slots in (
        (orders.ActionCheckOrderStatus(), {"order_number": "104233", "email": JANE}),
        (support.ActionHumanHandoff(), {}),
    ):
        events, messages = run(action, tracker("x", slots=slots))
        assert events == []
        assert texts(messages) == [APOLOGY]


def test_order_number_question_offers_a_signed_in_customers_recent_orders(shop):
    _, messages = run(orders.ActionAskOrderNumber(), tracker("where is my order"))
    assert texts(messages) == [orders.ASK_ORDER_NUMBER]
    assert not messages[0]["buttons"]
    _, messages = run(
        orders.ActionAskOrderNumber(), tracker("where is my order", metadata=token(shop["jane"]))
    )
    assert texts(messages) == ["Which order do you mean? Pick one or type its number."]
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    # Jane's three orders, newest first; never Bob's.
    assert payloads == [
        '/inform{"order_number": "104588"}',
        '/inform{"order_number": "104233"}',
        '/inform{"order_number": "103877"}',
    ]


def test_gibberish_gets_a_rephrase_request_not_random_options(shop):
    trk = tracker("blorp flib", intent="nlu_fallback")
    trk.latest_message["intent_ranking"] = [
        {"name": "nlu_fallback", "confidence": 0.6},
        {"name": "bot_challenge", "confidence": 0.3},
        {"name": "thank", "confidence": 0.2},
        {"name": "order_status", "confidence": 0.01},
    ]
    _, messages = run(support.ActionDefaultAskAffirmation(), trk)
    assert texts(messages) == [support.REPHRASE] and not messages[0]["buttons"]


def test_return_form_names_the_only_returnable_item_instead_of_asking(engine, shop):
    with session_scope(engine) as s:
        order = s.execute(select(Order).where(Order.order_number == 104233)).scalar_one()
        kettle_line = min(order.items, key=lambda i: i.id)
        s.add(Return(rma_number="RMA-000001", order_id=order.id, order_item_id=kettle_line.id,
                     quantity=1, reason="leaks"))  # fmt: skip
    events, messages = run(
        returns.ValidateReturnForm(),
        tracker(
            "104233",
            slots={"requested_slot": "order_number"},
            trailing_slots={"order_number": "104233"},
            metadata=token(shop["jane"]),
            active_loop="return_form",
        ),
    )
    assert texts(messages) == [
        "The item you can return from order #104233 is 2 × Blue Linen Shirt (CLO-0042)."
    ]
    assert events == [
        SlotSet("order_number", "104233"),
        SlotSet("return_item", "CLO-0042"),
        SlotSet("requested_slot", "return_reason"),
    ]


def test_warm_up_builds_the_product_matcher_once(shop, sqlite_url):
    products.warm_up()
    assert list(products._matchers) == [sqlite_url]
    matcher = products._matchers[sqlite_url]
    assert products.catalog_matcher() is matcher
