"""Forms that let go: a question the customer keeps leaving aside is not asked forever.

A form (order look-up, cancel, return, return status) asks its question again after every
digression (an FAQ answer, a recommendation). Once or twice that is a useful reminder; after
``PATIENCE`` turns in a row spent elsewhere the form stops, says so, and changes nothing (the
order is not looked up, cancelled or returned). The customer starts it again by asking, as the
first time.

The form's validation decides (it runs each time the form comes back after a digression), says
the let-go message and ends the form; the action that normally follows the form's end (the
status, the confirmation question) sees ``LET_GO_SLOT`` set in the same turn and stays silent.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet

PATIENCE = 3
"""Consecutive customer turns spent elsewhere after which a form stops asking."""

LET_GO_SLOT = "form_let_go"

LET_GO = {
    "order_lookup_form": (
        "Let's leave your order for now. Whenever you want me to check it, just ask again or "
        "send me its number."
    ),
    "cancel_form": (
        "I'll leave the cancellation for now: nothing has been cancelled. Ask again whenever you "
        "want to cancel an order."
    ),
    "return_form": (
        "I'll leave the return for now: nothing has been registered. Ask again whenever you want "
        "to return something."
    ),
    "return_status_form": (
        "Let's leave your return for now. Whenever you want to know where it stands, just ask."
    ),
}


def turns_elsewhere(events: list[dict[str, Any]], form: str) -> int:
    """How many of the customer's latest turns in a row the active ``form`` could not use.

    A turn counts when the form was rejected on it (the message did not answer its question, so
    a rule answered something else: an FAQ, a recommendation, the fallback). Counting stops at
    a turn the form used (an answer, even a wrong one) and at the form's activation.
    """
    count = 0
    rejected = False
    for event in reversed(events):
        kind = event.get("event")
        if kind == "action_execution_rejected" and event.get("name") == form:
            rejected = True
        elif kind == "active_loop" and event.get("name") == form:
            break
        elif kind == "user":
            if not rejected:
                break
            count += 1
            rejected = False
    return count


def should_let_go(tracker: Tracker, form: str) -> bool:
    """True when ``form`` comes back after the ``PATIENCE``-th digression in a row.

    Only on the way back (the latest action is the digression's, not ``action_listen``): a
    form run right after a customer message is reading that message, which may be the answer.
    """
    if tracker.latest_action_name == "action_listen":
        return False
    return turns_elsewhere(tracker.applied_events(), form) >= PATIENCE


def let_go_events(form: str) -> list[EventType]:
    """The events that end ``form`` without its task: the mark for the action after it and no
    question left open."""
    return [SlotSet(LET_GO_SLOT, form), SlotSet("requested_slot", None)]


def was_let_go(tracker: Tracker, form: str) -> bool:
    """True if ``form`` let go in the current turn (since the latest customer message)."""
    for event in reversed(tracker.applied_events()):
        kind = event.get("event")
        if kind == "user":
            return False
        if kind == "slot" and event.get("name") == LET_GO_SLOT:
            return event.get("value") == form
    return False
