"""Returns: a form (order, e-mail for guests, item, reason), confirmation, one RMA; return status."""

from __future__ import annotations

import json
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet

from actions.common import (
    YES_NO_BUTTONS,
    NotIdentified,
    ShopAction,
    bot_asked_just_before,
    first_value,
    identify_order,
    latest_text,
    requester,
    run_blocking,
    verified_customer,
)
from actions.orders import NOTHING_TO_CONFIRM, ValidateOrderLookupForm
from shop.errors import (
    InvalidQuantity,
    ItemNotIdentified,
    MissingDetails,
    NotReturnable,
    OrderAccessDenied,
    ShopbotError,
)
from shop.orders import OrderLine
from shop.returns import create_return, find_line, return_status, returnable_lines
from shop.store import session_scope
from shop.text import parse_order_number

MAX_REASON_LENGTH = 500
RESET_RETURN = ("return_item", "return_reason", "return_blocked", "pending_return")


def _returnable(dispatcher, tracker: Tracker) -> list[OrderLine]:
    """The lines of the customer's order that can be returned (NotReturnable if none), or
    NotIdentified when the order is not theirs (the customer has been told)."""
    number = first_value(tracker.get_slot("order_number"))
    return identify_order(dispatcher, tracker, lambda s, who: returnable_lines(s, number, who))


def _lines_quietly(tracker: Tracker) -> list[OrderLine]:
    """The returnable lines of the order the form already identified (nothing said to the
    customer); OrderAccessDenied or NotReturnable as :func:`returnable_lines` raises them."""
    with session_scope() as session:
        return returnable_lines(session, tracker.get_slot("order_number"), requester(tracker))


def _carried_over(tracker: Tracker) -> bool:
    """True when a return starts with the order number of an earlier question ("where is
    #104233?" … "I want to return an item"): the customer may mean another order."""
    if not _starting(tracker) or not tracker.get_slot("order_number"):
        return False
    entities = tracker.latest_message.get("entities") or []
    stated = any(e.get("entity") == "order_number" for e in entities)
    return not stated and parse_order_number(latest_text(tracker)) is None


def _starting(tracker: Tracker) -> bool:
    """True while the return form is being activated: Rasa validates the pre-filled slots with
    the form already the active loop, its activation after the latest user message."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "active_loop" and event.get("name") == "return_form":
            return True
    return False


def _check_carried_over(dispatcher, tracker: Tracker) -> list[EventType]:
    """Keeps the earlier order when something in it can be returned, and says so; otherwise
    explains why not and forgets it, so that the form asks which order the return is for."""
    number = first_value(tracker.get_slot("order_number"))
    try:
        _lines_quietly(tracker)
    except NotReturnable as why:
        dispatcher.utter_message(text=f"{why} Is the return for another order?")
        return [SlotSet("order_number", None)]
    except ShopbotError:
        # Not (yet) shown to be theirs, or locked out: ask for the order as if none had been
        # mentioned (the look-up that follows says what is wrong).
        return [SlotSet("order_number", None)]
    dispatcher.utter_message(
        text=(
            f"I'll start the return for order #{number}, the one we talked about. If it's for "
            "another order, just type that order's number."
        )
    )
    return []


def item_buttons(lines: list[OrderLine]) -> list[dict[str, str]]:
    """Quick replies, one per returnable line (payload sets the ``sku`` entity)."""
    return [
        {"title": line.label(), "payload": "/inform" + json.dumps({"sku": line.sku})}
        for line in lines
    ]


class ValidateReturnForm(ValidateOrderLookupForm):
    """Identification as for orders, then the order's returnable lines, item and reason."""

    def name(self) -> str:
        return "validate_return_form"

    def let_go_events(self) -> list[EventType]:
        # The item and reason were for this return; the order and e-mail may serve the next.
        return super().let_go_events() + [SlotSet(slot, None) for slot in RESET_RETURN]

    async def required_slots(self, domain_slots, dispatcher, tracker, domain) -> list[str]:
        slots = await super().required_slots(domain_slots, dispatcher, tracker, domain)
        if tracker.get_slot("return_blocked"):
            # Nothing in this order can be returned: stop after identification and let the
            # confirmation step explain why.
            return [slot for slot in slots if slot in ("order_number", "email")]
        return slots

    async def get_validation_events(self, dispatcher, tracker, domain) -> list[EventType]:
        events = await super().get_validation_events(dispatcher, tracker, domain)
        if _carried_over(tracker):
            checked = await run_blocking(_check_carried_over, dispatcher, tracker)
            tracker.add_slots(checked)
            events += checked
        number = tracker.get_slot("order_number")
        identified = verified_customer(tracker) is not None or tracker.get_slot("email")
        if not number or not identified or tracker.get_slot("return_item"):
            return events
        # Order and identity are known, the item isn't: check the order before asking for it.
        try:
            lines = await run_blocking(_returnable, dispatcher, tracker)
        except NotIdentified as failed:
            tracker.add_slots(failed.events)
            return events + failed.events
        except NotReturnable:
            blocked = [SlotSet("return_blocked", True)]
            tracker.add_slots(blocked)
            return events + blocked
        if len(lines) == 1:
            # Only one thing to return: say which instead of asking.
            dispatcher.utter_message(
                text=f"The item you can return from order #{number} is {lines[0].label()}."
            )
            chosen = [SlotSet("return_item", lines[0].sku)]
            tracker.add_slots(chosen)
            return events + chosen
        return events

    async def validate_return_item(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        number = tracker.get_slot("order_number")
        if not number:
            return {"return_item": None}
        try:
            lines = await run_blocking(_lines_quietly, tracker)
        except (OrderAccessDenied, NotReturnable):
            return {"return_item": None}
        line = find_line(first_value(value), lines)
        if line is None:
            listing = "; ".join(item.label() for item in lines)
            dispatcher.utter_message(
                text=f"I couldn't tell which item you mean. Order #{number} contains: {listing}."
            )
            return {"return_item": None}
        return {"return_item": line.sku}

    def validate_return_reason(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        reason = str(first_value(value) or "").strip()
        if not reason or reason.startswith("/"):
            return {"return_reason": None}
        return {"return_reason": reason[:MAX_REASON_LENGTH]}


class ActionAskReturnItem(ShopAction):
    """Asks which item to return, with a quick-reply button per returnable line."""

    NAME = "action_ask_return_item"

    def work(self, dispatcher, tracker, domain) -> list[EventType]:
        try:
            lines = _lines_quietly(tracker) if tracker.get_slot("order_number") else []
        except (OrderAccessDenied, NotReturnable):
            lines = []
        if lines:
            dispatcher.utter_message(
                text="Which item would you like to return?", buttons=item_buttons(lines)
            )
        else:
            dispatcher.utter_message(text="Which item would you like to return?")
        return []


class ActionAskReturnConfirmation(ShopAction):
    """Checks eligibility and asks an explicit yes/no before creating the return."""

    NAME = "action_ask_return_confirmation"
    AFTER_FORM = "return_form"

    def work(self, dispatcher, tracker, domain) -> list[EventType]:
        reset = [SlotSet(slot, None) for slot in RESET_RETURN]
        number = tracker.get_slot("order_number")
        try:
            lines = _returnable(dispatcher, tracker)
        except NotIdentified as failed:
            return reset + failed.events
        except NotReturnable as err:
            dispatcher.utter_message(text=str(err))
            return reset
        line = find_line(first_value(tracker.get_slot("return_item")), lines)
        reason = tracker.get_slot("return_reason")
        if line is None or not reason:
            dispatcher.utter_message(
                text="Sorry, I didn't get which item to return. Please start again and pick one."
            )
            return reset
        quantity = line.quantity
        asked = _quantity(tracker.get_slot("quantity"))
        if asked is not None and 1 <= asked <= line.quantity:
            quantity = asked
        pending = {"order_number": number, "sku": line.sku, "quantity": quantity, "reason": reason}
        dispatcher.utter_message(
            text=(
                f"Just to confirm: return {quantity} × {line.name} ({line.sku}) from order "
                f"#{number}, reason: \u201c{reason}\u201d. Shall I register the return?"
            ),
            buttons=YES_NO_BUTTONS,
        )
        return [SlotSet("pending_return", json.dumps(pending)), SlotSet("return_blocked", None)]


def _quantity(value: Any) -> int | None:
    value = first_value(value)
    words = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
    if isinstance(value, str) and value.strip().lower() in words:
        return words[value.strip().lower()]
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number == int(number) else None


class ActionCreateReturn(ShopAction):
    """Creates the confirmed return (or gives back the existing one) with instructions."""

    NAME = "action_create_return"

    def work(self, dispatcher, tracker, domain) -> list[EventType]:
        reset = [SlotSet(slot, None) for slot in RESET_RETURN]
        raw = tracker.get_slot("pending_return")
        if not raw or not bot_asked_just_before(tracker, ActionAskReturnConfirmation.NAME):
            dispatcher.utter_message(text=NOTHING_TO_CONFIRM)
            return reset
        pending = json.loads(raw)
        try:
            with session_scope() as session:
                result = create_return(
                    session,
                    pending["order_number"],
                    requester(tracker),
                    sku=pending["sku"],
                    quantity=int(pending["quantity"]),
                    reason=pending["reason"],
                )
        except (OrderAccessDenied, NotReturnable, ItemNotIdentified, InvalidQuantity) as err:
            dispatcher.utter_message(text=str(err))
            return reset
        if result.created:
            head = "Your return is registered."
        else:
            head = f"That item already has a return: {result.rma_number} (status: {result.status})."
        dispatcher.utter_message(text=f"{head} {result.instructions}")
        return reset + [SlotSet("rma_number", result.rma_number)]


class ValidateReturnStatusForm(ValidateOrderLookupForm):
    """Identification for return status: an RMA or an order number, plus e-mail for guests."""

    def name(self) -> str:
        return "validate_return_status_form"

    async def required_slots(self, domain_slots, dispatcher, tracker, domain) -> list[str]:
        slots = await super().required_slots(domain_slots, dispatcher, tracker, domain)
        if tracker.get_slot("rma_number"):
            return [slot for slot in slots if slot != "order_number"]
        if verified_customer(tracker) is not None:
            return []  # signed in: their latest returns
        return slots


class ActionCheckReturnStatus(ShopAction):
    """Where the customer's return(s) stand."""

    NAME = "action_check_return_status"
    AFTER_FORM = "return_status_form"

    def work(self, dispatcher, tracker, domain) -> list[EventType]:
        rma = first_value(tracker.get_slot("rma_number"))
        number = first_value(tracker.get_slot("order_number"))
        try:
            returns = identify_order(
                dispatcher,
                tracker,
                lambda s, who: return_status(
                    s, who, rma_number=rma, order_number=None if rma else number
                ),
                forget=("rma_number", "order_number", "email"),
                needs_number=False,
            )
        except NotIdentified as failed:
            return failed.events
        except MissingDetails as err:
            dispatcher.utter_message(text=str(err))
            return []
        if not returns:
            where = f" for order #{parse_order_number(number)}" if number else ""
            dispatcher.utter_message(
                text=f"I can't see any return{where} yet. Say \u201creturn an item\u201d to start one."
            )
            return []
        dispatcher.utter_message(text="\n".join(r.message for r in returns[:5]))
        return []
