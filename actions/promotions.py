"""Offers and experiments in the chat: a customer's "no more offers", and staff asking how an
experiment is doing or pausing a promotion (staff channel only)."""

from __future__ import annotations

from rasa_sdk.events import EventType
from rasa_sdk.types import DomainDict
from sqlalchemy import select

from actions.common import ShopAction, latest_text, verified_customer
from actions.staff import StaffAction
from analytics.experiments.staff_report import experiment_staff_report
from analytics.reports.base import StaffReport
from bot.identity import REFUSAL, is_staff
from shop.promotions.admin import set_status
from shop.promotions.consent import record_choice
from shop.promotions.errors import InvalidPromotion
from shop.store import get_engine, session_scope
from shop.store.promotion_models import Promotion

OPTED_OUT = (
    "Done: you won't get any more offers from me. If you change your mind, our support team "
    "can turn them back on."
)
GUEST_NO_OFFERS = (
    "I only make personal offers to signed-in customers, so there's nothing to stop for you. "
    "Anything else I can help with?"
)


class ActionStopOffers(ShopAction):
    """ "No more offers": stored at once in the consent ledger with the words used."""

    NAME = "action_stop_offers"

    def work(self, dispatcher, tracker, domain: DomainDict) -> list[EventType]:
        customer_id = verified_customer(tracker)
        if customer_id is None:
            dispatcher.utter_message(text=GUEST_NO_OFFERS)
            return []
        with session_scope() as session:
            record_choice(session, customer_id, "opt_out", reason=latest_text(tracker),
                          source="chat")  # fmt: skip
        dispatcher.utter_message(text=OPTED_OUT)
        return []


class ActionExperimentReport(StaffAction):
    NAME = "action_experiment_report"

    def report(self, tracker) -> StaffReport | None:
        return experiment_staff_report(get_engine(), latest_text(tracker))


def promotion_named(text: str) -> str | None:
    """The promotion the text names, else the only active one; None if that is ambiguous."""
    with session_scope() as s:
        rows = s.execute(select(Promotion.name, Promotion.status)).all()
    lowered = text.lower()
    named = [name for name, _ in rows if name.lower() in lowered]
    if named:
        return max(named, key=len)
    active = [name for name, status in rows if status == "active"]
    return active[0] if len(active) == 1 else None


class ActionPausePromotion(ShopAction):
    """Staff: "pause it" / "pause the autumn10 offer" — codes stop working until resumed."""

    NAME = "action_pause_promotion"

    def work(self, dispatcher, tracker, domain: DomainDict) -> list[EventType]:
        metadata = (tracker.latest_message or {}).get("metadata")
        if not is_staff(tracker.get_latest_input_channel(), metadata):
            dispatcher.utter_message(text=REFUSAL)
            return []
        name = promotion_named(latest_text(tracker))
        if name is None:
            dispatcher.utter_message(text="Which promotion should I pause? Tell me its name.")
            return []
        try:
            with session_scope() as session:
                set_status(session, name, "paused")
        except InvalidPromotion as err:
            dispatcher.utter_message(text=str(err))
            return []
        dispatcher.utter_message(
            text=f"Paused {name}: its codes are refused until you resume it "
            f"(`shopbot promotion resume {name}`)."
        )
        return []
