"""Whole conversations over the REST channel against the real Rasa server, the real action server
and the demo shop database (see tests/support/servers.py). Each conversation has its own sender id.

The shared demo data is left usable for the other integration tests: cancellations and returns
use Grace Hopper's orders (104241, 104240); Ada's orders are only read.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid

import pytest
from sqlalchemy import func, select

from actions.common import NEED_ORDER_DETAILS
from actions.forms import LET_GO
from actions.orders import NOTHING_TO_CONFIRM
from bot.identity import issue_token
from shop.faq_topics import FAQ_TOPICS
from shop.store import make_engine, session_scope
from shop.store.models import Order, Return, SupportTicket
from support.domain_texts import response_text

pytestmark = pytest.mark.rasa

ADA, GRACE = 1, 2  # DEMO_ACCOUNTS customer ids


class Chat:
    """One conversation: say() returns the bot's replies; texts() their texts."""

    def __init__(self, assistant, customer_id: int | None = None, token: str | None = None):
        self.a = assistant
        self.sender = "e2e-" + uuid.uuid4().hex[:10]
        if customer_id is not None:
            token = assistant.token_for(customer_id)
        self.metadata = {"session_token": token} if token else None

    def say(self, text: str) -> list[dict]:
        return self.a.say(text, sender=self.sender, metadata=self.metadata, timeout=60)

    def texts(self, text: str) -> str:
        return "\n".join(r.get("text") or "" for r in self.say(text))


@pytest.fixture(scope="module")
def engine(assistant):
    eng = make_engine(assistant.db_url)
    yield eng
    eng.dispose()


def test_greeting(assistant):
    assert "assistant" in Chat(assistant).texts("hello").lower()


def test_guest_order_status_needs_the_orders_email(assistant):
    chat = Chat(assistant)
    assert "e-mail" in chat.texts("where is my order #104233")
    reply = chat.texts("ada@example.com")
    assert "DHL" in reply and "JD0146104233001" in reply


def test_bare_order_number_gets_choices_and_the_button_checks_that_order(assistant):
    chat = Chat(assistant)
    replies = chat.say("#104233")
    assert "What would you like to do with order #104233?" in [r.get("text") for r in replies]
    buttons = {b["title"]: b["payload"] for r in replies for b in r.get("buttons", [])}
    assert set(buttons) == {"Where is it?", "Return an item", "Cancel it"}
    assert "e-mail" in chat.texts(buttons["Where is it?"])  # a guest proves the order is theirs
    reply = chat.texts("ada@example.com")
    assert "DHL" in reply and "JD0146104233001" in reply


def test_guest_with_the_wrong_email_learns_nothing(assistant):
    chat = Chat(assistant)
    chat.say("where is my order #104233")
    reply = chat.texts("mallory@example.com")
    assert "couldn't find order #104233" in reply
    assert "DHL" not in reply and "JD0146" not in reply


def test_signed_in_customer_gets_status_without_email(assistant):
    reply = Chat(assistant, ADA).texts("where is my order #104233?")
    assert "DHL" in reply and "JD0146104233001" in reply and "e-mail" not in reply


def test_someone_elses_order_is_not_shown(assistant):
    reply = Chat(assistant, GRACE).texts("where is my order #104233?")
    assert "couldn't find order #104233" in reply and "DHL" not in reply


def test_forged_token_is_treated_as_a_guest(assistant):
    forged = issue_token(ADA, secret="not-the-shops-secret")
    reply = Chat(assistant, token=forged).texts("where is my order #104233?")
    assert "e-mail" in reply and "DHL" not in reply


def test_cancel_needs_confirmation_and_happens_once(assistant, engine):
    chat = Chat(assistant, GRACE)
    replies = chat.say("please cancel my order #104241")
    assert any(b["payload"] == "/affirm" for r in replies for b in r.get("buttons", []))
    with session_scope(engine) as s:
        assert s.scalar(select(Order.status).where(Order.order_number == 104241)) == "pending"
    assert "cancelled" in chat.texts("yes").lower()
    chat.say("yes")  # a second confirmation changes nothing
    with session_scope(engine) as s:
        order = s.execute(select(Order).where(Order.order_number == 104241)).scalar_one()
        assert order.status == "cancelled" and order.cancelled_at is not None


def test_return_gives_one_rma(assistant, engine):
    chat = Chat(assistant, GRACE)
    replies = chat.say("I want to return an item from order #104240")
    buttons = [b for r in replies for b in r.get("buttons", [])]
    if buttons:  # several items: pick the first one, as a customer clicks it
        replies = chat.say(buttons[0]["payload"])
    assert "reason" in " ".join(r.get("text", "") for r in replies).lower()
    replies = chat.say("it's too small")
    assert any(b["payload"] == "/affirm" for r in replies for b in r.get("buttons", []))
    reply = chat.texts("yes")
    assert "RMA-" in reply
    rma = reply[reply.index("RMA-") : reply.index("RMA-") + 10]
    with session_scope(engine) as s:
        order_id = s.scalar(select(Order.id).where(Order.order_number == 104240))
        rmas = s.scalars(select(Return.rma_number).where(Return.order_id == order_id)).all()
    assert rmas == [rma]
    status = Chat(assistant, GRACE).texts(f"what's the status of my return {rma}?")
    assert rma in status


def test_faq_is_answered(assistant):
    reply = Chat(assistant).texts("how long does delivery take?")
    assert "working days" in reply


def test_every_faq_topic_button_gets_its_topics_answer(assistant):
    """The "did you mean" buttons of FAQ topics send a question (shop.faq_topics.FAQ_TOPICS):
    each must be understood and answered with its own topic's answer."""
    for key, (_title, question) in FAQ_TOPICS.items():
        assert Chat(assistant).texts(question) == response_text(f"utter_{key}"), key


def test_recommendations_come_as_cards_and_text(assistant):
    replies = Chat(assistant, ADA).say("what would you recommend for me?")
    cards = [r["custom"] for r in replies if r.get("custom", {}).get("type") == "product_cards"]
    assert cards and 1 <= len(cards[0]["products"]) <= 10
    product = cards[0]["products"][0]
    assert {"sku", "name", "price", "category"} <= set(product)
    assert any(product["name"] in (r.get("text") or "") for r in replies)


def test_handoff_creates_a_ticket_and_pauses(assistant, engine):
    chat = Chat(assistant, ADA)
    chat.say("hi")
    reply = chat.texts("I want to talk to a human")
    assert "ticket" in reply.lower() or "colleague" in reply.lower() or "team" in reply.lower()
    with session_scope(engine) as s:
        ticket = s.execute(
            select(SupportTicket).where(SupportTicket.conversation_id == f"rest:{chat.sender}")
        ).scalar_one()
        assert ticket.kind == "handoff" and "talk to a human" in ticket.transcript
    assert "support team" in chat.texts("hello? anyone?")


def test_malformed_rest_bodies_get_400(assistant):
    for body in (
        b"not json",
        b"[1,2]",
        json.dumps({"message": "hi"}).encode(),
        json.dumps(
            {"sender": "x", "message": "hi", "input_channel": "slack", "metadata": "nope"}
        ).encode(),
    ):
        req = urllib.request.Request(
            f"{assistant.rasa_url}/webhooks/rest/webhook",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=10)
        assert err.value.code == 400


def test_action_server_down_gives_an_apology_then_recovers(assistant):
    chat = Chat(assistant, ADA)
    assistant.stop_actions()
    try:
        reply = chat.texts("where is my order #104233?")
        assert "something went wrong" in reply.lower()
    finally:
        assistant.start_actions()
    assert "DHL" in chat.texts("where is my order #104233?")


def test_rasa_restart_keeps_the_conversation(assistant):
    chat = Chat(assistant)
    assert "e-mail" in chat.texts("where is my order #104233")
    assistant.stop_rasa()
    assistant.start_rasa()
    # The SQL tracker store kept the open form: the e-mail answers the question asked before.
    assert "DHL" in chat.texts("ada@example.com")


# ---- needs and which order a return is for (issue 17) -------------------------------------------

KITCHEN = (
    "Kettle", "Teapot", "Mug Set", "Chopping Board", "Casserole Dish", "Frying Pan", "Storage Jar",
    "Serving Bowl", "Olive Oil", "Vinegar", "Pasta", "Pesto", "Honey", "Wall Clock",
)  # fmt: skip


def test_something_for_the_kitchen_finds_kitchen_things_not_the_home_bestsellers(assistant):
    replies = Chat(assistant).say("can you recommend something for the kitchen?")
    cards = [r["custom"] for r in replies if r.get("custom", {}).get("type") == "product_cards"]
    assert cards, replies
    names = [p["name"] for p in cards[0]["products"]]
    assert names and all(any(k.lower() in n.lower() for k in KITCHEN) for n in names), names
    assert any("kitchen" in (r.get("text") or "") for r in replies), replies


def test_a_thing_the_shop_does_not_sell_is_not_answered_as_if_it_did(assistant):
    chat = Chat(assistant)
    reply = chat.texts("do you have running shoes?")  # the demo shop sells no shoes
    assert "Nothing in the shop matches “running shoes” exactly; these come closest:" in reply
    # a need the shop meets, asked the same way, is answered as such
    reply = chat.texts("do you have anything to boil water?")
    assert "For “to boil water”, you could look at:" in reply and "Kettle" in reply, reply


def test_a_return_after_a_status_question_asks_which_order_it_is_for(assistant):
    chat = Chat(assistant, ADA)
    assert "DHL" in chat.texts("where is my order #104233?")
    reply = chat.texts("I want to return an item")
    # #104233 is still on its way: the bot says so and asks which order, instead of reusing it.
    assert "hasn't been delivered" in reply and "another order" in reply, reply
    reply = chat.texts("104234")  # delivered 5 days ago: a shirt and a kettle
    assert "104233" not in reply and "Which item" in reply, reply


def test_goodbye_or_forget_it_in_the_middle_of_a_form_stops_its_questions(assistant):
    asks_order = "What's your order number?"
    for start in ("I want to return an item", "where is my order?", "I want to cancel my order"):
        chat = Chat(assistant)
        assert asks_order in chat.texts(start), start
        # only the goodbye: no order number question after it
        assert chat.texts("thanks, bye") == response_text("utter_goodbye"), start
        assert asks_order not in chat.texts("how much is shipping?"), start
    chat = Chat(assistant)
    assert asks_order in chat.texts("I want to cancel my order")
    assert chat.texts("forget it") == response_text("utter_cancel_kept")


ELSEWHERE = ("how much is shipping?", "do you ship abroad?", "what payment methods do you accept?")


def test_a_form_stops_asking_after_three_turns_spent_elsewhere(assistant, engine):
    asks_order = "What's your order number?"
    chat = Chat(assistant)
    assert asks_order in chat.texts("where is my order?")
    for question in ELSEWHERE[:-1]:  # answered, then reminded of the question
        reply = chat.texts(question)
        assert asks_order in reply and reply != asks_order, (question, reply)
    reply = chat.texts(ELSEWHERE[-1])  # answered, and the form lets go
    assert reply.endswith(LET_GO["order_lookup_form"]), reply
    assert asks_order not in reply and NEED_ORDER_DETAILS not in reply, reply
    assert asks_order not in chat.texts("how long does delivery take?")  # nothing is open
    assert asks_order in chat.texts("where is my order?")  # asking again starts over

    chat = Chat(assistant)  # a cancellation lets go the same way, and a "yes" then changes nothing
    assert asks_order in chat.texts("I want to cancel my order")
    replies = [chat.texts(question) for question in ELSEWHERE]
    assert replies[-1].endswith(LET_GO["cancel_form"]), replies
    assert chat.texts("yes") == NOTHING_TO_CONFIRM

    chat = Chat(assistant)  # a return lets go at a later question too; nothing is registered
    returns_before = _returns_of(engine, 104234)
    assert asks_order in chat.texts("I want to return an item")
    assert "e-mail" in chat.texts("104234")  # delivered: a shirt and a kettle
    assert "Which item" in chat.texts("ada@example.com")
    asks_reason = "What's the reason for the return"
    assert asks_reason in chat.texts("the kettle")
    replies = [chat.texts(question) for question in ELSEWHERE]
    assert all(asks_reason in reply for reply in replies[:-1]), replies
    assert replies[-1].endswith(LET_GO["return_form"]) and asks_reason not in replies[-1]
    # asked again, the same order is offered and the item asked anew (not the kettle of before)
    reply = chat.texts("I want to return an item")
    assert "#104234" in reply and "Which item" in reply, reply
    assert _returns_of(engine, 104234) == returns_before


def _returns_of(engine, order_number: int) -> int:
    with session_scope(engine) as s:
        order_id = s.scalar(select(Order.id).where(Order.order_number == order_number))
        return s.scalar(select(func.count()).where(Return.order_id == order_id))
