"""Order status and cancellation: identify the customer, then answer or change exactly once."""

from __future__ import annotations

import json
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    HANDOFF_BUTTON,
    YES_NO_BUTTONS,
    NotIdentified,
    SafeFormValidation,
    ShopAction,
    bot_asked_just_before,
    first_value,
    identify_order,
    latest_entity,
    latest_text,
    requester,
    verified_customer,
)
from actions.offers import offer_after_reply
from shop.errors import CannotCancel, InvalidOrderNumber, OrderAccessDenied
from shop.orders import OrderSummary, cancel_order, get_order, list_recent_orders
from shop.store import session_scope
from shop.text import email_in_text, money, normalise_email, parse_order_number, parse_rma_number

INVALID_EMAIL = (
    "That doesn't look like an e-mail address. Please type the address you ordered with, "
    "for example jane@example.com."
)
NOTHING_TO_CONFIRM = (
    "There's nothing waiting for your confirmation right now. What would you like to do?"
)


class ValidateOrderLookupForm(SafeFormValidation):
    """Order number (and e-mail for guests): format checks; ownership is checked afterwards."""

    def name(self) -> str:
        return "validate_order_lookup_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if verified_customer(tracker) is not None:
            # Signed in: the token proves who it is, no e-mail needed.
            return [slot for slot in domain_slots if slot != "email"]
        return domain_slots

    async def extract_order_number(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        # The customer answered the question with a bare number the NLU did not tag.
        if tracker.get_slot("requested_slot") != "order_number":
            return {}
        if any(
            e.get("entity") == "order_number" for e in tracker.latest_message.get("entities", [])
        ):
            return {}
        number = parse_order_number(latest_text(tracker))
        return {"order_number": str(number)} if number else {}

    async def extract_email(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "email":
            return {}
        if any(e.get("entity") == "email" for e in tracker.latest_message.get("entities", [])):
            return {}
        email = email_in_text(latest_text(tracker))
        return {"email": email} if email else {}

    def validate_order_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        number = parse_order_number(first_value(value))
        if number is None:
            dispatcher.utter_message(text=str(InvalidOrderNumber(value)))
            return {"order_number": None}
        return {"order_number": str(number)}

    def validate_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        email = normalise_email(first_value(value))
        if email is None:
            dispatcher.utter_message(text=INVALID_EMAIL)
            return {"email": None}
        return {"email": email}


class ValidateCancelForm(ValidateOrderLookupForm):
    """Same identification as the order look-up, for cancellations."""

    def name(self) -> str:
        return "validate_cancel_form"


class ActionCheckOrderStatus(ShopAction):
    """Status, carrier, tracking number and expected delivery of the customer's own order."""

    NAME = "action_check_order_status"
    AFTER_FORM = "order_lookup_form"

    def work(self, dispatcher, tracker, domain) -> list[EventType]:
        number = first_value(tracker.get_slot("order_number"))
        try:
            order = identify_order(dispatcher, tracker, lambda s, who: get_order(s, number, who))
        except NotIdentified as failed:
            return failed.events
        dispatcher.utter_message(text=order.describe())
        customer_id = verified_customer(tracker)
        if customer_id is not None:  # a guest never sees a personal code
            offer_after_reply(dispatcher, tracker, customer_id)
        return []


class ActionAskCancelConfirmation(ShopAction):
    """Checks the order can be cancelled and asks an explicit yes/no; changes nothing."""

    NAME = "action_ask_cancel_confirmation"
    AFTER_FORM = "cancel_form"

    def work(self, dispatcher, tracker, domain) -> list[EventType]:
        forget = [SlotSet("pending_cancel", None)]
        number = first_value(tracker.get_slot("order_number"))
        try:
            order = identify_order(dispatcher, tracker, lambda s, who: get_order(s, number, who))
        except NotIdentified as failed:
            return failed.events + forget
        problem = order.cannot_cancel()
        if problem is not None:
            dispatcher.utter_message(text=str(problem))
            return forget
        items = ", ".join(line.label() for line in order.lines) or "no items"
        dispatcher.utter_message(
            text=(
                f"Order #{order.order_number} ({items}; total {money(order.total)}) hasn't "
                "shipped yet, so I can cancel it. Shall I cancel it now? This can't be undone."
            ),
            buttons=YES_NO_BUTTONS,
        )
        return [SlotSet("pending_cancel", str(order.order_number))]


class ActionCancelOrder(ShopAction):
    """Cancels the order the customer just confirmed, exactly once."""

    NAME = "action_cancel_order"

    def work(self, dispatcher, tracker, domain) -> list[EventType]:
        pending = tracker.get_slot("pending_cancel")
        if not pending or not bot_asked_just_before(tracker, ActionAskCancelConfirmation.NAME):
            dispatcher.utter_message(text=NOTHING_TO_CONFIRM)
            return [SlotSet("pending_cancel", None)]
        try:
            with session_scope() as session:
                order = cancel_order(session, pending, requester(tracker))
        except (CannotCancel, OrderAccessDenied) as err:
            dispatcher.utter_message(text=str(err))
            return [SlotSet("pending_cancel", None)]
        dispatcher.utter_message(
            text=(
                f"Done: order #{order.order_number} is cancelled. If you already paid, the "
                f"{money(order.total)} goes back to your original payment method within 5 "
                "working days. You'll get a confirmation e-mail too."
            )
        )
        return [SlotSet("pending_cancel", None)]


ASK_ORDER_NUMBER = (
    "What's your order number? It's the 6 digits on your confirmation e-mail, for example #104233."
)
RECENT_ORDERS_OFFERED = 5


class ActionAskOrderNumber(ShopAction):
    """Asks for the order number; a signed-in customer gets their recent orders as buttons."""

    NAME = "action_ask_order_number"

    def work(self, dispatcher, tracker, domain) -> list[EventType]:
        customer_id = verified_customer(tracker)
        recent: list[OrderSummary] = []
        if customer_id is not None:
            with session_scope() as session:
                recent = list_recent_orders(session, customer_id, RECENT_ORDERS_OFFERED)
        if not recent:
            dispatcher.utter_message(text=ASK_ORDER_NUMBER)
            return []
        dispatcher.utter_message(
            text="Which order do you mean? Pick one or type its number.",
            buttons=[
                {
                    "title": f"#{o.order_number} — {o.placed_at:%d %b %Y}, {o.status}",
                    "payload": "/inform" + json.dumps({"order_number": str(o.order_number)}),
                }
                for o in recent
            ],
        )
        return []


def _intent_button(title: str, intent: str, **entities: str) -> dict[str, str]:
    """A quick reply that sends ``intent`` with ``entities`` (so the form needn't ask again)."""
    return {"title": title, "payload": f"/{intent}" + (json.dumps(entities) if entities else "")}


class ActionOfferOrderChoices(ShopAction):
    """An order number, e-mail or RMA typed outside any question: asks what to do with it.

    Without this, a bare "#104233" got the "I didn't understand" answer. The details go into
    their slots, so the form the customer picks next doesn't ask for them again (it still checks
    that the order is theirs).
    """

    NAME = "action_offer_order_choices"

    def work(self, dispatcher, tracker, domain) -> list[EventType]:
        text = latest_text(tracker)
        rma = parse_rma_number(latest_entity(tracker, "rma_number") or text)
        # The NLU may miss the entity in a bare message: read the text as the forms do.
        number = parse_order_number(latest_entity(tracker, "order_number") or text)
        email = normalise_email(latest_entity(tracker, "email")) or email_in_text(text)
        events: list[EventType] = []
        if email:
            events.append(SlotSet("email", email))
        if rma:
            dispatcher.utter_message(
                text=f"Would you like to know where return {rma} stands?",
                buttons=[
                    _intent_button("Where is my return?", "return_status", rma_number=rma),
                    HANDOFF_BUTTON,
                ],
            )
            return events + [SlotSet("rma_number", rma)]
        if number:
            order = {"order_number": str(number)}
            dispatcher.utter_message(
                text=f"What would you like to do with order #{number}?",
                buttons=[
                    _intent_button("Where is it?", "order_status", **order),
                    _intent_button("Return an item", "request_return", **order),
                    _intent_button("Cancel it", "cancel_order", **order),
                ],
            )
            return events + [SlotSet("order_number", str(number))]
        if email:
            lead = f"Thanks, I've noted {email}. What would you like to do?"
        else:
            lead = "What would you like to do? I can help with an order or a return."
        dispatcher.utter_message(
            text=lead,
            buttons=[
                _intent_button("Where is my order?", "order_status"),
                _intent_button("Return an item", "request_return"),
                _intent_button("Cancel an order", "cancel_order"),
                _intent_button("Where is my return?", "return_status"),
            ],
        )
        return events
