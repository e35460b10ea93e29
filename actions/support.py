"""Complaints, hand-off to a human, and what happens when the bot doesn't understand."""

from __future__ import annotations

import datetime as dt
import json

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, EventType, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    ShopAction,
    first_value,
    latest_entity,
    latest_text,
    on_staff_channel,
    requester,
    transcript,
    verified_customer,
)
from shop import handoffs, support_hours, tickets
from shop.errors import OrderAccessDenied
from shop.faq_topics import FAQ_TOPICS
from shop.orders import RETURN_WINDOW_DAYS, OrderSummary, get_order
from shop.store import session_scope
from shop.store.models import utcnow
from shop.text import normalise_email, parse_order_number

HANDOFF_MESSAGE = (
    "I've passed our conversation to a colleague (ticket #{ticket}). Someone from our team will "
    "reply right here, usually within a few minutes. I'll stay quiet until then."
)
GIVE_UP_MESSAGE = "Sorry, I still couldn't understand. "
REPHRASE = "Sorry, I didn't quite understand. Could you say that another way?"
# Readable names for the intents offered when the NLU is unsure.
INTENT_TITLES = {
    "order_status": "Track an order",
    "cancel_order": "Cancel an order",
    "request_return": "Return an item",
    "return_status": "Check a return",
    "product_recommendation": "Product recommendations",
    "product_search": "Ask about a product",
    "complaint": "Make a complaint",
    "human_handoff": "Talk to a human",
}
# The same on the team's channels, where customers' tasks and FAQ topics make no sense.
STAFF_INTENT_TITLES = {
    "stock_level": "Stock of a product",
    "demand_forecast": "Demand forecast",
    "reorder_advice": "What to reorder",
    "segment_report": "Customer segments",
    "sales_report": "Sales report",
    "experiment_report": "Experiment results",
    "promotion_list": "Promotions",
    "handoff_list": "Open hand-offs",
    "handoff_stats": "Hand-off stats",
}
# Staff are not handed over to the support team: they are the team.
STAFF_NO_HANDOFF = (
    'Hand-offs are for customers, and the team takes them over. Ask "open hand-offs" to see '
    "which customers are waiting for a colleague."
)
# Below this confidence an intent is not worth offering; at most this many are.
MIN_OFFER_CONFIDENCE = 0.05
MAX_OFFERS = 3


def _order_number_mentioned(tracker: Tracker) -> str | None:
    number = parse_order_number(latest_entity(tracker, "order_number") or latest_text(tracker))
    if number is None:
        number = parse_order_number(first_value(tracker.get_slot("order_number")))
    return str(number) if number else None


def open_ticket(tracker: Tracker, kind: str, subject: str, order_number: str | None) -> int:
    """The id of a new support ticket holding the conversation so far."""
    with session_scope() as session:
        return _new_ticket(session, tracker, kind, subject, order_number)


def _new_ticket(session, tracker: Tracker, kind: str, subject: str, number: str | None) -> int:
    return tickets.open_ticket(
        session,
        kind=kind,
        conversation_id=tracker.sender_id,
        channel=tracker.get_latest_input_channel(),
        customer_id=verified_customer(tracker),
        order_number=number,
        subject=subject,
        transcript=transcript(tracker),
    )


def _guest_details(tracker: Tracker) -> tuple[str | None, int | None]:
    """The e-mail and order number a guest gave (the card checks whether they match)."""
    if verified_customer(tracker) is not None:
        return None, None
    email = normalise_email(first_value(tracker.get_slot("email")))
    number = parse_order_number(first_value(tracker.get_slot("order_number")))
    return email, number


def hand_off(dispatcher: CollectingDispatcher, tracker: Tracker, prefix: str = "") -> list:
    """Opens a hand-off ticket and its hand-off (the support channel's card is posted by the
    Rasa server), tells the customer what happens next and pauses the bot."""
    reason = latest_text(tracker)[:200]
    email, number = _guest_details(tracker)
    with session_scope() as session:
        ticket = _new_ticket(
            session, tracker, "handoff", f"Hand-off: {reason}", _order_number_mentioned(tracker)
        )
        handoffs.open_handoff(
            session,
            ticket_id=ticket,
            conversation_id=tracker.sender_id,
            channel=tracker.get_latest_input_channel(),
            reason=reason or "asked for a colleague",
            guest_email=email,
            guest_order=number,
        )
    text = prefix + HANDOFF_MESSAGE.format(ticket=ticket)
    away = support_hours.out_of_hours_note(utcnow())
    dispatcher.utter_message(text=f"{text} {away}" if away else text)
    return [ConversationPaused()]


class ActionHumanHandoff(ShopAction):
    """Hands the conversation to a colleague: a ticket with the transcript, then the bot pauses."""

    NAME = "action_human_handoff"

    def work(self, dispatcher, tracker, domain) -> list[EventType]:
        if on_staff_channel(tracker):
            dispatcher.utter_message(text=STAFF_NO_HANDOFF)
            return []
        return hand_off(dispatcher, tracker)


class ActionLogComplaint(ShopAction):
    """Apologises, records a complaint ticket, and offers a return when the order allows one."""

    NAME = "action_log_complaint"

    def work(self, dispatcher, tracker, domain) -> list[EventType]:
        number = _order_number_mentioned(tracker)
        subject = f"Complaint: {latest_text(tracker)[:200]}"
        ticket = open_ticket(tracker, "complaint", subject, number)
        dispatcher.utter_message(
            text=(
                "I'm really sorry about that — it's not the experience we want you to have. "
                f"I've recorded your complaint as ticket #{ticket}, and a colleague will get "
                "back to you within one working day."
            )
        )
        order = self._returnable_order(tracker, number)
        if order is not None:
            dispatcher.utter_message(
                text=(
                    f"Order #{order.order_number} is still within the {RETURN_WINDOW_DAYS}-day "
                    "return window. Would you like to return the item?"
                ),
                buttons=[
                    {
                        "title": "Yes, start a return",
                        "payload": "/request_return"
                        + json.dumps({"order_number": str(order.order_number)}),
                    },
                    {"title": "No, thanks", "payload": "/deny"},
                ],
            )
        return []

    @staticmethod
    def _returnable_order(tracker: Tracker, number: str | None) -> OrderSummary | None:
        """The order if it is the customer's own, delivered and still returnable; else None."""
        who = requester(tracker)
        if number is None or not who.identified:
            return None
        try:
            with session_scope() as session:
                order = get_order(session, number, who)
        except OrderAccessDenied:
            return None  # said nothing about the order, and no failed attempt counted: no leak
        today = dt.datetime.now(dt.timezone.utc).date()
        if order.status != "delivered" or not order.return_deadline:
            return None
        return order if order.return_deadline >= today else None


class ActionDefaultFallback(ShopAction):
    """After two failed clarifications: a hand-off; otherwise (dialogue unsure): rephrase."""

    NAME = "action_default_fallback"

    def work(self, dispatcher, tracker, domain) -> list[EventType]:
        if (tracker.active_loop or {}).get("name") == "action_two_stage_fallback":
            if on_staff_channel(tracker):  # no ticket, no pause: what staff can ask instead
                dispatcher.utter_message(text=GIVE_UP_MESSAGE.strip())
                dispatcher.utter_message(response="utter_out_of_scope")  # its staff wording
                return [UserUtteranceReverted()]  # as Rasa's own: then wait for the next one
            return hand_off(dispatcher, tracker, prefix=GIVE_UP_MESSAGE)
        dispatcher.utter_message(text=REPHRASE)
        return [UserUtteranceReverted()]


def offers(parse: dict, staff: bool = False) -> list[dict]:
    """The buttons for an unclear message: the most likely tasks and FAQ topics (an FAQ topic's
    likelihood is the FAQ's share times the topic's share within it), best first; on the
    team's channels (``staff``) the likely staff questions only."""
    titles = STAFF_INTENT_TITLES if staff else INTENT_TITLES
    scored: list[tuple[float, dict]] = []
    for r in parse.get("intent_ranking") or []:
        name, confidence = r.get("name"), float(r.get("confidence") or 0)
        if name in titles:
            scored.append((confidence, {"title": titles[name], "payload": f"/{name}"}))
        elif name == "faq" and not staff:
            topics = ((parse.get("response_selector") or {}).get("faq") or {}).get("ranking")
            for t in topics or []:
                if (topic := FAQ_TOPICS.get(t.get("intent_response_key"))) is not None:
                    share = confidence * float(t.get("confidence") or 0)
                    scored.append((share, {"title": topic[0], "payload": topic[1]}))
    scored.sort(key=lambda item: -item[0])  # stable: ties keep the ranking's order
    return [button for confidence, button in scored if confidence >= MIN_OFFER_CONFIDENCE][
        :MAX_OFFERS
    ]


class ActionDefaultAskAffirmation(Action):
    """When unsure, offers the most likely tasks and FAQ topics as buttons instead of guessing."""

    def name(self) -> str:
        return "action_default_ask_affirmation"

    async def run(self, dispatcher, tracker, domain) -> list[EventType]:
        try:
            buttons = offers(tracker.latest_message or {}, staff=on_staff_channel(tracker))
        except Exception:  # malformed parse data: just ask to rephrase
            buttons = []
        if not buttons:
            if on_staff_channel(tracker):  # its staff wording lists what staff can ask
                dispatcher.utter_message(response="utter_ask_rephrase")
            else:
                dispatcher.utter_message(text=REPHRASE)
            return []
        buttons.append({"title": "Something else", "payload": "/out_of_scope"})
        dispatcher.utter_message(
            text="Sorry, I'm not sure I understood. Did you mean one of these?", buttons=buttons
        )
        return []
