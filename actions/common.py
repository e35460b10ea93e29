"""What every shopbot action shares: identity, sessions, blocking work in threads, apologies."""

from __future__ import annotations

import asyncio
import functools
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, TypeVar

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions import forms
from bot.identity import CLIENT_ADDRESS_KEY, STAFF_CHANNELS, customer_from_metadata
from shop.access import Requester
from shop.errors import APOLOGY, OrderAccessDenied, TooManyAttempts
from shop.store import session_scope
from shop.text import normalise_email

log = logging.getLogger(__name__)

T = TypeVar("T")

YES_NO_BUTTONS = [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]
HANDOFF_BUTTON = {"title": "Talk to a human", "payload": "/human_handoff"}


async def run_blocking(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """The result of ``fn(*args, **kwargs)`` run in a worker thread (keeps the event loop free)."""
    return await asyncio.get_running_loop().run_in_executor(
        None, functools.partial(fn, *args, **kwargs)
    )


def verified_customer(tracker: Tracker) -> int | None:
    """The customer id proven by the signed token in the latest message's metadata, or None.

    Never read from a slot: anyone can set entities with ``/intent{"x": ...}``. The token is
    verified (signature, issuer, expiry) on every call.
    """
    return customer_from_metadata((tracker.latest_message or {}).get("metadata"))


def on_staff_channel(tracker: Tracker) -> bool:
    """True on the team's channels (staff console, Slack): nobody there is a customer to hand
    over or to offer customers' tasks to, whether the member is allowed to ask or not."""
    return tracker.get_latest_input_channel() in STAFF_CHANNELS


def first_value(value: Any) -> Any:
    """The first of several entity values (a slot can receive a list), else the value itself."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def client_address(tracker: Tracker) -> str | None:
    """The client's address as the channel saw it (set by shopbot's channels only)."""
    value = ((tracker.latest_message or {}).get("metadata") or {}).get(CLIENT_ADDRESS_KEY)
    return value if isinstance(value, str) and value else None


def requester(tracker: Tracker) -> Requester:
    """Who asks: the verified customer, or a guest identified by the e-mail slot (and counted,
    when look-ups fail, by that e-mail and by the address they write from)."""
    customer_id = verified_customer(tracker)
    if customer_id is not None:
        return Requester(customer_id=customer_id)
    email = normalise_email(first_value(tracker.get_slot("email")))
    return Requester(email=email, client=client_address(tracker))


def latest_entity(tracker: Tracker, entity: str) -> str | None:
    """The first value of ``entity`` in the latest user message (not an older slot value)."""
    for ent in (tracker.latest_message or {}).get("entities") or []:
        if ent.get("entity") == entity and ent.get("value") is not None:
            return str(ent["value"])
    return None


def latest_text(tracker: Tracker) -> str:
    """The text of the latest user message ("" when there is none)."""
    return str((tracker.latest_message or {}).get("text") or "")


def bot_asked_just_before(tracker: Tracker, action_name: str) -> bool:
    """True if ``action_name`` was the bot's last action before the latest user message.

    Confirmations ("yes") only count as an answer to the question asked right before them.
    Turns undone with ``UserUtteranceReverted`` (the fallback's "please rephrase") don't count:
    only the events still applied do.
    """
    seen_user = False
    for event in reversed(tracker.applied_events()):
        kind = event.get("event")
        if not seen_user:
            seen_user = kind == "user"
            continue
        if kind == "action" and event.get("name") != "action_listen":
            return event.get("name") == action_name
        if kind == "user":
            return False
    return False


def transcript(tracker: Tracker, limit: int = 200) -> list[tuple[str, str]]:
    """The conversation so far as (speaker, text) turns, the last ``limit`` of them. (The Rasa
    server sends the events of the last 200 lines of a long session, no more:
    ``bot.rasa_patches.action_call.ACTION_SERVER_LINES``.)"""
    turns: list[tuple[str, str]] = []
    for event in tracker.events:
        kind = event.get("event")
        if kind == "user" and event.get("text"):
            turns.append(("customer", str(event["text"])))
        elif kind == "bot" and event.get("text"):
            turns.append(("bot", str(event["text"])))
    return turns[-limit:]


class ShopAction(Action, ABC):
    """An action whose work (DB, models) runs in a thread; failures become an apology.

    Subclasses set ``NAME`` and implement :meth:`work`. Messages are collected first and only
    sent when the work succeeded, so a failure never leaves a half-told answer.
    """

    NAME = ""
    AFTER_FORM = ""
    """The form this action follows when it ends; silent when that form let go this turn."""

    def name(self) -> str:
        return self.NAME

    @abstractmethod
    def work(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """The events of the action; runs in a worker thread, may block."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if self.AFTER_FORM and forms.was_let_go(tracker, self.AFTER_FORM):
            return [SlotSet(forms.LET_GO_SLOT, None)]  # the form said why it stopped
        local = CollectingDispatcher()
        try:
            events = await run_blocking(self.work, local, tracker, domain)
        except Exception:
            log.exception("action %s failed (conversation %s)", self.name(), tracker.sender_id)
            dispatcher.utter_message(text=APOLOGY)
            return []
        dispatcher.messages.extend(local.messages)
        return events


class SafeFormValidation(FormValidationAction, ABC):
    """A form validation action that apologises instead of failing silently, and lets its form
    go when the customer keeps leaving its question aside (:mod:`actions.forms`)."""

    @abstractmethod
    def name(self) -> str:
        """``validate_<form name>``."""

    def let_go_events(self) -> list[EventType]:
        """The events that end this form without its task (subclasses add slots to clear)."""
        return forms.let_go_events(self.form_name())

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if forms.should_let_go(tracker, self.form_name()):
            dispatcher.utter_message(text=forms.LET_GO[self.form_name()])
            return self.let_go_events()
        local = CollectingDispatcher()
        try:
            events = await super().run(local, tracker, domain)
        except Exception:
            log.exception("validation %s failed (conversation %s)", self.name(), tracker.sender_id)
            dispatcher.utter_message(text=APOLOGY)
            return []
        dispatcher.messages.extend(local.messages)
        return events


# ---- finding the customer's order: one way for every action ----------------------------------

NEED_ORDER_DETAILS = "I need your order number and the e-mail address you ordered with."


class NotIdentified(Exception):
    """The customer's order could not be looked up; the customer was told why, and ``events``
    (a failure counted, the details that failed cleared) are what the action returns."""

    def __init__(self, events: list[EventType]):
        super().__init__("order not identified")
        self.events = events


def identify_order(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    look_up: Callable[[Session, Requester], T],
    *,
    forget: tuple[str, ...] = ("order_number", "email"),
    needs_number: bool = True,
) -> T:
    """What ``look_up(session, requester)`` finds for the customer's own order (or return).

    Before anything is looked up the customer must give an order number and be identified
    (signed in, or a guest with an e-mail) unless ``needs_number`` is false (``look_up`` then
    says what is missing). An order that is not theirs, or does not exist, clears the ``forget``
    slots; a guest's failure is counted in the shop database (``shop.access``), and a guest who
    must wait is told for how long and nothing else. Each failure is said to the customer and
    raises :class:`NotIdentified`; runs in a worker thread (it queries the database).
    """
    who = requester(tracker)
    if needs_number and not (first_value(tracker.get_slot("order_number")) and who.identified):
        dispatcher.utter_message(text=NEED_ORDER_DETAILS)
        raise NotIdentified([])
    forgotten: list[EventType] = [SlotSet(slot, None) for slot in forget]
    try:
        with session_scope() as session:
            return look_up(session, who)
    except TooManyAttempts as err:
        dispatcher.utter_message(text=str(err), buttons=[HANDOFF_BUTTON])
        raise NotIdentified(forgotten) from None
    except OrderAccessDenied as err:
        once_more = " You can try once more." if err.left == 1 else ""
        dispatcher.utter_message(text=str(err) + once_more)
        raise NotIdentified(forgotten) from None
